// introspection_revocation.test.mjs: token introspection (RFC 7662) and revocation (RFC 7009) through
// openid-client, for JWT (RFC 9068, revoked by jti) and opaque access tokens: the claims of an active
// token, active:false without detail for unknown, expired, revoked and foreign tokens (§2.2), and the
// revocation rules (200 for unknown tokens, invalid_request for another client's live token).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as client from 'openid-client';

import { API, CLIENTS, decodeJwt, postForm, standardConfig, startServer } from './lib/server.mjs';

const insecure = { execute: [client.allowInsecureRequests] };
let srv;
let owner; // basic-client: gets the tokens
let other; // post-client: another authenticated client

before(async () => {
  srv = await startServer({ config: standardConfig() });
  owner = await client.discovery(new URL(srv.issuer), CLIENTS.basic.id, undefined,
    client.ClientSecretBasic(CLIENTS.basic.secret), insecure);
  other = await client.discovery(new URL(srv.issuer), CLIENTS.post.id, undefined,
    client.ClientSecretPost(CLIENTS.post.secret), insecure);
});
after(async () => {
  await srv?.stop();
});

const issue = (resource, scope) => client.clientCredentialsGrant(owner, { ...(resource ? { resource } : {}), ...(scope ? { scope } : {}) });
const introspect = (token, cfg = owner) => client.tokenIntrospection(cfg, token);
const revoke = (token, cfg = owner, params) => client.tokenRevocation(cfg, token, params);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** RFC 7662 §2.2: an inactive token gets {"active": false} and nothing else. */
function assertInactive(info, what) {
  assert.equal(info.active, false, `${what} must be inactive`);
  assert.deepEqual(Object.keys(info).filter((k) => info[k] !== undefined), ['active'], `${what}: no other members`);
}

function assertActive(info, { scope, aud, expiresIn }) {
  assert.equal(info.active, true);
  assert.equal(info.scope, scope);
  assert.equal(info.client_id, CLIENTS.basic.id);
  assert.equal(info.sub, CLIENTS.basic.id);
  assert.equal(info.token_type, 'Bearer');
  assert.equal(info.iss, srv.issuer);
  assert.equal(typeof info.jti, 'string');
  for (const k of ['exp', 'iat', 'nbf']) assert.ok(Number.isInteger(info[k]), `${k} is an integer`);
  assert.ok(info.nbf <= info.iat + 1 && info.iat <= info.exp);
  if (expiresIn !== undefined) assert.equal(info.exp - info.iat, expiresIn);
  if (aud !== undefined) assert.equal(info.aud, aud);
}

