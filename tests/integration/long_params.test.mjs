// long_params.test.mjs: parameters that would overflow a response's capped buffer (http.h, strbuf_str).
// A truncated URL is never sent: /session/end refuses a state whose redirect back would exceed 16384 bytes
// with invalid_request (before anything happens: the session stays), and /auth refuses a state that an
// authorization response could not carry, on the error page, before the login page or any code. A long
// state that fits comes back whole.
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { CookieJar, httpAuthorize, httpRequest } from './lib/flow.mjs';
import { rawRequest, rawStatus, startServer } from './lib/server.mjs';

const APP = { id: 'long-app', secret: 'long-app-secret', redirect: 'https://rp.example/cb', logout: 'https://rp.example/bye' };
const USER = { username: 'longuser', password: 'a long enough password' };
let srv;

before(async () => {
  srv = await startServer({
    config: `
clients:
  - client_id: ${APP.id}
    client_secret: ${APP.secret}
    grant_types: [authorization_code]
    redirect_uris: ["${APP.redirect}"]
    post_logout_redirect_uris: ["${APP.logout}"]
limits:
  max_body_bytes: 262144
users:
  - username: ${USER.username}
    password: "${USER.password}"
`,
  });
});
after(async () => {
  await srv?.stop();
});

/** Percent-encodes as the server does (unreserved characters kept). */
const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function authParams(state, extra = {}) {
  const verifier = randomBytes(32).toString('base64url');
  return {
    response_type: 'code',
    client_id: APP.id,
    redirect_uri: APP.redirect,
    scope: 'openid',
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...extra,
  };
}

/** Signs in through the pages; resolves the cookie jar holding the session. */
async function signedInJar() {
  const jar = new CookieJar();
  const url = new URL(srv.url('/auth'));
  url.search = new URLSearchParams(authParams('s')).toString();
  const r = await httpAuthorize(url, { jar, issuer: srv.issuer, username: USER.username, password: USER.password });
  assert.equal(r.kind, 'redirect', `signed in: ${r.page}`);
  assert.ok(r.params.get('code'));
  return jar;
}

/** prompt=none: does the jar's session still answer with a code? */
async function stillSignedIn(jar) {
  const url = new URL(srv.url('/auth'));
  url.search = new URLSearchParams(authParams('check', { prompt: 'none' })).toString();
  const r = await httpAuthorize(url, { jar, issuer: srv.issuer });
  return r.kind === 'redirect' && r.params.get('code') !== null;
}

describe('/session/end', () => {
  // 7000 × "é": 14000 bytes, 42000 once percent-encoded; well within the body limit.
  const longState = 'é'.repeat(7000);

  test('a state whose redirect would exceed 16384 bytes: invalid_request, no Location, nothing cut', async () => {
    // Raw: a client library would refuse a 16 KiB Location header before the test could look at it.
    const body = new URLSearchParams({ client_id: APP.id, post_logout_redirect_uri: APP.logout, state: longState }).toString();
    const r = await rawRequest(
      srv.port,
      `POST /session/end HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n` +
        `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    const head = r.data.slice(0, r.data.indexOf('\r\n\r\n'));
    const location = /\r\nLocation: ([^\r]*)/i.exec(head)?.[1];
    assert.equal(location, undefined, `a Location of ${location?.length} bytes`);
    assert.equal(rawStatus(r.data), 400, head);
    assert.match(head, /\r\nContent-Type: text\/html/i);
    assert.match(r.data, /invalid_request/);
    assert.match(r.data, /state is too long/);
  });

  test('refused before anything happens: the session survives', async () => {
    const jar = await signedInJar();
    const res = await httpRequest(srv.url('/session/end'), {
      jar,
      body: { client_id: APP.id, post_logout_redirect_uri: APP.logout, state: longState },
    });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    assert.equal(await stillSignedIn(jar), true, 'still signed in');
  });

  test('a long state that fits comes back whole', async () => {
    const state = `x${'-_.~'.repeat(2000)}`; // 8001 unreserved characters
    const res = await httpRequest(srv.url('/session/end'), {
      body: { client_id: APP.id, post_logout_redirect_uri: APP.logout, state },
    });
    assert.equal(res.status, 303, res.body.slice(0, 300));
    assert.equal(res.location, `${APP.logout}?state=${enc(state)}`);
    assert.equal(new URL(res.location).searchParams.get('state'), state);
  });
});

describe('/auth', () => {
  test('a state no authorization response could carry: the error page at once, no login page, no code', async () => {
    const state = 'é'.repeat(20000); // 40000 bytes, 120000 encoded: over the 64 KiB Location cap
    const jar = new CookieJar();
    const res = await httpRequest(srv.url('/auth'), { jar, body: authParams(state) });
    assert.equal(res.status, 400, res.body.slice(0, 300));
    assert.equal(res.location, undefined);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    assert.match(res.body, /state is too long/);
  });

  test('a long state that fits: the code redirect carries it whole', async () => {
    const state = 'é'.repeat(2000); // 12000 bytes encoded (fetch reads headers up to 16 KiB)
    const jar = await signedInJar();
    const res = await httpRequest(srv.url('/auth'), { jar, body: authParams(state) });
    assert.equal(res.status, 303, res.body.slice(0, 300));
    assert.ok(res.location.startsWith(`${APP.redirect}?code=`), res.location.slice(0, 100));
    const p = new URL(res.location).searchParams;
    assert.equal(p.get('state'), state);
    assert.equal(p.get('iss'), srv.issuer);
  });
});
