// hostile.test.mjs: hostile and malformed input against the configured limits (limits.max_body_bytes ->
// 413, limits.max_params -> 400, limits.max_header_bytes -> 431, limits.request_timeout_ms for slow
// clients) and against the parsers (invalid UTF-8, NUL, broken Basic credentials, huge scopes, broken
// HTTP). After each hostile input the server must still answer a normal token request.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { API, CLIENTS, basicAuth, rawRequest, rawStatus, standardConfig, startServer } from './lib/server.mjs';

const LIMITS = { max_body_bytes: 4096, max_params: 16, max_header_bytes: 4096, request_timeout_ms: 1000 };
const B = CLIENTS.basic;
const AUTH = basicAuth(B.id, B.secret);
const CC = 'grant_type=client_credentials';
let srv;

before(async () => {
  const limits = Object.entries(LIMITS).map(([k, v]) => `  ${k}: ${v}`).join('\n');
  srv = await startServer({ config: standardConfig(`limits:\n${limits}\n`) });
});
after(async () => {
  await srv?.stop();
});

/** The normal request that must keep working. On a new connection each time: with a 1 s request
 *  timeout the server may close an idle keep-alive connection just as a pooled fetch reuses it. */
async function stillServes() {
  const r = await rawRequest(srv.port, rawToken(`${CC}&resource=${encodeURIComponent(API.es256)}`));
  assert.equal(rawStatus(r.data), 200, `a normal token request after the hostile one: ${r.data.slice(0, 300)}`);
  assert.equal(typeof rawJson(r.data)?.access_token, 'string');
}

/** A raw POST /token with the basic client's credentials. */
function rawToken(body, { extraHeaders = '', auth = AUTH, contentLength = Buffer.byteLength(body, 'latin1') } = {}) {
  return (
    `POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n` +
    `Content-Type: application/x-www-form-urlencoded\r\n` +
    (auth ? `Authorization: ${auth}\r\n` : '') +
    extraHeaders +
    `Content-Length: ${contentLength}\r\n\r\n${body}`
  );
}

/** The JSON body of the first raw response (Content-Length, chunked or close-delimited). */
function rawJson(data) {
  const i = data.indexOf('\r\n\r\n');
  if (i < 0) return undefined;
  const head = data.slice(0, i);
  let body = data.slice(i + 4);
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    let out = '';
    for (;;) {
      const eol = body.indexOf('\r\n');
      const size = parseInt(body.slice(0, eol), 16);
      if (!(size > 0)) break;
      out += body.slice(eol + 2, eol + 2 + size);
      body = body.slice(eol + 2 + size + 2);
    }
    body = out;
  } else {
    const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (cl) body = body.slice(0, Number(cl[1]));
  }
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

const pad = (n) => 'x'.repeat(n);
const b64 = (s) => Buffer.from(s, 'latin1').toString('base64');

