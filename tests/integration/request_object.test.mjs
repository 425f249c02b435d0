// request_object.test.mjs: signed authorization requests, the `request` parameter (RFC 9101; OIDC Core
// §6.1, §6.3), through openid-client (buildAuthorizationUrlWithJAR) and oauth4webapi (issueRequestObject),
// then the code flow through the real pages. The object's parameters win over the query's; per client
// request_object_signing_alg (none only when registered) and require_signed_request_object. Negative
// cases, one per check: wrong aud, wrong iss, expired, exp too far ahead, nbf in the future, replayed jti,
// alg none, an unknown kid, another key's signature, a disallowed alg, response_type differing from the
// query's, a nested request; each answered on the error page with invalid_request_object (the redirect
// URI is not trusted before the object is).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';

import { CookieJar, httpAuthorize, textById } from './lib/flow.mjs';
import { standardConfig, startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const insecure = { execute: [client.allowInsecureRequests] };
const USER = { username: 'jarvis', password: 'signed and sealed' };
const CB = 'https://rp.example/cb';
const JAR = { id: 'jar-client', secret: 'jar-client-secret' };
const STRICT = { id: 'jar-strict', secret: 'jar-strict-secret' };
const UNSIGNED = { id: 'jar-unsigned', secret: 'jar-unsigned-secret' };

let srv;
let key; // the clients' ES256 key: { privateKey, publicJwk (with kid) }
let stranger; // a key no client registered

async function newKey(alg, kid) {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
  return { privateKey, publicJwk: { ...(await jose.exportJWK(publicKey)), kid, alg } };
}

before(async () => {
  key = await newKey('ES256', 'jar-1');
  stranger = await newKey('ES256', 'jar-1');
  const jwks = JSON.stringify({ keys: [key.publicJwk] });
  const clients = `clients:
  - client_id: ${JAR.id}
    client_secret: ${JAR.secret}
    jwks: '${jwks}'
    token_endpoint_auth_method: client_secret_basic
    grant_types: [authorization_code]
    redirect_uris: ["${CB}"]
    scope: "openid profile"
  - client_id: ${STRICT.id}
    client_secret: ${STRICT.secret}
    jwks: '${jwks}'
    token_endpoint_auth_method: client_secret_basic
    grant_types: [authorization_code]
    redirect_uris: ["${CB}"]
    require_signed_request_object: true
    request_object_signing_alg: ES256
  - client_id: ${UNSIGNED.id}
    client_secret: ${UNSIGNED.secret}
    grant_types: [authorization_code]
    redirect_uris: ["${CB}"]
    request_object_signing_alg: none
`;
  srv = await startServer({
    config: standardConfig(`users:
  - username: ${USER.username}
    password: "${USER.password}"
`).replace(/^clients:\n/m, clients),
  });
});
after(async () => {
  await srv?.stop();
});

const now = () => Math.floor(Date.now() / 1000);
const verifier = randomBytes(32).toString('base64url');
const challenge = createHash('sha256').update(verifier).digest('base64url');

/** The authorization parameters of a code request of `clientId`. */
const params = (clientId, more = {}) => ({
  client_id: clientId,
  response_type: 'code',
  redirect_uri: CB,
  scope: 'openid',
  state: randomBytes(8).toString('hex'),
  code_challenge: challenge,
  code_challenge_method: 'S256',
  ...more,
});

/** A request object signed with `signer` (default: the registered key), claims overridable (undefined removes). */
async function requestObject(clientId, { claims = {}, signer = key, alg = 'ES256', header = {} } = {}) {
  const payload = { iss: clientId, aud: srv.issuer, jti: randomBytes(12).toString('base64url'), iat: now(),
    nbf: now(), exp: now() + 120, ...params(clientId), ...claims };
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  return new jose.SignJWT(payload)
    .setProtectedHeader({ alg, kid: signer.publicJwk.kid, typ: 'oauth-authz-req+jwt', ...header })
    .sign(signer.privateKey);
}

/** GET /auth with the query `query` (an object) through the pages, signing in when asked. */
function authorize(query) {
  const url = new URL(srv.url('/auth'));
  url.search = new URLSearchParams(query).toString();
  return httpAuthorize(url, { jar: new CookieJar(), issuer: srv.issuer, ...USER });
}

function assertRefused(r, what, code = 'invalid_request_object') {
  assert.equal(r.kind, 'page', `${what}: not redirected (the redirect URI is not trusted yet)`);
  assert.equal(r.res.status, 400, what);
  assert.equal(textById(r.res.body, 'error-code'), code, `${what}: ${textById(r.res.body, 'error-description')}`);
}

describe('discovery', () => {
  test('request objects by value are advertised, request_uri is not', async () => {
    const md = await fetch(srv.url('/.well-known/openid-configuration')).then((r) => r.json());
    assert.equal(md.request_parameter_supported, true);
    // request_uri: only the URNs of pushed authorization requests (RFC 9126), never an external URL.
    assert.equal(md.request_uri_parameter_supported, true);
    for (const a of ['RS256', 'PS256', 'ES256', 'EdDSA', 'none']) {
      assert.ok(md.request_object_signing_alg_values_supported.includes(a), a);
    }
  });
});

describe('signed request objects', () => {
  test('openid-client buildAuthorizationUrlWithJAR: the code flow, then the token', T, async () => {
    const cfg = await client.discovery(new URL(srv.issuer), JAR.id, undefined, client.ClientSecretBasic(JAR.secret),
      insecure);
    const state = client.randomState();
    const url = await client.buildAuthorizationUrlWithJAR(cfg, { redirect_uri: CB, scope: 'openid profile', state,
      code_challenge: challenge, code_challenge_method: 'S256' },
    { key: key.privateKey, kid: key.publicJwk.kid });
    assert.ok(url.searchParams.get('request'));
    const r = await httpAuthorize(url, { jar: new CookieJar(), issuer: srv.issuer, ...USER });
    assert.equal(r.kind, 'redirect', `pages: ${r.pages} ${r.res?.body?.slice(0, 300)}`);
    const tokens = await client.authorizationCodeGrant(cfg, new URL(r.url), { pkceCodeVerifier: verifier,
      expectedState: state });
    assert.equal(tokens.claims().aud, JAR.id);
    assert.ok(tokens.scope.includes('profile'));
  });

  test('oauth4webapi issueRequestObject', T, async () => {
    const as = { issuer: srv.issuer, authorization_endpoint: srv.url('/auth') };
    const jwt = await oauth.issueRequestObject(as, { client_id: JAR.id },
      new URLSearchParams(params(JAR.id)), { key: key.privateKey, kid: key.publicJwk.kid });
    const r = await authorize({ client_id: JAR.id, request: jwt });
    assert.equal(r.kind, 'redirect', `pages: ${r.pages}`);
    assert.ok(r.params.get('code'));
  });

  test("the object's parameters win over the query's; the query's others are kept", T, async () => {
    const jwt = await requestObject(JAR.id, { claims: { state: 'from-the-object' } });
    const r = await authorize({ client_id: JAR.id, request: jwt, redirect_uri: 'https://evil.example/cb',
      state: 'from-the-query', login_hint: USER.username });
    assert.equal(r.kind, 'redirect');
    assert.ok(r.url.startsWith(CB), r.url);
    assert.equal(r.params.get('state'), 'from-the-object');
  });

  test('a client registered with none may send unsigned request objects', T, async () => {
    const body = Buffer.from(JSON.stringify({ iss: UNSIGNED.id, aud: srv.issuer, jti: randomBytes(8).toString('hex'),
      exp: now() + 60, ...params(UNSIGNED.id) })).toString('base64url');
    const jwt = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${body}.`;
    const r = await authorize({ client_id: UNSIGNED.id, request: jwt });
    assert.equal(r.kind, 'redirect', `pages: ${r.pages}`);
  });
});

describe('inside pushed authorization requests (RFC 9126 §3)', () => {
  test('openid-client: JAR then PAR; the object is verified at the push, /auth takes the request_uri', T, async () => {
    const cfg = await client.discovery(new URL(srv.issuer), STRICT.id, undefined,
      client.ClientSecretBasic(STRICT.secret), insecure);
    const state = client.randomState();
    const jar = await client.buildAuthorizationUrlWithJAR(cfg, { redirect_uri: CB, scope: 'openid', state,
      code_challenge: challenge, code_challenge_method: 'S256' }, { key: key.privateKey, kid: key.publicJwk.kid });
    const url = await client.buildAuthorizationUrlWithPAR(cfg, jar.searchParams);
    assert.ok(url.searchParams.get('request_uri').startsWith('urn:ietf:params:oauth:request_uri:'));
    const r = await httpAuthorize(url, { jar: new CookieJar(), issuer: srv.issuer, ...USER });
    assert.equal(r.kind, 'redirect', `pages: ${r.pages}`);
    assert.equal(r.params.get('state'), state);
    const tokens = await client.authorizationCodeGrant(cfg, new URL(r.url), { pkceCodeVerifier: verifier,
      expectedState: state });
    assert.equal(tokens.claims().aud, STRICT.id);
  });

  const push = (c, body) => fetch(srv.url('/request'), { method: 'POST', body: new URLSearchParams(body),
    headers: { authorization: `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}` } })
    .then(async (res) => ({ status: res.status, json: await res.json() }));

  test('a replayed object is refused at the second push', T, async () => {
    const jwt = await requestObject(JAR.id);
    assert.equal((await push(JAR, { request: jwt })).status, 201);
    const again = await push(JAR, { request: jwt });
    assert.equal(again.status, 400);
    assert.equal(again.json.error, 'invalid_request_object');
  });

  test('require_signed_request_object: a plain push is refused, a pushed object is served', T, async () => {
    const plain = await push(STRICT, params(STRICT.id));
    assert.equal(plain.status, 400);
    assert.equal(plain.json.error, 'invalid_request');
    const ok = await push(STRICT, { request: await requestObject(STRICT.id) });
    assert.equal(ok.status, 201, JSON.stringify(ok.json));
    const r = await authorize({ client_id: STRICT.id, request_uri: ok.json.request_uri });
    assert.equal(r.kind, 'redirect', `pages: ${r.pages}`);
    assert.ok(r.params.get('code'));
  });

  test('a pushed object signed with another key', T, async () => {
    const r = await push(JAR, { request: await requestObject(JAR.id, { signer: stranger }) });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'invalid_request_object');
  });
});

describe('require_signed_request_object', () => {
  test('a plain authorization request is refused (to the redirect URI)', T, async () => {
    const r = await authorize(params(STRICT.id));
    assert.equal(r.kind, 'redirect');
    assert.equal(r.params.get('error'), 'invalid_request');
    assert.match(r.params.get('error_description'), /request object/);
  });
  test('a signed one is served', T, async () => {
    const r = await authorize({ client_id: STRICT.id, request: await requestObject(STRICT.id) });
    assert.equal(r.kind, 'redirect');
    assert.ok(r.params.get('code'));
  });
  test('an alg other than its request_object_signing_alg is refused', T, async () => {
    const es384 = await newKey('ES384', 'jar-1');
    const r = await authorize({ client_id: STRICT.id,
      request: await requestObject(STRICT.id, { signer: es384, alg: 'ES384' }) });
    assertRefused(r, 'ES384');
  });
});

describe('request objects that are refused', () => {
  const cases = [
    ['aud of another issuer', { claims: { aud: 'https://other.example' } }],
    ['no aud', { claims: { aud: undefined } }],
    ['iss of another client', { claims: { iss: 'someone-else' } }],
    ['expired', { claims: { exp: now() - 120, iat: now() - 300, nbf: now() - 300 } }],
    ['no exp', { claims: { exp: undefined } }],
    ['exp more than an hour ahead', { claims: { exp: now() + 7200 } }],
    ['nbf in the future', { claims: { nbf: now() + 600 } }],
    ['no jti', { claims: { jti: undefined } }],
    ['an unknown kid', { header: { kid: 'nobody' } }],
    ['signed by another key with the same kid', { signer: null }],
    ['client_id of another client inside', { claims: { client_id: STRICT.id } }],
    ['a nested request', { claims: { request: 'x.y.z' } }],
  ];
  for (const [what, opts] of cases) {
    test(what, T, async () => {
      const o = { ...opts, signer: opts.signer === null ? stranger : key };
      const r = await authorize({ client_id: JAR.id, request: await requestObject(JAR.id, o) });
      assertRefused(r, what);
    });
  }

  test('a replayed jti: the same object twice', T, async () => {
    const jwt = await requestObject(JAR.id);
    const first = await authorize({ client_id: JAR.id, request: jwt });
    assert.equal(first.kind, 'redirect');
    assertRefused(await authorize({ client_id: JAR.id, request: jwt }), 'replay');
  });

  test('alg none for a client that did not register it', T, async () => {
    const body = Buffer.from(JSON.stringify({ iss: JAR.id, aud: srv.issuer, jti: 'n', exp: now() + 60,
      ...params(JAR.id) })).toString('base64url');
    const r = await authorize({ client_id: JAR.id, request: `${Buffer.from('{"alg":"none"}').toString('base64url')}.${body}.` });
    assertRefused(r, 'alg none');
  });

  test('HS256 with the public key as its secret', T, async () => {
    const secret = new TextEncoder().encode(JSON.stringify(key.publicJwk));
    const jwt = await new jose.SignJWT({ iss: JAR.id, aud: srv.issuer, jti: 'h', exp: now() + 60, ...params(JAR.id) })
      .setProtectedHeader({ alg: 'HS256', kid: 'jar-1' }).sign(secret);
    assertRefused(await authorize({ client_id: JAR.id, request: jwt }), 'HS256');
  });

  test('response_type differing from the query', T, async () => {
    const r = await authorize({ client_id: JAR.id, response_type: 'token', request: await requestObject(JAR.id) });
    assertRefused(r, 'response_type');
  });

  test('client_id missing beside the object', T, async () => {
    const r = await authorize({ request: await requestObject(JAR.id) });
    assertRefused(r, 'no client_id', 'invalid_request');
  });

  test('request_uri to an external URL is never fetched', T, async () => {
    const r = await authorize({ client_id: JAR.id, request_uri: 'https://rp.example/request.jwt' });
    assertRefused(r, 'external request_uri', 'invalid_request_uri');
  });
});
