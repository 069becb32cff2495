// The login IdP's own pages in headless Chromium, without a gate: the authorization
// request (PKCE S256) shows the login form, a wrong password stays there, the right one
// redirects to the client's redirect_uri with a code and the same state (read from the
// IdP's redirect; whatever listens there, if anything, is not part of this). Proves the browser half of the suite
// on its own; screenshots target/browser/idp-*.png.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { REPO_ROOT } from '../e2e/tokens.mjs';
import { startLoginIdp } from './lib.mjs';

const PORT = 9484;
const ISSUER = `http://127.0.0.1:${PORT}`;
const PASSWORD = randomBytes(9).toString('base64url');
const CALLBACK = 'http://127.0.0.1:9410/app/callback';
const SHOTS = resolve(REPO_ROOT, 'target', 'browser');

let idp;
let browser;
before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  idp = await startLoginIdp(PORT, PASSWORD, 'http://127.0.0.1:9/unused');
  browser = await chromium.launch({ executablePath: process.env.JWTGATE_CHROMIUM ?? '/usr/bin/chromium',
    headless: true, args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
  idp?.kill();
});

test('Chromium signs in on the IdP page and is sent to the redirect_uri with code and state', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const url = new URL(`${ISSUER}/auth`);
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: 'jwtgate-bff', redirect_uri: CALLBACK,
    scope: 'openid offline_access read', state, nonce: 'n-1', code_challenge_method: 'S256',
    code_challenge: createHash('sha256').update(verifier).digest('base64url') })) url.searchParams.set(k, v);

  await page.goto(url.href);
  await page.locator('#username').waitFor();
  await page.screenshot({ path: resolve(SHOTS, 'idp-login.png') });
  await page.fill('#username', 'alice');
  await page.fill('#password', 'not-the-password');
  await page.click('#signin');
  await page.locator('#error').waitFor();
  assert.match(await page.locator('#error').innerText(), /Wrong user or password/);
  await page.screenshot({ path: resolve(SHOTS, 'idp-login-refused.png') });

  await page.fill('#username', 'alice');
  await page.fill('#password', PASSWORD);
  const [redirect] = await Promise.all([
    page.waitForResponse((r) => r.status() === 303 && (r.headers().location ?? '').startsWith(CALLBACK), { timeout: 15_000 }),
    page.click('#signin', { noWaitAfter: true }),
  ]);
  const landed = new URL(redirect.headers().location);
  assert.equal(landed.searchParams.get('state'), state);
  assert.match(landed.searchParams.get('code') ?? '', /^[\w-]{20,}$/);
  const idpCookies = (await context.cookies(ISSUER)).map((c) => c.name);
  assert.ok(idpCookies.includes('_session'), `the IdP keeps its own session: ${idpCookies}`);
  await context.close();
});
