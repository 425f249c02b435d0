// redirect_uri_ports.test.mjs: which redirect URIs an authorization request may name (RFC 6749 §3.1.2.3,
// OIDC Core §3.1.2.1, RFC 8252 §7.3 and §8.3, RFC 9700 §2.1 and §4.1.3). A web client (the default
// application_type) gets simple string comparison: with http://localhost:4399/cb registered, :4398 and no
// port are refused on the HTML error page, before anything is redirected. A native client
// (application_type: native) may use any port on a registered loopback IP literal (127.0.0.1, [::1]), and
// the code reaches that port and is redeemed there; its "localhost" redirect URIs are compared as strings
// too. Raw HTTP: the status and the Location header are what is checked.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { CookieJar, codeRequest, httpAuthorize, httpRequest, pageKind, startCallback } from './lib/flow.mjs';
import { postForm, startServer } from './lib/server.mjs';

const T = { timeout: 20000 };
const USER = { username: 'porter', password: 'porter password 123' };
const WEB = { id: 'web-app', secret: 'web-app-secret', redirect: 'http://localhost:4399/cb' };
const NATIVE = { id: 'native-app', redirect: 'http://127.0.0.1/cb' };

let srv;
let cb; // the native app's loopback listener: a port the server never saw registered

before(async () => {
  cb = await startCallback();
  srv = await startServer({
    config: `
clients:
  - client_id: ${WEB.id}
    client_secret: ${WEB.secret}
    redirect_uris: ["${WEB.redirect}"]
    scope: openid
  - client_id: ${NATIVE.id}
    application_type: native
    token_endpoint_auth_method: none
    redirect_uris: ["${NATIVE.redirect}", "http://[::1]:8400/cb?app=1", "http://localhost:4399/cb"]
    scope: openid
users:
  - username: ${USER.username}
    password: "${USER.password}"
`,
  });
});

after(async () => {
  await cb?.close();
  await srv?.stop();
});

const authUrl = (clientId, redirectUri) => codeRequest(srv, { clientId, redirectUri }).url.href;

/** The first answer to the authorization request: accepted (303 to the login page, under the issuer)
 *  or refused (the HTML error page, no Location at all). */
async function firstAnswer(clientId, redirectUri) {
  const res = await httpRequest(authUrl(clientId, redirectUri), { jar: new CookieJar() });
  if (res.status === 303 && res.location?.startsWith(`${srv.issuer}/interaction/login`)) return 'accepted';
  assert.equal(res.status, 400, `${redirectUri}: neither accepted nor refused: ${res.status} ${res.location ?? ''}`);
  assert.equal(res.location, undefined, `${redirectUri}: a refused redirect URI is never redirected to`);
  assert.equal(pageKind(res.body), 'error');
  assert.match(res.body, /redirect_uri is not registered for this client/);
  return 'refused';
}

describe('web client: simple string comparison', () => {
  test('the registered http://localhost:4399/cb is accepted', T, async () => {
    assert.equal(await firstAnswer(WEB.id, WEB.redirect), 'accepted');
  });

  for (const uri of [
    'http://localhost:4398/cb', // another port
    'http://localhost/cb', // no port
    'http://localhost:80/cb',
    'http://127.0.0.1:4399/cb', // another loopback host
  ]) {
    test(`${uri} is refused`, T, async () => {
      assert.equal(await firstAnswer(WEB.id, uri), 'refused');
    });
  }

  test('no code reaches another localhost port even after signing in', T, async () => {
    const r = await httpAuthorize(authUrl(WEB.id, 'http://localhost:4398/cb'), {
      jar: new CookieJar(),
      issuer: srv.issuer,
      ...USER,
    });
    assert.equal(r.kind, 'page');
    assert.equal(r.page, 'error');
  });
});

describe('native client: any port on a registered loopback IP literal (RFC 8252 §7.3)', () => {
  for (const uri of [
    'http://127.0.0.1/cb',
    'http://127.0.0.1:51234/cb',
    'http://127.0.0.1:1/cb',
    'http://[::1]:8400/cb?app=1',
    'http://[::1]/cb?app=1',
    'http://[::1]:65535/cb?app=1',
    'http://localhost:4399/cb',
  ]) {
    test(`${uri} is accepted`, T, async () => {
      assert.equal(await firstAnswer(NATIVE.id, uri), 'accepted');
    });
  }

  for (const uri of [
    'http://localhost:4398/cb', // localhost: string comparison (RFC 8252 §8.3)
    'http://localhost/cb',
    'http://127.0.0.1:51234/other', // the path is not free
    'http://[::1]:8400/cb?app=2', // nor the query
    'http://[::1]:8400/cb', // nor its absence
    'http://127.0.0.1:0/cb', // not a port
    'http://127.0.0.1:65536/cb',
    'http://[::1]:8400/cb?app=1'.replace('[::1]', '127.0.0.1'), // the host is not free
    'https://127.0.0.1:51234/cb', // nor the scheme
    'http://127.0.0.1:51234@evil.example/cb',
  ]) {
    test(`${uri} is refused`, T, async () => {
      assert.equal(await firstAnswer(NATIVE.id, uri), 'refused');
    });
  }

  test('the code reaches the port the app listens on and is redeemed with that redirect_uri', T, async () => {
    const redirectUri = cb.url('/cb'); // http://127.0.0.1:<some port>/cb; registered without a port
    const { url, verifier } = codeRequest(srv, { clientId: NATIVE.id, redirectUri });
    const r = await httpAuthorize(url, {
      jar: new CookieJar(),
      issuer: srv.issuer,
      ...USER,
    });
    assert.equal(r.kind, 'redirect', `expected a redirect, got ${r.kind} ${r.page ?? ''}`);
    assert.ok(r.url.startsWith(`${redirectUri}?`), r.url);
    const code = r.params.get('code');
    assert.ok(code, r.url);
    const tok = await postForm(srv.url('/token'), {
      grant_type: 'authorization_code',
      client_id: NATIVE.id,
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    });
    assert.equal(tok.status, 200, tok.body);
    assert.equal(typeof tok.json.id_token, 'string');
  });
});
