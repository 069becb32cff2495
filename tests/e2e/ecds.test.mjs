// ECDS hot reload on the real Envoy: the filter's config arrives as an
// ExtensionConfigSource file (envoy/envoy-ecds.yaml.tmpl), the way Istio delivers a
// WasmPlugin, and is changed under a bounded request loop.
//
// Proves, on its own Envoy (listener 9471, admin 9472) with its own JWKS server (9470,
// tests/faults/jwks-server.mjs, which counts fetches) in front of the main stack's
// Express upstream:
//   1. requests keep flowing through every config change: the loop sees no 5xx and no
//      transport error, and a valid token is never refused;
//   2. a changed rule applies within seconds (bounded poll, not a fixed sleep);
//   3. the key set is not refetched because the config changed: the new plugin adopts the
//      key set the process already fetched (shared data keyed on the fetch identity);
//   4. a config the gate refuses is rejected by Envoy (ECDS config_fail) and the previous
//      one keeps serving; a good config after it is applied again.
//
// Documented 5xx: none. (A refused config never reaches the data path.)
//
//   make up && cd tests && node --test e2e/ecds.test.mjs

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ROOT, endpoints, pollUntil, request, signers, sleep, startJwksServer } from '../faults/harness.mjs';

const PORTS = { jwks: 9470, envoy: 9471, admin: 9472 };
const DIR = resolve(ROOT, 'run/ecds');
const ECDS_DIR = resolve(DIR, 'config');
const ECDS_FILE = resolve(ECDS_DIR, 'jwtgate.json');
const WASM = process.env.JWTGATE_WASM ?? resolve(ROOT, 'target/wasm32-wasip1/release/jwtgate_filter.wasm');
const ENVOY = resolve(ROOT, '.venv/bin/envoy');
const BASE = `http://127.0.0.1:${PORTS.envoy}`;
const ADMIN = `http://127.0.0.1:${PORTS.admin}`;
const APPLY_MS = 10_000; // "within seconds": the bound on a change becoming visible

/** The gate config: `/admin/` needs the `ecds_role` claim unless `adminOpen`. */
function gateConfig({ adminOpen, broken = false }) {
  const admin = { name: 'admin', match: { prefix: '/admin/' }, requires: { provider: broken ? 'nope' : 'faulty' } };
  if (!adminOpen) admin.require = { claim: 'ecds_role', op: 'eq', value: 'admin' };
  return {
    realm: 'jwtgate-ecds',
    startup_hold_ms: 3000,
    providers: {
      faulty: {
        issuer: 'https://faulty.example',
        audiences: ['https://api.example'],
        jwks: {
          cluster: 'jwks', path: '/jwks', authority: `127.0.0.1:${PORTS.jwks}`,
          refresh_interval_s: 300, min_refresh_interval_s: 30,
        },
      },
    },
    rules: [admin, { name: 'api', match: { prefix: '/api/' }, requires: { provider: 'faulty' } }],
  };
}

/** The ECDS resource: the whole Wasm filter config, as istiod would send it. */
function ecdsResource(version, gate) {
  return {
    version_info: String(version),
    resources: [{
      '@type': 'type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig',
      name: 'jwtgate',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
        config: {
          name: 'jwtgate', root_id: 'jwtgate', fail_open: false,
          configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: JSON.stringify(gate) },
          vm_config: { vm_id: 'jwtgate', runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: WASM } } },
        },
      },
    }],
  };
}

/** Atomically replaces the ECDS file (Envoy reacts to the move into the watched dir). */
let version = 0;
function deliver(gate) {
  version += 1;
  const tmp = resolve(DIR, `next-${version}.json`);
  writeFileSync(tmp, JSON.stringify(ecdsResource(version, gate)));
  renameSync(tmp, ECDS_FILE);
}

async function ecdsStats() {
  const r = await request(ADMIN, '/stats?filter=extension_config_discovery', { timeoutMs: 5000 });
  const out = { reload: 0, fail: 0 };
  for (const line of r.text.split('\n')) {
    const m = /jwtgate\.config_(reload|fail): (\d+)$/.exec(line.trim());
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** A bounded request loop: `workers` concurrent clients until stopped; every answer kept. */
function loadLoop(token, workers = 4) {
  const results = [];
  let running = true;
  const paths = ['/api/x', '/admin/x'];
  const runs = Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; running; i++) {
      const path = paths[(i + w) % paths.length];
      const r = await request(BASE, path, { token, timeoutMs: 5000 });
      results.push({ path, status: r.status, error: r.error, t: r.t1 });
    }
  });
  return { results, async stop() { running = false; await Promise.all(runs); } };
}

const fetches = async (server) => (await server.stats()).requests.filter((r) => r.from === 'envoy').length;

