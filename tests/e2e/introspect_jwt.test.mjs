// `introspect: true` on a valid JWT (the "revocable routes" of issue #12), on every gate
// host: /api/introspected/ (envoy/jwtgate.json) needs provider idp and asks the JWT IdP
// (tests/idp/introspection.mjs, its RFC 7662 extension for its own JWT access tokens)
// about every token that passed the local checks. The IdP counts its calls per token
// (GET /token/introspection/calls?sha256=), which proves the cache and the single-flight;
// a token revoked at the IdP is refused by the introspection answer as soon as the
// positive answer's TTL (max_ttl_s) has run out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { fetchIdpToken, loadEndpoints, REPO_ROOT } from './lib/endpoints.mjs';
import { getParsed } from './lib/gates.mjs';

const ep = loadEndpoints();
const hosts = Object.entries(ep.hosts);
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
const gateConfig = JSON.parse(readFileSync(path.join(REPO_ROOT, 'run/jwtgate.json'), 'utf8'));
const MAX_TTL_MS = gateConfig.providers.idp.introspection.max_ttl_s * 1000;

/** The IdP's introspection calls for `token`: { calls, inactive }. */
async function idpCalls(token) {
  const sha256 = createHash('sha256').update(token).digest('hex');
  const res = await fetch(`${ep.idp_issuer}/token/introspection/calls?sha256=${sha256}`);
  assert.equal(res.status, 200);
  return res.json();
}

const get = getParsed;

async function revoke(token) {
  const basic = Buffer.from(`${ep.client_id}:${ep.client_secret}`).toString('base64');
  const res = await fetch(ep.revocation_url, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
  });
  assert.equal(res.status, 200, await res.text());
}

/** The identity headers the gate added (x-jwt-*), as the upstream saw them. */
const identity = (r) => Object.fromEntries(Object.entries(r.body.headers).filter(([k]) => k.startsWith('x-jwt-')));

test('JWT IdP introspection contract: active with the claims, inactive once revoked, client authenticated', async () => {
  const token = (await fetchIdpToken(ep)).access_token;
  const url = `${ep.idp_issuer}/token/introspection`;
  const call = (auth) => fetch(url, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
  });
  const intro = `Basic ${Buffer.from('jwtgate-jwt-introspector:jwt-introspector-secret').toString('base64')}`;
  assert.equal((await call(`Basic ${Buffer.from(`${ep.client_id}:${ep.client_secret}`).toString('base64')}`)).status, 401,
    'only the introspector client may introspect');
  const a = await (await call(intro)).json();
  assert.equal(a.active, true);
  assert.equal(a.iss, ep.idp_issuer);
  assert.equal(a.client_id, ep.client_id);
  await revoke(token);
  assert.deepEqual(await (await call(intro)).json(), { active: false });
  assert.deepEqual(await idpCalls(token), { calls: 2, inactive: 1 });
});

for (const [host, base] of hosts) {
  test(`${host}: introspect: true allows a valid JWT with the JWT path's claim headers, one IdP call for concurrent requests`, async () => {
    const token = (await fetchIdpToken(ep)).access_token;
    const answers = await Promise.all(Array.from({ length: 6 }, () => get(base, '/api/introspected/x', token)));
    const local = await get(base, '/api/node/x', token); // the JWT path: no introspection
    assert.equal(local.status, 200, local.text);
    for (const r of answers) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.service, 'node');
      assert.deepEqual(identity(r), identity(local));
      assert.equal(r.body.headers['x-jwt-client-id'], ep.client_id);
      assert.ok(!r.text.includes(token), 'the token is not forwarded');
    }
    assert.deepEqual(await idpCalls(token), { calls: 1, inactive: 0 }, 'six concurrent requests, one introspection call');
    assert.equal((await get(base, '/api/introspected/again', token)).status, 200);
    assert.equal((await idpCalls(token)).calls, 1, 'answered from the cache within max_ttl_s');
  });

  test(`${host}: a JWT revoked at the IdP is refused by the introspection answer once max_ttl_s has run out`, async () => {
    const token = (await fetchIdpToken(ep)).access_token;
    assert.equal((await get(base, '/api/introspected/r', token)).status, 200);
    await revoke(token);
    const start = Date.now();
    const bound = MAX_TTL_MS + 2_000; // the cached positive answer's TTL, then one call
    let r;
    let counts;
    // Poll until the gate refuses AND the IdP has answered `active: false` for this token:
    // the refusal came from introspection (the revocation feed may refuse it too).
    for (;;) {
      r = await get(base, '/api/introspected/r', token);
      counts = await idpCalls(token);
      if ((r.status === 401 && counts.inactive >= 1) || Date.now() - start > bound) break;
      await sleep(100);
    }
    assert.equal(r.status, 401, r.text);
    assert.ok(counts.inactive >= 1, `the IdP was asked after the revocation: ${JSON.stringify(counts)}`);
    assert.ok(Date.now() - start <= bound, `refused within ${bound} ms`);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="jwtgate", error="invalid_token"/);
  });
}
