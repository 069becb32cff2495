// Per-run token context (createTokenContext, with a promise cache) and the keys
// tokens are signed with: the live IdP's private keys, a fresh attacker RSA key,
// and a fixed attacker EC key with its self-signed cert. Re-exported (except
// once, attackerKey, attackerEc) by ../tokens.mjs.

import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

import * as jose from 'jose';

import { rand } from './claims.mjs';
import { REPO_ROOT } from './endpoints.mjs';

/** Per-run state: endpoints, cached IdP token, IdP keys, attacker key. */
export function createTokenContext(endpoints) {
  return { endpoints, cache: new Map() };
}

export function once(ctx, key, fn) {
  if (!ctx.cache.has(key)) {
    const p = Promise.resolve().then(fn);
    p.catch(() => ctx.cache.delete(key)); // do not cache failures
    ctx.cache.set(key, p);
  }
  return ctx.cache.get(key);
}

/** The IdP's private JWKS as written by tests/idp/server.mjs --keys-out. */
export function idpKeys(ctx) {
  return once(ctx, 'idp-keys', async () => {
    const p = ctx.endpoints.idp_keys_path;
    const file = isAbsolute(p) ? p : resolve(REPO_ROOT, p);
    const { keys } = JSON.parse(readFileSync(file, 'utf8'));
    const pick = async (alg) => {
      const jwk = keys.find((k) => k.alg === alg && k.use === 'sig' && k.d);
      if (!jwk) throw new Error(`${file}: no private ${alg} signing key`);
      return { jwk, kid: jwk.kid, key: await jose.importJWK(jwk, alg) };
    };
    return { file, rs: await pick('RS256'), es: await pick('ES256') };
  });
}

/** A fresh attacker-controlled RSA key pair (one per run). */
export function attackerKey(ctx) {
  return once(ctx, 'attacker', async () => {
    const { privateKey, publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
    const pub = await jose.exportJWK(publicKey);
    return { privateKey, pub: { ...pub, alg: 'RS256', use: 'sig' }, kid: `nope-${rand()}` };
  });
}

/** A fixed attacker EC P-256 key and its self-signed cert (CN=attacker.invalid), for x5c/x5u. */
export const ATTACKER_EC_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHE4CJgz9UukyyC5z
OdS6J1jz4ci+v7t+XjWbVZeHigyhRANCAASpKKXnzUgEEnslIH77TNXyPKw5zvdR
aRmlpZPvsvwcBAQI3XDkEME2zaTwdIjXxqTv4Hy99cFkCFKP5uds2oAj
-----END PRIVATE KEY-----
`;
export const ATTACKER_CERT_DER_B64 = 'MIIBjTCCATOgAwIBAgIUD+uX1XHHauRa99JSOPYiBt4rVwEwCgYIKoZIzj0EAwIwGzEZMBcGA1UEAwwQYXR0YWNrZXIuaW52YWxpZDAgFw0yNjExMjkyMzExMzdaGA8yMTI2MTEwNTIzMTEzN1owGzEZMBcGA1UEAwwQYXR0YWNrZXIuaW52YWxpZDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABKkopefNSAQSeyUgfvtM1fI8rDnO91FpGaWlk++y/BwEBAjdcOQQwTbNpPB0iNfGpO/gfL31wWQIUo/m52zagCOjUzBRMB0GA1UdDgQWBBSA4c0XYbTls1tpKuUvuhlHsraGPDAfBgNVHSMEGDAWgBSA4c0XYbTls1tpKuUvuhlHsraGPDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCGxErJ1CPMOMKxTPs5JANV3LJutvTp0nAC5YY2WbqxvAIgHDRcjFAjAD1pbn2TYAmf2tMS5JJZW6HrIwIBv1u53W4=';
export const ATTACKER_CERT_PEM = `-----BEGIN CERTIFICATE-----\n${ATTACKER_CERT_DER_B64.match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n`;
export const attackerEc = () => createPrivateKey(ATTACKER_EC_KEY_PEM);
