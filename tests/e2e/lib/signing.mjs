// Signing helpers for the token factories: jose compact signing with a chosen
// header (signWith), exact-bytes signing with the IdP keys (signRaw), and
// token surgery (flipSignature, signedOfSize). Re-exported (flipSignature,
// signRaw, signedOfSize) by ../tokens.mjs.

import { createPrivateKey, sign as cryptoSign } from 'node:crypto';

import * as jose from 'jose';

import { craftedClaims } from './claims.mjs';
import { idpKeys } from './keys.mjs';

export const b64json = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
export const b64 = (bytes) => Buffer.from(bytes).toString('base64url');

export async function signWith({ key, kid }, alg, claims, header = {}) {
  const h = { alg, typ: 'at+jwt', ...(kid ? { kid } : {}), ...header };
  for (const [k, v] of Object.entries(h)) if (v === undefined) delete h[k];
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader(h).sign(key);
}

export const rsCrafted = async (ctx, over, header) => signWith((await idpKeys(ctx)).rs, 'RS256', craftedClaims(ctx, over), header);

/** Replaces one character in the middle of the signature segment. */
export function flipSignature(token) {
  const [h, p, s] = token.split('.');
  const i = Math.floor(s.length / 2);
  const c = s[i] === 'A' ? 'B' : 'A';
  return `${h}.${p}.${s.slice(0, i)}${c}${s.slice(i + 1)}`;
}

/** Signs exactly these header and payload bytes with the IdP key `which` ('rs' | 'es'). */
export async function signRaw(ctx, which, headerText, payload, { dsaEncoding = 'ieee-p1363' } = {}) {
  const { jwk } = (await idpKeys(ctx))[which];
  const key = createPrivateKey({ key: jwk, format: 'jwk' });
  const input = `${b64(Buffer.from(headerText))}.${b64(Buffer.from(payload))}`;
  const sig = cryptoSign('sha256', Buffer.from(input), which === 'es' ? { key, dsaEncoding } : key);
  return `${input}.${sig.toString('base64url')}`;
}

/** The usual protected header as JSON text, for signRaw. */
export async function headerText(ctx, which, extra = {}) {
  const k = (await idpKeys(ctx))[which];
  return JSON.stringify({ alg: which === 'es' ? 'ES256' : 'RS256', typ: 'at+jwt', kid: k.kid, ...extra });
}

/** A validly signed token of exactly `bytes` bytes: craftedClaims plus a `pad` claim (and header spaces). */
export async function signedOfSize(ctx, bytes) {
  const claims = craftedClaims(ctx);
  const head = await headerText(ctx, 'rs');
  const sigLen = (await signRaw(ctx, 'rs', head, '{}')).split('.')[2].length;
  const b64len = (n) => Math.ceil((n * 4) / 3);
  for (let spaces = 0; spaces < 4; spaces += 1) {
    const h = `{${' '.repeat(spaces)}${head.slice(1)}`;
    for (let pad = 0; pad < bytes; pad += 1) {
      const payload = JSON.stringify({ ...claims, pad: 'x'.repeat(pad) });
      const total = b64len(h.length) + 1 + b64len(payload.length) + 1 + sigLen;
      if (total === bytes) return signRaw(ctx, 'rs', h, payload);
      if (total > bytes) break;
    }
  }
  throw new Error(`signedOfSize: cannot hit ${bytes} bytes`);
}
