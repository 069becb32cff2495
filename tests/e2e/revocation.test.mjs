// Revocation end to end, on every gate host in run/endpoints.json (hosts): a token
// revoked at the IdP's RFC 7009 endpoint (revocation_url, the demo client's credentials),
// and a session or subject ended at the IdP, reach every gate through the IdP's
// revocation feed and are refused on /api/node/ within revocation_bound_s. Needs the
// stack of tests/up.py. The waits poll; the bound is the assertion, not a sleep.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';

import * as jose from 'jose';

import * as tokens from './tokens.mjs';

const endpoints = tokens.loadEndpoints();
const ctx = tokens.createTokenContext(endpoints);
const hosts = Object.entries(endpoints.hosts ?? {});
const boundMs = (endpoints.revocation_bound_s ?? 0) * 1000;
const skip = !endpoints.revocation_url || hosts.length === 0 ? 'no revocation_url or no hosts in endpoints.json' : false;
// Polling granularity and the time a request takes on a loaded machine.
const SLACK_MS = 1500;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function post(url, form, auth = basic(endpoints.client_id, endpoints.client_secret)) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: await res.json() };
}

async function call(base, token) {
  const res = await fetch(new URL('/api/node/revocation', base), { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, www: res.headers.get('www-authenticate'), body: await res.text() };
}

/** Every host allows `token` (each fetches its feed first when cold). */
async function allowedEverywhere(token) {
  for (const [name, base] of hosts) {
    const r = await call(base, token);
    assert.equal(r.status, 200, `${name}: allowed before the revocation: ${r.body}`);
  }
}

/** Polls every host until it refuses `token` as revoked; each must within the bound. */
async function refusedWithinBound(token, since, what) {
  const took = {};
  await Promise.all(hosts.map(async ([name, base]) => {
    for (;;) {
      const r = await call(base, token);
      if (r.status === 401) {
        assert.match(r.www, /error="invalid_token", error_description="token has been revoked"/, `${name}: ${r.www}`);
        took[name] = Date.now() - since;
        return;
      }
      assert.equal(r.status, 200, `${name}: before the list arrives the token is allowed, never another answer: ${r.body}`);
      assert.ok(Date.now() - since <= boundMs + SLACK_MS, `${name}: ${what} not refused within ${boundMs} ms`);
      await sleep(100);
    }
  }));
  return took;
}

describe('revocation through the IdP feed (all hosts)', { skip, timeout: 120_000 }, () => {
  it('endpoints.json states a bound of at most 15 s, and discovery names the endpoint', async () => {
    assert.ok(endpoints.revocation_bound_s > 0 && endpoints.revocation_bound_s <= 15, `${endpoints.revocation_bound_s}`);
    const disco = await (await fetch(`${endpoints.idp_issuer}/.well-known/openid-configuration`)).json();
    assert.equal(disco.revocation_endpoint, endpoints.revocation_url);
  });

  it('the RFC 7009 endpoint authenticates the client and only takes its own tokens', async () => {
    const token = (await tokens.fetchIdpToken(endpoints)).access_token;
    const wrong = await post(endpoints.revocation_url, { token }, basic(endpoints.client_id, 'wrong'));
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'invalid_client');
    const globex = endpoints.clients.globex;
    const other = await post(endpoints.revocation_url, { token }, basic(globex.client_id, globex.client_secret));
    assert.equal(other.status, 400, 'a token of another client');
    const forged = await post(endpoints.revocation_url, { token: tokens.flipSignature(token) });
    assert.deepEqual(forged, { status: 200, body: {} }, 'RFC 7009 §2.2: an invalid token is no error');
    await allowedEverywhere(token); // nothing was revoked
  });

  it('a token revoked at the IdP is refused on every host within revocation_bound_s', async (t) => {
    const token = (await tokens.fetchIdpToken(endpoints)).access_token;
    await allowedEverywhere(token);
    await allowedEverywhere(token); // and again, from the verified-token cache
    const since = Date.now();
    const r = await post(endpoints.revocation_url, { token, token_type_hint: 'access_token' });
    assert.deepEqual(r, { status: 200, body: {} });
    const took = await refusedWithinBound(token, since, `jti ${jose.decodeJwt(token).jti.slice(0, 6)}…`);
    t.diagnostic(`refused after (ms): ${JSON.stringify(took)}; bound ${boundMs} ms`);
    const fresh = (await tokens.fetchIdpToken(endpoints)).access_token;
    await allowedEverywhere(fresh);
  });

  it('a session ended at the IdP (back-channel logout) revokes its tokens', async (t) => {
    const sid = `sid-${randomUUID()}`;
    const token = await tokens.rsCrafted(ctx, { sid });
    await allowedEverywhere(token);
    const since = Date.now();
    assert.equal((await post(`${endpoints.idp_issuer}/session/end`, { sid })).status, 200);
    t.diagnostic(`refused after (ms): ${JSON.stringify(await refusedWithinBound(token, since, `sid ${sid}`))}`);
  });

  it('a subject logged out everywhere: older tokens refused, a later one allowed', async () => {
    const sub = `user-${randomUUID()}`;
    const token = await tokens.rsCrafted(ctx, { sub, iat: tokens.now() - 5 });
    await allowedEverywhere(token);
    const since = Date.now();
    assert.equal((await post(`${endpoints.idp_issuer}/session/end`, { sub })).status, 200);
    await refusedWithinBound(token, since, `sub ${sub}`);
    // Issued after the cut-off (iat_before = logout time + 1 s; within the clock skew).
    const later = await tokens.rsCrafted(ctx, { sub, iat: tokens.now() + 2 });
    await allowedEverywhere(later);
  });

  it('envoy counts denied.revoked and reports the list as gauges', { skip: endpoints.envoy_admin_url ? false : 'no envoy' }, async () => {
    const stats = await (await fetch(`${endpoints.envoy_admin_url}/stats?filter=jwtgate`)).text();
    const value = (name) => Number(stats.split('\n').find((l) => l.startsWith(`wasmcustom.jwtgate.${name}:`))?.split(':')[1]);
    assert.ok(value('denied.revoked') >= 1, stats);
    assert.ok(value('revocation_fetch_success') >= 1, stats);
    assert.ok(value('revocation_entries.idp') >= 5, 'at least the five inline entries');
    assert.ok(value('revocation_list_age_s.idp') <= endpoints.revocation_bound_s, 'a fresh list');
  });
});
