// Scenario 2, JWKS outages, on both hosts at once. For each failure mode, after a good
// load of key A the server breaks:
//   - until max_stale_s after each host's last successful fetch, token-A stays allowed
//     (and the host has logged / counted a failed fetch meanwhile: stale keys served);
//   - after that every request gets 503 with Retry-After; never 401, never 200;
//   - once the server serves A again, token-A is allowed again within a few seconds.
// Each host's cut-off is computed from the server's own record of that host's last
// successful /jwks request, so the assertions do not depend on when the break happened
// relative to the refresh schedule.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  M, T, api, classify, envoyStats, fetchesFrom, logSince, fileSize, onBothHosts, pollUntil,
  providerEvents, reportHosts, scenarioHooks, seconds, sleep, waitAllowed,
} from './harness.mjs';

const MODES = [
  { name: 'status 500', control: { mode: 'status', status: 500 } },
  { name: 'down (every connection reset)', control: { mode: 'down' } },
  { name: 'hang (no answer: fetch timeout)', control: { mode: 'hang' } },
  { name: 'garbage (200, not JSON)', control: { mode: 'garbage' } },
  { name: 'huge (200, 10 MB body)', control: { mode: 'huge' } },
];

// Tolerances around the cut-off computed from the server's side (request arrival + max_stale_s):
// the gate dates keys from when it SENT the fetch (every VM, also one adopting another's
// result), which precedes the server's arrival by the request's latency: up to a second
// on a loaded machine. After the cut-off, a request in flight may have been decided just
// before it. Bounds for waits are generous (SLACK_MS): they turn a hang into a failure and
// are not speed assertions.
const BEFORE_MS = 1000;
const AFTER_MS = T.timeoutMs + 500;
const SLACK_MS = 20_000;

/** ['0ms:allowed', '200ms:allowed', '7900ms:unavailable'] → '0ms allowed×2, 7900ms unavailable×1' */
function runs(log) {
  const out = [];
  for (const entry of log) {
    const [at, kind] = entry.split(':');
    if (out.length && out.at(-1).kind === kind) out.at(-1).n++;
    else out.push({ at, kind, n: 1 });
  }
  return out.map((r) => `${r.at} ${r.kind}×${r.n}`).join(', ');
}

