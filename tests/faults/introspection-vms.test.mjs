// Introspection answers shared by the worker VMs of one Envoy process (issue #12, "shared
// across Envoy worker VMs where it pays"): an Envoy with `--concurrency 2` (two worker
// VMs) and introspection-vms.json, whose providers `shared` (shared_cache_size 1024) and
// `per_vm` (0) introspect valid JWTs of the JWT IdP (9400) on /shared/ and /per-vm/
// (`introspect: true`). Two keep-alive connections, one on each worker (found through
// Envoy's per-worker listener stats), make it deterministic: every token is used once
// from each VM, and the IdP's per-token call counter says how often it was asked.
// Ports 9486-9489 (the tls-swap gate's; the files run one at a time).
//
//   make up && cd tests && node --test faults/introspection-vms.test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';

import { fetchIdpToken, loadEndpoints, REPO_ROOT } from '../e2e/lib/endpoints.mjs';
import { startSideGate, stopSideGate } from '../e2e/lib/gates.mjs';

const ep = loadEndpoints();
const GATE = { name: 'intro-vms', envoy: 9486, admin: 9487, worker: 9488 };
const TOKENS = 10;
let gate;
let agents; // one keep-alive connection per worker VM

async function idpCalls(token) {
  const sha256 = createHash('sha256').update(token).digest('hex');
  return (await (await fetch(`${ep.idp_issuer}/token/introspection/calls?sha256=${sha256}`)).json()).calls;
}

function get(agent, path, token) {
  return new Promise((res, rej) => {
    const req = http.get({ host: '127.0.0.1', port: GATE.envoy, path, agent, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (r) => { r.resume(); r.on('end', () => res(r.statusCode)); });
    req.on('error', rej);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  });
}

/** Connections accepted so far by each worker, from Envoy's per-worker listener stats. */
async function perWorker() {
  const text = await (await fetch(`${gate.envoy_admin_url}/stats?filter=^listener\\.127\\.0\\.0\\.1_${GATE.envoy}\\.worker_`)).text();
  return Object.fromEntries([...text.matchAll(/worker_(\d+)\.downstream_cx_total: (\d+)/g)].map((m) => [m[1], Number(m[2])]));
}

/** One keep-alive agent per worker: new connections until both workers hold one. */
async function pinAgents() {
  const byWorker = {};
  for (let i = 0; i < 40 && Object.keys(byWorker).length < 2; i += 1) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const before = await perWorker();
    assert.equal(await get(agent, '/public/pin'), 200);
    const now = await perWorker();
    const worker = Object.keys(now).find((w) => now[w] > (before[w] ?? 0));
    if (worker !== undefined && !byWorker[worker]) byWorker[worker] = agent;
    else agent.destroy();
  }
  assert.equal(Object.keys(byWorker).length, 2, 'a connection on each of the two workers');
  return Object.values(byWorker);
}

before(async () => {
  gate = startSideGate(GATE, 'tests/faults/introspection-vms.json', { concurrency: 2 });
  agents = await pinAgents();
});

after(() => {
  for (const a of agents ?? []) a.destroy();
  stopSideGate(GATE);
});

/** IdP calls for TOKENS tokens, each used from VM 1, then from VM 2. */
async function callsFor(path) {
  let total = 0;
  for (let i = 0; i < TOKENS; i += 1) {
    const token = (await fetchIdpToken(ep)).access_token;
    for (const agent of agents) assert.equal(await get(agent, path, token), 200);
    total += await idpCalls(token);
  }
  return total;
}

test(`each of ${TOKENS} tokens used from both VMs: one IdP call each when shared, two per VM otherwise`, async () => {
  const shared = await callsFor('/shared/x');
  const perVm = await callsFor('/per-vm/x');
  console.log(`introspection calls for ${TOKENS} tokens x 2 VMs: shared ${shared}, per VM ${perVm}`);
  assert.equal(shared, TOKENS);
  assert.equal(perVm, 2 * TOKENS);
});

test('concurrent first use from both VMs: one IdP call when shared (single-flight across VMs)', async () => {
  let shared = 0;
  let perVm = 0;
  for (let i = 0; i < TOKENS; i += 1) {
    const token = (await fetchIdpToken(ep)).access_token;
    const rs = await Promise.all(agents.map((a) => get(a, '/shared/c', token)));
    assert.deepEqual(rs, [200, 200]);
    shared += await idpCalls(token);
    const other = (await fetchIdpToken(ep)).access_token;
    assert.deepEqual(await Promise.all(agents.map((a) => get(a, '/per-vm/c', other))), [200, 200]);
    perVm += await idpCalls(other);
  }
  console.log(`concurrent pairs, ${TOKENS} tokens: shared ${shared} calls, per VM ${perVm}`);
  assert.equal(shared, TOKENS);
  assert.equal(perVm, 2 * TOKENS);
});
