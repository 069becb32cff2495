// jwtgate fault-injection suite for the key lifecycle: the JWKS cache under rotation,
// IdP outages, cold starts, kid sprays and multi-threaded Envoy, through real requests.
//
//   make up                                         # the main stack: upstreams on 9401/9402
//   cd tests && node --test --test-concurrency=1 faults/
//   FAULTS_ONLY=rotation,spray node --test faults/  # a subset
//
// Each scenario starts its own controllable JWKS server (jwks-server.mjs, port 9430) and a
// fresh gate pair with tests/faults/jwtgate.json (`tests/up.py start-gate --name faults`:
// Envoy on 9440, admin 9441, workerd on 9442) and stops both afterwards. The scenarios run
// in one process, in order, because they share those ports.

import rotation from './rotation.mjs';
import outages from './outages.mjs';
import coldstart from './coldstart.mjs';
import kidSpray from './spray.mjs';
import concurrency from './concurrency.mjs';
import metrics from './metrics.mjs';
import conditional from './conditional.mjs';
import revocation from './revocation.mjs';
import keyfeed from './keyfeed.mjs';

const SCENARIOS = { rotation, outages, coldstart, spray: kidSpray, concurrency, metrics, conditional, revocation, keyfeed };
const only = process.env.FAULTS_ONLY?.split(',').map((x) => x.trim()).filter(Boolean);
for (const name of only ?? []) {
  if (!(name in SCENARIOS)) throw new Error(`FAULTS_ONLY: unknown scenario ${name} (known: ${Object.keys(SCENARIOS).join(', ')})`);
}

for (const [name, register] of Object.entries(SCENARIOS)) {
  if (!only || only.includes(name)) register();
}
