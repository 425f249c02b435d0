// http_framing.test.mjs: HTTP/1.1 message handling at the edge, on raw sockets (and Node's own clients
// where the point is what real clients see):
//  - ambiguous body framing (RFC 9112 §6.1, §6.3: repeated Content-Length, Content-Length with
//    Transfer-Encoding, Transfer-Encoding in HTTP/1.0, folded lines) gets 400 and a closed connection,
//    and a request smuggled in the body is never answered;
//  - a body over limits.max_body_bytes gets 413 that clients still sending it can read (closing in stages,
//    RFC 9112 §9.6), checked with fetch (undici) on keep-alive connections;
//  - HTTP/2 in clear text: refused (prior knowledge) or ignored (Upgrade: h2c) before any handler runs by
//    default; served correctly with http2_cleartext: true (node:http2 and curl --http2-prior-knowledge);
//  - the absolute form of the request target (RFC 9112 §3.2.2) is served;
//  - methods: /assets/style.css is GET/HEAD only (405 with Allow), HEAD works wherever GET does.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';

import { API, CLIENTS, basicAuth, h2request, rawRequest, rawStatus, standardConfig, startServer } from './lib/server.mjs';

const B = CLIENTS.basic;
const AUTH = basicAuth(B.id, B.secret);
const MAX_BODY = 4096;
let srv;

before(async () => {
  srv = await startServer({ config: standardConfig(`limits:\n  max_body_bytes: ${MAX_BODY}\n`) });
});
after(async () => {
  await srv?.stop();
});

/** Every HTTP/1.x status line in raw response bytes. */
const statusLines = (data) => data.match(/^HTTP\/1\.[01] \d{3}/gm) ?? [];
/** The head of the first raw response. */
const head = (data) => data.slice(0, Math.max(0, data.indexOf('\r\n\r\n')));
/** The access-log lines of the server so far. */
const accessLog = (s) =>
  s.logs().stderr.split('\n').filter((l) => l.includes('"event":"request"')).map((l) => JSON.parse(l));

const form = 'Content-Type: application/x-www-form-urlencoded\r\n';
const tokenHead = (extra) => `POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${AUTH}\r\n${form}${extra}\r\n`;
const CC = `grant_type=client_credentials&resource=${encodeURIComponent(API.rs256)}`;
/** A GET asking to switch to HTTP/2 (RFC 7540 §3.2 h2c upgrade, deprecated by RFC 9113 §3.1). */
const UPGRADE_H2C =
  'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n' +
  'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n';

