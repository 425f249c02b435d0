// server.mjs: starts a real `ostiary serve` for one integration test file: loopback only, a free port,
// a temporary directory with its YAML config and SQLite database, stdout and stderr saved to files.
// Also small HTTP helpers the tests share (form posts, HTTP Basic per RFC 6749 §2.3.1, raw sockets).
//
// Storage: SQLite in the temporary directory; or, when $OSTIARY_TEST_PG_URL names a PostgreSQL server
// (postgres://user@host:port, no database; scripts/pg-test-cluster.sh sets it), a new database on it per
// server (CREATE DATABASE), kept across restarts. newDatabase() makes one that several servers share (the
// multi-instance tests: several instances, one database, one key secret).
//
// The binary is $OSTIARY_BIN (default build/release/ostiary). When $OSTIARY_TEST_LOGDIR is set
// (scripts/run-tests.sh sets it), the temporary directories are made there and kept, so the runner can
// grep every server's stderr for sanitizer reports; otherwise they go to the OS temp dir and are removed
// when the test process exits.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const OSTIARY_BIN = path.resolve(ROOT, process.env.OSTIARY_BIN || 'build/release/ostiary');
const START_TIMEOUT_MS = Number(process.env.OSTIARY_TEST_START_TIMEOUT_MS || 10000);
const STOP_TIMEOUT_MS = 5000;
export const SANITIZER_RE =
  /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer/;

/** The PostgreSQL server the tests run on, or null for SQLite. */
export const PG_URL = process.env.OSTIARY_TEST_PG_URL || null;

const tempDirs = [];
let dbSeq = 0;

