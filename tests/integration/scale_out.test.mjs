// scale_out.test.mjs: several instances on one database (docs/deployment.md). On PostgreSQL
// (OSTIARY_TEST_PG_URL) three instances share one database and one key secret; on SQLite the same tests
// run with one instance. What one instance issues every other knows at once (JWKS, tokens, sessions,
// revocations); an authorization code and a refresh token presented 50 times at once, spread over the
// instances, are redeemed exactly once, every other attempt gets invalid_grant and the replay policy
// revokes what the first redemption issued (RFC 6749 §4.1.2, §10.5; RFC 9700 §4.14.2); so is a device code
// approved on another instance (RFC 8628), with the same replay policy; a key rotated with
// the CLI reaches every instance within keys.reload_interval; instances started together on an empty
// database make one key set.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';

import { CookieJar, deviceVerify, httpAuthorize, httpRequest, startCallback } from './lib/flow.mjs';
import { API, OSTIARY_BIN, PG_URL, freePort, newDatabase, postForm, signInConfig, startServers } from './lib/server.mjs';

const N = PG_URL ? 3 : 1;
const RACERS = 50;
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const T = { timeout: 60000 };
const ALICE = { username: 'alice', password: 'through the looking glass' };
const WEB = { id: 'web-app', secret: 'web-app-secret' };

let cb;
let db;
let lb;
let issuer;
let inst = [];

/** The load balancer in front of the instances: a TCP proxy on a free loopback port, one backend per
 *  connection, round robin. The instances' issuer is its URL, as it would be behind nginx. */
