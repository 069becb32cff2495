// Scenario `revocation`: the revocation feed under faults, on both hosts at once, against
// its own feed server (revocation-server.mjs, port 9450) and gate pair (revocation.json:
// Envoy 9451, admin 9452, workerd 9453; feed refresh 1 s, max_staleness_s 6).
//   - a jti revoked at the feed is refused within the bound (fetched as a delta);
//   - the feed breaks (down, status 500, garbage, over max_body_bytes, version going
//     back): the last good list is kept (the revoked token stays refused, others pass)
//     until max_staleness_s after each host's last good fetch, then 503 + Retry-After,
//     never an allow; the failure is logged with its reason; recovery when it heals;
//   - a flood of unknown jtis asks for no extra fetch.
// Cut-offs come from the server's own record of each host's last good fetch.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import * as jose from 'jose';

import {
  M, api, classify, envoyStats, fileSize, logSince, onBothHosts, pollUntil, reportHosts, seconds, sleep,
  startGate, startJwksServer, stopGate,
} from './harness.mjs';

const CONFIG = 'tests/faults/revocation.json';
const PORTS = { envoy: 9451, admin: 9452, worker: 9453 };
const SERVER_PORT = 9450;
const NAME = 'revocation-faults';
const ISSUER = 'https://revoking.example';
const BOUND_MS = 6000;
const TIMEOUT_MS = 1000;
const BEFORE_MS = 1000;
const AFTER_MS = TIMEOUT_MS + 500;
const SLACK_MS = 20_000;

const MODES = [
  // Envoy answers a reset callout with its own 503.
  { mode: 'down', reason: /no response/, envoy: /no response|HTTP status 503/ },
  { mode: 'status', reason: /HTTP status 500/ },
  { mode: 'garbage', reason: /not a JSON object/ },
  // Envoy may refuse to buffer the body for the callout at all (no response).
  { mode: 'huge', reason: /exceeds 1048576 bytes/, envoy: /exceeds 1048576 bytes|no response/ },
  { mode: 'rollback', reason: /goes back from the held/ },
];

const GOOD = new Set(['full', 'delta', 304]);
const hostOf = (r) => (r.from === 'envoy' ? 'envoy' : 'worker');

