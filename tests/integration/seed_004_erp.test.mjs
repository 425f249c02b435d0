// seed_004_erp.test.mjs: the IdentityServer-based ERP's "renew an access token via a refresh token",
// as written, against Ostiary with its endpoints in place of /id/connect/authorize
// and /id/connect/token: a trusted confidential application whose secret is stored as
// base64(sha256(secret)) (client_secret_sha256), the redirect http://localhost/signin-callback, scopes
// openid profile offline_access DomainApi (DomainApi is an API scope that selects its API by itself, so
// the access token's audience is that API), the code exchange and the refresh with the plain secret in
// the body, and a new pair of access and refresh tokens on every renewal.
// The document's authorization request uses the hybrid response type `code id_token`, which this build
// does not serve: the test pins the exact answer (an unsupported_response_type error sent back to the
// application in the fragment with state and iss, before any page) and runs the rest of the document's flow with
// response_type=code. Sign-in through Ostiary's real pages over HTTP (lib/flow.mjs).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';

import { CookieJar, httpAuthorize, httpRequest } from './lib/flow.mjs';
import { secretSha256, startServer } from './lib/server.mjs';

const T = { timeout: 20000 };
const DOMAIN_API = 'https://demodb.my.erp.net/api/domain';
const APP = { id: 'my.trusted.app/first', secret: 'my_plain_app_secret-7Qx', name: 'My first trusted app' };
const REDIRECT = 'http://localhost/signin-callback';
const USER = { username: 'admin', password: 'erp internal user pw' };
const SCOPE = 'openid profile offline_access DomainApi';

let srv;
let meta;
let jwks;

before(async () => {
  srv = await startServer({
    config: `
log_level: info
resources:
  - identifier: "${DOMAIN_API}"
    scopes: [DomainApi]
clients:
  - client_id: "${APP.id}"
    client_secret_sha256: "${secretSha256(APP.secret)}"
    client_name: ${APP.name}
    grant_types: [authorization_code, refresh_token]
    redirect_uris: ["${REDIRECT}"]
    token_endpoint_auth_method: client_secret_post
    refresh_token_policy: offline_access
    require_pkce: "false"
users:
  - username: ${USER.username}
    password: "${USER.password}"
    name: SPS
    email: admin@mail.com
    locale: bg
`,
  });
  meta = (await httpRequest(srv.url('/.well-known/openid-configuration'))).json;
  jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
});

after(async () => {
  await srv?.stop();
});

/** GET <authorization_endpoint>? with the document's parameters (one per line in the document). */
function authorizeUrl(responseType) {
  return (
    `${meta.authorization_endpoint}?` +
    `client_id=${APP.id}&` +
    `redirect_uri=${REDIRECT}&` +
    `response_type=${responseType}&` +
    `scope=${SCOPE}&` +
    'nonce=abc&' +
    'state=xyz'
  );
}

/** POST <token_endpoint> with the document's form body (fields joined by &, as written). */
const token = (lines) =>
  httpRequest(meta.token_endpoint, {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: lines.join('&'),
  });

/** The Domain API's check of the bearer token: a JWT from this issuer for the Domain API. */
async function domainApiCheck(accessToken) {
  const { payload } = await jose.jwtVerify(accessToken, jwks, { issuer: srv.issuer, audience: DOMAIN_API });
  return payload;
}

