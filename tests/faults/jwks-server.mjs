#!/usr/bin/env node
// A controllable JWKS server for jwtgate's fault-injection suite.
//
//   node tests/faults/jwks-server.mjs --port 9430
//
// On start it generates two signing keys, A (RS256 2048, kid `key-a`) and B (ES256,
// kid `key-b`), serves `GET /jwks` and prints `jwks-server listening <url>`.
//
// Control API (same port; paths under /__ are never affected by the fault modes):
//   POST /__control  JSON, fields optional, the rest of the state is kept:
//     {"mode": "keys", "keys": ["A", "B"]}   serve that subset (default ["A"])
//     {"mode": "status", "status": 500}      answer that status, empty JSON body
//     {"mode": "down"}                       reset every /jwks connection at once
//     {"mode": "hang"}                       accept and never answer
//     {"mode": "garbage"}                    200, content-type JSON, not JSON
//     {"mode": "huge"}                       200 with a 10 MB body (valid JSON: key A + padding)
//     {"mode": "delay", "delay_ms": 1000}    answer like `keys` after delay_ms
//     {"cache_control": "max-age=1"}         Cache-Control on 200 answers (null: none)
//     {"etag": false}                        no ETag (default true: in mode `keys`/`delay`
//                                            every 200 carries the body's ETag, and a GET
//                                            whose If-None-Match names it gets 304)
//     answers the new state
//   GET  /__stats    {"count", "requests": [{"t", "from", "mode", "ua", "headers", "inm", "answer"}], "by_from": {...}}
//                    `inm`: the request's If-None-Match (or null); `answer`: 304 or 200 in mode `keys`
//                    `from` is "envoy" when the request carries an x-envoy-* header
//                    (Envoy's async client adds x-envoy-expected-rq-timeout-ms), else "other".
//   POST /__reset    zeroes the statistics
//   GET  /__keys     the PRIVATE JWKs {"A": jwk, "B": jwk} (with kid and alg) for signing
//   GET  /__state    the current mode
//
// Stdlib + jose only. Every /jwks request is logged as `jwks <from> <mode> <t>`.

import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import * as jose from 'jose';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '9430' },
    host: { type: 'string', default: '127.0.0.1' },
  },
  strict: true,
});

const port = Number.parseInt(args.port, 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`jwks-server: invalid --port ${args.port}`);
  process.exit(2);
}

async function makeKey(alg, kid, opts = {}) {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true, ...opts });
  const priv = { ...(await jose.exportJWK(privateKey)), kid, alg, use: 'sig' };
  const pub = { ...(await jose.exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { priv, pub };
}

const KEYS = {
  A: await makeKey('RS256', 'key-a', { modulusLength: 2048 }),
  B: await makeKey('ES256', 'key-b'),
};
const MODES = new Set(['keys', 'status', 'down', 'hang', 'garbage', 'huge', 'delay']);
const HUGE_BYTES = 10 * 1024 * 1024;

const state = { mode: 'keys', keys: ['A'], status: 500, delay_ms: 1000, cache_control: null, etag: true };
let requests = [];
const hanging = new Set();

function jwksBody(names) {
  return JSON.stringify({ keys: names.map((n) => KEYS[n].pub) });
}

function json(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try { resolve(text ? JSON.parse(text) : {}); } catch (e) { reject(e); }
    });
    req.on('error', reject);
  });
}

function applyControl(c) {
  if (c.mode !== undefined) {
    if (!MODES.has(c.mode)) throw new Error(`unknown mode ${JSON.stringify(c.mode)}`);
    state.mode = c.mode;
  }
  if (c.keys !== undefined) {
    if (!Array.isArray(c.keys) || !c.keys.every((k) => k in KEYS)) throw new Error('keys must be a list of "A"/"B"');
    state.keys = [...c.keys];
  }
  if (c.status !== undefined) {
    if (!Number.isInteger(c.status) || c.status < 100 || c.status > 599) throw new Error('status must be an HTTP status');
    state.status = c.status;
  }
  if (c.delay_ms !== undefined) {
    if (!Number.isInteger(c.delay_ms) || c.delay_ms < 0) throw new Error('delay_ms must be an integer >= 0');
    state.delay_ms = c.delay_ms;
  }
  if (c.cache_control !== undefined) state.cache_control = c.cache_control;
  if (c.etag !== undefined) {
    if (typeof c.etag !== 'boolean') throw new Error('etag must be true or false');
    state.etag = c.etag;
  }
}

