// login_tokens.test.mjs: what a relying party does with the code after a real browser sign-in
// (headless Debian Chromium via playwright-core; openid-client v6 as the RP): single-use codes with
// replay revocation (RFC 6749 §4.1.2, §10.5), redirect_uri binding at the authorization endpoint (RFC 6749
// §3.1.2.4: an unregistered URI gets an error page, never a redirect) and at the token endpoint (§4.1.3),
// PKCE (RFC 7636 §4.4.1, §4.6), refresh token rotation and reuse detection (RFC 6749 §6, RFC 9700
// §4.14.2) with introspection of both token kinds (RFC 7662), the UserInfo endpoint with the token in the
// header and in the form body (RFC 6750 §2.1-2.2) and its errors (§3.1), RP-initiated logout (OpenID
// Connect RP-Initiated Logout 1.0), the form_post and fragment response modes (OAuth 2.0 Form Post
// Response Mode; Multiple Response Types §2), and ES256-signed ID tokens for a client that asks for them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as client from 'openid-client';

import { closeContext, createRp, launchBrowser, newPage, recordRequests, submitLogin } from './lib/browser.mjs';
import { discover, rejection, startCallback } from './lib/flow.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const ALICE = { username: 'alice', password: 'wonderland rabbit hole', name: 'Alice Liddell' };
const WEB = { id: 'web-app', secret: 'web-app-secret' };
const ES = { id: 'es-app', secret: 'es-app-secret' };

let srv;
let cb;
let browser;
const env = { cfgs: {} };
const { authRequest, at, assertCode, assertError, exchange, verifyIdToken, signIn } = createRp(env);

before(async () => {
  cb = await startCallback();
  srv = await startServer({
    config: `
log_level: info
keys:
  algorithms: [RS256, ES256]
refresh:
  refresh_grace_period: 0
users:
  - username: ${ALICE.username}
    password: "${ALICE.password}"
    name: ${ALICE.name}
    email: alice@example.com
    email_verified: "true"
clients:
  - client_id: ${WEB.id}
    client_secret: ${WEB.secret}
    client_name: Web App
    grant_types: [authorization_code, refresh_token]
    redirect_uris: ["${cb.url('/cb')}", "${cb.url('/cb2')}"]
    post_logout_redirect_uris: ["${cb.url('/logged-out')}"]
    token_endpoint_auth_method: client_secret_basic
  - client_id: ${ES.id}
    client_secret: ${ES.secret}
    grant_types: [authorization_code]
    redirect_uris: ["${cb.url('/cb')}"]
    token_endpoint_auth_method: client_secret_basic
    id_token_signed_response_alg: ES256
`,
  });
  Object.assign(env, { srv, cb, jwks: jose.createRemoteJWKSet(new URL(srv.url('/jwks'))) });
  env.cfgs[WEB.id] = await discover(srv.issuer, WEB.id, { secret: WEB.secret });
  env.cfgs[ES.id] = await discover(srv.issuer, ES.id, { secret: ES.secret });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await cb?.close();
  await srv?.stop();
});

/** Signs in (login + consent) and lands on the callback with a code for `req`. */
async function loginTo(page, req) {
  await page.goto(req.url);
  await at(page, 'login');
  await submitLogin(page, ALICE.username, ALICE.password);
  if ((await at(page, ['consent', 'callback'])) === 'consent') {
    await page.click('#consent-allow');
    await at(page, 'callback');
  }
  return assertCode(page, req);
}

const introspect = (token, hint) =>
  client.tokenIntrospection(env.cfgs[WEB.id], token, hint ? { token_type_hint: hint } : undefined);

