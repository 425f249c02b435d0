// reload.test.mjs: SIGHUP re-reads the configuration file. Clients, users, APIs and policies change without
// a restart and without dropping a request (a stream of token requests runs through several reloads); a
// file that fails validation is refused with its file:line:col message in the log and the running
// configuration kept; settings read at start only are named in the log ("needs a restart") and keep their
// running value while the rest of the file applies.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { clientAndUserYaml, signInAndRedeem } from './lib/flow.mjs';
import { basicAuth, postForm, startServer } from './lib/server.mjs';

const API1 = 'https://one.api.example/';
const API2 = 'https://two.api.example/';
const M2M = { id: 'm2m', secret: 'm2m-secret-1' };
const GONE = { id: 'gone', secret: 'gone-secret' };
const APP = { id: 'reload-app', secret: 'reload-app-secret', redirect: 'https://rp.example/cb' };
const USER = { username: 'rita', password: 'first-password-1' };

/** The test's part of the file; the helper adds issuer, listen, storage, workers and the key secret. */
function body({ m2mSecret = M2M.secret, withGone = true, api2 = false, ttl = 600, password = USER.password,
  algorithms = 'RS256', maxParams = 64 } = {}) {
  return `
log_level: info
keys:
  algorithms: [${algorithms}]
tokens:
  access_token_ttl: ${ttl}
limits:
  max_params: ${maxParams}
resources:
  - identifier: "${API1}"
    scopes: [read]
${api2 ? `  - identifier: "${API2}"\n    scopes: [write]\n` : ''}${clientAndUserYaml(APP, { ...USER, password })}  - username: other
    password: other-password-1
clients_extra_marker: x
`.replace('clients_extra_marker: x\n', '').replace(
    'users:',
    `  - client_id: ${M2M.id}
    client_secret: ${m2mSecret}
    grant_types: [client_credentials]
    scope: "read write"
${withGone ? `  - client_id: ${GONE.id}\n    client_secret: ${GONE.secret}\n    grant_types: [client_credentials]\n    scope: read\n` : ''}users:`,
  );
}

let srv;
let header;

/** Rewrites the server's file with the helper's lines and `text`, then SIGHUP; resolves when the log has one
 *  more line with `event` (config_reloaded or config_reload_failed). */
