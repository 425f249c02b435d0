// claims_parameter.test.mjs: the claims request parameter (OpenID Connect Core §5.5) end to end, through
// openid-client: claims named for userinfo reach userinfo and only userinfo, claims named for the ID token
// reach the ID tokens of the grant (the token endpoint's, a refresh's, and the authorization endpoint's of a
// hybrid or implicit response) whatever the scope; the consent page names them and asks every time;
// essential acr (§5.5.1.1) that cannot be met is access_denied, one that can is met; sub with a value
// (§3.1.2.2) makes another signed-in user sign in again and refuses them after; malformed claims are
// invalid_request with a description that names the member; members not understood are ignored. And a
// client's id_token_claims: scope, which puts the claims of the granted scopes in every ID token.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as client from 'openid-client';

import { CookieJar, discover, hasId, httpAuthorize, httpRequest, newChecks, startCallback } from './lib/flow.mjs';
import { basicAuth, startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const ALICE = { username: 'alice', password: 'through the looking glass', id: 'alice-sub' };
const BOB = { username: 'bob', password: 'the builder can fix it', id: 'bob-sub' };
const APP = { id: 'claims-app', secret: 'claims-app-secret' };
const SCOPED = { id: 'scope-claims-app', secret: 'scope-claims-app-secret' };
const ACR = 'urn:ostiary:acr:password';

let srv;
let cb;
let jwks;

before(async () => {
  cb = await startCallback();
  srv = await startServer({
    config: `
users:
  - username: ${ALICE.username}
    id: ${ALICE.id}
    password: "${ALICE.password}"
    name: Alice Liddell
    email: alice@example.com
    email_verified: "true"
    phone_number: "+44 20 7946 0000"
  - username: ${BOB.username}
    id: ${BOB.id}
    password: "${BOB.password}"
    name: Bob Builder
clients:
  - client_id: ${APP.id}
    client_secret: ${APP.secret}
    grant_types: [authorization_code, implicit, refresh_token]
    response_types: [code, "code id_token", "id_token"]
    redirect_uris: ["${cb.url('/cb')}"]
    refresh_token_policy: offline_access
  - client_id: ${SCOPED.id}
    client_secret: ${SCOPED.secret}
    grant_types: [authorization_code, implicit, refresh_token]
    response_types: [code, "code id_token"]
    redirect_uris: ["${cb.url('/cb')}"]
    refresh_token_policy: offline_access
    id_token_claims: scope
`,
  });
  jwks = jose.createRemoteJWKSet(new URL(srv.url('/jwks')));
});

after(async () => {
  await cb?.close();
  await srv?.stop();
});

/** An /auth URL for APP: PKCE with a code, nonce and state always; claims as JSON text (or an object). */
async function authUrl({ responseType = 'code', scope = 'openid', claims, clientId = APP.id, ...extra } = {}) {
  const checks = await newChecks();
  const params = {
    client_id: clientId,
    response_type: responseType,
    redirect_uri: cb.url('/cb'),
    scope,
    state: checks.state,
    nonce: checks.nonce,
    ...(responseType.includes('code') ? { code_challenge: checks.challenge, code_challenge_method: 'S256' } : {}),
    ...(claims !== undefined ? { claims: typeof claims === 'string' ? claims : JSON.stringify(claims) } : {}),
    ...extra,
  };
  const url = new URL(srv.url('/auth'));
  url.search = new URLSearchParams(params).toString();
  return { url, checks };
}

/** Signs in (ALICE unless user says otherwise) through the real pages; the authorization response. */
async function signIn(url, { jar = new CookieJar(), user = ALICE, ...opts } = {}) {
  return httpAuthorize(url, { jar, issuer: srv.issuer, username: user.username, password: user.password, ...opts });
}

/** The code exchange through openid-client. */
async function redeem(cfg, r, checks) {
  return client.authorizationCodeGrant(cfg, new URL(r.url), {
    pkceCodeVerifier: checks.verifier,
    expectedNonce: checks.nonce,
    expectedState: checks.state,
  });
}

/** The error of an /auth request that is answered at once (no page): the redirect's query or fragment. */
async function authError(url) {
  const res = await httpRequest(url.href);
  assert.equal(res.status, 303, res.body);
  const u = new URL(res.location);
  assert.equal(`${u.origin}${u.pathname}`, cb.url('/cb'));
  return u.hash ? new URLSearchParams(u.hash.slice(1)) : u.searchParams;
}

describe('claims for userinfo and the ID token (code flow, openid-client)', () => {
  test('discovery advertises the claims parameter', async () => {
    const md = (await httpRequest(srv.url('/.well-known/openid-configuration'))).json;
    assert.equal(md.claims_parameter_supported, true);
    assert.ok(md.claims_supported.includes('email') && md.claims_supported.includes('acr'));
  });

  test('each target gets what it was asked for beyond scope openid, and keeps it on refresh', T, async () => {
    const cfg = await discover(srv.issuer, APP.id, { secret: APP.secret });
    const { url, checks } = await authUrl({
      scope: 'openid offline_access',
      claims: {
        userinfo: { email: { essential: true }, phone_number: null, 'x-unknown-claim': null },
        id_token: { name: null, acr: { essential: true, values: ['urn:other', ACR] }, auth_time: { essential: true } },
      },
    });
    const r = await signIn(url);
    assert.equal(r.kind, 'redirect', `ended on the ${r.page} page`);
    const tokens = await redeem(cfg, r, checks);
    const idt = tokens.claims();
    assert.equal(idt.sub, ALICE.id);
    assert.equal(idt.name, 'Alice Liddell', 'name was asked for the ID token');
    assert.equal(idt.acr, ACR);
    assert.ok(Number.isInteger(idt.auth_time));
    assert.equal(idt.email, undefined, 'email was asked for userinfo only');
    assert.equal(idt.phone_number, undefined);

    const me = await client.fetchUserInfo(cfg, tokens.access_token, ALICE.id);
    assert.deepEqual(me, { sub: ALICE.id, email: 'alice@example.com', phone_number: '+44 20 7946 0000' },
      'userinfo: sub and the claims asked for it, not name (scope openid alone releases none)');

    const refreshed = await client.refreshTokenGrant(cfg, tokens.refresh_token);
    const again = refreshed.claims();
    assert.equal(again.name, 'Alice Liddell', 'the refreshed ID token carries the named claims too');
    assert.equal(again.email, undefined);
    const me2 = await client.fetchUserInfo(cfg, refreshed.access_token, ALICE.id);
    assert.equal(me2.email, 'alice@example.com', 'and the refreshed access token reaches the same userinfo');
    assert.equal(me2.name, undefined);
  });

  test('without the claims parameter, userinfo and the ID token are the scope claims only', T, async () => {
    const cfg = await discover(srv.issuer, APP.id, { secret: APP.secret });
    const { url, checks } = await authUrl({ scope: 'openid email' });
    const tokens = await redeem(cfg, await signIn(url), checks);
    assert.equal(tokens.claims().email, undefined, 'the code flow puts the scope claims at userinfo (§5.4)');
    const me = await client.fetchUserInfo(cfg, tokens.access_token, ALICE.id);
    assert.deepEqual(me, { sub: ALICE.id, email: 'alice@example.com', email_verified: true });
  });

  test('a claim the user does not have is left out, and a value does not change what is released', T, async () => {
    const cfg = await discover(srv.issuer, APP.id, { secret: APP.secret });
    const { url, checks } = await authUrl({
      claims: { id_token: { given_name: { essential: true }, email: { value: 'someone@else.example' } } },
    });
    const idt = (await redeem(cfg, await signIn(url), checks)).claims();
    assert.equal(idt.given_name, undefined, 'Alice has no given_name');
    assert.equal(idt.email, 'alice@example.com', 'the value the user has, never the one asked for');
  });
});

describe('the authorization endpoint\'s ID token (hybrid and implicit)', () => {
  for (const responseType of ['code id_token', 'id_token']) {
    test(`response_type=${responseType}: the claims named for the ID token are in it`, T, async () => {
      const { url, checks } = await authUrl({ responseType, claims: { id_token: { email: null } } });
      const r = await signIn(url);
      const frag = new URLSearchParams(new URL(r.url).hash.slice(1));
      const { payload } = await jose.jwtVerify(frag.get('id_token'), jwks, { issuer: srv.issuer, audience: APP.id });
      assert.equal(payload.nonce, checks.nonce);
      assert.equal(payload.email, 'alice@example.com');
      assert.equal(payload.name, undefined, 'scope openid: no profile claims');
      if (responseType.includes('code')) {
        const tok = await httpRequest(srv.url('/token'), {
          headers: { authorization: basicAuth(APP.id, APP.secret) },
          body: { grant_type: 'authorization_code', code: frag.get('code'), redirect_uri: cb.url('/cb'), code_verifier: checks.verifier },
        });
        assert.equal(tok.status, 200, tok.body);
        assert.equal(jose.decodeJwt(tok.json.id_token).email, 'alice@example.com');
      }
    });
  }
});

describe('consent', () => {
  test('the consent page names claims beyond the scopes, and asks every time for them', T, async () => {
    const jar = new CookieJar();
    const first = await authUrl({ scope: 'openid', claims: { userinfo: { email: null, name: null }, id_token: { acr: null } } });
    const atConsent = await signIn(first.url, { jar, stopAt: ['consent'] });
    assert.equal(atConsent.page, 'consent');
    const html = atConsent.res.body;
    assert.ok(hasId(html, 'consent-permissions'));
    const named = [...html.matchAll(/<li class="consent-claim">See your <code>([^<]*)<\/code><\/li>/g)].map((m) => m[1]);
    assert.deepEqual(named.sort(), ['email', 'name'], 'the user claims named, not acr');
    assert.equal((await signIn(first.url, { jar })).kind, 'redirect');

    // The scope is remembered: without claims no page; with claims beyond the scope, the page again.
    const plain = await signIn((await authUrl({ scope: 'openid' })).url, { jar, stopAt: ['consent'] });
    assert.equal(plain.kind, 'redirect', 'openid alone was consented to');
    const more = await signIn((await authUrl({ claims: { userinfo: { email: null } } })).url, { jar, stopAt: ['consent'] });
    assert.equal(more.page, 'consent');
    // Claims the scope releases anyway need no page of their own.
    const withinScope = await authUrl({ scope: 'openid', claims: { id_token: { sub: null, auth_time: null } } });
    assert.equal((await signIn(withinScope.url, { jar, stopAt: ['consent'] })).kind, 'redirect');
    // prompt=none cannot show the page: consent_required.
    const silent = await authUrl({ claims: { userinfo: { email: null } }, prompt: 'none' });
    const res = await httpRequest(silent.url.href, { jar });
    const p = new URL(res.location).searchParams;
    assert.equal(p.get('error'), 'consent_required');
  });
});

describe('acr and sub requests', () => {
  test('an essential acr this server cannot meet: access_denied before any page (§5.5.1.1)', async () => {
    for (const acr of [{ essential: true, value: 'urn:mace:incommon:iap:silver' }, { essential: true, values: ['urn:a', 'urn:b'] }]) {
      for (const target of ['id_token', 'userinfo']) {
        const { url, checks } = await authUrl({ claims: { [target]: { acr } } });
        const p = await authError(url);
        assert.equal(p.get('error'), 'access_denied', JSON.stringify(acr));
        assert.match(p.get('error_description'), /the essential acr cannot be met/);
        assert.equal(p.get('state'), checks.state);
      }
    }
  });

  test('a voluntary acr another server might meet is no error: the ID token has this server\'s acr', T, async () => {
    const cfg = await discover(srv.issuer, APP.id, { secret: APP.secret });
    const { url, checks } = await authUrl({ claims: { id_token: { acr: { values: ['urn:mace:incommon:iap:silver'] } } } });
    const idt = (await redeem(cfg, await signIn(url), checks)).claims();
    assert.equal(idt.acr, ACR);
  });

  test('sub with a value: another user signed in must sign in again, and is refused after (§3.1.2.2)', T, async () => {
    const jar = new CookieJar();
    const cfg = await discover(srv.issuer, APP.id, { secret: APP.secret });
    // Alice has a session.
    await signIn((await authUrl()).url, { jar });
    // A request for Bob's sub: the login page, though Alice is signed in.
    const forBob = await authUrl({ claims: { id_token: { sub: { value: BOB.id } } } });
    const stop = await signIn(forBob.url, { jar, stopAt: ['login'] });
    assert.equal(stop.page, 'login', 'signed in as someone else: sign in again');
    // Bob signs in: his tokens.
    const asBob = await signIn(forBob.url, { jar, user: BOB });
    assert.equal(asBob.kind, 'redirect');
    assert.equal((await redeem(cfg, asBob, forBob.checks)).claims().sub, BOB.id);
    // Alice signs in where Bob was asked for: access_denied, back at the client.
    const forBobAgain = await authUrl({ claims: { userinfo: { sub: { values: [BOB.id] } } }, prompt: 'login' });
    const asAlice = await signIn(forBobAgain.url, { jar: new CookieJar(), user: ALICE });
    assert.equal(asAlice.kind, 'redirect');
    assert.equal(asAlice.params.get('error'), 'access_denied');
    assert.match(asAlice.params.get('error_description'), /claims parameter names \(sub\)/);
    assert.equal(asAlice.params.get('code'), null);
  });
});

describe('malformed claims: invalid_request naming the member', () => {
  const cases = [
    ['{"userinfo":', /^claims is not valid JSON \(at character \d+\)$/],
    ['[]', /^claims must be a JSON object with userinfo and id_token members$/],
    ['{"email":null}', /^claims\.email is at the top level: name claims inside userinfo or id_token$/],
    ['{"essential":true}', /^claims\.essential is at the top level/],
    ['{"userinfo":[]}', /^claims\.userinfo must be a JSON object of claim names$/],
    ['{"id_token":"email"}', /^claims\.id_token must be a JSON object of claim names$/],
    ['{"userinfo":{"email":true}}', /^claims\.userinfo\.email must be null or a JSON object$/],
    ['{"userinfo":{"email":{"essential":"yes"}}}', /^claims\.userinfo\.email\.essential must be true or false$/],
    ['{"id_token":{"acr":{"value":{"a":1}}}}', /^claims\.id_token\.acr\.value must be a string, a number or a boolean$/],
    ['{"id_token":{"acr":{"values":[]}}}', /^claims\.id_token\.acr\.values must be a non-empty JSON array$/],
    ['{"id_token":{"acr":{"values":["a",null]}}}', /^claims\.id_token\.acr\.values\[1\] must be a string, a number or a boolean$/],
    ['{"id_token":{"acr":{"value":"a","values":["a"]}}}', /^claims\.id_token\.acr has both value and values: use one$/],
    ['{"userinfo":{"essential":true}}', /^claims\.userinfo\.essential: essential, value and values go inside the request of one claim/],
    ['{"userinfo":{"id_token":{}}}', /^claims\.userinfo\.id_token: a target inside a target/],
    ['{"userinfo":{"email":{"name":null}}}', /^claims\.userinfo\.email\.name: a claim request holds essential, value and values, not another claim$/],
    ['{"userinfo":{"email":{"userinfo":{}}}}', /^claims\.userinfo\.email\.userinfo: a claim request holds essential, value and values, not a target$/],
    ['{"userinfo":{},"userinfo":{}}', /^claims has a member twice \(at character \d+\)$/],
    ['{"userinfo":{"email":{"essential":true,"essential":false}}}', /^claims has a member twice/],
    [`{"userinfo":{${Array.from({ length: 65 }, (_, i) => `"c${i}":null`).join(',')}}}`, /^claims\.userinfo names more than 64 claims$/],
    [`{"userinfo":{"x":"${'a'.repeat(8200)}"}}`, /^claims is too long \(at most 8192 bytes\)$/],
  ];
  for (const [text, re] of cases) {
    test(`${text.length > 60 ? `${text.slice(0, 57)}...` : text}`, async () => {
      const { url, checks } = await authUrl({ claims: text });
      const p = await authError(url);
      assert.equal(p.get('error'), 'invalid_request');
      assert.match(p.get('error_description'), re);
      assert.match(p.get('error_description'), /^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/, 'RFC 6749 §5.2 character set');
      assert.equal(p.get('state'), checks.state);
      assert.equal(p.get('iss'), srv.issuer);
    });
  }

  test('members not understood are ignored where they stand (§5.5, §5.5.1)', T, async () => {
    const cfg = await discover(srv.issuer, APP.id, { secret: APP.secret });
    const { url, checks } = await authUrl({
      claims: '{"x-top":1,"id_token":{"email":{"x-member":[1],"essential":false},"urn:example:custom":null}}',
    });
    const r = await signIn(url);
    assert.equal(r.kind, 'redirect');
    assert.equal((await redeem(cfg, r, checks)).claims().email, 'alice@example.com');
  });

  test('claims twice in the request: invalid_request (RFC 6749 §3.1)', async () => {
    const { url } = await authUrl({ claims: '{}' });
    url.search += `&claims=${encodeURIComponent('{}')}`;
    const p = await authError(url);
    assert.equal(p.get('error'), 'invalid_request');
    assert.equal(p.get('error_description'), 'claims is repeated (RFC 6749 section 3.1)');
  });
});

describe('id_token_claims: scope', () => {
  test('the code exchange\'s and each refresh\'s ID token carry the claims of the granted scopes', T, async () => {
    const cfg = await discover(srv.issuer, SCOPED.id, { secret: SCOPED.secret });
    const { url, checks } = await authUrl({ clientId: SCOPED.id, scope: 'openid profile email phone offline_access' });
    const tokens = await redeem(cfg, await signIn(url), checks);
    const idt = tokens.claims();
    assert.equal(idt.name, 'Alice Liddell');
    assert.equal(idt.email, 'alice@example.com');
    assert.equal(idt.email_verified, true);
    assert.equal(idt.phone_number, '+44 20 7946 0000');
    assert.ok(Number.isInteger(idt.updated_at));
    // Userinfo is unchanged: the same claims.
    const me = await client.fetchUserInfo(cfg, tokens.access_token, ALICE.id);
    assert.equal(me.email, 'alice@example.com');
    // A refresh narrowed to openid: its ID token follows the narrowed scope.
    const narrowed = await client.refreshTokenGrant(cfg, tokens.refresh_token, { scope: 'openid' });
    const n = narrowed.claims();
    assert.equal(n.sub, ALICE.id);
    assert.equal(n.email, undefined, 'email was not granted to this access token');
    assert.equal(n.name, undefined);
    const full = await client.refreshTokenGrant(cfg, narrowed.refresh_token);
    assert.equal(full.claims().email, 'alice@example.com');
  });

  test('the hybrid response\'s ID token carries them too', T, async () => {
    const { url, checks } = await authUrl({ clientId: SCOPED.id, responseType: 'code id_token', scope: 'openid email' });
    const frag = new URLSearchParams(new URL((await signIn(url)).url).hash.slice(1));
    const { payload } = await jose.jwtVerify(frag.get('id_token'), jwks, { issuer: srv.issuer, audience: SCOPED.id });
    assert.equal(payload.nonce, checks.nonce);
    assert.equal(payload.email, 'alice@example.com');
    assert.equal(payload.name, undefined, 'profile was not requested');
  });

  test('a client without it (the default): the code flow\'s ID token has none of them', T, async () => {
    const cfg = await discover(srv.issuer, APP.id, { secret: APP.secret });
    const { url, checks } = await authUrl({ scope: 'openid profile email phone' });
    const idt = (await redeem(cfg, await signIn(url), checks)).claims();
    for (const claim of ['name', 'email', 'email_verified', 'phone_number', 'updated_at']) assert.equal(idt[claim], undefined, claim);
  });
});
