// seed_003_auth0.test.mjs: the Auth0-based platform's notes, as written, against
// Ostiary with its authorization endpoint in place of https://login.developer.coop/authorize: the
// document's request URL (scopes openid profile email phone offline_access, a state ending in %3D, the
// API named by `audience` and no PKCE), the code exchange with the client secret in the body, a refresh
// token from offline_access alone (Auth0's behaviour: refresh_token_policy: offline_access, no
// prompt=consent), the access token with two audiences (the API and the userinfo endpoint, "because you
// used the openid scope") that works at the userinfo endpoint, the profile, email and phone claims in the ID
// token ("the others simply give more data in the ID token": id_token_claims: scope), and the refresh
// request as the document's curl sends it. Sign-in through Ostiary's real pages over HTTP (lib/flow.mjs).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';

import { CookieJar, httpAuthorize, httpRequest } from './lib/flow.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 20000 };
const API = 'https://integration.coop.no/legacy';
const CLIENT = { id: 'coop-developer-app', secret: 'YOUR_CLIENT_SECRET' };
const REDIRECT = 'http://localhost:3000/callback';
const USER = { username: 'ola', password: 'coop developer portal pw' };

let srv;
let meta;
let jwks;

before(async () => {
  srv = await startServer({
    config: `
log_level: info
resources:
  - identifier: "${API}"
    scopes: [legacy.read, legacy.write]
clients:
  - client_id: ${CLIENT.id}
    client_secret: ${CLIENT.secret}
    client_name: Coop developer app
    grant_types: [authorization_code, refresh_token]
    redirect_uris: ["${REDIRECT}"]
    token_endpoint_auth_method: client_secret_post
    refresh_token_policy: offline_access
    id_token_claims: scope
    require_pkce: "false"
users:
  - username: ${USER.username}
    password: "${USER.password}"
    name: Ola Nordmann
    email: ola@coop.example
    email_verified: "true"
    phone_number: "+47 22 00 00 00"
    phone_number_verified: "true"
`,
  });
  meta = (await httpRequest(srv.url('/.well-known/openid-configuration'))).json;
  jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
});

after(async () => {
  await srv?.stop();
});

/** The access token as the API checks it: a JWT from this issuer with the API among its audiences. */
async function apiCheck(token) {
  const { payload } = await jose.jwtVerify(token, jwks, { issuer: srv.issuer, audience: API });
  return payload;
}

const bearer = (token) => httpRequest(meta.userinfo_endpoint, { headers: { authorization: `Bearer ${token}` } });

