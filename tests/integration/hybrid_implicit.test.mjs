// hybrid_implicit.test.mjs: the hybrid and implicit flows of OpenID Connect Core §3.2 and §3.3 for a client
// registered for them (response_types): code id_token through openid-client v6's hybrid support
// (useCodeIdTokenResponseType, with its FAPI detached-signature checks of c_hash and s_hash), id_token
// through its implicitAuthentication(), and every response type with its hashes recomputed independently
// (node:crypto; the ID token verified with jose): c_hash with a code, at_hash with an access token, s_hash
// with a state (the left half of the hash of the JWS algorithm: SHA-256 for RS256, SHA-512 for EdDSA). Also:
// the fragment as default and form_post in a real browser (Debian's Chromium), the access token of the
// front channel (Bearer, expires_in, never a refresh token; a JWT for its API that works at userinfo),
// the code of a hybrid response redeemed as usual (refresh token, an ID token with at_hash), its replay
// revoking the access token issued beside it, the nonce requirement, and the errors for a response type
// the client did not register (unauthorized_client) or the server does not serve
// (unsupported_response_type).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as client from 'openid-client';

import { closeContext, launchBrowser, newPage, submitLogin, waitFor } from './lib/browser.mjs';
import {
  CookieJar,
  discover,
  httpAuthorize,
  httpRequest,
  insecure,
  newChecks,
  rejection,
  startCallback,
} from './lib/flow.mjs';
import { basicAuth, startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const API = 'https://api.example.com/orders';
const ALICE = { username: 'alice', password: 'through the looking glass' };
const HYB = { id: 'hybrid-app', secret: 'hybrid-app-secret' };
const ED = { id: 'eddsa-app', secret: 'eddsa-app-secret' };
const SPA = { id: 'implicit-spa' };
const CODE = { id: 'code-only', secret: 'code-only-secret' };
const ALL_TYPES = ['code', 'code id_token', 'code token', 'code id_token token', 'id_token', 'id_token token'];

let srv;
let cb;
let jwks;
let browser;

before(async () => {
  cb = await startCallback();
  srv = await startServer({
    config: `
log_level: info
keys:
  algorithms: [RS256, EdDSA]
resources:
  - identifier: "${API}"
    scopes: [orders.read]
users:
  - username: ${ALICE.username}
    password: "${ALICE.password}"
    name: Alice Liddell
    email: alice@example.com
    email_verified: "true"
clients:
  - client_id: ${HYB.id}
    client_secret: ${HYB.secret}
    grant_types: [authorization_code, implicit, refresh_token]
    response_types: [code, "code id_token", "code token", "code id_token token", "id_token token"]
    redirect_uris: ["${cb.url('/cb')}"]
    refresh_token_policy: offline_access
  - client_id: ${ED.id}
    client_secret: ${ED.secret}
    grant_types: [authorization_code, implicit]
    response_types: ["code id_token token"]
    redirect_uris: ["${cb.url('/cb')}"]
    id_token_signed_response_alg: EdDSA
  - client_id: ${SPA.id}
    token_endpoint_auth_method: none
    grant_types: [implicit]
    response_types: [id_token, "id_token token"]
    redirect_uris: ["${cb.url('/spa')}"]
  - client_id: ${CODE.id}
    client_secret: ${CODE.secret}
    redirect_uris: ["${cb.url('/cb')}"]
`,
  });
  jwks = jose.createRemoteJWKSet(new URL(srv.url('/jwks')));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await cb?.close();
  await srv?.stop();
});

/** OIDC Core §3.3.2.11: base64url of the left half of the hash (of the ID token's JWS algorithm) of value. */
function halfHash(alg, value) {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : `sha${alg.slice(2)}`)
    .update(value, 'ascii')
    .digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

/** The /auth URL of a request: PKCE (S256) whenever the type has a code, nonce, state, openid scope. */
async function authUrl(clientId, responseType, extra = {}) {
  const checks = await newChecks();
  const params = {
    client_id: clientId,
    response_type: responseType,
    redirect_uri: cb.url(clientId === SPA.id ? '/spa' : '/cb'),
    scope: 'openid profile email',
    state: checks.state,
    nonce: checks.nonce,
    ...(responseType.includes('code')
      ? { code_challenge: checks.challenge, code_challenge_method: 'S256' }
      : {}),
    ...extra,
  };
  for (const [k, v] of Object.entries(params)) if (v === null) delete params[k];
  const url = new URL(srv.url('/auth'));
  url.search = new URLSearchParams(params).toString();
  return { url, checks, params };
}

/** A sign-in over HTTP (lib/flow.mjs: the real login and consent pages), a new browser unless jar is given. */
async function signIn(url, jar = new CookieJar()) {
  const r = await httpAuthorize(url, { jar, issuer: srv.issuer, ...ALICE });
  assert.ok(r.kind === 'redirect' || r.kind === 'form_post', `expected a response, got the ${r.page} page`);
  return r;
}

/** Verifies an ID token of the authorization endpoint against the JWKS, with its hashes recomputed. */
async function verifyFrontIdToken(p, { clientId, alg = 'RS256', nonce, state }) {
  const { payload, protectedHeader } = await jose.jwtVerify(p.get('id_token'), jwks, {
    issuer: srv.issuer,
    audience: clientId,
    algorithms: [alg],
    typ: 'JWT',
  });
  assert.equal(protectedHeader.alg, alg);
  assert.equal(payload.nonce, nonce, 'nonce is the request nonce');
  assert.equal(payload.azp, clientId);
  assert.ok(Number.isInteger(payload.auth_time));
  assert.equal(typeof payload.sid, 'string');
  assert.deepEqual(payload.amr, ['pwd']);
  assert.equal(payload.acr, 'urn:ostiary:acr:password');
  // c_hash with a code, at_hash with an access token, s_hash with a state: REQUIRED when the value is in
  // the response (OIDC Core §3.3.2.11; FAPI 1.0 Advanced §5.2.2.1), absent otherwise.
  for (const [claim, param] of [
    ['c_hash', 'code'],
    ['at_hash', 'access_token'],
    ['s_hash', 'state'],
  ]) {
    if (p.get(param) !== null) assert.equal(payload[claim], halfHash(alg, p.get(param)), `${claim} of ${param}`);
    else assert.equal(payload[claim], undefined, `no ${claim} without ${param}`);
  }
  assert.equal(state, p.get('state'));
  return payload;
}

/** The code exchange with client_secret_basic. */
function redeem(c, code, verifier) {
  return httpRequest(srv.url('/token'), {
    headers: { authorization: basicAuth(c.id, c.secret) },
    body: { grant_type: 'authorization_code', code, redirect_uri: cb.url('/cb'), code_verifier: verifier },
  });
}

const introspect = (token) =>
  httpRequest(srv.url('/token/introspection'), {
    headers: { authorization: basicAuth(HYB.id, HYB.secret) },
    body: { token },
  });

describe('discovery', () => {
  test('response_types_supported is every served response type; implicit is a served grant type', async () => {
    const md = (await httpRequest(srv.url('/.well-known/openid-configuration'))).json;
    assert.deepEqual(md.response_types_supported, ALL_TYPES);
    assert.ok(!md.response_types_supported.includes('token'), 'token alone is not served');
    assert.ok(md.grant_types_supported.includes('implicit'));
    assert.deepEqual(md.response_modes_supported, ['query', 'fragment', 'form_post']);
  });
});

describe('code id_token (openid-client hybrid)', () => {
  test('fragment: openid-client checks c_hash and s_hash (FAPI detached signature), then redeems', T, async () => {
    const cfg = await discover(srv.issuer, HYB.id, { secret: HYB.secret });
    client.useCodeIdTokenResponseType(cfg);
    client.enableDetachedSignatureResponseChecks(cfg);
    const checks = await newChecks();
    const url = client.buildAuthorizationUrl(cfg, {
      redirect_uri: cb.url('/cb'),
      scope: 'openid profile offline_access',
      state: checks.state,
      nonce: checks.nonce,
      code_challenge: checks.challenge,
      code_challenge_method: 'S256',
    });
    assert.equal(url.searchParams.get('response_type'), 'code id_token');
    const r = await signIn(url);
    const u = new URL(r.url);
    assert.equal(u.search, '', 'nothing in the query (the fragment is the default)');
    const frag = new URLSearchParams(u.hash.slice(1));
    assert.deepEqual([...frag.keys()].sort(), ['code', 'id_token', 'iss', 'state']);
    await verifyFrontIdToken(frag, { clientId: HYB.id, nonce: checks.nonce, state: checks.state });

    const tokens = await client.authorizationCodeGrant(cfg, u, {
      pkceCodeVerifier: checks.verifier,
      expectedNonce: checks.nonce,
      expectedState: checks.state,
      idTokenExpected: true,
    });
    assert.ok(tokens.refresh_token, 'the code yields a refresh token as usual (offline_access)');
    // The ID token of the token endpoint: same sub, the nonce, at_hash of the new access token.
    const front = jose.decodeJwt(frag.get('id_token'));
    const back = tokens.claims();
    assert.equal(back.sub, front.sub);
    assert.equal(back.nonce, checks.nonce);
    const { payload } = await jose.jwtVerify(tokens.id_token, jwks, { issuer: srv.issuer, audience: HYB.id });
    assert.equal(payload.at_hash, halfHash('RS256', tokens.access_token));
    // Userinfo with the access token of the exchange.
    const me = await client.fetchUserInfo(cfg, tokens.access_token, front.sub);
    assert.equal(me.name, 'Alice Liddell');
  });

  test('a tampered c_hash is caught: openid-client refuses the response of another code', T, async () => {
    const cfg = await discover(srv.issuer, HYB.id, { secret: HYB.secret });
    client.useCodeIdTokenResponseType(cfg);
    const jar = new CookieJar();
    const first = await authUrl(HYB.id, 'code id_token');
    const r1 = await signIn(first.url, jar);
    const second = await authUrl(HYB.id, 'code id_token');
    const r2 = await signIn(second.url, jar);
    // The code of the second response under the ID token of the first: the c_hash does not match.
    const p = new URLSearchParams(new URL(r1.url).hash.slice(1));
    p.set('code', new URLSearchParams(new URL(r2.url).hash.slice(1)).get('code'));
    const forged = new URL(cb.url('/cb'));
    forged.hash = p.toString();
    const err = await rejection(
      client.authorizationCodeGrant(cfg, forged, {
        pkceCodeVerifier: first.checks.verifier,
        expectedNonce: first.checks.nonce,
        expectedState: first.checks.state,
      }),
    );
    assert.equal(err.code, 'OAUTH_JWT_CLAIM_COMPARISON_FAILED', String(err));
    assert.equal(err.cause?.cause?.claim, 'c_hash', 'the code hash does not match');
  });

  test('form_post in Chromium: the callback receives a POST with code, id_token, state and iss', T, async () => {
    const cfg = await discover(srv.issuer, HYB.id, { secret: HYB.secret });
    client.useCodeIdTokenResponseType(cfg);
    const req = await authUrl(HYB.id, 'code id_token', { response_mode: 'form_post' });
    const { context, page } = await newPage(browser);
    try {
      const hits = cb.hits.length;
      await page.goto(req.url.href);
      await waitFor(page, 'login', { callbackOrigin: cb.origin });
      await submitLogin(page, ALICE.username, ALICE.password);
      if ((await waitFor(page, ['consent', 'callback'], { callbackOrigin: cb.origin })) === 'consent') await page.click('#consent-allow');
      const hit = await cb.waitHits(hits + 1);
      await waitFor(page, 'callback', { callbackOrigin: cb.origin });
      assert.equal(hit.method, 'POST');
      assert.equal([...hit.query.keys()].length, 0, 'nothing in the query');
      assert.deepEqual([...hit.form.keys()].sort(), ['code', 'id_token', 'iss', 'state']);
      await verifyFrontIdToken(hit.form, { clientId: HYB.id, nonce: req.checks.nonce, state: req.checks.state });
      const request = new Request(cb.url('/cb'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: hit.body,
      });
      const tokens = await client.authorizationCodeGrant(cfg, request, {
        pkceCodeVerifier: req.checks.verifier,
        expectedNonce: req.checks.nonce,
        expectedState: req.checks.state,
      });
      assert.ok(tokens.access_token && tokens.id_token);
    } finally {
      await closeContext(context);
    }
  });
});

describe('id_token (openid-client implicit)', () => {
  test('a public client: the ID token alone, with the claims of the granted scopes (OIDC Core §5.4)', T, async () => {
    const cfg = await client.discovery(new URL(srv.issuer), SPA.id, undefined, client.None(), {
      execute: [...insecure.execute, client.useIdTokenResponseType],
    });
    const nonce = client.randomNonce();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(cfg, {
      redirect_uri: cb.url('/spa'),
      scope: 'openid profile email',
      nonce,
      state,
    });
    assert.equal(url.searchParams.get('response_type'), 'id_token');
    const r = await signIn(url);
    const u = new URL(r.url);
    const frag = new URLSearchParams(u.hash.slice(1));
    assert.deepEqual([...frag.keys()].sort(), ['id_token', 'iss', 'state']);
    const claims = await client.implicitAuthentication(cfg, u, nonce, { expectedState: state });
    assert.equal(claims.name, 'Alice Liddell');
    assert.equal(claims.email, 'alice@example.com');
    assert.equal(claims.email_verified, true);
    await verifyFrontIdToken(frag, { clientId: SPA.id, nonce, state });
  });

  test('without a state: no s_hash; without PKCE (no code to bind)', T, async () => {
    const req = await authUrl(SPA.id, 'id_token', { state: null });
    const r = await signIn(req.url);
    const frag = new URLSearchParams(new URL(r.url).hash.slice(1));
    assert.equal(frag.get('state'), null);
    const payload = await verifyFrontIdToken(frag, { clientId: SPA.id, nonce: req.checks.nonce, state: null });
    assert.equal(payload.s_hash, undefined);
  });
});

describe('every response type with a token, hashes checked with node:crypto', () => {
  for (const [c, type, alg] of [
    [HYB, 'code token', 'RS256'],
    [HYB, 'code id_token token', 'RS256'],
    [HYB, 'id_token token', 'RS256'],
    [ED, 'code id_token token', 'EdDSA'],
    [SPA, 'id_token token', 'RS256'],
  ]) {
    test(`${c.id}: response_type=${type} (${alg})`, T, async () => {
      const req = await authUrl(c.id, type, { scope: 'openid profile offline_access orders.read' });
      const r = await signIn(req.url);
      const u = new URL(r.url);
      assert.equal(u.search, '', 'the fragment, never the query');
      const p = new URLSearchParams(u.hash.slice(1));
      assert.equal(p.get('error'), null, `${p.get('error')}: ${p.get('error_description')}`);
      assert.equal(p.get('state'), req.checks.state);
      assert.equal(p.get('iss'), srv.issuer);
      assert.equal(p.get('refresh_token'), null, 'never a refresh token from the front channel');
      assert.equal(p.has('code'), type.includes('code'));
      assert.equal(p.has('id_token'), type.includes('id_token'));
      // The access token (RFC 6749 §4.2.2): Bearer, its lifetime, its scope; a JWT for the API selected by
      // the API scope, with the userinfo endpoint as second audience.
      assert.equal(p.get('token_type'), 'Bearer');
      assert.ok(Number(p.get('expires_in')) > 0);
      const scope = p.get('scope').split(' ');
      // offline_access stays only with a code, for a client whose refresh_token_policy allows it without
      // prompt=consent: the front channel never yields a refresh token.
      const offline = type.includes('code') && c === HYB;
      assert.deepEqual(
        new Set(scope),
        new Set(['openid', 'profile', 'orders.read', ...(offline ? ['offline_access'] : [])]),
      );
      const at = await jose.jwtVerify(p.get('access_token'), jwks, { issuer: srv.issuer, audience: API, typ: 'at+jwt' });
      assert.equal(at.payload.client_id, c.id);
      const me = await httpRequest(srv.url('/me'), { headers: { authorization: `Bearer ${p.get('access_token')}` } });
      assert.equal(me.status, 200, me.body);
      assert.equal(me.json.name, 'Alice Liddell');
      if (type.includes('id_token')) {
        const idt = await verifyFrontIdToken(p, { clientId: c.id, alg, nonce: req.checks.nonce, state: req.checks.state });
        assert.equal(idt.sub, at.payload.sub);
        assert.equal(idt.name, undefined, 'an access token was issued: the claims are at userinfo (§5.4)');
      }
      if (type.includes('code')) {
        const tok = await redeem(c, p.get('code'), req.checks.verifier);
        assert.equal(tok.status, 200, tok.body);
        assert.notEqual(tok.json.access_token, p.get('access_token'));
        if (c === HYB) assert.ok(tok.json.refresh_token, 'the code yields the refresh token');
        const { payload } = await jose.jwtVerify(tok.json.id_token, jwks, { issuer: srv.issuer, audience: c.id });
        assert.equal(payload.at_hash, halfHash(alg, tok.json.access_token), 'at_hash of the exchange');
        assert.equal(payload.nonce, req.checks.nonce);
      }
    });
  }

  test('a replayed hybrid code revokes the access token issued beside it', T, async () => {
    const req = await authUrl(HYB.id, 'code token', { scope: 'openid orders.read' });
    const p = new URLSearchParams(new URL((await signIn(req.url)).url).hash.slice(1));
    assert.equal((await introspect(p.get('access_token'))).json.active, true);
    assert.equal((await redeem(HYB, p.get('code'), req.checks.verifier)).status, 200);
    const again = await redeem(HYB, p.get('code'), req.checks.verifier);
    assert.equal(again.json.error, 'invalid_grant');
    assert.equal((await introspect(p.get('access_token'))).json.active, false, 'revoked with its grant');
    const me = await httpRequest(srv.url('/me'), { headers: { authorization: `Bearer ${p.get('access_token')}` } });
    assert.equal(me.status, 401);
  });

  test('id_token token by form_post: every parameter in the posted form', T, async () => {
    const req = await authUrl(HYB.id, 'id_token token', { response_mode: 'form_post' });
    const r = await signIn(req.url);
    assert.equal(r.kind, 'form_post');
    assert.equal(r.url, cb.url('/cb'));
    assert.deepEqual([...r.params.keys()].sort(), [
      'access_token', 'expires_in', 'id_token', 'iss', 'scope', 'state', 'token_type',
    ]);
    await verifyFrontIdToken(r.params, { clientId: HYB.id, nonce: req.checks.nonce, state: req.checks.state });
  });
});

describe('errors', () => {
  /** The error of an /auth request, read from where the response type puts it (no sign-in needed). */
  async function authError(url) {
    const res = await httpRequest(url.href);
    assert.equal(res.status, 303, res.body);
    const u = new URL(res.location);
    assert.equal(`${u.origin}${u.pathname}`, url.searchParams.get('redirect_uri'));
    return u.hash ? new URLSearchParams(u.hash.slice(1)) : u.searchParams;
  }

  test('nonce missing with id_token: invalid_request in the fragment, before any page', async () => {
    for (const type of ['code id_token', 'id_token token', 'code id_token token']) {
      const req = await authUrl(HYB.id, type, { nonce: null });
      const p = await authError(req.url);
      assert.equal(p.get('error'), 'invalid_request', type);
      assert.match(p.get('error_description'), /nonce is required/);
      assert.equal(p.get('state'), req.checks.state);
    }
    // code token has no ID token at the authorization endpoint: no nonce needed.
    const ok = await authUrl(HYB.id, 'code token', { nonce: null });
    const res = await httpRequest(ok.url.href);
    assert.equal(res.status, 303);
    assert.match(res.location, /\/interaction\/login\?/);
  });

  test('a served response type the client did not register: unauthorized_client (RFC 6749 §4.1.2.1)', async () => {
    for (const [c, type] of [
      [CODE, 'code id_token'],
      [CODE, 'id_token token'],
      [HYB, 'id_token'],
      [SPA, 'code id_token'],
    ]) {
      const req = await authUrl(c.id, type);
      const p = await authError(req.url);
      assert.equal(p.get('error'), 'unauthorized_client', `${c.id} ${type}`);
      assert.equal(p.get('error_description'), `this client is not registered for response_type ${type}`);
      assert.equal(p.get('iss'), srv.issuer);
    }
  });

  test('a response type the server does not serve: unsupported_response_type', async () => {
    for (const type of ['token', 'none', 'code none']) {
      const req = await authUrl(HYB.id, type);
      const p = await authError(req.url);
      assert.equal(p.get('error'), 'unsupported_response_type', type);
    }
  });

  test('response_mode=query with tokens: invalid_request, in the fragment', async () => {
    const req = await authUrl(HYB.id, 'code id_token', { response_mode: 'query' });
    const p = await authError(req.url);
    assert.equal(p.get('error'), 'invalid_request');
    assert.match(p.get('error_description'), /response_mode=query/);
  });

  test('grant_type=implicit at the token endpoint: unsupported_grant_type', async () => {
    const res = await httpRequest(srv.url('/token'), {
      headers: { authorization: basicAuth(HYB.id, HYB.secret) },
      body: { grant_type: 'implicit' },
    });
    assert.equal(res.status, 400);
    assert.equal(res.json.error, 'unsupported_grant_type');
  });
});