describe('authorization codes', () => {
  test('a replayed code: invalid_grant, and the tokens issued from it are revoked', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const req = await authRequest(WEB.id, { scope: 'openid offline_access', prompt: 'consent' });
      await loginTo(page, req);
      const tokens = await exchange(page, req);
      assert.ok(tokens.refresh_token, 'offline_access with prompt=consent gives a refresh token');
      assert.equal((await introspect(tokens.access_token)).active, true);
      const err = await rejection(exchange(page, req));
      assert.equal(err.error, 'invalid_grant', `second exchange: ${err.message}`);
      const ai = await introspect(tokens.access_token);
      assert.equal(ai.active, false, 'the access token from the first exchange is revoked');
      const ri = await introspect(tokens.refresh_token);
      assert.equal(ri.active, false, 'the refresh token from the first exchange is revoked');
      const rerr = await rejection(client.refreshTokenGrant(req.cfg, tokens.refresh_token));
      assert.equal(rerr.error, 'invalid_grant');
    } finally {
      await closeContext(context);
    }
  });

  test('unregistered redirect_uri at /auth: an HTML error page, no redirect to it', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const hits = cb.hits.length;
      const req = await authRequest(WEB.id, { redirect_uri: cb.url('/evil') });
      const res = await page.goto(req.url);
      assert.equal(res.status(), 400);
      assert.equal(res.request().redirectedFrom(), null, 'answered without any redirect');
      assert.match(res.headers()['content-type'], /^text\/html/);
      assert.match(res.headers()['content-security-policy'] || '', /frame-ancestors 'none'/);
      assert.equal(await at(page, 'error'), 'error');
      assert.equal(await page.textContent('#error-code'), 'invalid_request');
      assert.ok(page.url().startsWith(srv.issuer), 'the browser stays on the provider');
      // Same for an unknown client, and for a registered URI with an extra path segment.
      const unknown = new URL(req.url);
      unknown.searchParams.set('client_id', 'no-such-client');
      unknown.searchParams.set('redirect_uri', cb.url('/cb'));
      const res2 = await page.goto(unknown.href);
      assert.equal(res2.status(), 400);
      assert.equal(await page.textContent('#error-code'), 'invalid_client');
      const longer = new URL(req.url);
      longer.searchParams.set('redirect_uri', cb.url('/cb/x'));
      const res3 = await page.goto(longer.href);
      assert.equal(res3.status(), 400);
      await page.waitForTimeout(200);
      assert.equal(cb.hits.length, hits, 'the callback server was never contacted');
    } finally {
      await closeContext(context);
    }
  });

  test('redirect_uri at /token differs from the authorization request: invalid_grant', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const req = await authRequest(WEB.id);
      await loginTo(page, req);
      const other = new URL(page.url());
      other.pathname = '/cb2'; // registered too, but not the one of this request
      const err = await rejection(exchange(page, req, {}, other));
      assert.equal(err.error, 'invalid_grant', err.message);
    } finally {
      await closeContext(context);
    }
  });

  test('PKCE: a wrong code_verifier and a missing one are invalid_grant', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const req = await authRequest(WEB.id);
      await loginTo(page, req);
      const wrong = await rejection(exchange(page, req, { pkceCodeVerifier: client.randomPKCECodeVerifier() }));
      assert.equal(wrong.error, 'invalid_grant', wrong.message);
      const missing = await rejection(exchange(page, req, { pkceCodeVerifier: undefined }));
      assert.equal(missing.error, 'invalid_grant', missing.message);
    } finally {
      await closeContext(context);
    }
  });

  test('PKCE required: no code_challenge → invalid_request redirect (before any page)', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const seen = recordRequests(page, srv.url('/interaction/'));
      const req = await authRequest(WEB.id, { code_challenge: null, code_challenge_method: null });
      await page.goto(req.url);
      await at(page, 'callback');
      const p = assertError(page, req, 'invalid_request');
      assert.match(p.get('error_description') || '', /PKCE|code_challenge/i);
      assert.deepEqual(seen, []);
    } finally {
      await closeContext(context);
    }
  });
});