/** Runs one SQL statement on the PostgreSQL server's maintenance database (psql, from Debian's client). */
export function pgAdmin(sql, database = 'postgres') {
  return execFileSync('psql', [`${PG_URL}/${database}`, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A new, empty database and the key secret its instances share: { storage, secret, name }. SQLite: a
 *  file in a new temporary directory; PostgreSQL: CREATE DATABASE. `sqlite: true` makes a SQLite one on
 *  either pass. */
export function newDatabase({ sqlite = false } = {}) {
  const secret = randomBytes(30).toString('base64').slice(0, 40);
  if (!PG_URL || sqlite) {
    const dir = makeTempDir();
    return { storage: `sqlite:${path.join(dir, 'ostiary.db')}`, secret, name: null };
  }
  const test = path.basename(process.argv[1] || 'test').replace(/\.test\.mjs$|\.mjs$/, '').replace(/\W/g, '_');
  const name = `it_${test}_${process.pid}_${++dbSeq}`.toLowerCase().slice(0, 60);
  pgAdmin(`CREATE DATABASE ${name}`);
  return { storage: `${PG_URL}/${name}`, secret, name };
}
const children = new Set();
process.on('exit', () => {
  // Last resort: never leave a server behind, whatever happened to the test's after() hook.
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
  if (process.env.OSTIARY_TEST_LOGDIR || process.env.OSTIARY_TEST_KEEP) return;
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

// If the test process itself is stopped (the runner's timeout, ^C), take the servers down with it.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.once(sig, () => process.exit(128 + os.constants.signals[sig]));
}

/** A port that was free a moment ago: bind port 0 on loopback, read the port, close. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The server's environment: ours without any OSTIARY_* variable (the server rejects unknown ones, and
 *  OSTIARY_BIN / OSTIARY_TEST_* are the test runner's), so tests are hermetic. */
function serverEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OSTIARY_')));
}

function makeTempDir() {
  const base = process.env.OSTIARY_TEST_LOGDIR || os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  const test = path.basename(process.argv[1] || 'test').replace(/\.test\.mjs$|\.mjs$/, '');
  const dir = fs.mkdtempSync(path.join(base, `ostiary-${test}-`));
  tempDirs.push(dir);
  return dir;
}

function yamlQuote(s) {
  return JSON.stringify(String(s)); // a JSON string is a valid YAML double-quoted scalar
}

/** The config file: the test's YAML plus what the helper owns (issuer, listen, storage, key secret,
 *  workers) unless the test's YAML sets them itself. keys.secret goes into the test's `keys:` mapping
 *  when it has one. */
function buildConfig(userYaml, { issuer, port, storage, secret, tls }) {
  const lines = [];
  const has = (key) => new RegExp(`^${key}\\s*:`, 'm').test(userYaml);
  if (!has('issuer')) lines.push(`issuer: ${yamlQuote(issuer)}`);
  if (tls && !has('tls')) lines.push('tls:', `  cert_file: ${yamlQuote(tls.certFile)}`, `  key_file: ${yamlQuote(tls.keyFile)}`);
  if (!has('listen')) lines.push(`listen: ${yamlQuote(`127.0.0.1:${port}`)}`);
  if (!has('storage')) lines.push(`storage: ${yamlQuote(storage)}`);
  if (!has('workers')) lines.push('workers: 2');
  let body = userYaml.replace(/\s+$/, '');
  if (/^keys\s*:\s*$/m.test(body)) {
    body = body.replace(/^keys\s*:\s*$/m, () => `keys:\n  secret: ${yamlQuote(secret)}`);
  } else if (!has('keys')) {
    lines.push('keys:', `  secret: ${yamlQuote(secret)}`);
  }
  return `${lines.join('\n')}\n${body}\n`;
}

/** GET over https trusting `ca` (PEM) only: resolves { status, headers, body }. */
export function httpsGet(url, ca, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, headers, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function waitHealthy(url, child, deadline, stderrFile, ca) {
  let lastErr;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const err = fs.readFileSync(stderrFile, 'utf8');
      throw new Error(
        `ostiary exited during start (code ${child.exitCode}, signal ${child.signalCode}); stderr:\n${err}`,
      );
    }
    try {
      let status;
      if (ca) {
        status = (await httpsGet(url, ca)).status;
      } else {
        const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        status = res.status;
      }
      if (status === 200) return;
      lastErr = new Error(`GET ${url} answered ${status}`);
    } catch (e) {
      lastErr = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`ostiary did not answer ${url} with 200 within the start timeout: ${lastErr?.message}`);
}

/**
 * Starts `ostiary serve --config FILE`.
 * options.config: YAML text (resources, clients, limits, keys.algorithms, ...).
 * options.env: extra environment variables for the server.
 * options.issuerPath: a path for the issuer, e.g. "/authentication/oidc".
 * options.state: the `state` of a previous server, to restart on the same directory, database, key
 *   secret, port and issuer.
 * options.database: a newDatabase() to share with other servers (its storage and key secret).
 * options.sqlite: SQLite in the server's directory (dir/ostiary.db) even on the PostgreSQL pass, for tests
 *   of the SQLite file itself.
 * options.tls: { certFile, keyFile, ca } (lib/tls.mjs makePki): TLS on, an https issuer, the `tls:` section
 *   of the config (unless the test's YAML has one), and the health check trusting `ca`.
 * Returns { issuer, port, dir, state, url(path), stop(), kill(), restart(), logs(), child }.
 */
export async function startServer({ config = '', env = {}, issuerPath = '', state, database, sqlite = false, tls } = {}) {
  try {
    fs.accessSync(OSTIARY_BIN, fs.constants.X_OK);
  } catch {
    // Said here, in the failing before() hook: otherwise the suite's tests only show up as cancelled.
    throw new Error(`no executable server at ${OSTIARY_BIN} (OSTIARY_BIN is resolved from the repository root)`);
  }
  const st = state
    ? { ...state, run: state.run + 1 }
    : {
        dir: makeTempDir(),
        port: await freePort(),
        issuerPath,
        tls,
        run: 1,
      };
  if (!state) {
    const db = database ?? (PG_URL && !sqlite ? newDatabase() : null);
    st.secret = db ? db.secret : randomBytes(30).toString('base64').slice(0, 40);
    st.storage = db ? db.storage : `sqlite:${path.join(st.dir, 'ostiary.db')}`;
  }
  const scheme = st.tls ? 'https' : 'http';
  const issuer = `${scheme}://127.0.0.1:${st.port}${st.issuerPath}`;
  const configFile = path.join(st.dir, 'ostiary.yaml');
  fs.writeFileSync(configFile, buildConfig(config, { issuer, port: st.port, storage: st.storage, secret: st.secret, tls: st.tls }));
  const stdoutFile = path.join(st.dir, `server-${st.run}.stdout.log`);
  const stderrFile = path.join(st.dir, `server-${st.run}.stderr.log`);
  const out = fs.openSync(stdoutFile, 'w');
  const err = fs.openSync(stderrFile, 'w');
  const child = spawn(OSTIARY_BIN, ['serve', '--config', configFile], {
    cwd: st.dir,
    env: { ...serverEnv(), ...env },
    stdio: ['ignore', out, err],
  });
  fs.closeSync(out);
  fs.closeSync(err);
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  child.on('error', () => {}); // reported through 'exit' / the health check
  children.add(child);
  child.on('exit', () => children.delete(child));

  const url = (p = '') => `${issuer}${p}`;
  const root = `${scheme}://127.0.0.1:${st.port}`;
  try {
    await waitHealthy(`${root}/healthz`, child, Date.now() + START_TIMEOUT_MS, stderrFile, st.tls?.ca);
  } catch (e) {
    child.kill('SIGKILL');
    await exited;
    throw e;
  }

  const logs = () => ({
    stdout: fs.readFileSync(stdoutFile, 'utf8'),
    stderr: fs.readFileSync(stderrFile, 'utf8'),
  });
  let stopped = null;
  let sanitizerChecked = false;

  // Throws (once per server, so a test and its after() hook do not both report it) if the server's
  // stderr has a sanitizer report.
  const checkSanitizers = () => {
    if (sanitizerChecked) return;
    sanitizerChecked = true;
    const text = fs.readFileSync(stderrFile, 'utf8');
    const m = SANITIZER_RE.exec(text);
    if (m) {
      const start = Math.max(0, text.lastIndexOf('\n', Math.max(0, m.index - 200)));
      throw new Error(`sanitizer report in ${stderrFile}:\n${text.slice(start, start + 4000)}`);
    }
  };

  /** SIGTERM, wait for exit (SIGKILL after 5 s). Resolves { code, signal, ms, forced }; throws if the
   *  server's stderr has a sanitizer report (the first time only). Safe to call twice. */
  const stop = async (signal = 'SIGTERM') => {
    if (!stopped) {
      stopped = (async () => {
        const t0 = Date.now();
        let forced = false;
        if (child.exitCode === null && child.signalCode === null) {
          child.kill(signal);
          let handle;
          const timer = new Promise((r) => {
            handle = setTimeout(r, STOP_TIMEOUT_MS, 'timeout');
          });
          const first = await Promise.race([exited, timer]);
          clearTimeout(handle);
          if (first === 'timeout') {
            forced = true;
            child.kill('SIGKILL');
          }
        }
        const r = await exited;
        return { ...r, ms: Date.now() - t0, forced };
      })();
    }
    const result = await stopped;
    checkSanitizers();
    return result;
  };

  const server = {
    issuer,
    port: st.port,
    dir: st.dir,
    configFile,
    state: st,
    child,
    url,
    logs,
    stop,
    /** SIGKILL, no grace (a crash or power cut as far as the process knows). */
    kill: () => stop('SIGKILL'),
    /** Stops this server (SIGTERM unless told) and starts a new one on the same state. */
    restart: async ({ signal = 'SIGTERM', config: cfg = config, env: e = env } = {}) => {
      await stop(signal);
      return startServer({ config: cfg, env: e, state: st });
    },
  };
  return server;
}

/** HTTP Basic credentials as RFC 6749 §2.3.1 wants them: form-encode id and secret, then base64. */
export function basicAuth(id, secret) {
  const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

/** POST a form. params: object, URLSearchParams, array of [k, v] (repeats allowed) or a raw string.
 *  opts: { auth: [id, secret] (Basic), headers, contentType }. Resolves { status, headers, body, json }. */
export async function postForm(url, params, opts = {}) {
  let body;
  if (typeof params === 'string' || Buffer.isBuffer(params)) body = params;
  else body = new URLSearchParams(params).toString();
  const headers = {
    'content-type': opts.contentType ?? 'application/x-www-form-urlencoded',
    ...(opts.auth ? { authorization: basicAuth(...opts.auth) } : {}),
    ...(opts.headers || {}),
  };
  if (opts.contentType === null) delete headers['content-type'];
  const res = await fetch(url, { method: opts.method || 'POST', headers, body });
  return readResponse(res);
}

export async function readResponse(res) {
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, body: text, json };
}

/**
 * Sends raw bytes on a fresh TCP connection and collects what comes back until the server closes the
 * connection or `timeoutMs` passes. Resolves { data (string), closed (bool), ms (time to close) }.
 * opts.chunks: an array of Buffers/strings sent one after the other with opts.gapMs between them.
 * Strings are written as latin1 (one byte per character), so tests can spell raw bytes as "\xNN".
 */
export function rawRequest(port, payload, { timeoutMs = 5000, chunks, gapMs = 0, endAfterWrite = false } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const sock = net.connect(port, '127.0.0.1');
    const bufs = [];
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(bufs).toString('latin1'), closed, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('data', (d) => bufs.push(d));
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', (e) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') finish(true);
      else if (!done) {
        done = true;
        clearTimeout(timer);
        reject(e);
      }
    });
    sock.on('connect', async () => {
      const parts = chunks ?? [payload];
      for (let i = 0; i < parts.length; i++) {
        if (done) return;
        // Strings are sent byte for byte (latin1), so "\xc3\x28" is two bytes, not UTF-8 of two characters.
        sock.write(typeof parts[i] === 'string' ? Buffer.from(parts[i], 'latin1') : parts[i]);
        if (gapMs > 0 && i < parts.length - 1) await new Promise((r) => setTimeout(r, gapMs));
      }
      if (endAfterWrite) sock.end();
    });
  });
}

