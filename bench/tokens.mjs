#!/usr/bin/env node
// Keys and tokens for `make bench` (bench/run.py), generated fresh on every run.
//
//   node bench/tokens.mjs --out target/bench/tokens --count 10000
//
// Writes into --out:
//   jwks.json                public JWKS: RS256 (2048-bit, kid bench-rs256), ES256 (bench-es256),
//                            EdDSA/Ed25519 (bench-eddsa)
//   <alg>-repeat.txt         one token (the "same token repeated" scenarios)
//   <alg>-unique.txt         --count distinct tokens, one per line (distinct sub and jti)
//   meta.json                issuer, audience, counts, how long signing took
// Claims: iss https://bench.example, aud https://api.example, sub, iat now, exp now+3600, jti.
// jose is the one the e2e suite installs in tests/node_modules (`make setup`).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import * as jose from '../tests/node_modules/jose/dist/webapi/index.js';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'target/bench/tokens' },
    count: { type: 'string', default: '10000' },
  },
  strict: true,
});
const count = Number.parseInt(args.count, 10);
if (!Number.isInteger(count) || count < 1) throw new Error(`bad --count ${args.count}`);

export const ISSUER = 'https://bench.example';
export const AUDIENCE = 'https://api.example';
const ALGS = [
  { alg: 'RS256', kid: 'bench-rs256', opts: { modulusLength: 2048 } },
  { alg: 'ES256', kid: 'bench-es256', opts: {} },
  { alg: 'EdDSA', kid: 'bench-eddsa', opts: { crv: 'Ed25519' } },
];

mkdirSync(args.out, { recursive: true });
const started = Date.now();
const keys = [];
const now = Math.floor(Date.now() / 1000);

function sign(privateKey, alg, kid, sub) {
  return new jose.SignJWT({ sub, jti: randomUUID() })
    .setProtectedHeader({ alg, kid, typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(privateKey);
}

for (const { alg, kid, opts } of ALGS) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { ...opts, extractable: true });
  keys.push({ ...(await jose.exportJWK(publicKey)), kid, alg, use: 'sig' });
  writeFileSync(join(args.out, `${alg}-repeat.txt`), (await sign(privateKey, alg, kid, 'bench-repeat')) + '\n');
  const tokens = [];
  // WebCrypto signs on libuv's thread pool: batches keep every core busy.
  for (let i = 0; i < count; i += 256) {
    const batch = [];
    for (let j = i; j < Math.min(i + 256, count); j++) batch.push(sign(privateKey, alg, kid, `bench-user-${j}`));
    tokens.push(...(await Promise.all(batch)));
  }
  if (new Set(tokens).size !== count) throw new Error(`${alg}: tokens are not distinct`);
  writeFileSync(join(args.out, `${alg}-unique.txt`), tokens.join('\n') + '\n');
}

writeFileSync(join(args.out, 'jwks.json'), JSON.stringify({ keys }, null, 2) + '\n');
const meta = { issuer: ISSUER, audience: AUDIENCE, count, algs: ALGS.map((a) => a.alg),
  kids: Object.fromEntries(ALGS.map((a) => [a.alg, a.kid])), iat: now, exp: now + 3600,
  sign_seconds: (Date.now() - started) / 1000 };
writeFileSync(join(args.out, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
console.log(`tokens: ${count} per alg (${meta.algs.join(', ')}) in ${meta.sign_seconds}s -> ${args.out}`);
