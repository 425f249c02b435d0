// errors.test.mjs: every error of the back-channel endpoints, as data (request in, expected status and
// `error` out), like curl's tests/data. RFC 6749 §5.2 (token errors, 401 + WWW-Authenticate when HTTP
// Basic was tried), §3.1 / §3.2 (repeated parameters, form content type, POST only), §2.3 (one
// authentication method), RFC 8707 §2 (invalid_target), RFC 7662 §2.1 and RFC 7009 §2.1 (client
// authentication for introspection and revocation).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  API,
  CLIENTS,
  SEED_CLIENT,
  basicAuth,
  rawRequest,
  rawStatus,
  standardConfig,
  startServer,
} from './lib/server.mjs';

const B = CLIENTS.basic; // registered for client_secret_basic, scope "read write"
const P = CLIENTS.post; // registered for client_secret_post, scope "read write"
const CC = 'grant_type=client_credentials';

// auth: [id, secret] sends HTTP Basic; body: the raw form; headers: extra or replaced headers.
// expect: { status, error, basic: true when a `WWW-Authenticate: Basic` challenge is required }.
const cases = [
  // --- request syntax ---
  { name: 'missing grant_type', auth: [B.id, B.secret], body: 'scope=read', expect: { status: 400, error: 'invalid_request' } },
  { name: 'empty grant_type', auth: [B.id, B.secret], body: 'grant_type=&scope=read', expect: { status: 400, error: 'invalid_request' } },
  { name: 'repeated grant_type', auth: [B.id, B.secret], body: `${CC}&${CC}`, expect: { status: 400, error: 'invalid_request' } },
  { name: 'repeated scope', auth: [B.id, B.secret], body: `${CC}&scope=read&scope=write`, expect: { status: 400, error: 'invalid_request' } },
  { name: 'repeated client_id', body: `${CC}&client_id=${P.id}&client_id=${P.id}&client_secret=${P.secret}`, expect: { status: 400, error: 'invalid_request' } },
  { name: 'repeated client_secret', body: `${CC}&client_id=${P.id}&client_secret=${P.secret}&client_secret=${P.secret}`, expect: { status: 400, error: 'invalid_request' } },
  { name: 'JSON body', auth: [B.id, B.secret], headers: { 'content-type': 'application/json' }, body: '{"grant_type":"client_credentials"}', expect: { status: 400, error: 'invalid_request' } },
  { name: 'text/plain body', auth: [B.id, B.secret], headers: { 'content-type': 'text/plain' }, body: CC, expect: { status: 400, error: 'invalid_request' } },
  { name: 'multipart body', auth: [B.id, B.secret], headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: `--x\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nclient_credentials\r\n--x--\r\n`, expect: { status: 400, error: 'invalid_request' } },
  { name: 'no content type', auth: [B.id, B.secret], headers: { 'content-type': null }, body: CC, expect: { status: 400, error: 'invalid_request' } },
  { name: 'content type with a form-like prefix', auth: [B.id, B.secret], headers: { 'content-type': 'application/x-www-form-urlencodedx' }, body: CC, expect: { status: 400, error: 'invalid_request' } },
  { name: 'bad percent-encoding', auth: [B.id, B.secret], body: `${CC}&scope=%zz`, expect: { status: 400, error: 'invalid_request' } },
  { name: 'GET /token', method: 'GET', path: '/token', auth: [B.id, B.secret], expect: { status: 405 } },
  { name: 'PUT /token', method: 'PUT', path: '/token', auth: [B.id, B.secret], body: CC, expect: { status: 405 } },

  // --- client authentication ---
  { name: 'no client authentication at all', body: CC, expect: { status: 401, error: 'invalid_client' } },
  { name: 'unknown client (Basic)', auth: ['no-such-client', 'x'], body: CC, expect: { status: 401, error: 'invalid_client', basic: true } },
  { name: 'wrong secret (Basic)', auth: [B.id, 'wrong'], body: CC, expect: { status: 401, error: 'invalid_client', basic: true } },
  { name: 'empty secret (Basic)', auth: [B.id, ''], body: CC, expect: { status: 401, error: 'invalid_client', basic: true } },
  { name: 'secret with a different case (Basic)', auth: [B.id, B.secret.toUpperCase()], body: CC, expect: { status: 401, error: 'invalid_client', basic: true } },
  { name: 'secret prefix (Basic)', auth: [B.id, B.secret.slice(0, -1)], body: CC, expect: { status: 401, error: 'invalid_client', basic: true } },
  { name: 'unknown client (post)', body: `${CC}&client_id=no-such-client&client_secret=x`, expect: { status: 401, error: 'invalid_client' } },
  { name: 'wrong secret (post)', body: `${CC}&client_id=${P.id}&client_secret=wrong`, expect: { status: 401, error: 'invalid_client' } },
  { name: 'client_id without secret for a confidential client', body: `${CC}&client_id=${P.id}`, expect: { status: 401, error: 'invalid_client' } },
  { name: 'Basic and client_secret in the body', auth: [B.id, B.secret], body: `${CC}&client_secret=${B.secret}`, expect: { status: 400, error: 'invalid_request' } },
  { name: 'Basic and a different client_id in the body', auth: [B.id, B.secret], body: `${CC}&client_id=${P.id}`, expect: { status: 400, error: 'invalid_request' } },
  { name: 'client_secret_basic client using client_secret_post', body: `${CC}&client_id=${B.id}&client_secret=${B.secret}`, expect: { status: 401, error: 'invalid_client' } },
  { name: 'client_secret_post client using client_secret_basic', auth: [P.id, P.secret], body: CC, expect: { status: 401, error: 'invalid_client', basic: true } },

  // --- grant ---
  { name: 'grant not registered for the client', auth: [CLIENTS.code.id, CLIENTS.code.secret], body: CC, expect: { status: 400, error: 'unauthorized_client' } },
  { name: 'unknown grant_type', auth: [B.id, B.secret], body: 'grant_type=urn:example:no-such-grant', expect: { status: 400, error: 'unsupported_grant_type' } },
  { name: 'password grant (not supported)', auth: [B.id, B.secret], body: 'grant_type=password&username=a&password=b', expect: { status: 400, error: 'unsupported_grant_type' } },
  { name: 'grant_type with different case', auth: [B.id, B.secret], body: 'grant_type=Client_Credentials', expect: { status: 400, error: 'unsupported_grant_type' } },

  // --- scope and resource ---
  { name: 'scope not allowed for the client', auth: [B.id, B.secret], body: `${CC}&scope=admin`, expect: { status: 400, error: 'invalid_scope' } },
  { name: 'one allowed and one not allowed scope', auth: [B.id, B.secret], body: `${CC}&scope=read+admin`, expect: { status: 400, error: 'invalid_scope' } },
  { name: 'scope of another API', auth: [SEED_CLIENT.id, SEED_CLIENT.secret], body: `${CC}&resource=${encodeURIComponent(API.focus)}&scope=read`, expect: { status: 400, error: 'invalid_scope' } },
  { name: 'scope with a forbidden character', auth: [B.id, B.secret], body: `${CC}&scope=${encodeURIComponent('read"')}`, expect: { status: 400, error: 'invalid_scope' } },
  { name: 'unknown resource', auth: [B.id, B.secret], body: `${CC}&resource=${encodeURIComponent('https://unknown.example.com/')}`, expect: { status: 400, error: 'invalid_target' } },
  { name: 'unknown audience', auth: [B.id, B.secret], body: `${CC}&audience=${encodeURIComponent('https://unknown.example.com/')}`, expect: { status: 400, error: 'invalid_target' } },
  { name: 'relative resource', auth: [B.id, B.secret], body: `${CC}&resource=api`, expect: { status: 400, error: 'invalid_target' } },
  { name: 'resource with a fragment', auth: [B.id, B.secret], body: `${CC}&resource=${encodeURIComponent(`${API.rs256}#x`)}`, expect: { status: 400, error: 'invalid_target' } },
  { name: 'resource the client is not registered for', auth: [SEED_CLIENT.id, SEED_CLIENT.secret], body: `${CC}&resource=${encodeURIComponent(API.rs256)}`, expect: { status: 400, error: 'invalid_target' } },

  // --- introspection (RFC 7662) ---
  { name: 'introspection: GET', method: 'GET', path: '/token/introspection', auth: [B.id, B.secret], expect: { status: 405 } },
  { name: 'introspection: no client authentication', path: '/token/introspection', body: 'token=abc', expect: { status: 401, error: 'invalid_client' } },
  { name: 'introspection: wrong secret', path: '/token/introspection', auth: [B.id, 'wrong'], body: 'token=abc', expect: { status: 401, error: 'invalid_client', basic: true } },
  { name: 'introspection: missing token', path: '/token/introspection', auth: [B.id, B.secret], body: 'token_type_hint=access_token', expect: { status: 400, error: 'invalid_request' } },
  { name: 'introspection: repeated token', path: '/token/introspection', auth: [B.id, B.secret], body: 'token=a&token=b', expect: { status: 400, error: 'invalid_request' } },
  { name: 'introspection: JSON body', path: '/token/introspection', auth: [B.id, B.secret], headers: { 'content-type': 'application/json' }, body: '{"token":"abc"}', expect: { status: 400, error: 'invalid_request' } },

  // --- revocation (RFC 7009) ---
  { name: 'revocation: GET', method: 'GET', path: '/token/revocation', auth: [B.id, B.secret], expect: { status: 405 } },
  { name: 'revocation: no client authentication', path: '/token/revocation', body: 'token=abc', expect: { status: 401, error: 'invalid_client' } },
  { name: 'revocation: wrong secret', path: '/token/revocation', auth: [B.id, 'wrong'], body: 'token=abc', expect: { status: 401, error: 'invalid_client', basic: true } },
  { name: 'revocation: missing token', path: '/token/revocation', auth: [B.id, B.secret], body: '', expect: { status: 400, error: 'invalid_request' } },
];

let srv;
before(async () => {
  srv = await startServer({ config: standardConfig() });
});
after(async () => {
  await srv?.stop();
});

async function send(c) {
  const method = c.method || 'POST';
  const headers = new Headers();
  if (method !== 'GET') headers.set('content-type', 'application/x-www-form-urlencoded');
  if (c.auth) headers.set('authorization', basicAuth(...c.auth));
  for (const [k, v] of Object.entries(c.headers || {})) {
    if (v === null) headers.delete(k);
    else headers.set(k, v);
  }
  const init = { method, headers };
  if (method !== 'GET' && method !== 'HEAD') {
    init.body = c.body ?? '';
    // fetch adds text/plain for string bodies when no content type is set; send bytes instead.
    if (!headers.has('content-type')) init.body = Buffer.from(init.body);
  }
  const res = await fetch(srv.url(c.path || '/token'), init);
  const text = await res.text();
  return { res, text };
}

for (const c of cases) {
  test(`${c.name} -> ${c.expect.status}${c.expect.error ? ` ${c.expect.error}` : ''}`, async () => {
    const { res, text } = await send(c);
    assert.equal(res.status, c.expect.status, `status; body: ${text}`);
    if (c.expect.status === 405) {
      assert.match(res.headers.get('allow') || '', /POST/, 'Allow header names POST');
      return;
    }
    assert.match(res.headers.get('content-type') || '', /^application\/json/);
    let json;
    assert.doesNotThrow(() => {
      json = JSON.parse(text);
    }, `JSON body: ${text}`);
    assert.equal(json.error, c.expect.error, `error; body: ${text}`);
    if (json.error_description !== undefined) {
      assert.equal(typeof json.error_description, 'string');
      // RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
      assert.match(json.error_description, /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/, 'error_description charset');
    }
    assert.equal(res.headers.get('cache-control'), 'no-store');
    if (c.expect.basic) {
      assert.match(res.headers.get('www-authenticate') || '', /^Basic\b/i, 'WWW-Authenticate: Basic challenge');
    }
    assert.equal(json.access_token, undefined, 'no token on error');
  });
}

// fetch folds repeated headers into one; a raw request sends two Authorization header fields.
test('two Authorization headers -> 400 invalid_request', async () => {
  const body = `${CC}&resource=${encodeURIComponent(API.rs256)}`;
  const auth = basicAuth(B.id, B.secret);
  const r = await rawRequest(
    srv.port,
    `POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n` +
      `Content-Type: application/x-www-form-urlencoded\r\nAuthorization: ${auth}\r\nAuthorization: ${auth}\r\n` +
      `Content-Length: ${body.length}\r\n\r\n${body}`,
  );
  assert.equal(rawStatus(r.data), 400, r.data);
  assert.match(r.data, /"error":"invalid_request"/);
});

test('after all the errors, a valid request still succeeds', async () => {
  const { res, text } = await send({ auth: [B.id, B.secret], body: `${CC}&resource=${encodeURIComponent(API.rs256)}` });
  assert.equal(res.status, 200, text);
});
