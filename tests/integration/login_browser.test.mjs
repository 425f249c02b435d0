// login_browser.test.mjs: the interactive sign-in in a real browser (headless Debian Chromium driven by
// playwright-core), as a relying party built on openid-client v6 sees it: OpenID Connect Core §3.1
// (authorization code flow), the prompt values none / login / consent / select_account (§3.1.2.1) with
// their errors (§3.1.2.6: login_required, consent_required), max_age (§3.1.2.1), single sign-on across two
// clients, access_denied on cancel and deny (RFC 6749 §4.1.2.1), RFC 9207 `iss` in every response, RFC
// 7636 PKCE for confidential and public clients, ID token validation with jose against the JWKS (§3.1.3.7:
// nonce, at_hash, auth_time, sid, azp, amr), the pages' security headers and cookie attributes, and the
// failed-login throttle. The issuer has a path (/authentication/oidc), as in the focus seed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as client from 'openid-client';

import { createRp, launchBrowser, newPage, recordRequests, submitLogin } from './lib/browser.mjs';
import { discover, rejection, startCallback } from './lib/flow.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const ALICE = { username: 'alice', password: 'wonderland rabbit hole', name: 'Alice Liddell' };
const BOB = { username: 'bob', password: 'builder can we fix it', name: 'Bob Builder' };
const CAROL = { username: 'carol', password: 'carol the correct one' };
const WEB = { id: 'web-app', secret: 'web-app-secret', name: 'Web App' };
const WEB2 = { id: 'second-app', secret: 'second-app-secret', name: 'Second App' };
const SPA = { id: 'spa-app', name: 'Single Page App' };
const MAX_FAILURES = 3;

let srv;
let cb;
let browser;
const env = { cfgs: {} };
const rp = createRp(env);

