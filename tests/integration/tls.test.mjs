// tls.test.mjs: native TLS (tls.cert_file, tls.key_file) with a throwaway PKI (lib/tls.mjs: root,
// intermediate, leaf; the server sends leaf + intermediate, clients trust the root only). HTTP/2 through
// ALPN and HTTP/1.1 on the same port (curl --http2 / --http1.1, node:http2), TLS 1.2 at least, HSTS on the
// https issuer, an openid-client relying party over TLS (its own node process trusting the CA through
// NODE_EXTRA_CA_CERTS), the admin listener over TLS, and the certificate replaced on SIGHUP without
// dropping established connections (a bad file keeps the running certificate).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { API, CLIENTS, basicAuth, freePort, h2request, httpsGet, standardConfig, startServer } from './lib/server.mjs';
import { makePki } from './lib/tls.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const B = CLIENTS.basic;
const CC = `grant_type=client_credentials&resource=${encodeURIComponent(API.rs256)}&scope=read`;

function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30000, ...opts }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });
}

function h2connect(port, ca) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca });
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

/** The certificate the server presents to a client trusting `ca` (rejects when the handshake fails). */
function peerCert(port, ca) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] }, () => {
      const c = s.getPeerCertificate();
      s.end();
      resolve(c);
    });
    s.once('error', reject);
  });
}

