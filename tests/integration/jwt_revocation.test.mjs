// jwt_revocation.test.mjs: a revoked JWT access token (RFC 9068) stays revoked whatever its signature's
// encoding. For each algorithm Ostiary signs with (RS256, ES256, EdDSA), an access token issued within a
// grant is revoked three ways: directly (RFC 7009), by revoking its grant's refresh token (RFC 7009 §2.1),
// and by replaying the code it came from (RFC 6749 §4.1.2); then its signature is re-encoded every way an
// attacker could (ECDSA's (r, n - s) twin, which plain ECDSA accepts; Ed25519 S + L; RSA s + n or n; a
// changed unused trailing base64url bit; padding) and each copy must be inactive at introspection
// (RFC 7662) and refused at userinfo. The state of a JWT is found by its jti, never by its bytes
// (src/oauth/tokens.c). Plain HTTP through the real pages (httpAuthorize), no browser.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';

import { clientAndUserYaml, httpRequest, redeemCode, signInAndRedeem } from './lib/flow.mjs';
import { decodeJwt, postForm, startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const USER = { username: 'rita', password: 'revoked means revoked' };
const APP = {
  id: 'jwt-app',
  secret: 'jwt-app-secret',
  redirect: 'https://rp.example/cb',
  grantTypes: ['authorization_code', 'refresh_token'],
  extra: '    refresh_token_policy: always\n',
};
const APIS = {
  RS256: 'https://rs.api.example/',
  ES256: 'https://es.api.example/',
  EdDSA: 'https://ed.api.example/',
};
// P-256 group order (SEC 2 §2.4.2) and the Ed25519 group order L (RFC 8032 §5.1).
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const ED25519_L = 2n ** 252n + 27742317777372353535851937790883648493n;

let srv;
let jwks;

before(async () => {
  srv = await startServer({
    config: `
log_level: info
keys:
  algorithms: [RS256, ES256, EdDSA]
resources:
${Object.entries(APIS)
  .map(([alg, id]) => `  - identifier: "${id}"\n    scopes: [read]\n    signing_alg: ${alg}`)
  .join('\n')}
${clientAndUserYaml(APP, USER)}`,
  });
  jwks = jose.createLocalJWKSet(await (await fetch(srv.url('/jwks'))).json());
});

after(async () => {
  await srv?.stop();
});

const auth = { auth: [APP.id, APP.secret] };

/** Tokens for the API of `alg`, through the login and consent pages; `grant` can redeem the code again. */
async function tokensFor(alg) {
  const r = await signInAndRedeem(srv, {
    clientId: APP.id,
    redirectUri: APP.redirect,
    secret: APP.secret,
    user: USER,
    params: { scope: 'openid read', resource: APIS[alg] },
  });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(decodeJwt(r.json.access_token).header.alg, alg);
  return { grant: { code: r.code, verifier: r.verifier, redirectUri: APP.redirect }, ...r.json };
}

const redeem = (grant) => redeemCode(srv, APP, grant);

async function introspect(token) {
  const res = await postForm(srv.url('/token/introspection'), { token }, auth);
  assert.equal(res.status, 200, res.body);
  return res.json;
}

async function userinfoStatus(token) {
  const res = await httpRequest(srv.url('/me'), { headers: { authorization: `Bearer ${token}` } });
  return res.status;
}

const b64 = (buf) => Buffer.from(buf).toString('base64url');
const toBig = (buf) => BigInt(`0x${Buffer.from(buf).toString('hex') || '0'}`);
function fromBig(v, width) {
  const hex = v.toString(16).padStart(width * 2, '0');
  return hex.length > width * 2 ? undefined : Buffer.from(hex, 'hex');
}

/** Every other encoding of the token's signature: [name, token, validForPlainVerifier]. */
function reencodings(token, alg, jwk) {
  const last = token.lastIndexOf('.');
  const input = token.slice(0, last + 1);
  const sigText = token.slice(last + 1);
  const sig = Buffer.from(sigText, 'base64url');
  const out = [];
  // 256 and 64 bytes are both 1 (mod 3): the last character carries 2 bits and 4 unused ones.
  const tbl = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const v = tbl.indexOf(sigText.at(-1));
  assert.equal(v & 15, 0, 'Ostiary writes canonical base64url');
  out.push(['trailing bits', `${input}${sigText.slice(0, -1)}${tbl[v | 1]}`, false]);
  out.push(['padding', `${token}==`, false]);
  if (alg === 'ES256') {
    const s = toBig(sig.subarray(32));
    out.push(['(r, n - s)', `${input}${b64(Buffer.concat([sig.subarray(0, 32), fromBig(P256_N - s, 32)]))}`, true]);
  } else if (alg === 'EdDSA') {
    const s = toBig(Buffer.from(sig.subarray(32)).reverse()); // little-endian
    const sl = fromBig(s + ED25519_L, 32).reverse();
    out.push(['S + L', `${input}${b64(Buffer.concat([sig.subarray(0, 32), sl]))}`, false]);
  } else {
    const n = toBig(Buffer.from(jwk.n, 'base64url'));
    const plus = fromBig(toBig(sig) + n, sig.length);
    out.push(['s + n (or n)', `${input}${b64(plus ?? fromBig(n, sig.length))}`, false]);
  }
  return out;
}

/** The token is inactive at introspection and refused at userinfo, and so is every re-encoding. */
async function assertDeadEveryWay(token, alg) {
  assert.deepEqual(await introspect(token), { active: false });
  assert.equal(await userinfoStatus(token), 401);
  const { kid } = decodeJwt(token).header;
  const jwk = (await (await fetch(srv.url('/jwks'))).json()).keys.find((k) => k.kid === kid);
  for (const [name, copy, valid] of reencodings(token, alg, jwk)) {
    assert.notEqual(copy, token);
    if (valid) {
      // The copy is a genuine signature of the same claims for a plain verifier (WebCrypto here).
      await jose.compactVerify(copy, jwks);
    }
    assert.deepEqual(await introspect(copy), { active: false }, `${alg} ${name}: inactive at introspection`);
    assert.equal(await userinfoStatus(copy), 401, `${alg} ${name}: refused at /me`);
  }
}

for (const alg of Object.keys(APIS)) {
  describe(`${alg} access tokens`, () => {
    test('revoked directly (RFC 7009), then re-encoded: inactive, refused at /me', T, async () => {
      const t = await tokensFor(alg);
      assert.equal((await introspect(t.access_token)).active, true);
      assert.equal(await userinfoStatus(t.access_token), 200);
      const res = await postForm(srv.url('/token/revocation'), { token: t.access_token }, auth);
      assert.equal(res.status, 200);
      await assertDeadEveryWay(t.access_token, alg);
      // Only that token: the grant's refresh token still works.
      assert.equal((await introspect(t.refresh_token)).active, true);
    });

    test("revoked with its grant's refresh token, then re-encoded: inactive, refused at /me", T, async () => {
      const t = await tokensFor(alg);
      assert.equal(await userinfoStatus(t.access_token), 200);
      const res = await postForm(srv.url('/token/revocation'), { token: t.refresh_token }, auth);
      assert.equal(res.status, 200);
      await assertDeadEveryWay(t.access_token, alg);
    });

    test('revoked by a replay of its code, then re-encoded: inactive, refused at /me', T, async () => {
      const t = await tokensFor(alg);
      assert.equal(await userinfoStatus(t.access_token), 200);
      const replay = await redeem(t.grant);
      assert.equal(replay.status, 400);
      assert.equal(replay.json.error, 'invalid_grant');
      await assertDeadEveryWay(t.access_token, alg);
    });
  });
}

describe('the row key of a JWT is not a credential', () => {
  // The row of a JWT issued within a grant is keyed by SHA-256("jti:" + jti). The jti is not a secret
  // (introspection returns it, resource servers log it), so "jti:<jti>" presented as an opaque token must
  // find nothing: opaque tokens are base64url strings, and only those are looked up by their hash.
  test('"jti:" + jti as a bearer token: inactive at introspection, refused at /me', T, async () => {
    const t = await tokensFor('ES256');
    const { jti } = decodeJwt(t.access_token).payload;
    assert.equal(typeof jti, 'string');
    assert.equal(await userinfoStatus(t.access_token), 200);
    assert.deepEqual(await introspect(`jti:${jti}`), { active: false });
    // Not in an Authorization header, whose b64token syntax has no ':' (RFC 6750 §2.1), but in the form
    // body, which takes any value (§2.2).
    const me = await postForm(srv.url('/me'), { access_token: `jti:${jti}` });
    assert.equal(me.status, 401, me.body);
    const res = await postForm(srv.url('/token/revocation'), { token: `jti:${jti}` }, auth);
    assert.equal(res.status, 200);
    assert.equal((await introspect(t.access_token)).active, true, 'revoking the key text revokes nothing');
  });
});
