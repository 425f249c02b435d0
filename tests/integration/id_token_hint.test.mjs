// id_token_hint.test.mjs: only an ID token this issuer issued is an id_token_hint (OIDC Core §3.1.2.1;
// RP-Initiated Logout §2; src/oauth/id_token.c id_token_hint_verify). An RFC 9068 access token is signed
// by the same keys and names the same user, but its header says typ at+jwt: at the authorization endpoint
// and at the end-session endpoint it is refused with invalid_request, with or without a session, while the
// real ID token keeps working as a hint at both. Plain HTTP through the real pages (httpAuthorize).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { CookieJar, clientAndUserYaml, codeRequest, httpAuthorize, httpRequest, pageKind, signInAndRedeem, textById }
  from './lib/flow.mjs';
import { decodeJwt, startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const USER = { username: 'hilda', password: 'hints are id tokens' };
const BYE = 'https://rp.example/bye';
const APP = {
  id: 'hint-app',
  secret: 'hint-app-secret',
  redirect: 'https://rp.example/cb',
  extra: `    post_logout_redirect_uris: ["${BYE}"]\n`,
};
const API = 'https://hint.api.example/';

let srv;

before(async () => {
  srv = await startServer({
    config: `
log_level: info
resources:
  - identifier: "${API}"
    scopes: [read]
${clientAndUserYaml(APP, USER)}`,
  });
});

after(async () => {
  await srv?.stop();
});

/** An authorization request URL of this client for the API, with extra parameters. */
const authUrl = (extra = {}) => {
  const params = { scope: 'openid read', resource: API, ...extra };
  return codeRequest(srv, { clientId: APP.id, redirectUri: APP.redirect, params }).url;
};

/** Signs in with a new browser (jar); resolves { jar, access_token (a JWT), id_token }. */
async function signIn() {
  const r = await signInAndRedeem(srv, {
    clientId: APP.id,
    redirectUri: APP.redirect,
    secret: APP.secret,
    user: USER,
    params: { scope: 'openid read', resource: API },
  });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const at = decodeJwt(r.json.access_token);
  assert.equal(at.header.typ, 'at+jwt');
  assert.equal(at.payload.sub, decodeJwt(r.json.id_token).payload.sub, 'the access token names the same user');
  return { jar: r.jar, ...r.json };
}

describe('id_token_hint at the authorization endpoint', () => {
  test('an access token is refused (invalid_request), with a session and without', T, async () => {
    const { jar, access_token: at } = await signIn();
    const withSession = await httpRequest(authUrl({ id_token_hint: at }).href, { jar });
    assert.equal(withSession.status, 303);
    const p = new URL(withSession.location).searchParams;
    assert.ok(withSession.location.startsWith(APP.redirect), withSession.location);
    assert.equal(p.get('error'), 'invalid_request', `no code for an access token hint: ${withSession.location}`);
    assert.match(p.get('error_description'), /id_token_hint/);
    assert.equal(p.get('code'), null);

    const fresh = await httpRequest(authUrl({ id_token_hint: at }).href, { jar: new CookieJar() });
    assert.equal(fresh.status, 303);
    assert.equal(new URL(fresh.location).searchParams.get('error'), 'invalid_request', fresh.location);
  });

  test('the ID token is a hint: the signed-in user gets a code without a login page', T, async () => {
    const { jar, id_token: idt } = await signIn();
    const r = await httpAuthorize(authUrl({ id_token_hint: idt }), { jar, issuer: srv.issuer });
    assert.equal(r.kind, 'redirect', `pages: ${r.pages}`);
    assert.ok(r.params.get('code'), r.url);
    assert.deepEqual(r.pages, []);
  });
});

describe('id_token_hint at the end-session endpoint', () => {
  test('an access token is refused (invalid_request) and the session stays', T, async () => {
    const { jar, access_token: at } = await signIn();
    const url = new URL(srv.url('/session/end'));
    url.search = new URLSearchParams({ id_token_hint: at, post_logout_redirect_uri: BYE, state: 's' }).toString();
    const res = await httpRequest(url.href, { jar });
    assert.equal(res.status, 400);
    assert.equal(pageKind(res.body), 'error');
    assert.equal(textById(res.body, 'error-code'), 'invalid_request');
    assert.match(textById(res.body, 'error-description'), /id_token_hint/);
    // Still signed in: a new request gets a code straight away.
    const again = await httpAuthorize(authUrl(), { jar, issuer: srv.issuer });
    assert.ok(again.params?.get('code'), `still signed in (pages: ${again.pages})`);
  });

  test('the ID token is a hint: the session ends and the browser goes back to the client', T, async () => {
    const { jar, id_token: idt } = await signIn();
    const url = new URL(srv.url('/session/end'));
    url.search = new URLSearchParams({ id_token_hint: idt, post_logout_redirect_uri: BYE, state: 'bye' }).toString();
    const res = await httpRequest(url.href, { jar });
    assert.equal(res.status, 303, res.body);
    assert.equal(res.location, `${BYE}?state=bye`);
    const again = await httpAuthorize(authUrl(), { jar, issuer: srv.issuer });
    assert.equal(again.page, 'login', 'signed out');
  });
});
