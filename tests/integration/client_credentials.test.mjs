// client_credentials.test.mjs: the client credentials grant (RFC 6749 §4.4) through openid-client, with
// client_secret_basic and client_secret_post (RFC 6749 §2.3.1), resource indicators (RFC 8707, and the
// `audience` alias), RFC 9068 JWT access tokens verified with jose against the published JWKS for each
// signing algorithm, opaque tokens, and default scopes (RFC 6749 §3.3).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as client from 'openid-client';

import { API, CLIENTS, SEED_CLIENT, decodeJwt, postForm, standardConfig, startServer } from './lib/server.mjs';

const insecure = { execute: [client.allowInsecureRequests] };
let srv;
let jwks;

before(async () => {
  srv = await startServer({ config: standardConfig() });
  jwks = jose.createRemoteJWKSet(new URL(srv.url('/jwks')));
});
after(async () => {
  await srv?.stop();
});

function discover(c, auth) {
  return client.discovery(new URL(srv.issuer), c.id, undefined, auth(c.secret), insecure);
}
const basic = (c) => discover(c, client.ClientSecretBasic);
const post = (c) => discover(c, client.ClientSecretPost);

/** Verifies an RFC 9068 access token and returns its payload. */
async function verifyAt(token, { alg, audience, clientId, scope, expiresIn }) {
  const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
    issuer: srv.issuer,
    audience,
    typ: 'at+jwt',
    algorithms: [alg],
  });
  assert.equal(protectedHeader.alg, alg);
  assert.equal(protectedHeader.typ, 'at+jwt'); // RFC 9068 §2.1
  assert.equal(typeof protectedHeader.kid, 'string');
  assert.equal(payload.iss, srv.issuer);
  assert.equal(payload.sub, clientId); // RFC 9068 §2.2: client credentials: sub is the client
  assert.equal(payload.client_id, clientId);
  assert.equal(payload.aud, audience);
  assert.equal(typeof payload.jti, 'string');
  assert.ok(payload.jti.length >= 16, 'jti has enough entropy');
  assert.ok(Number.isInteger(payload.iat) && Number.isInteger(payload.exp));
  const now = Math.floor(Date.now() / 1000);
  assert.ok(Math.abs(payload.iat - now) <= 5, `iat ${payload.iat} is now (${now})`);
  if (expiresIn !== undefined) assert.equal(payload.exp - payload.iat, expiresIn);
  if (scope !== undefined) assert.equal(payload.scope, scope);
  return payload;
}

