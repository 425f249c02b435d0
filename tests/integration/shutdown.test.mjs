// shutdown.test.mjs: process lifecycle. SIGTERM stops the server cleanly (exit status 0 within 5 s, in
// flight requests answered); what was issued survives a restart on the same database (signing keys,
// opaque tokens, JWTs, revocations); and an opaque token whose response was sent survives a kill -9
// right after (the token row is durable before the response goes out).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import * as client from 'openid-client';

import { API, CLIENTS, postForm, standardConfig, startServer } from './lib/server.mjs';

const insecure = { execute: [client.allowInsecureRequests] };
const servers = [];
after(async () => {
  // Stops whatever is still running (each test replaces its server on restart), all of them even if
  // one reports a problem, then reports the first problem.
  const results = await Promise.allSettled(servers.map((s) => s.stop()));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
});

async function start(opts) {
  const s = await startServer(opts);
  servers.push(s);
  return s;
}
async function restart(s, opts) {
  const n = await s.restart(opts);
  servers.push(n);
  return n;
}

async function token(srv, resource) {
  const r = await postForm(srv.url('/token'), { grant_type: 'client_credentials', resource }, {
    auth: [CLIENTS.basic.id, CLIENTS.basic.secret],
  });
  assert.equal(r.status, 200, r.body);
  return r.json.access_token;
}

async function introspect(srv, tok) {
  const cfg = await client.discovery(new URL(srv.issuer), CLIENTS.post.id, undefined,
    client.ClientSecretPost(CLIENTS.post.secret), insecure);
  return client.tokenIntrospection(cfg, tok);
}

async function kids(srv) {
  const jwks = await (await fetch(srv.url('/jwks'))).json();
  return jwks.keys.map((k) => k.kid).sort();
}

test('SIGTERM: exit status 0 within 5 s', async () => {
  const srv = await start({ config: standardConfig() });
  await token(srv, API.rs256);
  const r = await srv.stop('SIGTERM');
  assert.equal(r.forced, false, 'did not need SIGKILL');
  assert.equal(r.signal, null, `terminated by signal ${r.signal}`);
  assert.equal(r.code, 0, 'exit status');
  assert.ok(r.ms < 5000, `stopped in ${r.ms} ms`);
  assert.match(srv.logs().stderr, /stopp/i, 'logs the stop');
});

test('SIGINT: exit status 0 within 5 s', async () => {
  const srv = await start({ config: standardConfig() });
  const r = await srv.stop('SIGINT');
  assert.equal(r.forced, false);
  assert.equal(r.code, 0);
  assert.ok(r.ms < 5000);
});

test('SIGTERM with idle keep-alive connections: still exits 0 within 5 s', async () => {
  const srv = await start({ config: standardConfig() });
  // fetch keeps these connections open after the responses.
  await Promise.all(Array.from({ length: 8 }, () => token(srv, API.opaque)));
  const r = await srv.stop('SIGTERM');
  assert.equal(r.forced, false);
  assert.equal(r.code, 0);
  assert.ok(r.ms < 5000, `stopped in ${r.ms} ms`);
});

test('data survives a restart: keys, JWT and opaque tokens, revocations', async () => {
  let srv = await start({ config: standardConfig() });
  const kidsBefore = await kids(srv);
  const jwts = [await token(srv, API.rs256), await token(srv, API.es256), await token(srv, API.eddsa)];
  const opaque = await token(srv, API.opaque);
  const revokedOpaque = await token(srv, API.opaque);
  const revokedJwt = await token(srv, API.es256);
  for (const t of [revokedOpaque, revokedJwt]) {
    const r = await postForm(srv.url('/token/revocation'), { token: t }, { auth: [CLIENTS.basic.id, CLIENTS.basic.secret] });
    assert.equal(r.status, 200);
  }

  srv = await restart(srv);
  assert.deepEqual(await kids(srv), kidsBefore, 'same signing keys after restart');
  for (const t of [...jwts, opaque]) {
    const info = await introspect(srv, t);
    assert.equal(info.active, true, `token issued before the restart is active: ${t.slice(0, 16)}...`);
    assert.equal(info.client_id, CLIENTS.basic.id);
  }
  assert.equal((await introspect(srv, revokedOpaque)).active, false, 'revoked opaque token stays revoked');
  assert.equal((await introspect(srv, revokedJwt)).active, false, 'revoked JWT stays revoked');
  // And the restarted server issues tokens as before.
  assert.equal((await introspect(srv, await token(srv, API.opaque))).active, true);
});

test('kill -9 right after an opaque token response: the token is still active after restart', async () => {
  let srv = await start({ config: standardConfig() });
  const t = await token(srv, API.opaque);
  const r = await srv.kill(); // SIGKILL: no shutdown code runs
  assert.equal(r.signal, 'SIGKILL');
  srv = await restart(srv);
  const info = await introspect(srv, t);
  assert.equal(info.active, true, 'opaque token issued right before kill -9');
  assert.equal(info.aud, API.opaque);
});

test('kill -9 during a burst: every token that was answered survives', async () => {
  let srv = await start({ config: standardConfig() });
  const answered = [];
  let first;
  const gotOne = new Promise((r) => {
    first = r;
  });
  const burst = Array.from({ length: 40 }, () =>
    token(srv, API.opaque)
      .then((t) => {
        answered.push(t);
        first();
      })
      .catch(() => {}));
  // Kill as soon as the first response is in, with the others in flight.
  await Promise.race([gotOne, Promise.all(burst)]);
  await srv.kill();
  await Promise.all(burst);
  assert.ok(answered.length >= 1);
  srv = await restart(srv);
  for (const t of answered) {
    assert.equal((await introspect(srv, t)).active, true, 'answered token survives kill -9');
  }
});
