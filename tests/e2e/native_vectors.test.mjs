// Wycheproof's primitive vectors for the algorithms the Envoy fast path verifies
// (RS256/384/512, ES256/384) run through `EnvoyVerifier` inside a real Envoy: Envoy's
// BoringSSL behind the `verify_signature` foreign function, the same call the gate makes.
//
// The filter is built with the test-only `vector-endpoint` feature into its own target
// dir (never the production wasm):
//   CARGO_TARGET_DIR=target/vectors cargo build --release --target wasm32-wasip1 \
//     -p jwtgate-filter --features vector-endpoint
// That build answers `POST /__jwtgate/vectors` (filter/src/vectors.rs) with one
// true / false / null ("native declined") per vector.
//
// Expectations: `valid` → true, `invalid` → false, `acceptable` → decided by flag in
// tests/wycheproof-exceptions.json (`acceptable`, shared with the core runner; the prose
// is in tests/wycheproof-exceptions.md). Every other outcome must be listed in that file's
// `envoyNativeExceptions` under `<file>:envoy-native`; a listed entry that no longer
// occurs fails too.
//
// Vectors: $JWTGATE_WYCHEPROOF_DIR or ../shared/test-vectors/wycheproof/ beside the repo
// (absent → `skipping: …`, pass). Envoy listens on 9480 (admin 9481).
//
// Envoy turns a header-phase Pause into StopAllIterationAndWatermark, which never hands
// the body to the filter; the rendered config therefore sets the plugin's
// `allow_on_headers_stop_iteration: true` (Envoy >= 1.35). Only this test's Envoy has it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const envoyBin = process.env.ENVOY_BIN || path.join(root, '.venv', 'bin', 'envoy');
const wasm = process.env.JWTGATE_VECTOR_WASM
  || path.join(root, 'target', 'vectors', 'wasm32-wasip1', 'release', 'jwtgate_filter.wasm');
const vectorDir = process.env.JWTGATE_WYCHEPROOF_DIR
  || path.resolve(root, '..', 'shared', 'test-vectors', 'wycheproof');
const exceptionsFile = path.join(root, 'tests', 'wycheproof-exceptions.json');
const PORT = Number(process.env.JWTGATE_VECTORS_PORT || 9480);
const ADMIN = Number(process.env.JWTGATE_VECTORS_ADMIN_PORT || 9481);
const TIMEOUT_MS = 60_000; // per request: a stuck endpoint fails the test, not the suite's timeout
const URL = `http://127.0.0.1:${PORT}`;
const ENDPOINT = `${URL}/__jwtgate/vectors`;
const runDir = path.join(root, 'run', 'native-vectors');
const BATCH_BYTES = 256 * 1024; // well under Envoy's 1 MiB default request buffer
const LABEL_SUFFIX = ':envoy-native';

// The files the native path handles, as in core/tests/wycheproof.rs (RSA_PKCS1, ECDSA).
const FILES = [
  'rsa_signature_2048_sha256_test.json',
  'rsa_signature_2048_sha384_test.json',
  'rsa_signature_2048_sha512_test.json',
  'rsa_signature_3072_sha256_test.json',
  'rsa_signature_4096_sha256_test.json',
  'ecdsa_secp256r1_sha256_p1363_test.json',
  'ecdsa_secp384r1_sha384_p1363_test.json',
];

const skipReason = !existsSync(vectorDir)
  ? `Wycheproof vectors not found at ${vectorDir} (set JWTGATE_WYCHEPROOF_DIR to run them)`
  : !existsSync(wasm) && process.env.JWTGATE_REQUIRE_HOSTS !== '1'
    ? `the vector-endpoint filter is not built at ${wasm} (CARGO_TARGET_DIR=target/vectors cargo build --release --target wasm32-wasip1 -p jwtgate-filter --features vector-endpoint)`
    : null;
if (skipReason) console.log(`skipping: ${skipReason}`);

// ---------------------------------------------------------------------------
// tests/wycheproof-exceptions.json: its shape is defined by core/tests/wycheproof/support.rs,
// whose `exceptions_file_is_well_formed` test checks the whole file, this test's part
// included. Here it is only read, refusing whatever this test could misread.

