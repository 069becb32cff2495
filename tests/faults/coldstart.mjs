// Scenario 3, cold start, on both hosts at once. Each test starts its own gate pair.
//   - slow IdP (delay mode): the first request is held until the keys arrive, then 200;
//   - IdP down: the first request is held for startup_hold_ms, then 503 + Retry-After;
//     public routes are not held; when the IdP comes back, requests pass.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  T, api, assertKind, classify, describeRes, fetchesFrom, onBothHosts, reportHosts, request,
  scenarioHooks, seconds, sleep, startGate, stopGate, waitAllowed,
} from './harness.mjs';

const DELAY_MS = 1000;

/** Sends `GET /api/x` as soon as the host accepts connections. */
async function knock(base, token, deadlineMs = 30_000) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const res = await api(base, token, { timeoutMs: T.holdMs + 8000 });
    if (!(res.status === 0 && ['ECONNREFUSED', 'ECONNRESET'].includes(res.error))) return res;
    if (Date.now() > deadline) throw new Error(`${base} did not accept connections within ${deadlineMs} ms`);
    await sleep(20);
  }
}

export default function coldstart() {
  describe('3 cold start (envoy + worker)', { timeout: 90_000 }, () => {
    const s = {};
    scenarioHooks(s, { gate: false });

    it(`slow JWKS (answers after ${DELAY_MS} ms): the first request is held, then allowed`, async (t) => {
      assert.ok(DELAY_MS < T.timeoutMs, 'the delay must stay under the fetch timeout or no fetch can succeed');
      await s.server.control({ mode: 'delay', delay_ms: DELAY_MS, keys: ['A'] });
      await s.server.reset();
      const token = await s.sign.A();
      s.gate = startGate({ background: true });
      const r = await onBothHosts(s.gate, async (host, base) => {
        const res = await knock(base, token);
        const first = fetchesFrom(await s.server.stats(), host)[0];
        assert.ok(first, `${host}: made no /jwks request`);
        const keysAt = first.t + DELAY_MS;
        t.diagnostic(`${host}: request sent ${res.t0 - first.t} ms after its first /jwks request, answered ${classify(res)} after ${res.ms} ms `
          + `(keys arrived ~${keysAt - res.t0} ms after the request was sent)`);
        assertKind(res, 'allowed', `${host}: first request on a cold gate with a slow JWKS`);
        assert.ok(res.t0 < keysAt, `${host}: the request reached the gate only after the keys had loaded (sent ${res.t0 - first.t} ms `
          + `after the first fetch started): the hold could not be observed`);
        assert.ok(res.t1 >= keysAt - 50, `${host}: answered ${keysAt - res.t1} ms before the JWKS answer existed: not held?`);
        assert.ok(res.ms < T.holdMs + 1000, `${host}: held ${res.ms} ms, longer than startup_hold_ms ${T.holdMs}`);
        return res.ms;
      });
      s.gateInfo = await s.gate.done;
      await reportHosts(t, r, 'held until the keys arrived, then allowed');
    });

    it(`JWKS down: the first request gets 503 + Retry-After after startup_hold_ms (${T.holdMs} ms); then recovery`, async (t) => {
      stopGate();
      await s.server.control({ mode: 'down' });
      s.gate = startGate();
      const token = await s.sign.A();
      const r = await onBothHosts(s.gate, async (host, base) => {
        const [res, pub] = await Promise.all([api(base, token), request(base, '/public/x', { timeoutMs: 5000 })]);
        t.diagnostic(`${host}: ${classify(res)} after ${res.ms} ms; /public/x ${pub.status} after ${pub.ms} ms`);
        assertKind(res, 'unavailable', `${host}: cold gate, JWKS down`);
        assert.equal(res.headers['retry-after'], '5', `${host}: Retry-After`);
        assert.ok(res.ms >= T.holdMs - 150 && res.ms <= T.holdMs + 1500,
          `${host}: 503 after ${res.ms} ms, expected about startup_hold_ms (${T.holdMs} ms)`);
        assert.equal(pub.status, 200, `${host}: a public route needs no keys: ${describeRes(pub)}`);
        assert.ok(pub.ms < 1000, `${host}: a public route must not be held (${pub.ms} ms)`);
      });
      await reportHosts(t, r, '503 with Retry-After after startup_hold_ms');

      await s.server.control({ mode: 'keys', keys: ['A'] });
      const restored = Date.now();
      const back = await onBothHosts(s.gate, async (host, base) => {
        await waitAllowed(base, s.sign.A, { timeoutMs: T.refreshMs + T.timeoutMs + 3500, what: `${host}: allowed once the JWKS is up` });
        t.diagnostic(`${host}: allowed ${seconds(Date.now() - restored)} after the JWKS came up`);
      });
      await reportHosts(t, back, 'allowed once the JWKS is up');
    });

    it(`idle for longer than max_stale_s (${T.maxStaleMs / 1000} s) with a healthy JWKS: the next request is allowed`, async (t) => {
      // Runs on the gate of the previous test, keys loaded. No traffic at all meanwhile:
      // Envoy refreshes on its timer; the worker refreshes only while requests arrive, so
      // its first request after the pause finds keys older than max_stale_s. The JWKS is
      // up the whole time, so that request must not fail: it may wait for a refresh
      // (as on a cold start), but a 503 here would be an outage the IdP never had.
      await s.server.control({ mode: 'keys', keys: ['A'] });
      const r0 = await onBothHosts(s.gate, (host, base) => waitAllowed(base, s.sign.A, { what: `${host}: token-A allowed` }));
      for (const [host, o] of Object.entries(r0)) if (!o.ok) throw new Error(`${host}: no keys before the pause: ${o.error.message}`);
      await sleep(T.maxStaleMs + 1500);
      const token = await s.sign.A();
      const r = await onBothHosts(s.gate, async (host, base) => {
        const res = await api(base, token);
        t.diagnostic(`${host}: first request after ${seconds(T.maxStaleMs + 1500)} idle: ${classify(res)} after ${res.ms} ms`);
        assertKind(res, 'allowed', `${host}: first request after an idle period longer than max_stale_s, JWKS healthy`);
      });
      await reportHosts(t, r, 'allowed after an idle period longer than max_stale_s');
    });
  });
}
