// audience_names.test.mjs: APIs with an audience name (resources[].audience): the name is the aud of their
// access tokens (JWT and opaque, as introspection shows it) in place of the RFC 8707 identifier, at the
// token endpoint (client_credentials), through the code flow (openid-client; the userinfo endpoint as
// second audience with openid) and on refresh. audience= accepts the name or the identifier, resource=
// only the identifier; an unknown audience is invalid_target, resource and audience naming two APIs
// invalid_request. A client's introspection_resources, which lists identifiers, reaches the tokens of a
// named API. An API without a name keeps its identifier as aud.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as client from 'openid-client';

import { CookieJar, discover, httpAuthorize, httpRequest, newChecks, startCallback } from './lib/flow.mjs';
import { basicAuth, startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const DOMAIN = { identifier: 'https://erp.example/api/domain', name: 'DomainApi' };
const ORDERS = { identifier: 'urn:example:orders', name: 'orders-api' };
const PLAIN = { identifier: 'https://plain.example/api' };
const M2M = { id: 'm2m', secret: 'm2m-secret' };
const WATCHER = { id: 'watcher', secret: 'watcher-secret' };
const WEB = { id: 'web', secret: 'web-secret' };
const ALICE = { username: 'alice', password: 'through the looking glass' };

let srv;
let cb;
let jwks;
let userinfoUrl;

before(async () => {
  cb = await startCallback();
  srv = await startServer({
    config: `
resources:
  - identifier: "${DOMAIN.identifier}"
    audience: ${DOMAIN.name}
    scopes: [domain.read]
  - identifier: "${ORDERS.identifier}"
    audience: ${ORDERS.name}
    access_token_format: opaque
    scopes: [orders.read]
  - identifier: "${PLAIN.identifier}"
    scopes: [plain.read]
users:
  - username: ${ALICE.username}
    password: "${ALICE.password}"
clients:
  - client_id: ${M2M.id}
    client_secret: ${M2M.secret}
    grant_types: [client_credentials]
    scope: domain.read orders.read plain.read
  - client_id: ${WATCHER.id}
    client_secret: ${WATCHER.secret}
    grant_types: [client_credentials]
    introspection_access: resources
    introspection_resources: ["${ORDERS.identifier}"]
  - client_id: ${WEB.id}
    client_secret: ${WEB.secret}
    redirect_uris: ["${cb.url('/cb')}"]
    refresh_token_policy: offline_access
`,
  });
  jwks = jose.createRemoteJWKSet(new URL(srv.url('/jwks')));
  userinfoUrl = srv.url('/me');
});

after(async () => {
  await cb?.close();
  await srv?.stop();
});

const cc = (body, c = M2M) =>
  httpRequest(srv.url('/token'), {
    headers: { authorization: basicAuth(c.id, c.secret) },
    body: { grant_type: 'client_credentials', ...body },
  });

const introspect = (token, c = M2M) =>
  httpRequest(srv.url('/token/introspection'), { headers: { authorization: basicAuth(c.id, c.secret) }, body: { token } });

describe('client_credentials', () => {
  for (const [param, value] of [
    ['audience', DOMAIN.name],
    ['audience', DOMAIN.identifier],
    ['resource', DOMAIN.identifier],
  ]) {
    test(`${param}=${value}: a JWT whose aud is the API's name`, async () => {
      const res = await cc({ [param]: value, scope: 'domain.read' });
      assert.equal(res.status, 200, res.body);
      const { payload } = await jose.jwtVerify(res.json.access_token, jwks, { issuer: srv.issuer, audience: DOMAIN.name, typ: 'at+jwt' });
      assert.equal(payload.aud, DOMAIN.name);
      assert.equal(payload.scope, 'domain.read');
      const intro = await introspect(res.json.access_token);
      assert.equal(intro.json.active, true);
      assert.equal(intro.json.aud, DOMAIN.name);
    });
  }

  test('an opaque API with a name: introspection says the name', async () => {
    const res = await cc({ audience: ORDERS.name });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json.access_token.split('.').length, 1, 'opaque');
    const intro = await introspect(res.json.access_token);
    assert.equal(intro.json.active, true);
    assert.equal(intro.json.aud, ORDERS.name);
    assert.equal(intro.json.scope, 'orders.read');
  });

  test('an API without a name keeps its identifier as aud', async () => {
    const res = await cc({ audience: PLAIN.identifier });
    assert.equal(res.status, 200, res.body);
    assert.equal(jose.decodeJwt(res.json.access_token).aud, PLAIN.identifier);
  });

  test('introspection_resources lists identifiers, and reaches the tokens of a named API', async () => {
    const orders = (await cc({ audience: ORDERS.name })).json.access_token;
    const domain = (await cc({ audience: DOMAIN.name })).json.access_token;
    const a = await introspect(orders, WATCHER);
    assert.equal(a.json.active, true, 'a token for one of its introspection_resources');
    assert.equal(a.json.aud, ORDERS.name);
    assert.deepEqual((await introspect(domain, WATCHER)).json, { active: false }, 'another API');
  });

  test('errors: resource= takes no name, an unknown audience, two APIs', async () => {
    for (const [body, error, description] of [
      [{ resource: DOMAIN.name }, 'invalid_target', 'resource must be an absolute URI without a fragment'],
      [{ audience: 'NoSuchApi' }, 'invalid_target', 'unknown audience: no API has that identifier or audience name'],
      [{ audience: 'urn:example:nothing' }, 'invalid_target', 'unknown audience: no API has that identifier or audience name'],
      [{ resource: DOMAIN.identifier, audience: ORDERS.name }, 'invalid_request', 'resource and audience name different APIs'],
    ]) {
      const res = await cc(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.json.error, error, JSON.stringify(body));
      assert.equal(res.json.error_description, description);
    }
    const same = await cc({ resource: DOMAIN.identifier, audience: DOMAIN.name });
    assert.equal(same.status, 200, 'the identifier and the name of one API agree');
  });
});

