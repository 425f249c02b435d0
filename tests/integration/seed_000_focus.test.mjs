// seed_000_focus.test.mjs: the "focus" OIDC playground as written, against Ostiary
// with its issuer in place of http://localhost:4000/authentication/oidc. The playground is a scripted
// relying party: it opens the three authorization URLs of the document (no PKCE, no nonce, a resource
// indicator, custom API scopes with '/' and ':' in them), exchanges the code with client_secret_post
// plus resource and redirect_uri, introspects the access and the refresh token with the client's
// credentials in the body, refreshes with scope, resource, state and redirect_uri, and fetches the JWKS.
// The form bodies are sent exactly as the Lua script builds them: concatenated, not percent-encoded.
// The sign-in goes through Ostiary's real pages over HTTP (lib/flow.mjs). The redirect URI is the
// document's http://localhost:8080/cb; nothing listens there: the test reads the redirect instead.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';

import { CookieJar, httpAuthorize, httpRequest } from './lib/flow.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 20000 };
const SEED_ISSUER = 'http://localhost:4000/authentication/oidc';
const client_id = '2e11feba0e0348d317971c52488dd79125943d750b8e6df1';
const client_secret = 'bar';
const REDIRECT = 'http://localhost:8080/cb';
const API_SCOPE = 'messaging.contacts/:userId.post';
const USER = { username: 'mark', password: 'focus playground password' };

// The document's three links, verbatim (raw spaces and all; a browser sends them as %20).
const LINKS = {
  noEmail: `${SEED_ISSUER}/auth?client_id=${client_id}&redirect_uri=http://localhost:8080/cb&response_type=code&scope=openid messaging.contacts/:userId.post&state=abc123&resource=urn:focus:api`,
  email: `${SEED_ISSUER}/auth?client_id=${client_id}&redirect_uri=http://localhost:8080/cb&response_type=code&scope=openid email  messaging.contacts/:userId.post&state=abc123&resource=urn:focus:api`,
  refresh: `${SEED_ISSUER}/auth?client_id=${client_id}&redirect_uri=http://localhost:8080/cb&response_type=code&scope=openid email profile offline_access messaging.contacts/:userId.post&state=abc123&resource=urn:focus:api&prompt=consent`,
};

let srv;
let oidc_path;
let jwks;

before(async () => {
  srv = await startServer({
    issuerPath: '/authentication/oidc',
    config: `
log_level: info
resources:
  - identifier: "urn:focus:api"
    scopes: ["${API_SCOPE}", "messaging.contacts/:userId.get"]
clients:
  - client_id: "${client_id}"
    client_secret: "${client_secret}"
    client_name: Focus playground
    grant_types: [authorization_code, refresh_token]
    redirect_uris: ["${REDIRECT}"]
    token_endpoint_auth_method: client_secret_post
    resources: ["urn:focus:api"]
    require_pkce: "false"
users:
  - username: ${USER.username}
    password: "${USER.password}"
    name: Mark Focus
    email: mark@focus.example
    email_verified: "true"
`,
  });
  oidc_path = srv.issuer;
  jwks = jose.createRemoteJWKSet(new URL(`${oidc_path}/jwks`));
});

after(async () => {
  await srv?.stop();
});

/** A browser opening one of the document's links and signing in; resolves the /cb query. */
async function openLink(link, jar = new CookieJar()) {
  const url = new URL(link.replace(SEED_ISSUER, oidc_path)); // the URL parser encodes spaces as %20
  const r = await httpAuthorize(url, { jar, issuer: oidc_path, ...USER });
  assert.equal(r.kind, 'redirect', `expected a redirect to the callback, got ${r.kind} ${r.page ?? ''} (${r.res?.status})`);
  assert.ok(r.url.startsWith(`${REDIRECT}?`), r.url);
  assert.equal(r.params.get('error'), null, `${r.params.get('error')}: ${r.params.get('error_description')}`);
  assert.equal(r.params.get('state'), 'abc123');
  assert.equal(r.params.get('iss'), oidc_path);
  return { query: r.params, pages: r.pages };
}

