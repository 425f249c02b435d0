// admin_listener.test.mjs: the second listener (`admin.listen`). Requests that come on it are routed to the
// admin API (RFC 9457 problem details), never to the OAuth endpoints; the main listener never serves the
// admin API. Both listeners serve at once, from the same worker threads.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { freePort, standardConfig, startServer } from './lib/server.mjs';

describe('admin listener', () => {
  let srv;
  let adminPort;
  before(async () => {
    adminPort = await freePort();
    srv = await startServer({ config: standardConfig(`admin:\n  listen: "127.0.0.1:${adminPort}"\n`) });
  });
  after(async () => {
    await srv?.stop();
  });

  test('a request on the admin listener gets the admin API (an RFC 9457 problem for an unknown resource)', async () => {
    const res = await fetch(`http://127.0.0.1:${adminPort}/admin/nothing-here`);
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    const p = await res.json();
    assert.equal(p.status, 404);
    assert.equal(p.type, 'about:blank');
    assert.equal(typeof p.title, 'string');
    assert.ok(res.headers.get('x-request-id'));
  });

  test('the OAuth endpoints are not served on the admin listener', async () => {
    for (const path of ['/.well-known/openid-configuration', '/jwks', '/healthz']) {
      const res = await fetch(`http://127.0.0.1:${adminPort}${path}`);
      assert.equal(res.status, 404, path);
      assert.equal(res.headers.get('content-type'), 'application/problem+json', path);
    }
    const res = await fetch(`http://127.0.0.1:${adminPort}/token`, { method: 'POST', body: 'grant_type=x' });
    assert.equal(res.status, 404);
  });

  test('the main listener keeps serving OAuth, and does not serve the admin API', async () => {
    const md = await fetch(srv.url('/.well-known/openid-configuration'));
    assert.equal(md.status, 200);
    const res = await fetch(srv.url('/admin/clients'));
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error, 'not_found'); // the OAuth 404, not a problem document
  });

  test('the log says on which address the admin listener listens', async () => {
    const { stderr } = srv.logs();
    const line = stderr.split('\n').find((l) => l.includes('"listening"'));
    assert.ok(line, stderr);
    assert.equal(JSON.parse(line).admin_listen, `127.0.0.1:${adminPort}`);
  });
});

describe('admin listener refused off loopback without TLS', () => {
  test('the server does not start', async () => {
    const port = await freePort();
    await assert.rejects(
      startServer({ config: `admin:\n  listen: "0.0.0.0:${port}"\n` }),
      /admin\.listen: must be a loopback address/,
    );
  });
});
