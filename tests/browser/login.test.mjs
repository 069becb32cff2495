// Browser sessions at the gate (issue #15), in a real browser: headless Chromium (the
// Debian package, driven by playwright-core) logs in through the real login IdP
// (tests/idp/login.mjs) via the gate, on Envoy and on the worker:
//   /app/ -> IdP login page -> user/password -> back at /app/ (the upstream echo shows the
//   claim headers, never the session cookie) -> cookie flags -> /app/api/ with the session
//   (200) and a state-changing request without a same-origin Origin (403) -> past the
//   8 s access-token lifetime a refresh (IdP counter, new jti) -> RP-initiated logout
//   (/app/logout -> IdP end-session -> /app/ asks to log in again) -> log in again, the IdP
//   ends the session server-side (back-channel logout; the worker learns the sid from the
//   revocation feed) -> the session is refused within the revocation bound.
// Each step saves target/browser/<host>-<step>.png. Needs the stack (`make up`).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { REPO_ROOT, loadEndpoints } from '../e2e/tokens.mjs';
import { pollUntil } from './lib.mjs';

const CHROMIUM = process.env.JWTGATE_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = resolve(REPO_ROOT, 'target', 'browser');
const HOSTS = (process.env.JWTGATE_BROWSER_HOSTS ?? 'envoy,worker').split(',');
const ACCESS_TOKEN_TTL_MS = 8_000;

const ep = loadEndpoints();
const gateConfig = JSON.parse(readFileSync(resolve(REPO_ROOT, 'run', 'jwtgate.json'), 'utf8'));
const login = gateConfig.providers?.web?.login;
// Until the gate's login block is in the demo config there is nothing to log in to.
const skip = login ? false : 'the demo config has no providers.web.login block yet';
const cookieName = login?.cookie?.name ?? '__Host-jwtgate';
const claimHeader = (claim) => gateConfig.providers?.web?.claim_to_headers?.find((c) => c.claim === claim)?.header;
const basic = () => `Basic ${Buffer.from(`${ep.login_client_id}:${ep.login_client_secret}`).toString('base64')}`;

let browser;
before(async () => {
  if (skip) return;
  mkdirSync(SHOTS, { recursive: true });
  // --no-sandbox: the suite runs as root inside a network namespace.
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
});
after(() => browser?.close());

const counters = async () => (await fetch(ep.login_counters_url)).json();
const onIdp = (url) => url.startsWith(`${ep.login_issuer}/`);

/** The upstream's JSON echo on the page (Chromium shows JSON in a <pre>). */
async function echo(page) {
  return JSON.parse(await page.evaluate(() => (document.querySelector('pre') ?? document.body).textContent));
}

/**
 * Signs in on the IdP's page (the browser is there) and waits to be back at `back`
 * exactly (the callback under /app/ only redirects, so it never loads).
 */
async function signIn(page, back, shot) {
  await page.waitForURL((u) => onIdp(u.href) && u.pathname.startsWith('/interaction/'), { timeout: 10_000 });
  await page.locator('#username').waitFor();
  await shot('idp-login');
  await page.fill('#username', ep.browser_user);
  await page.fill('#password', ep.browser_password);
  await Promise.all([page.waitForURL((u) => u.href === back, { timeout: 15_000 }), page.click('#signin')]);
}

function sessionCookies(cookies) {
  return cookies.filter((c) => c.name === cookieName || c.name.startsWith(`${cookieName}.`));
}

