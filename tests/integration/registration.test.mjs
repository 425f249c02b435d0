// registration.test.mjs: dynamic client registration (RFC 7591, OIDC Dynamic Registration) and its
// management protocol (RFC 7592) end to end. openid-client's dynamicClientRegistration and oauth4webapi's
// dynamicClientRegistrationRequest register clients with an initial access token from `ostiary
// registration token create`; the registered clients sign a user in (code flow over HTTP, and with PAR),
// are read, replaced and deleted with their registration access token, and appear in `ostiary client
// list` with their origin. Negative cases: missing, wrong, expired and used initial access tokens, wrong
// registration access tokens, a javascript: redirect URI, malformed metadata, every policy of
// registration.*, the rate limit per address, and registration off by default.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';

import { CookieJar, httpAuthorize, httpRequest, insecure, newChecks, rejection, startCallback } from './lib/flow.mjs';
import { OSTIARY_BIN, startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const ALICE = { username: 'alice', password: 'wonderland rabbit hole' };

let srv;
let cb;

before(async () => {
  cb = await startCallback();
  srv = await startServer({
    config: `
log_level: info
resources:
  - identifier: "https://api.example.com/"
    scopes: [read, write]
registration:
  enabled: true
  allow_localhost: true
  redirect_uri_hosts: [rp.example.com, "*.apps.example.com"]
  scopes: [openid, profile, read]
  resources: ["https://api.example.com/"]
  rate_limit: 1000
users:
  - username: ${ALICE.username}
    password: "${ALICE.password}"
`,
  });
});

after(async () => {
  await srv?.stop();
  await cb?.close();
});

/** Runs the ostiary CLI against the server's configuration; resolves { status, stdout, stderr }. */
function cli(...args) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OSTIARY_')));
  const r = spawnSync(OSTIARY_BIN, [...args, '--config', srv.configFile], { encoding: 'utf8', cwd: srv.dir, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function newIat(...opts) {
  const r = cli('registration', 'token', 'create', ...opts);
  assert.equal(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.match(o.initial_access_token, /^[A-Za-z0-9_-]{43}$/);
  return o.initial_access_token;
}

/** POST /reg with a JSON body (an object, or raw text) and an optional Bearer token. */
async function register(body, token, s = srv) {
  const res = await fetch(s.url('/reg'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, json, body: text };
}

/** A request to a registration_client_uri with a Bearer token. */
async function manage(uri, token, method = 'GET', body) {
  const res = await fetch(uri, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, json };
}

const webMeta = () => ({
  client_name: 'Registered RP',
  redirect_uris: [cb.url('/cb')],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: 'openid read',
});

/** Signs ALICE in through the pages for the configuration cfg and redeems the code with openid-client. */
async function signIn(cfg, { par = false, scope = 'openid' } = {}) {
  const checks = await newChecks();
  const params = {
    redirect_uri: cb.url('/cb'),
    scope,
    state: checks.state,
    code_challenge: checks.challenge,
    code_challenge_method: 'S256',
  };
  const url = par
    ? await client.buildAuthorizationUrlWithPAR(cfg, params)
    : client.buildAuthorizationUrl(cfg, params);
  const r = await httpAuthorize(url, { jar: new CookieJar(), issuer: srv.issuer, ...ALICE });
  assert.equal(r.kind, 'redirect', `pages: ${r.pages}`);
  return client.authorizationCodeGrant(cfg, new URL(r.url), {
    pkceCodeVerifier: checks.verifier,
    expectedState: checks.state,
  });
}

describe('discovery', () => {
  test('registration_endpoint when registration is on', T, async () => {
    const m = (await httpRequest(srv.url('/.well-known/openid-configuration'))).json;
    assert.equal(m.registration_endpoint, srv.url('/reg'));
  });
});

describe('openid-client and oauth4webapi', () => {
  test('openid-client: dynamicClientRegistration, the code flow with and without PAR, RFC 7592', T, async () => {
    const token = newIat();
    // openid-client authenticates a registered client with client_secret_post unless told otherwise.
    const cfg = await client.dynamicClientRegistration(new URL(srv.issuer), { ...webMeta(), token_endpoint_auth_method: 'client_secret_post' }, undefined, {
      initialAccessToken: token,
      ...insecure,
    });
    const meta = cfg.clientMetadata();
    assert.match(meta.client_id, /^[A-Za-z0-9_-]{22}$/);
    assert.ok(meta.client_secret);
    assert.equal(meta.client_secret_expires_at, 0);
    assert.ok(Number.isInteger(meta.client_id_issued_at));
    assert.deepEqual(meta.redirect_uris, [cb.url('/cb')]);
    assert.deepEqual(meta.response_types, ['code']);
    assert.equal(meta.scope, 'openid read');
    assert.equal(meta.registration_client_uri, srv.url(`/reg/${meta.client_id}`));

    const tokens = await signIn(cfg, { scope: 'openid read' });
    assert.ok(tokens.access_token && tokens.refresh_token === undefined);
    const pushed = await signIn(cfg, { par: true });
    assert.ok(pushed.access_token);

    // RFC 7592 §2.1: read.
    const read = await manage(meta.registration_client_uri, meta.registration_access_token);
    assert.equal(read.status, 200);
    assert.equal(read.headers.get('cache-control'), 'no-store');
    assert.equal(read.json.client_id, meta.client_id);
    assert.equal(read.json.client_name, 'Registered RP');
    assert.equal(read.json.client_secret, undefined, 'the secret is shown once, at registration');
    assert.equal(read.json.registration_access_token, meta.registration_access_token);

    // The CLI lists it with its origin.
    const list = cli('client', 'list');
    assert.equal(list.status, 0, list.stderr);
    const line = list.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((c) => c.client_id === meta.client_id);
    assert.equal(line.origin, 'registration');
    assert.equal(line.from_config, false);

    // §2.2: replace. Omitted fields go back to their defaults; the secret stays.
    const upd = await manage(meta.registration_client_uri, meta.registration_access_token, 'PUT', {
      client_id: meta.client_id,
      client_secret: meta.client_secret,
      client_name: 'Renamed RP',
      redirect_uris: ['https://rp.example.com/cb', cb.url('/cb')],
      token_endpoint_auth_method: 'client_secret_post',
    });
    assert.equal(upd.status, 200, JSON.stringify(upd.json));
    assert.equal(upd.json.client_name, 'Renamed RP');
    assert.deepEqual(upd.json.grant_types, ['authorization_code']);
    assert.equal(upd.json.scope, 'openid profile read', 'no scope: the policy scopes');
    assert.equal(upd.json.client_secret, undefined);
    const again = await signIn(cfg);
    assert.ok(again.access_token, 'the secret still works after the update');

    // §2.3: delete; the token, the client and its grants are gone.
    const del = await manage(meta.registration_client_uri, meta.registration_access_token, 'DELETE');
    assert.equal(del.status, 204);
    const gone = await manage(meta.registration_client_uri, meta.registration_access_token);
    assert.equal(gone.status, 401);
    assert.equal(gone.json.error, 'invalid_token');
    const e = await rejection(client.refreshTokenGrant(cfg, 'x'));
    assert.equal(e.status ?? e.cause?.status, 401);
  });

  test('oauth4webapi: dynamicClientRegistrationRequest for a public client, then the code grant', T, async () => {
    const as = await oauth.processDiscoveryResponse(
      new URL(srv.issuer),
      await oauth.discoveryRequest(new URL(srv.issuer), { [oauth.allowInsecureRequests]: true }),
    );
    const res = await oauth.dynamicClientRegistrationRequest(
      as,
      { redirect_uris: [cb.url('/cb')], token_endpoint_auth_method: 'none', application_type: 'native' },
      { initialAccessToken: newIat('--single-use'), [oauth.allowInsecureRequests]: true },
    );
    assert.equal(res.status, 201);
    const c = await oauth.processDynamicClientRegistrationResponse(res);
    assert.equal(c.client_secret, undefined);
    assert.equal(c.token_endpoint_auth_method, 'none');
    assert.equal(c.require_pkce, true);
    const cfg = new client.Configuration(
      await client.discovery(new URL(srv.issuer), c.client_id, undefined, client.None(), insecure).then((x) =>
        x.serverMetadata(),
      ),
      c.client_id,
      undefined,
      client.None(),
    );
    client.allowInsecureRequests(cfg);
    const tokens = await signIn(cfg);
    assert.ok(tokens.access_token);
  });
});

describe('initial access tokens', () => {
  test('missing, wrong or expired: 401 invalid_token with a Bearer challenge', T, async () => {
    const none = await register(webMeta());
    assert.equal(none.status, 401);
    assert.equal(none.json.error, 'invalid_token');
    assert.match(none.headers.get('www-authenticate'), /^Bearer /);
    const wrong = await register(webMeta(), 'not-a-token');
    assert.equal(wrong.status, 401);
    assert.match(wrong.json.error_description, /not valid/);
    const short = newIat('--expires-in', '1');
    await new Promise((r) => setTimeout(r, 2100));
    const expired = await register(webMeta(), short);
    assert.equal(expired.status, 401);
    assert.match(expired.json.error_description, /expired/);
  });

  test('a single-use token registers once; a reusable one many times', T, async () => {
    const once = newIat('--single-use');
    assert.equal((await register(webMeta(), once)).status, 201);
    const second = await register(webMeta(), once);
    assert.equal(second.status, 401);
    assert.match(second.json.error_description, /already used/);
    const many = newIat();
    assert.equal((await register(webMeta(), many)).status, 201);
    assert.equal((await register(webMeta(), many)).status, 201);
  });

  test('the CLI refuses a bad --expires-in', T, async () => {
    const r = cli('registration', 'token', 'create', '--expires-in', '0');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--expires-in/);
  });
});

describe('metadata checks and the policy', () => {
  const cases = [
    [{ redirect_uris: ['javascript:alert(document.domain)//'] }, 'invalid_redirect_uri', /javascript: scheme/],
    [{ redirect_uris: ['https://evil.example.org/cb'] }, 'invalid_redirect_uri', /host .* not allowed/],
    [{ redirect_uris: ['https://x.apps.example.com/cb'] }, null],
    [{ redirect_uris: ['com.example.app:/cb'] }, 'invalid_redirect_uri', /scheme 'com.example.app' is not allowed/],
    [{ redirect_uris: ['https://rp.example.com/cb#frag'] }, 'invalid_redirect_uri', /without fragment/],
    [{ redirect_uris: 'https://rp.example.com/cb' }, 'invalid_redirect_uri', /array of strings/],
    [{ redirect_uris: [] }, 'invalid_redirect_uri', /redirect/],
    [{ grant_types: ['client_credentials'], response_types: [] }, 'invalid_client_metadata', /registration.grant_types/],
    [{ grant_types: ['implicit'], response_types: ['id_token'] }, 'invalid_client_metadata', /'implicit' is not allowed/],
    [{ grant_types: ['authorization_code', 'implicit'], response_types: ['code id_token'] }, 'invalid_client_metadata', /'implicit' is not allowed/],
    [{ response_types: ['token'] }, 'invalid_client_metadata', /token/],
    [{ grant_types: ['refresh_token'], response_types: ['code'] }, 'invalid_client_metadata', /./],
    [{ scope: 'openid write' }, 'invalid_client_metadata', /'write' is not allowed/],
    [{ token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata', /token_endpoint_auth_method/],
    [{ client_name: 42 }, 'invalid_client_metadata', /client_name: must be a string/],
    [{ id_token_signed_response_alg: 'HS256' }, 'invalid_client_metadata', /keys.algorithms/],
    [{ post_logout_redirect_uris: ['data:text/html,hi'] }, 'invalid_client_metadata', /data: scheme/],
  ];
  for (const [change, error, description] of cases) {
    test(`${JSON.stringify(change)} -> ${error ?? 201}`, T, async () => {
      const r = await register({ ...webMeta(), ...change }, newIat());
      if (error === null) {
        assert.equal(r.status, 201, r.body);
        return;
      }
      assert.equal(r.status, 400, r.body);
      assert.equal(r.json.error, error);
      assert.match(r.json.error_description, description);
    });
  }

  test('not JSON, or not an object, or another content type', T, async () => {
    const t = newIat();
    for (const body of ['{', '[]', '{"a":1,"a":2}']) {
      const r = await register(body, t);
      assert.equal(r.status, 400, body);
      assert.equal(r.json.error, 'invalid_client_metadata');
    }
    const form = await fetch(srv.url('/reg'), {
      method: 'POST',
      headers: { authorization: `Bearer ${t}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'redirect_uris=x',
    });
    assert.equal(form.status, 400);
  });

  test('operator settings in the request are ignored: no API beyond the policy, own introspection', T, async () => {
    const r = await register(
      { ...webMeta(), resources: ['urn:other'], introspection_access: 'all', access_token_ttl: 99999, client_secret: 'mine' },
      newIat(),
    );
    assert.equal(r.status, 201, r.body);
    assert.deepEqual(r.json.resources, ['https://api.example.com/']);
    assert.equal(r.json.introspection_access, 'own');
    assert.equal(r.json.access_token_ttl, undefined);
    assert.notEqual(r.json.client_secret, 'mine');
  });
});

describe('registration access tokens', () => {
  test('wrong, missing, or another client\'s: 401; PUT checks as POST does', T, async () => {
    const a = (await register(webMeta(), newIat())).json;
    const b = (await register(webMeta(), newIat())).json;
    assert.equal((await manage(a.registration_client_uri, 'nope')).status, 401);
    assert.equal((await manage(a.registration_client_uri)).status, 401);
    assert.equal((await manage(a.registration_client_uri, b.registration_access_token)).status, 401);
    assert.equal((await manage(srv.url('/reg/unknown'), a.registration_access_token)).status, 401);
    const js = await manage(a.registration_client_uri, a.registration_access_token, 'PUT', {
      client_id: a.client_id,
      redirect_uris: ['javascript:alert(1)'],
    });
    assert.equal(js.status, 400);
    assert.equal(js.json.error, 'invalid_redirect_uri');
    const other = await manage(a.registration_client_uri, a.registration_access_token, 'PUT', {
      client_id: b.client_id,
      redirect_uris: [cb.url('/cb')],
    });
    assert.equal(other.status, 400);
    assert.match(other.json.error_description, /client_id/);
    const secret = await manage(a.registration_client_uri, a.registration_access_token, 'PUT', {
      client_id: a.client_id,
      client_secret: 'guess',
      redirect_uris: [cb.url('/cb')],
    });
    assert.equal(secret.status, 400);
    assert.match(secret.json.error_description, /client_secret/);
    const post = await fetch(a.registration_client_uri, { method: 'POST' });
    assert.equal(post.status, 405);
    // Unchanged by the refused updates.
    const read = await manage(a.registration_client_uri, a.registration_access_token);
    assert.deepEqual(read.json.redirect_uris, [cb.url('/cb')]);
  });
});

describe('open registration and the rate limit', () => {
  test('registration.open needs no token; the address is limited to rate_limit registrations', T, async () => {
    const s2 = await startServer({
      config: `
registration:
  enabled: true
  open: true
  rate_limit: 2
`,
    });
    try {
      const meta = { redirect_uris: ['https://rp.example.com/cb'] };
      assert.equal((await register(meta, undefined, s2)).status, 201);
      assert.equal((await register(meta, undefined, s2)).status, 201);
      const third = await register(meta, undefined, s2);
      assert.equal(third.status, 429);
      assert.ok(Number(third.headers.get('retry-after')) > 0);
      assert.match(third.json.error_description, /too many registrations/);
    } finally {
      await s2.stop();
    }
  });

  test('off by default: /reg is 404 and not advertised', T, async () => {
    const s3 = await startServer({ config: '' });
    try {
      const r = await register({ redirect_uris: ['https://rp.example.com/cb'] }, undefined, s3);
      assert.equal(r.status, 404);
      assert.equal((await manage(s3.url('/reg/x'), 'y')).status, 404);
    } finally {
      await s3.stop();
    }
  });
});

describe('JWT clients (private_key_jwt, client_secret_jwt) when registration.auth_methods allows them', () => {
  let s4;
  let as;
  before(async () => {
    s4 = await startServer({
      config: `
log_level: info
resources:
  - identifier: "https://api.example.com/"
    scopes: [read, write]
registration:
  enabled: true
  open: true
  redirect_uri_hosts: [rp.example.com]
  grant_types: [authorization_code, client_credentials]
  auth_methods: [private_key_jwt, client_secret_jwt]
  scopes: [openid, read]
  resources: ["https://api.example.com/"]
  rate_limit: 1000
`,
    });
    as = await oauth.processDiscoveryResponse(
      new URL(s4.issuer),
      await oauth.discoveryRequest(new URL(s4.issuer), { [oauth.allowInsecureRequests]: true }),
    );
  });
  after(async () => {
    await s4?.stop();
  });

  test('oauth4webapi: register a private_key_jwt client with its jwks, then client_credentials with PrivateKeyJwt', T, async () => {
    const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await jose.exportJWK(publicKey)), kid: 'reg-1', use: 'sig', alg: 'ES256' };
    const res = await oauth.dynamicClientRegistrationRequest(
      as,
      {
        redirect_uris: ['https://rp.example.com/cb'], grant_types: ['client_credentials'], response_types: [],
        token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [jwk] },
        scope: 'read',
      },
      { [oauth.allowInsecureRequests]: true },
    );
    assert.equal(res.status, 201);
    const c = await oauth.processDynamicClientRegistrationResponse(res);
    assert.equal(c.token_endpoint_auth_method, 'private_key_jwt');
    assert.equal(c.client_secret, undefined, 'a private_key_jwt client gets no secret');
    assert.deepEqual(c.jwks, { keys: [jwk] });
    const tr = await oauth.clientCredentialsGrantRequest(as, c, oauth.PrivateKeyJwt({ key: privateKey, kid: 'reg-1' }),
      new URLSearchParams({ scope: 'read', resource: 'https://api.example.com/' }), { [oauth.allowInsecureRequests]: true });
    const tokens = await oauth.processClientCredentialsResponse(as, c, tr);
    assert.ok(tokens.access_token);
    // Its registration read back (RFC 7592) keeps the keys; the registration access token works.
    const got = await manage(c.registration_client_uri, c.registration_access_token);
    assert.equal(got.status, 200);
    assert.deepEqual(got.json.jwks, { keys: [jwk] });
  });

  test('openid-client: register a client_secret_jwt client, then ClientSecretJwt with the issued secret', T, async () => {
    const cfg = await client.dynamicClientRegistration(new URL(s4.issuer), {
      redirect_uris: ['https://rp.example.com/cb'], grant_types: ['client_credentials'], response_types: [],
      token_endpoint_auth_method: 'client_secret_jwt', scope: 'read',
    }, undefined, { execute: [client.allowInsecureRequests] });
    const meta = cfg.clientMetadata();
    assert.ok(meta.client_secret && meta.client_secret.length >= 64, 'a secret long enough for HS512');
    const c2 = new client.Configuration(cfg.serverMetadata(), meta.client_id, undefined, client.ClientSecretJwt(meta.client_secret));
    client.allowInsecureRequests(c2);
    const tokens = await client.clientCredentialsGrant(c2, { scope: 'read', resource: 'https://api.example.com/' });
    assert.ok(tokens.access_token);
    // The secret is not accepted in clear from this client.
    const basic = await fetch(s4.url('/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${meta.client_id}:${meta.client_secret}`).toString('base64')}` },
      body: 'grant_type=client_credentials',
    });
    assert.equal(basic.status, 401);
  });

  test('refused: a method the policy does not allow, a private key in jwks, no keys', T, async () => {
    const bad = async (m, re) => {
      const r = await register({ redirect_uris: ['https://rp.example.com/cb'], grant_types: ['client_credentials'],
        response_types: [], scope: 'read', ...m }, undefined, s4);
      assert.equal(r.status, 400, r.body);
      assert.equal(r.json.error, 'invalid_client_metadata');
      assert.match(r.json.error_description, re);
    };
    await bad({ token_endpoint_auth_method: 'client_secret_basic' }, /'client_secret_basic' is not allowed here \(registration.auth_methods\)/);
    const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
    await bad({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [await jose.exportJWK(privateKey)] } }, /jwks/);
    await bad({ token_endpoint_auth_method: 'private_key_jwt' }, /requires jwks or jwks_uri/);
    await bad({ token_endpoint_auth_method: 'private_key_jwt', jwks: '{"keys":[]}' }, /jwks: must be a JSON object/);
  });

  test('the default policy refuses private_key_jwt', T, async () => {
    const { publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
    const r = await register({ redirect_uris: ['https://rp.example.com/cb'], token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [await jose.exportJWK(publicKey)] } }, newIat());
    assert.equal(r.status, 400, r.body);
    assert.match(r.json.error_description, /'private_key_jwt' is not allowed here \(registration.auth_methods\)/);
  });
});
