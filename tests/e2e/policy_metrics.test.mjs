// Decision metrics in Envoy: every decision counts
// `jwtgate.decisions.<rule>.<outcome>.<reason>.<mode>` (admin /stats:
// `wasmcustom.jwtgate.decisions.…`); a report-only rule counts the outcome it would
// have had. Needs the stack of tests/up.py (run/endpoints.json).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as tokens from './tokens.mjs';

const endpoints = tokens.loadEndpoints();
const ctx = tokens.createTokenContext(endpoints);
const admin = endpoints.envoy_admin_url;
const base = endpoints.hosts?.envoy;

async function counter(name) {
  const res = await fetch(`${admin}/stats?filter=${encodeURIComponent(`^wasmcustom\\.jwtgate\\.${name.replaceAll('.', '\\.')}$`)}`);
  assert.equal(res.status, 200);
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`wasmcustom.jwtgate.${name}:`));
  return line ? Number(line.split(':')[1]) : 0;
}

const skip = !admin || !base ? 'no envoy in endpoints.json' : false;

test('envoy counts decisions per rule, outcome, reason and mode', { skip }, async () => {
  const acme = await tokens.factories.idp(ctx);
  const cases = [
    [`/api/tenants/globex/orders`, { authorization: `Bearer ${acme}` }, 403, 'decisions.tenants.deny.condition_failed.enforce'],
    [`/api/tenants/acme/orders`, { authorization: `Bearer ${acme}` }, 200, 'decisions.tenants.allow.ok.enforce'],
    [`/api/shadow/orders`, {}, 200, 'decisions.shadow.deny.missing.report_only'],
    [`/nowhere`, {}, 403, 'decisions.unmatched.deny.no_rule.enforce'],
  ];
  for (const [path, headers, status, name] of cases) {
    const before = await counter(name);
    const res = await fetch(new URL(path, base), { headers });
    await res.text();
    assert.equal(res.status, status, path);
    // Stats flush asynchronously in Envoy: poll briefly.
    let after = before;
    for (let i = 0; i < 50 && after < before + 1; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await counter(name);
    }
    assert.equal(after, before + 1, `${name} counted once for ${path}`);
  }
});
