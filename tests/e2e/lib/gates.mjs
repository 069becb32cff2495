// A gate pair of its own (Envoy + workerd) for one test file, started and stopped with
// `tests/up.py start-gate / stop-gate`. `gate` is {name, envoy, admin, worker} (ports).
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

import { REPO_ROOT } from './endpoints.mjs';

function upPy(args) {
  return spawnSync('python3', [resolve(REPO_ROOT, 'tests/up.py'), ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
}

/** Starts the pair with `config` (a path under the repo); returns up.py's info line (URLs, logs). */
export function startSideGate(gate, config, { concurrency = 1 } = {}) {
  const r = upPy(['start-gate', '--name', gate.name, '--gate-config', config,
    '--envoy-port', String(gate.envoy), '--admin-port', String(gate.admin), '--worker-port', String(gate.worker),
    '--concurrency', String(concurrency)]);
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) throw new Error(`start-gate ${gate.name} failed (${r.status}): ${r.stdout}\n${r.stderr}`);
  return JSON.parse(line);
}

export function stopSideGate(gate) {
  upPy(['stop-gate', '--name', gate.name]);
}

/** A GET with an optional bearer token: {status, headers, body (JSON when it parses), text}. */
export async function getParsed(base, path, token) {
  const res = await fetch(base + path, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, headers: res.headers, body, text };
}
