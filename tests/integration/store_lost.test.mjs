// store_lost.test.mjs: the SQLite file deleted or replaced under a running server (store/sqlite.c,
// "identity"). The server notices (the file's device and inode, checked by /healthz and every second):
// /healthz answers 503, one error line is logged, and endpoints that would write into the lost file answer
// 503 while what is served from memory keeps working. A start that finds the store's marker but no
// database refuses to create an empty store (new keys would invalidate every token) unless told to with
// `ostiary migrate --create`; a database that is another store is refused the same way.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import { API, CLIENTS, OSTIARY_BIN, postForm, standardConfig, startServer } from './lib/server.mjs';

const servers = [];
after(async () => {
  await Promise.allSettled(servers.map((s) => s.stop()));
});
async function start(opts) {
  // The SQLite file itself is under test: SQLite on every pass.
  const s = await startServer({ ...opts, sqlite: true });
  servers.push(s);
  return s;
}

const dbFiles = (dir) => ['ostiary.db', 'ostiary.db-wal', 'ostiary.db-shm'].map((f) => path.join(dir, f));
const token = (srv) =>
  postForm(srv.url('/token'), { grant_type: 'client_credentials', resource: API.rs256 }, {
    auth: [CLIENTS.basic.id, CLIENTS.basic.secret],
  });
const lostLines = (srv) => srv.logs().stderr.split('\n').filter((l) => l.includes('"event":"store_lost"'));

/** Runs the CLI (without the test runner's OSTIARY_* variables, which the server would refuse). */
function cli(args) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OSTIARY_')));
  return new Promise((resolve) => {
    execFile(OSTIARY_BIN, args, { env }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
}

test('database deleted while serving: /healthz 503, one error line, no token issued into the lost file', async () => {
  const srv = await start({ config: standardConfig() });
  assert.equal((await token(srv)).status, 200);
  assert.ok(fs.existsSync(path.join(srv.dir, 'ostiary.db.store-id')), 'the store marker is written beside the database');
  for (const f of dbFiles(srv.dir)) fs.rmSync(f, { force: true });

  const h = await fetch(srv.url('/healthz'));
  assert.equal(h.status, 503);
  const body = await h.json();
  assert.equal(body.status, 'error');
  const root = await fetch(`http://127.0.0.1:${srv.port}/healthz`);
  assert.equal(root.status, 503);

  const t = await token(srv);
  assert.equal(t.status, 503, t.body);
  assert.equal(t.json.error, 'temporarily_unavailable');
  assert.doesNotMatch(t.body, /access_token/);
  // Served from memory: still there.
  assert.equal((await fetch(srv.url('/.well-known/openid-configuration'))).status, 200);
  assert.equal((await fetch(srv.url('/jwks'))).status, 200);

  // The periodic check sees it too; the error is logged once, however often it is seen.
  await new Promise((r) => setTimeout(r, 1500));
  for (let i = 0; i < 5; i++) await fetch(srv.url('/healthz'));
  const lines = lostLines(srv);
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0], /"level":"error"/);
  assert.match(lines[0], /deleted/);
});

test('a start that finds the marker but no database refuses; migrate --create starts an empty store on purpose', async () => {
  let srv = await start({ config: standardConfig() });
  const kids = (await (await fetch(srv.url('/jwks'))).json()).keys.map((k) => k.kid);
  await srv.stop();
  for (const f of dbFiles(srv.dir)) fs.rmSync(f, { force: true });

  await assert.rejects(srv.restart(), (e) => {
    assert.match(e.message, /exited during start/);
    assert.match(e.message, /ostiary migrate --create/);
    assert.match(e.message, /missing/);
    return true;
  });
  assert.ok(!fs.existsSync(path.join(srv.dir, 'ostiary.db')), 'no empty database was created');

  // Every CLI command refuses as well; only migrate --create goes ahead.
  const list = await cli(['client', 'list', '--config', srv.configFile]);
  assert.equal(list.code, 1);
  assert.match(list.stderr, /migrate --create/);
  const plain = await cli(['migrate', '--config', srv.configFile]);
  assert.equal(plain.code, 1);
  const create = await cli(['migrate', '--create', '--config', srv.configFile]);
  assert.equal(create.code, 0, create.stderr);

  srv = await start({ config: standardConfig(), state: srv.state });
  assert.equal((await fetch(srv.url('/healthz'))).status, 200);
  const newKids = (await (await fetch(srv.url('/jwks'))).json()).keys.map((k) => k.kid);
  assert.ok(!newKids.some((k) => kids.includes(k)), 'a new store has new keys');
  assert.equal((await token(srv)).status, 200);
});

test('a database replaced by another store: noticed while serving, refused until adopted with migrate --create', async () => {
  const other = await start({ config: standardConfig() });
  await other.stop();
  const srv = await start({ config: standardConfig() });
  // Another store's file renamed over ours (as a careless restore would).
  const tmp = path.join(srv.dir, 'other.db');
  fs.copyFileSync(path.join(other.dir, 'ostiary.db'), tmp);
  fs.renameSync(tmp, path.join(srv.dir, 'ostiary.db'));
  assert.equal((await fetch(srv.url('/healthz'))).status, 503);
  await new Promise((r) => setTimeout(r, 300));
  assert.match(lostLines(srv)[0] ?? '', /replaced/);
  await srv.stop();

  await assert.rejects(srv.restart(), /was replaced[\s\S]*migrate --create/);
  const plain = await cli(['migrate', '--config', srv.configFile]);
  assert.equal(plain.code, 1);
  assert.match(plain.stderr, /was replaced/);
  // Adopted on purpose: from now on this database is the configuration's store. (Starting on it would
  // need the other store's key secret: its keys are never regenerated.)
  const adopt = await cli(['migrate', '--create', '--config', srv.configFile]);
  assert.equal(adopt.code, 0, adopt.stderr);
  assert.equal(
    fs.readFileSync(path.join(srv.dir, 'ostiary.db.store-id'), 'utf8'),
    fs.readFileSync(path.join(other.dir, 'ostiary.db.store-id'), 'utf8'),
  );
  assert.equal((await cli(['migrate', '--config', srv.configFile])).code, 0);
});
