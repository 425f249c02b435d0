// client_id_metadata.test.mjs: OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-
// document), behind registration.client_id_metadata_documents. A local HTTPS server (a test CA passed as
// fetch.ca_file; fetch.allow_private_addresses on, since it listens on 127.0.0.1) serves client documents;
// a client whose client_id is such a URL signs a user in through the pages (code + PKCE, the HTTP login
// helpers) and redeems the code at /token, and pushes a request at /request first. The document is fetched
// once while its Cache-Control says it is fresh. Refused: a document whose client_id is another URL, one
// with a client_secret, one without redirect_uris, one asking client_secret_basic; URLs with dot segments,
// a fragment or credentials (never fetched); the switch off (an
// unknown client, not advertised); discovery says client_id_metadata_document_supported only when on.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { CookieJar, codeRequest, httpAuthorize, httpRequest } from './lib/flow.mjs';
import { postForm, startServer } from './lib/server.mjs';
import { makePki } from './lib/tls.mjs';

const T = { timeout: 30000 };
const ALICE = { username: 'alice', password: 'wonderland rabbit hole' };
const REDIRECT = 'https://rp.example.com/cb';

let srv;
let dir;
let docs; // the HTTPS server of client documents
let base;
const hits = {};
const documents = {}; // path -> document object (the client_id filled in by url())

function url(p) {
  return `${base}${p}`;
}

before(async () => {
  dir = fs.mkdtempSync(path.join(process.env.OSTIARY_TEST_LOGDIR || '/tmp', 'ostiary-cimd-pki-'));
  const pki = makePki(dir, 'cimd');
  docs = https.createServer({ cert: fs.readFileSync(pki.certFile), key: fs.readFileSync(pki.keyFile) }, (req, res) => {
    hits[req.url] = (hits[req.url] || 0) + 1;
    const d = documents[req.url];
    if (!d) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
    res.end(JSON.stringify(d));
  });
  await new Promise((r) => docs.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${docs.address().port}`;
  const app = (name, extra = {}) => ({
    client_id: url(`/${name}`), client_name: `CIMD ${name}`, redirect_uris: [REDIRECT],
    token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'], ...extra,
  });
  documents['/app'] = app('app');
  documents['/par-app'] = app('par-app');
  documents['/other-id'] = { ...app('other-id'), client_id: url('/app') };
  documents['/with-secret'] = app('with-secret', { client_secret: 'nope' });
  documents['/no-redirects'] = app('no-redirects', { redirect_uris: undefined });
  documents['/basic'] = app('basic', { token_endpoint_auth_method: 'client_secret_basic' });
  srv = await startServer({
    config: `
log_level: info
fetch:
  ca_file: "${pki.caFile}"
  timeout_ms: 3000
  allow_private_addresses: true # the document server is on 127.0.0.1
registration:
  client_id_metadata_documents: true
  scopes: [openid, profile]
users:
  - username: ${ALICE.username}
    password: "${ALICE.password}"
`,
  });
});

after(async () => {
  await srv?.stop();
  await new Promise((r) => (docs ? docs.close(r) : r()));
  if (dir && !process.env.OSTIARY_TEST_LOGDIR) fs.rmSync(dir, { recursive: true, force: true });
});

describe('a client_id that is a document URL', () => {
  test('discovery advertises client_id_metadata_document_supported', T, async () => {
    const d = await (await fetch(srv.url('/.well-known/openid-configuration'))).json();
    assert.equal(d.client_id_metadata_document_supported, true);
  });

  test('the code flow with PKCE: sign in through the pages, redeem the code as a public client', T, async () => {
    const clientId = url('/app');
    const { url: authUrl, verifier } = codeRequest(srv, { clientId, redirectUri: REDIRECT });
    const r = await httpAuthorize(authUrl, { jar: new CookieJar(), issuer: srv.issuer, ...ALICE });
    assert.equal(r.kind, 'redirect', `pages: ${r.pages}`);
    assert.ok(r.url.startsWith(REDIRECT));
    const code = r.params.get('code');
    assert.ok(code);
    const tok = await httpRequest(srv.url('/token'), {
      body: { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: clientId },
    });
    assert.equal(tok.status, 200, tok.body);
    assert.ok(tok.json.access_token && tok.json.id_token);
    const claims = JSON.parse(Buffer.from(tok.json.id_token.split('.')[1], 'base64url'));
    assert.equal(claims.aud, clientId);
    // The access token works at userinfo: its client (a document, no row) does not make it inactive.
    const me = await fetch(srv.url('/me'), { headers: { authorization: `Bearer ${tok.json.access_token}` } });
    assert.equal(me.status, 200);
    assert.equal(hits['/app'], 1, 'fetched once: cached by its Cache-Control');
  });

  test('PAR: the client pushes its request, then the browser goes to /auth with the request_uri', T, async () => {
    const clientId = url('/par-app');
    const { url: authUrl } = codeRequest(srv, { clientId, redirectUri: REDIRECT });
    const push = await postForm(srv.url('/request'), Object.fromEntries(authUrl.searchParams));
    assert.equal(push.status, 201, push.body);
    const at = new URL(srv.url('/auth'));
    at.search = new URLSearchParams({ client_id: clientId, request_uri: push.json.request_uri }).toString();
    const r = await httpAuthorize(at, { jar: new CookieJar(), issuer: srv.issuer, ...ALICE });
    assert.equal(r.kind, 'redirect', `pages: ${r.pages}`);
    assert.ok(r.params.get('code'));
  });

  test('refused documents: another client_id, a secret, no redirect_uris, a shared-secret method', T, async () => {
    for (const name of ['other-id', 'with-secret', 'no-redirects', 'basic', 'missing']) {
      const { url: authUrl } = codeRequest(srv, { clientId: url(`/${name}`), redirectUri: REDIRECT });
      const res = await httpRequest(String(authUrl), { jar: new CookieJar() });
      assert.equal(res.status, 400, `${name}: ${res.status}`);
      assert.match(res.body, /client_id/i, name);
      assert.ok(!res.location, `${name}: never redirected`);
      const tok = await postForm(srv.url('/token'), { grant_type: 'authorization_code', code: 'x', client_id: url(`/${name}`) });
      assert.equal(tok.status, 401, `${name}: ${tok.body}`);
      assert.equal(tok.json.error, 'invalid_client');
    }
  });
});

test('a URL with dot segments, a fragment or credentials is not a document URL: nothing is fetched', T, async () => {
  const before = { ...hits };
  for (const id of [url('/x/../app'), url('/./app'), `${url('/app')}#f`, base.replace('https://', 'https://u:p@') + '/app']) {
    const tok = await postForm(srv.url('/token'), { grant_type: 'authorization_code', code: 'x', client_id: id });
    assert.equal(tok.status, 401, id);
  }
  assert.deepEqual(hits, before);
});

test('switched off (the default): a URL client_id is an unknown client, and not advertised', T, async () => {
  const off = await startServer({ config: 'log_level: info\n' });
  try {
    const d = await (await fetch(off.url('/.well-known/openid-configuration'))).json();
    assert.equal(d.client_id_metadata_document_supported, undefined);
    const before = hits['/app'];
    const tok = await postForm(off.url('/token'), { grant_type: 'authorization_code', code: 'x', client_id: url('/app') });
    assert.equal(tok.status, 401);
    assert.equal(hits['/app'], before, 'nothing fetched');
  } finally {
    await off.stop();
  }
});
