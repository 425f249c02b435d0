// login_browser.test.mjs: the interactive sign-in in a real browser (headless Debian Chromium driven by
// playwright-core), as a relying party built on openid-client v6 sees it: OpenID Connect Core §3.1
// (authorization code flow) for a confidential and a public client with RFC 7636 PKCE, RFC 9207 `iss` in
// every response, ID token validation with jose against the JWKS (§3.1.3.7: nonce, at_hash, auth_time,
// sid, azp, amr), userinfo, the pages' security headers (CSP frame-ancestors 'none', Referrer-Policy,
// Cache-Control no-store) and cookie attributes (HttpOnly, SameSite=Lax, no Secure on a plain-http issuer),
// screenshots of the login and consent pages, access_denied on cancel and deny (RFC 6749 §4.1.2.1), a
// wrong password, and the failed-login throttle. The issuer has a path (/authentication/oidc), as in the
// focus seed. prompt / max_age / SSO are in login_prompt.test.mjs, token handling in login_tokens.test.mjs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as client from 'openid-client';

import { closeContext, createRp, launchBrowser, newPage, submitLogin } from './lib/browser.mjs';
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
const { authRequest, at, assertCode, assertError, exchange, verifyIdToken } = createRp(env);

before(async () => {
  cb = await startCallback();
  srv = await startServer({
    issuerPath: '/authentication/oidc',
    config: `
log_level: info
login:
  max_failures: ${MAX_FAILURES}
  lockout_seconds: 120
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
      await closeContext(context);
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
      await closeContext(context);
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
      await closeContext(context);
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
      await closeContext(context);
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
      await closeContext(context);
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
      await closeContext(context);
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
      await closeContext(context);
    }
  });
});
