// A bad gate config must stop the plugin with a log line that names the field, and
// Envoy (plugin configured to fail closed) must refuse to start: never a silent allow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const envoyBin = process.env.ENVOY_BIN || path.join(root, '.venv', 'bin', 'envoy');
const base = JSON.parse(readFileSync(path.join(root, 'envoy', 'jwtgate.json'), 'utf8'));

const optionalRule = base.rules.findIndex((r) => r.requires?.allow_missing);
const providerRule = base.rules.findIndex((r) => r.requires?.provider);
const cases = [
  { id: 'missing_audiences', edit: (c) => { delete c.providers.idp.audiences; }, field: 'providers.idp.audiences' },
  { id: 'typo_audience', edit: (c) => { c.providers.idp.audience = c.providers.idp.audiences; delete c.providers.idp.audiences; }, field: 'providers.idp.audience' },
  { id: 'alg_none', edit: (c) => { c.providers.idp.algorithms = ['none']; }, field: 'providers.idp.algorithms[0]' },
  { id: 'hmac_from_remote', edit: (c) => { c.providers.idp.algorithms = ['HS256']; }, field: 'providers.idp.algorithms' },
  { id: 'rule_unknown_provider', edit: (c) => { c.rules[providerRule].requires.provider = 'nope'; }, field: `rules[${providerRule}].requires.provider` },
  // A request without a token would skip the scope check.
  { id: 'allow_missing_with_scopes', edit: (c) => { c.rules[optionalRule].scopes = ['admin']; }, field: `rules[${optionalRule}].scopes` },
];

for (const [i, c] of cases.entries()) {
  test(`config error stops the plugin: ${c.id}`, () => {
    const dir = path.join(root, 'run', 'config-errors', c.id);
    mkdirSync(dir, { recursive: true });
    const cfg = structuredClone(base);
    c.edit(cfg);
    writeFileSync(path.join(dir, 'jwtgate.json'), JSON.stringify(cfg));
    const render = spawnSync('python3', [path.join(root, 'tests', 'up.py'), 'render-envoy',
      '--gate-config', path.join(dir, 'jwtgate.json'), '--out', path.join(dir, 'envoy.yaml'),
      '--listen', String(9490 + 2 * i), '--admin', String(9491 + 2 * i)], { cwd: root, encoding: 'utf8' });
    assert.equal(render.status, 0, render.stderr);
    const run = spawnSync(envoyBin, ['-c', path.join(dir, 'envoy.yaml'), '--concurrency', '1',
      '--use-dynamic-base-id', '--log-level', 'warn', '--component-log-level', 'wasm:info'],
    { cwd: root, encoding: 'utf8', timeout: 30_000 });
    const log = `${run.stdout}${run.stderr}`;
    writeFileSync(path.join(dir, 'envoy.log'), log);
    assert.notEqual(run.status, 0, `Envoy must refuse to start (status ${run.status}, signal ${run.signal})`);
    assert.match(log, new RegExp(`jwtgate: invalid config at \`${c.field.replace(/[[\].]/g, '\\$&')}\``),
      `the log must name ${c.field}`);
    assert.match(log, /Unable to create Wasm plugin jwtgate/);
  });
}
