// TLS to the IdP gone wrong after it worked (issue #12: "a wrong CA or wrong SNI is a
// failed fetch with a clear log line, then stale, then 503"), through a real Envoy and a
// real workerd: tls-swap-server.mjs (9485) serves the JWKS over HTTPS with a certificate
// of the test CA, which both gates trust (Envoy cluster `idp_swap`, workerd's tlsOptions).
// The first fetch succeeds; then the server swaps to a certificate of a rogue CA (same
// names): every fetch fails its handshake, the gates keep serving the last good keys
// (stale) and log the TLS failure; past max_stale_s (tls-swap.json: 6 s, refresh 1 s) they
// answer 503 with Retry-After; the server swaps back and they recover. The gate pair:
// Envoy 9486 (admin 9487, one worker VM), workerd 9488 (9489).
//
//   make up && cd tests && node --test faults/tls-swap.test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

import * as jose from 'jose';

import { REPO_ROOT } from '../e2e/lib/endpoints.mjs';
import { startSideGate, stopSideGate } from '../e2e/lib/gates.mjs';

const PORT = 9485;
const GATE = { name: 'tls-swap', envoy: 9486, admin: 9487, worker: 9488 };
const HOSTS = ['envoy', 'worker'];
const cfg = JSON.parse(readFileSync(resolve(REPO_ROOT, 'tests/faults/tls-swap.json'), 'utf8')).providers.swap;
const MAX_STALE_MS = cfg.jwks.max_stale_s * 1000;
const KEYS = resolve(REPO_ROOT, 'run/tls-swap-key.json');
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
let server;
let gate;
let serverOut = '';
let lastGood = 0; // when a token was last allowed while the good certificate served
const logStart = {};
const sizeOf = (f) => (existsSync(f) ? statSync(f).size : 0);
const newLog = (f) => readFileSync(f).subarray(logStart[f] ?? 0).toString('utf8');
const markLogs = () => { for (const h of HOSTS) logStart[gate[`${h}_log`]] = sizeOf(gate[`${h}_log`]); };

/** The good certificate (test CA) and the rogue one (a CA no gate trusts), same names. */
function certificates() {
  const code = `import sys; sys.path.insert(0, 'tests'); import pki, up
good = pki.issue('idp-swap', dns=[up.TLS_SWAP_SNI], ips=['127.0.0.1'])
rogue = pki.issue('idp-swap', dns=[up.TLS_SWAP_SNI], ips=['127.0.0.1'], pki=pki.PKI / 'rogue')
print(*good, *rogue)`;
  const r = spawnSync('python3', ['-c', code], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split(' ');
}

async function token() {
  const jwk = JSON.parse(readFileSync(KEYS, 'utf8'));
  return new jose.SignJWT({ sub: 'swap-user' })
    .setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: 'JWT' })
    .setIssuer(cfg.issuer).setAudience(cfg.audiences[0]).setIssuedAt().setExpirationTime('5m')
    .sign(await jose.importJWK(jwk, 'ES256'));
}

async function get(host, jwt) {
  const res = await fetch(`${gate[`${host}_url`]}/api/x`, { headers: { authorization: `Bearer ${jwt}` }, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Polls `probe` every 100 ms until it is true or `ms` have passed. */
async function until(ms, probe) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await probe()) return true;
    await sleep(100);
  }
  return probe();
}

async function swap(which) {
  const seen = serverOut.length;
  server.stdin.write(`${which}\n`);
  assert.ok(await until(5_000, () => serverOut.slice(seen).includes(`tls-swap: ${which}`)), `swap to ${which}`);
}

