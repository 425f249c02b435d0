// admin_api.test.mjs: the admin API (docs/admin-api.yaml) on the admin listener. The OpenAPI document is
// validated as OpenAPI 3.1 (@apidevtools/swagger-parser) and every live response below against it (Ajv,
// JSON Schema 2020-12). Authorization per RFC 6750 (no token, another audience, missing scope, expired,
// revoked); clients (create, list with paging, show, update, delete, rotate secret, revoke grants), users
// (create, update, disable, delete, set password), consents, sessions and grants of a user, keys; the
// same messages as the CLI; the audit log, which never holds a secret.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import SwaggerParser from '@apidevtools/swagger-parser';

import {
  ADMIN, adminFetch, adminToken, openapiDocument, responseChecker, rpClientYaml, startAdminServer,
} from './lib/admin.mjs';
import { CookieJar, signInAndRedeem } from './lib/flow.mjs';
import { API, CLIENTS, OSTIARY_BIN, decodeJwt, postForm } from './lib/server.mjs';

const RP = { id: 'rp-app', secret: 'rp-app-secret', redirect: 'https://rp.example.com/callback' };
const PASSWORD = 'correct horse battery staple';
const NEW_CLIENT_SECRET_RE = /^[A-Za-z0-9_-]{43}$/;

let srv;
let check;
let token; // ostiary:admin
const secretsSeen = []; // every secret and password these tests handled: never in the log

before(async () => {
  srv = await startAdminServer({ extra: rpClientYaml(RP, 'openid profile email offline_access') });
  check = responseChecker();
  token = await adminToken(srv, ADMIN.all);
  secretsSeen.push(PASSWORD, ...Object.values(ADMIN).map((c) => c.secret));
});
after(async () => {
  await srv?.stop();
});

test('docs/admin-api.yaml is a valid OpenAPI 3.1 document', async () => {
  const doc = openapiDocument();
  assert.equal(doc.openapi, '3.1.0');
  await SwaggerParser.validate(structuredClone(doc));
});