describe('refresh tokens', () => {
  test('rotation: a new refresh token each time; reuse of a rotated one revokes the family', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const req = await authRequest(WEB.id, { scope: 'openid profile email offline_access', prompt: 'consent' });
      await page.goto(req.url);
      await at(page, 'login');
      await submitLogin(page, ALICE.username, ALICE.password);
      await at(page, 'consent');
      assert.equal(await page.isVisible('#consent-offline'), true, 'the consent page mentions offline access');
      await page.click('#consent-allow');
      await at(page, 'callback');
      assertCode(page, req);
      const t1 = await exchange(page, req);
      const first = await verifyIdToken(t1, { clientId: WEB.id, nonce: req.checks.nonce });
      assert.ok(t1.refresh_token);
      const ri = await introspect(t1.refresh_token);
      assert.equal(ri.active, true);
      assert.equal(ri.token_type, 'refresh_token');
      assert.equal(ri.client_id, WEB.id);
      assert.equal(ri.sub, first.sub);

      const t2 = await client.refreshTokenGrant(req.cfg, t1.refresh_token);
      assert.ok(t2.refresh_token && t2.refresh_token !== t1.refresh_token, 'a new refresh token');
      assert.notEqual(t2.access_token, t1.access_token);
      assert.equal(t2.scope, 'openid profile email offline_access');
      const c2 = await verifyIdToken(t2, { clientId: WEB.id });
      assert.equal(c2.sub, first.sub, 'OIDC Core §12.2: same sub');
      assert.equal(c2.auth_time, first.auth_time, 'OIDC Core §12.2: same auth_time');
      assert.equal((await introspect(t1.refresh_token)).active, false, 'the rotated token is dead');

      // The scope may narrow (RFC 6749 §6); the grant keeps its scope.
      const t3 = await client.refreshTokenGrant(req.cfg, t2.refresh_token, { scope: 'openid' });
      assert.equal(t3.scope, 'openid');
      assert.ok(t3.refresh_token && t3.refresh_token !== t2.refresh_token);
      const info = await client.fetchUserInfo(req.cfg, t3.access_token, first.sub);
      assert.equal(info.email, undefined, 'the narrowed access token has no email scope');
      const wider = await rejection(client.refreshTokenGrant(req.cfg, t3.refresh_token, { scope: 'openid address' }));
      assert.equal(wider.error, 'invalid_scope');

      // Reuse of a rotated token (grace period 0): invalid_grant, and the live one dies with it.
      const reuse = await rejection(client.refreshTokenGrant(req.cfg, t1.refresh_token));
      assert.equal(reuse.error, 'invalid_grant', reuse.message);
      assert.equal((await introspect(t3.refresh_token)).active, false, 'the newest refresh token is revoked too');
      const after = await rejection(client.refreshTokenGrant(req.cfg, t3.refresh_token));
      assert.equal(after.error, 'invalid_grant');
    } finally {
      await closeContext(context);
    }
  });
});

describe('userinfo', () => {
  test('token in the Authorization header and in the form body; errors per RFC 6750 §3.1; CORS', T, async () => {
    const { context } = await newPage(browser);
    try {
      const tokens = await signIn(context, ALICE, WEB.id);
      const sub = tokens.claims().sub;
      const cfg = env.cfgs[WEB.id];
      const viaHeader = await client.fetchUserInfo(cfg, tokens.access_token, sub);
      assert.equal(viaHeader.sub, sub);
      assert.equal(viaHeader.name, ALICE.name);
      assert.equal(viaHeader.email, 'alice@example.com');

      const me = cfg.serverMetadata().userinfo_endpoint;
      const viaBody = await fetch(me, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ access_token: tokens.access_token }),
      });
      assert.equal(viaBody.status, 200);
      assert.match(viaBody.headers.get('cache-control') || '', /no-store/);
      assert.deepEqual(await viaBody.json(), viaHeader);

      const get = await fetch(me, {
        headers: { authorization: `Bearer ${tokens.access_token}`, origin: 'https://spa.example.com' },
      });
      assert.equal(get.status, 200);
      const acao = get.headers.get('access-control-allow-origin');
      assert.ok(acao === '*' || acao === 'https://spa.example.com', `CORS: Access-Control-Allow-Origin ${acao}`);

      const bad = await fetch(me, { headers: { authorization: 'Bearer not-a-token' } });
      assert.equal(bad.status, 401);
      assert.match(bad.headers.get('www-authenticate') || '', /^Bearer\b.*error="invalid_token"/);

      // The query string is off unless userinfo.allow_query_token is set.
      const q = await fetch(`${me}?access_token=${encodeURIComponent(tokens.access_token)}`);
      assert.equal(q.status, 400);
      assert.equal((await q.json()).error, 'invalid_request');
    } finally {
      await closeContext(context);
    }
  });
});

