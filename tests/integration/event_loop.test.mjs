// event_loop.test.mjs: a login does not stall the other requests of its worker. A login form post verifies
// an argon2id password hash (tens to hundreds of milliseconds of CPU); the server hands that request to a
// pool thread (app_offload, http/server.c), so its event loop keeps answering. With one worker, /healthz
// requests sent while a login is being verified must be answered before the login is; were the hash
// verified on the loop, every one of them would wait for it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { clientAndUserYaml, httpRequest, loginBody, openLoginPage } from './lib/flow.mjs';
import { startServer } from './lib/server.mjs';

const APP = { id: 'loop-app', secret: 'loop-app-secret', redirect: 'https://rp.example/cb' };
const USER = { username: 'loopy', password: 'event loop password' };

let srv;

before(async () => {
  // A costlier hash than the default (19 MiB, 2 passes: a few milliseconds on a fast machine), so that the
  // verification lasts long enough for several /healthz round trips even when the server runs under ASan.
  srv = await startServer({
    config: `
workers: 1
passwords: { argon2id: { memory_kib: 131072, iterations: 3 } }
${clientAndUserYaml(APP, USER)}`,
  });
});

after(async () => {
  await srv?.stop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('one worker: /healthz is answered while a login verifies its password hash', { timeout: 30000 }, async () => {
  const { jar, form } = await openLoginPage(srv, { clientId: APP.id, redirectUri: APP.redirect });
  const body = loginBody(form, USER.username, USER.password);

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
