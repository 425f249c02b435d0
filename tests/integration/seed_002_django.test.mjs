// seed_002_django.test.mjs: the django-oidc-provider "Access Tokens" page, as written,
// against Ostiary with its issuer in place of http://localhost:8000: a confidential client with response
// type code and redirect_uri http://example.org/ (plain http to a non-loopback host, so the server runs
// in dev mode as a developer's would), the authorization URL without PKCE or nonce, the code exchange
// with curl's -d fields (client_secret in the body, a refresh token without offline_access: django's
// behaviour, refresh_token_policy: always), userinfo with the access token in the query string
// (userinfo.allow_query_token: true, RFC 6750 §2.3), a 401 once the access token has expired, and the
// refresh that gets a working one back. Endpoint paths come from discovery (django's /authorize,
// /token/ and /userinfo/ are Ostiary's /auth, /token and /me). Sign-in through the real pages over HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { CookieJar, httpAuthorize, httpRequest } from './lib/flow.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 20000 };
const CLIENT_ID = '651462';
const CLIENT_SECRET = '37b1c4ff826f8d78bd45e25bad75a2c0';
const REDIRECT = 'http://example.org/';
const AT_TTL = 2;
const USER = { username: 'django', password: 'django oidc provider pw' };

let srv;
let meta;

before(async () => {
  srv = await startServer({
    config: `
log_level: info
dev: true
userinfo:
  allow_query_token: true
clients:
  - client_id: "${CLIENT_ID}"
    client_secret: "${CLIENT_SECRET}"
    client_name: Django RP
    grant_types: [authorization_code, refresh_token]
    redirect_uris: ["${REDIRECT}"]
    token_endpoint_auth_method: client_secret_post
    refresh_token_policy: always
    require_pkce: "false"
    access_token_ttl: ${AT_TTL}
users:
  - username: ${USER.username}
    password: "${USER.password}"
    name: Juan Ignacio
    given_name: Juan
    family_name: Ignacio
    email: juan@example.org
    email_verified: "true"
`,
  });
  meta = (await httpRequest(srv.url('/.well-known/openid-configuration'))).json;
});

after(async () => {
  await srv?.stop();
});

const curl = (url, data) =>
  httpRequest(url, {
    method: 'POST',
    headers: { 'cache-control': 'no-cache', 'content-type': 'application/x-www-form-urlencoded' },
    body: data.join('&'), // curl -d joins its fields with & and sends them as they are
  });

const userinfo = (token) =>
  httpRequest(`${meta.userinfo_endpoint}?access_token=${token}`, { headers: { 'cache-control': 'no-cache' } });

describe('seed 002: django-oidc-provider', () => {
  test('code flow, userinfo with ?access_token=, expiry → 401, refresh → a working token', T, async () => {
    // "Open your browser and accept consent at ..."
    const authorize = new URL(
      `${meta.authorization_endpoint}?client_id=${CLIENT_ID}&redirect_uri=http://example.org/&response_type=code&scope=openid email profile&state=123123`,
    );
    const r = await httpAuthorize(authorize, { jar: new CookieJar(), issuer: srv.issuer, ...USER });
    assert.equal(r.kind, 'redirect', `expected a redirect, got ${r.kind} ${r.page ?? ''} (${r.res?.status})`);
    assert.deepEqual(r.pages, ['login', 'consent'], 'the consent page is shown');
    // "In the redirected URL you should have a code parameter included as query string"
    assert.ok(r.url.startsWith('http://example.org/?code='), r.url);
    assert.equal(r.params.get('state'), '123123');
    const code = r.params.get('code');

    // "We use the code value to obtain access_token and refresh_token"
    const tok = await curl(meta.token_endpoint, [
      `client_id=${CLIENT_ID}`,
      `client_secret=${CLIENT_SECRET}`,
      `code=${code}`,
      'redirect_uri=http://example.org/',
      'grant_type=authorization_code',
    ]);
    assert.equal(tok.status, 200, tok.body);
    assert.equal(tok.json.token_type.toLowerCase(), 'bearer');
    assert.equal(tok.json.expires_in, AT_TTL);
    assert.ok(tok.json.access_token, 'access_token');
    assert.ok(tok.json.refresh_token, 'refresh_token (without offline_access, like django)');
    assert.ok(tok.json.id_token, 'id_token');
    const issuedAt = Date.now();

    // "ask for user data by doing a GET request to the /userinfo endpoint"
    const me = await userinfo(tok.json.access_token);
    assert.equal(me.status, 200, me.body);
    assert.equal(me.json.email, 'juan@example.org');
    assert.equal(me.json.name, 'Juan Ignacio');
    assert.equal(typeof me.json.sub, 'string');

    // "If you receive a 401 Unauthorized status when using the access token, ... it has expired."
    await new Promise((res) => setTimeout(res, Math.max(0, issuedAt + (AT_TTL + 1) * 1000 + 100 - Date.now())));
    const expired = await userinfo(tok.json.access_token);
    assert.equal(expired.status, 401, expired.body);
    assert.match(expired.headers.get('www-authenticate') || '', /^Bearer\b.*error="invalid_token"/);

    // "The RP application can request a new access token by using the refresh token."
    const ref = await curl(meta.token_endpoint, [
      `client_id=${CLIENT_ID}`,
      `client_secret=${CLIENT_SECRET}`,
      'grant_type=refresh_token',
      `refresh_token=${tok.json.refresh_token}`,
    ]);
    assert.equal(ref.status, 200, ref.body);
    assert.ok(ref.json.access_token && ref.json.access_token !== tok.json.access_token);
    assert.ok(ref.json.refresh_token && ref.json.refresh_token !== tok.json.refresh_token);
    const again = await userinfo(ref.json.access_token);
    assert.equal(again.status, 200, again.body);
    assert.equal(again.json.sub, me.json.sub);
    assert.equal(again.json.email, 'juan@example.org');
  });

  test('the client secret is checked (a wrong one is invalid_client)', T, async () => {
    const res = await curl(meta.token_endpoint, [
      `client_id=${CLIENT_ID}`,
      'client_secret=wrong',
      'grant_type=refresh_token',
      'refresh_token=whatever',
    ]);
    assert.equal(res.status, 401);
    assert.equal(res.json.error, 'invalid_client');
  });
});
