// discovery_pkce.test.mjs: code_challenge_methods_supported tells what registered clients can use
// (RFC 8414 §2, RFC 7636 §4.2): S256 always, plain only while at least one client allows it, whether the
// client comes from the file at start or is created, changed and deleted with `ostiary client` while the
// server runs (discovery follows within DISCOVERY_REFRESH_SECONDS, 5 s). Both metadata locations serve the
// same document. Per-client pkce_methods stay the rule at /auth (seed_001 covers that).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, test } from 'node:test';

import { OSTIARY_BIN, startServer } from './lib/server.mjs';

const T = { timeout: 40000 };
const servers = [];
after(async () => {
  await Promise.allSettled(servers.map((s) => s.stop()));
});

const s256Client = `
  - client_id: strict
    client_secret: strict-secret
    redirect_uris: ["https://rp.example.com/cb"]
`;
const plainClient = `
  - client_id: legacy
    client_secret: legacy-secret
    redirect_uris: ["https://legacy.example.com/cb"]
    pkce_methods: [S256, plain]
`;

async function methods(srv) {
  // The server's periodic refresh may land between the two requests (one flag switches both documents):
  // then the pair is read again; a real disagreement persists.
  let a;
  let b;
  for (let i = 0; i < 3; i++) {
    a = await (await fetch(srv.url('/.well-known/openid-configuration'))).json();
    b = await (await fetch(srv.url('/.well-known/oauth-authorization-server'))).json();
    if (JSON.stringify(a) === JSON.stringify(b)) break;
  }
  assert.deepEqual(a, b, 'both metadata documents agree');
  return a.code_challenge_methods_supported;
}

/** Polls discovery until code_challenge_methods_supported equals `want` (at most 8 s: the 5 s refresh
 *  plus the worker tick and a loaded machine's slack). */
async function waitMethods(srv, want) {
  const deadline = Date.now() + 8000;
  let got;
  while (Date.now() < deadline) {
    got = await methods(srv);
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.deepEqual(got, want);
}

function cli(srv, ...args) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OSTIARY_')));
  const r = spawnSync(OSTIARY_BIN, ['client', ...args, '--config', srv.configFile], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

describe('code_challenge_methods_supported', () => {
  test('S256 only when no client allows plain (the default)', T, async () => {
    const srv = await startServer({ config: `clients:${s256Client}` });
    servers.push(srv);
    assert.deepEqual(await methods(srv), ['S256']);
  });

  test('plain from the first request on when a client of the file allows it', T, async () => {
    const srv = await startServer({ config: `clients:${s256Client}${plainClient}` });
    servers.push(srv);
    assert.deepEqual(await methods(srv), ['S256', 'plain']);
  });

  test('follows clients created, changed and deleted with the CLI while the server runs', T, async () => {
    const srv = await startServer({ config: `clients:${s256Client}` });
    servers.push(srv);
    assert.deepEqual(await methods(srv), ['S256']);
    cli(srv, 'create', '--client-id', 'cli-legacy', '--redirect-uri', 'https://cli.example.com/cb',
      '--pkce-methods', 'S256,plain');
    await waitMethods(srv, ['S256', 'plain']);
    cli(srv, 'update', 'cli-legacy', '--pkce-methods', 'S256');
    await waitMethods(srv, ['S256']);
    cli(srv, 'update', 'cli-legacy', '--pkce-methods', 'plain');
    await waitMethods(srv, ['S256', 'plain']);
    cli(srv, 'delete', 'cli-legacy');
    await waitMethods(srv, ['S256']);
  });
});
