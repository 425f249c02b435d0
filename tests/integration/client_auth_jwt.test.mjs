// client_auth_jwt.test.mjs: JWT client authentication (RFC 7523 §2.2, OIDC Core §9): private_key_jwt with
// inline jwks (RS256, PS256, ES256, EdDSA) and with a jwks_uri served by a local HTTPS server (a test CA
// passed as fetch.ca_file; Cache-Control honoured; a key rotation answered by one refetch), and
// client_secret_jwt (HS256), through openid-client and oauth4webapi; then one negative test per check
// (aud, exp, exp too far, replayed jti, unknown kid, alg none, HS256 keyed with the public key, iss != sub,
// an alg the client does not allow), at the token, introspection and revocation endpoints; private_key_jwt
// and client_secret_jwt at PAR (/request) and device authorization (/device/auth), replays refused there;
// the fetcher refusing a loopback jwks_uri by default (SSRF); and discovery.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';

import { postForm, standardConfig, startServer } from './lib/server.mjs';
import { makePki } from './lib/tls.mjs';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const insecure = { execute: [client.allowInsecureRequests] };
const ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
const HS_SECRET = randomBytes(48).toString('base64url'); // 64 characters

let srv;
let dir;
let jwksServer;
let jwksDoc = { keys: [] };
let jwksHits = 0;
const keys = {}; // alg -> { privateKey, publicJwk, kid }
let uriKeyA;
let uriKeyB;
let pkiCaFile;
let jwksUriLoopback;

async function keyFor(alg, kid) {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await jose.exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { privateKey, publicJwk, kid };
}

before(async () => {
  for (const alg of ALGS) keys[alg] = await keyFor(alg, `k-${alg}`);
  uriKeyA = await keyFor('ES256', 'uri-a');
  uriKeyB = await keyFor('ES256', 'uri-b');
  jwksDoc = { keys: [uriKeyA.publicJwk] };

  dir = fs.mkdtempSync(path.join(process.env.OSTIARY_TEST_LOGDIR || '/tmp', 'ostiary-jwks-pki-'));
  const pki = makePki(dir, 'jwks');
  jwksServer = https.createServer(
    { cert: fs.readFileSync(pki.certFile), key: fs.readFileSync(pki.keyFile) },
    (req, res) => {
      jwksHits++;
      res.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': 'public, max-age=300' });
      res.end(JSON.stringify(jwksDoc));
    },
  );
  await new Promise((r) => jwksServer.listen(0, '127.0.0.1', r));
  const jwksUri = `https://127.0.0.1:${jwksServer.address().port}/jwks`;

  const inline = ALGS.map((alg) => `  - client_id: pkjwt-${alg}
    token_endpoint_auth_method: private_key_jwt
    token_endpoint_auth_signing_alg: ${alg}
    jwks: '${JSON.stringify({ keys: [keys[alg].publicJwk] })}'
    grant_types: [client_credentials]
    scope: "read write"
`).join('');
  const clients = `clients:
${inline}  - client_id: pkjwt-uri
    token_endpoint_auth_method: private_key_jwt
    jwks_uri: "${jwksUri}"
    grant_types: [client_credentials]
    scope: "read"
  - client_id: secretjwt
    token_endpoint_auth_method: client_secret_jwt
    client_secret: "${HS_SECRET}"
    grant_types: [client_credentials]
    scope: "read"
  - client_id: pkjwt-front
    token_endpoint_auth_method: private_key_jwt
    jwks: '${JSON.stringify({ keys: [keys.ES256.publicJwk] })}'
    redirect_uris: ["https://rp.example.com/cb"]
    grant_types: [authorization_code, "urn:ietf:params:oauth:grant-type:device_code"]
    scope: "openid read"
  - client_id: secretjwt-front
    token_endpoint_auth_method: client_secret_jwt
    client_secret: "${HS_SECRET}"
    redirect_uris: ["https://rp.example.com/cb"]
    grant_types: [authorization_code, "urn:ietf:params:oauth:grant-type:device_code"]
    scope: "openid read"
`;
  const config = standardConfig(`fetch:
  ca_file: "${pki.caFile}"
  timeout_ms: 3000
  refetch_seconds: 1
  allow_private_addresses: true # the jwks_uri server is on 127.0.0.1
`).replace(/^clients:\n/m, clients);
  srv = await startServer({ config });
  // The same, without the switch: a loopback jwks_uri is refused (SSRF protection), nothing is fetched.
  pkiCaFile = pki.caFile;
  jwksUriLoopback = jwksUri;
});

