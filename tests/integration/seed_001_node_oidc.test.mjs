// seed_001_node_oidc.test.mjs: the node-oidc-provider guide, as written, against
// Ostiary with its issuer in place of https://auth.clairtonluz.com.br: authorization code with PKCE S256
// (and plain with the method omitted, which RFC 7636 §4.3 says means plain, for a client registered for
// it), redirect_uri omitted when the client has only one, the code exchange with client_secret in the
// body, offline_access + prompt=consent for a refresh token (the client has authorization_code and
// refresh_token grants, response type code), client credentials with client_secret_post and
// scope=openid, and the device flow (RFC 8628) with the public client mobile_application: POST /device/auth,
// polling every 5 seconds with authorization_pending until the person confirms the code on the
// verification page (verification_uri_complete), then the tokens with an ID token; and access_denied when
// the person refuses. Sign-in through Ostiary's real pages over HTTP (lib/flow.mjs); the https redirect URI
// is never called.
// The client-credentials client registers `scope: openid`: node-oidc-provider lets every client ask for
// every scope, while Ostiary's client_credentials grant grants only a client's registered scopes.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { CookieJar, deviceVerify, httpAuthorize, httpRequest } from './lib/flow.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 20000 };
const APP = { id: 'my_client_id', secret: 'bar', redirect: 'https://myapp.com/autorization' };
const PLAIN = { id: 'web_application', secret: 'bar', redirect: 'https://myapp.com/autorization' };
const CC = { id: 'YOUR_CLIENT_ID', secret: 'YOUR_CLIENT_SECRET' };
const MOBILE = { id: 'mobile_application' };
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const USER = { username: 'clairton', password: 'node oidc provider pw' };

let srv;
let meta;

before(async () => {
  srv = await startServer({
    config: `
log_level: info
clients:
  - client_id: ${APP.id}
    client_secret: ${APP.secret}
    grant_types: [authorization_code, refresh_token]
    redirect_uris: ["${APP.redirect}"]
    token_endpoint_auth_method: client_secret_post
  - client_id: ${PLAIN.id}
    client_secret: ${PLAIN.secret}
    grant_types: [authorization_code, refresh_token]
    redirect_uris: ["${PLAIN.redirect}"]
    token_endpoint_auth_method: client_secret_post
    pkce_methods: [S256, plain]
  - client_id: ${CC.id}
    client_secret: ${CC.secret}
    grant_types: [client_credentials]
    token_endpoint_auth_method: client_secret_post
    scope: openid
  - client_id: ${MOBILE.id}
    token_endpoint_auth_method: none
    grant_types: ["${DEVICE_GRANT}"]
    scope: openid profile phone
users:
  - username: ${USER.username}
    password: "${USER.password}"
    name: Clairton Luz
    email: clairton@example.com
    phone_number: "+55 11 99999-0000"
    phone_number_verified: "true"
`,
  });
  meta = (await httpRequest(srv.url('/.well-known/openid-configuration'))).json;
});

after(async () => {
  await srv?.stop();
});

const b64url = (buf) => Buffer.from(buf).toString('base64url');
/** A verifier of the document's length (128 characters of the unreserved set). */
const newVerifier = () => b64url(randomBytes(96));
const s256 = (v) => b64url(createHash('sha256').update(v).digest());

/** The document's authorization URL, built by hand, with this server's authorization endpoint. */
function authUrl(params) {
  const u = new URL(meta.authorization_endpoint);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u;
}

async function authorize(params) {
  const r = await httpAuthorize(authUrl(params), { jar: new CookieJar(), issuer: srv.issuer, ...USER });
  assert.equal(r.kind, 'redirect', `expected a redirect, got ${r.kind} ${r.page ?? ''} (${r.res?.status})`);
  assert.equal(r.params.get('error'), null, `${r.params.get('error')}: ${r.params.get('error_description')}`);
  assert.ok(r.url.startsWith(`${APP.redirect}?`), r.url);
  assert.equal(r.params.get('state'), params.state, 'the application checks the state');
  assert.equal(r.params.get('iss'), srv.issuer);
  return r;
}

/** "Code Exchange" as the document's request: a form with the secret in the body. */
function exchange(fields) {
  return httpRequest(meta.token_endpoint, { body: new URLSearchParams(fields) });
}