/** Parses the status code of the first HTTP/1.x response in raw bytes (0 if none). */
export function rawStatus(data) {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
  return m ? Number(m[1]) : 0;
}

/** Decodes a compact JWS/JWT without verifying it (tests verify with jose separately). */
export function decodeJwt(token) {
  const [h, p] = token.split('.');
  const dec = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  return { header: dec(h), payload: dec(p) };
}

/** base64(SHA-256(secret)): the client_secret_sha256 config form. */
export function secretSha256(secret) {
  return createHash('sha256').update(secret).digest('base64');
}

// The clients and APIs most test files use. Secrets are test-only values.
export const SEED_CLIENT = { id: '2e11feba0e0348d317971c52488dd79125943d750b8e6df1', secret: 'bar' };
export const API = {
  focus: 'urn:focus:api',
  rs256: 'https://rs256.api.example.com/',
  es256: 'https://es256.api.example.com/',
  eddsa: 'https://eddsa.api.example.com/',
  opaque: 'https://opaque.api.example.com/',
  shortJwt: 'https://short.api.example.com/', // access_token_ttl: 1
  shortOpaque: 'https://short-opaque.api.example.com/', // access_token_ttl: 1, opaque
};
export const CLIENTS = {
  seed: SEED_CLIENT,
  basic: { id: 'basic-client', secret: 'basic-secret' },
  post: { id: 'post-client', secret: 'post-secret' },
  hashed: { id: 'hashed-client', secret: 'bar' },
  odd: { id: 'my:odd@id', secret: 'p@ss:w rd+%&=' },
  code: { id: 'code-client', secret: 'code-secret' },
};

