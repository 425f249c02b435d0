// admin.mjs: what the admin API's tests share: a server with an admin listener, tokens for the built-in
// API <issuer>/admin through client_credentials, requests to the admin listener, and a checker that
// validates every live response against docs/admin-api.yaml (the documented status of the operation, its
// content type, and its JSON schema, with Ajv's JSON Schema 2020-12 dialect, OpenAPI 3.1's).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

import { freePort, postForm, readResponse, standardConfig, startServer } from './server.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const OPENAPI_FILE = path.join(ROOT, 'docs/admin-api.yaml');

/** The admin clients most tests use: one per scope they need. Secrets are test-only values. */
export const ADMIN = {
  all: { id: 'admin-all', secret: 'admin-all-secret', scope: 'ostiary:admin' },
  clients: { id: 'admin-clients', secret: 'admin-clients-secret', scope: 'ostiary:clients' },
  metrics: { id: 'admin-metrics', secret: 'admin-metrics-secret', scope: 'ostiary:metrics' },
  short: { id: 'admin-short', secret: 'admin-short-secret', scope: 'ostiary:admin', ttl: 2 },
};

/** The YAML of the admin clients (a `clients:` continuation: entries only). */
export function adminClientsYaml() {
  return Object.values(ADMIN)
    .map(
      (c) => `  - client_id: ${c.id}
    client_secret: ${c.secret}
    grant_types: [client_credentials]
    scope: "${c.scope}"
${c.ttl ? `    access_token_ttl: ${c.ttl}\n` : ''}`,
    )
    .join('');
}

/** A confidential code-flow client entry (a `clients:` continuation) that always gets a refresh token. */
export function rpClientYaml(rp, scope) {
  return `  - client_id: ${rp.id}
    client_secret: ${rp.secret}
    grant_types: [authorization_code, refresh_token]
    redirect_uris: ["${rp.redirect}"]
    scope: "${scope}"
    refresh_token_policy: always
`;
}

/**
 * Starts a server with the standard configuration, an admin listener and the admin clients; `extra` goes
 * after them (more client entries first, then top-level keys). Resolves the server with `admin` (the
 * admin listener's base URL) and `adminApi` (the identifier of the admin API).
 */
export async function startAdminServer({ extra = '', admin = '' } = {}) {
  const port = await freePort();
  const config = standardConfig(`${adminClientsYaml()}${extra}\nadmin:\n  listen: "127.0.0.1:${port}"\n${admin}`);
  const srv = await startServer({ config });
  srv.admin = `http://127.0.0.1:${port}`;
  srv.adminPort = port;
  srv.adminApi = `${srv.issuer}/admin`;
  return srv;
}

/** A token of `client` for the admin API (client_credentials; `scope` narrows it). */
export async function adminToken(srv, client, { resource = srv.adminApi, scope } = {}) {
  const params = { grant_type: 'client_credentials' };
  if (resource) params.resource = resource;
  if (scope) params.scope = scope;
  const r = await postForm(srv.url('/token'), params, { auth: [client.id, client.secret] });
  assert.equal(r.status, 200, r.body);
  return r.json.access_token;
}

/**
 * A request to the admin listener. opts: { method, token, json (a body, sent as application/json),
 * body (raw), contentType, headers }. Resolves { status, headers, body, json }.
 */
export async function adminFetch(srv, p, { method = 'GET', token, json, body, contentType, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let payload = body;
  if (json !== undefined) {
    payload = JSON.stringify(json);
    h['content-type'] = contentType ?? 'application/json';
  } else if (contentType) {
    h['content-type'] = contentType;
  }
  const res = await fetch(`${srv.admin}${p}`, { method, headers: h, body: payload });
  return readResponse(res);
}

/** The OpenAPI document, parsed. */
export function openapiDocument() {
  return YAML.parse(fs.readFileSync(OPENAPI_FILE, 'utf8'));
}

/**
 * A checker of live responses against the document: check(res, operationId) asserts that res.status is
 * one of the operation's documented responses, that its content type is the documented one, and that its
 * body validates against the documented schema (a 204 has no body). Returns res.
 */
export function responseChecker(doc = openapiDocument()) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ ...doc, $id: 'admin-api' });
  const ops = new Map();
  for (const item of Object.values(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (op && typeof op === 'object' && op.operationId) ops.set(op.operationId, { method, op });
    }
  }
  const deref = (r) => {
    if (!r || !r.$ref) return r;
    const parts = r.$ref.replace(/^#\//, '').split('/');
    return parts.reduce((o, k) => o[k], doc);
  };
  const validators = new Map();
  const validatorFor = (ref) => {
    if (!validators.has(ref)) validators.set(ref, ajv.getSchema(`admin-api${ref}`));
    return validators.get(ref);
  };
  return function check(res, operationId) {
    const entry = ops.get(operationId);
    assert.ok(entry, `no operation ${operationId} in the document`);
    const documented = deref(entry.op.responses[String(res.status)]);
    assert.ok(documented, `${operationId}: status ${res.status} is not documented (body: ${res.body})`);
    const ct = (res.headers.get('content-type') || '').split(';')[0].trim();
    if (!documented.content) {
      assert.equal(res.body, '', `${operationId} ${res.status}: no body documented`);
      return res;
    }
    const media = documented.content[ct];
    assert.ok(media, `${operationId} ${res.status}: content type ${ct} is not documented`);
    const schema = media.schema;
    if (schema.$ref) {
      const v = validatorFor(schema.$ref);
      assert.ok(v, `cannot compile ${schema.$ref}`);
      const ok = v(res.json);
      assert.ok(ok, `${operationId} ${res.status}: ${ajv.errorsText(v.errors)}\n${res.body}`);
    } else {
      assert.equal(typeof res.body, 'string');
    }
    for (const [name] of Object.entries(documented.headers || {})) {
      assert.ok(res.headers.get(name) !== null, `${operationId} ${res.status}: header ${name} missing`);
    }
    return res;
  };
}
