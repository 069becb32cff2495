#!/usr/bin/env node
// A controllable API-key feed for jwtgate's `api_keys` providers (tests and demo).
//
//   node tests/keyfeed/server.mjs --port 9405 [--keys-out run/api-keys.json]
//
// At start it makes the demo keys (random, jg_ format) and serves their digests:
//   GET  /keys.json      {"keys": [entry, ...]} with an ETag (no Cache-Control: the gate's
//                        refresh_interval_s applies); a matching If-None-Match gets 304
//   GET  /__keys         the keys themselves, by name (what --keys-out writes too)
//   POST /__entries      {"set": {name: entry-without-digest | null}}: add, change or remove
//                        entries (a new name gets a fresh key); answers /__keys
//   POST /__control      {"mode": "keys" | "down" | "status" | "garbage", "status"?: 500}
//   POST /__reset        the initial entries, mode "keys", stats cleared
//   POST /__clear-stats  stats cleared
//   GET  /__stats        {"requests": [{t, origin, inm, answer}]} for /keys.json
// `origin` is `envoy` when the request has x-envoy-* headers, else `worker`.
//
// Demo entries: `demo` and `rotated` (application reports-app, two keys: rotation),
// `disabled` (reports-app, disabled), `expired` (old-app, expired in 2001), `partner`
// (partner-app, no scopes, tenant globex).

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

import { digestOf, generateKey } from './apikey.mjs';

const { values: args } = parseArgs({
  options: { port: { type: 'string', default: '9405' }, 'keys-out': { type: 'string' } },
  strict: true,
});

const APP = { client: 'reports-app', scopes: ['reports:read'], metadata: { tenant: 'acme', plan: 'gold' } };
const INITIAL = {
  demo: APP,
  rotated: APP,
  disabled: { ...APP, disabled: true },
  expired: { client: 'old-app', scopes: ['reports:read'], expires_at: 1_000_000_000 },
  partner: { client: 'partner-app', scopes: [], metadata: { tenant: 'globex' } },
};

const keys = {};
let entries = {};
let mode = { mode: 'keys' };
let requests = [];

function reset() {
  entries = structuredClone(INITIAL);
  for (const name of Object.keys(entries)) keys[name] ??= generateKey();
  mode = { mode: 'keys' };
  requests = [];
}

function feedBody() {
  const list = Object.entries(entries).map(([name, e]) => ({ digest: digestOf(keys[name]), ...e }));
  return JSON.stringify({ keys: list });
}

function writeKeys() {
  if (args['keys-out']) writeFileSync(args['keys-out'], JSON.stringify(keys, null, 2));
}

const json = (res, status, v) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(v)); };

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
}

function serveFeed(req, res) {
  const origin = Object.keys(req.headers).some((h) => h.startsWith('x-envoy-')) ? 'envoy' : 'worker';
  const inm = req.headers['if-none-match'] ?? null;
  const record = (answer) => requests.push({ t: Date.now(), origin, inm, answer });
  if (mode.mode === 'down') { record('reset'); req.socket.destroy(); return; }
  if (mode.mode === 'status') { record(mode.status ?? 500); res.writeHead(mode.status ?? 500); res.end('broken'); return; }
  if (mode.mode === 'garbage') { record(200); res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"keys": ['); return; }
  const body = feedBody();
  const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
  if (inm === etag) { record(304); res.writeHead(304, { etag }); res.end(); return; }
  record(200);
  res.writeHead(200, { 'content-type': 'application/json', etag });
  res.end(body);
}

const server = http.createServer(async (req, res) => {
  try {
    const path = req.url.split('?')[0];
    if (req.method === 'GET' && path === '/keys.json') return serveFeed(req, res);
    if (req.method === 'GET' && path === '/__keys') return json(res, 200, keys);
    if (req.method === 'GET' && path === '/__stats') return json(res, 200, { requests });
    if (req.method === 'POST' && path === '/__reset') { reset(); writeKeys(); return json(res, 200, keys); }
    if (req.method === 'POST' && path === '/__clear-stats') { requests = []; return json(res, 200, {}); }
    if (req.method === 'POST' && path === '/__control') { mode = await readJson(req); return json(res, 200, mode); }
    if (req.method === 'POST' && path === '/__entries') {
      const { set = {} } = await readJson(req);
      for (const [name, e] of Object.entries(set)) {
        if (e === null) { delete entries[name]; continue; }
        keys[name] ??= generateKey();
        entries[name] = e;
      }
      writeKeys();
      return json(res, 200, keys);
    }
    json(res, 404, { error: 'not_found' });
  } catch (e) {
    json(res, 400, { error: String(e.message ?? e) });
  }
});

reset();
writeKeys();
server.keepAliveTimeout = 15 * 60 * 1000;
server.listen(Number(args.port), '127.0.0.1', () => console.log(`keyfeed: http://127.0.0.1:${args.port}/keys.json`));
