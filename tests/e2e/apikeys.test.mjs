// API keys next to tokens, on every gate host in run/endpoints.json (envoy,
// envoy-software, worker, worker-software). Needs the stack of tests/up.py, which runs
// the key feed (tests/keyfeed/server.mjs, port 9405) the demo config's `keys` and
// `keys_query` providers fetch (refresh every 2 s).
//
// Routes (envoy/jwtgate.json): /api/keys/ a key only; /api/keys/reports/ a key with
// scope reports:read and tenant acme; /api/keys-query/ a key in `?api_key=` (opt-in
// provider); /api/either/ a token or a key.
//
// The feed-change test edits the feed and restores it, so this file runs its hosts in
// sequence and the feed test last.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, describe, it } from 'node:test';

import { digestOf, mistype, wellFormed } from '../keyfeed/apikey.mjs';
import * as tokens from './tokens.mjs';

const endpoints = tokens.loadEndpoints();
const hosts = Object.entries(endpoints.hosts ?? {});
const skip = !endpoints.api_key || !endpoints.keyfeed_url ? 'no api_key/keyfeed_url in endpoints.json' : false;
const keys = skip ? {} : JSON.parse(readFileSync(resolve(tokens.REPO_ROOT, endpoints.api_keys_path), 'utf8'));
const feed = (path, body) => fetch(`${endpoints.keyfeed_url}${path}`, { method: 'POST', body: JSON.stringify(body) })
  .then(async (r) => { assert.equal(r.status, 200, await r.text()); });
const CHALLENGE = 'ApiKey realm="jwtgate"';
let idpToken;
const token = async () => (idpToken ??= (await tokens.fetchIdpToken(endpoints)).access_token);