describe('seed 003: Auth0 (audience, scopes, refresh tokens)', () => {
  test('the document request URL, tokens for the audience, userinfo, refresh as curl sends it', T, async () => {
    const query =
      `client_id=${CLIENT.id}&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&response_type=code` +
      '&scope=openid+profile+email+phone+offline_access&state=f4joN6Yn5ZxKVTSXaxhkTh8ogqqX3TOzCPyLrXhn2Pc%3D' +
      `&audience=${API}`;
    const r = await httpAuthorize(`${meta.authorization_endpoint}?${query}`, {
      jar: new CookieJar(),
      issuer: srv.issuer,
      ...USER,
    });
    assert.equal(r.kind, 'redirect', `expected a redirect, got ${r.kind} ${r.page ?? ''} (${r.res?.status})`);
    assert.equal(r.params.get('error'), null, `${r.params.get('error')}: ${r.params.get('error_description')}`);
    assert.ok(r.url.startsWith(`${REDIRECT}?`), r.url);
    assert.equal(r.params.get('state'), 'f4joN6Yn5ZxKVTSXaxhkTh8ogqqX3TOzCPyLrXhn2Pc=');
    assert.equal(r.params.get('iss'), srv.issuer);

    const tok = await httpRequest(meta.token_endpoint, {
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        code: r.params.get('code'),
        redirect_uri: REDIRECT,
      }),
    });
    assert.equal(tok.status, 200, tok.body);
    assert.ok(tok.json.id_token, 'openid: an ID token');
    assert.ok(tok.json.refresh_token, 'offline_access alone gives a refresh token (Auth0 style)');
    assert.deepEqual(new Set(tok.json.scope.split(' ')), new Set(['openid', 'profile', 'email', 'phone', 'offline_access']));

    // "the accesstoken will contain two audiences if you used the openid scope"
    const at = await apiCheck(tok.json.access_token);
    assert.ok(Array.isArray(at.aud), `aud is a list: ${JSON.stringify(at.aud)}`);
    assert.deepEqual(new Set(at.aud), new Set([API, meta.userinfo_endpoint]));
    assert.equal(at.client_id, CLIENT.id);
    const { payload: id } = await jose.jwtVerify(tok.json.id_token, jwks, { issuer: srv.issuer, audience: CLIENT.id });
    assert.equal(at.sub, id.sub);
    // "The scopes (openid,profile,email,phone) ... give more data in the ID token"
    assert.equal(id.name, 'Ola Nordmann');
    assert.equal(id.email, 'ola@coop.example');
    assert.equal(id.email_verified, true);
    assert.equal(id.phone_number, '+47 22 00 00 00');
    assert.equal(id.phone_number_verified, true);

    // "... can answer with userinfo from its /userinfo endpoint"
    const me = await bearer(tok.json.access_token);
    assert.equal(me.status, 200, me.body);
    assert.equal(me.json.sub, id.sub);
    assert.equal(me.json.name, 'Ola Nordmann');
    assert.equal(me.json.email, 'ola@coop.example');
    assert.equal(me.json.phone_number, '+47 22 00 00 00');
    assert.equal(me.json.phone_number_verified, true);

    // The refresh request of the document (curl --data ...).
    const ref = await httpRequest(meta.token_endpoint, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=refresh_token&client_id=${CLIENT.id}&client_secret=${CLIENT.secret}&refresh_token=${tok.json.refresh_token}`,
    });
    assert.equal(ref.status, 200, ref.body);
    assert.ok(ref.json.access_token && ref.json.access_token !== tok.json.access_token);
    const id2 = jose.decodeJwt(ref.json.id_token);
    assert.equal(id2.email, 'ola@coop.example', 'the refreshed ID token carries them too');
    assert.equal(id2.name, 'Ola Nordmann');
    const at2 = await apiCheck(ref.json.access_token);
    assert.deepEqual(new Set(at2.aud), new Set([API, meta.userinfo_endpoint]));
    assert.equal((await bearer(ref.json.access_token)).status, 200);
  });

  test('without offline_access: no refresh token; without openid: the API is the only audience', T, async () => {
    const query =
      `client_id=${CLIENT.id}&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&response_type=code` +
      `&scope=legacy.read&state=no-openid&audience=${API}`;
    const r = await httpAuthorize(`${meta.authorization_endpoint}?${query}`, {
      jar: new CookieJar(),
      issuer: srv.issuer,
      ...USER,
    });
    assert.equal(r.kind, 'redirect');
    assert.equal(r.params.get('error'), null, `${r.params.get('error')}: ${r.params.get('error_description')}`);
    const tok = await httpRequest(meta.token_endpoint, {
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        code: r.params.get('code'),
        redirect_uri: REDIRECT,
      }),
    });
    assert.equal(tok.status, 200, tok.body);
    assert.equal(tok.json.refresh_token, undefined);
    assert.equal(tok.json.id_token, undefined);
    assert.equal(tok.json.scope, 'legacy.read');
    const at = await apiCheck(tok.json.access_token);
    assert.ok(at.aud === API || (Array.isArray(at.aud) && at.aud.length === 1 && at.aud[0] === API), JSON.stringify(at.aud));
    const me = await bearer(tok.json.access_token);
    assert.ok([401, 403].includes(me.status), `not a token for the userinfo endpoint: ${me.status}`);
  });
});
