// par.test.mjs: pushed authorization requests (RFC 9126) end to end. openid-client's
// buildAuthorizationUrlWithPAR and oauth4webapi's pushedAuthorizationRequest push the parameters to /request
// (client authentication as at the token endpoint), then sign in through the pages (Chromium, and plain
// HTTP) and redeem the code. Negative cases: a request_uri used twice, one of another client, one expired,
// one that is not a PAR URN, PAR required (per client and globally) but not used, an unauthenticated push,
// pushed parameters that fail the authorization endpoint's validation, request_uri inside a push.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';

import { closeContext, createRp, launchBrowser, newPage, submitLogin } from './lib/browser.mjs';
import {
  CookieJar,
  discover,
  httpAuthorize,
  httpRequest,
  newChecks,
  rejection,
  startCallback,
  textById,
} from './lib/flow.mjs';
import { postForm, startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const ALICE = { username: 'alice', password: 'wonderland rabbit hole' };
const WEB = { id: 'web-app', secret: 'web-app-secret' };
const OTHER = { id: 'other-app', secret: 'other-app-secret' };
const STRICT = { id: 'strict-app', secret: 'strict-app-secret' };
const SPA = { id: 'spa-app' };

let srv;
let cb;
let browser;
const env = { cfgs: {} };
const { at, assertCode, exchange } = createRp(env);

function clientYaml(c, extra = '') {
  return `  - client_id: ${c.id}
${c.secret ? `    client_secret: ${c.secret}\n` : '    token_endpoint_auth_method: none\n'}    grant_types: [authorization_code]
    redirect_uris: ["${cb.url('/cb')}"]
${extra}`;
}

before(async () => {
  cb = await startCallback();
  srv = await startServer({
    config: `
log_level: info
par:
  request_uri_ttl: 5
users:
  - username: ${ALICE.username}
    password: "${ALICE.password}"
clients:
${clientYaml(WEB)}${clientYaml(OTHER)}${clientYaml(STRICT, '    require_pushed_authorization_requests: true\n')}${clientYaml(SPA)}`,
  });
  env.srv = srv;
  env.cb = cb;
  env.cfgs[WEB.id] = await discover(srv.issuer, WEB.id, { secret: WEB.secret });
  env.cfgs[STRICT.id] = await discover(srv.issuer, STRICT.id, { secret: STRICT.secret });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  await cb?.close();
});

/** A push of `params` by `c` (HTTP Basic, or client_id alone for a public client). */
function push(c, params) {
  return postForm(srv.url('/request'), c.secret ? params : { client_id: c.id, ...params }, c.secret ? { auth: [c.id, c.secret] } : {});
}

async function codeParams(extra = {}) {
  const checks = await newChecks();
  return {
    checks,
    params: {
      response_type: 'code',
      redirect_uri: cb.url('/cb'),
      scope: 'openid',
      state: checks.state,
      code_challenge: checks.challenge,
      code_challenge_method: 'S256',
      ...extra,
    },
  };
}

/** GET /auth with these query parameters in a new cookie jar; resolves httpAuthorize's result. */
function authorize(query, user) {
  const url = new URL(srv.url('/auth'));
  url.search = new URLSearchParams(query).toString();
  return httpAuthorize(url, { jar: new CookieJar(), issuer: srv.issuer, ...(user ?? {}) });
}

function errorPage(r, code, description) {
  assert.equal(r.kind, 'page');
  assert.equal(r.page, 'error');
  assert.equal(textById(r.res.body, 'error-code'), code);
  if (description) assert.match(textById(r.res.body, 'error-description'), description);
}

describe('discovery', () => {
  test('advertises the PAR endpoint, request_uri for its URNs, PAR not required, no registration', T, async () => {
    const m = (await httpRequest(srv.url('/.well-known/openid-configuration'))).json;
    assert.equal(m.pushed_authorization_request_endpoint, srv.url('/request'));
    assert.equal(m.require_pushed_authorization_requests, false);
    assert.equal(m.request_uri_parameter_supported, true);
    assert.equal(m.request_parameter_supported, true); // request objects: request_object.test.mjs
    assert.equal(m.registration_endpoint, undefined, 'registration is off by default');
  });
});

describe('openid-client and oauth4webapi', () => {
  test('openid-client: buildAuthorizationUrlWithPAR, then the code flow in Chromium', T, async () => {
    const { checks, params } = await codeParams({ nonce: client.randomNonce(), scope: 'openid' });
    const url = await client.buildAuthorizationUrlWithPAR(env.cfgs[WEB.id], params);
    assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
    assert.match(url.searchParams.get('request_uri'), /^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$/);
    const { context, page } = await newPage(browser);
    try {
      await page.goto(url.href);
      await at(page, 'login');
      await submitLogin(page, ALICE.username, ALICE.password);
      if ((await at(page, ['consent', 'callback'])) === 'consent') {
        await page.click('#consent-allow');
        await at(page, 'callback');
      }
      const req = { checks: { ...checks, nonce: params.nonce }, cfg: env.cfgs[WEB.id] };
      assertCode(page, req);
      const tokens = await exchange(page, req);
      assert.ok(tokens.access_token);
      assert.equal(tokens.claims().aud, WEB.id);
    } finally {
      await closeContext(context);
    }
  });

  test('oauth4webapi: pushedAuthorizationRequest, then the code flow over HTTP and the code grant', T, async () => {
    const as = await oauth.processDiscoveryResponse(
      new URL(srv.issuer),
      await oauth.discoveryRequest(new URL(srv.issuer), { [oauth.allowInsecureRequests]: true }),
    );
    const c = { client_id: WEB.id };
    const auth = oauth.ClientSecretBasic(WEB.secret);
    const { checks, params } = await codeParams();
    const res = await oauth.pushedAuthorizationRequest(as, c, auth, params, { [oauth.allowInsecureRequests]: true });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const pushed = await oauth.processPushedAuthorizationResponse(as, c, res);
    assert.equal(pushed.expires_in, 5);
    const r = await authorize({ client_id: WEB.id, request_uri: pushed.request_uri }, ALICE);
    assert.equal(r.kind, 'redirect', `pages: ${r.pages}`);
    const cbParams = oauth.validateAuthResponse(as, c, new URL(r.url), checks.state);
    const tr = await oauth.authorizationCodeGrantRequest(as, c, auth, cbParams, params.redirect_uri, checks.verifier, {
      [oauth.allowInsecureRequests]: true,
    });
    const tokens = await oauth.processAuthorizationCodeResponse(as, c, tr);
    assert.ok(tokens.access_token);
  });

  test('a public client pushes with client_id alone (PKCE required as at /auth)', T, async () => {
    const { params } = await codeParams();
    const ok = await push(SPA, params);
    assert.equal(ok.status, 201, ok.body);
    const { code_challenge: _c, code_challenge_method: _m, ...noPkce } = params;
    const bad = await push(SPA, noPkce);
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error, 'invalid_request');
    assert.match(bad.json.error_description, /PKCE is required/);
  });
});

