// client_lifecycle.test.mjs: a client's tokens live only as long as the client. Deleting a client (with
// the CLI, or by removing it from the YAML file and restarting) makes its live tokens introspect inactive
// and its credentials fail; HTML error pages keep their precise status (405 for a wrong method).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';

import { API, OSTIARY_BIN, postForm, startServer } from './lib/server.mjs';

const servers = [];
after(async () => {
  const results = await Promise.allSettled(servers.map((s) => s.stop()));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
});

const api = `
resources:
  - identifier: "${API.opaque}"
    scopes: [read]
    access_token_format: opaque
  - identifier: "${API.rs256}"
    scopes: [read]
`;
const clientA = `
  - client_id: keeper
    client_secret: keeper-secret
    grant_types: [client_credentials]
    scope: read
`;
const clientB = `
  - client_id: leaver
    client_secret: leaver-secret
    grant_types: [client_credentials]
    scope: read
`;

async function token(srv, id, secret, resource) {
  const r = await postForm(srv.url('/token'), { grant_type: 'client_credentials', resource }, { auth: [id, secret] });
  assert.equal(r.status, 200, r.body);
  return r.json.access_token;
}

async function active(srv, tok) {
  const r = await postForm(srv.url('/token/introspection'), { token: tok }, { auth: ['keeper', 'keeper-secret'] });
  assert.equal(r.status, 200, r.body);
  return r.json.active;
}

test('a client removed from the YAML file is gone after a restart, and so are its tokens', async () => {
  let srv = await startServer({ config: `${api}\nclients:${clientA}${clientB}` });
  servers.push(srv);
  const opaque = await token(srv, 'leaver', 'leaver-secret', API.opaque);
  const jwt = await token(srv, 'leaver', 'leaver-secret', API.rs256);
  assert.equal(await active(srv, opaque), true);
  assert.equal(await active(srv, jwt), true);

  srv = await srv.restart({ config: `${api}\nclients:${clientA}` });
  servers.push(srv);
  assert.equal(await active(srv, opaque), false);
  assert.equal(await active(srv, jwt), false);
  const r = await postForm(srv.url('/token'), { grant_type: 'client_credentials', resource: API.opaque }, {
    auth: ['leaver', 'leaver-secret'],
  });
  assert.equal(r.status, 401);
  assert.equal(r.json.error, 'invalid_client');
  // The remaining client still works.
  assert.equal(await active(srv, await token(srv, 'keeper', 'keeper-secret', API.opaque)), true);
});

test('a client deleted with the CLI: its tokens become inactive (within the 5 s client cache)', async () => {
  const srv = await startServer({ config: `${api}\nclients:${clientA}` });
  servers.push(srv);
  const cfgPath = `${srv.dir}/ostiary.yaml`;
  const env = { ...process.env, OSTIARY_CONFIG: cfgPath };
  for (const k of Object.keys(env)) if (k.startsWith('OSTIARY_') && k !== 'OSTIARY_CONFIG') delete env[k];
  const made = spawnSync(OSTIARY_BIN, ['client', 'create', '--client-id', 'temp', '--secret', 'temp-secret',
    '--grant-type', 'client_credentials', '--scope', 'read'], { env, encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const tok = await token(srv, 'temp', 'temp-secret', API.opaque);
  assert.equal(await active(srv, tok), true);
  const del = spawnSync(OSTIARY_BIN, ['client', 'delete', 'temp'], { env, encoding: 'utf8' });
  assert.equal(del.status, 0, del.stderr);
  const deadline = Date.now() + 8000;
  let still = true;
  while (still && Date.now() < deadline) {
    still = await active(srv, tok);
    if (still) await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(still, false, 'the token of the deleted client stayed active');
});

test('HTML error pages keep their status: a wrong method at /auth is 405 with Allow', async () => {
  const srv = await startServer({ config: `${api}\nclients:${clientA}` });
  servers.push(srv);
  const res = await fetch(srv.url('/auth'), { method: 'PUT' });
  assert.equal(res.status, 405);
  assert.match(res.headers.get('allow') || '', /GET/);
  assert.match(res.headers.get('content-type') || '', /text\/html/);
});

test('a restart with an unchanged file rewrites no client; a changed one is rewritten', async () => {
  let srv = await startServer({ config: `${api}\nclients:${clientA}${clientB}` });
  servers.push(srv);
  const show = (id) => {
    const env = { ...process.env, OSTIARY_CONFIG: `${srv.dir}/ostiary.yaml` };
    for (const k of Object.keys(env)) if (k.startsWith('OSTIARY_') && k !== 'OSTIARY_CONFIG') delete env[k];
    const r = spawnSync(OSTIARY_BIN, ['client', 'show', id], { env, encoding: 'utf8', cwd: srv.dir });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const before = show('keeper');
  // Timestamps are in seconds: make sure a rewrite would show.
  await new Promise((r) => setTimeout(r, 1100));
  srv = await srv.restart({ config: `${api}\nclients:${clientA}${clientB.replace('scope: read', 'scope: "read"\n    client_name: Leaver')}` });
  servers.push(srv);
  assert.equal(show('keeper').updated_at, before.updated_at, 'unchanged: not written');
  assert.ok(show('leaver').updated_at > before.updated_at, 'changed: written');
  assert.equal(show('leaver').client_name, 'Leaver');
});
