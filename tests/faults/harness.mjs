// Shared machinery of the fault-injection suite: the controllable JWKS server, the
// `faults` gate pair (Envoy + workerd, started through tests/up.py), HTTP requests that
// never throw, token signing with the server's keys, Envoy stats, log tails, polling.
//
// Nothing here is a test; faults.test.mjs and the scenario modules use it.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before } from 'node:test';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import http from 'node:http';
import { resolve } from 'node:path';

import * as jose from 'jose';

import * as tokens from '../e2e/tokens.mjs';

export const ROOT = tokens.REPO_ROOT;
export const CONFIG_FILE = 'tests/faults/jwtgate.json';
export const FAULT_PORT = 9430;
export const PORTS = { envoy: 9440, admin: 9441, worker: 9442 };
export const ISSUER = 'https://faulty.example';
export const AUDIENCE = 'https://api.example';

// The timings of tests/faults/jwtgate.json, read back so the assertions follow the file.
const cfg = JSON.parse(readFileSync(resolve(ROOT, CONFIG_FILE), 'utf8'));
const j = cfg.providers.faulty.jwks;
export const T = {
  refreshMs: j.refresh_interval_s * 1000,
  minRefreshMs: j.min_refresh_interval_s * 1000,
  timeoutMs: j.timeout_ms,
  maxStaleMs: j.max_stale_s * 1000,
  cooldownMs: j.kid_refetch_cooldown_s * 1000,
  holdMs: cfg.startup_hold_ms,
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rand = () => randomBytes(6).toString('hex');

/** The main stack must be up (upstreams on 9401/9402, run/endpoints.json). */
export const endpoints = tokens.loadEndpoints();
const ctx = tokens.createTokenContext(endpoints);

// ---------------------------------------------------------------------------
// Cleanup that survives a crashing test process.

const cleanups = new Set();
function runCleanups() {
  for (const fn of cleanups) {
    try { fn(); } catch { /* best effort */ }
  }
  cleanups.clear();
}
process.on('exit', runCleanups);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => { runCleanups(); process.exit(128 + (sig === 'SIGINT' ? 2 : 15)); });
}

// ---------------------------------------------------------------------------
// The controllable JWKS server.