// Form-level cases: request in, expected status and error out.
const formCases = [
  { name: 'body over max_body_bytes', body: `${CC}&pad=${pad(LIMITS.max_body_bytes * 2)}`, status: 413 },
  { name: 'params over max_params', body: `${CC}&${Array.from({ length: LIMITS.max_params }, (_, i) => `p${i}=1`).join('&')}`, status: 400, error: 'invalid_request' },
  { name: 'invalid UTF-8 %C3%28', body: `${CC}&scope=%C3%28`, status: 400, error: 'invalid_request' },
  { name: 'invalid UTF-8, raw bytes', body: `${CC}&scope=\xc3\x28`, status: 400, error: 'invalid_request' },
  { name: 'overlong UTF-8 %C0%AF', body: `${CC}&resource=https%3A%2F%2Fa%C0%AF`, status: 400, error: 'invalid_request' },
  { name: 'UTF-16 surrogate %ED%A0%80', body: `${CC}&scope=%ED%A0%80`, status: 400, error: 'invalid_request' },
  { name: 'NUL %00 in a value', body: `${CC}&scope=read%00write`, status: 400, error: 'invalid_request' },
  { name: 'NUL %00 in grant_type', body: `grant_type=client_credentials%00`, status: 400, error: 'invalid_request' },
  { name: 'raw NUL byte', body: `${CC}&scope=read\x00write`, status: 400, error: 'invalid_request' },
  { name: 'truncated escape', body: `${CC}&scope=%4`, status: 400, error: 'invalid_request' },
  { name: 'huge scope (one 3000-character token)', body: `${CC}&scope=${pad(3000)}`, status: 400, error: 'invalid_scope' },
  { name: 'huge scope (1000 tokens)', body: `${CC}&scope=${Array.from({ length: 1000 }, () => 'a').join('+')}`, status: 400, error: 'invalid_scope' },
  { name: 'huge scope (200 distinct tokens)', body: `${CC}&scope=${Array.from({ length: 200 }, (_, i) => `s${i}`).join('+')}`, status: 400, error: 'invalid_scope' },
  { name: 'huge resource', body: `${CC}&resource=https%3A%2F%2F${pad(3000)}`, status: 400, error: 'invalid_target' },
  { name: 'malformed Basic: not base64', auth: 'Basic !!!not-base64!!!', body: CC, status: 401, error: 'invalid_client', basic: true },
  { name: 'malformed Basic: no colon', auth: `Basic ${b64('basic-client')}`, body: CC, status: 401, error: 'invalid_client', basic: true },
  { name: 'malformed Basic: empty', auth: 'Basic ', body: CC, status: 401, error: 'invalid_client', basic: true },
  { name: 'malformed Basic: NUL in user', auth: `Basic ${b64('basic-client%00:basic-secret')}`, body: CC, status: 401, error: 'invalid_client', basic: true },
  { name: 'malformed Basic: invalid UTF-8', auth: `Basic ${b64('basic-client%C3%28:basic-secret')}`, body: CC, status: 401, error: 'invalid_client', basic: true },
  { name: 'malformed Basic: raw NUL after the secret', auth: `Basic ${b64('basic-client:basic-secret\x00')}`, body: CC, status: 401, error: 'invalid_client', basic: true },
  { name: 'Basic with a 1000-character client id', auth: basicAuth(pad(1000), 'x'), body: CC, status: 401, error: 'invalid_client', basic: true },
  { name: 'Bearer instead of client credentials', auth: 'Bearer abc', body: CC, status: 401, error: 'invalid_client' },
];

describe('hostile forms and credentials', () => {
  for (const c of formCases) {
    test(`${c.name} -> ${c.status}${c.error ? ` ${c.error}` : ''}`, async () => {
      const r = await rawRequest(srv.port, rawToken(c.body, { auth: c.auth ?? AUTH }));
      assert.equal(rawStatus(r.data), c.status, r.data.slice(0, 300));
      if (c.error) assert.equal(rawJson(r.data)?.error, c.error, r.data.slice(0, 400));
      if (c.basic) assert.match(r.data, /\r\nwww-authenticate: Basic/i, 'Basic challenge');
      assert.doesNotMatch(r.data, /access_token/);
      await stillServes();
    });
  }
});