const post = (path, form_data) =>
  httpRequest(`${oidc_path}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form_data,
  });

// --- the playground's helper functions, as written ---

async function get_access_token(code) {
  const form_data =
    'grant_type=authorization_code' +
    `&code=${code}` +
    `&client_id=${client_id}&client_secret=${client_secret}` +
    '&resource=urn:focus:api' +
    '&redirect_uri=http://localhost:8080/cb';
  const res = await post('/token', form_data);
  assert.equal(res.status, 200, res.body);
  return res.json;
}

async function refresh_token(rt) {
  const form_data =
    'grant_type=refresh_token' +
    `&refresh_token=${rt}` +
    `&client_id=${client_id}&client_secret=${client_secret}` +
    '&resource=urn:focus:api' +
    `&scope=openid email profile offline_access ${API_SCOPE}&state=abc123` +
    '&redirect_uri=http://localhost:8080/cb';
  const res = await post('/token', form_data);
  assert.equal(res.status, 200, res.body);
  return res.json;
}

async function introspect_token(token) {
  const form_data = `token=${token}&client_id=${client_id}&client_secret=${client_secret}`;
  const res = await post('/token/introspection', form_data);
  assert.equal(res.status, 200, res.body);
  return res.json;
}

/** What the messaging API would check: a JWT for urn:focus:api from this issuer, with its scope. */
async function apiAccepts(accessToken) {
  const { payload } = await jose.jwtVerify(accessToken, jwks, { issuer: oidc_path, audience: 'urn:focus:api' });
  return payload;
}

describe('seed 000: the focus OIDC playground', () => {
  test('discovery at <oidc_path>/.well-known/openid-configuration', T, async () => {
    const res = await httpRequest(`${oidc_path}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    assert.equal(res.json.issuer, oidc_path);
    assert.equal(res.json.authorization_endpoint, `${oidc_path}/auth`);
    assert.equal(res.json.token_endpoint, `${oidc_path}/token`);
    assert.equal(res.json.introspection_endpoint, `${oidc_path}/token/introspection`);
    assert.equal(res.json.jwks_uri, `${oidc_path}/jwks`);
  });

  test('"login with focus zonder email": code, tokens for urn:focus:api, introspection', T, async () => {
    const { query, pages } = await openLink(LINKS.noEmail);
    assert.deepEqual(pages, ['login', 'consent']);
    const tokens = await get_access_token(query.get('code'));
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.ok(tokens.access_token && tokens.id_token);
    assert.equal(tokens.refresh_token, undefined, 'no offline_access: no refresh token');
    assert.equal(tokens.scope, `openid ${API_SCOPE}`);
    const info = await introspect_token(tokens.access_token);
    assert.equal(info.active, true);
    assert.equal(info.scope, `openid ${API_SCOPE}`);
    assert.equal(info.client_id, client_id);
    const at = await apiAccepts(tokens.access_token);
    assert.equal(at.client_id, client_id);
    assert.ok(at.scope.split(' ').includes(API_SCOPE));
    const id = jose.decodeJwt(tokens.id_token);
    assert.equal(id.iss, oidc_path);
    assert.equal(id.aud, client_id);
    assert.equal(id.email, undefined);
  });

  test('"login with focus" (scope with a double space): code and tokens with email', T, async () => {
    const { query } = await openLink(LINKS.email);
    const tokens = await get_access_token(query.get('code'));
    assert.deepEqual(new Set(tokens.scope.split(' ')), new Set(['openid', 'email', API_SCOPE]));
    const info = await introspect_token(tokens.access_token);
    assert.equal(info.active, true);
    await apiAccepts(tokens.access_token);
  });

  test('"login with focus and refresh token": introspect both, refresh, introspect the new one, JWKS', T, async () => {
    const jar = new CookieJar();
    const { query, pages } = await openLink(LINKS.refresh, jar);
    assert.ok(pages.includes('consent'), 'prompt=consent shows the consent page');
    const doc = await get_access_token(query.get('code'));
    assert.ok(doc.refresh_token, 'offline_access with prompt=consent gives a refresh token');

    // LOG TOKENS (use introspection endpoint for access and refresh token)
    const access = await introspect_token(doc.access_token);
    assert.equal(access.active, true);
    assert.deepEqual(
      new Set(access.scope.split(' ')),
      new Set(['openid', 'email', 'profile', 'offline_access', API_SCOPE]),
    );
    const idt = jose.decodeJwt(doc.id_token);
    assert.equal(idt.iss, oidc_path);
    assert.equal(idt.aud, client_id);
    assert.equal(typeof idt.sub, 'string');
    const refresh = await introspect_token(doc.refresh_token);
    assert.equal(refresh.active, true);
    assert.equal(refresh.token_type, 'refresh_token');
    assert.equal(refresh.client_id, client_id);
    assert.deepEqual(new Set(refresh.scope.split(' ')), new Set(access.scope.split(' ')));

    // Refresh and introspect access_token
    const renewed = await refresh_token(doc.refresh_token);
    assert.ok(renewed.access_token && renewed.access_token !== doc.access_token);
    assert.ok(renewed.refresh_token && renewed.refresh_token !== doc.refresh_token, 'rotated');
    const new_token = await introspect_token(renewed.access_token);
    assert.equal(new_token.active, true);
    assert.ok(new_token.scope.split(' ').includes(API_SCOPE));
    await apiAccepts(renewed.access_token);

    // Fetch signing keys
    const keys = await httpRequest(`${oidc_path}/jwks`);
    assert.equal(keys.status, 200);
    assert.ok(Array.isArray(keys.json.keys) && keys.json.keys.length > 0);
    for (const k of keys.json.keys) assert.equal(k.d, undefined, 'public keys only');
  });
});