export default function revocation() {
  describe('8 revocation feed (envoy + worker)', { timeout: 600_000 }, () => {
    const s = {};
    before(async () => {
      s.server = await startJwksServer({ port: SERVER_PORT, script: 'tests/faults/revocation-server.mjs', name: 'revocation-server' });
      const { key } = await s.server.call('GET', '/__keys');
      const signing = await jose.importJWK(key, 'ES256');
      s.sign = (over = {}) => {
        const t = Math.floor(Date.now() / 1000);
        const claims = { iss: ISSUER, aud: 'https://api.example', sub: 'rev-user', iat: t, exp: t + 300, jti: randomUUID(), ...over };
        return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
          .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' }).sign(signing);
      };
      s.gate = startGate({ name: NAME, config: CONFIG, ports: PORTS });
      s.revokedJti = `revoked-${randomUUID()}`;
      s.revoked = await s.sign({ jti: s.revokedJti });
    });
    after(async () => {
      const errors = [];
      try { stopGate(NAME); } catch (e) { errors.push(e); }
      try { await s.server?.stop(); } catch (e) { errors.push(e); }
      if (errors.length) throw errors[0];
    });

    it('a token revoked at the feed is refused within the bound, through a delta', async (t) => {
      const r = await onBothHosts(s.gate, async (host, base) => {
        await pollUntil(async () => classify(await api(base, s.revoked)) === 'allowed', { timeoutMs: SLACK_MS, what: `${host}: allowed before` });
      });
      await reportHosts(t, r, 'allowed before the revocation');
      await s.server.reset();
      const since = Date.now();
      await s.server.call('POST', '/__revoke', { jti: s.revokedJti, exp: Math.floor(Date.now() / 1000) + 600 });
      const refused = await onBothHosts(s.gate, async (host, base) => {
        await pollUntil(async () => {
          const kind = classify(await api(base, s.revoked));
          assert.ok(kind === 'allowed' || kind === 'invalid_token', `${host}: ${kind}`);
          return kind === 'invalid_token';
        }, { timeoutMs: BOUND_MS + 1500, intervalMs: 100, what: `${host}: refused within ${BOUND_MS} ms` });
        const took = Date.now() - since;
        const answers = (await s.server.stats()).requests.filter((q) => hostOf(q) === host).map((q) => `${q.path}:${q.answer}`);
        assert.ok(answers.some((a) => a.includes('since=') && a.endsWith(':delta')), `${host}: a delta was fetched: ${answers}`);
        assert.equal(classify(await api(base, await s.sign())), 'allowed', `${host}: other tokens still pass`);
        return took;
      });
      await reportHosts(t, refused, 'revoked token refused within the bound');
      t.diagnostic(`refused after: ${JSON.stringify(Object.fromEntries(Object.entries(refused).map(([h, v]) => [h, v.value])))} ms`);
    });

    for (const { mode, reason, envoy: envoyReason } of MODES) {
      it(`feed ${mode}: last good list kept until max_staleness_s, then 503, then recovery`, async (t) => {
        const logs = { envoy: fileSize(s.gate.envoy_log), worker: fileSize(s.gate.worker_log) };
        const failed0 = (await envoyStats(s.gate.envoy_admin_url))[M('revocation_fetch_failed')] ?? 0;
        const stale0 = (await envoyStats(s.gate.envoy_admin_url))[M('denied.revocation_stale')] ?? 0;
        await s.server.control({ mode });
        const before = (await s.server.stats()).requests;
        const r = await onBothHosts(s.gate, async (host, base) => {
          const good = before.filter((q) => hostOf(q) === host && GOOD.has(q.answer));
          assert.ok(good.length > 0, `${host}: no good feed fetch before the break`);
          const cutoff = good.at(-1).t + BOUND_MS;
          const seen = [];
          for (;;) {
            const now = Date.now();
            const [fresh, revoked] = [classify(await api(base, await s.sign())), classify(await api(base, s.revoked))];
            seen.push(`${now - cutoff}:${fresh}/${revoked}`);
            assert.notEqual(revoked, 'allowed', `${host}: the revoked token was allowed (${seen.slice(-5)})`);
            if (now < cutoff - BEFORE_MS) {
              assert.deepEqual([fresh, revoked], ['allowed', 'invalid_token'], `${host} ${now - cutoff} ms before the bound`);
            }
            if (now > cutoff + AFTER_MS) {
              assert.deepEqual([fresh, revoked], ['unavailable', 'unavailable'], `${host} ${now - cutoff} ms past the bound`);
              break;
            }
            assert.ok(now < cutoff + SLACK_MS, `${host}: no 503 by ${SLACK_MS} ms past the bound`);
            await sleep(250);
          }
          // Envoy flushes its log lazily: wait for the line rather than read once.
          const want = host === 'envoy' ? envoyReason ?? reason : reason;
          const file = host === 'envoy' ? s.gate.envoy_log : s.gate.worker_log;
          const failures = () => logSince(file, logs[host]).split('\n').filter((l) => l.includes('revocation list fetch failed'));
          await pollUntil(() => failures().some((l) => want.test(l)), {
            timeoutMs: SLACK_MS, what: `${host}: a logged failure with reason ${want}`, describe: () => failures().slice(-2).join(' | '),
          });
          return seen.length;
        });
        await reportHosts(t, r, `${mode}: kept until the bound, then 503`);
        const stats = await envoyStats(s.gate.envoy_admin_url);
        assert.ok((stats[M('revocation_fetch_failed')] ?? 0) > failed0, 'envoy counts revocation_fetch_failed');
        assert.ok((stats[M('denied.revocation_stale')] ?? 0) > stale0, 'envoy counts denied.revocation_stale');
        await s.server.control({ mode: 'ok' });
        const healed = await onBothHosts(s.gate, async (host, base) => {
          await pollUntil(async () => classify(await api(base, await s.sign())) === 'allowed', { timeoutMs: SLACK_MS, what: `${host}: recovery` });
          assert.equal(classify(await api(base, s.revoked)), 'invalid_token', `${host}: still revoked after recovery`);
        });
        await reportHosts(t, healed, `${mode}: recovered, the revocation still enforced`);
      });
    }

    it('a flood of unknown jtis asks for no extra feed fetch', async (t) => {
      const N = 300;
      const r = await onBothHosts(s.gate, async (host, base) => {
        const toks = await Promise.all(Array.from({ length: N }, () => s.sign()));
        const started = Date.now();
        const kinds = {};
        for (let i = 0; i < toks.length; i += 10) {
          const batch = await Promise.all(toks.slice(i, i + 10).map((tok) => api(base, tok)));
          for (const res of batch) kinds[classify(res)] = (kinds[classify(res)] ?? 0) + 1;
        }
        const elapsed = Date.now() - started;
        const fetches = (await s.server.stats()).requests.filter((q) => hostOf(q) === host && q.t >= started).length;
        // The 1 s refresh alone (±10 % jitter, plus one in flight at the start).
        const bound = Math.ceil(elapsed / 900) + 1;
        assert.deepEqual(kinds, { allowed: N }, `${host}: unknown jtis are simply not revoked`);
        assert.ok(fetches <= bound, `${host}: ${fetches} feed fetches for ${N} requests in ${seconds(elapsed)} (bound ${bound})`);
        return `${fetches} fetches for ${N} requests in ${seconds(elapsed)}`;
      });
      await reportHosts(t, r, 'no fetch per unknown jti');
      t.diagnostic(JSON.stringify(Object.fromEntries(Object.entries(r).map(([h, v]) => [h, v.value]))));
    });
  });
}