function loadExceptions() {
  const doc = JSON.parse(readFileSync(exceptionsFile, 'utf8'));
  const fail = (at, msg) => { throw new Error(`${exceptionsFile}: ${at}: ${msg}`); };
  const rows = (section) => (Array.isArray(doc[section]) ? doc[section] : fail(section, 'is not a list'));
  const acceptable = new Map();
  rows('acceptable').forEach(({ flag, verdict }, i) => {
    if (verdict !== 'accept' && verdict !== 'reject') fail(`acceptable[${i}]`, 'verdict must be accept or reject');
    if (acceptable.has(flag)) fail(`acceptable[${i}]`, `flag ${flag} is decided twice`);
    acceptable.set(flag, verdict === 'accept');
  });
  const listed = new Map(); // label -> Map(tcId -> reason)
  rows('envoyNativeExceptions').forEach(({ label, tcIds, reason }, i) => {
    const at = `envoyNativeExceptions[${i}]`;
    if (typeof label !== 'string' || !label.endsWith(LABEL_SUFFIX) || !FILES.includes(label.slice(0, -LABEL_SUFFIX.length))) {
      fail(at, `unknown label ${label}; known: ${FILES.map((f) => f + LABEL_SUFFIX).join(', ')}`);
    }
    if (!Array.isArray(tcIds) || !tcIds.length || !tcIds.every((id) => Number.isSafeInteger(id) && id >= 0)) {
      fail(at, 'tcIds must be a non-empty list of tcIds');
    }
    if (typeof reason !== 'string' || !reason.trim()) fail(at, 'reason is empty');
    if (!listed.has(label)) listed.set(label, new Map());
    for (const id of tcIds) {
      if (listed.get(label).has(id)) fail(at, `${label} tcId ${id} is listed twice`);
      listed.get(label).set(id, reason);
    }
  });
  return { acceptable, listed };
}

/** Sorted ids in the compact form messages use: `1, 4-6, 9`. */
function ranges(ids) {
  const parts = [];
  for (let i = 0; i < ids.length;) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j] + 1) j++;
    parts.push(i === j ? `${ids[i]}` : `${ids[i]}-${ids[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

function acceptableVerdict(ex, label, t) {
  const verdicts = new Set((t.flags || []).filter((f) => ex.acceptable.has(f)).map((f) => ex.acceptable.get(f)));
  if (verdicts.size === 1) return [...verdicts][0];
  const why = verdicts.size === 0 ? 'none decided' : 'decided both ways';
  throw new Error(`${label} tcId ${t.tcId}: \`acceptable\` with flags ${JSON.stringify(t.flags)}, ${why} in ${exceptionsFile}`);
}

// ---------------------------------------------------------------------------
// Vectors

/** The JWS algorithm a group maps to (as core/tests/wycheproof/primitive.rs decides). */
function algFor(file, g) {
  if (g.type === 'RsassaPkcs1Verify') {
    const alg = { 'SHA-256': 'RS256', 'SHA-384': 'RS384', 'SHA-512': 'RS512' }[g.sha];
    if (alg) return alg;
  } else if (g.type === 'EcdsaP1363Verify') {
    const curve = g.publicKey?.curve;
    if (curve === 'secp256r1' && g.sha === 'SHA-256') return 'ES256';
    if (curve === 'secp384r1' && g.sha === 'SHA-384') return 'ES384';
  }
  throw new Error(`${file}: unexpected group ${g.type} / ${g.sha} / ${g.publicKey?.curve}`);
}

function loadVectors(file) {
  const doc = JSON.parse(readFileSync(path.join(vectorDir, file), 'utf8'));
  const out = [];
  for (const g of doc.testGroups) {
    const alg = algFor(file, g);
    assert.match(g.publicKeyDer ?? '', /^30[0-9a-f]+$/i, `${file}: a group has no publicKeyDer (SPKI)`);
    for (const t of g.tests) {
      out.push({ file, t, alg, req: { alg, spki_der_hex: g.publicKeyDer, msg_hex: t.msg, sig_hex: t.sig } });
    }
  }
  return out;
}

async function postBatch(items) {
  const res = await fetch(ENDPOINT, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(items.map((v) => v.req)),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `POST ${ENDPOINT}: ${res.status} ${text}`);
  const results = JSON.parse(text);
  assert.ok(Array.isArray(results) && results.length === items.length, `expected ${items.length} results, got ${text.slice(0, 200)}`);
  return results;
}

function batches(vectors) {
  const out = [];
  let cur = [];
  let size = 2;
  for (const v of vectors) {
    const n = JSON.stringify(v.req).length + 1;
    if (cur.length && size + n > BATCH_BYTES) { out.push(cur); cur = []; size = 2; }
    cur.push(v);
    size += n;
  }
  if (cur.length) out.push(cur);
  return out;
}

