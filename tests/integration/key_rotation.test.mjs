// key_rotation.test.mjs: automatic signing-key rotation (keys.rotation_period, keys.publish_ahead; docs/keys.md)
// with short periods, on two instances sharing one store: exactly one of them rotates each time, the other
// publishes the new key within keys.reload_interval, the new key is in both JWKS before either signs with
// it, both switch to it at its sign_from, and a retired key stays published until every token it signed
// has expired. Tokens are verified with jose against the JWKS of the other instance.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import * as jose from 'jose';

import { decodeJwt, newDatabase, postForm, startServer } from './lib/server.mjs';

const API = 'https://rotating.api.example.com/';
const CLIENT = { id: 'rot-client', secret: 'rot-secret' };
// A key signs 6 s and is announced 3 s ahead; tokens live 2 s; the instances reload every second.
const PERIOD = 6;
const AHEAD = 3;
const TTL = 2;

// Both share one store (SQLite file or PostgreSQL database) and its key secret; B has A's issuer, as
// instances behind one load balancer do.
function config(db, issuer) {
  return `
${issuer ? `issuer: ${JSON.stringify(issuer)}` : ''}
keys: { secret: ${JSON.stringify(db.secret)}, algorithms: [ES256], reload_interval: 1, rotation_period: ${PERIOD}, publish_ahead: ${AHEAD} }
tokens: { access_token_ttl: ${TTL}, id_token_ttl: ${TTL} }
resources:
  - identifier: "${API}"
    scopes: [read]
clients:
  - client_id: ${CLIENT.id}
    client_secret: ${CLIENT.secret}
    grant_types: [client_credentials]
    scope: read
`;
}

let a;
let b;
before(async () => {
  const db = newDatabase();
  a = await startServer({ config: config(db), database: db });
  b = await startServer({ config: config(db, a.issuer), database: db });
});
after(async () => {
  await b?.stop();
  await a?.stop();
});

async function kids(srv) {
  const res = await fetch(srv.url('/jwks'));
  assert.equal(res.status, 200);
  return (await res.json()).keys.map((k) => k.kid);
}

async function token(srv) {
  const r = await postForm(srv.url('/token'), { grant_type: 'client_credentials', resource: API }, {
    auth: [CLIENT.id, CLIENT.secret],
  });
  assert.equal(r.status, 200, r.body);
  return r.json.access_token;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const kidOf = (t) => decodeJwt(t).header.kid;

/** Polls until pred() is true; fails after `ms`. */
async function until(pred, ms, what) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await sleep(100);
  }
  assert.fail(`timed out: ${what}`);
}

/** The automatic rotations in both servers' logs: [{kid, sign_from, by}]. */
function rotations() {
  const out = [];
  for (const srv of [a, b]) {
    for (const line of srv.logs().stderr.split('\n')) {
      if (!line.includes('"jose.key_rotated"')) continue;
      const ev = JSON.parse(line);
      out.push({ kid: ev.kid, signFrom: ev.sign_from, by: ev.by, server: srv === a ? 'a' : 'b' });
    }
  }
  return out;
}

test('one instance rotates, both publish ahead, switch together, and keep the old key for its tokens', async () => {
  const [first] = await kids(a);
  assert.deepEqual(await kids(b), [first], 'B uses the key A generated');
  assert.equal(kidOf(await token(a)), first);
  assert.equal(kidOf(await token(b)), first);

  // The next key appears in both JWKS (announced) while both still sign with the first.
  await until(async () => (await kids(a)).length === 2 && (await kids(b)).length === 2, (PERIOD + 3) * 1000,
    'the next key in both JWKS');
  const second = (await kids(a)).find((k) => k !== first);
  assert.ok((await kids(b)).includes(second));
  const rot = rotations();
  assert.equal(rot.length, 1, `exactly one rotation logged: ${JSON.stringify(rot)}`);
  assert.equal(rot[0].kid, second);
  assert.equal(rot[0].by, 'keys.rotation_period');
  const signFrom = rot[0].signFrom;
  const now = () => Date.now() / 1000;
  assert.ok(signFrom - now() > 0.5, `announced ahead: sign_from ${signFrom}, now ${now()}`);

  // Until sign_from both sign with the first key; the last such token must verify until it expires.
  let last;
  while (now() < signFrom - 0.3) {
    for (const srv of [a, b]) {
      const t = await token(srv);
      if (now() < signFrom) assert.equal(kidOf(t), first, 'the old key signs before sign_from');
      last = t;
    }
    await sleep(150);
  }
  await until(async () => now() >= signFrom + 0.2, 5000, 'sign_from');
  for (const srv of [a, b]) assert.equal(kidOf(await token(srv)), second, 'the new key signs from sign_from');

  // The old key is published on both until every token it signed has expired.
  const lastExp = decodeJwt(last).payload.exp;
  assert.equal(kidOf(last), first);
  while (now() < lastExp - 0.2) {
    for (const srv of [a, b]) {
      const other = srv === a ? b : a;
      const set = jose.createLocalJWKSet(await (await fetch(other.url('/jwks'))).json());
      await jose.jwtVerify(last, set, { issuer: a.issuer, audience: API });
      assert.ok((await kids(srv)).includes(first), 'the retired key is still published');
    }
    await sleep(200);
  }
  // Gone once its last token has expired (sign_from + the longest lifetime), on both.
  await until(async () => !(await kids(a)).includes(first) && !(await kids(b)).includes(first), 4000,
    'the retired key unpublished');

  // Every rotation so far (a third key may be announced by now) was made by one instance only.
  const all = rotations();
  const bySignFrom = new Map();
  for (const r of all) bySignFrom.set(r.signFrom, (bySignFrom.get(r.signFrom) || 0) + 1);
  for (const [t, n] of bySignFrom) assert.equal(n, 1, `rotation for ${t} made ${n} times: ${JSON.stringify(all)}`);
});
