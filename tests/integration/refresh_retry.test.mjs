// refresh_retry.test.mjs: refresh-token rotation keeps one live refresh token per family (RFC 9700
// §4.14.2; src/oauth/grant_refresh.c). With the default refresh.refresh_grace_period (0) a rotated token
// presented again is reuse at once: invalid_grant, and the newest token of the family is revoked. With a
// grace period of 10 s, one retry of a used token is allowed when its successor was never used: the
// successor is revoked and a new one issued in its place, so one chain lives; presenting the superseded
// successor, a token whose successor was used, or the used token a third time revokes the family.
// Plain HTTP: the code comes through the real pages (httpAuthorize), the token requests through fetch.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { clientAndUserYaml, signInAndRedeem } from './lib/flow.mjs';
import { postForm, startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const USER = { username: 'rosa', password: 'one chain per family' };
const APP = {
  id: 'refresh-app',
  secret: 'refresh-app-secret',
  redirect: 'https://rp.example/cb',
  grantTypes: ['authorization_code', 'refresh_token'],
  extra: '    refresh_token_policy: always\n',
};

const config = (extra) => `
log_level: info
${extra}
${clientAndUserYaml(APP, USER)}`;

let byDefault; // refresh.refresh_grace_period not set: 0
let withGrace; // refresh.refresh_grace_period: 10

before(async () => {
  [byDefault, withGrace] = await Promise.all([
    startServer({ config: config('') }),
    startServer({ config: config('refresh:\n  refresh_grace_period: 10') }),
  ]);
});

after(async () => {
  await Promise.all([byDefault?.stop(), withGrace?.stop()]);
});

const auth = { auth: [APP.id, APP.secret] };

/** A first refresh token of a new family, from a code through the login and consent pages. */
async function firstRefreshToken(srv) {
  const r = await signInAndRedeem(srv, { clientId: APP.id, redirectUri: APP.redirect, secret: APP.secret, user: USER });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.ok(r.json.refresh_token);
  return r.json.refresh_token;
}

/** Presents a refresh token: { status, json }. */
const refresh = (srv, token) => postForm(srv.url('/token'), { grant_type: 'refresh_token', refresh_token: token }, auth);

/** Presents a refresh token that must work; resolves its successor. */
async function rotate(srv, token) {
  const res = await refresh(srv, token);
  assert.equal(res.status, 200, `refresh: ${res.body}`);
  assert.ok(res.json.refresh_token && res.json.refresh_token !== token);
  return res.json.refresh_token;
}

async function assertRefused(srv, token, what) {
  const res = await refresh(srv, token);
  assert.equal(res.status, 400, `${what}: ${res.body}`);
  assert.equal(res.json.error, 'invalid_grant', what);
}

async function active(srv, token) {
  const res = await postForm(srv.url('/token/introspection'), { token }, auth);
  assert.equal(res.status, 200, res.body);
  return res.json.active;
}

describe('default refresh_grace_period (0)', () => {
  test('a rotated token replayed at once: invalid_grant, and the newest token is revoked', T, async () => {
    const t1 = await firstRefreshToken(byDefault);
    const t2 = await rotate(byDefault, t1);
    const replay = await refresh(byDefault, t1);
    assert.equal(replay.status, 400, replay.body);
    assert.equal(replay.json.error, 'invalid_grant');
    assert.match(replay.json.error_description, /already used/);
    assert.equal(await active(byDefault, t2), false, 'the newest token of the family is revoked');
    await assertRefused(byDefault, t2, 'the newest token after the replay');
  });
});

describe('refresh_grace_period: 10', () => {
  test('a retry inside the window revokes the earlier successor: one chain lives', T, async () => {
    const t1 = await firstRefreshToken(withGrace);
    const s1 = await rotate(withGrace, t1); // the response the client "lost"
    const s2 = await rotate(withGrace, t1); // its retry
    assert.notEqual(s2, s1);
    assert.equal(await active(withGrace, s1), false, 'the successor the retry replaced is dead');
    assert.equal(await active(withGrace, s2), true);
    const s3 = await rotate(withGrace, s2);
    assert.equal(await active(withGrace, s3), true, 'the chain goes on from the retry');
  });

  test('a third presentation of the used token revokes the family', T, async () => {
    const t1 = await firstRefreshToken(withGrace);
    await rotate(withGrace, t1);
    const s2 = await rotate(withGrace, t1);
    const s3 = await rotate(withGrace, s2);
    await assertRefused(withGrace, t1, 'third presentation');
    assert.equal(await active(withGrace, s3), false, 'the live token of the family is revoked');
    await assertRefused(withGrace, s3, 'the live token after the reuse');
  });

  test('a third presentation while the retried successor is still unused revokes the family too', T, async () => {
    const t1 = await firstRefreshToken(withGrace);
    await rotate(withGrace, t1);
    const s2 = await rotate(withGrace, t1);
    await assertRefused(withGrace, t1, 'third presentation');
    assert.equal(await active(withGrace, s2), false);
  });

  test('the successor a retry superseded, presented later: the family is revoked', T, async () => {
    const t1 = await firstRefreshToken(withGrace);
    const s1 = await rotate(withGrace, t1);
    const s2 = await rotate(withGrace, t1);
    await assertRefused(withGrace, s1, 'superseded successor');
    assert.equal(await active(withGrace, s2), false, 'the chain of the retry is revoked');
  });

  test('a used token whose successor was used is no retry: the family is revoked', T, async () => {
    const t1 = await firstRefreshToken(withGrace);
    const s1 = await rotate(withGrace, t1);
    const s2 = await rotate(withGrace, s1);
    await assertRefused(withGrace, t1, 'replay after the successor was used');
    assert.equal(await active(withGrace, s2), false);
  });
});
