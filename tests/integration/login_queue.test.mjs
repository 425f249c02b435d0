// login_queue.test.mjs: the login posts' password-hashing queue (http/server.c, offloaded requests).
//  - It is bounded (limits.login_queue): a flood gets a rendered 503 login page with Retry-After at once,
//    and a real sign-in right after is served.
//  - A queued post whose client has closed its connection is dropped before its password is hashed.
//  - SIGTERM with 300 wrong-password posts in flight: the process exits well within the documented 10 s,
//    queued posts are answered 503 (or dropped), and (almost) no hash is computed after the stop.
// The failed-login limiter is set out of the way (login.max_failures) so that every post reaches the hash.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';

import { httpRequest, loginBody, openLoginPage } from './lib/flow.mjs';
import { freePort, startServer } from './lib/server.mjs';

const APP = { id: 'queue-app', secret: 'queue-app-secret', redirect: 'https://rp.example/cb' };
const USER = { username: 'queued', password: 'the right password' };

const config = ({ workers, queue, adminPort }) => `
log_level: info
workers: ${workers}${adminPort ? `\nadmin:\n  listen: "127.0.0.1:${adminPort}"\n  metrics_public: true` : ''}
limits:
  login_queue: ${queue}
login:
  max_failures: 1000
clients:
  - client_id: ${APP.id}
    client_secret: ${APP.secret}
    grant_types: [authorization_code]
    redirect_uris: ["${APP.redirect}"]
users:
  - username: ${USER.username}
    password: "${USER.password}"
`;

const servers = [];
after(async () => {
  await Promise.allSettled(servers.map((s) => s.stop()));
});
async function start(opts) {
  const s = await startServer({ config: config(opts) });
  servers.push(s);
  return s;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Wrong-password hashes the server computed so far (one login_failed line each). */
const hashes = (srv) => srv.logs().stderr.split('\n').filter((l) => l.includes('"event":"login_failed"'));

/** A raw login post (the form of a real login page, with its cookies) on a new connection. */
function rawLoginPost(srv, { jar, form }, password) {
  const body = loginBody(form, USER.username, password).toString();
  const url = new URL(form.action);
  return (
    `POST ${url.pathname} HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
    `Cookie: ${jar.header(form.action)}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** Opens a connection and sends `payload`; resolves the socket once written. */
function send(port, payload) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(payload, () => resolve(sock)));
    sock.on('error', reject);
  });
}

describe('bounded queue', () => {
  test('a flood of login posts: the overflow gets a 503 login page with Retry-After; a real sign-in still works', { timeout: 60000 }, async () => {
    const srv = await start({ workers: 1, queue: 4 });
    const page = await openLoginPage(srv, { clientId: APP.id, redirectUri: APP.redirect });
    const wrong = loginBody(page.form, USER.username, 'wrong password');
    const results = await Promise.all(
      Array.from({ length: 40 }, () => httpRequest(page.form.action, { jar: page.jar, body: wrong, timeoutMs: 30000 })),
    );
    const byStatus = {};
    for (const r of results) byStatus[r.status] = (byStatus[r.status] || 0) + 1;
    const busy = results.filter((r) => r.status === 503);
    assert.ok(busy.length >= 20, `most of the flood is refused at once: ${JSON.stringify(byStatus)}`);
    assert.equal((byStatus[401] || 0) + busy.length, 40, JSON.stringify(byStatus));
    for (const r of busy) {
      assert.match(r.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/, 'Retry-After in seconds');
      assert.match(r.headers.get('content-type'), /^text\/html/);
      assert.match(r.body, /id="login-form"/, 'the login page again, to try once more');
      assert.match(r.body, /Too many sign-ins/);
    }
    assert.ok(hashes(srv).length <= 40 - busy.length, 'a refused post is never hashed');
    // The queue drained: the person gets in.
    const ok = await httpRequest(page.form.action, {
      jar: page.jar,
      body: loginBody(page.form, USER.username, USER.password),
      timeoutMs: 30000,
    });
    assert.equal(ok.status, 303, ok.body.slice(0, 300));
  });

  test('posts whose client has gone are dropped before their password is hashed', { timeout: 60000 }, async () => {
    const srv = await start({ workers: 1, queue: 1000 });
    const page = await openLoginPage(srv, { clientId: APP.id, redirectUri: APP.redirect });
    const payload = rawLoginPost(srv, page, 'wrong password');
    const socks = await Promise.all(Array.from({ length: 30 }, () => send(srv.port, payload)));
    for (const s of socks) s.destroy(); // the clients give up at once
    // Wait for the queue to drain (each job is either hashed or dropped), then count the hashes.
    const deadline = Date.now() + 30000;
    let gone = 0;
    while (Date.now() < deadline) {
      await sleep(200);
      gone = srv.logs().stderr.split('\n').filter((l) => l.includes('"error":"client_gone"')).length;
      if (gone + hashes(srv).length >= 30) break;
    }
    const n = hashes(srv).length;
    assert.ok(n <= 3, `${n} of 30 abandoned posts were hashed`);
    assert.ok(gone >= 27, `dropped as client_gone: ${gone}`);
    // And the server still signs people in.
    const ok = await httpRequest(page.form.action, {
      jar: page.jar,
      body: loginBody(page.form, USER.username, USER.password),
      timeoutMs: 30000,
    });
    assert.equal(ok.status, 303);
  });
});

