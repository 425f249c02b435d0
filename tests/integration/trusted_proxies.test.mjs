// trusted_proxies.test.mjs: the failed-login limiter behind a reverse proxy (src/http/proxy.c, the
// limiter in src/session/users.c). With `trusted_proxies: [127.0.0.1]` the test process plays the proxy:
// the client address is the right-most X-Forwarded-For entry that is not a trusted proxy, so failures
// from one forwarded address throttle that address only, a client prepending entries of its own does not
// escape, and the log shows the forwarded address next to the TCP peer. Without trusted_proxies the header
// is ignored: a spoofed X-Forwarded-For does not escape the throttle. Plain HTTP through the real pages
// (httpAuthorize), no browser; each login attempt costs one argon2id verification, so there are few.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { clientAndUserYaml, openLoginPage, postLogin, textById } from './lib/flow.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const APP = { id: 'proxied-app', secret: 'proxied-app-secret', redirect: 'https://rp.example/cb' };
const USER = { username: 'paula', password: 'behind the proxy we stand' };
const MAX_FAILURES = 2;

function config(extra) {
  return `
${extra}
login:
  max_failures: ${MAX_FAILURES}
  lockout_seconds: 60
${clientAndUserYaml(APP, USER)}`;
}

let proxied;
let direct;

before(async () => {
  [proxied, direct] = await Promise.all([
    startServer({ config: config('trusted_proxies: [127.0.0.1]') }),
    startServer({ config: config('') }),
  ]);
});

after(async () => {
  await Promise.all([proxied?.stop(), direct?.stop()]);
});

/** A fresh "browser" at the login page of an authorization request. */
function atLogin(srv) {
  return openLoginPage(srv, { clientId: APP.id, redirectUri: APP.redirect });
}

/** Posts the login form of the last page seen, with X-Forwarded-For when xff is given. */
const login = (at, password, xff) => postLogin(at, USER.username, password, xff ? { 'x-forwarded-for': xff } : {});

/** The server's JSON log lines of one event. */
function events(srv, name) {
  return srv
    .logs()
    .stderr.split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .filter((e) => e.event === name);
}

describe('trusted_proxies: [127.0.0.1]', () => {
  test('the limiter keys on the forwarded address: .7 is throttled, .8 still signs in', T, async () => {
    const a = await atLogin(proxied);
    const statuses = [];
    for (let i = 0; i < MAX_FAILURES; i++) {
      statuses.push((await login(a, `wrong ${i}`, '198.51.100.7')).status);
    }
    statuses.push((await login(a, USER.password, '198.51.100.7')).status);
    assert.deepEqual(statuses, [...Array(MAX_FAILURES).fill(401), 429]);
    assert.match(textById(a.res.body, 'login-error'), /try again in \d+ seconds/i);

    // The client cannot pick its address by prepending entries: the right-most untrusted one counts.
    const spoof = await login(a, USER.password, '198.51.100.8, 198.51.100.7');
    assert.equal(spoof.status, 429);

    // Same username, another forwarded address: the pair and address counters are its own, and the
    // account counter (4 x max_failures) is far from its limit.
    const b = await atLogin(proxied);
    const ok = await login(b, USER.password, '198.51.100.8');
    assert.equal(ok.status, 303, `signed in from 198.51.100.8 (got ${ok.status})`);
    assert.match(ok.location, /\/interaction\/resume\?interaction=/);

    // The log names the client, and the proxy it came through.
    const failed = events(proxied, 'login_failed');
    assert.equal(failed.length, MAX_FAILURES);
    for (const e of failed) {
      assert.equal(e.peer, '198.51.100.7');
      assert.equal(e.tcp_peer, '127.0.0.1');
    }
    assert.ok(events(proxied, 'login_throttled').every((e) => e.peer === '198.51.100.7'));
  });
});

describe('no trusted_proxies (the default)', () => {
  test('X-Forwarded-For is ignored: a spoofed address does not escape the throttle', T, async () => {
    const a = await atLogin(direct);
    for (let i = 0; i < MAX_FAILURES; i++) {
      assert.equal((await login(a, `wrong ${i}`, `198.51.100.${10 + i}`)).status, 401);
    }
    const b = await atLogin(direct);
    const res = await login(b, USER.password, '198.51.100.99');
    assert.equal(res.status, 429);
    const failed = events(direct, 'login_failed');
    assert.equal(failed.length, MAX_FAILURES);
    assert.ok(failed.every((e) => e.peer === '127.0.0.1' && e.tcp_peer === '127.0.0.1'));
  });
});