describe('ambiguous framing: 400, connection closed, nothing after it is read', () => {
  test('two Content-Length headers with different values', async () => {
    const body = `${CC}&pad=0123456789`;
    const r = await rawRequest(srv.port, tokenHead(`Content-Length: ${CC.length}\r\nContent-Length: ${body.length}\r\n`) + body);
    assert.equal(rawStatus(r.data), 400, r.data.slice(0, 300));
    assert.match(head(r.data), /\r\nConnection: close/i);
    assert.match(r.data, /"error":"invalid_request"/);
    assert.match(r.data, /Content-Length/);
    assert.equal(r.closed, true, 'the server closed the connection');
    assert.doesNotMatch(r.data, /access_token/);
  });

  test('two identical Content-Length headers are refused as well', async () => {
    const r = await rawRequest(srv.port, tokenHead(`Content-Length: ${CC.length}\r\nContent-Length: ${CC.length}\r\n`) + CC);
    assert.equal(rawStatus(r.data), 400, r.data.slice(0, 300));
    assert.equal(r.closed, true);
  });

  test('Content-Length and Transfer-Encoding: a pipelined request smuggled in the body is not served', async () => {
    // A proxy that frames by Content-Length sees one request; a server that frames by chunked sees two.
    const smuggled = 'GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    const chunked = `${CC.length.toString(16)}\r\n${CC}\r\n0\r\n\r\n`;
    const body = chunked + smuggled;
    const r = await rawRequest(
      srv.port,
      tokenHead(`Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n`) + body,
      { timeoutMs: 3000 },
    );
    assert.equal(rawStatus(r.data), 400, r.data.slice(0, 300));
    assert.match(head(r.data), /\r\nConnection: close/i);
    assert.equal(statusLines(r.data).length, 1, `exactly one response: ${r.data}`);
    assert.doesNotMatch(r.data, /access_token|"issuer"/);
    assert.equal(r.closed, true);
    // The smuggled request never reached an endpoint (nothing else in this file asks for that path).
    await new Promise((res) => setTimeout(res, 300)); // the access log is flushed every 100 ms
    const lines = accessLog(srv);
    assert.ok(!lines.some((l) => l.path === '/.well-known/oauth-authorization-server'), JSON.stringify(lines));
  });

  test('Transfer-Encoding in an HTTP/1.0 request', async () => {
    const req = `POST /token HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: ${AUTH}\r\n${form}Transfer-Encoding: chunked\r\n\r\n` +
      `${CC.length.toString(16)}\r\n${CC}\r\n0\r\n\r\n`;
    const r = await rawRequest(srv.port, req);
    assert.equal(rawStatus(r.data), 400, r.data.slice(0, 300));
    assert.match(r.data, /HTTP\/1\.0/);
    assert.equal(r.closed, true);
  });

  test('two Transfer-Encoding headers', async () => {
    const req = tokenHead('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n') +
      `${CC.length.toString(16)}\r\n${CC}\r\n0\r\n\r\n`;
    const r = await rawRequest(srv.port, req);
    assert.equal(rawStatus(r.data), 400, r.data.slice(0, 300));
    assert.equal(r.closed, true);
  });

  test('a transfer coding other than chunked', async () => {
    const r = await rawRequest(srv.port, tokenHead('Transfer-Encoding: gzip, chunked\r\n') + '0\r\n\r\n');
    assert.equal(rawStatus(r.data), 400, r.data.slice(0, 300));
    assert.equal(r.closed, true);
  });

  test('an obsolete folded header line (RFC 9112 section 5.2)', async () => {
    const r = await rawRequest(srv.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Note: a\r\n b\r\n\r\n');
    assert.equal(rawStatus(r.data), 400, r.data.slice(0, 300));
    assert.equal(r.closed, true);
  });

  test('a single chunked body is still served', async () => {
    const req = tokenHead('Transfer-Encoding: chunked\r\nConnection: close\r\n') + `${CC.length.toString(16)}\r\n${CC}\r\n0\r\n\r\n`;
    const r = await rawRequest(srv.port, req);
    assert.equal(rawStatus(r.data), 200, r.data.slice(0, 300));
    assert.match(r.data, /access_token/);
  });
});

describe('413: the client reads it, even while still sending the body', () => {
  test('raw: 413 with Connection: close for a Content-Length over the limit', async () => {
    const big = 'x'.repeat(MAX_BODY * 4);
    const r = await rawRequest(srv.port, tokenHead(`Content-Length: ${big.length}\r\n`) + big);
    assert.equal(rawStatus(r.data), 413, r.data.slice(0, 300));
    assert.match(head(r.data), /\r\nConnection: close/i);
    assert.equal(r.closed, true);
  });

  test('fetch (undici), 8 keep-alive connections, 160 bodies of 1 MB over the limit: every one reads 413', { timeout: 60000 }, async () => {
    const body = `grant_type=client_credentials&pad=${'x'.repeat(1 << 20)}`;
    const seen = {};
    const errors = [];
    let next = 0;
    const worker = async () => {
      while (next < 160) {
        next++;
        try {
          const res = await fetch(srv.url('/token'), {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: AUTH },
            body,
          });
          await res.arrayBuffer();
          seen[res.status] = (seen[res.status] || 0) + 1;
        } catch (e) {
          errors.push(e.cause?.code || e.message);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    assert.deepEqual(errors, [], `requests that did not read a response: ${errors.length}`);
    assert.deepEqual(seen, { 413: 160 });
  });
});

describe('HTTP/2 in clear text is off by default', () => {
  test('a prior-knowledge preface is refused before any handler runs', async () => {
    await new Promise((res) => setTimeout(res, 300)); // earlier lines flushed
    const before = accessLog(srv).length;
    // The preface, then a SETTINGS frame and a HEADERS frame would follow; the preface alone is enough.
    const r = await rawRequest(srv.port, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00');
    assert.equal(rawStatus(r.data), 400, r.data.slice(0, 300));
    assert.equal(r.closed, true);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(accessLog(srv).length, before, 'no request reached the application');
  });

  test('Upgrade: h2c is ignored: the request is served as HTTP/1.1', async () => {
    const r = await rawRequest(srv.port, UPGRADE_H2C);
    assert.equal(rawStatus(r.data), 200, r.data.slice(0, 300));
    assert.doesNotMatch(r.data, /101 Switching/);
    assert.match(r.data, /"status":"ok"/);
  });
});

describe('request target forms and methods', () => {
  test('absolute-form GET http://host/healthz is served (RFC 9112 section 3.2.2)', async () => {
    const r = await rawRequest(srv.port, `GET http://127.0.0.1:${srv.port}/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    assert.equal(rawStatus(r.data), 200, r.data.slice(0, 300));
    assert.match(r.data, /"status":"ok"/);
  });

  test('absolute-form POST to the token endpoint is served', async () => {
    const r = await rawRequest(
      srv.port,
      `POST http://127.0.0.1:${srv.port}/token HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: ${AUTH}\r\n` +
        `${form}Content-Length: ${CC.length}\r\n\r\n${CC}`,
    );
    assert.equal(rawStatus(r.data), 200, r.data.slice(0, 300));
    assert.match(r.data, /access_token/);
  });

  for (const method of ['PUT', 'DELETE', 'PATCH', 'TRACE', 'POST', 'OPTIONS']) {
    test(`${method} /assets/style.css -> 405 with Allow: GET, HEAD`, async () => {
      const r = await rawRequest(srv.port, `${method} /assets/style.css HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      assert.equal(rawStatus(r.data), 405, r.data.slice(0, 300));
      assert.match(head(r.data), /\r\nAllow: GET, HEAD\r?$/im);
      assert.doesNotMatch(r.data, /text\/css/);
    });
  }

  test('GET and HEAD /assets/style.css are served', async () => {
    const g = await rawRequest(srv.port, 'GET /assets/style.css HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    assert.equal(rawStatus(g.data), 200);
    assert.match(head(g.data), /text\/css/);
    const h = await rawRequest(srv.port, 'HEAD /assets/style.css HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    assert.equal(rawStatus(h.data), 200);
    assert.equal(h.data.slice(h.data.indexOf('\r\n\r\n') + 4), '', 'no body');
  });

  test('HEAD /me behaves as GET /me: 401 with the Bearer challenge without a token, 200 without a body with one', async () => {
    const r = await rawRequest(srv.port, 'HEAD /me HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    assert.equal(rawStatus(r.data), 401, r.data.slice(0, 300));
    assert.match(head(r.data), /\r\nWWW-Authenticate: Bearer/i);
    // A user's token for userinfo needs a login; an opaque client token shows the same path reaches
    // token validation (invalid_token: not a user's token), like GET.
    const tok = await fetch(srv.url('/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: AUTH },
      body: `grant_type=client_credentials&resource=${encodeURIComponent(API.opaque)}`,
    }).then((res) => res.json());
    const get = await rawRequest(srv.port, `GET /me HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer ${tok.access_token}\r\n\r\n`);
    const hd = await rawRequest(srv.port, `HEAD /me HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer ${tok.access_token}\r\n\r\n`);
    assert.equal(rawStatus(hd.data), rawStatus(get.data));
    assert.equal(rawStatus(hd.data), 401);
    assert.match(head(hd.data), /error="invalid_token"/);
    assert.equal(hd.data.slice(hd.data.indexOf('\r\n\r\n') + 4), '', 'no body');
  });
});

describe('HTTP/2 with http2_cleartext: true', () => {
  let h2srv;
  before(async () => {
    h2srv = await startServer({ config: standardConfig('http2_cleartext: true\n') });
  });
  after(async () => {
    await h2srv?.stop();
  });

  test('node:http2 (prior knowledge): discovery, a token, an error, HEAD', async () => {
    const session = http2.connect(`http://127.0.0.1:${h2srv.port}`);
    session.on('error', () => {});
    try {
      const disc = await h2request(session, { ':method': 'GET', ':path': '/.well-known/openid-configuration' });
      assert.equal(disc.status, 200);
      assert.equal(JSON.parse(disc.body).issuer, h2srv.issuer);
      assert.equal(disc.headers['content-type'], 'application/json');

      const tok = await h2request(
        session,
        { ':method': 'POST', ':path': '/token', 'content-type': 'application/x-www-form-urlencoded', authorization: AUTH },
        CC,
      );
      assert.equal(tok.status, 200, tok.body);
      assert.equal(typeof JSON.parse(tok.body).access_token, 'string');
      assert.equal(tok.headers['cache-control'], 'no-store');

      const bad = await h2request(
        session,
        { ':method': 'POST', ':path': '/token', 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(B.id, 'wrong') },
        CC,
      );
      assert.equal(bad.status, 401);
      assert.equal(JSON.parse(bad.body).error, 'invalid_client');
      assert.match(bad.headers['www-authenticate'], /^Basic/);

      const headRes = await h2request(session, { ':method': 'HEAD', ':path': '/jwks' });
      assert.equal(headRes.status, 200);
      assert.equal(headRes.body, '');
    } finally {
      session.close();
    }
    // Every request was logged with the status the client received.
    await new Promise((res) => setTimeout(res, 300));
    const statuses = accessLog(h2srv).filter((l) => l.path === '/token').map((l) => l.status);
    assert.deepEqual(statuses, [200, 401]);
  });

  test('curl --http2-prior-knowledge: discovery and a token', async () => {
    const run = (args) =>
      new Promise((resolve, reject) => {
        execFile('curl', ['-s', '--http2-prior-knowledge', '-w', '\\n%{http_version} %{http_code}', ...args], (err, out) =>
          err ? reject(err) : resolve(out));
      });
    const d = await run([h2srv.url('/.well-known/openid-configuration')]);
    assert.match(d, /\n2 200$/);
    assert.match(d, /"issuer"/);
    const t = await run(['-u', `${B.id}:${B.secret}`, '-d', CC, h2srv.url('/token')]);
    assert.match(t, /\n2 200$/);
    assert.match(t, /"access_token"/);
  });

  test('HTTP/1.1 still works, and Upgrade: h2c stays ignored', async () => {
    const r = await rawRequest(h2srv.port, UPGRADE_H2C);
    assert.equal(rawStatus(r.data), 200, r.data.slice(0, 300));
    const res = await fetch(h2srv.url('/healthz'));
    assert.equal(res.status, 200);
  });
});
