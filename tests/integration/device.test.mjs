// device.test.mjs: the device authorization grant (RFC 8628) end to end: openid-client v6 as the device
// (client.initiateDeviceAuthorization, client.pollDeviceAuthorizationGrant), headless Chromium (with
// JavaScript off) or plain HTTP as the person on the verification page. Covered: discovery; a public
// client through the whole flow in the browser (prefilled code, login, the application and its permissions,
// allow), with a refresh token for offline_access and an ID token verified with jose; a confidential
// client; authorization_pending and slow_down; deny (access_denied); expiry (expired_token, and the page
// refusing the code); reuse of a redeemed device code (invalid_grant, its tokens revoked); 20 concurrent
// polls after approval (exactly one 200); another client's device code and a client not registered for
// the grant; CSRF refusals; single sign-on; wrong user codes throttled per address.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as client from 'openid-client';

import { closeContext, launchBrowser, submitLogin } from './lib/browser.mjs';
import { CookieJar, deviceVerify, discover, follow, formOf, hasId, httpRequest, rejection, textById } from './lib/flow.mjs';
import { basicAuth, startServer } from './lib/server.mjs';

const T = { timeout: 60000 };
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const ALICE = { username: 'alice', password: 'alice in device land', name: 'Alice Liddell' };
const BOB = { username: 'bob', password: 'bob builds devices', name: 'Bob Builder' };
const TV = { id: 'tv', name: 'Living room TV' };
const CONSOLE = { id: 'console', secret: 'console-secret', name: 'Game console' };
const WEB = { id: 'web', secret: 'web-secret' };
const MAX_FAILURES = 3;

const config = (extra = '') => `
log_level: info
trusted_proxies: [127.0.0.1]
device:
  interval: 1
  max_failures: ${MAX_FAILURES}
  lockout_seconds: 120
${extra}
users:
  - username: ${ALICE.username}
    password: "${ALICE.password}"
    name: ${ALICE.name}
    email: alice@example.com
  - username: ${BOB.username}
    password: "${BOB.password}"
    name: ${BOB.name}
clients:
  - client_id: ${TV.id}
    client_name: ${TV.name}
    token_endpoint_auth_method: none
    grant_types: ["${DEVICE_GRANT}", refresh_token]
    scope: openid profile email offline_access
  - client_id: ${CONSOLE.id}
    client_secret: ${CONSOLE.secret}
    client_name: ${CONSOLE.name}
    grant_types: ["${DEVICE_GRANT}"]
    scope: openid profile
  - client_id: ${WEB.id}
    client_secret: ${WEB.secret}
    grant_types: [authorization_code]
    redirect_uris: ["https://rp.example.com/cb"]
`;

let srv;
let browser;
let tv;
let consoleCfg;
let meta;
let jwks;

before(async () => {
  srv = await startServer({ config: config() });
  meta = (await httpRequest(srv.url('/.well-known/openid-configuration'))).json;
  tv = await discover(srv.issuer, TV.id, { auth: 'none' });
  consoleCfg = await discover(srv.issuer, CONSOLE.id, { secret: CONSOLE.secret });
  jwks = jose.createRemoteJWKSet(new URL(srv.url('/jwks')));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
});

/* ------------------------------------------------------------------ helpers */

/** A raw device authorization request: POST /device/auth as a public client (or with Basic). */
function deviceAuth(server, { clientId = TV.id, secret, scope = 'openid profile', extra = {} } = {}) {
  const body = { scope, ...extra };
  const headers = {};
  if (secret) headers.authorization = basicAuth(clientId, secret);
  else body.client_id = clientId;
  return httpRequest(server.url('/device/auth'), { body, headers });
}

/** One raw poll of the token endpoint. */
function poll(server, deviceCode, { clientId = TV.id, secret } = {}) {
  const body = { grant_type: DEVICE_GRANT, device_code: deviceCode };
  const headers = {};
  if (secret) headers.authorization = basicAuth(clientId, secret);
  else body.client_id = clientId;
  return httpRequest(server.url('/token'), { body, headers });
}

