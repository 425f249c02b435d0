// connections.test.mjs: connections are dealt to the event loops in turn (http/server.c, on_accept). A pool
// of keep-alive connections opened one after another (what a load balancer or an API gateway keeps) is
// spread exactly evenly over the loops, whichever loop happened to wake for each, and every request of a
// connection is served by the loop that got it. Which loop served a request shows in its X-Request-Id:
// its first 8 hex digits are the loop's own prefix, the rest its sequence number.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';

import { startServer } from './lib/server.mjs';

/** One keep-alive connection that sends GET /healthz and reads one response at a time. */
function openConnection(port) {
  const sock = net.connect(port, '127.0.0.1');
  let buf = '';
  let waiter = null;
  sock.setEncoding('latin1');
  sock.on('data', (d) => {
    buf += d;
    if (waiter) waiter();
  });
  const ready = new Promise((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  async function get() {
    await ready;
    buf = '';
    sock.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const deadline = Date.now() + 5000;
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = buf.slice(0, end);
        const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length >= end + 4 + len) {
          assert.match(head, /^HTTP\/1\.1 200 /);
          const rid = /\r\nx-request-id: *([0-9a-f]{16})/i.exec(head)?.[1];
          assert.ok(rid, `no X-Request-Id in:\n${head}`);
          return rid;
        }
      }
      if (Date.now() > deadline) throw new Error(`no complete response; got: ${JSON.stringify(buf)}`);
      await new Promise((r) => {
        waiter = r;
        setTimeout(r, 50);
      });
      waiter = null;
    }
  }
  return { get, close: () => sock.destroy() };
}

/** Until every loop has served a request: a loop takes connections once its worker is set up (with PostgreSQL,
 * its own database connection), and the server answers as soon as one loop is; a connection dealt to a loop
 * not yet up is served by the loop that accepted it. */
async function allLoopsUp(port, workers) {
  const seen = new Set();
  for (let i = 0; i < 200 && seen.size < workers; i++) {
    const c = openConnection(port);
    try {
      seen.add((await c.get()).slice(0, 8));
    } finally {
      c.close();
    }
    if (seen.size < workers) await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(seen.size, workers, `only ${seen.size} of ${workers} loops served a request`);
}

async function spread(workers, perLoop) {
  const srv = await startServer({ config: `workers: ${workers}\n` });
  const conns = [];
  try {
    await allLoopsUp(srv.port, workers);
    const loopOf = [];
    for (let i = 0; i < workers * perLoop; i++) {
      const c = openConnection(srv.port);
      conns.push(c);
      loopOf.push((await c.get()).slice(0, 8));
    }
    const counts = new Map();
    for (const l of loopOf) counts.set(l, (counts.get(l) ?? 0) + 1);
    assert.equal(counts.size, workers, `connections went to ${counts.size} loop(s): ${JSON.stringify([...counts])}`);
    for (const [l, n] of counts) assert.equal(n, perLoop, `loop ${l} got ${n} connections, not ${perLoop}`);
    // Each connection stays with its loop.
    for (let i = 0; i < conns.length; i++) {
      for (let k = 0; k < 3; k++) assert.equal((await conns[i].get()).slice(0, 8), loopOf[i]);
    }
  } finally {
    for (const c of conns) c.close();
    await srv.stop();
  }
}

describe('connections are dealt to the loops in turn', () => {
  test('2 workers, 8 keep-alive connections: 4 on each loop', { timeout: 30000 }, () => spread(2, 4));
  test('3 workers, 9 keep-alive connections: 3 on each loop', { timeout: 30000 }, () => spread(3, 3));
});

