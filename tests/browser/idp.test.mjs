// The login IdP alone (tests/idp/login.mjs), walked with plain fetch the way the gate
// walks it: authorize with PKCE -> login form -> consent (auto, recorded) -> code ->
// token -> refresh (rotating) -> RP-initiated logout and the test hook's server-side
// session end, each delivering a back-channel logout token to a throwaway receiver and a
// `sid` entry to the revocation feed. Its own IdP (port 9481) and receiver (9482), so it
// runs with or without `make up`.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';

import * as jose from 'jose';

import { formFields, startLoginIdp } from './lib.mjs';

const PORT = 9481;
const RECEIVER_PORT = 9482;
const ISSUER = `http://127.0.0.1:${PORT}`;
const CLIENT = { id: 'jwtgate-bff', secret: 'bff-secret' };
const PASSWORD = randomBytes(9).toString('base64url');
const REDIRECT_URI = 'http://127.0.0.1:9420/app/callback';
const basic = `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}`;

let idp;
let receiver;
const logoutTokens = [];

before(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      logoutTokens.push(new URLSearchParams(body).get('logout_token'));
      res.writeHead(200).end();
    });
  });
  await new Promise((ok) => receiver.listen(RECEIVER_PORT, '127.0.0.1', ok));
  idp = await startLoginIdp(PORT, PASSWORD, `http://127.0.0.1:${RECEIVER_PORT}/bcl`);
});

after(() => {
  idp?.kill();
  receiver?.close();
});

/** A cookie jar for one user agent (the IdP's own cookies). */
function browserish() {
  const jar = new Map();
  return async (url, init = {}) => {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, cookie } });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return res;
  };
}

const s256 = (v) => createHash('sha256').update(v).digest('base64url');
const location = (res) => new URL(res.headers.get('location'), ISSUER);

function authorizeUrl({ verifier, state, nonce, challengeMethod = 'S256' }) {
  const url = new URL(`${ISSUER}/auth`);
  const params = { response_type: 'code', client_id: CLIENT.id, redirect_uri: REDIRECT_URI,
    scope: 'openid offline_access read', state, nonce };
  if (verifier) Object.assign(params, { code_challenge: s256(verifier), code_challenge_method: challengeMethod });
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url;
}

/** Follows the IdP's redirects until one leaves it (the redirect to the client). */
async function follow(ua, res) {
  while (res.status >= 300 && res.status < 400) {
    const next = location(res);
    if (next.origin !== ISSUER) return next;
    res = await ua(next);
  }
  return res;
}

async function login(ua, { password = PASSWORD } = {}) {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const form = await follow(ua, await ua(authorizeUrl({ verifier, state, nonce })));
  assert.equal(form.status, 200, 'the login page');
  const { action } = formFields(await form.text());
  const submit = await ua(new URL(action, ISSUER), { method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: 'alice', password }) });
  if (submit.status === 401) return { refused: true };
  const back = await follow(ua, submit);
  assert.ok(back instanceof URL, `redirected back to the client, got ${back.status}`);
  assert.equal(`${back.origin}${back.pathname}`, REDIRECT_URI);
  assert.equal(back.searchParams.get('state'), state);
  return { code: back.searchParams.get('code'), verifier, nonce };
}

async function token(params) {
  const res = await fetch(`${ISSUER}/token`, { method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params) });
  return { status: res.status, body: await res.json() };
}

async function counters() {
  return (await fetch(`${ISSUER}/test/counters`)).json();
}

async function feedSids() {
  const feed = await (await fetch(`${ISSUER}/revocations`)).json();
  return feed.entries.filter((e) => e.sid).map((e) => e.sid);
}

async function signIn(ua) {
  const { code, verifier, nonce } = await login(ua);
  const t = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  return { ...t.body, nonce };
}

test('code + PKCE: login page, consent recorded, JWT access token with sid, ID token with nonce and sid', async () => {
  const keys = jose.createRemoteJWKSet(new URL(`${ISSUER}/jwks`));
  const t = await signIn(browserish());
  const { payload: at, protectedHeader } = await jose.jwtVerify(t.access_token, keys, { issuer: ISSUER, audience: 'https://api.example' });
  assert.equal(protectedHeader.typ, 'at+jwt');
  assert.equal(at.sub, 'alice');
  assert.equal(at.client_id, CLIENT.id);
  assert.equal(at.scope, 'read');
  assert.equal(at.exp - at.iat, 8, 'an 8 s access token');
  const { payload: id } = await jose.jwtVerify(t.id_token, keys, { issuer: ISSUER, audience: CLIENT.id });
  assert.equal(id.nonce, t.nonce);
  assert.equal(typeof id.sid, 'string');
  assert.equal(at.sid, id.sid, 'the access token carries the session id of the ID token');
  assert.ok(t.refresh_token, 'a refresh token without prompt=consent');
});

