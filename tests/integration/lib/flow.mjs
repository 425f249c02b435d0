// flow.mjs: the relying party's side of the browser flows, at the HTTP level.
//  - startCallback(): a tiny RP callback server on 127.0.0.1 (the redirect_uri target) that records
//    every request (query and, for response_mode=form_post, the POST body) and answers 200.
//  - CookieJar + httpRequest(): fetch with manual redirects and a cookie jar (cookies keep their
//    attributes so tests can check HttpOnly / SameSite / Secure).
//  - httpAuthorize(): a fast login through the real pages without a browser: GET the authorization
//    URL, follow the redirects inside the issuer, fill the login form (hidden interaction + csrf
//    inputs), answer the account-selection and consent forms, and stop at the first redirect that
//    leaves the issuer (the authorization response) or at an auto-submitting form_post page.
//  - codeRequest(), openLoginPage(), loginBody(), postLogin(): a code + PKCE request, stopped at the login
//    page, and its form posts, for tests that drive the login post themselves (timing, headers);
//    signInAndRedeem() and redeemCode(): a whole sign-in to the token response; clientAndUserYaml().
//  - deviceVerify(): the person's side of the device flow (RFC 8628) on the verification page, over HTTP.
//  - small helpers: form parsing, authorization-response parameters, openid-client discovery.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';

import * as client from 'openid-client';

import { basicAuth } from './server.mjs';

/* ------------------------------------------------------------------ callback server */

/**
 * Starts the RP callback server on 127.0.0.1 (port 0 = a free port). Every request is recorded as
 * { method, path, url (absolute), query (URLSearchParams), body (string), form (URLSearchParams) }.
 * Returns { port, origin, url(path), hits, nextHit(timeoutMs), waitHits(n, timeoutMs), close() }.
 */
export function startCallback({ port = 0 } = {}) {
  const hits = [];
  const waiters = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url, `http://127.0.0.1:${server.address().port}`);
      // A browser asks for the site icon on its own, at a moment of its choosing; that request is
      // not part of any flow, so it is answered and not recorded (a test counting hits would
      // otherwise see it in place of the redirect it waits for).
      if (url.pathname === '/favicon.ico') {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('no icon');
        return;
      }
      const ct = String(req.headers['content-type'] || '');
      const hit = {
        method: req.method,
        path: url.pathname,
        url: url.href,
        query: url.searchParams,
        headers: req.headers,
        body,
        form: ct.startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(body) : new URLSearchParams(),
      };
      hits.push(hit);
      for (const w of waiters.splice(0)) w();
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end('<!DOCTYPE html><html><head><title>RP callback</title><link rel="icon" href="data:,"></head><body><p id="rp-callback">ok</p></body></html>');
    });
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const p = server.address().port;
      const origin = `http://127.0.0.1:${p}`;
      const waitHits = async (n, timeoutMs = 10000) => {
        const deadline = Date.now() + timeoutMs;
        while (hits.length < n) {
          const left = deadline - Date.now();
          if (left <= 0) throw new Error(`callback server: expected ${n} request(s), got ${hits.length}`);
          await new Promise((r) => {
            const t = setTimeout(r, left);
            waiters.push(() => {
              clearTimeout(t);
              r();
            });
          });
        }
        return hits[n - 1];
      };
      resolve({
        port: p,
        origin,
        hits,
        url: (path = '/cb') => `${origin}${path}`,
        /** The next request after the ones already recorded. */
        nextHit: (timeoutMs) => waitHits(hits.length + 1, timeoutMs),
        waitHits,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
  });
}

/* ------------------------------------------------------------------ cookies and requests */

/** A minimal cookie jar for one server: name+path → cookie; attributes kept for assertions. */
export class CookieJar {
  constructor() {
    this.cookies = new Map();
    this.setCookieHeaders = [];
  }