describe('authorization (RFC 6750)', () => {
  test('no token: 401 with a plain Bearer challenge', async () => {
    const r = check(await adminFetch(srv, '/admin/clients'), 'listClients');
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="ostiary-admin"');
    assert.equal(r.headers.get('content-type'), 'application/problem+json');
    // Another scheme is no bearer token either.
    const basic = await adminFetch(srv, '/admin/clients', { headers: { authorization: 'Basic YTpi' } });
    assert.equal(basic.status, 401);
    assert.equal(basic.headers.get('www-authenticate'), 'Bearer realm="ostiary-admin"');
  });

  test('a token for another audience: 401 invalid_token', async () => {
    // The admin client's token without resource (opaque, no audience), and another client's token for an API.
    const noAud = await adminToken(srv, ADMIN.all, { resource: null });
    const other = await adminToken(srv, CLIENTS.basic, { resource: API.rs256 });
    for (const t of [noAud, other]) {
      const r = check(await adminFetch(srv, '/admin/clients', { token: t }), 'listClients');
      assert.equal(r.status, 401);
      assert.match(r.headers.get('www-authenticate'), /^Bearer realm="ostiary-admin", error="invalid_token"/);
      assert.equal(r.json.type, 'urn:ostiary:problem:invalid-token');
    }
  });

  test('a token without the route scope: 403 insufficient_scope naming it', async () => {
    const metricsOnly = await adminToken(srv, ADMIN.metrics);
    const r = check(await adminFetch(srv, '/admin/clients', { token: metricsOnly }), 'listClients');
    assert.equal(r.status, 403);
    assert.match(r.headers.get('www-authenticate'), /error="insufficient_scope"/);
    assert.match(r.headers.get('www-authenticate'), /scope="ostiary:clients"/);
    // The finer scope opens its part only.
    const clientsOnly = await adminToken(srv, ADMIN.clients);
    check(await adminFetch(srv, '/admin/clients', { token: clientsOnly }), 'listClients');
    const users = check(await adminFetch(srv, '/admin/users', { token: clientsOnly }), 'listUsers');
    assert.equal(users.status, 403);
    assert.match(users.headers.get('www-authenticate'), /scope="ostiary:users"/);
    // A client without any admin scope gets a token with none: 403 everywhere.
    const none = await adminToken(srv, CLIENTS.basic);
    assert.equal((await adminFetch(srv, '/admin/keys', { token: none })).status, 403);
  });

  test('an expired token: 401 invalid_token', async () => {
    // exp is in whole seconds: a 2 s lifetime is at least 1 s long, so the first call is always in time,
    // and at most 2 s long, so 3.1 s later the token has always expired.
    const t = await adminToken(srv, ADMIN.short);
    assert.equal((await adminFetch(srv, '/admin/keys', { token: t })).status, 200);
    await new Promise((r) => setTimeout(r, 3100));
    const r = check(await adminFetch(srv, '/admin/keys', { token: t }), 'listKeys');
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
  });

  test('a revoked token: 401 invalid_token', async () => {
    const t = await adminToken(srv, ADMIN.clients);
    assert.equal((await adminFetch(srv, '/admin/clients', { token: t })).status, 200);
    const rev = await postForm(srv.url('/token/revocation'), { token: t }, { auth: [ADMIN.clients.id, ADMIN.clients.secret] });
    assert.equal(rev.status, 200);
    const r = check(await adminFetch(srv, '/admin/clients', { token: t }), 'listClients');
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
  });

  test('tokens for the admin API are issued through client_credentials only', async () => {
    const url = new URL(srv.url('/auth'));
    url.search = new URLSearchParams({
      response_type: 'code', client_id: RP.id, redirect_uri: RP.redirect, scope: 'openid', resource: srv.adminApi,
      state: 's', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
    }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    assert.ok([302, 303].includes(res.status), String(res.status));
    const loc = new URL(res.headers.get('location'));
    assert.equal(loc.searchParams.get('error'), 'invalid_target');
    // And the discovery document does not name its scopes.
    const md = await (await fetch(srv.url('/.well-known/openid-configuration'))).json();
    assert.ok(!md.scopes_supported.some((s) => s.startsWith('ostiary:')));
  });

  test('unknown path 404, wrong method 405 with Allow, no OAuth endpoint on the admin listener', async () => {
    const nf = await adminFetch(srv, '/admin/nothing', { token });
    assert.equal(nf.status, 404);
    assert.equal(nf.json.type, 'about:blank');
    const m = await adminFetch(srv, '/admin/keys', { method: 'DELETE', token });
    assert.equal(m.status, 405);
    assert.equal(m.headers.get('allow'), 'GET, HEAD');
    assert.equal((await adminFetch(srv, '/jwks')).status, 404);
  });
});

/** The reason of a CLI refusal: what follows "<option>: " in its last stderr line. */
function cliReason(args) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OSTIARY_')));
  const r = spawnSync(OSTIARY_BIN, [...args, '--config', srv.configFile], { encoding: 'utf8', cwd: srv.dir, env });
  assert.equal(r.status, 1, r.stderr);
  const line = r.stderr.trim().split('\n').pop();
  return line.replace(/^ostiary: [a-z]+ [a-z-]+: (--[a-z-]+|[A-Z]+): /, '');
}