for (const host of HOSTS) {
  describe(`browser login on ${host}`, { skip }, () => {
    const base = ep.hosts[host];
    const app = `${base}/app/`;
    let context;
    let page;
    const shot = (step) => page.screenshot({ path: resolve(SHOTS, `${host}-${step}.png`), fullPage: true });

    before(async () => {
      context = await browser.newContext();
      page = await context.newPage();
    });
    after(() => context?.close());

    test('an unauthenticated page load goes to the IdP, and signing in comes back to /app/', async () => {
      const res = await page.goto(app);
      assert.ok(onIdp(page.url()), `at the IdP, not ${page.url()} (${res?.status()})`);
      await signIn(page, app, shot);
      const body = await echo(page);
      await shot('app');
      assert.equal(body.path, '/app/');
      const sub = claimHeader('sub');
      if (sub) assert.equal(body.headers[sub], ep.browser_user, `${sub} from the access token`);
      const cookie = [body.headers.cookie ?? []].flat().join('; ');
      assert.ok(!cookie.includes(cookieName), `the session cookie never reaches the upstream: ${cookie}`);
      assert.equal(body.headers.authorization, undefined);
    });

    test('the session cookie is HttpOnly, Secure, SameSite=Lax, host-only; scripts cannot read it', async () => {
      const cookies = sessionCookies(await context.cookies(base));
      assert.ok(cookies.length >= 1, `a ${cookieName} cookie`);
      for (const c of cookies) {
        assert.equal(c.httpOnly, true, `${c.name} HttpOnly`);
        assert.equal(c.secure, true, `${c.name} Secure`);
        assert.equal(c.sameSite, 'Lax', `${c.name} SameSite`);
        assert.equal(c.path, '/', `${c.name} Path`);
        assert.equal(c.domain, '127.0.0.1', `${c.name} host-only`);
      }
      const visible = await page.evaluate(() => document.cookie);
      assert.ok(!visible.includes(cookieName), `document.cookie shows no session cookie: ${visible}`);
    });

    test('/app/api/ with the session: a same-origin fetch works, a request without same-origin Origin is 403', async () => {
      const api = await page.evaluate(async () => {
        const r = await fetch('/app/api/orders', { headers: { accept: 'application/json' } });
        const w = await fetch('/app/api/orders', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
        return { get: r.status, body: await r.json(), post: w.status };
      });
      assert.equal(api.get, 200);
      assert.equal(api.body.path, '/app/api/orders');
      assert.equal(api.post, 200, 'a same-origin POST from the page carries Origin');
      // The context's request client shares the cookie jar but is no page: no Origin.
      const bare = await context.request.post(`${base}/app/api/orders`, { data: '{}', failOnStatusCode: false });
      assert.equal(bare.status(), 403, 'state-changing without Origin / Sec-Fetch-Site');
      const foreign = await context.request.post(`${base}/app/api/orders`,
        { data: '{}', headers: { origin: 'http://evil.example' }, failOnStatusCode: false });
      assert.equal(foreign.status(), 403, 'a cross-site Origin');
      await shot('api');
    });

    test('past the access-token lifetime the gate refreshes (IdP counter, new jti, cookie re-set)', async () => {
      const jti = claimHeader('jti');
      const before = (await counters()).grants.refresh_token ?? 0;
      const firstJti = jti ? (await echo(page)).headers[jti] : undefined;
      const cookieBefore = sessionCookies(await context.cookies(base)).map((c) => c.value).join();
      await sleep(ACCESS_TOKEN_TTL_MS + 500); // the one fixed wait: the token's lifetime
      await page.goto(app);
      const body = await echo(page);
      await shot('refreshed');
      assert.equal(body.path, '/app/', 'still signed in, no trip to the IdP');
      assert.ok(((await counters()).grants.refresh_token ?? 0) > before, 'a refresh_token grant at the IdP');
      if (jti) assert.notEqual(body.headers[jti], firstJti, 'a new access token');
      const cookieAfter = sessionCookies(await context.cookies(base)).map((c) => c.value).join();
      assert.notEqual(cookieAfter, cookieBefore, 'the session cookie carries the new tokens');
    });

    test('RP-initiated logout: /app/logout -> IdP end-session -> /app/ asks to sign in again', async () => {
      await page.goto(`${base}/app/logout`);
      await page.waitForURL((u) => onIdp(u.href) && u.pathname.startsWith('/session/end'), { timeout: 10_000 });
      await shot('idp-logout');
      await Promise.all([page.waitForURL((u) => onIdp(u.href) && u.pathname.startsWith('/interaction/'), { timeout: 15_000 }),
        page.click('#logout')]);
      await shot('logged-out');
      assert.equal(sessionCookies(await context.cookies(base)).length, 0, 'the session cookie is gone');
      await page.locator('#username').waitFor();
    });

    test('back-channel logout: the IdP ends the session server-side and the gate refuses it', async () => {
      await signIn(page, app, (step) => shot(`again-${step}`));
      assert.equal((await echo(page)).path, '/app/');
      const res = await fetch(ep.login_end_session_url, { method: 'POST', headers: { authorization: basic() },
        body: new URLSearchParams({ sub: ep.browser_user }) });
      assert.equal(res.status, 200);
      const { ended } = await res.json();
      assert.ok(ended.length >= 1, 'the IdP had a session to end');
      // The logout token goes to the demo Envoy's backchannel_logout_path (one URI per
      // client) and the hook returns after Envoy answered, so that Envoy refuses at once.
      // The other hosts learn the sid from the revocation feed within its bound.
      const direct = base === new URL(ep.login_url).origin;
      if (direct) assert.ok(ended.every((e) => e.delivered), `Envoy took the logout token: ${JSON.stringify(ended)}`);
      const api = () => context.request.get(`${base}/app/api/orders`, { failOnStatusCode: false, maxRedirects: 0 });
      const boundMs = ((ep.login_revocation_bound_s ?? 10) + 5) * 1000;
      const refused = direct ? await api() : await pollUntil(`the session refused on ${host}`, async () => {
        const r = await api();
        return r.status() === 401 ? r : null;
      }, boundMs, 250);
      assert.equal(refused.status(), 401, 'the session is refused');
      assert.match(refused.headers()['www-authenticate'] ?? '', /^Bearer/);
      await page.goto(app);
      assert.ok(onIdp(page.url()), `a page load goes back to the IdP, not ${page.url()}`);
      await shot('backchannel-refused');
    });
  });
}
