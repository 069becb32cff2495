#!/usr/bin/env node
// A controllable revocation feed (and the JWKS of its issuer) for jwtgate's fault suite.
//
//   node tests/faults/revocation-server.mjs --port 9450
//
// Generates an ES256 key (kid `rev-key`), serves `GET /jwks`, and `GET /revocations`
// (docs/revocation-feed.schema.json): a full list, or a delta when `?since=v<version>`
// names a version it still knows; `ETag: "v<version>"`, 304 on a matching If-None-Match.
// Prints `revocation-server listening <url>`.
//
// Control API (paths under /__ are never affected by the fault modes):
//   POST /__control {"mode": M}   ok | down (reset every connection) | status (500) |
//                                 garbage (200, not JSON) | huge (200, valid JSON over 2 MB) |
//                                 rollback (200, a full list 5 versions older, no entries)
//   POST /__revoke  {entry}       adds a denylist entry (needs `exp`); bumps the version
//   GET  /__stats                 {"requests": [{"t", "from", "path", "mode", "answer"}]};
//                                 `from`: "envoy" (x-envoy-* header) or "other"
//   POST /__reset                 zeroes the statistics
//   GET  /__keys                  {"key": private JWK} for signing tokens
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import * as jose from 'jose';

const { values: args } = parseArgs({ options: { port: { type: 'string', default: '9450' } }, strict: true });
const port = Number.parseInt(args.port, 10);
const ISSUER = 'https://revoking.example';

const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
const priv = { ...(await jose.exportJWK(privateKey)), kid: 'rev-key', alg: 'ES256', use: 'sig' };
const pub = { ...(await jose.exportJWK(publicKey)), kid: 'rev-key', alg: 'ES256', use: 'sig' };

const FIRST = 1000;
const log = []; // entry i was added by version FIRST + i + 1
let mode = 'ok';
let requests = [];

const version = () => FIRST + log.length;
const send = (res, status, body, headers = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

function feed(req, res, url) {
  const v = version();
  const etag = `"v${v}"`;
  if (mode === 'rollback') {
    return send(res, 200, { version: v - 5, generated_at: Math.floor(Date.now() / 1000), kind: 'full', issuer: ISSUER, entries: [] });
  }
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { etag });
    res.end();
    return 304;
  }
  const since = /^v(\d+)$/.exec(url.searchParams.get('since') ?? '');
  const base = since ? Number(since[1]) : null;
  const delta = base !== null && base >= FIRST && base <= v;
  const entries = delta ? log.slice(base - FIRST) : log;
  const doc = { version: v, generated_at: Math.floor(Date.now() / 1000), kind: delta ? 'delta' : 'full', issuer: ISSUER, entries, next: `v${v}` };
  if (delta) doc.base = base;
  send(res, 200, doc, { etag, 'cache-control': 'no-store' });
  return delta ? 'delta' : 'full';
}

function faulty(req, res) {
  switch (mode) {
    case 'down': req.socket.destroy(); return 'reset';
    case 'status': send(res, 500, {}); return 500;
    case 'garbage': send(res, 200, '<html>this is not a revocation list'); return 'garbage';
    case 'huge': {
      const pad = 'x'.repeat(1000);
      const entries = Array.from({ length: 2100 }, (_, i) => ({ jti: `${pad}-${i}`, exp: 4102444800 }));
      send(res, 200, { version: version() + 1000, generated_at: 1, kind: 'full', entries });
      return 'huge';
    }
    default: return null;
  }
}

async function readJson(req) {
  let text = '';
  for await (const c of req) text += c;
  return text ? JSON.parse(text) : {};
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, `http://127.0.0.1:${port}`);
  const route = `${req.method} ${url.pathname}`;
  try {
    if (route === 'POST /__control') { mode = (await readJson(req)).mode ?? mode; return send(res, 200, { mode }); }
    if (route === 'POST /__revoke') { log.push(await readJson(req)); return send(res, 200, { version: version() }); }
    if (route === 'GET /__stats') return send(res, 200, { requests });
    if (route === 'POST /__reset') { requests = []; return send(res, 200, {}); }
    if (route === 'GET /__keys') return send(res, 200, { key: priv });
    if (route === 'GET /jwks') return send(res, 200, { keys: [pub] });
    if (route !== 'GET /revocations') return send(res, 404, { error: 'not_found' });
    const from = Object.keys(req.headers).some((h) => h.startsWith('x-envoy-')) ? 'envoy' : 'other';
    const answer = faulty(req, res) ?? feed(req, res, url);
    requests.push({ t: Date.now(), from, path: req.url, mode, answer });
  } catch (e) {
    send(res, 400, { error: String(e.message) });
  }
});
server.listen(port, '127.0.0.1', () => console.log(`revocation-server listening http://127.0.0.1:${port}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { server.close(); process.exit(0); });
