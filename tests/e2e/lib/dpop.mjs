// A DPoP client (RFC 9449) written with jose: key pairs, proofs (valid or hostile on
// purpose), and DPoP-bound tokens from the IdP. Used by ../dpop.test.mjs, tests/demo.mjs
// and the bench.

import { createHash, randomUUID } from 'node:crypto';

import * as jose from 'jose';

const b64json = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** A client key pair: `{ privateKey, publicJwk, jkt }` (jkt = RFC 7638 thumbprint). */
export async function clientKey(alg = 'ES256') {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
  const publicJwk = await jose.exportJWK(publicKey);
  return { alg, privateKey, publicJwk, jkt: await jose.calculateJwkThumbprint(publicJwk, 'sha256') };
}

/** `ath`: base64url SHA-256 of the access token. */
export const ath = (token) => createHash('sha256').update(token).digest('base64url');

/**
 * A signed proof for `htm` `htu`; `claims` override (undefined removes), `header`
 * overrides the protected header (e.g. another `jwk`).
 */
export async function proof(key, htm, htu, { token, claims = {}, header = {} } = {}) {
  const body = { htm, htu, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), ...(token ? { ath: ath(token) } : {}), ...claims };
  for (const [k, v] of Object.entries(body)) if (v === undefined) delete body[k];
  const h = { typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk, ...header };
  return new jose.SignJWT(body).setProtectedHeader(h).sign(key.privateKey);
}

/** An unsigned (`alg: none`) proof. */
export function unsignedProof(key, htm, htu, token) {
  const claims = { htm, htu, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), ath: ath(token) };
  return `${b64json({ typ: 'dpop+jwt', alg: 'none', jwk: key.publicJwk })}.${b64json(claims)}.`;
}

/** An HS256 "proof" whose header names the client's public key. */
export async function hmacProof(key, htm, htu, token) {
  const claims = { htm, htu, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), ath: ath(token) };
  return new jose.SignJWT(claims)
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'HS256', jwk: key.publicJwk })
    .sign(new TextEncoder().encode('x'.repeat(32)));
}

/**
 * A DPoP-bound access token for `key` from the IdP's token endpoint (client credentials
 * of `client` = {client_id, client_secret}). Retries once with the `DPoP-Nonce` the IdP
 * asks for, if it asks.
 */
export async function boundToken(endpoints, client, key) {
  const basic = Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64');
  let nonce;
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const dpop = await proof(key, 'POST', endpoints.idp_token_url, { claims: { nonce } });
    const res = await fetch(endpoints.idp_token_url, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', dpop },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: endpoints.audience, scope: 'read write' }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (res.status === 200) return JSON.parse(text);
    nonce = res.headers.get('dpop-nonce') ?? undefined;
    if (!nonce) throw new Error(`IdP token endpoint answered ${res.status}: ${text}`);
  }
  throw new Error('IdP kept asking for a DPoP nonce');
}
