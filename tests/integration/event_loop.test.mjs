// event_loop.test.mjs: a login does not stall the other requests of its worker. A login form post verifies
// an argon2id password hash (tens to hundreds of milliseconds of CPU); the server hands that request to a
// pool thread (app_offload, http/server.c), so its event loop keeps answering. With one worker, /healthz
// requests sent while a login is being verified must be answered before the login is; were the hash
// verified on the loop, every one of them would wait for it.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';

import { CookieJar, httpAuthorize, httpRequest, parseForms } from './lib/flow.mjs';
import { startServer } from './lib/server.mjs';

const APP = { id: 'loop-app', secret: 'loop-app-secret', redirect: 'https://rp.example/cb' };
const USER = { username: 'loopy', password: 'event loop password' };

let srv;

before(async () => {
  srv = await startServer({
    config: `
workers: 1
clients:
  - client_id: ${APP.id}
    client_secret: ${APP.secret}
    grant_types: [authorization_code]
    redirect_uris: ["${APP.redirect}"]
    token_endpoint_auth_method: client_secret_basic
users:
  - username: ${USER.username}
    password: "${USER.password}"
`,
  });
});

after(async () => {
  await srv?.stop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('one worker: /healthz is answered while a login verifies its password hash', { timeout: 30000 }, async () => {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(srv.url('/auth'));
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: APP.id,
    redirect_uri: APP.redirect,
    scope: 'openid',
    state: 'loop-state',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const jar = new CookieJar();
  const atLogin = await httpAuthorize(url, { jar, issuer: srv.issuer, stopAt: ['login'] });
  assert.equal(atLogin.page, 'login');
  const form = parseForms(atLogin.res.body, atLogin.res.url).find((f) => f.id === 'login-form');
  const body = new URLSearchParams({
    interaction: form.inputs.interaction,
    csrf: form.inputs.csrf,
    username: USER.username,
    password: USER.password,
    action: 'login',
  });

  let loginDoneAt = 0;
  const login = httpRequest(form.action, { jar, body, timeoutMs: 20000 }).then((res) => {
    loginDoneAt = performance.now();
    return res;
  });
  const answeredAt = [];
  for (let i = 0; i < 400 && loginDoneAt === 0; i++) {
    const res = await httpRequest(srv.url('/healthz'), { timeoutMs: 20000 });
    assert.equal(res.status, 200);
    answeredAt.push(performance.now());
    await sleep(2);
  }
  const res = await login;
  assert.equal(res.status, 303, 'the login succeeded');
  const during = answeredAt.filter((t) => t < loginDoneAt).length;
  assert.ok(
    during >= 3,
    `only ${during} /healthz answers arrived while the login was being verified: the event loop was blocked`,
  );
});
