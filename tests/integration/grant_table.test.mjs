// grant_table.test.mjs: one grant table (src/oauth/grant_table.h) behind discovery, the token endpoint
// and the docs. Discovery's grant_types_supported (RFC 8414 §2) is exactly the set of grant types the
// token endpoint dispatches, and implicit, whose tokens come from the authorization endpoint (its response
// types, in response_types_supported): every advertised one but implicit gets anything but
// unsupported_grant_type at the token endpoint (RFC 6749 §5.2); implicit, and every other one (the device
// grant, not served yet, and grant types this server does not know) gets unsupported_grant_type. The
// grant lists of docs/configuration.md and docs/cli.md are the advertised list, the README's /token row
// the advertised list without implicit.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

import { postForm, startServer } from './lib/server.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ALL = { id: 'all-grants', secret: 'all-grants-secret' };
// Grant types a client might send: the table's rows and some this server never knew.
const CANDIDATES = [
  'authorization_code',
  'client_credentials',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:device_code',
  'password',
  'implicit',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'urn:ietf:params:oauth:grant-type:token-exchange',
  'urn:openid:params:grant-type:ciba',
];

let srv;
let advertised;

before(async () => {
  srv = await startServer({
    config: `
clients:
  - client_id: ${ALL.id}
    client_secret: ${ALL.secret}
    redirect_uris: ["https://rp.example.com/cb"]
    grant_types: [authorization_code, client_credentials, refresh_token]
    scope: "openid read"
`,
  });
  const res = await fetch(srv.url('/.well-known/openid-configuration'));
  advertised = (await res.json()).grant_types_supported;
});
after(async () => {
  await srv?.stop();
});

async function token(grantType) {
  return postForm(srv.url('/token'), { grant_type: grantType, code: 'x', refresh_token: 'x' }, {
    auth: [ALL.id, ALL.secret],
  });
}

// Served at the authorization endpoint only (its response types), never at the token endpoint.
const FRONT_ONLY = ['implicit'];

test('discovery advertises the served grant types: the code, client credentials, refresh and implicit grants', () => {
  assert.deepEqual([...advertised].sort(), ['authorization_code', 'client_credentials', 'implicit', 'refresh_token']);
});

test('every advertised grant type the token endpoint redeems is dispatched (never unsupported_grant_type)', async () => {
  for (const gt of advertised.filter((g) => !FRONT_ONLY.includes(g))) {
    const res = await token(gt);
    assert.notEqual(res.json?.error, 'unsupported_grant_type', `${gt}: ${res.body}`);
    assert.ok(res.status === 200 || res.json?.error === 'invalid_grant', `${gt}: ${res.status} ${res.body}`);
  }
});

test('implicit at the token endpoint: unsupported_grant_type, pointing to the authorization endpoint', async () => {
  const res = await token('implicit');
  assert.equal(res.status, 400);
  assert.equal(res.json?.error, 'unsupported_grant_type');
  assert.match(res.json?.error_description, /authorization endpoint/);
});

test('every grant type that is not advertised is unsupported_grant_type, the device grant included', async () => {
  for (const gt of CANDIDATES.filter((g) => !advertised.includes(g))) {
    const res = await token(gt);
    assert.equal(res.status, 400, gt);
    assert.equal(res.json?.error, 'unsupported_grant_type', `${gt}: ${res.body}`);
  }
  assert.ok(!advertised.includes('urn:ietf:params:oauth:grant-type:device_code'));
});

/** The grant names listed in a docs table row: "grant types: `a`, `b`, `c` (...". */
function docsGrantList(file, rowStart) {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const row = text.split('\n').find((l) => l.startsWith(rowStart));
  assert.ok(row, `${file}: a row starting with ${rowStart}`);
  const m = /grant types: ((?:`[^`]+`(?:, )?)+) \(/.exec(row);
  assert.ok(m, `${file}: the row lists "grant types: \`...\`, ... (": ${row}`);
  return [...m[1].matchAll(/`([^`]+)`/g)].map((x) => x[1]);
}

test('docs/configuration.md, docs/cli.md list exactly the advertised grant types, the README those of /token', () => {
  assert.deepEqual(docsGrantList('docs/configuration.md', '| `grant_types` |'), advertised);
  assert.deepEqual(docsGrantList('docs/cli.md', '| `--grant-type G`'), advertised);
  // The README's endpoint table: "| `/token` | POST | `a`, `b`, `c`; ... |".
  const row = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n').find((l) => l.startsWith('| `/token` |'));
  assert.ok(row, 'README.md has a /token row');
  const listed = [...row.split('|')[3].split(';')[0].matchAll(/`([^`]+)`/g)].map((x) => x[1]);
  assert.deepEqual([...listed].sort(), advertised.filter((g) => !FRONT_ONLY.includes(g)).sort());
});
