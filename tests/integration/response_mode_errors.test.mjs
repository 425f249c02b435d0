// response_mode_errors.test.mjs: where an authorization error goes (RFC 6749 §4.1.2.1; OAuth 2.0 Multiple
// Response Type Encoding Practices §2.1, §5; OAuth 2.0 Form Post Response Mode). The client is registered
// for response_type=code only: a request for a served response type with token or id_token (implicit,
// hybrid) gets unauthorized_client, and token alone (not served) unsupported_response_type, in the
// fragment, that type's default response mode, and never in the query: response_mode=query is itself an
// error for them (invalid_request, in the fragment); response_mode=fragment and form_post are honoured.
// code, none, unknown and missing response types keep the query. Raw HTTP: the Location header (or the
// form_post page) is what is checked, case by case.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { httpRequest, parseForms } from './lib/flow.mjs';
import { startServer } from './lib/server.mjs';

const REDIRECT = 'https://rp.example.com/cb';
const CLIENT = 'modes-client';
let srv;

before(async () => {
  srv = await startServer({
    config: `
clients:
  - client_id: ${CLIENT}
    client_secret: modes-secret
    redirect_uris: ["${REDIRECT}"]
    scope: openid
`,
  });
});

after(async () => {
  await srv?.stop();
});

// [response_type, response_mode, where the error must be, error code]; a scope the client may not have
// makes a response_type=code request fail after its response mode is known.
const CASES = [
  ['token', undefined, 'fragment', 'unsupported_response_type'],
  ['id_token', undefined, 'fragment', 'unauthorized_client'],
  ['id_token token', undefined, 'fragment', 'unauthorized_client'],
  ['code token', undefined, 'fragment', 'unauthorized_client'],
  ['code id_token', undefined, 'fragment', 'unauthorized_client'],
  ['code id_token token', undefined, 'fragment', 'unauthorized_client'],
  ['token code', undefined, 'fragment', 'unauthorized_client'],
  ['token', 'query', 'fragment', 'invalid_request'],
  ['code id_token', 'query', 'fragment', 'invalid_request'],
  ['code id_token', 'form_post', 'form_post', 'unauthorized_client'],
  ['token', 'fragment', 'fragment', 'unsupported_response_type'],
  ['token', 'form_post', 'form_post', 'unsupported_response_type'],
  ['token', 'jwt', 'fragment', 'invalid_request'],
  ['none', undefined, 'query', 'unsupported_response_type'],
  ['tokens', undefined, 'query', 'unsupported_response_type'],
  [undefined, undefined, 'query', 'invalid_request'],
  ['code', undefined, 'query', 'invalid_scope'],
  ['code', 'query', 'query', 'invalid_scope'],
  ['code', 'fragment', 'fragment', 'invalid_scope'],
  ['code', 'form_post', 'form_post', 'invalid_scope'],
  ['code', 'jwt', 'query', 'invalid_request'],
];

function authUrl(responseType, responseMode) {
  const p = new URLSearchParams({ client_id: CLIENT, redirect_uri: REDIRECT, state: 'st-9', nonce: 'n-9' });
  if (responseType !== undefined) p.set('response_type', responseType);
  if (responseMode !== undefined) p.set('response_mode', responseMode);
  // For code, a scope outside the client's: invalid_scope, delivered in the request's response mode.
  p.set('scope', responseType === 'code' ? 'openid email' : 'openid');
  return `${srv.url('/auth')}?${p}`;
}

describe('authorization errors by response type and response mode', () => {
  for (const [rt, rm, where, error] of CASES) {
    test(`response_type=${rt ?? '(none)'}${rm ? ` response_mode=${rm}` : ''}: ${error} in the ${where}`, async () => {
      const res = await httpRequest(authUrl(rt, rm));
      let params;
      if (where === 'form_post') {
        assert.equal(res.status, 200);
        const form = parseForms(res.body, res.url).find((f) => f.id === 'form-post');
        assert.ok(form, 'an auto-submitting form');
        assert.equal(form.action, REDIRECT);
        params = new URLSearchParams(form.inputs);
      } else {
        assert.equal(res.status, 303, res.body);
        const loc = res.headers.get('location');
        const hash = loc.indexOf('#');
        if (where === 'fragment') {
          assert.equal(loc.slice(0, hash), REDIRECT, `nothing added to the query: ${loc}`);
          params = new URLSearchParams(loc.slice(hash + 1));
        } else {
          assert.equal(hash, -1, `no fragment: ${loc}`);
          assert.ok(loc.startsWith(`${REDIRECT}?`), loc);
          params = new URL(loc).searchParams;
        }
      }
      assert.equal(params.get('error'), error);
      assert.equal(params.get('state'), 'st-9');
      assert.equal(params.get('iss'), srv.issuer);
      for (const p of ['code', 'access_token', 'id_token']) assert.equal(params.get(p), null, p);
    });
  }
});