export async function startJwksServer({ port = FAULT_PORT, timeoutMs = 20_000 } = {}) {
  const child = spawn(process.execPath, [resolve(ROOT, 'tests/faults/jwks-server.mjs'), '--port', String(port)], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killSync = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  cleanups.add(killSync);
  let out = '';
  child.stdout.on('data', (d) => { out = (out + d).slice(-20_000); });
  child.stderr.on('data', (d) => { out = (out + d).slice(-20_000); });
  await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`jwks-server not ready after ${timeoutMs} ms: ${out}`)), timeoutMs);
    const check = () => { if (out.includes('jwks-server listening')) { clearTimeout(timer); res(); } };
    child.stdout.on('data', check);
    child.on('exit', (code) => { clearTimeout(timer); rej(new Error(`jwks-server exited with ${code}: ${out}`)); });
  });
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, path, body) => {
    const r = await request(base, path, { method, body: body === undefined ? undefined : JSON.stringify(body), timeoutMs: 5000 });
    assert.equal(r.status, 200, `jwks-server ${method} ${path}: ${r.status} ${r.error ?? r.text}`);
    return JSON.parse(r.text);
  };
  const server = {
    base,
    pid: child.pid,
    output: () => out,
    control: (c) => call('POST', '/__control', c),
    stats: () => call('GET', '/__stats'),
    reset: () => call('POST', '/__reset'),
    privateKeys: () => call('GET', '/__keys'),
    async stop() {
      cleanups.delete(killSync);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
  return server;
}

/** /jwks requests in a stats snapshot by origin: "envoy" (x-envoy-* headers) or "worker". */
export function fetchesFrom(stats, host, sinceMs = 0) {
  const from = host === 'envoy' ? 'envoy' : 'other';
  return stats.requests.filter((r) => r.from === from && r.t >= sinceMs);
}

// ---------------------------------------------------------------------------
// The gate pair.

function upPy(args, opts = {}) {
  return spawnSync('python3', [resolve(ROOT, 'tests/up.py'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, ...opts });
}

const stoppers = new Map();
/** One cleanup function per gate name, so that the exit hook stops each gate once. */
function gateStopper(name) {
  if (!stoppers.has(name)) stoppers.set(name, () => upPy(['stop-gate', '--name', name]));
  return stoppers.get(name);
}

export function stopGate(name = 'faults') {
  cleanups.delete(gateStopper(name));
  const r = upPy(['stop-gate', '--name', name]);
  if (r.status !== 0) throw new Error(`stop-gate failed: ${r.stderr}`);
}

function gateArgs(name, concurrency, config = CONFIG_FILE) {
  return ['start-gate', '--name', name, '--gate-config', config,
    '--envoy-port', String(PORTS.envoy), '--admin-port', String(PORTS.admin), '--worker-port', String(PORTS.worker),
    '--concurrency', String(concurrency)];
}

function parseGateInfo(stdout, stderr, status) {
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (status !== 0 || !line) throw new Error(`start-gate failed (${status}): ${stdout}\n${stderr}`);
  const info = JSON.parse(line);
  return { ...info, hosts: { envoy: info.envoy_url, worker: info.worker_url } };
}

/**
 * Starts the `faults` gate pair. With `background`, returns at once with
 * {done: Promise<info>} so a test can talk to the gate while it boots.
 */
export function startGate({ name = 'faults', concurrency = 4, background = false, config = CONFIG_FILE } = {}) {
  cleanups.add(gateStopper(name));
  const offsets = { envoy: fileSize(resolve(ROOT, `run/logs/${name}-envoy-main.log`)), worker: fileSize(resolve(ROOT, `run/logs/${name}-worker.log`)) };
  if (!background) {
    const r = upPy(gateArgs(name, concurrency, config));
    return { ...parseGateInfo(r.stdout, r.stderr, r.status), logOffsets: offsets };
  }
  const child = spawn('python3', [resolve(ROOT, 'tests/up.py'), ...gateArgs(name, concurrency, config)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const done = new Promise((res, rej) => child.on('exit', (code) => {
    try { res({ ...parseGateInfo(stdout, stderr, code), logOffsets: offsets }); } catch (e) { rej(e); }
  }));
  done.catch(() => {});
  return {
    done,
    hosts: { envoy: `http://127.0.0.1:${PORTS.envoy}`, worker: `http://127.0.0.1:${PORTS.worker}` },
    envoy_admin_url: `http://127.0.0.1:${PORTS.admin}`,
    envoy_log: resolve(ROOT, `run/logs/${name}-envoy-main.log`),
    worker_log: resolve(ROOT, `run/logs/${name}-worker.log`),
    logOffsets: offsets,
  };
}

// ---------------------------------------------------------------------------
// HTTP that never throws: {status (0 on a transport error), headers, text, error, t0, t1, ms}.

export function request(base, path, { method = 'GET', token, headers = {}, body, agent = false, timeoutMs = 15_000 } = {}) {
  return new Promise((done) => {
    const u = new URL(path, base);
    const t0 = Date.now();
    const finish = (r) => done({ headers: {}, text: '', ...r, t0, t1: Date.now(), ms: Date.now() - t0 });
    const h = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    if (body !== undefined) { h['content-type'] ??= 'application/json'; h['content-length'] = Buffer.byteLength(body); }
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: h, agent, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => finish({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => finish({ status: 0, error: e.code ?? e.message }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })));
    req.on('error', (e) => finish({ status: 0, error: e.code ?? e.message }));
    req.end(body);
  });
}

/** `GET <gate>/api/x` with a bearer token. */
export const api = (base, token, opts = {}) => request(base, '/api/x', { token, ...opts });

/** What a gate answer means: allowed | invalid_token | unavailable | other:<status>. */
export function classify(res) {
  if (res.status === 200) {
    try {
      const echo = JSON.parse(res.text);
      if (echo.service === 'node' && echo.path === '/api/x' && echo.method === 'GET') return 'allowed';
    } catch { /* fall through */ }
    return 'other:200-without-echo';
  }
  if (res.status === 401) {
    const www = res.headers['www-authenticate'] ?? '';
    let err;
    try { err = JSON.parse(res.text).error; } catch { /* not JSON */ }
    if (www.includes('error="invalid_token"') && err === 'invalid_token') return 'invalid_token';
    return `other:401:${err}`;
  }
  if (res.status === 503) {
    let err;
    try { err = JSON.parse(res.text).error; } catch { /* not JSON */ }
    if (res.headers['retry-after'] && err === 'temporarily_unavailable') return 'unavailable';
    return `other:503:retry-after=${res.headers['retry-after']}:${err}`;
  }
  return `other:${res.status}${res.error ? `:${res.error}` : ''}`;
}

export const describeRes = (res) => `${res.status}${res.error ? ` (${res.error})` : ''} after ${res.ms} ms: ${String(res.text).slice(0, 200)}`;

export function assertKind(res, want, what) {
  assert.equal(classify(res), want, `${what}: expected ${want}, got ${describeRes(res)}`);
}

// ---------------------------------------------------------------------------
// Tokens signed with the JWKS server's keys (claims from tests/e2e/tokens.mjs).

async function sign(key, alg, kid, claims) {
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg, kid, typ: 'at+jwt' })
    .sign(key);
}

export const faultyClaims = (over = {}) => tokens.craftedClaims(ctx, { iss: ISSUER, aud: AUDIENCE, ...over });

/** {A(), B()}: fresh valid tokens signed with the server's key A (RS256) / B (ES256). */
export async function signers(server) {
  const jwks = await server.privateKeys();
  const out = {};
  for (const [name, jwk] of Object.entries(jwks)) {
    const key = await jose.importJWK(jwk, jwk.alg);
    out[name] = () => sign(key, jwk.alg, jwk.kid, faultyClaims());
  }
  return out;
}

/** `n` valid-looking tokens, each with a random kid no server knows, signed by a fresh key. */
export async function unknownKidTokens(n) {
  const { privateKey } = await jose.generateKeyPair('ES256');
  const out = [];
  for (let i = 0; i < n; i++) out.push(await sign(privateKey, 'ES256', `spray-${rand()}`, faultyClaims()));
  return out;
}

// ---------------------------------------------------------------------------
// Envoy admin stats.

/** `/stats?filter=jwtgate` as {name: number}. */
export async function envoyStats(admin) {
  const r = await request(admin, '/stats?filter=jwtgate', { timeoutMs: 5000 });
  assert.equal(r.status, 200, `Envoy admin /stats: ${describeRes(r)}`);
  const out = {};
  for (const line of r.text.split('\n')) {
    const m = /^(\S+): (\d+)$/.exec(line.trim());
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** `/stats/prometheus` lines that mention jwtgate as {name: number}. */
export async function envoyPrometheus(admin) {
  const r = await request(admin, '/stats/prometheus', { timeoutMs: 5000 });
  assert.equal(r.status, 200, `Envoy admin /stats/prometheus: ${describeRes(r)}`);
  const out = {};
  for (const line of r.text.split('\n')) {
    const m = /^([A-Za-z_:][\w:]*)(?:\{[^}]*\})? (\S+)$/.exec(line.trim());
    if (m && m[1].includes('jwtgate')) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** The proxy-wasm metric `jwtgate.<name>` as Envoy prints it at /stats. */
export const M = (name) => `wasmcustom.jwtgate.${name}`;

// ---------------------------------------------------------------------------
// Logs and polling.

export function fileSize(path) {
  try { return statSync(path).size; } catch { return 0; }
}

/** The text a log file gained since byte `offset`. */
export function logSince(path, offset = 0) {
  let fd;
  try {
    fd = openSync(path, 'r');
    const size = statSync(path).size;
    const len = Math.max(0, size - offset);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, offset);
    return buf.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** `jwtgate: provider faulty: …` events in a log text. */
export const providerEvents = (text) => text.split('\n').filter((l) => l.includes('jwtgate: provider faulty:'))
  .map((l) => l.slice(l.indexOf('jwtgate: provider faulty:')));

/**
 * Calls `fn` every `intervalMs` until it returns a truthy value; throws with the last
 * value (`describe(value)`) after `timeoutMs`.
 */
export async function pollUntil(fn, { timeoutMs, intervalMs = 200, what = 'condition', describe = (v) => JSON.stringify(v) } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (let i = 0; ; i++) {
    last = await fn(i);
    if (last && last.done !== false) return last;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${describe(last)}`);
    await sleep(intervalMs);
  }
}

/**
 * Runs `fn(host, base)` for both hosts at once. Returns {host: {ok, value|error}};
 * a failure on one host does not stop the other.
 */
export async function onBothHosts(gate, fn, hosts = ['envoy', 'worker']) {
  const settled = await Promise.allSettled(hosts.map((h) => fn(h, gate.hosts[h])));
  return Object.fromEntries(hosts.map((h, i) => [h, settled[i].status === 'fulfilled'
    ? { ok: true, value: settled[i].value } : { ok: false, error: settled[i].reason }]));
}

/** Reports each host's outcome as its own subtest, named `<host>: <what>`. */
export async function reportHosts(t, results, what) {
  for (const [host, r] of Object.entries(results)) {
    await t.test(`${host}: ${what}`, () => { if (!r.ok) throw r.error; });
  }
}

export const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;

// ---------------------------------------------------------------------------
// Per-scenario set-up: a fresh JWKS server (in `serverState`) and, unless `gate` is
// false, a fresh gate pair. Everything is stopped in `after`, also on failure.

export function scenarioHooks(s, { serverState = { mode: 'keys', keys: ['A'] }, gate = true, concurrency = 4 } = {}) {
  before(async () => {
    s.server = await startJwksServer();
    await s.server.control(serverState);
    s.sign = await signers(s.server);
    if (gate) s.gate = startGate({ concurrency });
  });
  after(async () => {
    const errors = [];
    try { stopGate(); } catch (e) { errors.push(e); }
    try { await s.server?.stop(); } catch (e) { errors.push(e); }
    if (errors.length) throw errors[0];
  });
}

/** Polls `GET /api/x` with a fresh token-A until allowed (e.g. after a cold start). */
export async function waitAllowed(base, sign, { timeoutMs = T.holdMs + 8000, what = 'token-A allowed' } = {}) {
  const seen = [];
  return pollUntil(async () => {
    const res = await api(base, await sign());
    seen.push(classify(res));
    return classify(res) === 'allowed' ? res : null;
  }, { timeoutMs, intervalMs: 250, what, describe: () => seen.slice(-8).join(', ') });
}