describe('seed 004: IdentityServer ERP trusted application', () => {
  test('response_type=code id_token (hybrid): unsupported_response_type back to the application', T, async () => {
    const jar = new CookieJar();
    const res = await httpRequest(new URL(authorizeUrl('code id_token')).href, { jar });
    assert.equal(res.status, 303, 'redirected straight back, before any page');
    assert.ok(res.location.startsWith(REDIRECT), res.location);
    const u = new URL(res.location);
    // The hybrid type's default response mode is the fragment (Multiple Response Types §5): the error is
    // there, and nothing is in the query.
    assert.equal(u.search, '');
    const p = new URLSearchParams(u.hash.slice(1));
    assert.equal(p.get('error'), 'unsupported_response_type');
    assert.equal(p.get('state'), 'xyz');
    assert.equal(p.get('iss'), srv.issuer);
    assert.equal(p.get('code'), null);
    assert.equal(p.get('id_token'), null);
    assert.deepEqual(meta.response_types_supported, ['code'], 'discovery says: code only');
  });

  test('code flow, tokens for DomainApi, renewal with the refresh token (a new pair each time)', T, async () => {
    const r = await httpAuthorize(new URL(authorizeUrl('code')), { jar: new CookieJar(), issuer: srv.issuer, ...USER });
    assert.equal(r.kind, 'redirect', `expected a redirect, got ${r.kind} ${r.page ?? ''} (${r.res?.status})`);
    assert.equal(r.params.get('error'), null, `${r.params.get('error')}: ${r.params.get('error_description')}`);
    // "You'll receive a GET request such as: GET /signin-callback?code=...&state=..."
    const cbu = new URL(r.url);
    assert.equal(`${cbu.origin}${cbu.pathname}`, REDIRECT);
    assert.equal(r.params.get('state'), 'xyz');
    const code = r.params.get('code');

    const first = await token([
      `client_id=${APP.id}`,
      `client_secret=${APP.secret}`,
      'grant_type=authorization_code',
      `code=${code}`,
      `redirect_uri=${REDIRECT}`,
    ]);
    assert.equal(first.status, 200, first.body);
    assert.ok(first.json.id_token, 'id_token');
    assert.ok(first.json.access_token, 'access_token');
    assert.ok(Number.isInteger(first.json.expires_in) && first.json.expires_in > 0);
    assert.ok(first.json.refresh_token, 'offline_access gives the refresh token');
    assert.deepEqual(new Set(first.json.scope.split(' ')), new Set(SCOPE.split(' ')));

    const idt = jose.decodeJwt(first.json.id_token);
    assert.equal(idt.nonce, 'abc');
    assert.equal(idt.aud, APP.id);
    assert.ok(idt.at_hash && idt.sid && idt.auth_time);
    assert.deepEqual(idt.amr, ['pwd']);
    // "Authorized Domain API call": the token is for the Domain API, selected by the DomainApi scope.
    const at = await domainApiCheck(first.json.access_token);
    assert.equal(at.client_id, APP.id);
    assert.equal(at.sub, idt.sub);
    assert.ok(at.scope.split(' ').includes('DomainApi'));

    // "Access token renewal"
    const renewed = await token([
      `client_id=${APP.id}`,
      `client_secret=${APP.secret}`,
      'grant_type=refresh_token',
      `refresh_token=${first.json.refresh_token}`,
    ]);
    assert.equal(renewed.status, 200, renewed.body);
    assert.ok(renewed.json.access_token && renewed.json.access_token !== first.json.access_token, 'a new access token');
    assert.ok(renewed.json.refresh_token && renewed.json.refresh_token !== first.json.refresh_token, 'a new refresh token');
    assert.ok(renewed.json.id_token, 'a new ID token (openid)');
    assert.ok(Number.isInteger(renewed.json.expires_in) && renewed.json.expires_in > 0);
    assert.deepEqual(new Set(renewed.json.scope.split(' ')), new Set(SCOPE.split(' ')));
    const at2 = await domainApiCheck(renewed.json.access_token);
    assert.equal(at2.sub, idt.sub);
    assert.equal(jose.decodeJwt(renewed.json.id_token).sub, idt.sub);

    // "... you should use them now": and again with the new refresh token.
    const third = await token([
      `client_id=${APP.id}`,
      `client_secret=${APP.secret}`,
      'grant_type=refresh_token',
      `refresh_token=${renewed.json.refresh_token}`,
    ]);
    assert.equal(third.status, 200, third.body);
    await domainApiCheck(third.json.access_token);
  });

  test('the hashed secret: the plain secret authenticates, anything else (even the hash) is invalid_client', T, async () => {
    for (const secret of ['wrong', secretSha256(APP.secret), APP.secret.toUpperCase()]) {
      const res = await token([
        `client_id=${APP.id}`,
        `client_secret=${encodeURIComponent(secret)}`,
        'grant_type=refresh_token',
        'refresh_token=whatever',
      ]);
      assert.equal(res.status, 401, `secret ${secret}`);
      assert.equal(res.json.error, 'invalid_client');
    }
  });
});
