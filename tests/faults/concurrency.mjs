// Scenario 5, one JWKS fetch per gate process: Envoy with --concurrency 4 runs a VM per
// worker thread plus one on the main thread; they must share one fetch schedule. The
// worker (one isolate here) must likewise refresh once per interval, not per request.
// Also: Cache-Control max-age sets the refresh interval, clamped to
// [min_refresh_interval_s, refresh_interval_s].

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  T, api, classify, fetchesFrom, logSince, onBothHosts, pollUntil, reportHosts, scenarioHooks, seconds, sleep, waitAllowed,
} from './harness.mjs';

const CONCURRENCY = 4;

/** Steady token-A traffic on fresh connections (spread over Envoy's worker threads). */
async function traffic(gate, sign, ms) {
  const stop = Date.now() + ms;
  const kinds = {};
  while (Date.now() < stop) {
    // No keep-alive (request() uses a fresh connection): Envoy spreads them over its threads.
    const batch = await Promise.all(['envoy', 'worker'].flatMap((h) => [0, 1, 2, 3].map(async () => classify(
      await api(gate.hosts[h], await sign()),
    ))));
    for (const k of batch) kinds[k] = (kinds[k] ?? 0) + 1;
    await sleep(250);
  }
  return kinds;
}

/** Counts each host's /jwks fetches over `ms` of traffic. */
async function countFetches(s, ms) {
  await s.server.reset();
  const started = Date.now();
  const kinds = await traffic(s.gate, s.sign.A, ms);
  const elapsed = Date.now() - started;
  const stats = await s.server.stats();
  return { elapsed, kinds, envoy: fetchesFrom(stats, 'envoy', started).length, worker: fetchesFrom(stats, 'worker', started).length };
}

/** Waits until each host has fetched once more (with traffic, so that the worker refreshes). */
async function newFetchByEach(s) {
  await s.server.reset();
  await pollUntil(async () => {
    await api(s.gate.hosts.worker, await s.sign.A());
    const st = await s.server.stats();
    return fetchesFrom(st, 'envoy').length > 0 && fetchesFrom(st, 'worker').length > 0;
  }, { timeoutMs: T.refreshMs * 1.1 + 3000, intervalMs: 200, what: 'one more fetch by each host' });
}

export default function concurrency() {
  describe(`5 one fetch per process (envoy --concurrency ${CONCURRENCY}; worker: per isolate)`, { timeout: 90_000 }, () => {
    const s = {};
    scenarioHooks(s, { serverState: { mode: 'keys', keys: ['A'], cache_control: null }, concurrency: CONCURRENCY });

    it('keys loaded on both hosts', async (t) => {
      const r = await onBothHosts(s.gate, (host, base) => waitAllowed(base, s.sign.A, { what: `${host}: token-A allowed` }));
      await reportHosts(t, r, 'token-A allowed');
    });

    it('over ~4 refresh intervals: at most intervals + 2 fetches per process (not × VMs)', async (t) => {
      const c = await countFetches(s, 4 * T.refreshMs + 500);
      const intervals = Math.ceil(c.elapsed / T.refreshMs);
      const vms = (logSince(s.gate.envoy_log, s.gate.logOffsets.envoy).match(/jwtgate: configuration loaded/g) ?? []).length;
      t.diagnostic(`${seconds(c.elapsed)} (${intervals} intervals): envoy ${c.envoy} fetches (${vms} VMs configured), `
        + `worker ${c.worker} fetches; traffic ${JSON.stringify(c.kinds)}`);
      assert.deepEqual(Object.keys(c.kinds), ['allowed'], 'all traffic allowed');
      const r = await onBothHosts(s.gate, async (host) => {
        assert.ok(c[host] <= intervals + 2, `${host}: ${c[host]} /jwks fetches in ${seconds(c.elapsed)}; bound intervals + 2 = ${intervals + 2}`
          + (host === 'envoy' ? ` (${vms} VMs; one fetch schedule per VM would give ~${vms * intervals})` : ''));
        const floor = Math.floor(c.elapsed / (T.refreshMs * 1.1)) - 1;
        assert.ok(c[host] >= floor, `${host}: only ${c[host]} fetches in ${seconds(c.elapsed)}: refreshes are not happening (expected ≥ ${floor})`);
      });
      await reportHosts(t, r, `≤ intervals + 2 fetches in ${seconds(c.elapsed)}`);
    });

    it(`Cache-Control max-age=1: a refresh every ~min_refresh_interval_s (${T.minRefreshMs / 1000} s)`, async (t) => {
      await s.server.control({ cache_control: 'max-age=1' });
      await newFetchByEach(s); // the new max-age applies from the next fetch on
      const c = await countFetches(s, 5000);
      const lo = Math.floor(c.elapsed / (T.minRefreshMs * 1.1)) - 1;
      const hi = Math.ceil(c.elapsed / (T.minRefreshMs * 0.9)) + 1;
      t.diagnostic(`max-age=1 over ${seconds(c.elapsed)}: envoy ${c.envoy}, worker ${c.worker} fetches (expected ${lo}..${hi})`);
      const r = await onBothHosts(s.gate, async (host) => {
        assert.ok(c[host] >= lo && c[host] <= hi, `${host}: ${c[host]} fetches in ${seconds(c.elapsed)} with max-age=1 `
          + `(min_refresh_interval_s ${T.minRefreshMs / 1000}): expected ${lo}..${hi}`);
      });
      await reportHosts(t, r, 'max-age=1 honoured');
    });

    it(`Cache-Control max-age=600: clamped to refresh_interval_s (${T.refreshMs / 1000} s)`, async (t) => {
      await s.server.control({ cache_control: 'max-age=600' });
      await newFetchByEach(s);
      const c = await countFetches(s, 5000);
      const hi = Math.ceil(c.elapsed / (T.refreshMs * 0.9)) + 1;
      t.diagnostic(`max-age=600 over ${seconds(c.elapsed)}: envoy ${c.envoy}, worker ${c.worker} fetches (expected 1..${hi})`);
      await s.server.control({ cache_control: null });
      const r = await onBothHosts(s.gate, async (host) => {
        assert.ok(c[host] >= 1 && c[host] <= hi, `${host}: ${c[host]} fetches in ${seconds(c.elapsed)} with max-age=600 `
          + `(clamped to refresh_interval_s ${T.refreshMs / 1000}): expected 1..${hi}`);
      });
      await reportHosts(t, r, 'max-age=600 clamped to refresh_interval_s');
    });
  });
}
