// Introspection under IdP faults, through a real Envoy and a real workerd: a controllable
// introspection endpoint (introspection-server.mjs, port 9460) and a gate pair with
// tests/faults/introspection.json (Envoy 9461/9462 with one worker VM, workerd 9463/9464): an IdP error
// serves the last positive answer within stale_if_error_s (counted), then 503 with
// Retry-After; a hanging or down IdP is 503, never 401, never allow; active:false is 401.
// And TLS to the IdP gone wrong: provider tls_wrong reaches the HTTPS issuer through a
// cluster with the wrong SNI/SAN (Envoy) or a host name its certificate lacks (workerd):
// a failed JWKS fetch with a log line, then 503.
//
//   make up && cd tests && node --test faults/introspection.test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

import { loadEndpoints, REPO_ROOT } from '../e2e/lib/endpoints.mjs';
import { startSideGate, stopSideGate } from '../e2e/lib/gates.mjs';
import { thirdToken } from '../e2e/lib/https.mjs';

const PORT = 9460;
const GATE = { name: 'intro-faults', envoy: 9461, admin: 9462, worker: 9463 };
const cfg = JSON.parse(readFileSync(resolve(REPO_ROOT, 'tests/faults/introspection.json'), 'utf8')).providers.intro;
const TTL_MS = cfg.introspection.max_ttl_s * 1000;
const STALE_MS = cfg.introspection.stale_if_error_s * 1000;
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
let server;
let gate;
// The gates' logs are appended to across runs: read only what this run wrote.
const logStart = {};
const sizeOf = (f) => (existsSync(f) ? statSync(f).size : 0);
const newLog = (f) => readFileSync(f).subarray(logStart[f] ?? 0).toString('utf8');

async function control(body) {
  const res = await fetch(`http://127.0.0.1:${PORT}/__control`, { method: 'POST', body: JSON.stringify(body) });
  assert.equal(res.status, 200);
}

async function calls() {
  return (await (await fetch(`http://127.0.0.1:${PORT}/__stats`)).json()).count;
}

async function get(base, token, path = '/api/x') {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(15_000) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const fresh = () => `opaque${Math.random().toString(36).slice(2)}${Date.now()}`;

// A JWT of provider `hybrid` (its inline HS256 key), unique per call.
const hybrid = JSON.parse(readFileSync(resolve(REPO_ROOT, 'tests/faults/introspection.json'), 'utf8')).providers.hybrid;
function signedJwt() {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = enc({ alg: 'HS256', typ: 'JWT', kid: 'k' });
  const body = enc({ iss: hybrid.issuer, aud: hybrid.audiences[0], sub: 'svc-user', iat: now, exp: now + 300, jti: fresh() });
  const key = Buffer.from(hybrid.jwks.inline.keys[0].k, 'base64url');
  return `${head}.${body}.${createHmac('sha256', key).update(`${head}.${body}`).digest('base64url')}`;
}

before(async () => {
  server = spawn(process.execPath, [resolve(REPO_ROOT, 'tests/faults/introspection-server.mjs'), '--port', String(PORT)],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error('introspection-server not ready')), 20_000);
    server.stdout.on('data', (d) => { if (String(d).includes('listening')) { clearTimeout(timer); res(); } });
  });
  for (const which of ['envoy-main', 'worker']) {
    const f = resolve(REPO_ROOT, `run/logs/${GATE.name}-${which}.log`);
    logStart[f] = sizeOf(f);
  }
  gate = startSideGate(GATE, 'tests/faults/introspection.json');
});

after(() => {
  stopSideGate(GATE);
  server?.kill('SIGKILL');
});

