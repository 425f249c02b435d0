// recipes.test.mjs: runs every recipe of docs/recipes/ as a reader would, so the walk-throughs cannot rot.
//
// A recipe is a Markdown file whose executable blocks are marked by an HTML comment on the line before
// the fence (invisible when the Markdown is rendered):
//   <!-- recipe: config -->            ```yaml: the whole configuration. It must pass `ostiary config check`
//                                      as written; the test then starts the real server with it
//                                      (lib/server.mjs), keeping the issuer's path but putting its own free
//                                      port, database and key secret in place of `issuer`, `listen`,
//                                      `storage` and `keys.secret`.
//   <!-- recipe: env -->               ```sh: `export ISSUER=...` for the reader; not run, but it must name
//                                      the configuration's issuer. The test sets $ISSUER to its server's.
//   <!-- recipe: run -->               ```sh: run with bash (set -euo pipefail; set -a, so that every
//                                      variable a step sets is there for the next ones, as in the reader's
//                                      shell), in one working directory per recipe, at most 30 s.
//   <!-- recipe: browser sign-in open=VAR user=NAME -->
//                                      ```sh: a person signs in. The test opens $VAR in Chromium (one browser
//                                      profile per recipe, so single sign-on behaves as for the reader), signs
//                                      in as NAME (password from the configuration's users) when asked,
//                                      allows the consent page when shown, waits for the redirect to the
//                                      client, then runs the block with that address on its standard input
//                                      (the block `read`s it, as the reader pastes it).
//   <!-- recipe: browser device open=VAR user=NAME decision=allow|deny -->
//                                      ```sh: the person on the device verification page: confirms the
//                                      prefilled code, signs in when asked, allows or denies; then the block
//                                      is run with an empty line on its standard input.
//   <!-- recipe: node -->              ```js: run with node as an ES module (openid-client, jose from this
//                                      directory's node_modules), $ISSUER and the other variables in its
//                                      environment. With ` device user=NAME decision=allow`, the test plays
//                                      the person on the first verification_uri_complete the program prints.
//   <!-- recipe: expect -->            ```json: what the previous run or node block printed (one JSON value):
//                                      every member shown must be there with that value; a string with "…"
//                                      in it stands for any string.
// Every ```sh and ```js block of a recipe must be marked, so nothing a reader copies goes untested. Most
// checks are `jq -e` lines in the recipes themselves, which a reader benefits from too.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import YAML from 'yaml';

import { closeContext, launchBrowser, submitLogin, waitFor } from './lib/browser.mjs';
import { OSTIARY_BIN, startServer } from './lib/server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RECIPES = path.resolve(HERE, '../../docs/recipes');
const STEP_TIMEOUT_MS = 30000;
const T = { timeout: 180000 };

/* ------------------------------------------------------------------ reading a recipe */

/** The fenced blocks of a Markdown text: [{ lang, text, mark: { kind, args } | null, line }]. */
function parseRecipe(md) {
  const lines = md.split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    let j = i + 1;
    while (j < lines.length && lines[j] !== '```') j++;
    assert.ok(j < lines.length, `unclosed fence at line ${i + 1}`);
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === '') k--;
    const m = k >= 0 ? /^<!--\s*recipe:\s*(\S+)(.*?)\s*-->$/.exec(lines[k].trim()) : null;
    let mark = null;
    if (m) {
      const args = {};
      const words = m[2].trim().split(/\s+/).filter(Boolean);
      for (const w of words) {
        const eq = w.indexOf('=');
        if (eq > 0) args[w.slice(0, eq)] = w.slice(eq + 1);
        else args[w] = true;
      }
      mark = { kind: m[1], args };
    }
    blocks.push({ lang: open[1], text: lines.slice(i + 1, j).join('\n'), mark, line: i + 1 });
    i = j;
  }
  return blocks;
}

