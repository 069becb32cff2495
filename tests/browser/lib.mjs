// Shared by the browser suite: bounded polling (no fixed sleeps on a busy machine) and
// reading a form out of an IdP page for the plain-fetch walk.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

import { REPO_ROOT } from '../e2e/tokens.mjs';

/** Calls `probe` until it returns a truthy value (returned), or fails after `ms`. */
export async function pollUntil(what, probe, ms = 10_000, every = 100) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms${last ? ` (${last.message})` : ''}`);
    await sleep(every);
  }
}

const unescape = (s) => s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replace(/&amp;/g, '&');

/** The first form of an HTML page: its action and its hidden fields. */
export function formFields(html) {
  const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) throw new Error(`no form in: ${html.slice(0, 200)}`);
  const fields = {};
  for (const m of form[2].matchAll(/<input[^>]*type="hidden"[^>]*>/gi)) {
    const name = /name="([^"]+)"/.exec(m[0])?.[1];
    const value = /value="([^"]*)"/.exec(m[0])?.[1] ?? '';
    if (name) fields[name] = unescape(value);
  }
  return { action: unescape(form[1]), fields };
}

/** A login IdP of its own (tests/idp/server.mjs --profile login) for tests without the stack. */
export async function startLoginIdp(port, password, backchannelUri) {
  const idp = spawn('node', ['tests/idp/server.mjs', '--profile', 'login', '--port', String(port),
    '--keys-out', `run/test-idp-login-${port}-keys.json`, '--backchannel-uri', backchannelUri],
  { cwd: REPO_ROOT, env: { ...process.env, JWTGATE_LOGIN_PASSWORD: password }, stdio: ['ignore', 'ignore', 'inherit'] });
  await pollUntil('the login IdP', async () => (await fetch(`http://127.0.0.1:${port}/jwks`)).ok, 20_000);
  return idp;
}
