// Scenario 4, kid spray: 1,000 tokens with random unknown kids (signed by a fresh key)
// against each host separately, paced over a few cooldowns (SPRAY_MS) so that the
// rate limit, not the spray's brevity, is what keeps the fetch count down. All must be 401 invalid_token, and the JWKS fetches that
// host made meanwhile stay within
//   ceil(elapsed / kid_refetch_cooldown_s) + ceil(elapsed / refresh_interval_s) + 1
// per gate process (Envoy: the whole process, all its VMs; worker: its isolate).

import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';

import {
  T, api, classify, fetchesFrom, onBothHosts, reportHosts, scenarioHooks, seconds, sleep, unknownKidTokens, waitAllowed,
} from './harness.mjs';

const N = 1000;
const PARALLEL = 16;
const SPRAY_MS = 6000;

/** Sends request i at start + i × SPRAY_MS / N (or as soon as a connection is free). */
async function spray(base, tokens) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: PARALLEL });
  const kinds = {};
  const start = Date.now();
  let next = 0;
  try {
    await Promise.all(Array.from({ length: PARALLEL }, async () => {
      while (next < tokens.length) {
        const i = next++;
        const wait = start + (i * SPRAY_MS) / tokens.length - Date.now();
        if (wait > 0) await sleep(wait);
        const kind = classify(await api(base, tokens[i], { agent, timeoutMs: 20_000 }));
        kinds[kind] = (kinds[kind] ?? 0) + 1;
      }
    }));
  } finally {
    agent.destroy();
  }
  return kinds;
}

export default function kidSpray() {
  describe('4 kid spray (envoy, then worker)', { timeout: 120_000 }, () => {
    const s = {};
    scenarioHooks(s, { serverState: { mode: 'keys', keys: ['A'], cache_control: null } });

    it('keys loaded on both hosts', async (t) => {
      const r = await onBothHosts(s.gate, (host, base) => waitAllowed(base, s.sign.A, { what: `${host}: token-A allowed` }));
      await reportHosts(t, r, 'token-A allowed');
    });

    for (const host of ['envoy', 'worker']) {
      it(`${host}: ${N} unknown kids over ~${SPRAY_MS / 1000} s → all 401, /jwks fetches bounded by the cooldown`, async (t) => {
        const tokens = await unknownKidTokens(N);
        await s.server.reset();
        const started = Date.now();
        const kinds = await spray(s.gate.hosts[host], tokens);
        const elapsed = Date.now() - started;
        const stats = await s.server.stats();
        const mine = fetchesFrom(stats, host, started).length;
        const other = fetchesFrom(stats, host === 'envoy' ? 'worker' : 'envoy', started).length;
        const bound = Math.ceil(elapsed / T.cooldownMs) + Math.ceil(elapsed / T.refreshMs) + 1;
        t.diagnostic(`${host}: ${N} requests in ${seconds(elapsed)}: ${JSON.stringify(kinds)}; /jwks fetches by ${host}: ${mine} `
          + `(bound ${bound}); by the other host meanwhile: ${other}`);
        assert.deepEqual(kinds, { invalid_token: N }, `${host}: every unknown kid must get 401 invalid_token`);
        assert.ok(mine <= bound, `${host}: ${mine} /jwks fetches during a ${seconds(elapsed)} kid spray; bound per gate process = `
          + `ceil(${elapsed}/${T.cooldownMs}) + ceil(${elapsed}/${T.refreshMs}) + 1 = ${bound}`);
        if (host === 'worker') assert.ok(mine >= 1, 'worker: the first unknown kid must trigger a refetch');
        // The spray must not have disturbed valid traffic.
        assert.equal(classify(await api(s.gate.hosts[host], await s.sign.A())), 'allowed', `${host}: token-A after the spray`);
      });
    }
  });
}