describe('seed 001: node-oidc-provider', () => {
  test('authorization code with PKCE S256, then the code exchange with client_secret in the body', T, async () => {
    const verifier = newVerifier();
    const r = await authorize({
      response_type: 'code',
      client_id: APP.id,
      redirect_uri: APP.redirect,
      state: '1234zyx',
      code_challenge: s256(verifier),
      code_challenge_method: 'S256',
      scope: 'openid profile phone email',
    });
    const res = await exchange({
      code: r.params.get('code'),
      grant_type: 'authorization_code',
      redirect_uri: APP.redirect,
      client_id: APP.id,
      code_verifier: verifier,
      client_secret: APP.secret,
    });
    assert.equal(res.status, 200, res.body);
    assert.ok(res.json.access_token && res.json.id_token);
    assert.equal(res.json.token_type.toLowerCase(), 'bearer');
    assert.equal(res.json.scope, 'openid profile phone email');
    assert.equal(res.json.refresh_token, undefined, 'no offline_access: no refresh token');
    const me = await httpRequest(meta.userinfo_endpoint, { headers: { authorization: `Bearer ${res.json.access_token}` } });
    assert.equal(me.status, 200);
    assert.equal(me.json.phone_number, '+55 11 99999-0000');
    assert.equal(me.json.email, 'clairton@example.com');
  });

  test('redirect_uri omitted (the client has only one registered)', T, async () => {
    const verifier = newVerifier();
    const r = await authorize({
      response_type: 'code',
      client_id: APP.id,
      state: 'omitted-redirect',
      code_challenge: s256(verifier),
      code_challenge_method: 'S256',
      scope: 'openid',
    });
    const res = await exchange({
      code: r.params.get('code'),
      grant_type: 'authorization_code',
      client_id: APP.id,
      code_verifier: verifier,
      client_secret: APP.secret,
    });
    assert.equal(res.status, 200, res.body);
    assert.ok(res.json.id_token);
  });

  test('PKCE plain with code_challenge_method omitted (RFC 7636 §4.3), for a client allowing plain', T, async () => {
    const verifier = newVerifier();
    const r = await httpAuthorize(
      authUrl({
        response_type: 'code',
        client_id: PLAIN.id,
        redirect_uri: PLAIN.redirect,
        state: 'plain-state',
        code_challenge: verifier,
        scope: 'openid profile',
      }),
      { jar: new CookieJar(), issuer: srv.issuer, ...USER },
    );
    assert.equal(r.kind, 'redirect');
    assert.equal(r.params.get('error'), null, `${r.params.get('error')}: ${r.params.get('error_description')}`);
    const wrong = await exchange({
      code: r.params.get('code'),
      grant_type: 'authorization_code',
      redirect_uri: PLAIN.redirect,
      client_id: PLAIN.id,
      code_verifier: s256(verifier), // the S256 transform is not what was registered
      client_secret: PLAIN.secret,
    });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.error, 'invalid_grant');
    const res = await exchange({
      code: r.params.get('code'),
      grant_type: 'authorization_code',
      redirect_uri: PLAIN.redirect,
      client_id: PLAIN.id,
      code_verifier: verifier,
      client_secret: PLAIN.secret,
    });
    assert.equal(res.status, 200, res.body);
    assert.ok(res.json.access_token);

    // The same request for a client registered for S256 only: an error back to the client.
    const s = await httpAuthorize(
      authUrl({
        response_type: 'code',
        client_id: APP.id,
        redirect_uri: APP.redirect,
        state: 'plain-refused',
        code_challenge: verifier,
        scope: 'openid',
      }),
      { jar: new CookieJar(), issuer: srv.issuer, ...USER },
    );
    assert.equal(s.kind, 'redirect');
    assert.equal(s.params.get('error'), 'invalid_request');
    assert.equal(s.params.get('state'), 'plain-refused');
  });

  test('offline access: offline_access + prompt=consent gives a refresh token, which works', T, async () => {
    const verifier = newVerifier();
    const r = await authorize({
      response_type: 'code',
      client_id: APP.id,
      redirect_uri: APP.redirect,
      state: 'offline-1',
      code_challenge: s256(verifier),
      code_challenge_method: 'S256',
      scope: 'openid profile offline_access',
      prompt: 'consent',
    });
    assert.ok(r.pages.includes('consent'));
    const res = await exchange({
      code: r.params.get('code'),
      grant_type: 'authorization_code',
      redirect_uri: APP.redirect,
      client_id: APP.id,
      code_verifier: verifier,
      client_secret: APP.secret,
    });
    assert.equal(res.status, 200, res.body);
    assert.ok(res.json.refresh_token, 'a refresh token');
    assert.equal(res.json.scope, 'openid profile offline_access');
    const rt = await exchange({
      grant_type: 'refresh_token',
      refresh_token: res.json.refresh_token,
      client_id: APP.id,
      client_secret: APP.secret,
    });
    assert.equal(rt.status, 200, rt.body);
    assert.ok(rt.json.access_token && rt.json.refresh_token && rt.json.refresh_token !== res.json.refresh_token);

    // Without prompt=consent, offline_access is dropped (OIDC Core §11) and there is no refresh token.
    const v2 = newVerifier();
    const r2 = await authorize({
      response_type: 'code',
      client_id: APP.id,
      redirect_uri: APP.redirect,
      state: 'offline-2',
      code_challenge: s256(v2),
      code_challenge_method: 'S256',
      scope: 'openid profile offline_access',
    });
    const res2 = await exchange({
      code: r2.params.get('code'),
      grant_type: 'authorization_code',
      redirect_uri: APP.redirect,
      client_id: APP.id,
      code_verifier: v2,
      client_secret: APP.secret,
    });
    assert.equal(res2.status, 200, res2.body);
    assert.equal(res2.json.refresh_token, undefined);
    assert.equal(res2.json.scope, 'openid profile');
  });

  test('client credentials: the document request (client_secret_post, scope=openid)', T, async () => {
    const res = await httpRequest(meta.token_endpoint, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&client_id=${CC.id}&client_secret=${CC.secret}&scope=openid`,
    });
    assert.equal(res.status, 200, res.body);
    assert.ok(res.json.access_token);
    assert.equal(res.json.token_type.toLowerCase(), 'bearer');
    assert.ok(Number.isInteger(res.json.expires_in) && res.json.expires_in > 0);
    assert.equal(res.json.scope, 'openid');
    assert.equal(res.json.id_token, undefined, 'no ID token without a user');
    assert.equal(res.json.refresh_token, undefined);
  });

  test('device flow: POST /device/auth, polling every 5 s while pending, the user confirms the code, tokens', { timeout: 40000 }, async () => {
    assert.equal(meta.device_authorization_endpoint, srv.url('/device/auth'));
    assert.ok(meta.grant_types_supported.includes(DEVICE_GRANT));
    // "Example request", as written.
    const auth = await httpRequest(meta.device_authorization_endpoint, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'client_id=mobile_application&scope=openid%20profile%20phone',
    });
    assert.equal(auth.status, 200, auth.body);
    const d = auth.json;
    assert.equal(typeof d.device_code, 'string');
    assert.match(d.user_code, /^[A-Z]{4}-[A-Z]{4}$/, 'a user code like MMQH-NCTW');
    assert.equal(d.verification_uri, srv.url('/device'));
    assert.equal(d.verification_uri_complete, `${srv.url('/device')}?user_code=${d.user_code}`);
    assert.equal(d.expires_in, 600);
    assert.equal(d.interval ?? 5, 5, 'the document polls every 5 seconds');

    // "Example of request token", repeated every 5 seconds until the user answers.
    const tokenRequest = () =>
      httpRequest(meta.token_endpoint, {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `device_code=${d.device_code}&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=mobile_application`,
      });
    const pending = await tokenRequest();
    assert.equal(pending.status, 400);
    assert.equal(pending.json.error, 'authorization_pending');
    assert.ok(pending.json.error_description);

    // "access verification_uri_complete and confirm the user code".
    const { res: done } = await deviceVerify(srv, d.user_code, { user: USER });
    assert.equal(done.status, 200);
    await new Promise((r) => setTimeout(r, 5000));
    const res = await tokenRequest();
    assert.equal(res.status, 200, res.body);
    assert.ok(res.json.access_token);
    assert.ok(res.json.id_token);
    assert.equal(res.json.scope, 'openid profile phone');
    assert.equal(res.json.token_type.toLowerCase(), 'bearer');
    assert.ok(Number.isInteger(res.json.expires_in) && res.json.expires_in > 0);
    const idt = JSON.parse(Buffer.from(res.json.id_token.split('.')[1], 'base64url').toString());
    assert.equal(idt.aud, MOBILE.id);
    assert.equal(idt.iss, srv.issuer);
    const me = await httpRequest(meta.userinfo_endpoint, { headers: { authorization: `Bearer ${res.json.access_token}` } });
    assert.equal(me.status, 200);
    assert.equal(me.json.phone_number, '+55 11 99999-0000');
    assert.equal(me.json.name, 'Clairton Luz');
  });

  test('device flow: the user refuses, and the poll gets access_denied', { timeout: 40000 }, async () => {
    const auth = await httpRequest(meta.device_authorization_endpoint, {
      body: 'client_id=mobile_application&scope=openid%20profile%20phone',
    });
    assert.equal(auth.status, 200, auth.body);
    const { res: done } = await deviceVerify(srv, auth.json.user_code, { user: USER, decision: 'deny' });
    assert.equal(done.status, 200);
    const res = await httpRequest(meta.token_endpoint, {
      body: `device_code=${auth.json.device_code}&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=mobile_application`,
    });
    assert.equal(res.status, 400);
    assert.equal(res.json.error, 'access_denied');
    assert.ok(res.json.error_description);
  });
});
