// `wrangler deploy --dry-run` must pass offline: wasm-worker/ deploys to Cloudflare as it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const workerDir = path.join(root, 'wasm-worker');
const outdir = path.join(root, 'run', 'wrangler-dist');

test('wrangler deploy --dry-run bundles the worker', () => {
  rmSync(outdir, { recursive: true, force: true });
  const run = spawnSync(path.join(workerDir, 'node_modules', '.bin', 'wrangler'),
    ['deploy', '--dry-run', '--outdir', outdir],
    { cwd: workerDir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' } });
  const out = `${run.stdout}${run.stderr}`;
  assert.equal(run.status, 0, out);
  assert.match(out, /--dry-run: exiting now/);
  const upload = out.match(/Total Upload: .*/)?.[0];
  assert.ok(upload, `no bundle size in wrangler output:\n${out}`);
  const files = readdirSync(outdir);
  const wasm = files.find((f) => f.endsWith('.wasm'));
  assert.ok(wasm, `no .wasm in ${files}`);
  assert.ok(files.includes('worker.js'), `no worker.js in ${files}`);
  const raw = statSync(path.join(outdir, wasm)).size;
  const gz = gzipSync(readFileSync(path.join(outdir, wasm))).length;
  console.log(`wrangler ${upload}; worker wasm ${raw} bytes raw, ${gz} bytes gzipped`);
});