describe('clients', () => {
  let created;

  test('create: 201, Location, the secret once; it works at the token endpoint', async () => {
    const r = check(
      await adminFetch(srv, '/admin/clients', {
        method: 'POST',
        token,
        json: { client_id: 'svc-1', client_name: 'Service one', scope: 'read write', resources: [API.rs256] },
      }),
      'createClient',
    );
    assert.equal(r.status, 201, r.body);
    assert.equal(r.headers.get('location'), '/admin/clients/svc-1');
    assert.deepEqual(r.json.grant_types, ['client_credentials']);
    assert.match(r.json.client_secret, NEW_CLIENT_SECRET_RE);
    assert.equal(r.json.client_secret_expires_at, 0);
    assert.equal(r.json.has_secret, true);
    created = r.json;
    secretsSeen.push(created.client_secret);
    const t = await postForm(srv.url('/token'), { grant_type: 'client_credentials', resource: API.rs256 }, {
      auth: ['svc-1', created.client_secret],
    });
    assert.equal(t.status, 200, t.body);
    assert.equal(decodeJwt(t.json.access_token).payload.client_id, 'svc-1');
    // Again: 409. Generated id: 43 characters.
    const again = check(await adminFetch(srv, '/admin/clients', { method: 'POST', token, json: { client_id: 'svc-1' } }), 'createClient');
    assert.equal(again.status, 409);
    const gen = check(await adminFetch(srv, '/admin/clients', { method: 'POST', token, json: { redirect_uris: ['https://a.example.com/cb'] } }), 'createClient');
    assert.equal(gen.status, 201);
    assert.match(gen.json.client_id, NEW_CLIENT_SECRET_RE);
    assert.deepEqual(gen.json.grant_types, ['authorization_code']);
    secretsSeen.push(gen.json.client_secret);
  });

  test('show never has a secret; list pages by client_id', async () => {
    const r = check(await adminFetch(srv, '/admin/clients/svc-1', { token }), 'showClient');
    assert.equal(r.status, 200);
    assert.equal(r.json.client_secret, undefined);
    assert.equal(r.json.client_name, 'Service one');
    const all = [];
    let after;
    for (let pages = 0; pages < 50; pages++) {
      const q = new URLSearchParams({ limit: '2', ...(after ? { after } : {}) });
      const page = check(await adminFetch(srv, `/admin/clients?${q}`, { token }), 'listClients');
      assert.equal(page.status, 200);
      assert.ok(page.json.clients.length <= 2);
      all.push(...page.json.clients.map((c) => c.client_id));
      if (page.json.next === null) break;
      after = page.json.next;
    }
    assert.deepEqual(all, [...all].sort(), 'in client_id order');
    assert.equal(new Set(all).size, all.length, 'no client twice');
    for (const id of ['svc-1', CLIENTS.basic.id, ADMIN.all.id]) assert.ok(all.includes(id), id);
    const bad = check(await adminFetch(srv, '/admin/clients?limit=0', { token }), 'listClients');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.type, 'urn:ostiary:problem:invalid-request');
    assert.equal((await adminFetch(srv, '/admin/clients/no-such-client', { token })).status, 404);
    // Identifiers in a path are percent-encoded.
    const odd = check(await adminFetch(srv, `/admin/clients/${encodeURIComponent(CLIENTS.odd.id)}`, { token }), 'showClient');
    assert.equal(odd.json.client_id, CLIENTS.odd.id);
  });

  test('update merges (null removes); the metadata rules and messages are those of the CLI', async () => {
    const r = check(
      await adminFetch(srv, '/admin/clients/svc-1', {
        method: 'PATCH',
        token,
        json: { client_name: null, scope: 'read' },
        contentType: 'application/merge-patch+json',
      }),
      'updateClient',
    );
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.client_name, undefined);
    assert.equal(r.json.scope, 'read');
    assert.deepEqual(r.json.resources, [API.rs256], 'untouched members stay');

    // A redirect URI the rules refuse: the CLI's reason, RFC 7591's code, the field and its index.
    const uri = 'http://rp.example.com/cb';
    const bad = check(
      await adminFetch(srv, '/admin/clients', { method: 'POST', token, json: { redirect_uris: ['https://ok.example.com/cb', uri] } }),
      'createClient',
    );
    assert.equal(bad.status, 400);
    assert.equal(bad.json.type, 'urn:ostiary:problem:invalid-client-metadata');
    assert.equal(bad.json.error, 'invalid_redirect_uri');
    assert.equal(bad.json.field, 'redirect_uris');
    assert.equal(bad.json.index, 1);
    const reason = cliReason(['client', 'create', '--redirect-uri', uri]);
    assert.equal(bad.json.detail, `redirect_uris: ${reason}`);

    const alg = check(
      await adminFetch(srv, '/admin/clients/svc-1', { method: 'PATCH', token, json: { id_token_signed_response_alg: 'HS256' } }),
      'updateClient',
    );
    assert.equal(alg.status, 400);
    assert.equal(alg.json.error, 'invalid_client_metadata');
    assert.equal(alg.json.detail, `id_token_signed_response_alg: ${cliReason(['client', 'update', 'svc-1', '--id-token-alg', 'HS256'])}`);

    // Types and unknown members, the body's media type.
    const typed = check(await adminFetch(srv, '/admin/clients/svc-1', { method: 'PATCH', token, json: { redirect_uris: 'https://x.example.com/cb' } }), 'updateClient');
    assert.equal(typed.status, 400);
    assert.equal(typed.json.field, 'redirect_uris');
    const unknown = check(await adminFetch(srv, '/admin/clients', { method: 'POST', token, json: { client_nmae: 'typo' } }), 'createClient');
    assert.equal(unknown.status, 400);
    assert.match(unknown.json.detail, /unknown client metadata field 'client_nmae'/);
    const form = check(await adminFetch(srv, '/admin/clients', { method: 'POST', token, body: 'client_name=x', contentType: 'application/x-www-form-urlencoded' }), 'createClient');
    assert.equal(form.status, 415);
    const notJson = check(await adminFetch(srv, '/admin/clients', { method: 'POST', token, body: '{"a":', contentType: 'application/json' }), 'createClient');
    assert.equal(notJson.status, 400);
  });

  test('clients of the configuration file are read-only', async () => {
    for (const [method, p, op] of [
      ['PATCH', `/admin/clients/${CLIENTS.basic.id}`, 'updateClient'],
      ['DELETE', `/admin/clients/${CLIENTS.basic.id}`, 'deleteClient'],
      ['POST', `/admin/clients/${CLIENTS.basic.id}/secret`, 'rotateClientSecret'],
    ]) {
      const r = check(await adminFetch(srv, p, { method, token, json: method === 'PATCH' ? { scope: 'read' } : undefined }), op);
      assert.equal(r.status, 409, `${method} ${p}`);
      assert.match(r.json.detail, /declared in the configuration file/);
    }
    const r = check(await adminFetch(srv, '/admin/clients', { method: 'POST', token, json: { client_id: CLIENTS.basic.id } }), 'createClient');
    assert.equal(r.status, 409);
  });

  test('rotate the secret: the old one stops working, the new one works', async () => {
    const r = check(await adminFetch(srv, '/admin/clients/svc-1/secret', { method: 'POST', token }), 'rotateClientSecret');
    assert.equal(r.status, 200);
    assert.match(r.json.client_secret, NEW_CLIENT_SECRET_RE);
    assert.notEqual(r.json.client_secret, created.client_secret);
    secretsSeen.push(r.json.client_secret);
    const old = await postForm(srv.url('/token'), { grant_type: 'client_credentials' }, { auth: ['svc-1', created.client_secret] });
    assert.equal(old.status, 401);
    const now = await postForm(srv.url('/token'), { grant_type: 'client_credentials' }, { auth: ['svc-1', r.json.client_secret] });
    assert.equal(now.status, 200);
    created.client_secret = r.json.client_secret;
  });

  test('delete: 204, then 404, and its tokens are no longer active', async () => {
    const t = await postForm(srv.url('/token'), { grant_type: 'client_credentials', resource: API.opaque }, {
      auth: ['svc-1', created.client_secret],
    });
    assert.equal(t.status, 400, 'svc-1 may only target rs256');
    const jwt = await postForm(srv.url('/token'), { grant_type: 'client_credentials', resource: API.rs256 }, {
      auth: ['svc-1', created.client_secret],
    });
    const r = check(await adminFetch(srv, '/admin/clients/svc-1', { method: 'DELETE', token }), 'deleteClient');
    assert.equal(r.status, 204);
    assert.equal(check(await adminFetch(srv, '/admin/clients/svc-1', { token }), 'showClient').status, 404);
    assert.equal(check(await adminFetch(srv, '/admin/clients/svc-1', { method: 'DELETE', token }), 'deleteClient').status, 404);
    // The client cache of the token endpoints lives 5 s.
    await new Promise((res) => setTimeout(res, 5200));
    const intro = await postForm(srv.url('/token/introspection'), { token: jwt.json.access_token }, {
      auth: [CLIENTS.basic.id, CLIENTS.basic.secret],
    });
    assert.equal(intro.json.active, false);
  });
});

