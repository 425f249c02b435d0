// metrics.test.mjs: GET /metrics on the admin listener (docs/metrics.md): behind a token with
// ostiary:metrics by default, open with admin.metrics_public; the Prometheus text format 0.0.4 read by a
// Prometheus text parser (parse-prometheus-text-format, a port of the Python client's parser; it folds the
// series of a labelled histogram into one, so histograms are read from the grammar-checked lines here) and
// checked line by line against the format's grammar; the counters move with what the server did (token requests by grant and format, requests by
// route and status with their latency histogram, OAuth errors, refresh-token reuse, failed logins and
// limiter delays, store operations) and the gauges are there (login queue, WAL size, signing key age,
// start time, build).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import parsePrometheusTextFormat from 'parse-prometheus-text-format';

import { ADMIN, adminFetch, adminToken, rpClientYaml, startAdminServer } from './lib/admin.mjs';
import { openLoginPage, postLogin, signInAndRedeem } from './lib/flow.mjs';
import { API, CLIENTS, PG_URL, postForm } from './lib/server.mjs';

const RP = { id: 'rp-metrics', secret: 'rp-metrics-secret', redirect: 'https://rp.example.com/callback' };
const USER = { username: 'mia', password: 'metrics-user-password' };

// One sample line: a metric name, optional labels (each value a quoted string with \\, \" and \n escapes)
// and a value (a Go float, +Inf, -Inf or NaN); the format's grammar (exposition format 0.0.4).
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE_RE = new RegExp(
  `^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(?:${LABEL}(?:,${LABEL})*)?\\})? ([-+]?(?:[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf)|NaN)$`,
);

/** Checks the text against the format's grammar: HELP and TYPE once per family, before its samples; the
 *  samples of a family together; no series twice; histograms cumulative, ending at +Inf = _count. */
function checkExposition(text) {
  assert.ok(text.endsWith('\n'), 'the last line ends with a line feed');
  const typed = new Map();
  const seen = new Set();
  let current = null;
  const done = new Set();
  for (const line of text.split('\n').slice(0, -1)) {
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (m[1] === 'TYPE') {
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]), line);
        assert.ok(!typed.has(m[2]), `TYPE of ${m[2]} twice`);
        typed.set(m[2], m[3]);
        if (current) done.add(current);
        current = m[2];
      }
      continue;
    }
    m = SAMPLE_RE.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const family = typed.get(m[1]) === undefined ? m[1].replace(/_(bucket|sum|count)$/, '') : m[1];
    assert.equal(family, current, `sample of ${family} outside its family: ${line}`);
    assert.ok(!done.has(family));
    assert.ok(!seen.has(`${m[1]}${m[2] ?? ''}`), `series twice: ${line}`);
    seen.add(`${m[1]}${m[2] ?? ''}`);
  }
}

async function scrape(srv, token) {
  const r = await adminFetch(srv, '/metrics', { token });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  checkExposition(r.body);
  const families = new Map(parsePrometheusTextFormat(r.body).map((f) => [f.name, f]));
  families.text = r.body;
  return { text: r.body, families };
}

/** The labels of a sample line's {...} (values unescaped). */
function labelsOf(braces) {
  const out = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const m of (braces ?? '').matchAll(re)) out[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
  return out;
}

/** The value of the sample of `name` whose labels include `labels` (0 when there is none). */
function value(families, name, labels = {}) {
  const f = families.get(name);
  assert.ok(f, `no family ${name}`);
  const m = f.metrics.find((s) => Object.entries(labels).every(([k, v]) => (s.labels ?? {})[k] === v));
  if (!m) return 0;
  return Number(m.value ?? m.count);
}

/** The histogram series of `name` whose labels are `labels` (but le): { buckets, sum, count }, or undefined. */
function histogramOf(families, name, labels) {
  assert.equal(families.get(name)?.type, 'HISTOGRAM', name);
  let h;
  for (const line of families.text.split('\n')) {
    const m = SAMPLE_RE.exec(line);
    if (!m || !m[1].startsWith(name)) continue;
    const suffix = m[1].slice(name.length);
    const l = labelsOf(m[2]);
    const { le, ...rest } = l;
    if (Object.keys(rest).length !== Object.keys(labels).length || !Object.entries(labels).every(([k, v]) => rest[k] === v))
      continue;
    h ??= { buckets: {} };
    if (suffix === '_bucket') h.buckets[le] = m[3];
    else if (suffix === '_sum') h.sum = m[3];
    else if (suffix === '_count') h.count = m[3];
  }
  return h;
}