/** The person's side on the page (lib/flow.mjs), signing in as Alice unless told. */
const verify = (server, userCode, opts = {}) => deviceVerify(server, userCode, { user: ALICE, ...opts });

/* ------------------------------------------------------------------ discovery */

test('discovery advertises the device authorization endpoint and the grant', T, async () => {
  assert.equal(meta.device_authorization_endpoint, srv.url('/device/auth'));
  assert.ok(meta.grant_types_supported.includes(DEVICE_GRANT));
});

/* ------------------------------------------------------------------ the whole flow in a browser */

describe('a public client, the person in a browser without JavaScript', () => {
  test('prefilled code, login, the application and its permissions, allow; tokens once; refresh; ID token', T, async () => {
    const auth = await client.initiateDeviceAuthorization(tv, { scope: 'openid profile offline_access' });
    assert.match(auth.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.equal(auth.verification_uri, srv.url('/device'));
    assert.equal(auth.verification_uri_complete, `${srv.url('/device')}?user_code=${auth.user_code}`);
    assert.equal(auth.expires_in, 600);
    assert.equal(auth.interval, 1);
    assert.ok(auth.device_code.length >= 43);
    // The device polls meanwhile (openid-client waits `interval` between polls; authorization_pending
    // keeps it going).
    const tokensP = client.pollDeviceAuthorizationGrant(tv, auth);
    tokensP.catch(() => {}); // awaited below

    const context = await browser.newContext({ javaScriptEnabled: false });
    context.setDefaultTimeout(10000);
    const page = await context.newPage();
    try {
      const entry = await page.goto(auth.verification_uri_complete);
      assert.equal(entry.status(), 200);
      assert.match(entry.headers()['content-security-policy'] || '', /frame-ancestors 'none'/);
      assert.match(entry.headers()['cache-control'] || '', /no-store/);
      assert.equal(await page.inputValue('#user-code'), auth.user_code);
      assert.ok(await page.isVisible('#device-prefilled'), 'the page asks to check the prefilled code');
      await page.click('#device-submit');
      await page.waitForSelector('#login-form');
      assert.equal(await page.textContent('#login-client'), `to continue to ${TV.name}`);
      await submitLogin(page, ALICE.username, ALICE.password);
      await page.waitForSelector('#device-confirm-form');
      assert.equal(new URL(page.url()).pathname, '/device');
      assert.equal(await page.textContent('#device-user'), `Signed in as ${ALICE.name}`);
      assert.equal(await page.textContent('#device-summary'), `${TV.name} on your device wants to:`);
      const perms = await page.textContent('#device-permissions');
      assert.match(perms, /Sign you in/);
      assert.match(perms, /basic profile/);
      assert.ok(await page.isVisible('#device-offline'), 'offline access is named');
      assert.equal((perms.match(/when you are not using/g) || []).length, 1, 'offline access is named once');
      assert.equal(await page.textContent('#device-client-id'), TV.id);
      assert.ok(await page.isVisible('#device-warning'));
      await page.click('#device-allow');
      await page.waitForSelector('#device-approved');
      assert.match(await page.textContent('#device-approved'), new RegExp(TV.name));
    } finally {
      await closeContext(context);
    }

    const tokens = await tokensP;
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(tokens.scope, 'openid profile offline_access');
    assert.ok(tokens.refresh_token, 'offline_access allowed on the page gives a refresh token (offline_consent)');
    const { payload } = await jose.jwtVerify(tokens.id_token, jwks, { issuer: srv.issuer, audience: TV.id });
    assert.equal(payload.sub, tokens.claims().sub);
    assert.equal(payload.nonce, undefined);
    assert.ok(payload.auth_time > 0 && payload.sid);
    const me = await client.fetchUserInfo(tv, tokens.access_token, payload.sub);
    assert.equal(me.name, ALICE.name);
    // The refresh token works.
    const refreshed = await client.refreshTokenGrant(tv, tokens.refresh_token);
    assert.ok(refreshed.access_token && refreshed.refresh_token !== tokens.refresh_token);
  });

  test('the user code typed by hand: any case, without the dash; SSO: no second login', T, async () => {
    const jar = new CookieJar();
    const first = await deviceAuth(srv);
    const one = await verify(srv, first.json.user_code, { jar });
    assert.deepEqual(one.pages, ['login', 'confirm']);
    const second = await deviceAuth(srv);
    const typed = ` ${second.json.user_code.replace('-', '').toLowerCase()} `;
    const two = await verify(srv, second.json.user_code, { jar, typed });
    assert.deepEqual(two.pages, ['confirm'], 'the session of the first sign-in is reused');
    assert.ok(hasId(two.res.body, 'device-approved'));
    const res = await poll(srv, second.json.device_code);
    assert.equal(res.status, 200, res.body);
  });
});

/* ------------------------------------------------------------------ polling answers */

describe('polling', () => {
  test('authorization_pending, then slow_down for a poll sooner than the interval', T, async () => {
    const { json } = await deviceAuth(srv);
    let res = await poll(srv, json.device_code);
    assert.equal(res.status, 400);
    assert.equal(res.json.error, 'authorization_pending');
    assert.match(res.headers.get('cache-control'), /no-store/);
    res = await poll(srv, json.device_code);
    assert.equal(res.json.error, 'slow_down');
    // The interval is 1 + 5 s now: a poll 1.5 s later is still too fast.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await poll(srv, json.device_code)).json.error, 'slow_down');
  });

  test('openid-client keeps polling through authorization_pending and slow_down', T, async () => {
    const auth = await client.initiateDeviceAuthorization(tv, { scope: 'openid' });
    // Two polls of our own, one right after the other: the device's first poll then comes ~1 s after our
    // second, which is too soon (slow_down); openid-client adds 5 s and goes on.
    await poll(srv, auth.device_code);
    await poll(srv, auth.device_code);
    const tokensP = client.pollDeviceAuthorizationGrant(tv, auth);
    tokensP.catch(() => {});
    await new Promise((r) => setTimeout(r, 2000));
    await verify(srv, auth.user_code);
    const tokens = await tokensP;
    assert.ok(tokens.access_token && tokens.id_token);
    assert.equal(tokens.refresh_token, undefined, 'no offline_access asked: no refresh token');
  });

  test('deny: access_denied', T, async () => {
    const auth = await client.initiateDeviceAuthorization(tv, { scope: 'openid profile' });
    const tokensP = client.pollDeviceAuthorizationGrant(tv, auth);
    tokensP.catch(() => {});
    const { res } = await verify(srv, auth.user_code, { decision: 'deny' });
    assert.ok(hasId(res.body, 'device-denied'), 'the page says the device was not connected');
    const err = await rejection(tokensP);
    assert.equal(err.error, 'access_denied');
    // Decided once: the code cannot be entered again.
    const jar = new CookieJar();
    const entry = formOf(await httpRequest(srv.url(`/device?user_code=${auth.user_code}`), { jar }), 'device-form');
    const again = await httpRequest(entry.action, { jar, body: entry.inputs });
    assert.equal(again.status, 400);
    assert.match(textById(again.body, 'device-error'), /already used or has expired/);
  });

  test('cancel on the login page denies the device', T, async () => {
    const { json } = await deviceAuth(srv);
    const jar = new CookieJar();
    let res = await httpRequest(srv.url(`/device?user_code=${json.user_code}`), { jar });
    const entry = formOf(res, 'device-form');
    res = await follow(await httpRequest(entry.action, { jar, body: entry.inputs }), jar);
    const login = formOf(res, 'login-form');
    res = await httpRequest(login.action, { jar, body: { ...login.inputs, action: 'cancel' } });
    assert.ok(hasId(res.body, 'device-denied'));
    assert.equal((await poll(srv, json.device_code)).json.error, 'access_denied');
  });

  test('reuse of a redeemed device code: invalid_grant, and its tokens are revoked', T, async () => {
    const { json } = await deviceAuth(srv, { scope: 'openid profile offline_access' });
    await verify(srv, json.user_code);
    const ok = await poll(srv, json.device_code);
    assert.equal(ok.status, 200, ok.body);
    const me = () => httpRequest(srv.url('/me'), { headers: { authorization: `Bearer ${ok.json.access_token}` } });
    assert.equal((await me()).status, 200);
    const again = await poll(srv, json.device_code);
    assert.equal(again.status, 400);
    assert.equal(again.json.error, 'invalid_grant');
    assert.equal((await me()).status, 401, 'the access token of the first redemption is revoked');
    const rt = await httpRequest(srv.url('/token'), {
      body: { grant_type: 'refresh_token', refresh_token: ok.json.refresh_token, client_id: TV.id },
    });
    assert.equal(rt.json.error, 'invalid_grant', 'and its refresh token');
  });

  test('20 concurrent polls after approval: exactly one gets tokens', T, async () => {
    const { json } = await deviceAuth(srv);
    await verify(srv, json.user_code);
    const results = await Promise.all(Array.from({ length: 20 }, () => poll(srv, json.device_code)));
    const ok = results.filter((r) => r.status === 200);
    assert.equal(ok.length, 1, results.map((r) => `${r.status} ${r.json?.error ?? ''}`).join(', '));
    for (const r of results.filter((x) => x.status !== 200)) {
      assert.equal(r.status, 400);
      assert.equal(r.json.error, 'invalid_grant');
    }
  });

  test('expiry: expired_token, and the page no longer takes the code', T, async () => {
    const short = await startServer({ config: config('').replace('  interval: 1\n', '  interval: 1\n  code_ttl: 2\n') });
    try {
      const { json } = await deviceAuth(short);
      assert.equal(json.expires_in, 2);
      await new Promise((r) => setTimeout(r, 3000));
      const res = await poll(short, json.device_code);
      assert.equal(res.status, 400);
      assert.equal(res.json.error, 'expired_token');
      const jar = new CookieJar();
      const page = await httpRequest(short.url(`/device?user_code=${json.user_code}`), { jar });
      const entry = formOf(page, 'device-form');
      const post = await httpRequest(entry.action, { jar, body: entry.inputs });
      assert.equal(post.status, 400);
      assert.match(textById(post.body, 'device-error'), /not valid or has expired/);
    } finally {
      await short.stop();
    }
  });
});

/* ------------------------------------------------------------------ clients */

describe('clients', () => {
  test('a confidential client authenticates at both endpoints; no refresh token without the grant', T, async () => {
    const auth = await client.initiateDeviceAuthorization(consoleCfg, { scope: 'openid profile' });
    const tokensP = client.pollDeviceAuthorizationGrant(consoleCfg, auth);
    tokensP.catch(() => {});
    await verify(srv, auth.user_code, { user: BOB });
    const tokens = await tokensP;
    assert.equal(tokens.scope, 'openid profile');
    assert.equal(tokens.refresh_token, undefined);
    const { payload } = await jose.jwtVerify(tokens.id_token, jwks, { issuer: srv.issuer, audience: CONSOLE.id });
    assert.ok(payload.sub);
    // Without its secret it is not authenticated.
    const res = await deviceAuth(srv, { clientId: CONSOLE.id });
    assert.equal(res.status, 401);
    assert.equal(res.json.error, 'invalid_client');
  });

  test("another client's device code is invalid_grant; a client not registered for the grant is refused", T, async () => {
    const { json } = await deviceAuth(srv);
    const res = await poll(srv, json.device_code, { clientId: CONSOLE.id, secret: CONSOLE.secret });
    assert.equal(res.status, 400);
    assert.equal(res.json.error, 'invalid_grant');
    assert.equal((await poll(srv, json.device_code)).json.error, 'authorization_pending', 'still the device\'s');
    const web = await deviceAuth(srv, { clientId: WEB.id, secret: WEB.secret });
    assert.equal(web.status, 400);
    assert.equal(web.json.error, 'unauthorized_client');
    const scope = await deviceAuth(srv, { scope: 'openid phone' });
    assert.equal(scope.json.error, 'invalid_scope');
    assert.equal((await poll(srv, 'no-such-code')).json.error, 'invalid_grant');
  });
});

/* ------------------------------------------------------------------ the page's defences */

describe('the verification page', () => {
  test('CSRF: the code entry and the decision refuse a token from elsewhere', T, async () => {
    const { json } = await deviceAuth(srv);
    const jar = new CookieJar();
    const other = new CookieJar();
    const mine = formOf(await httpRequest(srv.url('/device'), { jar }), 'device-form');
    const theirs = formOf(await httpRequest(srv.url('/device'), { jar: other }), 'device-form');
    let res = await httpRequest(mine.action, { jar, body: { csrf: theirs.inputs.csrf, user_code: json.user_code } });
    assert.equal(res.status, 403);
    res = await httpRequest(mine.action, { body: { csrf: mine.inputs.csrf, user_code: json.user_code } });
    assert.equal(res.status, 403, 'no cookie: no entry');
    // The decision form: posted with another token, or from another browser.
    const { confirmPage } = await (async () => {
      // Stop before deciding: sign in and reach the confirmation page only.
      let r = await follow(await httpRequest(mine.action, { jar, body: { csrf: mine.inputs.csrf, user_code: json.user_code } }), jar);
      const login = formOf(r, 'login-form');
      r = await follow(
        await httpRequest(login.action, {
          jar,
          body: { ...login.inputs, username: ALICE.username, password: ALICE.password, action: 'login' },
        }),
        jar,
      );
      return { confirmPage: r };
    })();
    const confirm = formOf(confirmPage, 'device-confirm-form');
    res = await httpRequest(confirm.action, { jar, body: { ...confirm.inputs, csrf: 'forged', decision: 'allow' } });
    assert.equal(res.status, 403);
    res = await httpRequest(confirm.action, { jar: other, body: { ...confirm.inputs, decision: 'allow' } });
    assert.ok(!hasId(res.body, 'device-approved'), 'another browser cannot use the interaction');
    assert.equal((await poll(srv, json.device_code)).json.error, 'authorization_pending');
    // The real one still works.
    res = await httpRequest(confirm.action, { jar, body: { ...confirm.inputs, decision: 'allow' } });
    assert.ok(hasId(res.body, 'device-approved'));
  });

  test('wrong user codes are throttled per address', T, async () => {
    const headers = { 'x-forwarded-for': '203.0.113.77' };
    const { json } = await deviceAuth(srv);
    const jar = new CookieJar();
    const form = formOf(await httpRequest(srv.url('/device'), { jar, headers }), 'device-form');
    const wrong = json.user_code === 'BBBB-BBBB' ? 'CCCC-CCCC' : 'BBBB-BBBB';
    for (let i = 0; i < MAX_FAILURES; i++) {
      const res = await httpRequest(form.action, { jar, headers, body: { csrf: form.inputs.csrf, user_code: wrong } });
      assert.equal(res.status, 400);
      assert.match(textById(res.body, 'device-error'), /not valid or has expired/);
    }
    // Even the right code waits now, from this address, in any browser.
    const fresh = new CookieJar();
    const form2 = formOf(await httpRequest(srv.url('/device'), { jar: fresh, headers }), 'device-form');
    const res = await httpRequest(form2.action, { jar: fresh, headers, body: { csrf: form2.inputs.csrf, user_code: json.user_code } });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '120');
    assert.match(textById(res.body, 'device-error'), /Too many wrong codes/);
    // Another address is not affected.
    const { res: done } = await verify(srv, json.user_code, { headers: { 'x-forwarded-for': '198.51.100.5' } });
    assert.ok(hasId(done.body, 'device-approved'));
    // Neither code nor device code appear in the server's log.
    const log = srv.logs().stderr;
    assert.ok(!log.includes(json.device_code) && !log.includes(json.user_code) && !log.includes(wrong));
  });
});