describe('request_uri at /auth', () => {
  test('is valid once: the second use is invalid_request_uri', T, async () => {
    const { params } = await codeParams();
    const { request_uri } = (await push(WEB, params)).json;
    const first = await authorize({ client_id: WEB.id, request_uri });
    assert.equal(first.page, 'login', 'the first use starts the sign-in');
    const second = await authorize({ client_id: WEB.id, request_uri });
    errorPage(second, 'invalid_request_uri', /already used/);
  });

  test('is only for the client that pushed it; that client can still use it', T, async () => {
    const { params } = await codeParams();
    const { request_uri } = (await push(WEB, params)).json;
    errorPage(await authorize({ client_id: OTHER.id, request_uri }), 'invalid_request_uri', /another client/);
    errorPage(await authorize({ request_uri }), 'invalid_request', /client_id is required/);
    assert.equal((await authorize({ client_id: WEB.id, request_uri })).page, 'login');
  });

  test('other parameters are ignored: the pushed ones count', T, async () => {
    const { params } = await codeParams({ state: 'pushed-state' });
    const { request_uri } = (await push(WEB, params)).json;
    const r = await authorize(
      { client_id: WEB.id, request_uri, state: 'sent-state', redirect_uri: 'https://evil.example/cb' },
      ALICE,
    );
    assert.equal(r.kind, 'redirect');
    assert.ok(r.url.startsWith(cb.url('/cb')), r.url);
    assert.equal(r.params.get('state'), 'pushed-state');
  });

  // 17 s: past its expiry (5 s) and past the next expired-row GC pass (every 10 s), which must leave a row
  // that expired a moment ago, so that the answer says "expired", not "unknown".
  test('an expired request_uri is refused', { timeout: 40000 }, async () => {
    const { params } = await codeParams();
    const { request_uri } = (await push(WEB, params)).json;
    await new Promise((r) => setTimeout(r, 17000));
    errorPage(await authorize({ client_id: WEB.id, request_uri }), 'invalid_request_uri', /expired/);
  });

  test('a request_uri that is not a PAR URN, or unknown, is refused', T, async () => {
    errorPage(await authorize({ client_id: WEB.id, request_uri: 'https://rp.example.com/request.jwt' }), 'invalid_request_uri', /pushed authorization request endpoint/);
    errorPage(await authorize({ client_id: WEB.id, request_uri: 'urn:ietf:params:oauth:request_uri:nope' }), 'invalid_request_uri', /unknown/);
  });

  test('require_pushed_authorization_requests: /auth without PAR is refused, with PAR it works', T, async () => {
    const { checks, params } = await codeParams();
    const direct = await authorize({ client_id: STRICT.id, ...params });
    assert.equal(direct.kind, 'redirect', 'the error goes back to the verified redirect URI');
    assert.equal(direct.params.get('error'), 'invalid_request');
    assert.match(direct.params.get('error_description'), /must push/);
    assert.equal(direct.params.get('state'), checks.state);
    const url = await client.buildAuthorizationUrlWithPAR(env.cfgs[STRICT.id], params);
    const r = await httpAuthorize(url, { jar: new CookieJar(), issuer: srv.issuer, ...ALICE });
    assert.ok(r.params.get('code'), `pages: ${r.pages}`);
  });
});