  /** Records the Set-Cookie headers of a response to `url`. */
  store(res, url) {
    const list = typeof res.headers.getSetCookie === 'function' ? res.headers.getSetCookie() : [];
    for (const raw of list) {
      this.setCookieHeaders.push(raw);
      const parts = raw.split(';').map((s) => s.trim());
      const eq = parts[0].indexOf('=');
      const name = parts[0].slice(0, eq);
      const value = parts[0].slice(eq + 1);
      const attrs = {};
      for (const a of parts.slice(1)) {
        const i = a.indexOf('=');
        const k = (i < 0 ? a : a.slice(0, i)).toLowerCase();
        attrs[k] = i < 0 ? true : a.slice(i + 1);
      }
      const path = typeof attrs.path === 'string' ? attrs.path : defaultPath(url);
      const key = `${name}|${path}`;
      const maxAge = attrs['max-age'] !== undefined ? Number(attrs['max-age']) : undefined;
      if (value === '' || (maxAge !== undefined && maxAge <= 0)) this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path, attrs, raw });
    }
  }

  /** The Cookie header for a request to `url` (path-matched), or '' when none applies. */
  header(url) {
    const p = new URL(url).pathname;
    const out = [];
    for (const c of this.cookies.values()) {
      if (p === c.path || p.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/') {
        out.push(`${c.name}=${c.value}`);
      }
    }
    return out.join('; ');
  }

  get(name) {
    for (const c of this.cookies.values()) if (c.name === name) return c;
    return undefined;
  }

  clear() {
    this.cookies.clear();
  }
}

function defaultPath(url) {
  const p = new URL(url).pathname;
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/**
 * One HTTP request without following redirects. body: URLSearchParams / object (sent as a form) or a
 * string (sent as is, as a form unless headers say otherwise). Resolves { status, headers, body, url,
 * location (absolute or undefined), json }.
 */
export async function httpRequest(url, { method, body, headers = {}, jar, timeoutMs = 10000 } = {}) {
  const h = { ...headers };
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : new URLSearchParams(body).toString();
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
      h['content-type'] = 'application/x-www-form-urlencoded';
    }
  }
  if (jar) {
    const c = jar.header(url);
    if (c) h.cookie = c;
  }
  const res = await fetch(url, {
    method: method || (body !== undefined ? 'POST' : 'GET'),
    headers: h,
    body: payload,
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  });
  jar?.store(res, url);
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const loc = res.headers.get('location');
  return {
    status: res.status,
    headers: res.headers,
    body: text,
    json,
    url,
    location: loc ? new URL(loc, url).href : undefined,
  };
}