describe('native TLS', () => {
  let srv;
  let pki;
  let adminPort;
  let dir;
  before(async () => {
    dir = fs.mkdtempSync(path.join(process.env.OSTIARY_TEST_LOGDIR || '/tmp', 'ostiary-tls-pki-'));
    pki = makePki(dir);
    adminPort = await freePort();
    srv = await startServer({
      config: standardConfig(`admin:\n  listen: "127.0.0.1:${adminPort}"\n`),
      tls: pki,
    });
  });
  after(async () => {
    await srv?.stop();
    if (dir && !process.env.OSTIARY_TEST_LOGDIR) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('curl --http2: HTTP/2 negotiated by ALPN, the chain verifies against the root, HSTS is sent', async () => {
    const r = await run('curl', ['-s', '--cacert', pki.caFile, '--http2', '-D', '-', '-w', '\n%{http_version} %{http_code}',
      srv.url('/.well-known/openid-configuration')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\n2 200$/);
    assert.match(r.stdout, /^strict-transport-security: max-age=31536000\r$/m);
    assert.match(r.stdout, /"issuer": ?"https:\/\/127\.0\.0\.1:/);
    const t = await run('curl', ['-s', '--cacert', pki.caFile, '--http2', '-u', `${B.id}:${B.secret}`, '-d', CC,
      '-w', '\n%{http_version} %{http_code}', srv.url('/token')]);
    assert.match(t.stdout, /\n2 200$/);
    assert.match(t.stdout, /"access_token"/);
  });

  test('curl --http1.1 on the same port, TLS 1.2 too; TLS 1.1 and plain HTTP are refused', async () => {
    const r = await run('curl', ['-s', '--cacert', pki.caFile, '--http1.1', '-o', '/dev/null', '-w', '%{http_version} %{http_code}',
      srv.url('/jwks')]);
    assert.equal(r.stdout, '1.1 200');
    const t12 = await run('curl', ['-s', '--cacert', pki.caFile, '--tlsv1.2', '--tls-max', '1.2', '-o', '/dev/null',
      '-w', '%{http_version} %{http_code}', srv.url('/jwks')]);
    assert.equal(t12.stdout, '2 200');
    // A client willing to speak TLS 1.1 (security level 0 lifts OpenSSL's own floor) gets no session.
    const t11 = await run('openssl', ['s_client', '-connect', `127.0.0.1:${srv.port}`, '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'],
      { input: '' });
    assert.notEqual(t11.code, 0);
    assert.doesNotMatch(t11.stdout, /Cipher is ECDHE/);
    const plain = await run('curl', ['-s', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${srv.port}/jwks`]);
    assert.notEqual(plain.code, 0);
  });

  test('TLS 1.2 offers forward-secret AEAD suites only', async () => {
    for (const weak of ['AES128-SHA', 'AES256-GCM-SHA384', 'ECDHE-RSA-AES128-SHA', 'DHE-RSA-AES128-GCM-SHA256']) {
      const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${srv.port}`, '-tls1_2', '-cipher', weak], { input: '' });
      assert.notEqual(r.code, 0, weak);
    }
    const ok = await run('openssl', ['s_client', '-connect', `127.0.0.1:${srv.port}`, '-tls1_2', '-cipher',
      'ECDHE-ECDSA-AES128-GCM-SHA256', '-CAfile', pki.caFile], { input: '' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Verify return code: 0 \(ok\)/);
  });

  test('node:http2 over TLS: ALPN h2; discovery, a token, an error, HEAD, userinfo refusal', async () => {
    const session = await h2connect(srv.port, pki.ca);
    try {
      assert.equal(session.alpnProtocol, 'h2');
      const disc = await h2request(session, { ':method': 'GET', ':path': '/.well-known/openid-configuration' });
      assert.equal(disc.status, 200);
      assert.equal(JSON.parse(disc.body).issuer, srv.issuer);
      assert.equal(disc.headers['strict-transport-security'], 'max-age=31536000');
      const tok = await h2request(session, { ':method': 'POST', ':path': '/token',
        'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(B.id, B.secret) }, CC);
      assert.equal(tok.status, 200, tok.body);
      assert.equal(tok.headers['cache-control'], 'no-store');
      const bad = await h2request(session, { ':method': 'POST', ':path': '/token',
        'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(B.id, 'wrong') }, CC);
      assert.equal(bad.status, 401);
      assert.equal(JSON.parse(bad.body).error, 'invalid_client');
      const head = await h2request(session, { ':method': 'HEAD', ':path': '/jwks' });
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
      const me = await h2request(session, { ':method': 'GET', ':path': '/me' });
      assert.equal(me.status, 401);
      assert.match(me.headers['www-authenticate'], /^Bearer/);
    } finally {
      session.close();
    }
  });

  test('openid-client over TLS (NODE_EXTRA_CA_CERTS): discovery, client_credentials, introspection, revocation', async () => {
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: pki.caFile };
    const r = await run(process.execPath, [path.join(HERE, 'lib/tls_rp.mjs'), srv.issuer, B.id, B.secret, API.rs256], { env });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.issuer, srv.issuer);
    assert.equal(out.token_endpoint, `${srv.issuer}/token`);
    assert.equal(out.token_type.toLowerCase(), 'bearer');
    assert.equal(out.aud, API.rs256);
    assert.equal(out.active_before, true);
    assert.equal(out.active_after, false);
    // Without the CA the same relying party refuses the server.
    const env2 = { ...process.env };
    delete env2.NODE_EXTRA_CA_CERTS;
    const r2 = await run(process.execPath, [path.join(HERE, 'lib/tls_rp.mjs'), srv.issuer, B.id, B.secret, API.rs256], { env: env2 });
    assert.notEqual(r2.code, 0);
  });

  test('the admin listener speaks TLS too', async () => {
    const r = await httpsGet(`https://127.0.0.1:${adminPort}/admin/nothing`, pki.ca);
    assert.equal(r.status, 404);
    assert.equal(r.headers['content-type'], 'application/problem+json');
  });

  test('SIGHUP: a new certificate for new connections, established ones kept; a bad file keeps the old one', async () => {
    const oldSerial = (await peerCert(srv.port, pki.ca)).serialNumber;
    // Established before the reload: an HTTP/2 session and an HTTP/1.1 keep-alive connection.
    const session = await h2connect(srv.port, pki.ca);
    const h1conn = await tlsKeepAlive(srv.port, pki.ca);
    try {
      assert.equal(await h1conn.get('/jwks'), 200);

      // Another PKI: the server's files are overwritten in place, then SIGHUP.
      const pki2 = makePki(dir, 'second');
      fs.copyFileSync(pki2.certFile, pki.certFile);
      fs.copyFileSync(pki2.keyFile, pki.keyFile);
      const reloaded = waitLog(srv, '"tls_reloaded"', 1);
      srv.child.kill('SIGHUP');
      await reloaded;

      // The established connections still work (the same HTTP/1.1 socket, the same HTTP/2 session).
      assert.equal(await h1conn.get('/jwks'), 200);
      const d = await h2request(session, { ':method': 'GET', ':path': '/jwks' });
      assert.equal(d.status, 200);

      // New connections get the new certificate: trusted through the second root only.
      const c2 = await peerCert(srv.port, pki2.ca);
      assert.notEqual(c2.serialNumber, oldSerial);
      await assert.rejects(peerCert(srv.port, pki.ca));

      // A file that does not load: an error line, and the certificate in use stays.
      fs.writeFileSync(pki.certFile, 'not a certificate\n');
      const failed = waitLog(srv, '"tls_reload_failed"', 1);
      srv.child.kill('SIGHUP');
      await failed;
      assert.equal((await peerCert(srv.port, pki2.ca)).serialNumber, c2.serialNumber);
      assert.equal(await h1conn.get('/healthz'), 200);
    } finally {
      session.close();
      h1conn.close();
    }
  });
});

/** One HTTP/1.1 keep-alive connection over TLS, driven by hand so that reusing it is certain:
 *  get(path) resolves the status of one response read whole (Content-Length), on the same socket. */
function tlsKeepAlive(port, ca) {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
    let buf = Buffer.alloc(0);
    let waiting = null;
    const tryParse = () => {
      const end = buf.indexOf('\r\n\r\n');
      if (!waiting || end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      buf = buf.subarray(end + 4 + len);
      const w = waiting;
      waiting = null;
      w.resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0));
    };
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      tryParse();
    });
    const fail = (e) => waiting?.reject(e ?? new Error('the connection was closed'));
    sock.on('error', fail);
    sock.on('close', () => fail());
    sock.once('secureConnect', () =>
      resolve({
        get: (p) =>
          new Promise((res, rej) => {
            waiting = { resolve: res, reject: rej };
            sock.write(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
          }),
        close: () => sock.destroy(),
      }));
    sock.once('error', reject);
  });
}

/** Resolves when the server's stderr has `count` lines containing `needle` (polls, 10 s at most). */
async function waitLog(srv, needle, count) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const n = srv.logs().stderr.split('\n').filter((l) => l.includes(needle)).length;
    if (n >= count) return;
    if (Date.now() > deadline) throw new Error(`no ${needle} in the log:\n${srv.logs().stderr.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('HSTS follows the issuer', () => {
  test('an http issuer gets no Strict-Transport-Security; an https one behind a TLS proxy does', async () => {
    const plain = await startServer({ config: '' });
    try {
      const res = await fetch(plain.url('/jwks'));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('strict-transport-security'), null);
    } finally {
      await plain.stop();
    }
    // An https issuer served in plain HTTP: TLS ends in a proxy in front.
    const proxied = await startServer({ config: 'issuer: "https://id.example.com"\ntls:\n  hsts_max_age: 600\n' });
    try {
      const res = await fetch(`http://127.0.0.1:${proxied.port}/healthz`);
      assert.equal(res.headers.get('strict-transport-security'), 'max-age=600');
    } finally {
      await proxied.stop();
    }
  });
});