after(async () => {
  await srv?.stop();
  await new Promise((r) => (jwksServer ? jwksServer.close(r) : r()));
  if (dir && !process.env.OSTIARY_TEST_LOGDIR) fs.rmSync(dir, { recursive: true, force: true });
});

/** A client assertion; claims and header override the defaults (undefined removes a claim). */
async function assertion(clientId, key, { alg, claims = {}, header = {} } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: clientId, sub: clientId, aud: srv.issuer, jti: randomUUID(), iat: now, exp: now + 60, ...claims };
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  return new jose.SignJWT(payload)
    .setProtectedHeader({ alg: alg ?? key.publicJwk.alg, kid: key.kid, ...header })
    .sign(key.privateKey);
}

function tokenRequest(jwt, extra = {}) {
  return postForm(srv.url('/token'), {
    grant_type: 'client_credentials',
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: jwt,
    ...extra,
  });
}

function assertInvalidClient(r, re) {
  assert.equal(r.status, 401, r.body);
  assert.equal(r.json.error, 'invalid_client');
  assert.match(r.json.error_description, re);
}

describe('private_key_jwt and client_secret_jwt through openid-client', () => {
  for (const alg of ALGS) {
    test(`PrivateKeyJwt ${alg}`, async () => {
      const k = keys[alg];
      const cfg = await client.discovery(new URL(srv.issuer), `pkjwt-${alg}`, undefined,
        client.PrivateKeyJwt({ key: k.privateKey, kid: k.kid }), insecure);
      const tokens = await client.clientCredentialsGrant(cfg, { scope: 'read' });
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.ok(tokens.access_token);
      // The same client at introspection and revocation (one client-authentication function).
      const info = await client.tokenIntrospection(cfg, tokens.access_token);
      assert.equal(info.active, true);
      await client.tokenRevocation(cfg, tokens.access_token);
      assert.equal((await client.tokenIntrospection(cfg, tokens.access_token)).active, false);
    });
  }

  test('ClientSecretJwt HS256', async () => {
    const cfg = await client.discovery(new URL(srv.issuer), 'secretjwt', undefined,
      client.ClientSecretJwt(HS_SECRET), insecure);
    const tokens = await client.clientCredentialsGrant(cfg, { scope: 'read' });
    assert.ok(tokens.access_token);
  });

  test('the shared secret is not accepted from a client_secret_jwt client', async () => {
    const r = await postForm(srv.url('/token'), { grant_type: 'client_credentials' }, { auth: ['secretjwt', HS_SECRET] });
    assert.equal(r.status, 401);
    assert.equal(r.json.error, 'invalid_client');
  });
});

describe('through oauth4webapi', () => {
  let as;
  before(async () => {
    const res = await oauth.discoveryRequest(new URL(srv.issuer), { [oauth.allowInsecureRequests]: true });
    as = await oauth.processDiscoveryResponse(new URL(srv.issuer), res);
  });
  for (const alg of ALGS) {
    test(`PrivateKeyJwt ${alg}`, async () => {
      const k = keys[alg];
      const c = { client_id: `pkjwt-${alg}` };
      const res = await oauth.clientCredentialsGrantRequest(as, c, oauth.PrivateKeyJwt({ key: k.privateKey, kid: k.kid }),
        new URLSearchParams({ scope: 'read' }), { [oauth.allowInsecureRequests]: true });
      const tokens = await oauth.processClientCredentialsResponse(as, c, res);
      assert.ok(tokens.access_token);
    });
  }
  test('ClientSecretJwt HS256', async () => {
    const c = { client_id: 'secretjwt' };
    const res = await oauth.clientCredentialsGrantRequest(as, c, oauth.ClientSecretJwt(HS_SECRET),
      new URLSearchParams({ scope: 'read' }), { [oauth.allowInsecureRequests]: true });
    assert.ok((await oauth.processClientCredentialsResponse(as, c, res)).access_token);
  });
});