const etagOf = (body) => `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;

/** RFC 9110 §13.1.2: If-None-Match is a list of entity tags (or `*`), weak comparison. */
function noneMatch(header, etag) {
  if (!header) return false;
  const strip = (t) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => t.trim() === '*' || strip(t) === strip(etag));
}

/** Returns the status answered: 304 when the request's If-None-Match names the body's ETag. */
function serveKeys(req, res, names) {
  const body = jwksBody(names);
  const headers = { 'content-type': 'application/jwk-set+json', 'content-length': Buffer.byteLength(body) };
  if (state.cache_control) headers['cache-control'] = state.cache_control;
  if (state.etag) {
    const etag = etagOf(body);
    headers.etag = etag;
    if (noneMatch(req.headers['if-none-match'], etag)) {
      delete headers['content-type'];
      delete headers['content-length'];
      res.writeHead(304, headers);
      res.end();
      return 304;
    }
  }
  res.writeHead(200, headers);
  res.end(body);
  return 200;
}

function serveHuge(res) {
  // Valid JSON with key A, so that only the size cap can make it fail.
  const head = `{"keys":[${JSON.stringify(KEYS.A.pub)}],"padding":"`;
  const tail = '"}';
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let left = HUGE_BYTES - head.length - tail.length;
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': HUGE_BYTES });
  res.write(head);
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end(tail);
  };
  res.on('close', () => { left = 0; });
  pump();
}

function serveJwks(req, res) {
  const from = Object.keys(req.headers).some((h) => h.startsWith('x-envoy-')) ? 'envoy' : 'other';
  const t = Date.now();
  const record = {
    t, from, mode: state.mode, ua: req.headers['user-agent'] ?? null, headers: Object.keys(req.headers),
    inm: req.headers['if-none-match'] ?? null, answer: null,
  };
  requests.push(record);
  console.log(`jwks ${from} ${state.mode} ${t}`);
  switch (state.mode) {
    case 'keys':
      record.answer = serveKeys(req, res, state.keys);
      return undefined;
    case 'status': return json(res, state.status, {});
    case 'down':
      // RST where the runtime can, else a plain destroy: no response at all.
      if (typeof req.socket.resetAndDestroy === 'function') req.socket.resetAndDestroy();
      else req.socket.destroy();
      return undefined;
    case 'hang':
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return undefined;
    case 'garbage': {
      const body = '<html>this is not a JWKS</html>';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      return res.end(body);
    }
    case 'huge': return serveHuge(res);
    case 'delay': {
      const keys = [...state.keys];
      const timer = setTimeout(() => { record.answer = serveKeys(req, res, keys); }, state.delay_ms);
      res.on('close', () => clearTimeout(timer));
      return undefined;
    }
    default: return json(res, 500, { error: `bad mode ${state.mode}` });
  }
}

function stats() {
  const byFrom = {};
  for (const r of requests) byFrom[r.from] = (byFrom[r.from] ?? 0) + 1;
  return { count: requests.length, by_from: byFrom, requests, now: Date.now() };
}

const server = createServer(async (req, res) => {
  res.on('error', () => {});
  const url = new URL(req.url, 'http://x');
  try {
    if (url.pathname === '/jwks' && (req.method === 'GET' || req.method === 'HEAD')) return serveJwks(req, res);
    if (url.pathname === '/__control' && req.method === 'POST') {
      applyControl(await readJson(req));
      return json(res, 200, state);
    }
    if (url.pathname === '/__state' && req.method === 'GET') return json(res, 200, state);
    if (url.pathname === '/__stats' && req.method === 'GET') return json(res, 200, stats());
    if (url.pathname === '/__reset' && req.method === 'POST') {
      requests = [];
      return json(res, 200, stats());
    }
    if (url.pathname === '/__keys' && req.method === 'GET') {
      return json(res, 200, { A: KEYS.A.priv, B: KEYS.B.priv });
    }
    return json(res, 404, { error: 'not_found' });
  } catch (e) {
    return json(res, 400, { error: String(e?.message ?? e) });
  }
});
server.on('clientError', (err, socket) => socket.destroy());
server.keepAliveTimeout = 5000;

function shutdown() {
  for (const res of hanging) res.destroy();
  server.close();
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 200).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

server.on('error', (err) => {
  console.error(`jwks-server: ${err.message}`);
  process.exit(1);
});
server.listen(port, args.host, () => {
  console.log(`jwks-server listening http://${args.host}:${port}`);
});