describe('ECDS hot reload on the real Envoy', { timeout: 60_000 }, () => {
  let server;
  let envoy;
  let envoyLog = '';
  let token;

  before(async () => {
    mkdirSync(ECDS_DIR, { recursive: true });
    server = await startJwksServer({ port: PORTS.jwks });
    token = await (await signers(server)).A();
    deliver(gateConfig({ adminOpen: false }));
    const tmpl = readFileSync(resolve(ROOT, 'envoy/envoy-ecds.yaml.tmpl'), 'utf8');
    const fill = { ADMIN_PORT: PORTS.admin, LISTEN_PORT: PORTS.envoy, JWKS_PORT: PORTS.jwks,
      NODE_PORT: new URL(endpoints.upstreams.node).port, ECDS_FILE: JSON.stringify(ECDS_FILE), ECDS_DIR: JSON.stringify(ECDS_DIR) };
    const yaml = tmpl.replace(/\$\{([A-Z_]+)\}/g, (_, k) => String(fill[k]));
    writeFileSync(resolve(DIR, 'envoy.yaml'), yaml);
    envoy = spawn(ENVOY, ['-c', resolve(DIR, 'envoy.yaml'), '--concurrency', '2', '--base-id', '47',
      '--log-level', 'warn', '--component-log-level', 'wasm:info,config:info'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    envoy.stdout.on('data', (d) => { envoyLog = (envoyLog + d).slice(-200_000); });
    envoy.stderr.on('data', (d) => { envoyLog = (envoyLog + d).slice(-200_000); });
    process.on('exit', () => envoy.kill('SIGKILL'));
    try {
      await pollUntil(async () => (await request(BASE, '/api/x', { token, timeoutMs: 3000 })).status === 200,
        { timeoutMs: 30_000, what: `Envoy+ECDS answering 200 on ${BASE}/api/x` });
    } catch (e) {
      throw new Error(`${e.message}\nEnvoy log: ${envoyLog.slice(-3000)}`);
    }
  });

  after(async () => {
    if (envoy && envoy.exitCode === null) {
      const exited = new Promise((r) => envoy.once('exit', r));
      envoy.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      envoy.kill('SIGKILL');
    }
    await server?.stop();
  });

  test('rules change, bad configs are refused, requests keep flowing, keys are not refetched', async (t) => {
    const status = async (path) => (await request(BASE, path, { token, timeoutMs: 5000 })).status;
    assert.equal(await status('/admin/x'), 403, 'v1: /admin/ needs the ecds_role claim');
    const fetchedBefore = await fetches(server);
    assert.ok(fetchedBefore >= 1, 'the key set was fetched once the gate started');
    const load = loadLoop(token);
    const base = await ecdsStats();

    // v2: the rule changes; the new config applies within seconds.
    const t0 = Date.now();
    deliver(gateConfig({ adminOpen: true }));
    await pollUntil(async () => (await status('/admin/x')) === 200, { timeoutMs: APPLY_MS, what: 'v2 applied: /admin/ open' });
    const applied = Date.now() - t0;

    // v3: a config the gate refuses (a rule names a provider that does not exist).
    deliver(gateConfig({ adminOpen: false, broken: true }));
    await pollUntil(async () => (await ecdsStats()).fail > base.fail, { timeoutMs: APPLY_MS, what: 'Envoy rejected the bad config' });
    await sleep(500);
    assert.equal(await status('/admin/x'), 200, 'after the rejected update, v2 still serves');

    // v4: a good config again (the v1 rule) is applied.
    deliver(gateConfig({ adminOpen: false }));
    await pollUntil(async () => (await status('/admin/x')) === 403, { timeoutMs: APPLY_MS, what: 'v4 applied: /admin/ closed' });
    await load.stop();

    const stats = await ecdsStats();
    const bad = load.results.filter((r) => r.status === 0 || r.status >= 500);
    const refused = load.results.filter((r) => r.path === '/api/x' && r.status !== 200);
    const fetchedAfter = await fetches(server);
    t.diagnostic(`${load.results.length} requests under reload; v2 visible after ${applied} ms; ECDS reloads ${stats.reload - base.reload}, rejected ${stats.fail - base.fail}; JWKS fetches ${fetchedBefore} before, ${fetchedAfter} after`);
    assert.ok(load.results.length >= 20, `the loop ran (${load.results.length} requests)`);
    assert.deepEqual(bad, [], 'no 5xx or transport errors while the config changed');
    assert.deepEqual(refused, [], 'a valid token on /api/ was never refused');
    // (Envoy may count the rejected update's delivery as a reload too: the behaviour above
    // is the proof that each good one applied and the bad one did not.)
    assert.ok(stats.reload - base.reload >= 2, 'the two good updates were delivered');
    assert.ok(stats.fail - base.fail >= 1, 'the bad update was rejected');
    assert.ok(envoyLog.includes('invalid config at `rules[0].requires.provider`'), 'the refusal names the field');
    assert.equal(fetchedAfter, fetchedBefore, 'no JWKS refetch because the config changed');
  });
});
