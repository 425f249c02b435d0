// login_device.test.mjs: the failed-login limiter does not hand an attacker a denial of service against a
// named user (OWASP's device-cookie model; src/session/users.c, device cookies in src/session/session.c).
// A browser that signs in gets a signed, long-lived device cookie for that username. An attacker then
// fails that user's login from 8 addresses (trusted_proxies + X-Forwarded-For give the test process as
// many addresses as it likes) until the per-account counter locks: a fresh browser with the right password
// is delayed (429), the known browser signs in. Plain HTTP through the real pages, no browser; each
// attempt costs one argon2id verification, so there are few.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { CookieJar, clientAndUserYaml, openLoginPage, postLogin, textById } from './lib/flow.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const APP = { id: 'device-app', secret: 'device-app-secret', redirect: 'https://rp.example/cb' };
const USER = { username: 'dora', password: 'my browser knows me' };
const MAX_FAILURES = 2; // per pair and per device; the account and the address allow 4 x as many: 8

let srv;

before(async () => {
  srv = await startServer({
    config: `
trusted_proxies: [127.0.0.1]
login:
  max_failures: ${MAX_FAILURES}
  lockout_seconds: 60
${clientAndUserYaml(APP, USER)}`,
  });
});

after(async () => {
  await srv?.stop();
});

/** A browser at the login page: a new one, or `jar` (a browser that has cookies already). */
const REQUEST = { clientId: APP.id, redirectUri: APP.redirect, params: { prompt: 'login' } };
const atLogin = (jar) => openLoginPage(srv, REQUEST, jar ?? new CookieJar());

/** Posts the login form of the last page seen, from client address xff. */
const login = (at, password, xff) => postLogin(at, USER.username, password, { 'x-forwarded-for': xff });

function deviceCookie(jar) {
  return [...jar.cookies.values()].find((c) => c.name.startsWith('ostiary_device_'));
}

describe('device cookies and the failed-login limiter', () => {
  test('a successful login sets a long-lived, HttpOnly device cookie that does not name the user', T, async () => {
    const at = await atLogin();
    const res = await login(at, USER.password, '192.0.2.20');
    assert.equal(res.status, 303);
    const c = deviceCookie(at.jar);
    assert.ok(c, `a device cookie among ${at.jar.setCookieHeaders.join(' | ')}`);
    assert.equal(c.attrs.httponly, true);
    assert.equal(c.attrs.samesite, 'Lax');
    assert.equal(c.attrs.path, '/');
    assert.equal(Number(c.attrs['max-age']), 365 * 86400);
    assert.equal(c.attrs.secure, undefined, 'no Secure attribute on a plain-http issuer');
    assert.ok(!c.name.includes(USER.username) && !c.value.includes(USER.username));
  });

  test('an attacker locks the account for strangers from 8 addresses; the known browser still signs in', T, async () => {
    // The user's own browser signs in once, and so becomes a known browser for this username.
    const known = await atLogin();
    assert.equal((await login(known, USER.password, '192.0.2.10')).status, 303);
    for (const [k, c] of known.jar.cookies) if (c.name === 'ostiary_session') known.jar.cookies.delete(k);

    // The attack: 8 failures (the account's 4 x 2) from 8 addresses, each under its pair limit.
    const attacker = await atLogin();
    for (let i = 1; i <= 8; i++) {
      assert.equal((await login(attacker, `guess ${i}`, `198.51.100.${i}`)).status, 401, `guess ${i}`);
    }
    assert.equal((await login(attacker, 'guess 9', '198.51.100.9')).status, 429, 'the account is locked');

    // A fresh browser, from an address never seen, with the right password: delayed.
    const stranger = await atLogin();
    const s = await login(stranger, USER.password, '203.0.113.77');
    assert.equal(s.status, 429);
    assert.match(textById(s.body, 'login-error'), /try again in \d+ seconds/i);

    // The known browser, from its own address, with the right password: signed in, at once.
    const again = await atLogin(known.jar);
    const k = await login(again, USER.password, '192.0.2.10');
    assert.equal(k.status, 303, `the known browser signs in (got ${k.status})`);
    assert.match(k.location, /\/interaction\/resume\?interaction=/);

    // Strangers stay delayed meanwhile.
    const stranger2 = await atLogin();
    assert.equal((await login(stranger2, USER.password, '203.0.113.78')).status, 429);
  });
});