describe('jwks_uri over HTTPS', () => {
  test('fetched once, cached by max-age, a rotated key answered by exactly one refetch', async () => {
    const before = jwksHits;
    assert.equal((await tokenRequest(await assertion('pkjwt-uri', uriKeyA))).status, 200);
    assert.equal((await tokenRequest(await assertion('pkjwt-uri', uriKeyA))).status, 200);
    assert.equal(jwksHits - before, 1, 'the second request used the cache');
    // The client rotates: the document now has key B only.
    jwksDoc = { keys: [uriKeyB.publicJwk] };
    await new Promise((r) => setTimeout(r, 1100)); // fetch.refetch_seconds: 1
    const r = await tokenRequest(await assertion('pkjwt-uri', uriKeyB));
    assert.equal(r.status, 200, r.body);
    assert.equal(jwksHits - before, 2, 'one refetch for the unknown kid');
    // An unknown kid right after: no second refetch within refetch_seconds.
    const ghost = await keyFor('ES256', 'ghost');
    assertInvalidClient(await tokenRequest(await assertion('pkjwt-uri', ghost)), /kid names no key/);
    assert.equal(jwksHits - before, 2);
  });
});

describe('at PAR (POST /request) and device authorization (POST /device/auth)', () => {
  const hsKey = () => ({ privateKey: new TextEncoder().encode(HS_SECRET), kid: undefined, publicJwk: { alg: 'HS256' } });
  const cases = [
    ['private_key_jwt', 'pkjwt-front', () => keys.ES256],
    ['client_secret_jwt', 'secretjwt-front', hsKey],
  ];
  for (const [method, id, key] of cases) {
    test(`${method} at /request, aud the PAR endpoint; a replay refused`, async () => {
      const jwt = await assertion(id, key(), { claims: { aud: srv.url('/request') } });
      const push = {
        response_type: 'code', redirect_uri: 'https://rp.example.com/cb', scope: 'openid', state: 's',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
        client_assertion_type: ASSERTION_TYPE, client_assertion: jwt,
      };
      const r = await postForm(srv.url('/request'), push);
      assert.equal(r.status, 201, r.body);
      assert.match(r.json.request_uri, /^urn:ietf:params:oauth:request_uri:/);
      assertInvalidClient(await postForm(srv.url('/request'), push), /jti was already used/);
      // The /auth step accepts what was pushed, for this client.
      const a = await fetch(srv.url(`/auth?client_id=${id}&request_uri=${encodeURIComponent(r.json.request_uri)}`), { redirect: 'manual' });
      assert.ok(a.status === 302 || a.status === 303 || a.status === 200, `auth: ${a.status}`);
    });
    test(`${method} at /device/auth; a replay refused`, async () => {
      const jwt = await assertion(id, key(), { claims: { aud: srv.url('/device/auth') } });
      const body = { scope: 'openid', client_assertion_type: ASSERTION_TYPE, client_assertion: jwt };
      const r = await postForm(srv.url('/device/auth'), body);
      assert.equal(r.status, 200, r.body);
      assert.ok(r.json.device_code && r.json.user_code);
      assertInvalidClient(await postForm(srv.url('/device/auth'), body), /jti was already used/);
      // The device polls with a new assertion: pending.
      const poll = await postForm(srv.url('/token'), {
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: r.json.device_code,
        client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(id, key()),
      });
      assert.equal(poll.json.error, 'authorization_pending', poll.body);
    });
  }
  test('an assertion used at /request is refused at /device/auth, and one for another endpoint aud too', async () => {
    const jwt = await assertion('pkjwt-front', keys.ES256);
    const r = await postForm(srv.url('/request'), {
      response_type: 'code', redirect_uri: 'https://rp.example.com/cb', scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
      client_assertion_type: ASSERTION_TYPE, client_assertion: jwt,
    });
    assert.equal(r.status, 201, r.body);
    assertInvalidClient(await postForm(srv.url('/device/auth'), { client_assertion_type: ASSERTION_TYPE, client_assertion: jwt }),
      /jti was already used/);
    const other = await assertion('pkjwt-front', keys.ES256, { claims: { aud: srv.url('/token/introspection') } });
    assertInvalidClient(await postForm(srv.url('/device/auth'), { client_assertion_type: ASSERTION_TYPE, client_assertion: other }),
      /aud must be/);
  });
});