test('refresh rotates the refresh token, keeps the sid, and is counted', async () => {
  const t = await signIn(browserish());
  const before = (await counters()).grants.refresh_token ?? 0;
  const r = await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.notEqual(r.body.refresh_token, t.refresh_token, 'rotated');
  const [a, b] = [jose.decodeJwt(t.access_token), jose.decodeJwt(r.body.access_token)];
  assert.notEqual(b.jti, a.jti);
  assert.equal(b.sid, a.sid);
  assert.equal((await counters()).grants.refresh_token, before + 1);
  const reuse = await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token });
  assert.equal(reuse.status, 400, 'the rotated-out refresh token is refused');
});

test('PKCE is required, S256 only; a wrong verifier or password is refused', async () => {
  const ua = browserish();
  const noPkce = await ua(authorizeUrl({ state: 's', nonce: 'n' }));
  assert.match(location(noPkce).searchParams.get('error') ?? '', /invalid_request/);
  const plain = await ua(authorizeUrl({ verifier: 'x'.repeat(43), state: 's', nonce: 'n', challengeMethod: 'plain' }));
  assert.equal(location(plain).searchParams.get('error'), 'invalid_request');
  assert.deepEqual(await login(browserish(), { password: 'wrong' }), { refused: true });
  const { code } = await login(browserish());
  const t = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI,
    code_verifier: randomBytes(32).toString('base64url') });
  assert.equal(t.status, 400);
  assert.equal(t.body.error, 'invalid_grant');
});

test('RP-initiated logout: confirm page, back-channel logout token with sid, sid in the feed', async () => {
  const ua = browserish();
  const t = await signIn(ua);
  const { sid } = jose.decodeJwt(t.id_token);
  const url = new URL(`${ISSUER}/session/end`);
  url.searchParams.set('id_token_hint', t.id_token);
  url.searchParams.set('post_logout_redirect_uri', 'http://127.0.0.1:9420/app/');
  url.searchParams.set('client_id', CLIENT.id);
  const confirm = await ua(url);
  assert.equal(confirm.status, 200);
  const { action, fields } = formFields(await confirm.text());
  const done = await ua(new URL(action, ISSUER), { method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...fields, logout: 'yes' }) });
  assert.equal(done.status, 303);
  assert.equal(done.headers.get('location'), 'http://127.0.0.1:9420/app/');
  await assertLoggedOut(sid, t.refresh_token);
});

test('the end-session hook ends the session server-side: logout token, feed, refresh refused', async () => {
  const t = await signIn(browserish());
  const { sid } = jose.decodeJwt(t.id_token);
  const noAuth = await fetch(`${ISSUER}/test/end-session`, { method: 'POST', body: new URLSearchParams({ sub: 'alice' }) });
  assert.equal(noAuth.status, 401);
  const res = await fetch(`${ISSUER}/test/end-session`, { method: 'POST', headers: { authorization: basic },
    body: new URLSearchParams({ sub: 'alice' }) });
  assert.equal(res.status, 200);
  const { ended } = await res.json();
  assert.ok(ended.some((e) => e.sid === sid && e.delivered), JSON.stringify(ended));
  await assertLoggedOut(sid, t.refresh_token);
});

async function assertLoggedOut(sid, refreshToken) {
  const keys = jose.createRemoteJWKSet(new URL(`${ISSUER}/jwks`));
  const tokens = await Promise.all(logoutTokens.map(async (lt) => (await jose.jwtVerify(lt, keys,
    { issuer: ISSUER, audience: CLIENT.id })).payload));
  const mine = tokens.find((p) => p.sid === sid);
  assert.ok(mine, 'a logout token for this sid reached the receiver');
  assert.ok(mine.events['http://schemas.openid.net/event/backchannel-logout']);
  assert.equal(mine.nonce, undefined);
  assert.ok((await feedSids()).includes(sid), 'the sid is in the revocation feed');
  const r = await token({ grant_type: 'refresh_token', refresh_token: refreshToken });
  assert.equal(r.status, 400, 'the session is over at the IdP');
}
