// Scenario `keyfeed`: the API-key feed of an `api_keys` provider goes down, on both
// hosts at once (tests/faults/jwtgate-keyfeed.json: refresh 2 s, max_stale_s 6).
//   - before the bound (max_stale_s after each host's last good fetch, by the feed
//     server's own record) the demo key keeps working from the last good table;
//   - after it, /keys/ answers 503 with Retry-After: never 401, never 200;
//   - once the feed is back, the key works again.
// Its own feed server (tests/keyfeed/server.mjs) listens on 9455; the gate pair is the
// suite's (9440-9442) with this config.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import {
  M, ROOT, envoyStats, onBothHosts, pollUntil, reportHosts, request, seconds, sleep, startGate, stopGate,
} from './harness.mjs';

const CONFIG = 'tests/faults/jwtgate-keyfeed.json';
const PORT = 9455;
const base = `http://127.0.0.1:${PORT}`;
const feedCfg = JSON.parse(readFileSync(resolve(ROOT, CONFIG), 'utf8')).providers.keyfeed.feed;
const MAX_STALE_MS = feedCfg.max_stale_s * 1000;
const REFRESH_MS = feedCfg.refresh_interval_s * 1000;
const TIMEOUT_MS = feedCfg.timeout_ms;
const SLACK_MS = 20_000;

async function startFeed() {
  const child = spawn(process.execPath, [resolve(ROOT, 'tests/keyfeed/server.mjs'), '--port', String(PORT)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  await pollUntil(() => out.includes('keyfeed:'), { timeoutMs: SLACK_MS, what: 'the key feed listening' });
  const call = async (method, path, body) => {
    const r = await request(base, path, { method, body: body === undefined ? undefined : JSON.stringify(body), timeoutMs: 5000 });
    assert.equal(r.status, 200, `keyfeed ${method} ${path}: ${r.status} ${r.text}`);
    return JSON.parse(r.text);
  };
  return {
    control: (c) => call('POST', '/__control', c),
    stats: () => call('GET', '/__stats'),
    clearStats: () => call('POST', '/__clear-stats'),
    keys: () => call('GET', '/__keys'),
    stop: () => new Promise((r) => { if (child.exitCode !== null) r(); else { child.once('exit', r); child.kill('SIGTERM'); } }),
  };
}

const keyCall = (b, key) => request(b, '/keys/x', { headers: { 'x-api-key': key } });

export default function keyfeed() {
  describe('keyfeed (envoy + worker): feed down, stale, then 503', { timeout: 300_000 }, () => {
    const s = {};
    before(async () => {
      s.feed = await startFeed();
      s.key = (await s.feed.keys()).demo;
      s.gate = startGate({ config: CONFIG });
    });
    after(async () => {
      try { stopGate(); } finally { await s.feed?.stop(); }
    });

    it('the demo key works once the feed is loaded', async (t) => {
      const r = await onBothHosts(s.gate, (host, b) => pollUntil(async () => (await keyCall(b, s.key)).status === 200,
        { timeoutMs: SLACK_MS, what: `${host}: key allowed` }));
      await reportHosts(t, r, 'key allowed');
    });

    it('one feed fetch schedule per Envoy process (4 worker threads), conditional refreshes, counted', async (t) => {
      await s.feed.clearStats();
      const started = Date.now();
      while (Date.now() - started < 4 * REFRESH_MS + 500) {
        // Fresh connections: Envoy spreads them over its worker threads (one VM each).
        const answers = await Promise.all([0, 1, 2, 3].flatMap(() => [keyCall(s.gate.hosts.envoy, s.key), keyCall(s.gate.hosts.worker, s.key)]));
        assert.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
        await sleep(250);
      }
      const elapsed = Date.now() - started;
      const { requests } = await s.feed.stats();
      const intervals = Math.ceil(elapsed / REFRESH_MS);
      const r = await onBothHosts(s.gate, async (host) => {
        const mine = requests.filter((q) => q.origin === host);
        t.diagnostic(`${host}: ${mine.length} feed fetches in ${seconds(elapsed)}: ${mine.map((q) => q.answer).join(' ')}`);
        assert.ok(mine.length <= intervals + 2, `${host}: ${mine.length} fetches in ${seconds(elapsed)}; bound ${intervals + 2} (one schedule per process)`);
        assert.ok(mine.length >= Math.floor(elapsed / (REFRESH_MS * 1.1)) - 1, `${host}: refreshes are not happening`);
        assert.ok(mine.every((q) => q.inm && q.answer === 304), `${host}: refreshes are conditional and answered 304`);
      });
      await reportHosts(t, r, '≤ intervals + 2 conditional fetches');
      const stats = await envoyStats(s.gate.envoy_admin_url);
      assert.ok((stats[M('api_keys_fetch_success')] ?? 0) >= 1, 'envoy counts api_keys_fetch_success');
      assert.equal(stats[M('api_keys.keyfeed')], 5, 'envoy gauges the entries of the feed');
    });

    for (const mode of [{ mode: 'down' }, { mode: 'status', status: 500 }]) {
      it(`feed ${JSON.stringify(mode)}: last good table until max_stale_s, then 503 + Retry-After, then recovery`, async (t) => {
        await s.feed.control(mode);
        const before = await s.feed.stats();
        const r = await onBothHosts(s.gate, async (host, b) => {
          const good = before.requests.filter((q) => q.origin === host && (q.answer === 200 || q.answer === 304));
          assert.ok(good.length > 0, `${host}: no good feed fetch before the break`);
          const cutoff = good.at(-1).t + MAX_STALE_MS;
          const seen = [];
          const res503 = await pollUntil(async () => {
            const res = await keyCall(b, s.key);
            seen.push([res.t1, res.status]);
            return res.status === 503 ? res : null;
          }, { timeoutMs: MAX_STALE_MS + SLACK_MS, intervalMs: 250, what: `${host}: 503`, describe: () => JSON.stringify(seen.slice(-5)) });
          for (const [at, status] of seen.slice(0, -1)) {
            assert.equal(status, 200, `${host}: before the bound only the stale table answers (${status} at ${at - cutoff} ms)`);
          }
          assert.ok(res503.t0 >= cutoff - 1000, `${host}: 503 ${cutoff - res503.t0} ms before the bound`);
          assert.equal(res503.headers['retry-after'], '5');
          assert.ok(seen.some(([at]) => at < cutoff - TIMEOUT_MS), `${host}: the stale table was served after the break`);
          // Past the bound: 503 every time, never 401 or 200.
          for (let i = 0; i < 5; i++) {
            assert.equal((await keyCall(b, s.key)).status, 503, `${host}: still 503`);
            await sleep(100);
          }
          return seen.length;
        });
        await reportHosts(t, r, 'stale then 503');
        assert.ok(((await envoyStats(s.gate.envoy_admin_url))[M('api_keys_fetch_failed')] ?? 0) >= 1, 'envoy counts api_keys_fetch_failed');
        await s.feed.control({ mode: 'keys' });
        const back = await onBothHosts(s.gate, (host, b) => pollUntil(async () => (await keyCall(b, s.key)).status === 200,
          { timeoutMs: SLACK_MS, what: `${host}: recovered` }));
        await reportHosts(t, back, 'recovered');
      });
    }
  });
}