before(async () => {
  cb = await startCallback();
  srv = await startServer({
    issuerPath: '/authentication/oidc',
    config: `
log_level: info
keys:
  algorithms: [RS256, ES256]
login:
  max_failures: ${MAX_FAILURES}
  lockout_seconds: 120
resources:
  - identifier: "https://api.example.com/"
    scopes: [read, write]
users:
  - username: ${ALICE.username}
    password: "${ALICE.password}"
    name: ${ALICE.name}
    given_name: Alice
    family_name: Liddell
    email: alice@example.com
    email_verified: "true"
    preferred_username: alice
  - username: ${BOB.username}
    password: "${BOB.password}"
    name: ${BOB.name}
    email: bob@example.com
  - username: ${CAROL.username}
    password: "${CAROL.password}"
    name: Carol
clients:
  - client_id: ${WEB.id}
    client_secret: ${WEB.secret}
    client_name: ${WEB.name}
    grant_types: [authorization_code, refresh_token]
    redirect_uris: ["${cb.url('/cb')}", "${cb.url('/cb2')}"]
    token_endpoint_auth_method: client_secret_basic
  - client_id: ${WEB2.id}
    client_secret: ${WEB2.secret}
    client_name: ${WEB2.name}
    grant_types: [authorization_code]
    redirect_uris: ["${cb.url('/cb')}"]
    token_endpoint_auth_method: client_secret_basic
  - client_id: ${SPA.id}
    client_name: ${SPA.name}
    grant_types: [authorization_code]
    redirect_uris: ["${cb.url('/cb')}"]
    token_endpoint_auth_method: none
`,
  });
  Object.assign(env, { srv, cb, jwks: jose.createRemoteJWKSet(new URL(srv.url('/jwks'))) });
  env.cfgs[WEB.id] = await discover(srv.issuer, WEB.id, { secret: WEB.secret });
  env.cfgs[WEB2.id] = await discover(srv.issuer, WEB2.id, { secret: WEB2.secret });
  env.cfgs[SPA.id] = await discover(srv.issuer, SPA.id, { auth: 'none' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await cb?.close();
  await srv?.stop();
});

const { authRequest, at, assertCode, assertError, exchange, verifyIdToken, signIn: signInAs } = rp;

/** Full sign-in (login + consent) in this context, leaving the SSO session behind. */
function signIn(context, user = ALICE, clientId = WEB.id) {
  return signInAs(context, user, clientId);
}

describe('the code flow in a browser', () => {
  test('confidential client: login page, consent page, code, tokens, userinfo; headers, cookies, screenshots', T, async () => {
    const { context, page } = await newPage(browser);
    const cspViolations = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
    });
    try {
      const req = await authRequest(WEB.id);
      const loginRes = await page.goto(req.url);
      await at(page, 'login');
      assert.equal(loginRes.status(), 200);
      assert.ok(new URL(page.url()).pathname.endsWith('/interaction/login'), page.url());
      assert.equal(await page.textContent('#login-client'), `to continue to ${WEB.name}`);
      // The pages' security headers.
      for (const h of [loginRes.headers()]) {
        assert.match(h['content-security-policy'] || '', /frame-ancestors 'none'/);
        assert.match(h['content-security-policy'] || '', /default-src 'none'/);
        assert.equal(h['referrer-policy'], 'no-referrer');
        assert.match(h['cache-control'] || '', /no-store/);
        assert.equal(h['x-content-type-options'], 'nosniff');
        assert.match(h['content-type'] || '', /^text\/html/);
      }
      // The style sheet loads under the CSP: the card is styled (not the browser's default).
      const radius = await page.evaluate(() => getComputedStyle(document.querySelector('main.card')).borderTopLeftRadius);
      assert.notEqual(radius, '0px', 'style.css applies');
      const shotLogin = path.join(srv.dir, 'login.png');
      await page.screenshot({ path: shotLogin, fullPage: true });
      assert.ok(fs.statSync(shotLogin).size > 2000, 'the login page rendered into a screenshot');

      const consentResP = page.waitForResponse(
        (r) => r.url().includes('/interaction/consent') && r.request().method() === 'GET',
      );
      await submitLogin(page, ALICE.username, ALICE.password);
      await at(page, 'consent');
      const consentRes = await consentResP;
      const ch = consentRes.headers();
      assert.match(ch['content-security-policy'] || '', /frame-ancestors 'none'/);
      assert.equal(ch['referrer-policy'], 'no-referrer');
      assert.match(ch['cache-control'] || '', /no-store/);
      assert.match(await page.textContent('#consent-user'), /Alice Liddell/);
      assert.equal(await page.textContent('#consent-client-id'), WEB.id);
      const perms = await page.textContent('#consent-permissions');
      assert.match(perms, /email address/i, 'the email scope is described');
      const shotConsent = path.join(srv.dir, 'consent.png');
      await page.screenshot({ path: shotConsent, fullPage: true });
      assert.ok(fs.statSync(shotConsent).size > 2000, 'the consent page rendered into a screenshot');

      // Cookies: HttpOnly, SameSite=Lax, not Secure on a plain-http issuer, scoped to the issuer path.
      const cookies = await context.cookies(srv.issuer);
      const session = cookies.find((c) => c.name === 'ostiary_session');
      assert.ok(session, `a session cookie is set (cookies: ${cookies.map((c) => c.name)})`);
      for (const c of cookies) {
        assert.equal(c.httpOnly, true, `${c.name} is HttpOnly`);
        assert.equal(c.sameSite, 'Lax', `${c.name} is SameSite=Lax`);
        assert.equal(c.secure, false, `${c.name} is not Secure on a plain-http issuer`);
        assert.equal(c.path, '/authentication/oidc', `${c.name} is scoped to the issuer path`);
      }

      const hits = cb.hits.length;
      await page.click('#consent-allow');
      await at(page, 'callback');
      await cb.waitHits(hits + 1);
      assertCode(page, req);
      const tokens = await exchange(page, req);
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.equal(tokens.scope, 'openid profile email');
      assert.ok(tokens.expires_in > 0);
      assert.equal(tokens.refresh_token, undefined, 'no refresh token without offline_access');
      const claims = await verifyIdToken(tokens, { clientId: WEB.id, nonce: req.checks.nonce });
      assert.equal(tokens.claims().sub, claims.sub);
      const info = await client.fetchUserInfo(req.cfg, tokens.access_token, claims.sub);
      assert.equal(info.sub, claims.sub);
      assert.equal(info.name, ALICE.name);
      assert.equal(info.email, 'alice@example.com');
      assert.equal(info.email_verified, true);
      assert.deepEqual(cspViolations, [], 'the pages render without CSP violations');
    } finally {
      await context.close();
    }
  });

  test('public client (token_endpoint_auth_method none) with PKCE', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const req = await authRequest(SPA.id, { scope: 'openid profile' });
      await page.goto(req.url);
      await at(page, 'login');
      assert.equal(await page.textContent('#login-client'), `to continue to ${SPA.name}`);
      await submitLogin(page, ALICE.username, ALICE.password);
      await at(page, 'consent');
      await page.click('#consent-allow');
      await at(page, 'callback');
      assertCode(page, req);
      const tokens = await exchange(page, req);
      assert.equal(tokens.scope, 'openid profile');
      const claims = await verifyIdToken(tokens, { clientId: SPA.id, nonce: req.checks.nonce });
      const info = await client.fetchUserInfo(req.cfg, tokens.access_token, claims.sub);
      assert.equal(info.name, ALICE.name);
      assert.equal(info.email, undefined, 'no email claim without the email scope');
    } finally {
      await context.close();
    }
  });

  test('public client without PKCE: invalid_request back to the client', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const req = await authRequest(SPA.id, { code_challenge: null, code_challenge_method: null });
      await page.goto(req.url);
      await at(page, 'callback');
      assertError(page, req, 'invalid_request');
    } finally {
      await context.close();
    }
  });
});

