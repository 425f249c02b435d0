// browser.mjs: a real browser for the login pages: playwright-core driving Debian's Chromium
// (/usr/bin/chromium, installed by scripts/install-deps.sh; never a downloaded browser build).
// $OSTIARY_TEST_CHROMIUM names another Chromium binary.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';

import * as jose from 'jose';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';

import { newChecks, responseParams } from './flow.mjs';

export const CHROMIUM = process.env.OSTIARY_TEST_CHROMIUM || '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Default bound for every page action and wait. */
export const STEP_MS = 10000;

/** Launches headless Chromium. Throws a clear message when the binary is missing. */
export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} not found: the browser tests need Debian's chromium package (scripts/install-deps.sh ` +
        'installs it; or: apt-get install -y chromium)',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30000 });
}

/** A fresh browser profile (its own cookies) and one page in it, with bounded default timeouts. */
export async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 800, height: 900 } });
  context.setDefaultTimeout(STEP_MS);
  context.setDefaultNavigationTimeout(STEP_MS);
  const page = await context.newPage();
  return { context, page };
}

/** A new page in an existing context (same cookies: the same "browser"). */
export async function pageIn(context) {
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.setDefaultNavigationTimeout(STEP_MS);
  return page;
}

/** Resolves when the page has reached 'load' (at most STEP_MS; a page that never loads is closed anyway). */
async function loaded(page) {
  await page.waitForLoadState('load', { timeout: STEP_MS }).catch(() => {});
}