describe('users, consents, sessions and grants', () => {
  let user;

  test('create with a password and claims; the claim rules and messages are those of the CLI', async () => {
    const r = check(
      await adminFetch(srv, '/admin/users', {
        method: 'POST',
        token,
        json: {
          username: 'alice',
          password: PASSWORD,
          claims: { name: 'Alice', email: 'alice@example.com', email_verified: true, address: { country: 'NL' } },
        },
      }),
      'createUser',
    );
    assert.equal(r.status, 201, r.body);
    user = r.json;
    assert.equal(r.headers.get('location'), `/admin/users/${encodeURIComponent(user.id)}`);
    assert.equal(user.has_password, true);
    assert.deepEqual(user.claims, { name: 'Alice', email: 'alice@example.com', email_verified: true, address: { country: 'NL' } });
    assert.equal(check(await adminFetch(srv, '/admin/users', { method: 'POST', token, json: { username: 'alice' } }), 'createUser').status, 409);

    const email = check(
      await adminFetch(srv, '/admin/users', { method: 'POST', token, json: { username: 'bob', claims: { email: 'not-an-address' } } }),
      'createUser',
    );
    assert.equal(email.status, 400);
    assert.equal(email.json.type, 'urn:ostiary:problem:invalid-user');
    assert.equal(email.json.field, 'claims.email');
    const reason = cliReason(['user', 'add', 'bob', '--email', 'not-an-address']);
    assert.equal(email.json.detail, `claims.email: ${reason}`);
    const claim = check(await adminFetch(srv, '/admin/users', { method: 'POST', token, json: { username: 'bob', claims: { updated_at: 1 } } }), 'createUser');
    assert.equal(claim.status, 400);
    const name = check(await adminFetch(srv, '/admin/users', { method: 'POST', token, json: { username: 'a b' } }), 'createUser');
    assert.equal(name.status, 400);
    assert.equal(name.json.detail, `username: ${cliReason(['user', 'add', 'a b'])}`);
  });

  test('show, list, and a sign-in gives a session, a consent and a grant', async () => {
    assert.equal(check(await adminFetch(srv, `/admin/users/${user.id}`, { token }), 'showUser').json.username, 'alice');
    const l = check(await adminFetch(srv, '/admin/users?username=alice', { token }), 'listUsers');
    assert.deepEqual(l.json.users.map((u) => u.id), [user.id]);
    assert.equal(l.json.next, null);

    const signed = await signInAndRedeem(srv, {
      clientId: RP.id, redirectUri: RP.redirect, secret: RP.secret, user: { username: 'alice', password: PASSWORD },
      params: { scope: 'openid email offline_access', prompt: 'consent' },
    });
    assert.equal(signed.status, 200);
    assert.ok(signed.json.refresh_token);
    user.refresh = signed.json.refresh_token;
    const s = check(await adminFetch(srv, `/admin/users/${user.id}/sessions`, { token }), 'listSessions');
    assert.equal(s.json.sessions.length, 1);
    assert.deepEqual(s.json.sessions[0].amr, ['pwd']);
    const c = check(await adminFetch(srv, `/admin/users/${user.id}/consents`, { token }), 'listConsents');
    assert.deepEqual(c.json.consents.map((x) => x.client_id), [RP.id]);
  });

  test('revoke the user grants: its refresh token stops working', async () => {
    const r = check(await adminFetch(srv, `/admin/users/${user.id}/grants`, { method: 'DELETE', token }), 'revokeUserGrants');
    assert.equal(r.status, 204);
    const refresh = await postForm(srv.url('/token'), { grant_type: 'refresh_token', refresh_token: user.refresh }, { auth: [RP.id, RP.secret] });
    assert.equal(refresh.status, 400);
    assert.equal(refresh.json.error, 'invalid_grant');
  });

  test('revoke the client grants: the refresh tokens of the client stop working', async () => {
    const signed = await signInAndRedeem(srv, {
      clientId: RP.id, redirectUri: RP.redirect, secret: RP.secret, user: { username: 'alice', password: PASSWORD },
      params: { scope: 'openid offline_access' }, jar: new CookieJar(),
    });
    assert.equal(signed.status, 200);
    const r = check(await adminFetch(srv, `/admin/clients/${RP.id}/grants`, { method: 'DELETE', token }), 'revokeClientGrants');
    assert.equal(r.status, 204);
    const refresh = await postForm(srv.url('/token'), { grant_type: 'refresh_token', refresh_token: signed.json.refresh_token }, { auth: [RP.id, RP.secret] });
    assert.equal(refresh.json.error, 'invalid_grant');
    const intro = await postForm(srv.url('/token/introspection'), { token: signed.json.access_token }, { auth: [RP.id, RP.secret] });
    assert.equal(intro.json.active, false);
  });

  test('consents and sessions: revoke', async () => {
    const one = check(await adminFetch(srv, `/admin/users/${user.id}/consents/${RP.id}`, { method: 'DELETE', token }), 'revokeConsent');
    assert.equal(one.status, 204);
    assert.equal(check(await adminFetch(srv, `/admin/users/${user.id}/consents/${RP.id}`, { method: 'DELETE', token }), 'revokeConsent').status, 404);
    assert.equal(check(await adminFetch(srv, `/admin/users/${user.id}/consents`, { method: 'DELETE', token }), 'revokeAllConsents').status, 204);
    assert.deepEqual(check(await adminFetch(srv, `/admin/users/${user.id}/consents`, { token }), 'listConsents').json.consents, []);
    assert.ok(check(await adminFetch(srv, `/admin/users/${user.id}/sessions`, { token }), 'listSessions').json.sessions.length >= 1);
    assert.equal(check(await adminFetch(srv, `/admin/users/${user.id}/sessions`, { method: 'DELETE', token }), 'revokeSessions').status, 204);
    assert.deepEqual(check(await adminFetch(srv, `/admin/users/${user.id}/sessions`, { token }), 'listSessions').json.sessions, []);
  });

  test('update merges the claims, renames, disables; set the password', async () => {
    const r = check(
      await adminFetch(srv, `/admin/users/${user.id}`, {
        method: 'PATCH', token, json: { username: 'alice2', claims: { name: null, address: { locality: 'Delft' } } },
      }),
      'updateUser',
    );
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.username, 'alice2');
    assert.deepEqual(r.json.claims, { email: 'alice@example.com', email_verified: true, address: { country: 'NL', locality: 'Delft' } });
    const pw = check(await adminFetch(srv, `/admin/users/${user.id}`, { method: 'PATCH', token, json: { password: 'x' } }), 'updateUser');
    assert.equal(pw.status, 400);

    const NEW = 'a new password for alice';
    secretsSeen.push(NEW);
    assert.equal(check(await adminFetch(srv, `/admin/users/${user.id}/password`, { method: 'PUT', token, json: { password: NEW } }), 'setUserPassword').status, 204);
    const empty = check(await adminFetch(srv, `/admin/users/${user.id}/password`, { method: 'PUT', token, json: { password: '' } }), 'setUserPassword');
    assert.equal(empty.status, 400);
    const ok = await signInAndRedeem(srv, {
      clientId: RP.id, redirectUri: RP.redirect, secret: RP.secret, user: { username: 'alice2', password: NEW },
      params: { scope: 'openid' },
    });
    assert.equal(ok.status, 200);
    await assert.rejects(
      signInAndRedeem(srv, {
        clientId: RP.id, redirectUri: RP.redirect, secret: RP.secret, user: { username: 'alice2', password: PASSWORD },
        params: { scope: 'openid' },
      }),
    );

    const d = check(await adminFetch(srv, `/admin/users/${user.id}`, { method: 'PATCH', token, json: { disabled: true } }), 'updateUser');
    assert.equal(d.json.disabled, true);
    assert.deepEqual(check(await adminFetch(srv, `/admin/users/${user.id}/sessions`, { token }), 'listSessions').json.sessions, []);
    await assert.rejects(
      signInAndRedeem(srv, {
        clientId: RP.id, redirectUri: RP.redirect, secret: RP.secret, user: { username: 'alice2', password: NEW },
        params: { scope: 'openid' },
      }),
    );
  });

  test('delete: 204, then 404', async () => {
    assert.equal(check(await adminFetch(srv, `/admin/users/${user.id}`, { method: 'DELETE', token }), 'deleteUser').status, 204);
    assert.equal(check(await adminFetch(srv, `/admin/users/${user.id}`, { token }), 'showUser').status, 404);
  });
});

