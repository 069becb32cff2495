// Scenario 7, conditional refreshes, on both hosts at once. The JWKS server sends an
// ETag with key A; every refresh after the first load must carry If-None-Match with it,
// the server answers 304 Not Modified, and a 304 counts as a successful refresh: key A
// stays usable well past max_stale_s after the last 200, no failed fetch is counted
// or logged, and nothing but 304s is fetched meanwhile.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  M, T, api, assertKind, envoyStats, fetchesFrom, fileSize, logSince, onBothHosts, pollUntil, reportHosts,
  scenarioHooks, seconds, waitAllowed,
} from './harness.mjs';

export default function conditional() {
  describe('7 conditional refreshes (envoy + worker)', { timeout: 120_000 }, () => {
    const s = {};
    scenarioHooks(s, { serverState: { mode: 'keys', keys: ['A'], cache_control: null, etag: true } });

    it('refreshes send If-None-Match; 304 keeps the keys fresh past max_stale_s', async (t) => {
      const loaded = await onBothHosts(s.gate, (host, base) => waitAllowed(base, s.sign.A, { timeoutMs: 30_000, what: `${host}: token-A allowed` }));
      for (const [host, o] of Object.entries(loaded)) if (!o.ok) throw new Error(`${host}: no first load: ${o.error.message}`);
      const admin = s.gate.envoy_admin_url;
      const stats0 = await envoyStats(admin);
      const workerLog0 = fileSize(s.gate.worker_log);
      const start = Date.now();
      const r = await onBothHosts(s.gate, async (host, base) => {
        const mine = async () => fetchesFrom(await s.server.stats(), host);
        const last200 = (await mine()).filter((f) => f.answer === 200).at(-1);
        assert.ok(last200, `${host}: the first load was a 200`);
        // Traffic throughout (the worker refreshes only on traffic); every answer allowed.
        const until = last200.t + T.maxStaleMs + 3000;
        let conditional = [];
        await pollUntil(async () => {
          assertKind(await api(base, await s.sign.A()), 'allowed', `${host}: token-A while the server answers 304`);
          conditional = (await mine()).filter((f) => f.t > last200.t);
          return Date.now() > until && conditional.filter((f) => f.answer === 304).length >= 2;
        }, { timeoutMs: T.maxStaleMs + T.refreshMs * 4 + 30_000, intervalMs: 250, what: `${host}: two 304 refreshes past max_stale_s`,
          describe: () => JSON.stringify(conditional.map((f) => [f.t - last200.t, f.answer, f.inm])) });
        for (const f of conditional) {
          assert.ok(f.inm, `${host}: a refresh ${f.t - last200.t} ms after the 200 sent no If-None-Match`);
          assert.equal(f.answer, 304, `${host}: the server answered ${f.answer} to If-None-Match ${f.inm}`);
        }
        t.diagnostic(`${host}: ${conditional.length} conditional refresh(es) answered 304 in ${seconds(Date.now() - last200.t)} after the last 200`);
      });
      const stats1 = await envoyStats(admin);
      const delta = (name) => (stats1[M(name)] ?? 0) - (stats0[M(name)] ?? 0);
      const workerFailures = logSince(s.gate.worker_log, workerLog0).split('\n').filter((l) => /JWKS fetch failed/.test(l));
      t.diagnostic(`envoy: jwks_fetch_success +${delta('jwks_fetch_success')}, jwks_fetch_failed +${delta('jwks_fetch_failed')} in ${seconds(Date.now() - start)}`);
      await reportHosts(t, r, 'refreshes are conditional; 304 keeps the keys');
      await t.test('envoy: a 304 counts as a successful refresh', () => {
        assert.ok(delta('jwks_fetch_success') >= 2, `jwks_fetch_success +${delta('jwks_fetch_success')}`);
        assert.equal(delta('jwks_fetch_failed'), 0, 'no failed fetch while the server answers 304');
      });
      await t.test('worker: no failed fetch logged', () => assert.deepEqual(workerFailures, []));
    });

    it('a changed set (new ETag) is fetched in full and used', async (t) => {
      await s.server.control({ keys: ['A', 'B'] });
      const changed = Date.now();
      const r = await onBothHosts(s.gate, async (host, base) => {
        // The unknown kid triggers the refetch; the held request is allowed.
        assertKind(await api(base, await s.sign.B()), 'allowed', `${host}: first token-B after the change`);
        const full = fetchesFrom(await s.server.stats(), host, changed).filter((f) => f.answer === 200);
        assert.ok(full.length >= 1, `${host}: the changed set was fetched with a 200`);
        assert.ok(full.every((f) => f.inm), `${host}: with the old ETag as If-None-Match`);
      });
      await reportHosts(t, r, 'new ETag: 200, token-B allowed');
    });
  });
}