async function reload(text, event = 'config_reloaded') {
  const before = countLog(event);
  fs.writeFileSync(srv.configFile, `${header}${text}`);
  srv.child.kill('SIGHUP');
  const deadline = Date.now() + 15000;
  while (countLog(event) <= before) {
    if (Date.now() > deadline) throw new Error(`no new ${event} in the log:\n${srv.logs().stderr.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return logLines(event).at(-1);
}
const logLines = (event) =>
  srv.logs().stderr.split('\n').filter((l) => l.includes(`"event":"${event}"`)).map((l) => JSON.parse(l));
const countLog = (event) => logLines(event).length;

const cc = (c, resource) =>
  postForm(srv.url('/token'), { grant_type: 'client_credentials', resource, scope: resource === API2 ? 'write' : 'read' },
    { auth: [c.id, c.secret] });

let secretLine;

before(async () => {
  srv = await startServer({ config: body() });
  // The helper's own lines (issuer, listen, storage, workers) come first and stay; it put the key secret
  // into the test's keys: mapping, where every rewrite puts it again.
  const text = fs.readFileSync(srv.configFile, 'utf8');
  header = text.slice(0, text.indexOf('\nlog_level: info'));
  secretLine = /^ {2}secret: .*$/m.exec(text)[0];
});
after(async () => {
  await srv?.stop();
});

/** The test's part of the file for these options, the key secret in its keys: mapping. */
const file = (opts) => `\n${body(opts).replace(/^keys:\n/m, `keys:\n${secretLine}\n`)}`;

describe('reload on SIGHUP', () => {
  test('clients, users, APIs and policies change; no request fails meanwhile', async () => {
    assert.equal((await cc(M2M, API1)).status, 200);
    assert.equal((await cc(GONE, API1)).status, 200);
    assert.equal((await cc(M2M, API2)).json.error, 'invalid_target');
    const first = await signInAndRedeem(srv, { clientId: APP.id, redirectUri: APP.redirect, secret: APP.secret,
      user: USER, params: { scope: 'openid read', resource: API1 } });
    assert.equal(first.status, 200);

    // A stream of requests on keep-alive connections while the file is reloaded three times.
    let stop = false;
    const results = [];
    const load = (async () => {
      while (!stop) {
        const r = await fetch(srv.url('/.well-known/openid-configuration'));
        await r.arrayBuffer();
        results.push(r.status);
      }
    })();
    const load2 = (async () => {
      while (!stop) {
        const r = await postForm(srv.url('/token'), { grant_type: 'client_credentials', resource: API1, scope: 'read' },
          { auth: [APP.id, 'wrong'] });
        results.push(r.status === 401 ? 200 : r.status);
      }
    })();

    // Requests before, between and after the reloads, however fast or slow the machine runs them.
    const more = async (n) => {
      const target = results.length + n;
      const deadline = Date.now() + 20000;
      while (results.length < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    };
    await more(8);
    const line = await reload(file({ m2mSecret: 'm2m-secret-2', withGone: false, api2: true, ttl: 120,
      password: 'second-password-2' }));
    assert.equal(line.clients, 2);
    assert.equal(line.users, 2);
    assert.equal(line.resources, 2);
    await more(8);
    await reload(file({ m2mSecret: 'm2m-secret-2', withGone: false, api2: true, ttl: 120,
      password: 'second-password-2' }));
    await more(8);
    await reload(file({ m2mSecret: 'm2m-secret-2', withGone: false, api2: true, ttl: 120,
      password: 'second-password-2' }));
    await more(8);
    stop = true;
    await Promise.all([load, load2]);
    assert.ok(results.length > 20, `only ${results.length} requests`);
    assert.deepEqual([...new Set(results)], [200], 'every request was answered as before');

    // The changes apply at once (the workers' client caches were dropped).
    assert.equal((await cc(M2M, API1)).status, 401, 'the old secret no longer works');
    const m2 = await cc({ id: M2M.id, secret: 'm2m-secret-2' }, API2);
    assert.equal(m2.status, 200, m2.body);
    assert.equal(m2.json.expires_in, 120, 'tokens.access_token_ttl applies');
    assert.equal((await cc(GONE, API1)).status, 401, 'a client removed from the file is gone');
    const md = await (await fetch(srv.url('/.well-known/openid-configuration'))).json();
    assert.ok(md.scopes_supported.includes('write'), 'discovery lists the new API scope');
    // The user's new password works, the old one no longer does.
    const second = await signInAndRedeem(srv, { clientId: APP.id, redirectUri: APP.redirect, secret: APP.secret,
      user: { ...USER, password: 'second-password-2' }, params: { scope: 'openid read', resource: API1 } });
    assert.equal(second.status, 200);
    await assert.rejects(signInAndRedeem(srv, { clientId: APP.id, redirectUri: APP.redirect, secret: APP.secret,
      user: USER, params: { scope: 'openid read', resource: API1 } }));
  });

  test('a file that fails validation is refused (file:line:col in the log) and the running one kept', async () => {
    const good = file({ m2mSecret: 'm2m-secret-3', withGone: false, api2: true, ttl: 300 });
    await reload(good);
    const bad = good.replace('access_token_ttl: 300', 'access_token_ttl: many');
    const line = await reload(bad, 'config_reload_failed');
    assert.match(line.detail, /^configuration: .*ostiary\.yaml:\d+:\d+: tokens\.access_token_ttl: invalid unsigned integer 'many'$/);
    assert.equal(line.effect, 'the running configuration is kept');
    const r = await cc({ id: M2M.id, secret: 'm2m-secret-3' }, API1);
    assert.equal(r.status, 200);
    assert.equal(r.json.expires_in, 300);
    // A client the rules refuse: the same, and nothing of the file reached the store.
    const badClient = good.replace('m2m-secret-3', 'm2m-secret-4').replace(
      `  - client_id: ${APP.id}`, `  - client_id: ${APP.id}\n    application_type: desktop`);
    const l2 = await reload(badClient, 'config_reload_failed');
    assert.match(l2.detail, /clients\[0\]\.application_type/);
    assert.equal((await cc({ id: M2M.id, secret: 'm2m-secret-3' }, API1)).status, 200);
    assert.equal((await cc({ id: M2M.id, secret: 'm2m-secret-4' }, API1)).status, 401);
    // A secret never appears in the log.
    assert.doesNotMatch(srv.logs().stderr, /m2m-secret|second-password|first-password/);
  });

  test('settings read at start only: named in the log, running value kept, the rest applied', async () => {
    const line = await reload(file({ m2mSecret: 'm2m-secret-5', withGone: false, api2: true, ttl: 300,
      algorithms: 'RS256, ES256', maxParams: 8 }));
    const warn = logLines('config_needs_restart').at(-1);
    assert.equal(warn.settings, 'keys.algorithms');
    assert.ok(line.generation >= 2);
    const md = await (await fetch(srv.url('/.well-known/openid-configuration'))).json();
    assert.deepEqual(md.id_token_signing_alg_values_supported, ['RS256'], 'keys.algorithms kept');
    assert.equal((await cc({ id: M2M.id, secret: 'm2m-secret-5' }, API1)).status, 200, 'the rest applied');
    // limits.max_params is reloaded: 9 parameters are now too many.
    const many = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`p${i}`, 'x']));
    const r = await postForm(srv.url('/token'), { grant_type: 'client_credentials', ...many },
      { headers: { authorization: basicAuth(M2M.id, 'm2m-secret-5') } });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'invalid_request');
  });
});
