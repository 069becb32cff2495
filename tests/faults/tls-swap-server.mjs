// An HTTPS JWKS server whose certificate the test swaps at runtime (issue #12, TLS to the
// IdP: "failed fetch, then stale, then 503" with a stale phase first). It serves
// GET /jwks (one ES256 key; the private JWK goes to --keys-out so the test can sign
// tokens) with `connection: close`, so every fetch is a new TLS handshake that checks the
// certificate in use at that moment (no pooled connection outlives a swap).
//
//   node tests/faults/tls-swap-server.mjs --port 9485 --keys-out run/tls-swap-key.json \
//     --cert good.pem --key good.key --rogue-cert rogue.pem --rogue-key rogue.key
//
// stdin, one command a line: `rogue` serves the rogue certificate (a CA the gates do not
// trust), `good` the test CA's again; each is acknowledged on stdout (`tls-swap: good`).
// Every request is logged as `tls-swap GET /jwks 200`.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

import * as jose from 'jose';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '9485' },
    'keys-out': { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    'rogue-cert': { type: 'string' },
    'rogue-key': { type: 'string' },
  },
  strict: true,
});
for (const k of ['keys-out', 'cert', 'key', 'rogue-cert', 'rogue-key']) {
  if (!args[k]) {
    console.error(`tls-swap: --${k} is required`);
    process.exit(2);
  }
}

const contexts = {
  good: { cert: readFileSync(args.cert), key: readFileSync(args.key) },
  rogue: { cert: readFileSync(args['rogue-cert']), key: readFileSync(args['rogue-key']) },
};
const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
const kid = `swap-${randomBytes(4).toString('hex')}`;
const priv = { ...(await jose.exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
writeFileSync(args['keys-out'], JSON.stringify(priv), { mode: 0o600 });
const { d, ...pub } = priv;
const jwks = JSON.stringify({ keys: [pub] });

const server = createServer(contexts.good, (req, res) => {
  const ok = req.method === 'GET' && req.url.split('?')[0] === '/jwks';
  res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json', connection: 'close', 'cache-control': 'no-store' });
  res.end(ok ? jwks : '{"error":"not_found"}');
  console.log(`tls-swap ${req.method} ${req.url.split('?')[0]} ${res.statusCode}`);
});
server.on('tlsClientError', (err) => console.log(`tls-swap handshake failed: ${err.code ?? err.message}`));
server.listen(Number(args.port), '127.0.0.1', () => console.log(`tls-swap listening ${args.port}`));

createInterface({ input: process.stdin }).on('line', (line) => {
  const which = line.trim();
  if (!contexts[which]) return;
  server.setSecureContext(contexts[which]);
  // New ticket keys too: a client must not resume a session made with the other
  // certificate (resumption skips the certificate check).
  server.setTicketKeys(randomBytes(48));
  console.log(`tls-swap: ${which}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