describe('prompt, max_age and single sign-on', () => {
  test('prompt=login shows the login page although a session exists', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const first = await signIn(context);
      const req = await authRequest(WEB.id, { prompt: 'login' });
      await page.goto(req.url);
      await at(page, 'login');
      await page.waitForTimeout(1100); // a later second, so auth_time must move
      await submitLogin(page, ALICE.username, ALICE.password);
      await at(page, 'callback'); // consent is remembered
      assertCode(page, req);
      const tokens = await exchange(page, req);
      const claims = await verifyIdToken(tokens, { clientId: WEB.id, nonce: req.checks.nonce });
      assert.equal(claims.sub, first.claims().sub);
      assert.ok(claims.auth_time > first.claims().auth_time, 'a new authentication happened');
    } finally {
      await context.close();
    }
  });

  test('prompt=consent shows the consent page although consent is remembered', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      await signIn(context);
      const seen = recordRequests(page, srv.url('/interaction/login'));
      const req = await authRequest(WEB.id, { prompt: 'consent' });
      await page.goto(req.url);
      await at(page, 'consent');
      assert.deepEqual(seen, [], 'no login page with a session');
      await page.click('#consent-allow');
      await at(page, 'callback');
      assertCode(page, req);
      await exchange(page, req);
    } finally {
      await context.close();
    }
  });

  test('prompt=none with a session and consent: a code without any page', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const first = await signIn(context);
      const seen = recordRequests(page, srv.url('/interaction/'));
      const req = await authRequest(WEB.id, { prompt: 'none' });
      const res = await page.goto(req.url);
      await at(page, 'callback');
      assert.equal(res.url().startsWith(cb.origin), true, 'the first navigation ends at the client');
      assert.deepEqual(seen, [], 'no interaction page was requested');
      assertCode(page, req);
      const tokens = await exchange(page, req);
      const claims = await verifyIdToken(tokens, { clientId: WEB.id, nonce: req.checks.nonce });
      assert.equal(claims.sub, first.claims().sub);
      assert.equal(claims.sid, first.claims().sid, 'the same session');
      assert.equal(claims.auth_time, first.claims().auth_time, 'no new authentication');
    } finally {
      await context.close();
    }
  });

  test('prompt=none without a session: login_required', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const req = await authRequest(WEB.id, { prompt: 'none' });
      await page.goto(req.url);
      await at(page, 'callback');
      assertError(page, req, 'login_required');
    } finally {
      await context.close();
    }
  });

  test('prompt=none without consent for that client: consent_required', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      await signIn(context);
      const req = await authRequest(WEB2.id, { prompt: 'none' });
      await page.goto(req.url);
      await at(page, 'callback');
      assertError(page, req, 'consent_required');
    } finally {
      await context.close();
    }
  });

  test('prompt=select_account: continue as the signed-in user', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const first = await signIn(context);
      const req = await authRequest(WEB.id, { prompt: 'select_account' });
      await page.goto(req.url);
      await at(page, 'select_account');
      assert.match(await page.textContent('#select-user'), /Alice Liddell/);
      await page.click('#select-continue');
      await at(page, 'callback');
      assertCode(page, req);
      const tokens = await exchange(page, req);
      assert.equal(tokens.claims().sub, first.claims().sub);
    } finally {
      await context.close();
    }
  });

  test('prompt=select_account: "use another account" goes to the login page', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const first = await signIn(context);
      const req = await authRequest(WEB.id, { prompt: 'select_account' });
      await page.goto(req.url);
      await at(page, 'select_account');
      await page.click('#select-other');
      await at(page, 'login');
      await submitLogin(page, BOB.username, BOB.password);
      await at(page, 'consent'); // Bob never consented to this client
      assert.match(await page.textContent('#consent-user'), /Bob Builder/);
      await page.click('#consent-allow');
      await at(page, 'callback');
      assertCode(page, req);
      const tokens = await exchange(page, req);
      assert.notEqual(tokens.claims().sub, first.claims().sub, 'now signed in as another user');
      const info = await client.fetchUserInfo(req.cfg, tokens.access_token, tokens.claims().sub);
      assert.equal(info.name, BOB.name);
    } finally {
      await context.close();
    }
  });

  test('max_age=0 forces a new login', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const first = await signIn(context);
      await page.waitForTimeout(1100);
      const req = await authRequest(WEB.id, { max_age: '0' });
      await page.goto(req.url);
      await at(page, 'login');
      await submitLogin(page, ALICE.username, ALICE.password);
      await at(page, 'callback');
      assertCode(page, req);
      const tokens = await exchange(page, req, { maxAge: 0 });
      const claims = await verifyIdToken(tokens, { clientId: WEB.id, nonce: req.checks.nonce });
      assert.ok(claims.auth_time > first.claims().auth_time, 'auth_time is the new login');
    } finally {
      await context.close();
    }
  });

  test('single sign-on: a second client gets only the consent page, same session', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const first = await signIn(context);
      const seen = recordRequests(page, srv.url('/interaction/login'));
      const req = await authRequest(WEB2.id);
      await page.goto(req.url);
      await at(page, 'consent');
      assert.equal(await page.textContent('#consent-client-id'), WEB2.id);
      await page.click('#consent-allow');
      await at(page, 'callback');
      assert.deepEqual(seen, [], 'no login page for the second client');
      assertCode(page, req);
      const tokens = await exchange(page, req);
      const claims = await verifyIdToken(tokens, { clientId: WEB2.id, nonce: req.checks.nonce });
      assert.equal(claims.sub, first.claims().sub);
      assert.equal(claims.sid, first.claims().sid);
      assert.equal(claims.auth_time, first.claims().auth_time);
    } finally {
      await context.close();
    }
  });
});

