// DPoP on a gate of its own (tests/e2e/dpop-gate.json, started with `tests/up.py
// start-gate`): Envoy with 4 worker threads, so the replay set must be shared by 4 VMs
// through shared data, and server-issued nonces (`dpop_nonce`) on both hosts.
// Ports 9465 (envoy), 9466 (admin), 9467 (worker), 9468 (worker, software).
// Needs the main stack (the IdP and upstreams) of tests/up.py.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';

import * as dp from './lib/dpop.mjs';
import * as tokens from './tokens.mjs';

const endpoints = tokens.loadEndpoints();
const ROOT = tokens.REPO_ROOT;
const NAME = 'dpop';
const PORTS = { envoy: 9465, admin: 9466, worker: 9467 };
const WINDOW_S = 10;
const dpopClient = { client_id: endpoints.dpop_client_id, client_secret: endpoints.dpop_client_secret };
const skip = !endpoints.dpop_client_id && 'no dpop_client_id in endpoints.json';

const upPy = (args) => spawnSync('python3', [resolve(ROOT, 'tests/up.py'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });

/** One request on a fresh connection (so Envoy may hand it to any worker thread). */
function get(base, path, headers) {
  return new Promise((done) => {
    const u = new URL(path, base);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => done({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', (e) => done({ status: 0, headers: {}, text: e.message }));
    req.end();
  });
}

describe('dpop gate: shared replay set and nonces', { skip, timeout: 180_000 }, () => {
  const hosts = { envoy: `http://127.0.0.1:${PORTS.envoy}`, worker: `http://127.0.0.1:${PORTS.worker}` };
  let key;
  let token;
  before(() => {
    const r = upPy(['start-gate', '--name', NAME, '--gate-config', 'tests/e2e/dpop-gate.json',
      '--envoy-port', String(PORTS.envoy), '--admin-port', String(PORTS.admin),
      '--worker-port', String(PORTS.worker), '--concurrency', '4']);
    assert.equal(r.status, 0, `start-gate: ${r.stdout}\n${r.stderr}`);
  });
  before(async () => {
    key = await dp.clientKey();
    token = (await dp.boundToken(endpoints, dpopClient, key)).access_token;
  });
  after(() => upPy(['stop-gate', '--name', NAME]));

  /** A first request without a nonce, as a client makes it: the answer carries the nonce. */
  async function askNonce(base) {
    const url = `${base}/api/orders`;
    return get(base, '/api/orders', { authorization: `DPoP ${token}`, dpop: await dp.proof(key, 'GET', url, { token }) });
  }

  for (const host of ['envoy', 'worker']) {
    it(`${host}: a proof without the nonce gets use_dpop_nonce and a DPoP-Nonce; with it, allowed`, async () => {
      const base = hosts[host];
      const url = `${base}/api/orders`;
      // The gate may still be loading its keys: the first answers can be 503 (hold over).
      let first;
      for (let i = 0; i < 20; i += 1) {
        first = await askNonce(base);
        if (first.status !== 503) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(first.status, 401, first.text);
      assert.equal(JSON.parse(first.text).error, 'use_dpop_nonce');
      assert.match(first.headers['www-authenticate'], /^DPoP realm="jwtgate-dpop", algs="[^"]+", error="use_dpop_nonce"/);
      const nonce = first.headers['dpop-nonce'];
      assert.match(nonce ?? '', /^[A-Za-z0-9_-]{30,}$/);
      const ok = await get(base, '/api/orders', { authorization: `DPoP ${token}`, dpop: await dp.proof(key, 'GET', url, { token, claims: { nonce } }) });
      assert.equal(ok.status, 200, ok.text);
      assert.ok(ok.headers['dpop-nonce'], 'an allowed DPoP request gets the current nonce');
      const forged = await get(base, '/api/orders', { authorization: `DPoP ${token}`, dpop: await dp.proof(key, 'GET', url, { token, claims: { nonce: `${nonce.slice(0, -2)}AA` } }) });
      assert.equal(forged.status, 401);
      assert.equal(JSON.parse(forged.text).error, 'use_dpop_nonce');
    });
  }

  it('envoy (4 worker VMs): one proof sent on 16 connections at once is allowed exactly once', async () => {
    const base = hosts.envoy;
    const url = `${base}/api/orders`;
    const { headers } = await askNonce(base);
    const p = await dp.proof(key, 'GET', url, { token, claims: { nonce: headers['dpop-nonce'] } });
    const answers = await Promise.all(Array.from({ length: 16 }, () => get(base, '/api/orders', { authorization: `DPoP ${token}`, dpop: p })));
    const statuses = answers.map((a) => a.status).sort();
    assert.equal(statuses.filter((s) => s === 200).length, 1, `statuses: ${statuses}`);
    assert.equal(statuses.filter((s) => s === 401).length, 15, `statuses: ${statuses}`);
    for (const a of answers.filter((x) => x.status === 401)) assert.equal(JSON.parse(a.text).error, 'invalid_dpop_proof');
  });

  it('envoy and worker: a nonce from the previous window is still accepted', async () => {
    for (const host of ['envoy', 'worker']) {
      const base = hosts[host];
      const { headers } = await askNonce(base);
      const nonce = headers['dpop-nonce'];
      // Wait into the next window (windows are WINDOW_S long), then use the old nonce.
      const windowEnd = (Math.floor(Date.now() / 1000 / WINDOW_S) + 1) * WINDOW_S * 1000;
      await new Promise((r) => setTimeout(r, windowEnd - Date.now() + 200));
      const url = `${base}/api/orders`;
      const ok = await get(base, '/api/orders', { authorization: `DPoP ${token}`, dpop: await dp.proof(key, 'GET', url, { token, claims: { nonce } }) });
      assert.equal(ok.status, 200, `${host}: ${ok.text}`);
      assert.notEqual(ok.headers['dpop-nonce'], nonce, `${host}: the nonce rotated`);
    }
  });
});