/** The standard configuration: one API per signing algorithm, an opaque-token API, the seed example
 *  API and client, and clients for each authentication method. `extra` is appended (top-level keys). */
export function standardConfig(extra = '') {
  return `
log_level: info
keys:
  algorithms: [RS256, ES256, EdDSA]
resources:
  - identifier: "${API.focus}"
    scopes: ["messaging.contacts/:userId.post", "messaging.contacts/:userId.get"]
  - identifier: "${API.rs256}"
    scopes: [read, write]
    signing_alg: RS256
  - identifier: "${API.es256}"
    scopes: [read, write]
    signing_alg: ES256
  - identifier: "${API.eddsa}"
    scopes: [read, write]
    signing_alg: EdDSA
  - identifier: "${API.opaque}"
    scopes: [read, write]
    access_token_format: opaque
  - identifier: "${API.shortJwt}"
    scopes: [read, write]
    signing_alg: ES256
    access_token_ttl: 1
  - identifier: "${API.shortOpaque}"
    scopes: [read, write]
    access_token_format: opaque
    access_token_ttl: 1
clients:
  - client_id: "${SEED_CLIENT.id}"
    client_secret: "${SEED_CLIENT.secret}"
    client_name: Seed example
    grant_types: [client_credentials]
    token_endpoint_auth_method: client_secret_basic
    scope: "messaging.contacts/:userId.post"
    resources: ["${API.focus}"]
  - client_id: "${CLIENTS.basic.id}"
    client_secret: "${CLIENTS.basic.secret}"
    grant_types: [client_credentials]
    token_endpoint_auth_method: client_secret_basic
    scope: "read write"
  - client_id: "${CLIENTS.post.id}"
    client_secret: "${CLIENTS.post.secret}"
    grant_types: [client_credentials]
    token_endpoint_auth_method: client_secret_post
    scope: "read write"
  - client_id: "${CLIENTS.hashed.id}"
    client_secret_sha256: "${secretSha256(CLIENTS.hashed.secret)}"
    grant_types: [client_credentials]
    scope: "read"
  - client_id: "${CLIENTS.odd.id}"
    client_secret: ${JSON.stringify(CLIENTS.odd.secret)}
    grant_types: [client_credentials]
    scope: "read"
  - client_id: "${CLIENTS.code.id}"
    client_secret: "${CLIENTS.code.secret}"
    grant_types: [authorization_code]
    redirect_uris: ["https://rp.example.com/cb"]
    scope: "read"
${extra}`;
}

