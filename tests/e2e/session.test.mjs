// Browser sessions at the gate (issue 15), at the HTTP level without a browser, on every
// gate host in run/endpoints.json: the login redirect's shape, the cookie flags, 401 for
// API calls, the callback's 400s, logout, and back-channel logout refusals. The full
// login through the IdP's pages is the headless-Chromium suite (tests/browser/).
//
// Routes (envoy/jwtgate.json): provider `web` (the login IdP, endpoints.login_issuer),
// rule `/app/` with `browser: true`; callback /app/callback, logout /app/logout,
// back-channel logout /app/backchannel-logout.

import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';

import * as tokens from './tokens.mjs';

const endpoints = tokens.loadEndpoints();
const hosts = Object.entries(endpoints.hosts ?? {});
const issuer = endpoints.login_issuer;
const skip = !issuer ? 'no login_issuer in endpoints.json' : false;
const PAGE = { accept: 'text/html,application/xhtml+xml' };
const FLAGS = /; Path=\/; Max-Age=(\d+); HttpOnly; Secure; SameSite=Lax$/;

async function call(base, path, { method = 'GET', headers = {}, body } = {}) {
  const res = await fetch(new URL(path, base), {
    method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, headers: res.headers, cookies: res.headers.getSetCookie(), text: await res.text() };
}

/** `name=value` of a Set-Cookie for `name`, and its Max-Age. */
function cookieOf(r, name) {
  const c = r.cookies.find((s) => s.startsWith(`${name}=`));
  assert.ok(c, `Set-Cookie ${name} in ${JSON.stringify(r.cookies)}`);
  const m = c.match(FLAGS);
  assert.ok(m, `flags of ${c.slice(0, 40)}…: ${c.slice(c.indexOf(';'))}`);
  return { pair: c.slice(0, c.indexOf(';')), maxAge: Number(m[1]) };
}

for (const [host, base] of hosts) {
  describe(`${host}: browser sessions`, { skip }, () => {
    const origin = new URL(base).origin;

    it('a page load without a session goes to the IdP with PKCE S256, state and nonce', async () => {
      const r = await call(base, '/app/orders?x=1', { headers: PAGE });
      assert.equal(r.status, 302, r.text.slice(0, 200));
      const loc = new URL(r.headers.get('location'));
      assert.equal(`${loc.origin}${loc.pathname}`, `${issuer}/auth`);
      const q = loc.searchParams;
      assert.equal(q.get('response_type'), 'code');
      assert.equal(q.get('client_id'), 'jwtgate-bff');
      assert.equal(q.get('redirect_uri'), `${origin}/app/callback`);
      assert.equal(q.get('code_challenge_method'), 'S256');
      for (const p of ['state', 'nonce', 'code_challenge']) assert.match(q.get(p), /^[A-Za-z0-9_-]{43}$/, p);
      assert.ok(q.get('scope').split(' ').includes('openid'));
      const login = cookieOf(r, '__Host-jwtgate-login');
      assert.equal(login.maxAge, 600);
      assert.ok(!login.pair.includes(q.get('state')), 'the state is sealed, not readable');
      assert.equal(r.headers.get('cache-control'), 'no-store');
    });

    it('API calls and non-GET requests without a session get 401, not a redirect', async () => {
      for (const [path, init] of [
        ['/app/api', { headers: { accept: 'application/json' } }],
        ['/app/api', { method: 'POST', headers: PAGE }],
        ['/app/api', { headers: { ...PAGE, cookie: '__Host-jwtgate=tampered' }, method: 'DELETE' }],
      ]) {
        const r = await call(base, path, init);
        assert.equal(r.status, 401, `${init.method ?? 'GET'} ${path}: ${r.text.slice(0, 200)}`);
        assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="jwtgate"/);
      }
    });

    it('a tampered or foreign session cookie is no session (redirect or 401, never 500)', async () => {
      for (const cookie of ['__Host-jwtgate=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '__Host-jwtgate=2~x; __Host-jwtgate.1=y']) {
        const page = await call(base, '/app/', { headers: { ...PAGE, cookie } });
        assert.equal(page.status, 302);
        assert.ok(page.headers.get('location').startsWith(`${issuer}/auth?`));
        const xhr = await call(base, '/app/api', { headers: { cookie } });
        assert.equal(xhr.status, 401);
      }
    });

    it('the callback refuses errors, a missing pending login and a wrong state with 400', async () => {
      const start = await call(base, '/app/', { headers: PAGE });
      const login = cookieOf(start, '__Host-jwtgate-login').pair;
      for (const [path, cookie, why] of [
        ['/app/callback?error=access_denied&state=x', login, 'access_denied'],
        ['/app/callback?code=c&state=s', undefined, 'no pending login'],
        ['/app/callback?code=c&state=wrong', login, 'state does not match'],
        ['/app/callback?code=c&state=s', '__Host-jwtgate-login=forged', 'no pending login'],
      ]) {
        const r = await call(base, path, { headers: { ...PAGE, ...(cookie ? { cookie } : {}) } });
        assert.equal(r.status, 400, `${path}: ${r.status}`);
        assert.match(r.headers.get('content-type'), /^text\/html/);
        assert.ok(r.text.includes(why), `${path}: ${r.text}`);
        assert.ok(r.cookies.some((c) => c.startsWith('__Host-jwtgate-login=;') && c.includes('Max-Age=0')));
      }
    });

    it('logout clears the cookies and goes to the IdP end-session endpoint', async () => {
      const r = await call(base, '/app/logout', { headers: PAGE });
      assert.equal(r.status, 302);
      const loc = new URL(r.headers.get('location'));
      assert.equal(`${loc.origin}${loc.pathname}`, `${issuer}/session/end`);
      assert.equal(loc.searchParams.get('post_logout_redirect_uri'), `${origin}/app/`);
      assert.equal(loc.searchParams.get('client_id'), 'jwtgate-bff');
      assert.equal(cookieOf(r, '__Host-jwtgate').maxAge, 0);
      const cross = await call(base, '/app/logout', { method: 'POST', headers: { origin: 'https://evil.example' } });
      assert.equal(cross.status, 403);
    });

    it('back-channel logout refuses a bad logout token with 400 and other methods with 405', async () => {
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      for (const body of ['logout_token=not.a.jwt', 'other=1']) {
        const r = await call(base, '/app/backchannel-logout', { method: 'POST', headers: form, body });
        assert.equal(r.status, 400, `${body}: ${r.text}`);
        assert.equal(JSON.parse(r.text).error, 'invalid_request');
      }
      assert.equal((await call(base, '/app/backchannel-logout')).status, 405);
    });

    it('a Host that is not one of the login origins gets 400, not a redirect', async () => {
      const url = new URL('/app/', base);
      const status = await new Promise((resolve, reject) => {
        const req = http.request(url, { headers: { ...PAGE, host: 'evil.example' } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on('error', reject);
        req.end();
      });
      // Envoy may route an unknown authority nowhere (404); the gate never redirects it.
      assert.ok([400, 404].includes(status), `status ${status}`);
    });
  });
}