// ---------------------------------------------------------------------------
// Envoy with the vector-endpoint filter

let envoy = null;
const envoyLog = path.join(runDir, 'envoy.log');

function gateConfig() {
  // Any valid config: the vector endpoint answers before the gate decides.
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'vectors', alg: 'ES256', use: 'sig' };
  return {
    realm: 'jwtgate-vectors',
    verifier: 'auto',
    providers: {
      vectors: { issuer: 'https://vectors.invalid', audiences: ['https://api.example'], jwks: { inline: { keys: [jwk] } } },
    },
    rules: [{ match: { prefix: '/' }, requires: { provider: 'vectors' } }],
  };
}

function logTail() {
  try { return readFileSync(envoyLog, 'utf8').split('\n').slice(-30).join('\n'); } catch { return '(no log)'; }
}

/** True when something already listens on the port (it must not answer for our Envoy). */
function listening(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setTimeout(1000);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('timeout', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(false));
  });
}

async function waitReady(timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    if (envoy.exitCode !== null || envoy.signalCode !== null) {
      throw new Error(`Envoy exited (${envoy.exitCode ?? envoy.signalCode}); log ${envoyLog}:\n${logTail()}`);
    }
    try {
      const r = await fetch(`http://127.0.0.1:${ADMIN}/ready`);
      if (r.status === 200) return;
      last = r.status;
    } catch (e) { last = e.message; }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Envoy not ready on :${ADMIN} after ${timeoutMs} ms (${last}); log ${envoyLog}:\n${logTail()}`);
}

async function stopEnvoy() {
  if (!envoy) return;
  const proc = envoy;
  envoy = null;
  const alive = () => { try { process.kill(-proc.pid, 0); return true; } catch { return false; } };
  try { process.kill(-proc.pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + 5000;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive()) try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
}
// A crashing or killed test process (e.g. a runner's timeout) must not leave Envoy behind.
const killNow = () => { if (envoy) try { process.kill(-envoy.pid, 'SIGKILL'); } catch { /* gone */ } envoy = null; };
process.on('exit', killNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { killNow(); process.exit(128 + { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }[sig]); });
}

before(async () => {
  if (skipReason) return;
  assert.ok(existsSync(wasm), `the vector-endpoint filter is not built at ${wasm}; build it with `
    + 'CARGO_TARGET_DIR=target/vectors cargo build --release --target wasm32-wasip1 -p jwtgate-filter --features vector-endpoint');
  const newest = (dir) => readdirSync(dir).reduce((m, f) => Math.max(m, statSync(path.join(dir, f)).mtimeMs), 0);
  if (Math.max(newest(path.join(root, 'filter', 'src')), newest(path.join(root, 'core', 'src'))) > statSync(wasm).mtimeMs) {
    console.log(`note: ${wasm} is older than filter/src or core/src; rebuild it to test the current code`);
  }
  for (const port of [PORT, ADMIN]) {
    assert.equal(await listening(port), false, `127.0.0.1:${port} is already in use (a leftover Envoy? \`ss -ltnp | grep ${port}\`); `
      + 'set JWTGATE_VECTORS_PORT / JWTGATE_VECTORS_ADMIN_PORT to use other ports');
  }
  mkdirSync(runDir, { recursive: true });
  const gateFile = path.join(runDir, 'jwtgate.json');
  const cfgFile = path.join(runDir, 'envoy.yaml');
  writeFileSync(gateFile, JSON.stringify(gateConfig(), null, 2));
  const render = spawnSync('python3', [path.join(root, 'tests', 'up.py'), 'render-envoy', '--gate-config', gateFile,
    '--out', cfgFile, '--listen', String(PORT), '--admin', String(ADMIN), '--wasm', wasm], { cwd: root, encoding: 'utf8' });
  assert.equal(render.status, 0, `render-envoy failed: ${render.stderr}`);
  const yaml = readFileSync(cfgFile, 'utf8');
  const anchor = /^( *)root_id: jwtgate\n/m;
  assert.match(yaml, anchor, `${cfgFile}: no \`root_id: jwtgate\` line to put allow_on_headers_stop_iteration beside`);
  // The gate template may carry the flag already (browser sessions' back-channel logout).
  const flagged = /allow_on_headers_stop_iteration: true/.test(yaml);
  writeFileSync(cfgFile, flagged ? yaml : yaml.replace(anchor, (line, indent) => `${line}${indent}allow_on_headers_stop_iteration: true\n`));
  const log = openSync(envoyLog, 'w');
  // Envoy exits when the process that started it exits: a shell stays behind as its
  // parent (`; exit $?` keeps it from exec-ing), in its own process group.
  envoy = spawn('sh', ['-c', '"$0" "$@"; exit $?', envoyBin, '-c', cfgFile, '--concurrency', '1',
    '--use-dynamic-base-id', '--log-level', 'warn', '--component-log-level', 'wasm:info',
    '--log-path', path.join(runDir, 'access.log')], { cwd: root, detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  await waitReady();
});