/* ------------------------------------------------------------------ HTML forms */

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function htmlDecode(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return String.fromCodePoint(cp);
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

function attrs(tag) {
  const out = {};
  const re = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  const inner = tag.replace(/^<\s*[a-zA-Z]+/, '').replace(/\/?>$/, '');
  let m;
  while ((m = re.exec(inner)) !== null) {
    const v = m[2] ?? m[3] ?? m[4];
    out[m[1].toLowerCase()] = v === undefined ? true : htmlDecode(v);
  }
  return out;
}

/**
 * The forms of a page: [{ id, method, action (absolute), inputs: {name: value} (hidden and text inputs),
 * buttons: [{ id, name, value }] }].
 */
export function parseForms(html, baseUrl) {
  const forms = [];
  const re = /<form\b[^>]*>([\s\S]*?)<\/form>/gi;
  let m;
  while ((m = re.exec(html)) !== null) {
    const tag = /^<form\b[^>]*>/i.exec(m[0])[0];
    const a = attrs(tag);
    const inputs = {};
    const buttons = [];
    for (const t of m[1].match(/<input\b[^>]*>/gi) || []) {
      const ia = attrs(t);
      if (typeof ia.name === 'string') inputs[ia.name] = typeof ia.value === 'string' ? ia.value : '';
    }
    for (const t of m[1].match(/<button\b[^>]*>/gi) || []) {
      const ba = attrs(t);
      buttons.push({ id: ba.id, name: ba.name, value: ba.value });
    }
    forms.push({
      id: a.id,
      method: (a.method || 'get').toLowerCase(),
      action: new URL(typeof a.action === 'string' ? a.action : baseUrl, baseUrl).href,
      inputs,
      buttons,
    });
  }
  return forms;
}

/** Whether the HTML has an element with this id. */
export function hasId(html, id) {
  return new RegExp(`\\bid\\s*=\\s*["']${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}["']`).test(html);
}

/** The text content of the element with this id (tags stripped, entities decoded), or undefined. */
export function textById(html, id) {
  const m = new RegExp(`<([a-z0-9]+)\\b[^>]*\\bid\\s*=\\s*["']${id}["'][^>]*>([\\s\\S]*?)</\\1>`, 'i').exec(html);
  return m ? htmlDecode(m[2].replace(/<[^>]*>/g, '')).replace(/\s+/g, ' ').trim() : undefined;
}

/** Which page this is: login, consent, select_account, logout, logged_out, error, form_post or unknown. */
export function pageKind(html) {
  if (hasId(html, 'form-post')) return 'form_post';
  if (hasId(html, 'login-form')) return 'login';
  if (hasId(html, 'consent-form')) return 'consent';
  if (hasId(html, 'select-form')) return 'select_account';
  if (hasId(html, 'logout-form')) return 'logout';
  if (hasId(html, 'error-code') || hasId(html, 'error-description')) return 'error';
  if (/You are signed out/i.test(html)) return 'logged_out';
  return 'unknown';
}

/* ------------------------------------------------------------------ authorization responses */

/** The parameters of an authorization response URL: query, or fragment when the query has none. */
export function responseParams(url) {
  const u = new URL(url);
  const q = u.searchParams;
  if (q.has('code') || q.has('error')) return q;
  if (u.hash.length > 1) return new URLSearchParams(u.hash.slice(1));
  return q;
}

/** Plain object of URLSearchParams (last value wins), for deepEqual-style assertions and messages. */
export function paramsObject(p) {
  return Object.fromEntries(p.entries());
}

/**
 * Drives an authorization request through Ostiary's pages over plain HTTP.
 * opts: {
 *   jar: CookieJar (the "browser"),
 *   issuer: the issuer URL (redirects under it are followed; anything else is the response),
 *   username, password: credentials for the login page (when it shows up),
 *   loginAction: 'login' | 'cancel' (default login),
 *   consent: 'allow' | 'deny' (default allow), select: 'continue' | 'other' (default continue),
 *   stopAt: page kinds to stop at instead of answering (e.g. ['consent']),
 *   maxSteps: safety bound (default 15),
 * }
 * Resolves { kind: 'redirect' | 'form_post' | 'page', url, params (URLSearchParams, for redirect and
 * form_post), page (kind of the page it stopped on), res (last response), pages (kinds seen, in order),
 * statuses }.
 */
export async function httpAuthorize(authUrl, opts) {
  const { jar, issuer } = opts;
  const loginAction = opts.loginAction || 'login';
  const stopAt = new Set(opts.stopAt || []);
  const pages = [];
  const statuses = [];
  let res = await httpRequest(String(authUrl), { jar });
  let loginTries = 0;
  for (let step = 0; step < (opts.maxSteps || 15); step++) {
    statuses.push(res.status);
    if (res.status >= 300 && res.status < 400 && res.location) {
      if (!underIssuer(res.location, issuer)) {
        return { kind: 'redirect', url: res.location, params: responseParams(res.location), res, pages, statuses };
      }
      res = await httpRequest(res.location, { jar });
      continue;
    }
    const kind = pageKind(res.body);
    pages.push(kind);
    if (kind === 'form_post') {
      const f = parseForms(res.body, res.url).find((x) => x.id === 'form-post');
      return { kind: 'form_post', url: f.action, params: new URLSearchParams(f.inputs), res, pages, statuses };
    }
    if (stopAt.has(kind) || !['login', 'consent', 'select_account'].includes(kind)) {
      return { kind: 'page', page: kind, res, pages, statuses };
    }
    const form = parseForms(res.body, res.url).find((x) => x.id === `${kind === 'select_account' ? 'select' : kind}-form`);
    if (!form) return { kind: 'page', page: kind, res, pages, statuses };
    const data = new URLSearchParams();
    data.set('interaction', form.inputs.interaction ?? '');
    data.set('csrf', form.inputs.csrf ?? '');
    if (kind === 'login') {
      if (loginAction === 'login' && (opts.username === undefined || loginTries > 0)) {
        // No credentials, or the login page came back (wrong password, throttled): the caller decides.
        return { kind: 'page', page: kind, res, pages, statuses };
      }
      loginTries++;
      if (loginAction === 'login') {
        data.set('username', opts.username);
        data.set('password', opts.password);
      }
      data.set('action', loginAction);
    } else if (kind === 'consent') {
      data.set('decision', opts.consent || 'allow');
    } else {
      data.set('decision', opts.select || 'continue');
    }
    res = await httpRequest(form.action, { jar, body: data });
  }
  throw new Error(`httpAuthorize: no authorization response after ${opts.maxSteps || 15} steps (pages: ${pages})`);
}

/**
 * A code + PKCE (S256) authorization request URL of the server `srv` (startServer) for client `clientId`
 * and `redirectUri`: scope openid and a random state unless `params` (more parameters) say otherwise.
 * Returns { url (a URL), verifier }.
 */
export function codeRequest(srv, { clientId, redirectUri, params = {} }) {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(srv.url('/auth'));
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: 'openid',
    state: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...params,
  }).toString();
  return { url, verifier };
}