describe('RP-initiated logout', () => {
  test('id_token_hint + post_logout_redirect_uri + state: back to the client with state; session gone', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const tokens = await signIn(context, ALICE, WEB.id);
      const cfg = env.cfgs[WEB.id];
      const url = client.buildEndSessionUrl(cfg, {
        id_token_hint: tokens.id_token,
        post_logout_redirect_uri: cb.url('/logged-out'),
        state: 'logout-state-42',
      });
      const hits = cb.hits.length;
      await page.goto(url.href);
      await at(page, 'callback');
      const hit = await cb.waitHits(hits + 1);
      assert.equal(hit.path, '/logged-out');
      assert.equal(hit.query.get('state'), 'logout-state-42');
      assert.equal((await context.cookies(srv.issuer)).some((c) => c.name === 'ostiary_session'), false);
      const req = await authRequest(WEB.id, { prompt: 'none' });
      await page.goto(req.url);
      await at(page, 'callback');
      assertError(page, req, 'login_required');
    } finally {
      await closeContext(context);
    }
  });

  test('without a hint: a confirmation page; "Sign out" ends the session', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      await signIn(context, ALICE, WEB.id);
      await page.goto(srv.url('/session/end'));
      await at(page, 'logout');
      assert.equal(await page.isVisible('#logout-cancel'), true);
      await page.click('#logout-confirm');
      await at(page, 'logged_out');
      assert.match(await page.textContent('#page-heading'), /signed out/i);
      const req = await authRequest(WEB.id, { prompt: 'none' });
      await page.goto(req.url);
      await at(page, 'callback');
      assertError(page, req, 'login_required');
    } finally {
      await closeContext(context);
    }
  });

  test('without a hint: "Stay signed in" keeps the session and does not say "signed out"', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      await signIn(context, ALICE, WEB.id);
      await page.goto(srv.url('/session/end'));
      await at(page, 'logout');
      const resP = page.waitForResponse((r) => r.url().includes('/session/end') && r.request().method() === 'POST');
      await page.click('#logout-cancel');
      const res = await resP;
      assert.ok(res.status() < 400, `cancel answered ${res.status()}`);
      // Wait for the answer's page itself: the response arriving does not mean the document replaced the
      // confirmation page yet, and navigating away before it does aborts one of the two navigations.
      await at(page, 'logged_out');
      const heading = await page.textContent('#page-heading');
      assert.match(heading, /still signed in/i, 'the person chose to stay signed in');
      assert.doesNotMatch(heading, /signed out/i, 'the person chose to stay signed in');
      assert.equal((await context.cookies(srv.issuer)).some((c) => c.name === 'ostiary_session'), true);
      const req = await authRequest(WEB.id, { prompt: 'none' });
      await page.goto(req.url);
      await at(page, 'callback');
      assertCode(page, req);
    } finally {
      await closeContext(context);
    }
  });

  test('without a hint but with client_id + post_logout_redirect_uri: "Stay signed in" keeps the session', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      await signIn(context, ALICE, WEB.id);
      const url = new URL(srv.url('/session/end'));
      url.searchParams.set('client_id', WEB.id);
      url.searchParams.set('post_logout_redirect_uri', cb.url('/logged-out'));
      url.searchParams.set('state', 'stay');
      await page.goto(url.href);
      await at(page, 'logout');
      const resP = page.waitForResponse((r) => r.url().includes('/session/end') && r.request().method() === 'POST');
      const hits = cb.hits.length;
      await page.click('#logout-cancel');
      await resP;
      await at(page, 'callback');
      const hit = await cb.waitHits(hits + 1);
      assert.equal(hit.path, '/logged-out');
      assert.equal(hit.query.get('state'), 'stay');
      const req = await authRequest(WEB.id, { prompt: 'none' });
      await page.goto(req.url);
      await at(page, 'callback');
      assertCode(page, req);
    } finally {
      await closeContext(context);
    }
  });
});