describe('the person says no, or gets it wrong', () => {
  test('consent denied: access_denied', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const req = await authRequest(WEB2.id);
      await page.goto(req.url);
      await at(page, 'login');
      await submitLogin(page, BOB.username, BOB.password);
      await at(page, 'consent');
      await page.click('#consent-deny');
      await at(page, 'callback');
      assertError(page, req, 'access_denied');
      const err = await rejection(exchange(page, req));
      assert.equal(err.error, 'access_denied', 'openid-client reports the authorization error');
    } finally {
      await context.close();
    }
  });

  test('login cancelled: access_denied (cancel works with empty fields)', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const req = await authRequest(WEB.id);
      await page.goto(req.url);
      await at(page, 'login');
      await page.click('#login-cancel');
      await at(page, 'callback');
      assertError(page, req, 'access_denied');
    } finally {
      await context.close();
    }
  });

  test('wrong password: the login page again with #login-error (401), then the right one works', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const req = await authRequest(WEB.id);
      await page.goto(req.url);
      await at(page, 'login');
      const resP = page.waitForResponse(
        (r) => r.url().includes('/interaction/login') && r.request().method() === 'POST',
      );
      await submitLogin(page, ALICE.username, 'not the password');
      const res = await resP;
      assert.equal(res.status(), 401);
      await page.waitForSelector('#login-error');
      assert.match(await page.textContent('#login-error'), /wrong username or password/i);
      assert.equal(await page.getAttribute('#login-error', 'role'), 'alert');
      assert.equal(await page.getAttribute('#username', 'aria-describedby'), 'login-error');
      assert.equal(await page.inputValue('#username'), ALICE.username, 'the username is kept');
      assert.equal(await page.inputValue('#password'), '', 'the password is not echoed');
      assert.equal((await context.cookies(srv.issuer)).some((c) => c.name === 'ostiary_session'), false);
      await submitLogin(page, ALICE.username, ALICE.password);
      if ((await at(page, ['consent', 'callback'])) === 'consent') {
        await page.click('#consent-allow');
        await at(page, 'callback');
      }
      assertCode(page, req);
      await exchange(page, req);
    } finally {
      await context.close();
    }
  });

  test(`too many failed logins: 429 with a wait message, even for the right password`, T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const req = await authRequest(WEB.id);
      await page.goto(req.url);
      await at(page, 'login');
      const statuses = [];
      for (let i = 0; i <= MAX_FAILURES; i++) {
        const last = i === MAX_FAILURES;
        const resP = page.waitForResponse(
          (r) => r.url().includes('/interaction/login') && r.request().method() === 'POST',
        );
        await submitLogin(page, CAROL.username, last ? CAROL.password : `wrong ${i}`);
        statuses.push((await resP).status());
        await page.waitForSelector('#login-error');
      }
      assert.deepEqual(statuses, [...Array(MAX_FAILURES).fill(401), 429]);
      assert.match(await page.textContent('#login-error'), /try again in \d+ seconds/i);
    } finally {
      await context.close();
    }
  });
});