describe('code flow (openid-client)', () => {
  test('audience=<name>: the API and userinfo as audiences, at the exchange and on refresh', T, async () => {
    const cfg = await discover(srv.issuer, WEB.id, { secret: WEB.secret });
    const checks = await newChecks();
    const url = client.buildAuthorizationUrl(cfg, {
      redirect_uri: cb.url('/cb'),
      scope: 'openid offline_access domain.read',
      audience: DOMAIN.name,
      state: checks.state,
      code_challenge: checks.challenge,
      code_challenge_method: 'S256',
    });
    const r = await httpAuthorize(url, { jar: new CookieJar(), issuer: srv.issuer, ...ALICE });
    assert.equal(r.kind, 'redirect');
    const tokens = await client.authorizationCodeGrant(cfg, new URL(r.url), {
      pkceCodeVerifier: checks.verifier,
      expectedState: checks.state,
    });
    const { payload } = await jose.jwtVerify(tokens.access_token, jwks, { issuer: srv.issuer, audience: DOMAIN.name });
    assert.deepEqual(payload.aud, [DOMAIN.name, userinfoUrl]);
    const me = await client.fetchUserInfo(cfg, tokens.access_token, payload.sub);
    assert.equal(me.sub, payload.sub, 'the token still works at userinfo');
    const refreshed = await client.refreshTokenGrant(cfg, tokens.refresh_token);
    assert.deepEqual(jose.decodeJwt(refreshed.access_token).aud, [DOMAIN.name, userinfoUrl]);
  });

  test('audience=<unknown name> at /auth: invalid_target back at the client', async () => {
    const url = new URL(srv.url('/auth'));
    url.search = new URLSearchParams({
      client_id: WEB.id,
      redirect_uri: cb.url('/cb'),
      response_type: 'code',
      scope: 'openid',
      state: 's1',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      audience: 'NoSuchApi',
    }).toString();
    const res = await httpRequest(url.href);
    assert.equal(res.status, 303);
    const p = new URL(res.location).searchParams;
    assert.equal(p.get('error'), 'invalid_target');
    assert.equal(p.get('error_description'), 'unknown audience: no API has that identifier or audience name');
    assert.equal(p.get('state'), 's1');
  });
});