/**
 * A browser at the login page of a codeRequest(srv, request): a new cookie jar, or `jar` (a browser with
 * cookies already; add prompt: 'login' to request.params when it has a session). Resolves { jar, res (the
 * login page), form (its parsed #login-form) }.
 */
export async function openLoginPage(srv, request, jar = new CookieJar()) {
  const { url } = codeRequest(srv, request);
  const r = await httpAuthorize(url, { jar, issuer: srv.issuer, stopAt: ['login'] });
  if (r.page !== 'login') throw new Error(`openLoginPage: expected the login page, got ${r.page ?? r.kind}`);
  return { jar, res: r.res, form: parseForms(r.res.body, r.res.url).find((f) => f.id === 'login-form') };
}

/** The body of a login form post (the form as parseForms gives it). */
export function loginBody(form, username, password) {
  return new URLSearchParams({
    interaction: form.inputs.interaction,
    csrf: form.inputs.csrf,
    username,
    password,
    action: 'login',
  });
}

/**
 * Posts the login form of the page `at` (openLoginPage's result) last showed, with extra request headers
 * (X-Forwarded-For...). A failed post keeps the page it got back in at.res, with its new form, so posts
 * can follow each other. Resolves the response.
 */
export async function postLogin(at, username, password, headers = {}) {
  const form = parseForms(at.res.body, at.res.url).find((f) => f.id === 'login-form');
  if (!form) throw new Error('postLogin: the last page has no login form');
  const res = await httpRequest(form.action, { jar: at.jar, body: loginBody(form, username, password), headers });
  if (res.status !== 303) at.res = res;
  return res;
}

/**
 * Signs `user` ({ username, password }) in through the pages of a codeRequest(srv, request) (request:
 * clientId, redirectUri, params), answering the consent page, and redeems the code with
 * client_secret_basic (`secret`). Resolves { jar, code, verifier, status, json (the token response) }.
 * jar: the browser (a new one by default).
 */
export async function signInAndRedeem(srv, { secret, user, jar = new CookieJar(), ...request }) {
  const { url, verifier } = codeRequest(srv, request);
  const r = await httpAuthorize(url, { jar, issuer: srv.issuer, ...user });
  if (r.kind !== 'redirect' || !r.params.get('code')) {
    throw new Error(`signInAndRedeem: no code (pages: ${r.pages}, ${r.url ?? r.page})`);
  }
  const code = r.params.get('code');
  const res = await redeemCode(srv, { id: request.clientId, secret }, { code, verifier, redirectUri: request.redirectUri });
  return { jar, code, verifier, status: res.status, json: res.json };
}

/** POSTs the code to /token (authorization_code, client_secret_basic). Resolves { status, json, body }. */
export async function redeemCode(srv, client, { code, verifier, redirectUri }) {
  const res = await httpRequest(srv.url('/token'), {
    body: { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier },
    headers: { authorization: basicAuth(client.id, client.secret) },
  });
  return { status: res.status, json: res.json, body: res.body };
}

/**
 * The YAML of one confidential client ({ id, secret, redirect, grantTypes (default [authorization_code]),
 * extra: more of its keys, each line indented by four spaces }) and one user ({ username, password }), as
 * `clients:` and `users:` lists.
 */