describe('SSRF protection of the fetcher', () => {
  test('by default a loopback jwks_uri is refused, and not fetched', async () => {
    const clients = `clients:
  - client_id: pkjwt-loopback
    token_endpoint_auth_method: private_key_jwt
    jwks_uri: "${jwksUriLoopback}"
    grant_types: [client_credentials]
    scope: "read"
`;
    const strict = await startServer({
      config: standardConfig(`fetch:
  ca_file: "${pkiCaFile}"
  timeout_ms: 3000
`).replace(/^clients:\n/m, clients),
    });
    try {
      const before = jwksHits;
      const now = Math.floor(Date.now() / 1000);
      const jwt = await new jose.SignJWT({ iss: 'pkjwt-loopback', sub: 'pkjwt-loopback', aud: strict.issuer, jti: randomUUID(), exp: now + 60 })
        .setProtectedHeader({ alg: 'ES256', kid: uriKeyA.kid }).sign(uriKeyA.privateKey);
      for (let i = 0; i < 2; i++) { // the second from the remembered refusal
        const r = await postForm(strict.url('/token'), {
          grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: jwt,
        });
        assertInvalidClient(r, /jwks_uri is at an address that is not public \(loopback, private, link-local/);
      }
      assert.equal(jwksHits, before, 'no request reached the loopback server');
    } finally {
      await strict.stop();
    }
  });
});

describe('every check of a client assertion', () => {
  const k = () => keys.ES256;
  const id = 'pkjwt-ES256';
  test('wrong aud', async () => {
    assertInvalidClient(await tokenRequest(await assertion(id, k(), { claims: { aud: 'https://other.example' } })), /aud/);
  });
  test('aud as the token endpoint, and as an array, are accepted', async () => {
    assert.equal((await tokenRequest(await assertion(id, k(), { claims: { aud: srv.url('/token') } }))).status, 200);
    assert.equal((await tokenRequest(await assertion(id, k(), { claims: { aud: ['x', srv.issuer] } }))).status, 200);
  });
  test('expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    assertInvalidClient(await tokenRequest(await assertion(id, k(), { claims: { exp: now - 120, iat: now - 180 } })), /expired/);
  });
  test('no exp', async () => {
    assertInvalidClient(await tokenRequest(await assertion(id, k(), { claims: { exp: undefined } })), /exp/);
  });
  test('exp more than 10 minutes ahead', async () => {
    const now = Math.floor(Date.now() / 1000);
    assertInvalidClient(await tokenRequest(await assertion(id, k(), { claims: { exp: now + 3600 } })), /10 minutes/);
  });
  test('iat in the future, nbf not yet', async () => {
    const now = Math.floor(Date.now() / 1000);
    assertInvalidClient(await tokenRequest(await assertion(id, k(), { claims: { iat: now + 300 } })), /iat/);
    assertInvalidClient(await tokenRequest(await assertion(id, k(), { claims: { nbf: now + 300 } })), /nbf/);
  });
  test('replayed jti, also at another endpoint', async () => {
    const jwt = await assertion(id, k());
    assert.equal((await tokenRequest(jwt)).status, 200);
    assertInvalidClient(await tokenRequest(jwt), /jti was already used/);
    const r = await postForm(srv.url('/token/introspection'), { token: 'x', client_assertion_type: ASSERTION_TYPE, client_assertion: jwt });
    assertInvalidClient(r, /jti was already used/);
  });
  test('no jti', async () => {
    assertInvalidClient(await tokenRequest(await assertion(id, k(), { claims: { jti: undefined } })), /jti/);
  });
  test('unknown kid', async () => {
    assertInvalidClient(await tokenRequest(await assertion(id, k(), { header: { kid: 'nope' } })), /kid names no key/);
  });
  test('alg none', async () => {
    const now = Math.floor(Date.now() / 1000);
    const jwt = new jose.UnsecuredJWT({ iss: id, sub: id, aud: srv.issuer, jti: randomUUID(), exp: now + 60 }).encode();
    assertInvalidClient(await tokenRequest(jwt), /not a well-formed signed JWT/); // no signature at all
    // "none" with some signature bytes: refused by its alg.
    assertInvalidClient(await tokenRequest(`${jwt}${randomBytes(64).toString('base64url')}`), /alg is not allowed/);
  });
  test('HS256 keyed with the public key (algorithm confusion)', async () => {
    const rsa = keys.RS256;
    const now = Math.floor(Date.now() / 1000);
    const secret = new TextEncoder().encode(JSON.stringify(rsa.publicJwk));
    const jwt = await new jose.SignJWT({ iss: 'pkjwt-RS256', sub: 'pkjwt-RS256', aud: srv.issuer, jti: randomUUID(), exp: now + 60 })
      .setProtectedHeader({ alg: 'HS256', kid: rsa.kid }).sign(secret);
    assertInvalidClient(await tokenRequest(jwt), /alg is not allowed/);
  });
  test('iss differs from sub', async () => {
    assertInvalidClient(await tokenRequest(await assertion(id, k(), { claims: { iss: 'someone-else' } })), /iss/);
  });
  test('an alg the client does not allow (PS256 client, RS256 assertion with its own key)', async () => {
    const ps = keys.PS256;
    const asRs = await jose.importJWK({ ...(await jose.exportJWK(ps.privateKey)), alg: 'RS256' }, 'RS256');
    const jwt = await assertion('pkjwt-PS256', { ...ps, privateKey: asRs }, { alg: 'RS256' });
    assertInvalidClient(await tokenRequest(jwt), /alg is not allowed/);
  });
  test('a bad signature', async () => {
    const jwt = await assertion(id, k());
    const parts = jwt.split('.');
    const other = await assertion(id, k());
    assertInvalidClient(await tokenRequest(`${parts[0]}.${parts[1]}.${other.split('.')[2]}`), /signature/);
  });
  test('wrong client_assertion_type, and two methods at once', async () => {
    const jwt = await assertion(id, k());
    assertInvalidClient(await tokenRequest(jwt, { client_assertion_type: 'urn:x' }), /client_assertion_type/);
    const r = await tokenRequest(await assertion(id, k()), { client_secret: 'x', client_id: id });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'invalid_request');
  });
  test('client_id beside the assertion must be its sub', async () => {
    assertInvalidClient(await tokenRequest(await assertion(id, k()), { client_id: 'pkjwt-RS256' }), /client_id differs/);
  });
});

test('discovery lists exactly the methods and algs that work', async () => {
  const d = await (await fetch(srv.url('/.well-known/openid-configuration'))).json();
  for (const key of ['token_endpoint_auth_methods_supported', 'revocation_endpoint_auth_methods_supported']) {
    assert.deepEqual(d[key], ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none']);
  }
  assert.deepEqual(d.introspection_endpoint_auth_methods_supported,
    ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt']);
  const algs = ['RS256', 'ES256', 'EdDSA', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES384', 'ES512', 'HS256', 'HS384',
    'HS512', 'Ed25519'];
  for (const key of ['token_endpoint_auth_signing_alg_values_supported', 'introspection_endpoint_auth_signing_alg_values_supported',
    'revocation_endpoint_auth_signing_alg_values_supported']) {
    assert.deepEqual(d[key], algs);
  }
  assert.ok(!d.token_endpoint_auth_signing_alg_values_supported.includes('none'));
});