async function call(base, path, headers = {}) {
  const res = await fetch(new URL(path, base), { headers, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* a gate or proxy answer that is not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

/** 200 from the echo upstream; returns the headers it saw. */
function upstream(r, what) {
  assert.equal(r.status, 200, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
  assert.equal(r.json?.service, 'node', `${what}: reached the upstream`);
  return r.json.headers;
}

/** The one answer for every bad or missing key: never says which part was wrong. */
function invalidKey(r, what, secrets = []) {
  assert.equal(r.status, 401, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
  assert.equal(r.headers.get('www-authenticate'), CHALLENGE, what);
  assert.deepEqual(r.json, { error: 'invalid_api_key', error_description: 'a valid API key is required' }, what);
  for (const s of secrets) assert.ok(!r.text.includes(s), `${what}: the key is not echoed`);
}

async function pollUntil(fn, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last.ok) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}

describe('api keys', { skip }, () => {
  it('the demo keys are jg_ keys with a valid checksum, and the contract names them', () => {
    assert.equal(endpoints.api_key, keys.demo);
    assert.equal(endpoints.api_key_client, 'reports-app');
    for (const k of Object.values(keys)) assert.ok(wellFormed(k), k.slice(0, 6));
    assert.ok(!wellFormed(mistype(keys.demo)));
  });

  for (const [host, base] of hosts) {
    describe(host, () => {
      it(`${host}: a key opens /api/keys/ and the upstream gets the application, never the key`, async () => {
        for (const headers of [{ 'x-api-key': keys.demo }, { authorization: `ApiKey ${keys.demo}` }]) {
          const h = upstream(await call(base, '/api/keys/orders', headers), JSON.stringify(Object.keys(headers)));
          assert.equal(h['x-jwt-client'], endpoints.api_key_client);
          assert.equal(h['x-jwt-scope'], 'reports:read');
          assert.equal(h['x-jwt-meta-tenant'], 'acme');
          assert.equal(h['x-jwt-meta-plan'], 'gold');
          assert.equal(h['x-api-key'], undefined, 'x-api-key stripped');
          assert.equal(h.authorization, undefined, 'Authorization stripped');
          assert.ok(!JSON.stringify(h).includes(keys.demo), 'the key reaches the upstream nowhere');
          assert.equal(h['x-jwt-sub'], undefined, 'no end user');
        }
      });

      it(`${host}: forged application headers are stripped`, async () => {
        // Underscore spellings are refused by the Envoy template (400) before the gate;
        // the core strips them too (unit tests). Dots reach every host.
        const forged = { 'x-jwt-client': 'admin-app', 'x.jwt.meta.tenant': 'globex', 'x.jwt.scope': 'admin' };
        const h = upstream(await call(base, '/api/keys/orders', { ...forged, 'x-api-key': keys.demo }), 'forged');
        assert.equal(h['x-jwt-client'], 'reports-app');
        assert.equal(h['x.jwt.meta.tenant'], undefined);
        assert.equal(h['x.jwt.scope'], undefined);
        const pub = upstream(await call(base, '/public/x', forged), 'public');
        for (const name of Object.keys(forged)) assert.equal(pub[name], undefined, `${name} on a public route`);
      });

      it(`${host}: rotation: both keys of one application work`, async () => {
        for (const k of [keys.demo, keys.rotated]) {
          assert.equal(upstream(await call(base, '/api/keys/x', { 'x-api-key': k }), 'rotation')['x-jwt-client'], 'reports-app');
        }
      });

      it(`${host}: missing, unknown, disabled, expired and mistyped keys get one 401`, async () => {
        invalidKey(await call(base, '/api/keys/x'), 'missing');
        const unknown = 'jg_BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcxKLid';
        for (const [what, k] of [['unknown', unknown], ['disabled', keys.disabled], ['expired', keys.expired],
          ['bad checksum', mistype(keys.demo)], ['not a jg_ key', 'letmein']]) {
          invalidKey(await call(base, '/api/keys/x', { 'x-api-key': k }), what, [k]);
        }
      });

      it(`${host}: a token is no key on a key route; a key is no token on a token route`, async () => {
        invalidKey(await call(base, '/api/keys/x', { authorization: `Bearer ${await token()}` }), 'token on key route');
        const r = await call(base, '/api/node/x', { 'x-api-key': keys.demo });
        assert.equal(r.status, 401);
        assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="jwtgate"');
      });

      it(`${host}: /api/either/ takes a token or a key, refuses both, and challenges both schemes`, async () => {
        const t = await token();
        const byToken = upstream(await call(base, '/api/either/x', { authorization: `Bearer ${t}` }), 'token');
        assert.equal(byToken['x-jwt-iss'], endpoints.idp_issuer);
        assert.equal(byToken['x-jwt-client'], undefined);
        const byKey = upstream(await call(base, '/api/either/x', { 'x-api-key': keys.demo }), 'key');
        assert.equal(byKey['x-jwt-client'], 'reports-app');
        assert.equal(byKey['x-jwt-sub'], undefined);
        const both = await call(base, '/api/either/x', { authorization: `Bearer ${t}`, 'x-api-key': keys.demo });
        assert.equal(both.status, 401, 'both present');
        assert.equal(both.json?.error, 'invalid_request');
        const none = await call(base, '/api/either/x');
        assert.equal(none.status, 401);
        assert.equal(none.headers.get('www-authenticate'), `Bearer realm="jwtgate", ${CHALLENGE}`);
      });

      it(`${host}: scopes and conditions apply to the application as to token claims`, async () => {
        upstream(await call(base, '/api/keys/reports/q1', { 'x-api-key': keys.demo }), 'reports-app');
        const partner = await call(base, '/api/keys/reports/q1', { 'x-api-key': keys.partner });
        assert.equal(partner.status, 403, 'partner-app lacks reports:read');
        assert.equal(partner.json?.error, 'insufficient_scope');
      });

      it(`${host}: a key in the query is refused unless the provider enables it, and never forwarded`, async () => {
        invalidKey(await call(base, `/api/keys/x?api_key=${keys.demo}`), 'query not enabled');
        const r = await call(base, `/api/keys-query/x?page=2&api_key=${keys.demo}`);
        const h = upstream(r, 'query enabled');
        assert.equal(h['x-jwt-client'], 'reports-app');
        assert.equal(r.json.path, '/api/keys-query/x?page=2', 'the key is removed from the query');
        const twice = await call(base, `/api/keys-query/x?api_key=${keys.demo}&api%5Fkey=${keys.rotated}`);
        assert.equal(twice.status, 401, 'two keys (one under a decoded name) refused');
      });
    });
  }

  describe('a key feed change is seen on every host', () => {
    after(() => feed('/__reset', {}));

    it('a new key starts working, then stops when disabled, then when removed', async () => {
      const app = { client: 'feed-app', scopes: [], metadata: { tenant: 'acme' } };
      const added = await (await fetch(`${endpoints.keyfeed_url}/__keys`)).json();
      assert.equal(added.fresh, undefined);
      await feed('/__entries', { set: { fresh: app } });
      const fresh = (await (await fetch(`${endpoints.keyfeed_url}/__keys`)).json()).fresh;
      assert.ok(wellFormed(fresh));
      const status = (base) => call(base, '/api/keys/x', { 'x-api-key': fresh }).then((r) => r.status);
      const all = (want) => async () => {
        const got = Object.fromEntries(await Promise.all(hosts.map(async ([h, b]) => [h, await status(b)])));
        return { ok: Object.values(got).every((s) => s === want), got };
      };
      await pollUntil(all(200), 'the added key accepted everywhere');
      await feed('/__entries', { set: { fresh: { ...app, disabled: true } } });
      await pollUntil(all(401), 'the disabled key refused everywhere');
      await feed('/__entries', { set: { fresh: app } });
      await pollUntil(all(200), 're-enabled');
      await feed('/__entries', { set: { fresh: null } });
      await pollUntil(all(401), 'the removed key refused everywhere');
      assert.ok(digestOf(fresh).startsWith('sha256:'));
    });
  });
});
