// Scenario 1, key rotation, on both hosts at once (they share the JWKS server):
// A → A+B (a token-B must pass on its FIRST request: the unknown kid triggers a refetch
// while the request is held) → B only (after the next refresh token-A is 401).
//
// Busy-machine rule: every wait is event-driven (poll the JWKS server's request log or the
// gate's answers) with a generous bound; no fixed sleep has to be "long enough". The
// bounds only turn a hang into a failure; they are not speed assertions.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  T, api, assertKind, classify, describeRes, fetchesFrom, onBothHosts, pollUntil, reportHosts,
  scenarioHooks, seconds, sleep, waitAllowed,
} from './harness.mjs';

// Bound for waits on a loaded machine (2 shared cores): generous, never a speed target.
const SLACK_MS = 20_000;

export default function rotation() {
  describe('1 rotation (envoy + worker)', { timeout: 300_000 }, () => {
    const s = {};
    scenarioHooks(s, { serverState: { mode: 'keys', keys: ['A'], cache_control: null } });

    it('A served: token-A allowed', async (t) => {
      const r = await onBothHosts(s.gate, (host, base) => waitAllowed(base, s.sign.A, { timeoutMs: SLACK_MS, what: `${host}: token-A allowed` }));
      await reportHosts(t, r, 'token-A allowed (upstream echo arrived)');
    });

    it('A+B served: token-B allowed on its first request, rotated right after a scheduled refresh', async (t) => {
      // The worst moment for a cache: the scheduled refresh has just fetched the old set.
      // The unknown kid must still trigger its own refetch (the cooldown only limits
      // kid-triggered refetches), so the held request is allowed.
      const before = fetchesFrom(await s.server.stats(), 'envoy').length;
      const refresh = await pollUntil(async () => fetchesFrom(await s.server.stats(), 'envoy')[before],
        { timeoutMs: T.refreshMs * 1.1 + SLACK_MS, intervalMs: 50, what: 'a scheduled Envoy refresh' });
      await s.server.control({ keys: ['A', 'B'] });
      const rotated = Date.now();
      t.diagnostic(`rotated ${rotated - refresh.t} ms after a scheduled Envoy refresh`);
      const tokenB = await s.sign.B();
      const r = await onBothHosts(s.gate, async (host, base) => {
        const res = await api(base, tokenB);
        const fetched = fetchesFrom(await s.server.stats(), host, rotated).length;
        t.diagnostic(`${host}: first token-B request ${classify(res)} in ${res.ms} ms; ${fetched} /jwks fetch(es) from ${host} since the rotation`);
        assertKind(res, 'allowed', `${host}: first token-B request ${res.t0 - rotated} ms after the switch to A+B `
          + `(${fetched} /jwks fetch(es) by ${host} since the switch)`);
        assert.ok(fetched >= 1, `${host}: the unknown kid must have caused a /jwks fetch`);
        // Both keys work now.
        assertKind(await api(base, await s.sign.A()), 'allowed', `${host}: token-A with A+B served`);
        assertKind(await api(base, await s.sign.B()), 'allowed', `${host}: second token-B`);
      });
      await reportHosts(t, r, 'token-B allowed on its first request');
    });

    it('A+B served: token-B allowed on its first request, rotated > kid_refetch_cooldown_s after a refresh', async (t) => {
      // The same rotation where no fetch happened during the last cooldown: nothing recent
      // can be reused, so every cache must fetch.
      await s.server.control({ keys: ['A'] });
      const r0 = await onBothHosts(s.gate, async (host, base) => {
        await pollUntil(async () => classify(await api(base, await s.sign.B())) === 'invalid_token',
          { timeoutMs: T.refreshMs * 1.1 + T.cooldownMs + SLACK_MS, intervalMs: 300, what: `${host}: token-B refused once B is withdrawn` });
      });
      for (const [host, o] of Object.entries(r0)) if (!o.ok) throw new Error(`${host}: could not return to A only: ${o.error.message}`);
      // Rotate kid_refetch_cooldown_s + 0.1 s after a scheduled Envoy refresh, and before
      // the next one (≥ 0.9 × refresh_interval_s later); retried if a loaded machine
      // makes us miss that window.
      for (let attempt = 1; ; attempt++) {
        const seenBefore = fetchesFrom(await s.server.stats(), 'envoy').length;
        const last = await pollUntil(async () => fetchesFrom(await s.server.stats(), 'envoy')[seenBefore],
          { timeoutMs: T.refreshMs * 1.1 + SLACK_MS, intervalMs: 50, what: 'a scheduled Envoy refresh' });
        await sleep(Math.max(0, last.t + T.cooldownMs + 100 - Date.now()));
        const since = fetchesFrom(await s.server.stats(), 'envoy', last.t + 1).length;
        if (since === 0 && Date.now() < last.t + T.refreshMs * 0.9 - 200) {
          await s.server.control({ keys: ['A', 'B'] });
          break;
        }
        assert.ok(attempt < 20, 'could not rotate between two refreshes in 20 attempts');
      }
      const rotated = Date.now();
      const tokenB = await s.sign.B();
      const r = await onBothHosts(s.gate, async (host, base) => {
        const res = await api(base, tokenB);
        const fetched = fetchesFrom(await s.server.stats(), host, rotated).length;
        t.diagnostic(`${host}: first token-B request ${classify(res)} in ${res.ms} ms; ${fetched} /jwks fetch(es) from ${host} since the rotation`);
        assertKind(res, 'allowed', `${host}: first token-B request after the switch to A+B (${fetched} fetch(es) since)`);
      });
      await reportHosts(t, r, 'token-B allowed on its first request');
    });

    it('B only: after the next refresh token-A is 401 invalid_token, token-B still allowed', async (t) => {
      // One token-A reused throughout: the verified-token cache must drop it with the key.
      const reusedA = await s.sign.A();
      await onBothHosts(s.gate, async (host, base) => assertKind(await api(base, reusedA), 'allowed', `${host}: reused token-A before`));
      await s.server.control({ keys: ['B'] });
      const switched = Date.now();
      // Next refresh ≤ refresh_interval_s + 10 % jitter; the worker only refreshes on traffic.
      const limit = T.refreshMs * 1.1 + SLACK_MS;
      const r = await onBothHosts(s.gate, async (host, base) => {
        const seen = [];
        for (;;) {
          const [a, b] = await Promise.all([api(base, await s.sign.A()), api(base, await s.sign.B())]);
          seen.push(classify(a));
          assertKind(b, 'allowed', `${host}: token-B while B is served (token-A so far: ${seen.join(',')})`);
          if (classify(a) === 'invalid_token') break;
          assert.equal(classify(a), 'allowed', `${host}: until the refresh token-A keeps its cached key: ${describeRes(a)}`);
          assert.ok(Date.now() - switched < limit, `${host}: token-A still allowed ${seconds(Date.now() - switched)} after key A `
            + `was withdrawn (refresh_interval_s ${T.refreshMs / 1000} + jitter); seen ${seen.join(',')}`);
          await sleep(250);
        }
        const flippedAfter = Date.now() - switched;
        for (let i = 0; i < 3; i++) {
          assertKind(await api(base, await s.sign.A()), 'invalid_token', `${host}: token-A after the refresh (#${i + 1})`);
          assertKind(await api(base, reusedA), 'invalid_token', `${host}: reused (cached) token-A after the refresh (#${i + 1})`);
          assertKind(await api(base, await s.sign.B()), 'allowed', `${host}: token-B after the refresh (#${i + 1})`);
        }
        t.diagnostic(`${host}: token-A refused ${seconds(flippedAfter)} after key A was withdrawn`);
      });
      await reportHosts(t, r, 'token-A 401 after the refresh, token-B allowed');
    });
  });
}
