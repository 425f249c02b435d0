// migrate.test.mjs: `ostiary migrate --from sqlite:FILE --to DSN` (docs/deployment.md, docs/cli.md). A
// provider runs on SQLite and issues tokens, a user signs in and consents; it stops; its store is copied
// into a new database (PostgreSQL with OSTIARY_TEST_PG_URL, else another SQLite file); a provider on the
// copy, with the same key secret, serves the same keys, knows the tokens, the user, the session and the
// consent. The copy refuses a target that is not empty unless --force, and counts what it copied.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { CookieJar, httpAuthorize, httpRequest, startCallback } from './lib/flow.mjs';
import { API, OSTIARY_BIN, newDatabase, postForm, signInConfig, startServer } from './lib/server.mjs';

const T = { timeout: 60000 };
const ALICE = { username: 'alice', password: 'down the rabbit hole' };
const WEB = { id: 'web-app', secret: 'web-app-secret' };

let cb;
let src;
let dst;
const jar = new CookieJar();
const issued = {};

const config = () => signInConfig({ user: ALICE, client: WEB, redirectUri: cb.url('/cb') });

function authUrl(srv, extra = {}) {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(srv.url('/auth'));
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: WEB.id,
    redirect_uri: cb.url('/cb'),
    scope: 'openid offline_access',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...extra,
  }).toString();
  return { url, verifier };
}

function migrate(...args) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OSTIARY_')));
  return spawnSync(OSTIARY_BIN, ['migrate', ...args], { encoding: 'utf8', env, timeout: 30000 });
}

const introspect = async (srv, token) =>
  (await postForm(srv.url('/token/introspection'), { token }, { auth: ['basic-client', 'basic-secret'] })).json;

before(async () => {
  cb = await startCallback();
  // The source always on SQLite, whatever the pass: that is the deployment being moved.
  src = await startServer({ config: config(), database: newDatabase({ sqlite: true }) });
  // What the copy must carry: an opaque token, a JWT revoked by jti, a refresh token, a session, a consent.
  let r = await postForm(src.url('/token'), { grant_type: 'client_credentials', resource: API.opaque, scope: 'read' }, {
    auth: ['basic-client', 'basic-secret'],
  });
  issued.opaque = r.json.access_token;
  r = await postForm(src.url('/token'), { grant_type: 'client_credentials', resource: API.rs256, scope: 'read' }, {
    auth: ['basic-client', 'basic-secret'],
  });
  issued.revokedJwt = r.json.access_token;
  r = await postForm(src.url('/token/revocation'), { token: issued.revokedJwt }, { auth: ['basic-client', 'basic-secret'] });
  assert.equal(r.status, 200);
  const { url, verifier } = authUrl(src, { prompt: 'consent' });
  const a = await httpAuthorize(url, { jar, issuer: src.issuer, ...ALICE });
  assert.equal(a.kind, 'redirect');
  r = await httpRequest(src.url('/token'), {
    body: { grant_type: 'authorization_code', code: a.params.get('code'), redirect_uri: cb.url('/cb'), code_verifier: verifier },
    headers: { authorization: `Basic ${Buffer.from(`${WEB.id}:${WEB.secret}`).toString('base64')}` },
  });
  assert.equal(r.status, 200, r.body);
  issued.refresh = r.json.refresh_token;
  issued.jwks = await (await fetch(src.url('/jwks'))).json();
  await src.stop();
});

after(async () => {
  await dst?.stop();
  await cb?.close();
});

describe('ostiary migrate --from --to', () => {
  test('copies clients, users, consents, keys and live grants, and counts them', T, async () => {
    const target = newDatabase();
    const srcStorage = src.state.storage;
    const out = migrate('--from', srcStorage, '--to', target.storage);
    assert.equal(out.status, 0, out.stderr);
    const m = /copied: (\d+) client\(s\), (\d+) user\(s\), (\d+) consent\(s\), (\d+) key\(s\), (\d+) token\(s\), (\d+) revoked jti\(s\)/.exec(out.stdout);
    assert.ok(m, out.stdout);
    assert.equal(Number(m[2]), 1); // alice
    assert.equal(Number(m[3]), 1); // alice's consent to web-app
    assert.equal(Number(m[4]), 3); // RS256, ES256, EdDSA
    assert.ok(Number(m[5]) >= 4); // opaque, refresh, its access token, the session (the code was used)
    assert.equal(Number(m[6]), 1);

    // A second copy into the same target: refused, and says why.
    const again = migrate('--from', srcStorage, '--to', target.storage);
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /already holds/);

    // The provider on the copy, same key secret (the keys stay encrypted with it).
    dst = await startServer({ config: config(), database: { storage: target.storage, secret: src.state.secret } });
    const jwks = await (await fetch(dst.url('/jwks'))).json();
    assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), issued.jwks.keys.map((k) => k.kid).sort());
    assert.equal((await introspect(dst, issued.opaque)).active, true);
    assert.equal((await introspect(dst, issued.revokedJwt)).active, false);
    const r = await httpRequest(dst.url('/token'), {
      body: { grant_type: 'refresh_token', refresh_token: issued.refresh },
      headers: { authorization: `Basic ${Buffer.from(`${WEB.id}:${WEB.secret}`).toString('base64')}` },
    });
    assert.equal(r.status, 200, r.body);
    // The session cookie of the source signs alice in on the copy, and her consent is remembered: the
    // authorization request comes straight back with a code.
    const { url } = authUrl(dst);
    const a = await httpAuthorize(url, { jar, issuer: dst.issuer, stopAt: ['login', 'consent'] });
    assert.equal(a.kind, 'redirect', `pages: ${a.pages}`);
    assert.ok(a.params.get('code'));
  });

  test('--from without --to, or an unknown target scheme, is refused with a message', T, async () => {
    let r = migrate('--from', 'sqlite:/nonexistent/x.db');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--from and --to go together/);
    r = migrate('--from', src.state.storage, '--to', 'mysql://u:hunter2@h/db');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /unsupported scheme/);
    assert.doesNotMatch(r.stderr, /hunter2/);
  });
});
