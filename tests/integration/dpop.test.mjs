// dpop.test.mjs: DPoP (RFC 9449) end to end through openid-client (getDPoPHandle) and oauth4webapi (DPoP):
// client_credentials with bound JWT and opaque tokens (token_type DPoP, cnf.jkt in the token and in
// introspection), the code flow of a public client with dpop_jkt, a bound refresh token and userinfo with
// the DPoP scheme; dpop_bound_access_tokens; server nonces (dpop.nonce). Negative cases, one per check of
// RFC 9449 §4.3 and §7: htu, htm, iat (old, future), jti replay, a private key or a symmetric alg in the
// proof, alg none, typ, ath, a bound token sent as Bearer, a refresh token or a code used with another key.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';

import { CookieJar, httpAuthorize } from './lib/flow.mjs';
import { API, CLIENTS, postForm, readResponse, standardConfig, startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const insecure = { execute: [client.allowInsecureRequests] };
const USER = { username: 'dora', password: 'possession is proof' };
const SPA = { id: 'dpop-spa', redirect: 'https://spa.example/cb' };
const BOUND = { id: 'dpop-only', secret: 'dpop-only-secret' };

const extra = (more = '') => standardConfig(`
users:
  - username: ${USER.username}
    password: "${USER.password}"
${more}`).replace(
  /^clients:\n/m,
  `clients:
  - client_id: ${SPA.id}
    token_endpoint_auth_method: none
    grant_types: [authorization_code, refresh_token]
    redirect_uris: ["${SPA.redirect}"]
    refresh_token_policy: always
    scope: "openid profile offline_access"
  - client_id: ${BOUND.id}
    client_secret: ${BOUND.secret}
    grant_types: [client_credentials]
    scope: "read write"
    dpop_bound_access_tokens: true
`,
);

let srv; // dpop.nonce off (the default)
let nonced; // dpop.nonce: true

before(async () => {
  [srv, nonced] = await Promise.all([
    startServer({ config: extra() }),
    startServer({ config: extra('dpop:\n  nonce: true\n') }),
  ]);
});
after(async () => {
  await Promise.all([srv?.stop(), nonced?.stop()]);
});

const now = () => Math.floor(Date.now() / 1000);
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const newKeys = (alg = 'ES256') => jose.generateKeyPair(alg, { extractable: true });
const thumbprint = async (keys) => jose.calculateJwkThumbprint(await jose.exportJWK(keys.publicKey), 'sha256');
const ath = (token) => createHash('sha256').update(token).digest('base64url');

/** A DPoP proof made with jose, every part of it overridable. */
async function proof(keys, { alg = 'ES256', typ = 'dpop+jwt', jwk, htm = 'POST', htu, iat = now(), jti, claims = {} } = {}) {
  const header = { alg, typ, jwk: jwk ?? (await jose.exportJWK(keys.publicKey)) };
  const payload = { htm, htu, iat, jti: jti ?? randomBytes(12).toString('base64url'), ...claims };
  return new jose.SignJWT(payload).setProtectedHeader(header).sign(keys.privateKey);
}

/** client_credentials of basic-client at `server` with the given DPoP header value(s): { status, json, headers }. */
function ccWithProof(server, dpop, params = {}) {
  return postForm(server.url('/token'), { grant_type: 'client_credentials', resource: API.es256, ...params }, {
    auth: [CLIENTS.basic.id, CLIENTS.basic.secret],
    headers: dpop === undefined ? {} : { dpop },
  });
}

function assertProofError(res, what, code = 'invalid_dpop_proof') {
  assert.equal(res.status, 400, `${what}: ${res.body}`);
  assert.equal(res.json.error, code, what);
  assert.ok(res.json.error_description, `${what}: described`);
}

describe('discovery', () => {
  test('dpop_signing_alg_values_supported: asymmetric algorithms only', async () => {
    const md = (await fetch(srv.url('/.well-known/openid-configuration')).then((r) => r.json()));
    const algs = md.dpop_signing_alg_values_supported;
    for (const a of ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA']) assert.ok(algs.includes(a), a);
    for (const a of ['none', 'HS256', 'HS384', 'HS512']) assert.ok(!algs.includes(a), a);
  });
});

describe('client_credentials', () => {
  test('openid-client: a JWT bound to the key (cnf.jkt), token_type DPoP, introspected as such', T, async () => {
    const cfg = await client.discovery(new URL(srv.issuer), CLIENTS.basic.id, undefined,
      client.ClientSecretBasic(CLIENTS.basic.secret), insecure);
    const keys = await client.randomDPoPKeyPair('ES256');
    const tr = await client.clientCredentialsGrant(cfg, { resource: API.es256 }, { DPoP: client.getDPoPHandle(cfg, keys) });
    assert.equal(tr.token_type, 'dpop');
    const claims = jose.decodeJwt(tr.access_token);
    assert.equal(claims.cnf.jkt, await thumbprint(keys));
    const info = await client.tokenIntrospection(cfg, tr.access_token);
    assert.equal(info.active, true);
    assert.equal(info.token_type, 'DPoP');
    assert.equal(info.cnf.jkt, claims.cnf.jkt);
  });

  test('oauth4webapi: an opaque token bound to an EdDSA key, introspected with token_type DPoP and cnf', T, async () => {
    const as = await oauth.processDiscoveryResponse(new URL(srv.issuer),
      await oauth.discoveryRequest(new URL(srv.issuer), { [oauth.allowInsecureRequests]: true }));
    const c = { client_id: CLIENTS.basic.id };
    const auth = oauth.ClientSecretBasic(CLIENTS.basic.secret);
    const keys = await oauth.generateKeyPair('EdDSA');
    const DPoP = oauth.DPoP(c, keys);
    const res = await oauth.clientCredentialsGrantRequest(as, c, auth, { resource: API.opaque, scope: 'read' },
      { DPoP, [oauth.allowInsecureRequests]: true });
    const tr = await oauth.processClientCredentialsResponse(as, c, res);
    assert.equal(tr.token_type, 'dpop');
    const ires = await oauth.introspectionRequest(as, c, auth, tr.access_token, { [oauth.allowInsecureRequests]: true });
    const info = await oauth.processIntrospectionResponse(as, c, ires);
    assert.equal(info.active, true);
    assert.equal(info.token_type, 'DPoP');
    assert.equal(info.cnf.jkt, await thumbprint(keys));
  });

  test('without a proof the token stays a bearer token', async () => {
    const res = await ccWithProof(srv, undefined);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json.token_type, 'Bearer');
    assert.equal(jose.decodeJwt(res.json.access_token).cnf, undefined);
  });

  test('dpop_bound_access_tokens: a token request without a proof is refused, with one it is served', async () => {
    const res = await postForm(srv.url('/token'), { grant_type: 'client_credentials' }, { auth: [BOUND.id, BOUND.secret] });
    assertProofError(res, 'no proof');
    const keys = await newKeys();
    const ok = await postForm(srv.url('/token'), { grant_type: 'client_credentials' }, {
      auth: [BOUND.id, BOUND.secret],
      headers: { dpop: await proof(keys, { htu: srv.url('/token') }) },
    });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.json.token_type, 'DPoP');
  });

  test('htu is compared without query and fragment, scheme and host case-insensitively, default port dropped', async () => {
    const keys = await newKeys();
    const u = new URL(srv.url('/token'));
    const htu = `HTTP://${u.host.toUpperCase()}${u.pathname}?x=1#frag`;
    const res = await ccWithProof(srv, await proof(keys, { htu }));
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json.token_type, 'DPoP');
  });
});

