#!/usr/bin/env node
// A controllable RFC 7662 introspection endpoint for jwtgate's introspection fault
// scenario (tests/faults/introspection.test.mjs).
//
//   node tests/faults/introspection-server.mjs --port 9460 --issuer https://intro-faulty.example
//
// POST /introspect answers by mode (checks the client's Basic credentials first):
//   active    {"active": true, iss, aud, exp (now + 300), client_id, scope, sub}
//   inactive  {"active": false}
//   status    that HTTP status, empty JSON body
//   hang      accept and never answer
//   down      reset the connection
// POST /__control {"mode": ..., "status": 500}; GET /__stats {"count"}; POST /__reset.
// Each call is logged as `introspect <mode>`. Stdlib only.

import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '9460' },
    issuer: { type: 'string', default: 'https://intro-faulty.example' },
    audience: { type: 'string', default: 'https://api.example' },
  },
  strict: true,
});
const CLIENT = `Basic ${Buffer.from('gate:gate-secret').toString('base64')}`;
const MODES = new Set(['active', 'inactive', 'status', 'hang', 'down']);
const state = { mode: 'active', status: 500 };
let count = 0;
const hanging = new Set();

function json(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readBody(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

const server = createServer(async (req, res) => {
  const body = await readBody(req);
  if (req.url === '/__control' && req.method === 'POST') {
    const next = JSON.parse(body || '{}');
    if (next.mode && !MODES.has(next.mode)) return json(res, 400, { error: `unknown mode ${next.mode}` });
    Object.assign(state, next);
    for (const r of hanging) r.destroy();
    hanging.clear();
    return json(res, 200, state);
  }
  if (req.url === '/__stats') return json(res, 200, { count });
  if (req.url === '/__reset' && req.method === 'POST') {
    count = 0;
    return json(res, 200, { count });
  }
  if (req.url !== '/introspect' || req.method !== 'POST') return json(res, 404, { error: 'not_found' });
  count += 1;
  console.log(`introspect ${state.mode}`);
  if (req.headers.authorization !== CLIENT) return json(res, 401, { error: 'invalid_client' });
  const token = new URLSearchParams(body).get('token');
  if (!token) return json(res, 400, { error: 'invalid_request' });
  const now = Math.floor(Date.now() / 1000);
  switch (state.mode) {
    case 'active':
      return json(res, 200, {
        active: true, iss: args.issuer, aud: args.audience, exp: now + 300, iat: now,
        client_id: 'svc', scope: 'read', sub: 'svc-user', token_type: 'Bearer',
      });
    case 'inactive':
      return json(res, 200, { active: false });
    case 'status':
      return json(res, state.status, {});
    case 'hang':
      hanging.add(res);
      return undefined;
    default:
      return req.socket.destroy();
  }
});
server.listen(Number(args.port), '127.0.0.1', () => {
  console.log(`introspection-server listening http://127.0.0.1:${args.port}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