export function clientAndUserYaml(app, user) {
  return `clients:
  - client_id: ${app.id}
    client_secret: ${app.secret}
    grant_types: [${(app.grantTypes ?? ['authorization_code']).join(', ')}]
    redirect_uris: ["${app.redirect}"]
    token_endpoint_auth_method: client_secret_basic
${app.extra ?? ''}users:
  - username: ${user.username}
    password: "${user.password}"
`;
}

function underIssuer(url, issuer) {
  const u = new URL(url);
  const i = new URL(issuer);
  if (u.origin !== i.origin) return false;
  const base = i.pathname.replace(/\/+$/, '');
  return base === '' || u.pathname === base || u.pathname.startsWith(`${base}/`);
}

/* ------------------------------------------------------------------ the device verification page */

/** The form `id` of a response's page (asserts there is one). */
export function formOf(res, id) {
  const f = parseForms(res.body, res.url).find((x) => x.id === id);
  if (!f) throw new Error(`the page has no form #${id} (status ${res.status}): ${res.body.slice(0, 300)}`);
  return f;
}

/** Follows 303s with the jar; resolves the last response. */
export async function follow(res, jar) {
  let r = res;
  for (let i = 0; i < 10 && r.status === 303; i++) r = await httpRequest(r.location, { jar });
  return r;
}

/**
 * The person's side of the device flow over HTTP (no browser): open the verification page (`server.url
 * ('/device')`) with the code prefilled as verification_uri_complete does, or `typed` by hand, submit it,
 * sign in as `user` ({ username, password }) when the jar has no session, and answer `decision` ('allow'
 * or 'deny'). Options: jar (the browser), headers (e.g. X-Forwarded-For). Resolves { res (the last page),
 * pages (['login'?, 'confirm']), confirmPage }.
 */
export async function deviceVerify(server, userCode, { jar = new CookieJar(), user, decision = 'allow', typed, headers = {} } = {}) {
  const pages = [];
  const first = typed === undefined ? `/device?user_code=${encodeURIComponent(userCode)}` : '/device';
  let res = await httpRequest(server.url(first), { jar, headers });
  const entry = formOf(res, 'device-form');
  res = await httpRequest(entry.action, {
    jar,
    headers,
    body: { csrf: entry.inputs.csrf, user_code: typed ?? entry.inputs.user_code },
  });
  if (res.status !== 303) throw new Error(`the code was refused: ${res.status} ${textById(res.body, 'device-error')}`);
  res = await follow(res, jar);
  if (hasId(res.body, 'login-form')) {
    pages.push('login');
    const login = formOf(res, 'login-form');
    res = await httpRequest(login.action, {
      jar,
      body: { ...login.inputs, username: user.username, password: user.password, action: 'login' },
    });
    res = await follow(res, jar);
  }
  pages.push('confirm');
  const confirm = formOf(res, 'device-confirm-form');
  const done = await httpRequest(confirm.action, { jar, body: { ...confirm.inputs, decision } });
  return { res: done, pages, confirmPage: res };
}

/* ------------------------------------------------------------------ openid-client helpers */

export const insecure = { execute: [client.allowInsecureRequests] };

/**
 * openid-client Configuration for a client of this issuer (plain-http issuer allowed).
 * auth: 'client_secret_basic' (default when a secret is given) | 'client_secret_post' | 'none'.
 */
export function discover(issuer, clientId, { secret, auth } = {}) {
  const method = auth || (secret !== undefined ? 'client_secret_basic' : 'none');
  const a =
    method === 'none'
      ? client.None()
      : method === 'client_secret_post'
        ? client.ClientSecretPost(secret)
        : client.ClientSecretBasic(secret);
  return client.discovery(new URL(issuer), clientId, undefined, a, insecure);
}

/** PKCE pair, state and nonce for one authorization request. */
export async function newChecks() {
  const verifier = client.randomPKCECodeVerifier();
  return {
    verifier,
    challenge: await client.calculatePKCECodeChallenge(verifier),
    state: client.randomState(),
    nonce: client.randomNonce(),
  };
}

/** Awaits a promise that must reject; returns the error (openid-client's ResponseBodyError has .error). */
export async function rejection(p) {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the operation to fail, but it succeeded');
}