describe('introspection of live tokens', () => {
  for (const [kind, api] of [
    ['JWT RS256', API.rs256],
    ['JWT ES256', API.es256],
    ['JWT EdDSA', API.eddsa],
    ['opaque', API.opaque],
  ]) {
    test(`${kind}: active, with its claims`, async () => {
      const tr = await issue(api, 'read');
      const info = await introspect(tr.access_token);
      assertActive(info, { scope: 'read', aud: api, expiresIn: tr.expires_in });
      if (kind.startsWith('JWT')) {
        const { payload } = decodeJwt(tr.access_token);
        for (const k of ['jti', 'exp', 'iat', 'sub', 'client_id', 'scope', 'iss']) {
          assert.equal(info[k], payload[k], `introspection ${k} matches the JWT`);
        }
      }
    });
  }

  test('opaque token without a resource: active, no audience', async () => {
    const tr = await issue(undefined, 'write');
    const info = await introspect(tr.access_token);
    assertActive(info, { scope: 'write', expiresIn: tr.expires_in });
    assert.equal(info.aud, undefined);
  });

  test('any authenticated client may introspect', async () => {
    const tr = await issue(API.opaque, 'read');
    assertActive(await introspect(tr.access_token, other), { scope: 'read', aud: API.opaque });
    const jwt = await issue(API.eddsa, 'read');
    assertActive(await introspect(jwt.access_token, other), { scope: 'read', aud: API.eddsa });
  });

  test('token_type_hint does not change the answer', async () => {
    const tr = await issue(API.opaque, 'read');
    for (const hint of ['access_token', 'refresh_token', 'bogus']) {
      const info = await client.tokenIntrospection(owner, tr.access_token, { token_type_hint: hint });
      assert.equal(info.active, true, hint);
    }
  });

  test('introspection responses are not cached', async () => {
    const tr = await issue(API.opaque, 'read');
    const r = await postForm(srv.url('/token/introspection'), { token: tr.access_token }, {
      auth: [CLIENTS.basic.id, CLIENTS.basic.secret],
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.match(r.headers.get('content-type'), /^application\/json/);
  });
});

describe('inactive tokens', () => {
  test('unknown opaque-looking and JWT-looking strings', async () => {
    for (const t of ['x', 'A'.repeat(43), 'not.a.jwt', 'eyJhbGciOiJub25lIn0.e30.', 'a'.repeat(9000)]) {
      assertInactive(await introspect(t), JSON.stringify(t.slice(0, 20)));
    }
  });

  test('expired JWT and opaque tokens', async () => {
    const jwt = await issue(API.shortJwt, 'read');
    const opaque = await issue(API.shortOpaque, 'read');
    assert.equal(jwt.expires_in, 1);
    assert.equal(opaque.expires_in, 1);
    await sleep(2200);
    assertInactive(await introspect(jwt.access_token), 'expired JWT');
    assertInactive(await introspect(opaque.access_token), 'expired opaque token');
  });

  test('foreign JWTs: another key (even with our kid), alg none, tampered payload', async () => {
    const real = await issue(API.rs256, 'read');
    const { header, payload } = decodeJwt(real.access_token);
    const { privateKey } = await jose.generateKeyPair('RS256');
    const forge = (hdr) =>
      new jose.SignJWT({ ...payload, jti: `${payload.jti}x` }).setProtectedHeader({ typ: 'at+jwt', ...hdr }).sign(privateKey);
    // Signed by a key the server does not have, claiming the server's own kid.
    assertInactive(await introspect(await forge({ alg: 'RS256', kid: header.kid })), 'forged with our kid');
    assertInactive(await introspect(await forge({ alg: 'RS256', kid: 'some-other-kid' })), 'forged, other kid');
    assertInactive(await introspect(await forge({ alg: 'RS256' })), 'forged, no kid');
    // alg: none.
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    assertInactive(await introspect(`${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(payload)}.`), 'alg none');
    // A real signature over a different payload (scope escalated).
    const [h, , s] = real.access_token.split('.');
    assertInactive(await introspect(`${h}.${b64({ ...payload, scope: 'read write admin' })}.${s}`), 'tampered');
    // The real one is still fine.
    assert.equal((await introspect(real.access_token)).active, true);
  });

  test('alg confusion: HS256 keyed with the RSA public key', async () => {
    // An HMAC token using the RSA public key as secret (the classic alg confusion) is not accepted either.
    const jwks = await (await fetch(srv.url('/jwks'))).json();
    const rsa = jwks.keys.find((k) => k.kty === 'RSA');
    const real = await issue(API.rs256, 'read');
    const { payload } = decodeJwt(real.access_token);
    const secret = new TextEncoder().encode(JSON.stringify(rsa));
    const hs = await new jose.SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: rsa.kid }).sign(secret);
    assertInactive(await introspect(hs), 'HS256 with the public key');
  });
});

describe('revocation (RFC 7009)', () => {
  test('opaque: the owner revokes, the token becomes inactive', async () => {
    const tr = await issue(API.opaque, 'read');
    const keep = await issue(API.opaque, 'read');
    await revoke(tr.access_token);
    assertInactive(await introspect(tr.access_token), 'revoked opaque token');
    assert.equal((await introspect(keep.access_token)).active, true, 'other tokens stay active');
  });

  test('JWT: the owner revokes (by jti), the token becomes inactive', async () => {
    for (const api of [API.rs256, API.es256, API.eddsa]) {
      const tr = await issue(api, 'read');
      const keep = await issue(api, 'read');
      await revoke(tr.access_token, owner, { token_type_hint: 'access_token' });
      assertInactive(await introspect(tr.access_token), `revoked JWT for ${api}`);
      assert.equal((await introspect(keep.access_token)).active, true, 'other tokens stay active');
    }
  });

  test('revoking twice is fine', async () => {
    const tr = await issue(API.opaque, 'read');
    await revoke(tr.access_token);
    await revoke(tr.access_token);
    assertInactive(await introspect(tr.access_token), 'revoked');
  });

  test('unknown, expired and malformed tokens: 200', async () => {
    await revoke('no-such-token');
    await revoke('no.such.jwt');
    await revoke('x', owner, { token_type_hint: 'refresh_token' });
    const exp = await issue(API.shortOpaque, 'read');
    await sleep(2200);
    await revoke(exp.access_token);
    const r = await postForm(srv.url('/token/revocation'), { token: 'unknown' }, {
      auth: [CLIENTS.basic.id, CLIENTS.basic.secret],
    });
    assert.equal(r.status, 200);
  });

  test("another client cannot revoke a live token: 400 invalid_request, token stays active", async () => {
    for (const api of [API.opaque, API.rs256]) {
      const tr = await issue(api, 'read');
      await assert.rejects(revoke(tr.access_token, other), (e) => {
        assert.equal(e.error, 'invalid_request', `error code for ${api}`);
        assert.equal(e.status, 400);
        return true;
      });
      assert.equal((await introspect(tr.access_token)).active, true, `${api} token still active`);
    }
  });

  test('revocation needs client authentication', async () => {
    const tr = await issue(API.opaque, 'read');
    const r = await postForm(srv.url('/token/revocation'), { token: tr.access_token });
    assert.equal(r.status, 401);
    assert.equal(r.json.error, 'invalid_client');
    assert.equal((await introspect(tr.access_token)).active, true);
  });
});
