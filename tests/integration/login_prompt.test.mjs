// login_prompt.test.mjs: the prompt values of OpenID Connect Core §3.1.2.1 in a real browser (headless
// Debian Chromium via playwright-core; openid-client v6 as the relying party): prompt=login forces the
// login page despite a session, prompt=consent the consent page despite remembered consent, prompt=none
// answers without any page or with login_required / consent_required (§3.1.2.6), prompt=select_account
// offers "continue" and "use another account"; max_age=0 forces a new authentication (auth_time moves);
// single sign-on across two clients (the second gets only the consent page, same sid and auth_time).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as client from 'openid-client';

import { closeContext, createRp, launchBrowser, newPage, recordRequests, submitLogin } from './lib/browser.mjs';
import { discover, startCallback } from './lib/flow.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const ALICE = { username: 'alice', password: 'wonderland rabbit hole', name: 'Alice Liddell' };
const BOB = { username: 'bob', password: 'builder can we fix it', name: 'Bob Builder' };
const WEB = { id: 'web-app', secret: 'web-app-secret', name: 'Web App' };
const WEB2 = { id: 'second-app', secret: 'second-app-secret', name: 'Second App' };

let srv;
let cb;
let browser;
const env = { cfgs: {} };
const { authRequest, at, assertCode, assertError, exchange, verifyIdToken, signIn: signInAs } = createRp(env);

/** Full sign-in (login + consent) in this context, leaving the SSO session behind. */
function signIn(context, user = ALICE, clientId = WEB.id) {
  return signInAs(context, user, clientId);
}

before(async () => {
  cb = await startCallback();
  srv = await startServer({
    config: `
log_level: info
users:
  - username: ${ALICE.username}
    password: "${ALICE.password}"
    name: ${ALICE.name}
    email: alice@example.com
  - username: ${BOB.username}
    password: "${BOB.password}"
    name: ${BOB.name}
    email: bob@example.com
clients:
  - client_id: ${WEB.id}
    client_secret: ${WEB.secret}
    client_name: ${WEB.name}
    grant_types: [authorization_code]
    redirect_uris: ["${cb.url('/cb')}"]
    token_endpoint_auth_method: client_secret_basic
  - client_id: ${WEB2.id}
    client_secret: ${WEB2.secret}
    client_name: ${WEB2.name}
    grant_types: [authorization_code]
    redirect_uris: ["${cb.url('/cb')}"]
    token_endpoint_auth_method: client_secret_post
`,
  });
  Object.assign(env, { srv, cb, jwks: jose.createRemoteJWKSet(new URL(srv.url('/jwks'))) });
  env.cfgs[WEB.id] = await discover(srv.issuer, WEB.id, { secret: WEB.secret });
  env.cfgs[WEB2.id] = await discover(srv.issuer, WEB2.id, { secret: WEB2.secret, auth: 'client_secret_post' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await cb?.close();
  await srv?.stop();
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
      await closeContext(context);
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
      await closeContext(context);
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
      await closeContext(context);
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
      await closeContext(context);
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
      await closeContext(context);
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
      await closeContext(context);
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
      await closeContext(context);
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
      await closeContext(context);
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
      await closeContext(context);
    }
  });
});