describe('proofs that are refused (RFC 9449 §4.3)', () => {
  let keys;
  before(async () => {
    keys = await newKeys();
  });
  const htu = () => srv.url('/token');

  test('htu of another endpoint', async () => {
    assertProofError(await ccWithProof(srv, await proof(keys, { htu: srv.url('/token/introspection') })), 'htu');
  });
  test('htu of another host', async () => {
    assertProofError(await ccWithProof(srv, await proof(keys, { htu: 'https://attacker.example/token' })), 'htu host');
  });
  test('htm GET for a POST', async () => {
    assertProofError(await ccWithProof(srv, await proof(keys, { htm: 'GET', htu: htu() })), 'htm');
  });
  test('iat too old', async () => {
    assertProofError(await ccWithProof(srv, await proof(keys, { htu: htu(), iat: now() - 300 })), 'old iat');
  });
  test('iat in the future', async () => {
    assertProofError(await ccWithProof(srv, await proof(keys, { htu: htu(), iat: now() + 120 })), 'future iat');
  });
  test('a replayed jti: the same proof twice', async () => {
    const p = await proof(keys, { htu: htu() });
    const first = await ccWithProof(srv, p);
    assert.equal(first.status, 200, first.body);
    assertProofError(await ccWithProof(srv, p), 'replay');
  });
  test('a private key in the jwk header', async () => {
    const jwk = await jose.exportJWK(keys.privateKey);
    assert.ok(jwk.d);
    assertProofError(await ccWithProof(srv, await proof(keys, { htu: htu(), jwk })), 'private jwk');
  });
  test('alg none', async () => {
    const jwk = await jose.exportJWK(keys.publicKey);
    const p = `${b64({ alg: 'none', typ: 'dpop+jwt', jwk })}.${b64({ htm: 'POST', htu: htu(), iat: now(), jti: 'n1' })}.`;
    assertProofError(await ccWithProof(srv, p), 'alg none');
  });
  test('HS256 with the public key as its secret', async () => {
    const jwk = await jose.exportJWK(keys.publicKey);
    const secret = new TextEncoder().encode(JSON.stringify(jwk));
    const p = await new jose.SignJWT({ htm: 'POST', htu: htu(), iat: now(), jti: 'h1' })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk })
      .sign(secret);
    assertProofError(await ccWithProof(srv, p), 'HS256');
  });
  test('typ other than dpop+jwt', async () => {
    assertProofError(await ccWithProof(srv, await proof(keys, { htu: htu(), typ: 'JWT' })), 'typ');
  });
  test('a signature by another key than the jwk', async () => {
    const other = await newKeys();
    const jwk = await jose.exportJWK(other.publicKey);
    assertProofError(await ccWithProof(srv, await proof(keys, { htu: htu(), jwk })), 'wrong key');
  });
  test('not a JWT', async () => {
    assertProofError(await ccWithProof(srv, 'not-a-proof'), 'garbage');
  });
  test('the server keeps serving after all of these', async () => {
    const res = await ccWithProof(srv, await proof(keys, { htu: htu() }));
    assert.equal(res.status, 200, res.body);
  });
});