after(stopEnvoy);

// ---------------------------------------------------------------------------

test('vector endpoint: answers only its own path, and says when native declines', { skip: skipReason ?? false }, async () => {
  const req = (p, init = {}) => fetch(`${URL}${p}`, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  const get = await req('/__jwtgate/vectors');
  assert.equal(get.status, 405, 'GET is refused');
  const bad = await req('/__jwtgate/vectors', { method: 'POST', body: '{"not": "an array"}' });
  assert.equal(bad.status, 400, 'a body that is not an array is refused');
  // PS256 is not on the native path: EnvoyVerifier declines (the gate would use software).
  const ps = await req('/__jwtgate/vectors', { method: 'POST', body: JSON.stringify([{ alg: 'PS256', spki_der_hex: '', msg_hex: '', sig_hex: '' }]) });
  assert.equal(ps.status, 200);
  assert.deepEqual(await ps.json(), [null]);
  // Anything else, including the same path with a query, is the gate's: no token → 401.
  for (const p of ['/__jwtgate/vectors?x=1', '/__jwtgate/vectors/', '/other']) {
    const r = await req(p, { method: 'POST', body: '[]' });
    assert.equal(r.status, 401, `${p} goes through the gate`);
  }
});

test('Wycheproof primitive vectors through EnvoyVerifier (BoringSSL) match tests/wycheproof-exceptions.json', { skip: skipReason ?? false }, async () => {
  const ex = loadExceptions();
  const problems = [];
  const summaries = [];
  for (const file of FILES) {
    assert.ok(existsSync(path.join(vectorDir, file)), `${vectorDir} is incomplete: ${file} is missing`);
    const label = file + LABEL_SUFFIX;
    const vectors = loadVectors(file);
    const mismatches = new Map();
    let run = 0;
    for (const batch of batches(vectors)) {
      const results = await postBatch(batch);
      batch.forEach(({ t, alg }, i) => {
        let expected;
        if (t.result === 'valid') expected = true;
        else if (t.result === 'invalid') expected = false;
        else if (t.result === 'acceptable') {
          try { expected = acceptableVerdict(ex, label, t); } catch (e) { problems.push(e.message); return; }
        } else throw new Error(`${file} tcId ${t.tcId}: unknown result ${t.result}`);
        run++;
        const actual = results[i];
        if (actual !== expected) {
          const got = actual === null ? 'native declined (null)' : actual ? 'accepted' : 'rejected';
          mismatches.set(t.tcId, `expected ${expected ? 'accept' : 'reject'}, ${got}: ${alg} via verify_signature; `
            + `result ${t.result}; flags ${JSON.stringify(t.flags)}; comment ${JSON.stringify(t.comment)}`);
        }
      });
    }
    const listed = ex.listed.get(label) ?? new Map();
    const explained = [...mismatches.keys()].filter((id) => listed.has(id)).length;
    summaries.push(`envoy-native ${file}: ${run} run, ${run - mismatches.size} matched, ${explained} exceptions`);
    console.log(summaries.at(-1));
    const unexplained = [...mismatches.keys()].filter((id) => !listed.has(id)).sort((a, b) => a - b);
    if (unexplained.length) {
      problems.push(`${label}: unexplained mismatches, tcIds ${ranges(unexplained)}:\n`
        + unexplained.map((id) => `    tcId ${id}: ${mismatches.get(id)}`).join('\n'));
    }
    const stale = [...listed.keys()].filter((id) => !mismatches.has(id)).sort((a, b) => a - b);
    if (stale.length) {
      problems.push(`${label}: stale exceptions (now as Wycheproof expects, or no such vector), tcIds ${ranges(stale)}; remove them from ${exceptionsFile}`);
    }
  }
  writeFileSync(path.join(runDir, 'summary.txt'), summaries.join('\n') + '\n');
  assert.equal(problems.length, 0, `Wycheproof vectors (Envoy native) disagree with ${exceptionsFile}:\n  ${problems.join('\n  ')}`);
});