export default function outages() {
  describe('2 outages (envoy + worker)', { timeout: 600_000 }, () => {
    const s = {};
    scenarioHooks(s, { serverState: { mode: 'keys', keys: ['A'], cache_control: null } });

    it('good load of key A', async (t) => {
      const r = await onBothHosts(s.gate, (host, base) => waitAllowed(base, s.sign.A, { timeoutMs: SLACK_MS, what: `${host}: token-A allowed` }));
      await reportHosts(t, r, 'token-A allowed');
    });

    for (const mode of MODES) {
      it(`outage ${mode.name}: stale keys until max_stale_s, then 503 + Retry-After, then recovery`, async (t) => {
        const admin = s.gate.envoy_admin_url;
        const failed0 = (await envoyStats(admin))[M('jwks_fetch_failed')] ?? 0;
        const workerLog0 = fileSize(s.gate.worker_log);
        const envoyLog0 = fileSize(s.gate.envoy_log);
        await s.server.control(mode.control);
        const broke = Date.now();
        // Taken after the switch: every request recorded in mode `keys` was answered well.
        const before = await s.server.stats();

        const r = await onBothHosts(s.gate, async (host, base) => {
          const good = fetchesFrom(before, host).filter((f) => f.mode === 'keys');
          assert.ok(good.length > 0, `${host}: no successful /jwks fetch before the break`);
          const cutoff = good.at(-1).t + T.maxStaleMs;
          const failedSeen = async () => (host === 'envoy'
            ? ((await envoyStats(admin))[M('jwks_fetch_failed')] ?? 0) > failed0
            : /JWKS fetch failed/.test(logSince(s.gate.worker_log, workerLog0)));
          const log = [];
          let failureAt = null;
          let staleAfterFailure = 0;
          let unavailableAfter = 0;
          // A fresh token each time, and one token reused throughout (served from the
          // verified-token cache, which must obey the same limits).
          const reused = await s.sign.A();
          for (;;) {
            const [res, again] = await Promise.all([api(base, await s.sign.A()), api(base, reused)]);
            const kind = classify(res);
            log.push(`${res.t0 - broke}ms:${kind}`);
            for (const [r, what] of [[res, 'fresh token-A'], [again, 'reused token-A']]) {
              const k = classify(r);
              const where = `${host}, ${what}: ${k} at ${r.t0 - cutoff} ms from the cut-off (last success + max_stale_s); so far ${log.slice(-12).join(' ')}`;
              assert.ok(k === 'allowed' || k === 'unavailable', `never 401 or anything but 200/503 during an outage: ${where}`);
              if (r.t1 < cutoff - BEFORE_MS) assert.equal(k, 'allowed', `within max_stale_s the last good keys must serve: ${where}`);
              if (r.t0 > cutoff + AFTER_MS) assert.equal(k, 'unavailable', `past max_stale_s: 503 with Retry-After: ${where}`);
            }
            if (failureAt === null && await failedSeen()) failureAt = Date.now();
            if (failureAt !== null && res.t0 > failureAt && kind === 'allowed') staleAfterFailure++;
            if (res.t0 > cutoff + AFTER_MS && kind === 'unavailable') unavailableAfter++;
            if (unavailableAfter >= 2) break;
            assert.ok(Date.now() < cutoff + AFTER_MS + SLACK_MS, `${host}: no steady 503 after max_stale_s: ${log.join(' ')}`);
            await sleep(200);
          }
          assert.ok(failureAt !== null, `${host}: no failed JWKS fetch was ${host === 'envoy' ? 'counted (jwks_fetch_failed)' : 'logged'} during the outage`);
          assert.ok(staleAfterFailure > 0, `${host}: token-A was never allowed after a failed refresh (stale keys not served): ${log.join(' ')}`);
          t.diagnostic(`${host}: failed fetch seen ${seconds(failureAt - broke)} after the break; cut-off at ${seconds(cutoff - broke)}; `
            + `responses (ms after the break): ${runs(log)}`);
        });

        // Back to normal. Backoff is capped at refresh_interval_s, plus one fetch timeout.
        await s.server.control({ mode: 'keys', keys: ['A'] });
        const restored = Date.now();
        const back = await onBothHosts(s.gate, async (host, base) => {
          const seen = [];
          await pollUntil(async () => {
            const res = await api(base, await s.sign.A());
            const kind = classify(res);
            seen.push(kind);
            assert.ok(kind === 'allowed' || kind === 'unavailable', `${host}: during recovery only 503 then 200: ${seen.join(',')}`);
            return kind === 'allowed';
          }, { timeoutMs: T.refreshMs + T.timeoutMs + SLACK_MS, intervalMs: 250, what: `${host}: token-A allowed again`, describe: () => seen.join(',') });
          t.diagnostic(`${host}: allowed again ${seconds(Date.now() - restored)} after the server came back`);
        });
        const events = {
          envoy: providerEvents(logSince(s.gate.envoy_log, envoyLog0)).filter((l) => l.includes('failed')),
          worker: providerEvents(logSince(s.gate.worker_log, workerLog0)).filter((l) => l.includes('failed')),
        };
        for (const [host, lines] of Object.entries(events)) {
          // Envoy flushes its log file lazily: its lines may belong to the previous mode.
          t.diagnostic(`${host} failure reasons${host === 'envoy' ? ' (log flushed lazily)' : ''}: ${[...new Set(lines.map((l) => l.replace(/retry in \d+ ms/, 'retry in N ms')))].join(' | ') || '(none)'}`);
        }
        const failed1 = (await envoyStats(admin))[M('jwks_fetch_failed')] ?? 0;
        t.diagnostic(`envoy jwks_fetch_failed: ${failed0} → ${failed1}`);
        await reportHosts(t, r, `${mode.name}: stale until max_stale_s, then 503`);
        await reportHosts(t, back, `${mode.name}: allowed again after recovery`);
      });
    }
  });
}