/** Expected ⊆ actual: members shown must match; "…" in a string matches any string. */
function matches(expected, actual, where = '$') {
  if (typeof expected === 'string' && expected.includes('…')) {
    assert.equal(typeof actual, 'string', `${where}: a string`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: an array, got ${JSON.stringify(actual)}`);
    assert.equal(actual.length, expected.length, `${where}: ${JSON.stringify(actual)}`);
    expected.forEach((e, i) => matches(e, actual[i], `${where}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${where}: an object, got ${JSON.stringify(actual)}`);
    for (const [k, v] of Object.entries(expected)) {
      assert.ok(k in actual, `${where}.${k} is missing in ${JSON.stringify(actual)}`);
      matches(v, actual[k], `${where}.${k}`);
    }
  } else {
    assert.deepEqual(actual, expected, where);
  }
}

/* ------------------------------------------------------------------ running steps */

/** Runs `cmd args` with env and stdin; resolves { code, stdout, stderr }; kills it after STEP_TIMEOUT_MS.
 *  onOutput(text) sees the stdout or the stderr so far whenever either grows. */
function run(cmd, args, { env, cwd, input = '', onOutput } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), STEP_TIMEOUT_MS);
    child.stdout.on('data', (d) => {
      stdout += d;
      onOutput?.(stdout);
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      onOutput?.(stderr);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // EPIPE from a program that exits without reading: its status tells
    child.stdin.end(input);
  });
}

/** Runs a shell block; returns its stdout and the environment it leaves for the next step. */
async function runShell(block, state, input) {
  const envFile = path.join(state.dir, '.recipe-env');
  const script = `set -euo pipefail\nset -a\n${block.text}\nenv -0 > ${JSON.stringify(envFile)}\n`;
  fs.rmSync(envFile, { force: true });
  const r = await run('bash', ['-c', script], { env: state.env, cwd: state.dir, input });
  assert.equal(
    r.code,
    0,
    `step at line ${block.line} failed (exit ${r.code}${r.signal ? `, ${r.signal}` : ''}):\n${block.text}\n` +
      `--- stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`,
  );
  const env = {};
  for (const kv of fs.readFileSync(envFile, 'utf8').split('\0')) {
    const eq = kv.indexOf('=');
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  state.env = env;
  return r.stdout;
}

/** The recipe's browser profile: a new context on first use. */
async function browserPage(state) {
  if (!state.context) {
    state.context = await state.browser.newContext();
    state.context.setDefaultTimeout(10000);
  }
  return state.context.newPage();
}

/** The password of a user of the recipe's configuration. */
function passwordOf(state, username) {
  const u = (state.config.users || []).find((x) => x.username === username);
  assert.ok(u, `no user ${username} in the recipe's configuration`);
  return String(u.password);
}

/** A person signs in at state.env[open] and allows; resolves the address the browser ends on. */
async function signIn(state, { open, user }) {
  const url = state.env[open];
  assert.ok(url, `$${open} is not set`);
  const redirect = new URL(url).searchParams.get('redirect_uri');
  assert.ok(redirect, `$${open} has no redirect_uri`);
  const origin = new URL(redirect).origin;
  const page = await browserPage(state);
  try {
    // Nothing listens at the client's address: the browser gets a blank page there, as the reader's would
    // get an error page, and the address bar is what counts.
    await page.route(`${origin}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'client' }));
    await page.goto(url);
    for (let i = 0; i < 4; i++) {
      const where = await waitFor(page, ['login', 'consent', 'callback', 'error'], { callbackOrigin: origin });
      if (where === 'callback') return page.url();
      if (where === 'error') throw new Error(`error page: ${await page.textContent('#error-code')} at ${page.url()}`);
      if (where === 'login') await submitLogin(page, user, passwordOf(state, user));
      else await page.click('#consent-allow');
      await page.waitForLoadState('load').catch(() => {});
    }
    throw new Error(`no redirect to ${origin} (at ${page.url()})`);
  } finally {
    await page.close();
  }
}

/** A person on the verification page at `url`: confirms the code, signs in if asked, allows or denies. */
async function approveDevice(state, url, { user, decision = 'allow' }) {
  const page = await browserPage(state);
  try {
    await page.goto(url);
    await page.click('#device-submit');
    await page.waitForSelector('#login-form, #device-confirm-form');
    if (await page.$('#login-form')) {
      await submitLogin(page, user, passwordOf(state, user));
      await page.waitForSelector('#device-confirm-form');
    }
    await page.click(decision === 'deny' ? '#device-deny' : '#device-allow');
    await page.waitForSelector(decision === 'deny' ? '#device-denied' : '#device-approved');
  } finally {
    await page.close();
  }
}

/** Runs a js block with node; with args.device, plays the person on the first verification URL printed
 *  (on stdout or stderr). */
async function runNode(block, state) {
  let approval = null;
  const onOutput = block.mark.args.device
    ? (out) => {
        const m = /(https?:\/\/\S+\/device\?user_code=[A-Z-]+)/.exec(out);
        if (m && !approval) {
          approval = approveDevice(state, m[1], { user: block.mark.args.user, decision: block.mark.args.decision });
          approval.catch(() => {}); // awaited below
        }
      }
    : undefined;
  const r = await run(process.execPath, ['--input-type=module', '-e', block.text], { env: state.env, cwd: HERE, onOutput });
  if (approval) await approval;
  assert.equal(r.code, 0, `node block at line ${block.line} failed:\n${r.stdout}\n${r.stderr}`);
  if (block.mark.args.device) assert.ok(approval, 'the program printed no verification URL');
  return r.stdout;
}

/* ------------------------------------------------------------------ the recipes */

const files = fs
  .readdirSync(RECIPES)
  .filter((f) => f.endsWith('.md') && f !== 'README.md')
  .sort();

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('the index lists every recipe', () => {
  const index = fs.readFileSync(path.join(RECIPES, 'README.md'), 'utf8');
  assert.ok(files.length >= 5, `recipes: ${files}`);
  for (const f of files) assert.ok(index.includes(`(${f})`), `docs/recipes/README.md links ${f}`);
});

for (const file of files) {
  describe(file, () => {
    const md = fs.readFileSync(path.join(RECIPES, file), 'utf8');
    const blocks = parseRecipe(md);

    test('every shell and JavaScript block is marked for the test', () => {
      for (const b of blocks) {
        if (['sh', 'bash', 'js', 'javascript'].includes(b.lang)) {
          assert.ok(b.mark && ['env', 'run', 'browser', 'node'].includes(b.mark.kind), `${file}:${b.line}: unmarked ${b.lang} block`);
        }
      }
      assert.equal(blocks.filter((b) => b.mark?.kind === 'config').length, 1, 'one configuration block');
    });

    test('runs as written', T, async () => {
      const configText = blocks.find((b) => b.mark?.kind === 'config').text;
      const config = YAML.parse(configText);
      const issuer = new URL(config.issuer);
      const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OSTIARY_')));
      const envBlock = blocks.find((b) => b.mark?.kind === 'env');
      assert.ok(envBlock, 'the recipe tells the reader how to set $ISSUER');
      assert.match(envBlock.text, new RegExp(`^export ISSUER=${config.issuer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));

      // The file exactly as the reader saves it passes `ostiary config check`.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `recipe-${file.replace(/\.md$/, '')}-`));
      fs.writeFileSync(path.join(dir, 'recipe.yaml'), configText);
      const check = await run(OSTIARY_BIN, ['config', 'check', '--config', 'recipe.yaml'], { cwd: dir, env: baseEnv });
      assert.equal(check.code, 0, `ostiary config check: ${check.stdout}${check.stderr}`);

      // The test's server: the recipe's configuration with this test's port, database and key secret.
      const own = { ...config };
      delete own.issuer;
      delete own.listen;
      delete own.storage;
      if (own.keys) {
        own.keys = { ...own.keys };
        delete own.keys.secret;
        if (Object.keys(own.keys).length === 0) delete own.keys;
      }
      const srv = await startServer({ config: YAML.stringify(own), issuerPath: issuer.pathname.replace(/\/$/, '') });
      const state = { browser, config, dir, env: { ...baseEnv, ISSUER: srv.issuer }, context: null };
      let last = null;
      try {
        for (const b of blocks) {
          const kind = b.mark?.kind;
          if (kind === 'run') {
            last = await runShell(b, state);
          } else if (kind === 'browser') {
            const { args } = b.mark;
            let input = '\n';
            if (args['sign-in']) input = `${await signIn(state, args)}\n`;
            else if (args.device) await approveDevice(state, state.env[args.open], args);
            else assert.fail(`${file}:${b.line}: unknown browser step`);
            last = await runShell(b, state, input);
          } else if (kind === 'node') {
            last = await runNode(b, state);
          } else if (kind === 'expect') {
            assert.ok(last !== null, `${file}:${b.line}: nothing ran before this expectation`);
            let actual;
            try {
              actual = JSON.parse(last);
            } catch {
              assert.fail(`${file}:${b.line}: the step before did not print one JSON value:\n${last}`);
            }
            matches(JSON.parse(b.text), actual);
          }
        }
      } finally {
        if (state.context) await closeContext(state.context);
        await srv.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