/** The code flow of the public SPA client through the real pages, with openid-client and a DPoP handle. */
async function spaCodeFlow(server, { keys, dpopJkt } = {}) {
  const cfg = await client.discovery(new URL(server.issuer), SPA.id, undefined, client.None(), insecure);
  keys ??= await client.randomDPoPKeyPair('ES256');
  const DPoP = client.getDPoPHandle(cfg, keys);
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(cfg, {
    redirect_uri: SPA.redirect,
    scope: 'openid profile offline_access',
    prompt: 'consent',
    state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...(dpopJkt ? { dpop_jkt: dpopJkt } : {}),
  });
  const r = await httpAuthorize(url, { jar: new CookieJar(), issuer: server.issuer, ...USER });
  assert.equal(r.kind, 'redirect', `pages: ${r.pages}`);
  return { cfg, keys, DPoP, callback: new URL(r.url), verifier, state };
}

describe('code flow of a public client (openid-client)', () => {
  test('bound access and refresh tokens; userinfo with the DPoP scheme; refresh with the same key', T, async () => {
    const f = await spaCodeFlow(srv);
    const tokens = await client.authorizationCodeGrant(f.cfg, f.callback,
      { pkceCodeVerifier: f.verifier, expectedState: f.state }, undefined, { DPoP: f.DPoP });
    assert.equal(tokens.token_type, 'dpop');
    assert.ok(tokens.refresh_token);
    const sub = tokens.claims().sub;
    const info = await client.fetchUserInfo(f.cfg, tokens.access_token, sub, { DPoP: f.DPoP });
    assert.equal(info.sub, sub);
    const next = await client.refreshTokenGrant(f.cfg, tokens.refresh_token, undefined, { DPoP: f.DPoP });
    assert.equal(next.token_type, 'dpop');
    const again = await client.fetchUserInfo(f.cfg, next.access_token, sub, { DPoP: f.DPoP });
    assert.equal(again.sub, sub);

    // RFC 9449 §5: the public client's refresh token is bound to its key.
    const stranger = client.getDPoPHandle(f.cfg, await client.randomDPoPKeyPair('ES256'));
    await assert.rejects(client.refreshTokenGrant(f.cfg, next.refresh_token, undefined, { DPoP: stranger }),
      (e) => e.error === 'invalid_dpop_proof');
    await assert.rejects(client.refreshTokenGrant(f.cfg, next.refresh_token), (e) => e.error === 'invalid_dpop_proof');
    // Refused presentations did not consume it.
    const last = await client.refreshTokenGrant(f.cfg, next.refresh_token, undefined, { DPoP: f.DPoP });
    assert.equal(last.token_type, 'dpop');
  });

  test('dpop_jkt: the code is only redeemed with a proof of that key', T, async () => {
    const keys = await client.randomDPoPKeyPair('ES256');
    const f = await spaCodeFlow(srv, { dpopJkt: await thumbprint(keys) });
    const stranger = client.getDPoPHandle(f.cfg, await client.randomDPoPKeyPair('ES256'));
    await assert.rejects(client.authorizationCodeGrant(f.cfg, f.callback,
      { pkceCodeVerifier: f.verifier, expectedState: f.state }, undefined, { DPoP: stranger }),
    (e) => e.error === 'invalid_dpop_proof');
    const tokens = await client.authorizationCodeGrant(f.cfg, f.callback,
      { pkceCodeVerifier: f.verifier, expectedState: f.state }, undefined, { DPoP: client.getDPoPHandle(f.cfg, keys) });
    assert.equal(tokens.token_type, 'dpop');
  });

  test('PAR with a DPoP proof binds the code to its key (RFC 9449 §10.1)', T, async () => {
    const cfg = await client.discovery(new URL(srv.issuer), SPA.id, undefined, client.None(), insecure);
    const keys = await client.randomDPoPKeyPair('ES256');
    const DPoP = client.getDPoPHandle(cfg, keys);
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = await client.buildAuthorizationUrlWithPAR(cfg, { redirect_uri: SPA.redirect, scope: 'openid', state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }, { DPoP });
    const r = await httpAuthorize(url, { jar: new CookieJar(), issuer: srv.issuer, ...USER });
    assert.equal(r.kind, 'redirect', `pages: ${r.pages}`);
    const checks = { pkceCodeVerifier: verifier, expectedState: state };
    const stranger = client.getDPoPHandle(cfg, await client.randomDPoPKeyPair('ES256'));
    await assert.rejects(client.authorizationCodeGrant(cfg, new URL(r.url), checks, undefined, { DPoP: stranger }),
      (e) => e.error === 'invalid_dpop_proof');
    const tokens = await client.authorizationCodeGrant(cfg, new URL(r.url), checks, undefined, { DPoP });
    assert.equal(tokens.token_type, 'dpop');
  });

  test('dpop_jkt that is not a thumbprint: invalid_request at /auth', T, async () => {
    const url = new URL(srv.url('/auth'));
    url.search = new URLSearchParams({ client_id: SPA.id, response_type: 'code', redirect_uri: SPA.redirect,
      scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
      dpop_jkt: 'short' }).toString();
    const r = await httpAuthorize(url, { jar: new CookieJar(), issuer: srv.issuer });
    assert.equal(r.kind, 'redirect');
    assert.equal(r.params.get('error'), 'invalid_request');
  });
});