/** `promise`, or a rejection naming `what` after STEP_MS. */
async function bounded(what, promise) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${STEP_MS} ms`)), STEP_MS);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Closes a page once it has finished loading. A test often moves on as soon as the URL shows the callback,
 * while the callback document is still loading; closing the page at that moment can leave Chromium's close
 * pending forever (seen as 30 s test timeouts with Debian's Chromium 156 and playwright-core 1.65, more
 * often when the login response came late). The close itself is bounded too, so a hang fails with its
 * name rather than a bare test timeout.
 */
export async function closePage(page) {
  await loaded(page);
  await bounded('page.close', page.close());
}

/** Closes a browser context (see closePage) once each of its pages has finished loading. */
export async function closeContext(context) {
  await Promise.all(context.pages().map(loaded));
  await bounded('context.close', context.close());
}

function pathOf(url) {
  try {
    return new URL(url).pathname;
  } catch {
    return '';
  }
}

/**
 * Waits until the page shows one of the given places and returns which:
 * 'login' | 'consent' | 'select_account' (the interaction pages, by form id), 'callback' (the URL is on
 * `callbackOrigin`), 'logout' (the logout confirmation form), 'error' (#error-code), 'logged_out'.
 */
export async function waitFor(page, places, { callbackOrigin, timeout = STEP_MS } = {}) {
  const wanted = Array.isArray(places) ? places : [places];
  const deadline = Date.now() + timeout;
  for (;;) {
    const where = await whereIs(page, callbackOrigin);
    if (wanted.includes(where)) return where;
    if (Date.now() > deadline) {
      throw new Error(`expected the browser on ${wanted.join('|')}, but it is on ${where} (${page.url()})`);
    }
    await page.waitForTimeout(25);
  }
}

/** Where the page is now (see waitFor); 'loading' while a document is not there yet. */
export async function whereIs(page, callbackOrigin) {
  const url = page.url();
  if (callbackOrigin && url.startsWith(callbackOrigin)) return 'callback';
  let ids;
  try {
    ids = await page.evaluate(() =>
      ['login-form', 'consent-form', 'select-form', 'logout-form', 'error-code', 'page-heading'].filter((id) =>
        document.getElementById(id),
      ),
    );
  } catch {
    return 'loading'; // navigation in progress: the execution context went away
  }
  if (ids.includes('login-form')) return 'login';
  if (ids.includes('consent-form')) return 'consent';
  if (ids.includes('select-form')) return 'select_account';
  if (ids.includes('logout-form')) return 'logout';
  if (ids.includes('error-code')) return 'error';
  if (ids.includes('page-heading') && pathOf(url).endsWith('/session/end')) return 'logged_out';
  return 'loading';
}

/** Fills and submits the login form (the page must show it). */
export async function submitLogin(page, username, password) {
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#login-submit');
}

/** Records every request the page makes whose URL starts with `prefix` (e.g. the issuer's pages). */
export function recordRequests(page, prefix) {
  const seen = [];
  page.on('request', (r) => {
    if (r.url().startsWith(prefix)) seen.push({ method: r.method(), url: r.url() });
  });
  return seen;
}

/* ------------------------------------------------------------------ the relying party's checks */

/**
 * The relying party's helpers for one test file. `env` is filled in the file's before(): { srv (from
 * startServer), cb (from startCallback), cfgs: { clientId: openid-client Configuration }, jwks (jose
 * remote JWKS) }; the helpers read it when called.
 */
export function createRp(env) {
  /** An authorization request built by openid-client; extra: more parameters, null removes one. */
  async function authRequest(clientId, extra = {}) {
    const checks = await newChecks();
    const params = {
      redirect_uri: env.cb.url('/cb'),
      scope: 'openid profile email',
      state: checks.state,
      nonce: checks.nonce,
      code_challenge: checks.challenge,
      code_challenge_method: 'S256',
      ...extra,
    };
    for (const [k, v] of Object.entries(params)) if (v === null) delete params[k];
    const url = client.buildAuthorizationUrl(env.cfgs[clientId], params);
    return { url: url.href, checks, params, cfg: env.cfgs[clientId], clientId };
  }

  const at = (page, places) => waitFor(page, places, { callbackOrigin: env.cb.origin });

  /** Asserts a successful authorization response (code, state, RFC 9207 iss); returns the code. */
  function assertCode(page, req, url = page.url()) {
    const p = responseParams(url);
    assert.equal(p.get('error'), null, `unexpected error ${p.get('error')}: ${p.get('error_description')}`);
    assert.ok(p.get('code'), 'the response has a code');
    assert.equal(p.get('state'), req.checks.state, 'state comes back unchanged');
    assert.equal(p.get('iss'), env.srv.issuer, 'RFC 9207: iss is the issuer');
    return p.get('code');
  }

  /** Asserts an error authorization response with state and iss. */
  function assertError(page, req, error, url = page.url()) {
    const p = responseParams(url);
    assert.equal(p.get('error'), error, `expected error=${error}, got ${url}`);
    assert.equal(p.get('code'), null, 'no code with an error');
    assert.equal(p.get('state'), req.checks.state, 'state comes back with the error');
    assert.equal(p.get('iss'), env.srv.issuer, 'RFC 9207: iss comes with errors too');
    return p;
  }

  /** The code exchange through openid-client with all its checks; `url` defaults to the page's URL. */
  function exchange(page, req, extra = {}, url = page.url()) {
    return client.authorizationCodeGrant(req.cfg, url instanceof URL || url instanceof Request ? url : new URL(url), {
      pkceCodeVerifier: req.checks.verifier,
      expectedState: req.checks.state,
      expectedNonce: req.checks.nonce,
      idTokenExpected: true,
      ...extra,
    });
  }

  /** OIDC Core §3.1.3.7 with jose: signature against the JWKS, iss, aud, exp, nonce, at_hash, more. */
  async function verifyIdToken(tokens, { clientId, nonce, alg = 'RS256' }) {
    const { payload, protectedHeader } = await jose.jwtVerify(tokens.id_token, env.jwks, {
      issuer: env.srv.issuer,
      audience: clientId,
      algorithms: [alg],
    });
    assert.equal(protectedHeader.alg, alg);
    assert.equal(typeof protectedHeader.kid, 'string');
    if (nonce !== undefined) assert.equal(payload.nonce, nonce, 'nonce is the request nonce');
    const digest = createHash('sha256').update(tokens.access_token).digest();
    assert.equal(payload.at_hash, digest.subarray(0, 16).toString('base64url'), 'at_hash: left half of SHA-256');
    assert.equal(typeof payload.sub, 'string');
    assert.ok(payload.sub.length > 0 && payload.sub.length <= 255);
    assert.ok(Number.isInteger(payload.auth_time), 'auth_time is present');
    assert.ok(Number.isInteger(payload.iat) && Number.isInteger(payload.exp) && payload.exp > payload.iat);
    assert.ok(payload.auth_time <= payload.iat, 'auth_time is not after iat');
    assert.equal(typeof payload.sid, 'string', 'sid is present');
    assert.ok(payload.sid.length > 0);
    if (payload.azp !== undefined) assert.equal(payload.azp, clientId);
    assert.ok(Array.isArray(payload.amr) && payload.amr.includes('pwd'), 'amr says password');
    return payload;
  }

  /**
   * A full sign-in in this browser context (login, consent when asked) for `clientId`, leaving the SSO
   * session behind. Returns openid-client's token response.
   */
  async function signIn(context, user, clientId, extra = {}) {
    const page = await pageIn(context);
    try {
      const req = await authRequest(clientId, extra);
      await page.goto(req.url);
      await at(page, 'login');
      await submitLogin(page, user.username, user.password);
      if ((await at(page, ['consent', 'callback'])) === 'consent') {
        await page.click('#consent-allow');
        await at(page, 'callback');
      }
      assertCode(page, req);
      return await exchange(page, req);
    } finally {
      await closePage(page);
    }
  }

  return { authRequest, at, assertCode, assertError, exchange, verifyIdToken, signIn };
}