async function startBalancer(port) {
  let next = 0;
  const server = net.createServer((c) => {
    const s = inst[next++ % inst.length];
    const b = net.connect(s.port, '127.0.0.1');
    c.pipe(b).pipe(c);
    const end = () => {
      c.destroy();
      b.destroy();
    };
    c.on('error', end);
    b.on('error', end);
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return server;
}

/** A URL of one instance, bypassing the balancer. */
const at = (s, p) => `http://127.0.0.1:${s.port}${p}`;

function config() {
  const base = signInConfig({ user: ALICE, client: WEB, redirectUri: cb.url('/cb') }).replace(
    '    grant_types: [authorization_code, refresh_token]\n',
    `    grant_types: [authorization_code, refresh_token, "${DEVICE_GRANT}"]\n`,
  );
  return `issuer: "${issuer}"\n${base.replace(/^keys:\n/m, 'keys:\n  reload_interval: 1\n')}`;
}

before(async () => {
  cb = await startCallback();
  db = newDatabase();
  const lbPort = await freePort();
  issuer = `http://127.0.0.1:${lbPort}`;
  // Started together: on an empty database they race for the first key set (one must be made).
  inst = await startServers(N, { config: config(), database: db });
  lb = await startBalancer(lbPort);
});

after(async () => {
  lb?.close();
  await Promise.all(inst.map((s) => s.stop()));
  await cb?.close();
});

const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const WEB_AUTH = { authorization: basic(WEB.id, WEB.secret) };

async function ccToken(srv, resource) {
  const r = await postForm(at(srv, '/token'), { grant_type: 'client_credentials', resource, scope: 'read' }, {
    auth: ['basic-client', 'basic-secret'],
  });
  assert.equal(r.status, 200, r.body);
  return r.json.access_token;
}

async function introspect(srv, token) {
  const r = await postForm(at(srv, '/token/introspection'), { token }, { auth: ['basic-client', 'basic-secret'] });
  assert.equal(r.status, 200, r.body);
  return r.json;
}

/** Signs alice in on instance 0 and returns { code, verifier } for a fresh authorization request. */
async function freshCode(jar = new CookieJar()) {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${issuer}/auth`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: WEB.id,
    redirect_uri: cb.url('/cb'),
    scope: 'openid offline_access',
    state: randomBytes(8).toString('hex'),
    prompt: 'consent',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const r = await httpAuthorize(url, { jar, issuer, ...ALICE });
  assert.equal(r.kind, 'redirect', `no authorization response (pages: ${r.pages})`);
  const code = r.params.get('code');
  assert.ok(code);
  return { code, verifier };
}

/** The same token request sent RACERS times at once, round robin over the instances. */
async function race(body) {
  return Promise.all(
    Array.from({ length: RACERS }, (_, i) =>
      httpRequest(at(inst[i % N], '/token'), { body, headers: WEB_AUTH, timeoutMs: 30000 }),
    ),
  );
}

/** Exactly one 200 and RACERS - 1 invalid_grant; returns the winner's token response. */
function oneWinner(results) {
  const ok = results.filter((r) => r.status === 200);
  const grantErrors = results.filter((r) => r.status === 400 && r.json?.error === 'invalid_grant');
  const other = results.filter((r) => r.status !== 200 && !(r.status === 400 && r.json?.error === 'invalid_grant'));
  assert.deepEqual(other.map((r) => `${r.status} ${r.body}`), []);
  assert.equal(ok.length, 1);
  assert.equal(grantErrors.length, RACERS - 1);
  return ok[0].json;
}

/** Every token is inactive on every instance, and the refresh token no longer refreshes. */
async function assertRevoked(tokens, refreshToken) {
  for (const s of inst) {
    for (const t of tokens) {
      const r = await postForm(at(s, '/token/introspection'), { token: t }, { auth: [WEB.id, WEB.secret] });
      assert.equal(r.json.active, false);
    }
  }
  const again = await httpRequest(at(inst[N - 1], '/token'), {
    body: { grant_type: 'refresh_token', refresh_token: refreshToken },
    headers: WEB_AUTH,
  });
  assert.equal(again.status, 400);
  assert.equal(again.json.error, 'invalid_grant');
}

describe(`scale-out: ${N} instance(s) on one ${PG_URL ? 'PostgreSQL' : 'SQLite'} database`, () => {
  test('instances started together made one key set, and all serve the same JWKS', T, async () => {
    const sets = await Promise.all(inst.map(async (s) => (await fetch(at(s, '/jwks'))).json()));
    const kids = sets.map((s) => s.keys.map((k) => k.kid).sort().join(','));
    for (const k of kids) assert.equal(k, kids[0]);
    assert.equal(sets[0].keys.length, 3); // RS256, ES256, EdDSA: one each
  });

  test('a token issued by one instance is verified, introspected and revoked by every other', T, async () => {
    for (let i = 0; i < N; i++) {
      const jwt = await ccToken(inst[i], API.rs256);
      const opaque = await ccToken(inst[i], API.opaque);
      for (const other of inst) {
        const jwks = jose.createLocalJWKSet(await (await fetch(at(other, '/jwks'))).json());
        await jose.jwtVerify(jwt, jwks, { issuer });
        assert.equal((await introspect(other, jwt)).active, true);
        assert.equal((await introspect(other, opaque)).active, true);
      }
      // Revoked on the next instance: inactive everywhere at once.
      const j = (i + 1) % N;
      for (const t of [jwt, opaque]) {
        const r = await postForm(at(inst[j], '/token/revocation'), { token: t }, { auth: ['basic-client', 'basic-secret'] });
        assert.equal(r.status, 200, r.body);
      }
      for (const other of inst) {
        assert.equal((await introspect(other, opaque)).active, false);
        assert.equal((await introspect(other, jwt)).active, false);
      }
    }
  });

  test('a login session made on one instance is known to every other (SSO)', T, async () => {
    const jar = new CookieJar();
    await freshCode(jar);
    for (const s of inst) {
      const url = new URL(at(s, '/auth'));
      url.search = new URLSearchParams({
        response_type: 'code',
        client_id: WEB.id,
        redirect_uri: cb.url('/cb'),
        scope: 'openid',
        code_challenge: createHash('sha256').update('v'.repeat(43)).digest('base64url'),
        code_challenge_method: 'S256',
      }).toString();
      const r = await httpAuthorize(url, { jar, issuer, stopAt: ['login'] });
      assert.equal(r.kind, 'redirect', `instance on ${s.port} did not know the session (pages: ${r.pages})`);
      assert.ok(r.params.get('code'));
    }
  });

  test(`an authorization code presented ${RACERS} times at once: one success, the rest invalid_grant, and what the winner got is revoked`, T, async () => {
    const { code, verifier } = await freshCode();
    const results = await race({
      grant_type: 'authorization_code',
      code,
      redirect_uri: cb.url('/cb'),
      code_verifier: verifier,
    });
    // The replays revoked the grant: the winner's access and refresh tokens are dead on every instance.
    const won = oneWinner(results);
    await assertRevoked([won.access_token, won.refresh_token], won.refresh_token);
  });

  test(`a refresh token presented ${RACERS} times at once: one rotation, the rest invalid_grant, and the family is revoked`, T, async () => {
    const { code, verifier } = await freshCode();
    const first = await httpRequest(at(inst[0], '/token'), {
      body: { grant_type: 'authorization_code', code, redirect_uri: cb.url('/cb'), code_verifier: verifier },
      headers: WEB_AUTH,
    });
    assert.equal(first.status, 200, first.body);
    const rt = first.json.refresh_token;
    assert.ok(rt);
    const results = await race({ grant_type: 'refresh_token', refresh_token: rt });
    // Reuse of the rotated token revoked the whole family: the winner's new pair, and the first pair.
    const won = oneWinner(results);
    await assertRevoked([won.access_token, won.refresh_token, first.json.access_token], won.refresh_token);
  });

  test(`a device code approved through the balancer and polled ${RACERS} times at once: one success, the rest invalid_grant, and what the winner got is revoked`, T, async () => {
    const auth = await httpRequest(at(inst[0], '/device/auth'), {
      body: { client_id: WEB.id, scope: 'openid offline_access' },
      headers: WEB_AUTH,
    });
    assert.equal(auth.status, 200, auth.body);
    const { device_code: deviceCode, user_code: userCode } = auth.json;
    // Pending on every instance before the approval.
    const pending = await httpRequest(at(inst[N - 1], '/token'), {
      body: { grant_type: DEVICE_GRANT, device_code: deviceCode },
      headers: WEB_AUTH,
    });
    assert.equal(pending.status, 400, pending.body);
    assert.equal(pending.json.error, 'authorization_pending');
    // The person's browser goes through the balancer: each page may be served by another instance.
    const lbServer = { url: (p) => `${issuer}${p}` };
    const { res } = await deviceVerify(lbServer, userCode, { user: ALICE });
    assert.ok(res.status === 200 || res.status === 303, `approval answered ${res.status}`);
    // Past the interval the pending poll above set, so that no racer is told to slow down.
    await new Promise((r) => setTimeout(r, (auth.json.interval + 1) * 1000));
    const won = oneWinner(await race({ grant_type: DEVICE_GRANT, device_code: deviceCode }));
    assert.ok(won.id_token, 'openid was granted: an ID token');
    await assertRevoked([won.access_token, won.refresh_token], won.refresh_token);
  });

  test('a key rotated with the CLI is served and used by every instance within keys.reload_interval', T, async () => {
    const before = new Set((await (await fetch(at(inst[0], '/jwks'))).json()).keys.map((k) => k.kid));
    const out = execFileSync(OSTIARY_BIN, ['keys', 'rotate', '--alg', 'ES256', '--config', inst[0].configFile], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OSTIARY_'))),
    });
    const kid = JSON.parse(out.trim().split('\n').pop()).kid;
    assert.ok(kid && !before.has(kid));
    // reload_interval 1 s: every instance has it within 2 s (plus scheduling slack on a loaded machine).
    const deadline = Date.now() + 5000;
    for (const s of inst) {
      for (;;) {
        const keys = (await (await fetch(at(s, '/jwks'))).json()).keys.map((k) => k.kid);
        const token = await ccToken(s, API.es256);
        if (keys.includes(kid) && jose.decodeProtectedHeader(token).kid === kid) break;
        assert.ok(Date.now() < deadline, `instance on ${s.port} still without key ${kid}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // Tokens signed with the new key by one instance verify on the others' JWKS.
    const t = await ccToken(inst[N - 1], API.es256);
    for (const s of inst) {
      const jwks = jose.createLocalJWKSet(await (await fetch(at(s, '/jwks'))).json());
      await jose.jwtVerify(t, jwks, { issuer });
    }
  });
});