describe('the push', () => {
  test('needs client authentication: none, or a wrong secret, is invalid_client', T, async () => {
    const { params } = await codeParams();
    const none = await postForm(srv.url('/request'), params);
    assert.equal(none.status, 401);
    assert.equal(none.json.error, 'invalid_client');
    const wrong = await postForm(srv.url('/request'), params, { auth: [WEB.id, 'nope'] });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error, 'invalid_client');
    const e = await rejection(
      client.buildAuthorizationUrlWithPAR(await discover(srv.issuer, WEB.id, { secret: 'nope' }), params),
    );
    // A 401 with a challenge: openid-client reports it as a WWW-Authenticate challenge error.
    assert.equal(e.status ?? e.cause?.status, 401, String(e));
  });

  test('pushed parameters get the authorization endpoint\'s checks, as JSON errors', T, async () => {
    const { params } = await codeParams();
    const cases = [
      [{ redirect_uri: 'https://evil.example/cb' }, 'invalid_request', /redirect_uri is not registered/],
      [{ scope: 'openid nope' }, 'invalid_scope', /not allowed/],
      [{ response_type: 'token' }, 'unsupported_response_type', /code/],
      [{ request_uri: 'urn:ietf:params:oauth:request_uri:x' }, 'invalid_request', /must not be pushed/],
      // A request object is verified at the push (request_object.test.mjs); an unsigned one is refused.
      [{ request: 'eyJhbGciOiJub25lIn0.e30.' }, 'invalid_request_object', /unsigned request objects/],
      [{ client_id: OTHER.id }, 'invalid_request', /differs from the HTTP Basic user/],
    ];
    for (const [extra, error, description] of cases) {
      const r = await push(WEB, { ...params, ...extra });
      assert.equal(r.status, 400, JSON.stringify(extra));
      assert.equal(r.json.error, error, JSON.stringify(extra));
      assert.match(r.json.error_description, description);
      assert.equal(r.headers.get('cache-control'), 'no-store');
    }
  });

  test('only POST', T, async () => {
    const r = await httpRequest(srv.url('/request'));
    assert.equal(r.status, 405);
  });
});

describe('par.required', () => {
  test('every client must push; discovery says so', T, async () => {
    const s2 = await startServer({
      config: `
par:
  required: true
clients:
${clientYaml(WEB)}`,
    });
    try {
      const m = (await httpRequest(s2.url('/.well-known/openid-configuration'))).json;
      assert.equal(m.require_pushed_authorization_requests, true);
      const { params } = await codeParams();
      const url = new URL(s2.url('/auth'));
      url.search = new URLSearchParams({ client_id: WEB.id, ...params }).toString();
      const r = await httpAuthorize(url, { jar: new CookieJar(), issuer: s2.issuer });
      assert.equal(r.params.get('error'), 'invalid_request');
      const pushed = await postForm(s2.url('/request'), params, { auth: [WEB.id, WEB.secret] });
      assert.equal(pushed.status, 201);
      const r2 = await httpAuthorize(
        `${s2.url('/auth')}?client_id=${WEB.id}&request_uri=${encodeURIComponent(pushed.json.request_uri)}`,
        { jar: new CookieJar(), issuer: s2.issuer, stopAt: ['login'] },
      );
      assert.equal(r2.page, 'login');
    } finally {
      await s2.stop();
    }
  });
});
