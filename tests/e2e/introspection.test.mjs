// Token introspection (RFC 7662) against the real introspection IdP (tests/idp/server.mjs
// --profile opaque, port 9403), on every gate host: an opaque token is allowed on
// /api/node/ via introspection, the IdP is asked once per token (single-flight and the
// cache, counted in the IdP's own request log), a revoked token is refused once the
// positive TTL (max_ttl_s: 2 in envoy/jwtgate.json) has run out, an unknown one is 401,
// and /api/issuers/ takes tokens of three live issuers, picked by `iss` (the third over
// HTTPS: Envoy trusts the test CA through its cluster's UpstreamTlsContext, workerd through
// its tlsOptions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { fetchIdpToken, loadEndpoints, REPO_ROOT } from './lib/endpoints.mjs';
import { getParsed } from './lib/gates.mjs';
import { thirdToken } from './lib/https.mjs';

const ep = loadEndpoints();
const hosts = Object.entries(ep.hosts);
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

async function form(url, auth, params) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, text: await res.text() };
}

async function opaqueToken() {
  const r = await form(ep.opaque_token_url, basic(ep.opaque_client_id, ep.opaque_client_secret),
    { grant_type: 'client_credentials', scope: 'read write' });
  assert.equal(r.status, 200, r.text);
  const token = JSON.parse(r.text).access_token;
  assert.ok(!token.includes('.'), 'the introspection IdP issues opaque tokens');
  return token;
}

async function revoke(token) {
  const r = await form(ep.opaque_revocation_url, basic(ep.opaque_client_id, ep.opaque_client_secret),
    { token, token_type_hint: 'access_token' });
  assert.equal(r.status, 200, r.text);
}

/** Introspection calls the IdP has answered so far (its request log). */
function introspectionCalls() {
  const log = readFileSync(path.join(REPO_ROOT, ep.opaque_idp_log), 'utf8');
  return log.split('\n').filter((l) => l.startsWith('idp POST /token/introspection ')).length;
}

const get = getParsed;

test('introspection IdP contract: opaque token, active, then inactive once revoked', async () => {
  const token = await opaqueToken();
  const auth = basic('jwtgate-introspector', 'introspector-secret');
  const a = JSON.parse((await form(ep.opaque_introspection_url, auth, { token })).text);
  assert.equal(a.active, true);
  assert.equal(a.iss, ep.opaque_issuer);
  assert.equal(a.aud, ep.opaque_audience);
  await revoke(token);
  const b = JSON.parse((await form(ep.opaque_introspection_url, auth, { token })).text);
  assert.equal(b.active, false);
});

for (const [host, base] of hosts) {
  test(`${host}: an opaque token is introspected once (single-flight, then cached) and allowed on /api/node/`, async () => {
    const token = await opaqueToken();
    const before = introspectionCalls();
    const answers = await Promise.all(Array.from({ length: 5 }, () => get(base, '/api/node/intro', token)));
    for (const r of answers) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.service, 'node');
      assert.equal(r.body.headers['x-jwt-iss'], ep.opaque_issuer);
      assert.equal(r.body.headers['x-jwt-client-id'], ep.opaque_client_id);
      assert.equal(r.body.headers['x-jwt-scope'], 'read write');
      assert.equal(r.body.headers.authorization, undefined, 'the token is not forwarded');
      assert.ok(!r.text.includes(token));
    }
    assert.equal(introspectionCalls() - before, 1, 'five concurrent requests, one introspection call');
    assert.equal((await get(base, '/api/node/again', token)).status, 200);
    assert.equal(introspectionCalls() - before, 1, 'answered from the cache');
  });

  test(`${host}: a revoked opaque token is refused once the positive TTL has run out`, async () => {
    const token = await opaqueToken();
    assert.equal((await get(base, '/api/node/r', token)).status, 200);
    await revoke(token);
    await sleep(2_300); // max_ttl_s is 2 in envoy/jwtgate.json
    const r = await get(base, '/api/node/r', token);
    assert.equal(r.status, 401, r.text);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="jwtgate", error="invalid_token"/);
    assert.equal(r.body.error, 'invalid_token');
  });

  test(`${host}: an unknown opaque token is 401 and its negative answer is cached`, async () => {
    const token = `unknown${Math.random().toString(36).slice(2)}${Date.now()}`;
    const before = introspectionCalls();
    const r = await get(base, '/api/node/u', token);
    assert.equal(r.status, 401, r.text);
    assert.equal((await get(base, '/api/node/u', token)).status, 401);
    assert.equal(introspectionCalls() - before, 1, 'negative_ttl_s keeps the inactive answer');
  });

  test(`${host}: an opaque token where no provider introspects is refused without an IdP call`, async () => {
    const token = await opaqueToken();
    const before = introspectionCalls();
    const r = await get(base, '/api/py/x', token);
    assert.equal(r.status, 401, r.text);
    assert.equal(introspectionCalls(), before);
  });

  test(`${host}: private_key_jwt: the gate authenticates to the IdP with a signed assertion`, async () => {
    // /api/pkjwt/ is provider opaque_pkjwt: client jwtgate-introspector-jwt, whose only
    // credential at the IdP is the public half of the gate's key (tests/client_key.py).
    // Its introspection endpoint comes from the IdP's discovery document.
    const token = await opaqueToken();
    const before = introspectionCalls();
    const r = await get(base, '/api/pkjwt/x', token);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.headers['x-jwt-iss'], ep.opaque_issuer);
    assert.equal(introspectionCalls() - before, 1);
  });

  test(`${host}: /api/issuers/ takes three live issuers, each by its own provider`, async () => {
    const jwt = (await fetchIdpToken(ep)).access_token;
    const third = await thirdToken(ep); // over HTTPS: the gate fetched its JWKS over TLS too
    const cases = [[jwt, ep.idp_issuer], [await opaqueToken(), ep.opaque_issuer], [third, ep.third_issuer]];
    for (const [token, iss] of cases) {
      const r = await get(base, '/api/issuers/x', token);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.headers['x-jwt-iss'], iss);
    }
    // Provider third has `discovery: true`: its JWKS location came from the metadata document.
    const thirdLog = readFileSync(path.join(REPO_ROOT, 'run/logs/idp-third.log'), 'utf8');
    assert.match(thirdLog, /^idp GET \/\.well-known\/openid-configuration 200$/m);
    // The third issuer's token is not accepted where its provider is not listed.
    assert.equal((await get(base, '/api/node/x', third)).status, 401);
  });
}