/** standardConfig() plus a user and a confidential code-flow client that always gets refresh tokens, with
 *  no grace period for rotated ones: what the multi-instance and store-copy tests sign in with. */
export function signInConfig({ user, client, redirectUri }) {
  return standardConfig(`
refresh:
  refresh_grace_period: 0
users:
  - username: ${user.username}
    password: "${user.password}"
`).replace(
    /^clients:\n/m,
    `clients:
  - client_id: ${client.id}
    client_secret: ${client.secret}
    grant_types: [authorization_code, refresh_token]
    redirect_uris: ["${redirectUri}"]
    refresh_token_policy: always
`,
  );
}

/** Starts n servers at once (on an empty shared database they race, as instances do). If any fails, the
 *  others are stopped and the first error is thrown, so that no server outlives a failed setup. */
export async function startServers(n, options) {
  const settled = await Promise.allSettled(Array.from({ length: n }, () => startServer(options)));
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(settled.filter((r) => r.status === 'fulfilled').map((r) => r.value.stop()));
    throw failed.reason;
  }
  return settled.map((r) => r.value);
}

/** One request on a node:http2 session: resolves { status, headers, body (string) }. */
export function h2request(session, headers, body) {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers);
    let resHeaders;
    const chunks = [];
    stream.on('response', (h) => {
      resHeaders = h;
    });
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () =>
      resolve({ status: resHeaders?.[':status'], headers: resHeaders, body: Buffer.concat(chunks).toString() }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
    else stream.end();
  });
}