describe('JWT access tokens (RFC 9068) for each signing algorithm', () => {
  for (const [alg, aud] of [
    ['RS256', API.rs256],
    ['ES256', API.es256],
    ['EdDSA', API.eddsa],
  ]) {
    test(`${alg}: client_secret_basic, verified with the JWKS`, async () => {
      const cfg = await basic(CLIENTS.basic);
      const tr = await client.clientCredentialsGrant(cfg, { resource: aud, scope: 'read write' });
      assert.equal(tr.token_type.toLowerCase(), 'bearer');
      assert.equal(tr.scope, 'read write');
      assert.ok(tr.expires_in > 0);
      await verifyAt(tr.access_token, {
        alg,
        audience: aud,
        clientId: CLIENTS.basic.id,
        scope: 'read write',
        expiresIn: tr.expires_in,
      });
    });

    test(`${alg}: client_secret_post, narrower scope`, async () => {
      const cfg = await post(CLIENTS.post);
      const tr = await client.clientCredentialsGrant(cfg, { resource: aud, scope: 'read' });
      assert.equal(tr.scope, 'read');
      await verifyAt(tr.access_token, { alg, audience: aud, clientId: CLIENTS.post.id, scope: 'read' });
    });
  }

  test('the `audience` parameter is an alias of `resource`', async () => {
    const cfg = await basic(CLIENTS.basic);
    const tr = await client.clientCredentialsGrant(cfg, { audience: API.es256 });
    await verifyAt(tr.access_token, { alg: 'ES256', audience: API.es256, clientId: CLIENTS.basic.id });
  });

  test('a token signed for one API is not accepted for another audience', async () => {
    const cfg = await basic(CLIENTS.basic);
    const tr = await client.clientCredentialsGrant(cfg, { resource: API.rs256 });
    await assert.rejects(
      jose.jwtVerify(tr.access_token, jwks, { issuer: srv.issuer, audience: API.es256, typ: 'at+jwt' }),
      { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' },
    );
  });

  test('every token has its own jti', async () => {
    const cfg = await basic(CLIENTS.basic);
    const jtis = new Set();
    for (let i = 0; i < 5; i++) {
      const tr = await client.clientCredentialsGrant(cfg, { resource: API.eddsa });
      jtis.add(decodeJwt(tr.access_token).payload.jti);
    }
    assert.equal(jtis.size, 5);
  });
});

describe('default scope (RFC 6749 §3.3)', () => {
  test('no scope requested: everything the client may have for that API', async () => {
    const cfg = await basic(CLIENTS.basic);
    const tr = await client.clientCredentialsGrant(cfg, { resource: API.rs256 });
    assert.equal(tr.scope, 'read write');
    const p = await verifyAt(tr.access_token, { alg: 'RS256', audience: API.rs256, clientId: CLIENTS.basic.id });
    assert.equal(p.scope, 'read write');
  });

  test('an empty scope parameter is the same as none', async () => {
    const cfg = await basic(CLIENTS.basic);
    const tr = await client.clientCredentialsGrant(cfg, { resource: API.rs256, scope: '' });
    assert.equal(tr.scope, 'read write');
  });

  test('the default is limited to what the client is registered for', async () => {
    const cfg = await basic(CLIENTS.hashed); // registered for "read" only
    const tr = await client.clientCredentialsGrant(cfg, { resource: API.rs256 });
    assert.equal(tr.scope, 'read');
  });
});

describe('opaque access tokens', () => {
  test('an API with access_token_format: opaque gets an opaque token', async () => {
    const cfg = await basic(CLIENTS.basic);
    const tr = await client.clientCredentialsGrant(cfg, { resource: API.opaque, scope: 'write' });
    assert.equal(tr.token_type.toLowerCase(), 'bearer');
    assert.equal(tr.scope, 'write');
    assert.ok(tr.expires_in > 0);
    assert.equal(tr.access_token.split('.').length, 1, 'not a JWS');
    assert.match(tr.access_token, /^[A-Za-z0-9\-._~+/]+=*$/, 'a b64token (RFC 6750 §2.1)');
    assert.ok(tr.access_token.length >= 32, 'enough entropy');
  });

  test('no resource: an opaque token', async () => {
    const cfg = await post(CLIENTS.post);
    const tr = await client.clientCredentialsGrant(cfg, { scope: 'read' });
    assert.equal(tr.access_token.split('.').length, 1);
    assert.equal(tr.scope, 'read');
  });
});

describe('registered clients', () => {
  test('the seed example client (urn:focus:api, messaging.contacts/:userId.post)', async () => {
    const cfg = await basic(SEED_CLIENT);
    const tr = await client.clientCredentialsGrant(cfg, {
      resource: API.focus,
      scope: 'messaging.contacts/:userId.post',
    });
    assert.equal(tr.scope, 'messaging.contacts/:userId.post');
    // RS256 is the default signing algorithm when configured.
    await verifyAt(tr.access_token, {
      alg: 'RS256',
      audience: API.focus,
      clientId: SEED_CLIENT.id,
      scope: 'messaging.contacts/:userId.post',
    });
  });

  test('the seed example client, curl style (raw Basic, form body)', async () => {
    const r = await postForm(
      srv.url('/token'),
      { grant_type: 'client_credentials', resource: API.focus, scope: 'messaging.contacts/:userId.post' },
      { auth: [SEED_CLIENT.id, SEED_CLIENT.secret] },
    );
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.token_type, 'Bearer');
    assert.equal(r.json.scope, 'messaging.contacts/:userId.post');
    assert.equal(typeof r.json.expires_in, 'number');
    // RFC 6749 §5.1: token responses must not be cached.
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.headers.get('pragma'), 'no-cache');
    assert.match(r.headers.get('content-type'), /^application\/json/);
  });

  test('a client registered with client_secret_sha256 authenticates with the secret', async () => {
    const cfg = await basic(CLIENTS.hashed);
    const tr = await client.clientCredentialsGrant(cfg, { resource: API.eddsa, scope: 'read' });
    await verifyAt(tr.access_token, { alg: 'EdDSA', audience: API.eddsa, clientId: CLIENTS.hashed.id });
    const wrong = await postForm(srv.url('/token'), { grant_type: 'client_credentials' }, {
      auth: [CLIENTS.hashed.id, 'baz'],
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error, 'invalid_client');
  });

  test('client id and secret with reserved characters (form-encoded inside Basic)', async () => {
    const cfg = await basic(CLIENTS.odd);
    const tr = await client.clientCredentialsGrant(cfg, { resource: API.rs256 });
    await verifyAt(tr.access_token, { alg: 'RS256', audience: API.rs256, clientId: CLIENTS.odd.id, scope: 'read' });
  });
});