describe('response modes and ID token algorithms', () => {
  test('response_mode=form_post: the callback receives a POST with code, state and iss', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      await signIn(context, ALICE, WEB.id);
      const req = await authRequest(WEB.id, { response_mode: 'form_post' });
      const hits = cb.hits.length;
      const res = await page.goto(req.url);
      const h = res.headers();
      assert.equal(res.status(), 200, 'the form_post page');
      assert.match(h['content-security-policy'] || '', /script-src 'nonce-[^']+'/);
      assert.match(h['content-security-policy'] || '', /frame-ancestors 'none'/);
      assert.match(h['cache-control'] || '', /no-store/);
      const hit = await cb.waitHits(hits + 1);
      await at(page, 'callback');
      assert.equal(hit.method, 'POST');
      assert.equal(hit.path, '/cb');
      assert.equal([...hit.query.keys()].length, 0, 'nothing in the query');
      assert.ok(hit.form.get('code'));
      assert.equal(hit.form.get('state'), req.checks.state);
      assert.equal(hit.form.get('iss'), srv.issuer);
      const request = new Request(cb.url('/cb'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: hit.body,
      });
      const tokens = await exchange(page, req, {}, request);
      await verifyIdToken(tokens, { clientId: WEB.id, nonce: req.checks.nonce });
    } finally {
      await closeContext(context);
    }
  });

  test('response_mode=fragment: code, state and iss in the fragment, not the query', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      await signIn(context, ALICE, WEB.id);
      const req = await authRequest(WEB.id, { response_mode: 'fragment' });
      const hits = cb.hits.length;
      await page.goto(req.url);
      await at(page, 'callback');
      const hit = await cb.waitHits(hits + 1);
      assert.equal([...hit.query.keys()].length, 0, 'the server saw no parameters');
      const u = new URL(page.url());
      assert.equal(u.search, '');
      const frag = new URLSearchParams(u.hash.slice(1));
      assert.ok(frag.get('code'));
      assert.equal(frag.get('state'), req.checks.state);
      assert.equal(frag.get('iss'), srv.issuer);
      const asQuery = new URL(`${u.origin}${u.pathname}?${frag}`);
      const tokens = await exchange(page, req, {}, asQuery);
      await verifyIdToken(tokens, { clientId: WEB.id, nonce: req.checks.nonce });
    } finally {
      await closeContext(context);
    }
  });

  test('a client registered for ES256 ID tokens gets ES256, verified against the JWKS', T, async () => {
    const { context, page } = await newPage(browser);
    try {
      const req = await authRequest(ES.id);
      await loginTo(page, req);
      const tokens = await exchange(page, req);
      const claims = await verifyIdToken(tokens, { clientId: ES.id, nonce: req.checks.nonce, alg: 'ES256' });
      const keys = await (await fetch(srv.url('/jwks'))).json();
      const { kid } = jose.decodeProtectedHeader(tokens.id_token);
      const jwk = keys.keys.find((k) => k.kid === kid);
      assert.ok(jwk, 'the kid is in the JWKS');
      assert.equal(jwk.kty, 'EC');
      assert.equal(jwk.crv, 'P-256');
      assert.equal(jwk.d, undefined, 'no private part published');
      const info = await client.fetchUserInfo(req.cfg, tokens.access_token, claims.sub);
      assert.equal(info.name, ALICE.name);
    } finally {
      await closeContext(context);
    }
  });
});