function checkHistogram(h) {
  const bounds = Object.keys(h.buckets).filter((b) => b !== '+Inf').map(Number).sort((x, y) => x - y);
  let prev = 0;
  for (const b of bounds) {
    const v = Number(h.buckets[String(b)]);
    assert.ok(v >= prev, 'cumulative buckets');
    prev = v;
  }
  assert.ok(Number(h.buckets['+Inf']) >= prev);
  assert.equal(Number(h.buckets['+Inf']), Number(h.count));
  assert.ok(Number(h.sum) >= 0);
}

describe('metrics behind a token (the default)', () => {
  let srv;
  let token;
  before(async () => {
    srv = await startAdminServer({
      extra: `${rpClientYaml(RP, 'openid offline_access')}users:
  - username: ${USER.username}
    password: ${USER.password}
login:
  max_failures: 1
`,
    });
    token = await adminToken(srv, ADMIN.metrics);
  });
  after(async () => {
    await srv?.stop();
  });

  test('without a token: 401; a token without ostiary:metrics: 403', async () => {
    const r = await adminFetch(srv, '/metrics');
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="ostiary-admin"');
    const clientsOnly = await adminToken(srv, ADMIN.clients);
    assert.equal((await adminFetch(srv, '/metrics', { token: clientsOnly })).status, 403);
  });

  test('every family is there, in the format Prometheus reads', async () => {
    const { families } = await scrape(srv, token);
    for (const [name, type] of [
      ['ostiary_http_requests_total', 'COUNTER'],
      ['ostiary_http_request_duration_seconds', 'HISTOGRAM'],
      ['ostiary_tokens_issued_total', 'COUNTER'],
      ['ostiary_refresh_token_reuse_total', 'COUNTER'],
      ['ostiary_login_failures_total', 'COUNTER'],
      ['ostiary_login_delays_total', 'COUNTER'],
      ['ostiary_login_queue_depth', 'GAUGE'],
      ['ostiary_store_operation_duration_seconds', 'HISTOGRAM'],
      ['ostiary_signing_key_age_seconds', 'GAUGE'],
      ['ostiary_oauth_errors_total', 'COUNTER'],
      ['ostiary_start_time_seconds', 'GAUGE'],
      ['ostiary_build_info', 'GAUGE'],
    ]) {
      assert.ok(families.has(name), `family ${name}`);
      assert.equal(families.get(name).type, type, name);
    }
    assert.equal(value(families, 'ostiary_build_info'), 1);
    assert.ok(families.get('ostiary_build_info').metrics[0].labels.version);
    assert.equal(value(families, 'ostiary_login_queue_depth'), 0);
    // SQLite's -wal file; a PostgreSQL server's WAL is not the store's to report.
    if (PG_URL) assert.ok(!families.has('ostiary_store_wal_bytes'));
    else assert.ok(value(families, 'ostiary_store_wal_bytes') >= 0 && families.get('ostiary_store_wal_bytes').type === 'GAUGE');
    const keys = families.get('ostiary_signing_key_age_seconds').metrics;
    assert.deepEqual(keys.map((k) => k.labels.alg).sort(), ['ES256', 'EdDSA', 'RS256']);
    for (const k of keys) assert.ok(Number(k.value) >= 0 && Number(k.value) < 3600);
    const start = value(families, 'ostiary_start_time_seconds');
    assert.ok(Math.abs(start - Date.now() / 1000) < 600);
  });

  test('tokens, requests by route and status, latency and errors count what happened', async () => {
    const before = (await scrape(srv, token)).families;
    const N = 5;
    for (let i = 0; i < N; i++) {
      const r = await postForm(srv.url('/token'), { grant_type: 'client_credentials', resource: API.es256 }, {
        auth: [CLIENTS.basic.id, CLIENTS.basic.secret],
      });
      assert.equal(r.status, 200);
    }
    const o = await postForm(srv.url('/token'), { grant_type: 'client_credentials', resource: API.opaque }, {
      auth: [CLIENTS.basic.id, CLIENTS.basic.secret],
    });
    assert.equal(o.status, 200);
    const bad = await postForm(srv.url('/token'), { grant_type: 'client_credentials' }, { auth: [CLIENTS.basic.id, 'wrong'] });
    assert.equal(bad.status, 401);
    const now = (await scrape(srv, token)).families;
    const cc = { grant_type: 'client_credentials', token: 'access_token' };
    assert.equal(value(now, 'ostiary_tokens_issued_total', { ...cc, format: 'jwt' }) -
      value(before, 'ostiary_tokens_issued_total', { ...cc, format: 'jwt' }), N);
    assert.equal(value(now, 'ostiary_tokens_issued_total', { ...cc, format: 'opaque' }) -
      value(before, 'ostiary_tokens_issued_total', { ...cc, format: 'opaque' }), 1);
    const route = { listener: 'main', route: '/token' };
    assert.equal(value(now, 'ostiary_http_requests_total', { ...route, status: '200' }) -
      value(before, 'ostiary_http_requests_total', { ...route, status: '200' }), N + 1);
    assert.equal(value(now, 'ostiary_http_requests_total', { ...route, status: '401' }) -
      value(before, 'ostiary_http_requests_total', { ...route, status: '401' }), 1);
    assert.equal(value(now, 'ostiary_oauth_errors_total', { error: 'invalid_client' }) -
      value(before, 'ostiary_oauth_errors_total', { error: 'invalid_client' }), 1);
    const h = histogramOf(now, 'ostiary_http_request_duration_seconds', route);
    checkHistogram(h);
    const h0 = histogramOf(before, 'ostiary_http_request_duration_seconds', route);
    assert.equal(Number(h.count) - Number(h0?.count ?? 0), N + 2);
    // The admin listener's own routes are counted apart.
    assert.ok(value(now, 'ostiary_http_requests_total', { listener: 'admin', route: '/metrics', status: '200' }) >= 1);
    // Store operations, with their latency.
    const put = histogramOf(now, 'ostiary_store_operation_duration_seconds', { op: 'client_get' });
    assert.ok(put && Number(put.count) >= 1);
    checkHistogram(put);
  });

  test('refresh-token reuse, failed logins and limiter delays', async () => {
    const before = (await scrape(srv, token)).families;
    const signed = await signInAndRedeem(srv, {
      clientId: RP.id, redirectUri: RP.redirect, secret: RP.secret, user: USER, params: { scope: 'openid offline_access' },
    });
    assert.equal(signed.status, 200);
    const rt = signed.json.refresh_token;
    const first = await postForm(srv.url('/token'), { grant_type: 'refresh_token', refresh_token: rt }, { auth: [RP.id, RP.secret] });
    assert.equal(first.status, 200);
    const again = await postForm(srv.url('/token'), { grant_type: 'refresh_token', refresh_token: rt }, { auth: [RP.id, RP.secret] });
    assert.equal(again.json.error, 'invalid_grant');

    // max_failures 1: the second failure is counted, the third attempt is delayed.
    const at = await openLoginPage(srv, { clientId: RP.id, redirectUri: RP.redirect });
    for (let i = 0; i < 3; i++) await postLogin(at, USER.username, 'wrong password');

    const now = (await scrape(srv, token)).families;
    const code = { grant_type: 'authorization_code' };
    assert.equal(value(now, 'ostiary_tokens_issued_total', { ...code, token: 'refresh_token' }) -
      value(before, 'ostiary_tokens_issued_total', { ...code, token: 'refresh_token' }), 1);
    assert.equal(value(now, 'ostiary_tokens_issued_total', { ...code, token: 'id_token', format: 'jwt' }) -
      value(before, 'ostiary_tokens_issued_total', { ...code, token: 'id_token', format: 'jwt' }), 1);
    assert.equal(value(now, 'ostiary_tokens_issued_total', { grant_type: 'refresh_token', token: 'refresh_token' }) -
      value(before, 'ostiary_tokens_issued_total', { grant_type: 'refresh_token', token: 'refresh_token' }), 1);
    assert.equal(value(now, 'ostiary_refresh_token_reuse_total') - value(before, 'ostiary_refresh_token_reuse_total'), 1);
    const failures = value(now, 'ostiary_login_failures_total') - value(before, 'ostiary_login_failures_total');
    const delays = value(now, 'ostiary_login_delays_total') - value(before, 'ostiary_login_delays_total');
    assert.ok(failures >= 1, `failures ${failures}`);
    assert.ok(delays >= 1, `delays ${delays}`);
    assert.equal(failures + delays, 3, 'each attempt either failed or was delayed');
  });
});

describe('metrics with admin.metrics_public: true', () => {
  let srv;
  before(async () => {
    srv = await startAdminServer({ admin: '  metrics_public: true\n' });
  });
  after(async () => {
    await srv?.stop();
  });

  test('a scrape needs no token; the rest of the admin API still does', async () => {
    const { families } = await scrape(srv);
    assert.ok(families.has('ostiary_build_info'));
    assert.equal((await adminFetch(srv, '/admin/keys')).status, 401);
  });
});
