// discovery.test.mjs: provider metadata (OpenID Connect Discovery 1.0, RFC 8414) and the JWKS (RFC 7517),
// read through openid-client's discovery() the way relying parties do, for an issuer at the root and one
// with a path (/authentication/oidc, where RFC 8414 §3.1 puts the metadata at
// /.well-known/oauth-authorization-server/authentication/oidc).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as client from 'openid-client';

import { CLIENTS, standardConfig, startServer } from './lib/server.mjs';

const insecure = { execute: [client.allowInsecureRequests] };

function checkMetadata(md, issuer) {
  assert.equal(md.issuer, issuer);
  assert.equal(md.token_endpoint, `${issuer}/token`);
  assert.equal(md.jwks_uri, `${issuer}/jwks`);
  assert.equal(md.introspection_endpoint, `${issuer}/token/introspection`);
  assert.equal(md.revocation_endpoint, `${issuer}/token/revocation`);
  assert.ok(Array.isArray(md.grant_types_supported));
  assert.ok(md.grant_types_supported.includes('client_credentials'));
  assert.ok(Array.isArray(md.response_types_supported), 'response_types_supported is REQUIRED (RFC 8414 §2)');
  for (const m of ['client_secret_basic', 'client_secret_post']) {
    assert.ok(md.token_endpoint_auth_methods_supported.includes(m), m);
  }
  assert.ok(Array.isArray(md.scopes_supported));
  for (const s of ['read', 'write', 'messaging.contacts/:userId.post']) assert.ok(md.scopes_supported.includes(s), s);
  // Every list is a set (claims_supported used to list sub twice).
  for (const [k, v] of Object.entries(md)) {
    if (Array.isArray(v)) assert.equal(new Set(v).size, v.length, `${k} has duplicates: ${JSON.stringify(v)}`);
  }
  assert.ok(md.claims_supported === undefined || md.claims_supported.includes('sub'));
  // No client of the standard configuration allows plain: only S256 is advertised.
  assert.deepEqual(md.code_challenge_methods_supported, ['S256']);
  // Every advertised endpoint lives under the issuer.
  for (const [k, v] of Object.entries(md)) {
    if (k.endsWith('_endpoint') || k === 'jwks_uri') assert.ok(v.startsWith(`${issuer}/`), `${k}: ${v}`);
  }
}

async function getJson(url) {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  assert.match(res.headers.get('content-type') || '', /^application\/(jwk-set\+)?json/);
  return { json: await res.json(), headers: res.headers };
}

for (const issuerPath of ['', '/authentication/oidc']) {
  describe(`discovery, issuer path "${issuerPath || '/'}"`, () => {
    let srv;
    before(async () => {
      srv = await startServer({ config: standardConfig(), issuerPath });
    });
    after(async () => {
      await srv?.stop();
    });

    test('openid-client discovery() (OIDC) finds the provider', async () => {
      const cfg = await client.discovery(new URL(srv.issuer), CLIENTS.basic.id, CLIENTS.basic.secret, undefined, insecure);
      checkMetadata(cfg.serverMetadata(), srv.issuer);
      const oidc = await getJson(srv.url('/.well-known/openid-configuration'));
      assert.ok(oidc.json.subject_types_supported.includes('public'));
    });

    test('openid-client discovery() (RFC 8414) finds the authorization server', async () => {
      const cfg = await client.discovery(new URL(srv.issuer), CLIENTS.basic.id, CLIENTS.basic.secret, undefined, {
        ...insecure,
        algorithm: 'oauth2',
      });
      checkMetadata(cfg.serverMetadata(), srv.issuer);
    });

    test('RFC 8414 §3.1 metadata location', async () => {
      const origin = `http://127.0.0.1:${srv.port}`;
      // Path-aware location: the well-known segment goes between host and issuer path.
      const md = await getJson(`${origin}/.well-known/oauth-authorization-server${issuerPath}`);
      checkMetadata(md.json, srv.issuer);
      // Metadata documents are public and cacheable.
      assert.equal(md.headers.get('access-control-allow-origin'), '*');
    });

    test('metadata endpoints only answer GET', async () => {
      const res = await fetch(srv.url('/.well-known/openid-configuration'), { method: 'POST', body: 'x' });
      await res.arrayBuffer();
      assert.equal(res.status, 405);
    });

    test('/healthz answers at the root and under the issuer', async () => {
      for (const u of [`http://127.0.0.1:${srv.port}/healthz`, srv.url('/healthz')]) {
        const res = await fetch(u);
        await res.arrayBuffer();
        assert.equal(res.status, 200, u);
      }
    });

    test('unknown paths are JSON 404s', async () => {
      const res = await fetch(srv.url('/no-such-endpoint'));
      assert.equal(res.status, 404);
      assert.equal(typeof (await res.json()).error, 'string');
    });

    test('JWKS: one public key per configured algorithm, with kid/kty/alg/use', async () => {
      const cfg = await client.discovery(new URL(srv.issuer), CLIENTS.basic.id, CLIENTS.basic.secret, undefined, insecure);
      const { json: jwks, headers } = await getJson(cfg.serverMetadata().jwks_uri);
      assert.match(headers.get('content-type'), /^application\/(jwk-set\+)?json/);
      assert.ok(Array.isArray(jwks.keys));
      const expect = { RS256: { kty: 'RSA' }, ES256: { kty: 'EC', crv: 'P-256' }, EdDSA: { kty: 'OKP', crv: 'Ed25519' } };
      for (const [alg, want] of Object.entries(expect)) {
        const keys = jwks.keys.filter((k) => k.alg === alg);
        assert.ok(keys.length >= 1, `a key for ${alg}`);
        for (const k of keys) {
          assert.equal(k.kty, want.kty, `${alg} kty`);
          if (want.crv) assert.equal(k.crv, want.crv, `${alg} crv`);
          assert.equal(k.use, 'sig', `${alg} use`);
          assert.equal(typeof k.kid, 'string');
          assert.ok(k.kid.length > 0);
          // Public keys only: no private parameters, ever.
          for (const p of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.equal(k[p], undefined, `${alg} has ${p}`);
        }
      }
      const kids = jwks.keys.map((k) => k.kid);
      assert.equal(new Set(kids).size, kids.length, 'kids are unique');
      assert.ok(cfg.serverMetadata().access_token_signing_alg_values_supported === undefined ||
        ['RS256', 'ES256', 'EdDSA'].every((a) => cfg.serverMetadata().access_token_signing_alg_values_supported.includes(a)));
    });
  });
}