describe('userinfo (RFC 9449 §7)', () => {
  let f;
  let tokens;
  before(async () => {
    f = await spaCodeFlow(srv);
    tokens = await client.authorizationCodeGrant(f.cfg, f.callback,
      { pkceCodeVerifier: f.verifier, expectedState: f.state }, undefined, { DPoP: f.DPoP });
  });
  const me = (headers) => fetch(srv.url('/me'), { headers }).then(readResponse);
  const userinfoProof = (opts = {}) => proof(f.keys, { htm: 'GET', htu: srv.url('/me'),
    claims: { ath: ath(tokens.access_token) }, ...opts });

  test('a bound token sent as Bearer: 401 invalid_token with a DPoP challenge', async () => {
    const res = await me({ authorization: `Bearer ${tokens.access_token}` });
    assert.equal(res.status, 401);
    assert.equal(res.json.error, 'invalid_token');
    const ch = res.headers.get('www-authenticate');
    assert.match(ch, /^DPoP algs="[^"]*ES256[^"]*", error="invalid_token", error_description="[^"]+"$/);
  });
  test('the DPoP scheme without a proof', async () => {
    const res = await me({ authorization: `DPoP ${tokens.access_token}` });
    assert.equal(res.status, 401);
    assert.equal(res.json.error, 'invalid_dpop_proof');
    assert.match(res.headers.get('www-authenticate'), /^DPoP algs="[^"]+", error="invalid_dpop_proof", error_description="[^"]+"$/);
  });
  test('ath of another token', async () => {
    const res = await me({ authorization: `DPoP ${tokens.access_token}`, dpop: await userinfoProof({ claims: { ath: ath('other') } }) });
    assert.equal(res.status, 401);
    assert.equal(res.json.error, 'invalid_dpop_proof');
  });
  test('no ath', async () => {
    const res = await me({ authorization: `DPoP ${tokens.access_token}`, dpop: await userinfoProof({ claims: {} }) });
    assert.equal(res.status, 401);
    assert.equal(res.json.error, 'invalid_dpop_proof');
  });
  test('a proof of another key', async () => {
    const other = await newKeys();
    const res = await me({ authorization: `DPoP ${tokens.access_token}`,
      dpop: await proof(other, { htm: 'GET', htu: srv.url('/me'), claims: { ath: ath(tokens.access_token) } }) });
    assert.equal(res.status, 401);
    assert.equal(res.json.error, 'invalid_dpop_proof');
  });
  test('a good proof works once, its replay is refused', async () => {
    const p = await userinfoProof();
    const ok = await me({ authorization: `DPoP ${tokens.access_token}`, dpop: p });
    assert.equal(ok.status, 200, ok.body);
    const replay = await me({ authorization: `DPoP ${tokens.access_token}`, dpop: p });
    assert.equal(replay.status, 401);
    assert.equal(replay.json.error, 'invalid_dpop_proof');
  });
  test('a bearer token sent with the DPoP scheme', async () => {
    const cc = await ccWithProof(srv, undefined);
    assert.equal(cc.status, 200);
    const res = await me({ authorization: `DPoP ${cc.json.access_token}` });
    assert.equal(res.status, 401);
  });
  test('without a token: both challenges', async () => {
    const res = await fetch(srv.url('/me'));
    assert.equal(res.status, 401);
    const ch = res.headers.get('www-authenticate');
    assert.match(ch, /Bearer realm="ostiary"/);
    assert.match(ch, /DPoP algs="/);
  });
});

describe('server nonces (dpop.nonce: true)', () => {
  test('a proof without a nonce: use_dpop_nonce and a DPoP-Nonce header; with it, served', T, async () => {
    const keys = await newKeys();
    const res = await ccWithProof(nonced, await proof(keys, { htu: nonced.url('/token') }));
    assertProofError(res, 'no nonce', 'use_dpop_nonce');
    const nonce = res.headers.get('dpop-nonce');
    assert.match(nonce, /^\d+\.[A-Za-z0-9_-]{43}$/);
    const bad = await ccWithProof(nonced, await proof(keys, { htu: nonced.url('/token'), claims: { nonce: `${nonce}x` } }));
    assertProofError(bad, 'forged nonce', 'use_dpop_nonce');
    const ok = await ccWithProof(nonced, await proof(keys, { htu: nonced.url('/token'), claims: { nonce } }));
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.json.token_type, 'DPoP');
    assert.ok(ok.headers.get('dpop-nonce'));
  });

  test('openid-client retries with the nonce by itself (token endpoint and userinfo)', T, async () => {
    const f = await spaCodeFlow(nonced);
    const tokens = await client.authorizationCodeGrant(f.cfg, f.callback,
      { pkceCodeVerifier: f.verifier, expectedState: f.state }, undefined, { DPoP: f.DPoP });
    assert.equal(tokens.token_type, 'dpop');
    const info = await client.fetchUserInfo(f.cfg, tokens.access_token, tokens.claims().sub, { DPoP: f.DPoP });
    assert.equal(info.sub, tokens.claims().sub);
  });

  test('userinfo without the nonce: 401 use_dpop_nonce with a DPoP challenge', T, async () => {
    const f = await spaCodeFlow(nonced);
    const tokens = await client.authorizationCodeGrant(f.cfg, f.callback,
      { pkceCodeVerifier: f.verifier, expectedState: f.state }, undefined, { DPoP: f.DPoP });
    const res = await fetch(nonced.url('/me'), { headers: { authorization: `DPoP ${tokens.access_token}`,
      dpop: await proof(f.keys, { htm: 'GET', htu: nonced.url('/me'), claims: { ath: ath(tokens.access_token) } }) } })
      .then(readResponse);
    assert.equal(res.status, 401);
    assert.equal(res.json.error, 'use_dpop_nonce');
    assert.match(res.headers.get('www-authenticate'), /^DPoP algs="[^"]+", error="use_dpop_nonce"/);
    assert.ok(res.headers.get('dpop-nonce'));
  });
});

describe('CORS', () => {
  test('the preflight allows the DPoP header; responses expose DPoP-Nonce', async () => {
    const pre = await fetch(srv.url('/token'), { method: 'OPTIONS', headers: { origin: 'https://spa.example',
      'access-control-request-method': 'POST', 'access-control-request-headers': 'dpop' } });
    assert.match(pre.headers.get('access-control-allow-headers'), /DPoP/);
    const res = await ccWithProof(srv, undefined);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('access-control-expose-headers'), /DPoP-Nonce/);
  });
});
