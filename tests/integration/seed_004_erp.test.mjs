// seed_004_erp.test.mjs: the IdentityServer-based ERP's "renew an access token via a refresh token",
// as written, against Ostiary with its endpoints in place of /id/connect/authorize
// and /id/connect/token: a trusted confidential application whose secret is stored as
// base64(sha256(secret)) (client_secret_sha256), the redirect http://localhost/signin-callback, scopes
// openid profile offline_access DomainApi (DomainApi is an API scope that selects its API by itself, so
// the access token is for that API, whose audience name DomainApi is the token's aud, as the document's
// tokens show: "aud":"DomainApi"), the code exchange and the refresh with the plain secret in the body, and
// a new pair of access and refresh tokens on every renewal.
// The document's authorization request uses the hybrid response type `code id_token` with its nonce: the
// client registers it (response_types, with the implicit grant beside authorization_code), and the code
// and state come back in the fragment with an ID token bound to both (c_hash, s_hash). Access tokens live
// 3600 seconds, as in the document. Sign-in through Ostiary's real pages over HTTP (lib/flow.mjs).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
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
    audience: DomainApi
    scopes: [DomainApi]
    access_token_ttl: 3600
clients:
  - client_id: "${APP.id}"
    client_secret_sha256: "${secretSha256(APP.secret)}"
    client_name: ${APP.name}
    grant_types: [authorization_code, implicit, refresh_token]
    response_types: ["code id_token"]
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

/** The Domain API's check of the bearer token: a JWT from this issuer whose aud is DomainApi (beside the
 * userinfo endpoint: openid was granted), as the document's tokens have it. */
async function domainApiCheck(accessToken) {
  const { payload } = await jose.jwtVerify(accessToken, jwks, { issuer: srv.issuer, audience: 'DomainApi' });
  assert.deepEqual(payload.aud, ['DomainApi', meta.userinfo_endpoint]);
  return payload;
}

describe('seed 004: IdentityServer ERP trusted application', () => {
  test('the document: code id_token, sign-in callback, token exchange, Domain API call, renewals', T, async () => {
    // "Authorize endpoint": the document's GET request; the person signs in on Ostiary's pages.
    const r = await httpAuthorize(new URL(authorizeUrl('code id_token')), { jar: new CookieJar(), issuer: srv.issuer, ...USER });
    assert.equal(r.kind, 'redirect', `expected a redirect, got ${r.kind} ${r.page ?? ''} (${r.res?.status})`);
    // "Sign in callback": back at the application with the code and the state. The hybrid response type
    // answers in the fragment (its default response mode, Multiple Response Types §5), with the ID token
    // beside the code.
    const cbu = new URL(r.url);
    assert.equal(`${cbu.origin}${cbu.pathname}`, REDIRECT);
    assert.equal(cbu.search, '');
    const p = new URLSearchParams(cbu.hash.slice(1));
    assert.equal(p.get('error'), null, `${p.get('error')}: ${p.get('error_description')}`);
    assert.equal(p.get('state'), 'xyz');
    assert.equal(p.get('iss'), srv.issuer);
    const code = p.get('code');
    assert.ok(code, 'the authorization code');
    const front = (await jose.jwtVerify(p.get('id_token'), jwks, { issuer: srv.issuer, audience: APP.id })).payload;
    assert.equal(front.nonce, 'abc');
    const half = (v) => createHash('sha256').update(v).digest().subarray(0, 16).toString('base64url');
    assert.equal(front.c_hash, half(code), 'c_hash: the ID token is bound to this code');
    assert.equal(front.s_hash, half('xyz'), 's_hash: and to this state');

    // "Token endpoint": the document's POST, the plain secret in the body.
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
    assert.equal(first.json.expires_in, 3600);
    assert.ok(first.json.refresh_token, 'offline_access gives the refresh token');
    assert.deepEqual(new Set(first.json.scope.split(' ')), new Set(SCOPE.split(' ')));

    const idt = (await jose.jwtVerify(first.json.id_token, jwks, { issuer: srv.issuer, audience: APP.id })).payload;
    assert.equal(idt.nonce, 'abc');
    assert.equal(idt.aud, APP.id);
    assert.equal(idt.sub, front.sub);
    assert.equal(idt.at_hash, half(first.json.access_token));
    assert.ok(idt.sid && idt.auth_time);
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
    assert.equal(renewed.json.expires_in, 3600);
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

  test('discovery lists the hybrid response type the document uses', T, async () => {
    assert.ok(meta.response_types_supported.includes('code id_token'), JSON.stringify(meta.response_types_supported));
    assert.ok(meta.grant_types_supported.includes('implicit'));
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

  test('audience= names the Domain API by its name or its identifier; resource= by its identifier only', T, async () => {
    const jar = new CookieJar();
    for (const [param, value] of [
      ['audience', 'DomainApi'],
      ['audience', DOMAIN_API],
      ['resource', DOMAIN_API],
    ]) {
      const url = new URL(meta.authorization_endpoint);
      url.search = new URLSearchParams({
        client_id: APP.id,
        redirect_uri: REDIRECT,
        response_type: 'code id_token',
        scope: 'openid DomainApi',
        nonce: 'abc',
        state: 'xyz',
        [param]: value,
      }).toString();
      const r = await httpAuthorize(url, { jar, issuer: srv.issuer, ...USER });
      const p = new URLSearchParams(new URL(r.url).hash.slice(1));
      assert.equal(p.get('error'), null, `${param}=${value}: ${p.get('error_description')}`);
      const tok = await token([`client_id=${APP.id}`, `client_secret=${APP.secret}`, 'grant_type=authorization_code',
        `code=${p.get('code')}`, `redirect_uri=${REDIRECT}`, `audience=DomainApi`]);
      assert.equal(tok.status, 200, tok.body);
      await domainApiCheck(tok.json.access_token);
    }
    const url = new URL(meta.authorization_endpoint);
    url.search = new URLSearchParams({ client_id: APP.id, redirect_uri: REDIRECT, response_type: 'code id_token',
      scope: 'openid DomainApi', nonce: 'abc', state: 'xyz', resource: 'DomainApi' }).toString();
    const res = await httpRequest(url.href);
    const p = new URLSearchParams(new URL(res.location).hash.slice(1));
    assert.equal(p.get('error'), 'invalid_target');
    assert.equal(p.get('error_description'), 'resource must be an absolute URI without a fragment');
  });
});
