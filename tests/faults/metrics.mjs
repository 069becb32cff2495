// Scenario 6, Envoy metrics (Envoy only: the worker has no metrics endpoint; its
// behaviour in the same situations is covered by scenarios 1–4).
// proxy-wasm metrics defined as `jwtgate.<name>` appear at the admin `/stats` as
// `wasmcustom.jwtgate.<name>`; `/stats/prometheus` must show the same values.
// Counters are summed over all VMs (--concurrency 4).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  M, T, api, assertKind, classify, envoyPrometheus, envoyStats, pollUntil, scenarioHooks, sleep, unknownKidTokens, waitAllowed,
} from './harness.mjs';

const SPRAY = 50;

export default function metrics() {
  describe('6 metrics (envoy only: the worker exposes none)', { timeout: 90_000 }, () => {
    const s = {};
    // Cold start with the JWKS down: the first request is held, then 503.
    scenarioHooks(s, { serverState: { mode: 'down', keys: ['A', 'B'], cache_control: null } });
    const stats = () => envoyStats(s.gate.envoy_admin_url);
    const val = (st, name) => st[M(name)];
    const moved = (a, b, name) => (val(b, name) ?? 0) - (val(a, name) ?? 0);
    const keysGauge = (st) => val(st, 'jwks_keys.faulty') ?? val(st, 'jwks_keys');
    const seen = {};

    it('held_requests, jwks_fetch_failed and denied.keys_unavailable after a cold start with the JWKS down', async (t) => {
      const s0 = await stats();
      const res = await api(s.gate.hosts.envoy, await s.sign.A());
      assertKind(res, 'unavailable', 'cold start, JWKS down');
      const s1 = await stats();
      Object.assign(seen, s1);
      t.diagnostic(`after a cold start: ${JSON.stringify(s1)}`);
      assert.ok(moved(s0, s1, 'held_requests') >= 1, `${M('held_requests')} must count the held request: ${val(s0, 'held_requests')} → ${val(s1, 'held_requests')}`);
      assert.ok(val(s1, 'jwks_fetch_failed') >= 1, `${M('jwks_fetch_failed')}: ${val(s1, 'jwks_fetch_failed')}`);
      assert.ok(moved(s0, s1, 'denied.keys_unavailable') >= 1, `${M('denied.keys_unavailable')}: ${val(s0, 'denied.keys_unavailable')} → ${val(s1, 'denied.keys_unavailable')}`);
    });

    it('jwks_fetch_success, jwks_keys = 2 and allowed once A+B is served', async () => {
      await s.server.control({ mode: 'keys', keys: ['A', 'B'] });
      const s0 = await stats();
      await waitAllowed(s.gate.hosts.envoy, s.sign.A, { timeoutMs: T.refreshMs + T.timeoutMs + 3500 });
      assertKind(await api(s.gate.hosts.envoy, await s.sign.B()), 'allowed', 'token-B');
      const s1 = await stats();
      Object.assign(seen, s1);
      assert.ok(val(s1, 'jwks_fetch_success') >= 1, `${M('jwks_fetch_success')}: ${val(s1, 'jwks_fetch_success')}`);
      assert.equal(keysGauge(s1), 2, `${M('jwks_keys.faulty')} (or ${M('jwks_keys')}) with A+B served: ${JSON.stringify(s1)}`);
      assert.ok(moved(s0, s1, 'allowed') >= 2, `${M('allowed')}: ${val(s0, 'allowed')} → ${val(s1, 'allowed')}`);
    });

    it('jwks_keys follows the served set (A only → 1)', async () => {
      await s.server.control({ keys: ['A'] });
      await pollUntil(async () => keysGauge(await stats()) === 1,
        { timeoutMs: T.refreshMs * 1.1 + 3000, intervalMs: 200, what: 'jwks_keys = 1 after the next refresh' });
    });

    it(`denied.unknown_kid counts a kid spray (${SPRAY})`, async () => {
      const tokens = await unknownKidTokens(SPRAY);
      const s0 = await stats();
      const kinds = await Promise.all(tokens.map(async (tok) => classify(await api(s.gate.hosts.envoy, tok))));
      assert.deepEqual([...new Set(kinds)], ['invalid_token']);
      const s1 = await stats();
      Object.assign(seen, s1);
      assert.equal(moved(s0, s1, 'denied.unknown_kid'), SPRAY, `${M('denied.unknown_kid')}: ${val(s0, 'denied.unknown_kid')} → ${val(s1, 'denied.unknown_kid')}`);
    });

    it('jwks_fetch_failed and jwks_stale_served during an outage within max_stale_s', async (t) => {
      const s0 = await stats();
      await s.server.control({ mode: 'status', status: 500 });
      const s1 = await pollUntil(async () => {
        const st = await stats();
        return moved(s0, st, 'jwks_fetch_failed') > 0 ? st : null;
      }, { timeoutMs: T.refreshMs * 1.1 + 3000, intervalMs: 200, what: `${M('jwks_fetch_failed')} to move` });
      // Every VM applies the published failure on its next 200 ms tick.
      await sleep(500);
      const N = 8;
      const tokens = await Promise.all(Array.from({ length: N }, () => s.sign.A()));
      const results = await Promise.all(tokens.map((tok) => api(s.gate.hosts.envoy, tok)));
      for (const res of results) assertKind(res, 'allowed', 'token-A with stale keys (within max_stale_s)');
      const s2 = await stats();
      Object.assign(seen, s2);
      t.diagnostic(`during the outage: ${JSON.stringify(s2)}`);
      assert.ok(moved(s0, s1, 'jwks_fetch_failed') >= 1);
      assert.equal(moved(s1, s2, 'jwks_stale_served'), N,
        `${M('jwks_stale_served')} must count each of the ${N} requests allowed with stale keys: ${val(s1, 'jwks_stale_served')} → ${val(s2, 'jwks_stale_served')}`);
      await s.server.control({ mode: 'keys', keys: ['A'] });
    });

    it('/stats/prometheus shows every jwtgate metric with the /stats value', async (t) => {
      const [st, prom] = await Promise.all([stats(), envoyPrometheus(s.gate.envoy_admin_url)]);
      const names = Object.keys(st).filter((n) => n.startsWith('wasmcustom.jwtgate.'));
      t.diagnostic(`/stats names: ${names.join(', ')}`);
      t.diagnostic(`/stats/prometheus names: ${Object.keys(prom).join(', ')}`);
      const want = ['allowed', 'denied.unknown_kid', 'denied.keys_unavailable', 'jwks_fetch_success', 'jwks_fetch_failed',
        'jwks_stale_served', 'held_requests'];
      for (const w of want) assert.ok(names.includes(M(w)), `/stats lacks ${M(w)}`);
      assert.ok(names.includes(M('jwks_keys.faulty')) || names.includes(M('jwks_keys')), '/stats lacks the jwks_keys gauge');
      for (const n of names) {
        const bare = n.slice('wasmcustom.'.length).replace(/[^A-Za-z0-9_]/g, '_');
        const p = [bare, `envoy_${bare}`, `envoy_wasmcustom_${bare}`].find((c) => c in prom);
        assert.ok(p, `/stats/prometheus has no series for ${n} (looked for ${bare}, envoy_${bare})`);
        // Background fetches may move fetch counters between the two reads.
        if (/jwks_fetch_/.test(n)) assert.ok(prom[p] >= st[n], `${p} = ${prom[p]}, /stats ${n} = ${st[n]}`);
        else assert.equal(prom[p], st[n], `${p} vs ${n}`);
      }
    });
  });
}