describe('keys', () => {
  test('list, rotate: the new key is in the JWKS at once', async () => {
    const l = check(await adminFetch(srv, '/admin/keys', { token }), 'listKeys');
    assert.equal(l.status, 200);
    assert.ok(l.json.keys.some((k) => k.alg === 'ES256' && k.state === 'current'));
    const r = check(await adminFetch(srv, '/admin/keys/rotate', { method: 'POST', token, json: { alg: 'ES256', publish_delay: 3600 } }), 'rotateKeys');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.keys.length, 1);
    const kid = r.json.keys[0].kid;
    const jwks = await (await fetch(srv.url('/jwks'))).json();
    assert.ok(jwks.keys.some((k) => k.kid === kid));
    const after = check(await adminFetch(srv, '/admin/keys', { token }), 'listKeys');
    assert.equal(after.json.keys.find((k) => k.kid === kid).state, 'next');
    const bad = check(await adminFetch(srv, '/admin/keys/rotate', { method: 'POST', token, json: { alg: 'HS256' } }), 'rotateKeys');
    assert.equal(bad.status, 400);
  });
});

test('every change is an audit event (who, what, which object), and no secret reaches the log', async () => {
  const { stderr } = srv.logs();
  const audit = stderr.split('\n').filter((l) => l.includes('"admin.audit"')).map((l) => JSON.parse(l));
  const actions = new Set(audit.map((e) => e.action));
  for (const a of ['client.create', 'client.update', 'client.delete', 'client.rotate_secret', 'client.revoke_grants',
    'user.create', 'user.update', 'user.disable', 'user.set_password', 'user.delete', 'user.revoke_grants',
    'consent.revoke', 'consent.revoke_all', 'sessions.revoke_all', 'keys.rotate']) {
    assert.ok(actions.has(a), `audit ${a}: ${[...actions]}`);
  }
  const create = audit.find((e) => e.action === 'client.create' && e.object === 'svc-1');
  assert.equal(create.who, ADMIN.all.id);
  for (const s of secretsSeen) assert.ok(!stderr.includes(s), 'a secret or password is in the log');
  assert.ok(!stderr.includes(token), 'the admin token is in the log');
});