for (const host of ['envoy', 'worker']) {
  test(`${host}: an IdP error serves the expired answer within stale_if_error_s, then 503`, async () => {
    const base = gate[`${host}_url`];
    await control({ mode: 'active' });
    const token = fresh();
    assert.equal((await get(base, token)).status, 200);
    await control({ mode: 'status', status: 500 });
    await sleep(TTL_MS + 200);
    const stale = await get(base, token);
    assert.equal(stale.status, 200, `within stale_if_error_s: ${stale.text}`);
    await sleep(STALE_MS);
    const gone = await get(base, token);
    assert.equal(gone.status, 503, gone.text);
    assert.equal(gone.headers.get('retry-after'), '5');
    assert.equal(gone.headers.get('www-authenticate'), null, 'a 503 does not blame the token');
  });

  for (const mode of ['hang', 'down', 'status']) {
    test(`${host}: IdP ${mode} is 503 with Retry-After, never 401 or allow`, async () => {
      await control({ mode, status: 502 });
      const r = await get(gate[`${host}_url`], fresh());
      assert.equal(r.status, 503, r.text);
      assert.equal(r.headers.get('retry-after'), '5');
      assert.match(r.text, /temporarily_unavailable/);
    });
  }

  test(`${host}: active false is 401 invalid_token, asked once for concurrent requests`, async () => {
    await control({ mode: 'inactive' });
    const token = fresh();
    const before = await calls();
    const rs = await Promise.all([1, 2, 3, 4].map(() => get(gate[`${host}_url`], token)));
    for (const r of rs) {
      assert.equal(r.status, 401, r.text);
      assert.match(r.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    }
    assert.equal((await calls()) - before, 1, 'single-flight, then the negative answer');
  });

  test(`${host}: a rule with introspect: true asks the IdP even for a valid JWT, and obeys active false`, async () => {
    const base = gate[`${host}_url`];
    await control({ mode: 'active' });
    let before = await calls();
    const ok = await get(base, signedJwt(), '/revocable/x');
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await calls()) - before, 1, 'the valid JWT was introspected');
    await control({ mode: 'inactive' });
    before = await calls();
    const refused = await get(base, signedJwt(), '/revocable/x');
    assert.equal(refused.status, 401, refused.text);
    assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    assert.equal((await calls()) - before, 1);
  });

  test(`${host}: a hybrid provider checks a JWT locally and introspects only an opaque token`, async () => {
    const base = gate[`${host}_url`];
    await control({ mode: 'active' });
    const before = await calls();
    const local = await get(base, signedJwt(), '/hybrid/x');
    assert.equal(local.status, 200, local.text);
    assert.equal((await calls()) - before, 0, 'a valid JWT is not introspected on a hybrid provider');
    const opaque = await get(base, fresh(), '/hybrid/x');
    assert.equal(opaque.status, 200, opaque.text);
    assert.equal((await calls()) - before, 1, 'the opaque token was');
  });
}

test('envoy: the stale answer and the failures are counted in metrics', async () => {
  const res = await fetch(`${gate.envoy_admin_url}/stats?filter=introspection`);
  const text = await res.text();
  const stat = (name) => Number((text.match(new RegExp(`${name}: (\\d+)`)) ?? [])[1] ?? -1);
  assert.ok(stat('wasmcustom.jwtgate.introspection_stale_served.intro') >= 1, text);
  assert.ok(stat('wasmcustom.jwtgate.introspection_fetch_failed') >= 1, text);
});

for (const host of ['envoy', 'worker']) {
  test(`${host}: TLS to the IdP with the wrong SNI or name is a failed fetch, logged, then 503`, async () => {
    const token = await thirdToken(loadEndpoints());
    const res = await fetch(`${gate[`${host}_url`]}/tls/x`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 503, await res.text());
    assert.equal(res.headers.get('retry-after'), '5');
    const log = newLog(gate[`${host}_log`]);
    assert.match(log, /jwtgate: provider tls_wrong: JWKS fetch failed/);
    // The line says why: Envoy's answer names the TLS failure; workerd's fetch error is logged.
    if (host === 'envoy') {
      assert.match(log, /provider tls_wrong: JWKS fetch failed: HTTP status 503; .*\(response: upstream connect error/);
      // Envoy's cluster stats name the TLS failure: the certificate lacks the expected SAN.
      const stats = await (await fetch(`${gate.envoy_admin_url}/stats?filter=idp_third_wrong_sni.ssl`)).text();
      const failed = [...stats.matchAll(/ssl\.(fail_verify_san|fail_verify_error|connection_error): (\d+)/g)];
      assert.ok(failed.some((m) => Number(m[2]) > 0), stats);
    }
    else assert.match(log, /jwtgate: fetch GET https:\/\/localhost:\d+\/jwks failed: /);
  });
}