/** The login queue's depth now (ostiary_login_queue_depth on the admin listener's /metrics). */
async function queueDepth(adminPort) {
  const r = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
  const m = /^ostiary_login_queue_depth (\d+)$/m.exec(await r.text());
  assert.ok(m, 'the metrics give the login queue depth');
  return Number(m[1]);
}

test('SIGTERM with 300 concurrent wrong-password posts: exits within 10 s, no hashing after the stop', { timeout: 90000 }, async () => {
  const adminPort = await freePort();
  const srv = await start({ workers: 2, queue: 1000, adminPort });
  const page = await openLoginPage(srv, { clientId: APP.id, redirectUri: APP.redirect });
  const payload = rawLoginPost(srv, page, 'wrong password');
  const answers = [];
  const conns = await Promise.all(
    Array.from({ length: 300 }, async () => {
      const sock = await send(srv.port, payload);
      const chunks = [];
      const done = new Promise((resolve) => {
        sock.on('data', (d) => chunks.push(d));
        sock.on('close', () => resolve());
        sock.on('error', () => {});
      });
      answers.push(done.then(() => Buffer.concat(chunks).toString('latin1')));
      return sock;
    }),
  );
  // Let the pool start on them and the loops read every post (queued, being hashed or hashed: 2 pool
  // threads), then stop the server. How many were queued at that point is what the stop must answer 503.
  while (hashes(srv).length < 2) await sleep(20);
  let queued = 0;
  for (const deadline = Date.now() + 10000; Date.now() < deadline; await sleep(5)) {
    queued = await queueDepth(adminPort);
    if (queued + hashes(srv).length + 2 >= 300) break;
  }
  assert.ok(queued >= 200, `posts queued before the stop: ${queued} of 300`);
  const exited = new Promise((resolve) => srv.child.once('exit', () => resolve(Date.now())));
  const t0 = Date.now();
  srv.child.kill('SIGTERM');
  let handle;
  const timer = new Promise((r) => {
    handle = setTimeout(r, 20000, 'timeout');
  });
  const first = await Promise.race([exited, timer]);
  clearTimeout(handle);
  if (first === 'timeout') srv.child.kill('SIGKILL');
  const ms = (first === 'timeout' ? await exited : first) - t0;
  for (const s of conns) s.destroy();
  assert.notEqual(first, 'timeout', 'did not exit within 20 s');
  assert.ok(ms < 10000, `exited ${ms} ms after SIGTERM`);

  // Hashes logged after the stop line: at most the one each pool thread was computing.
  const lines = srv.logs().stderr.split('\n');
  const stopAt = lines.findIndex((l) => l.includes('"event":"stopping"'));
  assert.ok(stopAt >= 0, 'logged the stop');
  const after = lines.slice(stopAt).filter((l) => l.includes('"event":"login_failed"')).length;
  assert.ok(after <= 2, `${after} passwords hashed after SIGTERM`);
  assert.ok(lines.some((l) => l.includes('"event":"jobs_dropped"')), 'logged the dropped jobs');

  // The queued posts were answered 503 (their connections were still there).
  const texts = await Promise.all(answers);
  const busy = texts.filter((t) => /^HTTP\/1\.1 503 /.test(t));
  // Between the count and the stop, each pool thread may have taken one or two more.
  assert.ok(busy.length >= queued - 4, `answered 503: ${busy.length} of the ${queued} queued`);
  assert.match(busy[0], /\r\nRetry-After: \d+\r\n/i);
  assert.match(busy[0], /\r\nConnection: close\r\n/i);
});