before(async () => {
  const [cert, key, rogueCert, rogueKey] = certificates();
  server = spawn(process.execPath, [resolve(REPO_ROOT, 'tests/faults/tls-swap-server.mjs'), '--port', String(PORT),
    '--keys-out', KEYS, '--cert', cert, '--key', key, '--rogue-cert', rogueCert, '--rogue-key', rogueKey],
  { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  server.stdout.on('data', (d) => { serverOut += d; });
  assert.ok(await until(20_000, () => serverOut.includes('listening')), 'tls-swap-server ready');
  gate = startSideGate(GATE, 'tests/faults/tls-swap.json');
});

after(() => {
  stopSideGate(GATE);
  server?.kill('SIGKILL');
});

test('the first fetch over TLS succeeds: a token is allowed on both hosts', async () => {
  const jwt = await token();
  for (const host of HOSTS) {
    const r = await get(host, jwt);
    assert.equal(r.status, 200, `${host}: ${r.text}`);
  }
  lastGood = Date.now();
});

test('a rogue certificate: a failed fetch, logged with its TLS reason, and the last good keys serve (stale)', async () => {
  markLogs();
  await swap('rogue');
  const failed = /jwtgate: provider swap: JWKS fetch failed/;
  const jwt = await token();
  const statuses = [];
  // The worker refreshes when a request comes in: keep asking both hosts until both
  // have logged a failed fetch; meanwhile every answer comes from the last good keys.
  assert.ok(await until(4_000, async () => {
    for (const host of HOSTS) statuses.push((await get(host, jwt)).status);
    return HOSTS.every((h) => failed.test(newLog(gate[`${h}_log`])));
  }), `both hosts log the failed fetch:\n${HOSTS.map((h) => newLog(gate[`${h}_log`])).join('\n')}`);
  assert.ok(Date.now() - lastGood < MAX_STALE_MS - 1_500, 'still well within max_stale_s of the last good fetch');
  for (const host of HOSTS) {
    const r = await get(host, jwt);
    assert.equal(r.status, 200, `${host}: stale keys serve within max_stale_s: ${r.text}`);
  }
  assert.deepEqual([...new Set(statuses)], [200], 'no request was refused while the keys were stale');
  // Why: Envoy's answer is its connect-failure reply and its cluster's TLS stats count the
  // refused certificate; workerd logs the handshake failure next to the gate's line.
  assert.match(newLog(gate.envoy_log), /provider swap: JWKS fetch failed: HTTP status 503; keeping the last good keys; .*\(response: upstream connect error/);
  const stats = await (await fetch(`${gate.envoy_admin_url}/stats?filter=idp_swap.ssl`)).text();
  const refused = [...stats.matchAll(/ssl\.(fail_verify_error|fail_verify_san|connection_error): (\d+)/g)];
  assert.ok(refused.some((m) => Number(m[2]) > 0), stats);
  const workerLog = newLog(gate.worker_log);
  assert.match(workerLog, /TLS handshake failed: invalid peer certificate/);
  assert.match(workerLog, /jwtgate: fetch GET https:\/\/127\.0\.0\.1:9485\/jwks failed: /);
  assert.match(workerLog, /provider swap: JWKS fetch failed: .*keeping the last good keys/);
});

test('past max_stale_s: 503 with Retry-After on both hosts, never an allow', async () => {
  const jwt = await token();
  const answers = {};
  assert.ok(await until(MAX_STALE_MS + 2_000, async () => {
    for (const host of HOSTS) answers[host] = await get(host, jwt);
    return HOSTS.every((h) => answers[h].status !== 200);
  }), 'both hosts stop allowing');
  for (const host of HOSTS) {
    assert.equal(answers[host].status, 503, `${host}: ${answers[host].text}`);
    assert.equal(answers[host].headers.get('retry-after'), '5');
  }
  assert.ok(Date.now() - lastGood >= MAX_STALE_MS - 1_000, 'not before max_stale_s');
});

test('the good certificate again: both hosts recover', async () => {
  await swap('good');
  const jwt = await token();
  assert.ok(await until(5_000, async () => {
    const rs = await Promise.all(HOSTS.map((h) => get(h, jwt)));
    return rs.every((r) => r.status === 200);
  }), 'both hosts allow again');
});
