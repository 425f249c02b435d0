// introspection_access.test.mjs: which tokens a client may introspect (RFC 7662 §4), per client:
// introspection_access all (the default: any access token), own (tokens issued to it), resources (its own
// and those whose aud names one of its introspection_resources). A token a client may not introspect gets
// exactly {"active":false}, as an unknown token does (§2.2). Refresh tokens only ever to their own client.
// Each mode against JWT and opaque access tokens, of client_credentials and of a user's code flow; the
// same settings made with `ostiary client update` while the server runs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import { CookieJar, codeRequest, httpAuthorize, startCallback } from './lib/flow.mjs';
import { API, OSTIARY_BIN, postForm, startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const USER = { username: 'inspector', password: 'inspector password 1' };
const C = {
  issuer: { id: 'token-maker', secret: 'token-maker-secret' }, // gets the tokens; default access (all)
  all: { id: 'rs-all', secret: 'rs-all-secret' }, // nothing set: all
  own: { id: 'rs-own', secret: 'rs-own-secret' },
  api: { id: 'rs-api', secret: 'rs-api-secret' },
  web: { id: 'web-app', secret: 'web-app-secret' }, // the code flow; introspection_access own
};

let srv;
let cb;
const tok = {}; // name -> token value

async function cc(client, resource) {
  const r = await postForm(srv.url('/token'), { grant_type: 'client_credentials', ...(resource ? { resource } : {}) }, {
    auth: [client.id, client.secret],
  });
  assert.equal(r.status, 200, r.body);
  return r.json.access_token;
}

async function introspect(client, token) {
  const r = await postForm(srv.url('/token/introspection'), { token }, { auth: [client.id, client.secret] });
  assert.equal(r.status, 200, r.body);
  return r.json;
}

/** Active, or exactly {"active":false} (nothing that tells a forbidden token from an unknown one). */
async function active(client, name) {
  const info = await introspect(client, tok[name]);
  if (!info.active) assert.deepEqual(info, { active: false }, `${client.id} / ${name}`);
  return info.active;
}

async function userTokens() {
  const redirectUri = cb.url('/cb');
  const { url, verifier } = codeRequest(srv, {
    clientId: C.web.id,
    redirectUri,
    params: { scope: 'openid read', resource: API.rs256 },
  });
  const r = await httpAuthorize(url, { jar: new CookieJar(), issuer: srv.issuer, ...USER });
  assert.equal(r.kind, 'redirect', `expected a redirect, got ${r.kind} ${r.page ?? ''}`);
  const t = await postForm(srv.url('/token'), {
    grant_type: 'authorization_code',
    code: r.params.get('code'),
    redirect_uri: redirectUri,
    code_verifier: verifier,
  }, { auth: [C.web.id, C.web.secret] });
  assert.equal(t.status, 200, t.body);
  assert.equal(typeof t.json.refresh_token, 'string');
  return t.json;
}

before(async () => {
  cb = await startCallback();
  srv = await startServer({
    config: `
keys:
  algorithms: [RS256, ES256]
resources:
  - identifier: "${API.rs256}"
    scopes: [read]
    signing_alg: RS256
  - identifier: "${API.es256}"
    scopes: [read]
    signing_alg: ES256
  - identifier: "${API.opaque}"
    scopes: [read]
    access_token_format: opaque
clients:
  - client_id: ${C.issuer.id}
    client_secret: ${C.issuer.secret}
    scope: read
  - client_id: ${C.all.id}
    client_secret: ${C.all.secret}
    scope: read
  - client_id: ${C.own.id}
    client_secret: ${C.own.secret}
    scope: read
    introspection_access: own
  - client_id: ${C.api.id}
    client_secret: ${C.api.secret}
    scope: read
    introspection_access: resources
    introspection_resources: ["${API.rs256}", "${API.opaque}"]
  - client_id: ${C.web.id}
    client_secret: ${C.web.secret}
    redirect_uris: ["${cb.url('/cb')}"]
    scope: openid read
    refresh_token_policy: always
    introspection_access: own
users:
  - username: ${USER.username}
    password: "${USER.password}"
`,
  });
  tok.jwtRs = await cc(C.issuer, API.rs256);
  tok.jwtEs = await cc(C.issuer, API.es256);
  tok.opaqueApi = await cc(C.issuer, API.opaque);
  tok.opaqueNoApi = await cc(C.issuer);
  tok.ownJwt = await cc(C.own, API.es256);
  tok.ownOpaque = await cc(C.own, API.opaque);
  tok.apiOwnJwt = await cc(C.api, API.es256);
  const u = await userTokens();
  tok.userAccess = u.access_token; // JWT, aud [rs256 API, <issuer>/me]
  tok.userRefresh = u.refresh_token;
});

after(async () => {
  await cb?.close();
  await srv?.stop();
});

describe('introspection_access', () => {
  test('all (the default, unchanged): every access token, refresh tokens only its own', T, async () => {
    for (const name of ['jwtRs', 'jwtEs', 'opaqueApi', 'opaqueNoApi', 'ownJwt', 'ownOpaque', 'userAccess']) {
      assert.equal(await active(C.all, name), true, name);
    }
    assert.equal(await active(C.all, 'userRefresh'), false);
  });

  test('own: only tokens issued to the client, JWT and opaque', T, async () => {
    for (const name of ['ownJwt', 'ownOpaque']) assert.equal(await active(C.own, name), true, name);
    for (const name of ['jwtRs', 'jwtEs', 'opaqueApi', 'opaqueNoApi', 'userAccess', 'userRefresh']) {
      assert.equal(await active(C.own, name), false, name);
    }
    // The code-flow client with `own` sees both of its tokens.
    assert.equal(await active(C.web, 'userAccess'), true);
    assert.equal(await active(C.web, 'userRefresh'), true);
    assert.equal(await active(C.web, 'ownJwt'), false);
  });

  test('resources: tokens for the listed APIs (one audience among several too), and its own', T, async () => {
    // ownOpaque is another client's token for a listed API; apiOwnJwt its own for an unlisted one.
    for (const name of ['jwtRs', 'opaqueApi', 'ownOpaque', 'userAccess', 'apiOwnJwt']) {
      assert.equal(await active(C.api, name), true, name);
    }
    for (const name of ['jwtEs', 'opaqueNoApi', 'ownJwt', 'userRefresh']) {
      assert.equal(await active(C.api, name), false, name);
    }
    const info = await introspect(C.api, tok.jwtRs);
    assert.equal(info.aud, API.rs256);
    assert.equal(info.client_id, C.issuer.id);
  });

  test('a forbidden token answers exactly like an unknown one', T, async () => {
    const forbidden = await postForm(srv.url('/token/introspection'), { token: tok.jwtEs }, { auth: [C.api.id, C.api.secret] });
    const unknown = await postForm(srv.url('/token/introspection'), { token: 'no-such-token' }, { auth: [C.api.id, C.api.secret] });
    assert.equal(forbidden.status, unknown.status);
    assert.equal(forbidden.body, unknown.body);
    assert.equal(forbidden.body, '{"active":false}');
  });

  test('ostiary client update --introspection-access applies while the server runs (5 s client cache)', T, async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OSTIARY_')));
    const cli = (...args) => spawnSync(OSTIARY_BIN, ['client', ...args, '--config', srv.configFile], { env, encoding: 'utf8' });
    const made = cli('create', '--client-id', 'rs-cli', '--secret', 'rs-cli-secret', '--scope', 'read',
      '--introspection-access', 'resources', '--introspection-resource', API.es256);
    assert.equal(made.status, 0, made.stderr);
    const rsCli = { id: 'rs-cli', secret: 'rs-cli-secret' };
    assert.equal(await active(rsCli, 'jwtEs'), true);
    assert.equal(await active(rsCli, 'jwtRs'), false);
    const upd = cli('update', 'rs-cli', '--introspection-access', 'own', '--no-introspection-resources');
    assert.equal(upd.status, 0, upd.stderr);
    const deadline = Date.now() + 8000;
    while (Date.now() < deadline && (await active(rsCli, 'jwtEs'))) await new Promise((r) => setTimeout(r, 250));
    assert.equal(await active(rsCli, 'jwtEs'), false, 'own: another client\'s token is no longer introspectable');
  });
});