describe('limits', () => {
  test('Content-Length over max_body_bytes is refused before the body is read', async () => {
    const r = await rawRequest(srv.port, rawToken('', { contentLength: 100_000_000 }), { timeoutMs: 3000 });
    assert.equal(rawStatus(r.data), 413, r.data.slice(0, 200));
    await stillServes();
  });

  test('chunked body over max_body_bytes -> 413', async () => {
    const chunk = `1000\r\n${pad(4096)}\r\n`;
    const req =
      `POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: ${AUTH}\r\n` +
      `Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.repeat(4)}0\r\n\r\n`;
    const r = await rawRequest(srv.port, req, { timeoutMs: 3000 });
    assert.equal(rawStatus(r.data), 413, r.data.slice(0, 200));
    await stillServes();
  });

  test('a body just under max_body_bytes is served', async () => {
    const body = `${CC}&resource=${encodeURIComponent(API.rs256)}&x=`;
    const r = await rawRequest(srv.port, rawToken(body + pad(LIMITS.max_body_bytes - body.length - 16)));
    assert.equal(rawStatus(r.data), 200, r.data.slice(0, 300));
  });

  test('exactly max_params parameters are served', async () => {
    const body = [CC, ...Array.from({ length: LIMITS.max_params - 1 }, (_, i) => `p${i}=1`)].join('&');
    const r = await rawRequest(srv.port, rawToken(body));
    assert.equal(rawStatus(r.data), 200, r.data.slice(0, 300));
  });

  test('header section over max_header_bytes -> 431', async () => {
    const r = await rawRequest(srv.port, rawToken(CC, { extraHeaders: `X-Pad: ${pad(LIMITS.max_header_bytes + 2000)}\r\n` }));
    assert.equal(rawStatus(r.data), 431, r.data.slice(0, 200));
    await stillServes();
  });

  test('many small headers over max_header_bytes -> 431 or 400', async () => {
    const many = Array.from({ length: 300 }, (_, i) => `X-H${i}: ${pad(20)}\r\n`).join('');
    const r = await rawRequest(srv.port, rawToken(CC, { extraHeaders: many }));
    assert.ok([400, 431].includes(rawStatus(r.data)), r.data.slice(0, 200));
    await stillServes();
  });

  test('a long request target counts towards the header limit', async () => {
    const r = await rawRequest(srv.port, `GET /${pad(LIMITS.max_header_bytes + 1000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const st = rawStatus(r.data);
    assert.ok(st === 431 || st === 414 || st === 400, `status ${st}`);
    await stillServes();
  });

  test('headers just under max_header_bytes are served', async () => {
    const r = await rawRequest(srv.port, rawToken(CC, { extraHeaders: `X-Pad: ${pad(LIMITS.max_header_bytes - 600)}\r\n` }));
    assert.equal(rawStatus(r.data), 200, r.data.slice(0, 300));
  });
});

describe('slow clients (request_timeout_ms = 1000)', () => {
  const bound = LIMITS.request_timeout_ms + 2000; // generous: the check is "cut off", not a precise timer

  test('half a request line and headers, then nothing: disconnected', async () => {
    const r = await rawRequest(srv.port, 'POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty', { timeoutMs: 8000 });
    assert.ok(r.closed, 'the server closed the connection');
    assert.ok(r.ms < bound, `closed after ${r.ms} ms`);
    await stillServes();
  });

  test('headers complete, half the body, then nothing: disconnected', async () => {
    const full = `${CC}&resource=${encodeURIComponent(API.rs256)}`;
    const req = rawToken(full).slice(0, -Math.floor(full.length / 2));
    const r = await rawRequest(srv.port, req, { timeoutMs: 8000 });
    assert.ok(r.closed, 'the server closed the connection');
    assert.ok(r.ms < bound, `closed after ${r.ms} ms`);
    assert.doesNotMatch(r.data, /access_token/);
    await stillServes();
  });

  test('slowloris: a header line every 200 ms does not keep the connection open', async () => {
    const chunks = ['GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n'];
    for (let i = 0; i < 40; i++) chunks.push(`X-Slow-${i}: 1\r\n`);
    const r = await rawRequest(srv.port, null, { chunks, gapMs: 200, timeoutMs: 10000 });
    assert.ok(r.closed, 'the server closed the connection');
    assert.ok(r.ms < bound, `closed after ${r.ms} ms`);
    await stillServes();
  });

  test('idle connection after connect: disconnected', async () => {
    const r = await rawRequest(srv.port, '', { timeoutMs: 8000 });
    assert.ok(r.closed, 'the server closed the connection');
    assert.ok(r.ms < bound, `closed after ${r.ms} ms`);
    await stillServes();
  });

  test('100 stalled connections do not block normal requests', async () => {
    const socks = [];
    for (let i = 0; i < 100; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => {});
      s.write('POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      socks.push(s);
    }
    try {
      await stillServes();
    } finally {
      for (const s of socks) s.destroy();
    }
    await stillServes();
  });
});

describe('broken HTTP', () => {
  const cases = [
    ['garbage request line', 'GARBAGE\r\n\r\n'],
    ['binary noise', Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 131 + 7) & 0xff)).toString('latin1')],
    ['NUL in a header value', `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\x00b\r\n\r\n`],
    ['bare LF line endings with a bad header', 'GET /healthz HTTP/1.1\nHost 127.0.0.1\n\n'],
    ['conflicting Content-Length', `POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\nhello`],
    ['negative Content-Length', `POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n`],
    ['Content-Length and chunked', `POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
    ['bad chunk size', `POST /token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`],
  ];
  for (const [name, payload] of cases) {
    test(`${name}: no crash, no token`, async () => {
      const r = await rawRequest(srv.port, payload, { timeoutMs: 4000 });
      const st = rawStatus(r.data);
      assert.ok(st === 0 || (st >= 400 && st < 500), `status ${st}: ${r.data.slice(0, 200)}`);
      assert.doesNotMatch(r.data, /access_token/);
      await stillServes();
    });
  }

  test('20 pipelined requests get 20 answers', async () => {
    const r = await rawRequest(srv.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(20), { timeoutMs: 2000 });
    assert.equal((r.data.match(/HTTP\/1\.1 200/g) || []).length, 20);
  });
});
