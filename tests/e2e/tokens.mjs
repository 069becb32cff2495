// jwtgate e2e token factory.
//
// Every export in `factories` is referenced BY NAME from cases.json ("token").
// Each factory is `async (ctx) => string`, where ctx comes from
// createTokenContext(endpoints). Crafted tokens are signed with the live
// IdP's own private keys (read from endpoints.idp_keys_path, same kid), so
// exactly one thing is wrong with each of them; gate.test.mjs proves that by
// verifying each one with jose with only that one check relaxed.

import { createHmac, createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as jose from 'jose';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Reads run/endpoints.json (or $JWTGATE_ENDPOINTS) relative to the repo root. */
export function loadEndpoints(path = process.env.JWTGATE_ENDPOINTS) {
  const file = path ? resolve(path) : resolve(REPO_ROOT, 'run', 'endpoints.json');
  let endpoints;
  try {
    endpoints = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read endpoints file ${file} (start the stack with tests/up.py or set JWTGATE_ENDPOINTS): ${err.message}`);
  }
  for (const k of ['idp_issuer', 'idp_token_url', 'client_id', 'client_secret', 'audience', 'idp_keys_path']) {
    if (typeof endpoints[k] !== 'string' || !endpoints[k]) throw new Error(`${file}: missing "${k}"`);
  }
  endpoints.hosts ??= {};
  endpoints.upstreams ??= {};
  return { ...endpoints, file };
}

export const now = () => Math.floor(Date.now() / 1000);
const rand = () => randomBytes(6).toString('hex');
const b64json = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');

/** Per-run state: endpoints, cached IdP token, IdP keys, attacker key. */
export function createTokenContext(endpoints) {
  return { endpoints, cache: new Map() };
}

function once(ctx, key, fn) {
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
function attackerKey(ctx) {
  return once(ctx, 'attacker', async () => {
    const { privateKey, publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
    const pub = await jose.exportJWK(publicKey);
    return { privateKey, pub: { ...pub, alg: 'RS256', use: 'sig' }, kid: `nope-${rand()}` };
  });
}

/** Fetches a real access token from the IdP (client_credentials). */
export async function fetchIdpToken(endpoints) {
  const basic = Buffer.from(
    `${encodeURIComponent(endpoints.client_id)}:${encodeURIComponent(endpoints.client_secret)}`,
  ).toString('base64');
  const res = await fetch(endpoints.idp_token_url, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    // scope must be requested explicitly: oidc-provider does not default it.
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: endpoints.audience, scope: 'read write' }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`IdP token endpoint answered ${res.status}: ${text}`);
  const body = JSON.parse(text);
  if (typeof body.access_token !== 'string') throw new Error(`IdP token response has no access_token: ${text}`);
  return body;
}

/** Claims mirroring a real IdP token; `over` overrides, undefined deletes. */
export function craftedClaims(ctx, over = {}) {
  const t = now();
  const claims = {
    iss: ctx.endpoints.idp_issuer,
    sub: 'crafted-client',
    aud: ctx.endpoints.audience,
    iat: t,
    exp: t + 300,
    jti: randomUUID(),
    client_id: ctx.endpoints.client_id,
    scope: 'read write',
    ...over,
  };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return claims;
}

async function signWith({ key, kid }, alg, claims, header = {}) {
  const h = { alg, typ: 'at+jwt', ...(kid ? { kid } : {}), ...header };
  for (const [k, v] of Object.entries(h)) if (v === undefined) delete h[k];
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader(h).sign(key);
}

const rsCrafted = async (ctx, over, header) => signWith((await idpKeys(ctx)).rs, 'RS256', craftedClaims(ctx, over), header);

/** Replaces one character in the middle of the signature segment. */
export function flipSignature(token) {
  const [h, p, s] = token.split('.');
  const i = Math.floor(s.length / 2);
  const c = s[i] === 'A' ? 'B' : 'A';
  return `${h}.${p}.${s.slice(0, i)}${c}${s.slice(i + 1)}`;
}

// ---------------------------------------------------------------------------
// Factories (names are the vocabulary of cases.json "token").

/** Real token from the live IdP, cached per run (refetched near expiry). */
export async function idp(ctx) {
  const cached = ctx.cache.get('idp-token');
  if (cached) {
    const { access_token: tok } = await cached;
    if (jose.decodeJwt(tok).exp - now() > 60) return tok;
    ctx.cache.delete('idp-token');
  }
  return (await once(ctx, 'idp-token', () => fetchIdpToken(ctx.endpoints))).access_token;
}

/** All claims right, RS256 with the IdP key: must be ALLOWED. */
export const crafted_valid = (ctx) => rsCrafted(ctx);
/** Expired 10 minutes ago (well beyond the 60 s clock skew). */
export const expired = (ctx) => rsCrafted(ctx, { iat: now() - 900, exp: now() - 600 });
/** Expired 20 s ago: inside the 60 s clock skew, so still ALLOWED. */
export const expired_within_skew = (ctx) => rsCrafted(ctx, { iat: now() - 320, exp: now() - 20 });
export const wrong_aud = (ctx) => rsCrafted(ctx, { aud: 'https://other.example' });
export const wrong_iss = (ctx) => rsCrafted(ctx, { iss: 'https://evil.example' });
export const no_exp = (ctx) => rsCrafted(ctx, { exp: undefined });
/** nbf 10 min ahead (exp after it, so the token becomes valid later). */
export const not_yet_valid = (ctx) => rsCrafted(ctx, { nbf: now() + 600, exp: now() + 900 });
export const wrong_typ = (ctx) => rsCrafted(ctx, {}, { typ: 'JWT' });
/** Valid at+jwt signed with the IdP's ES256 key and kid: must be ALLOWED. */
export const es256_idp = async (ctx) => signWith((await idpKeys(ctx)).es, 'ES256', craftedClaims(ctx));

/** {"alg":"none","typ":"at+jwt"} with valid claims and an empty signature. */
export const alg_none = async (ctx) => `${b64json({ alg: 'none', typ: 'at+jwt' })}.${b64json(craftedClaims(ctx))}.`;

/** The real IdP token with one signature character changed. */
export const flipped_sig = async (ctx) => flipSignature(await idp(ctx));

/** Key confusion: HS256 keyed with the IdP RSA public key (PEM SPKI), IdP kid. */
export async function hs256_rsa_pub(ctx) {
  const { rs } = await idpKeys(ctx);
  const { kty, n, e } = rs.jwk;
  const pem = createPublicKey({ key: { kty, n, e }, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  const input = `${b64json({ alg: 'HS256', typ: 'at+jwt', kid: rs.kid })}.${b64json(craftedClaims(ctx))}`;
  return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
}

/** Signed with a key the IdP never had, kid `nope-<random>`. */
export const unknown_kid = async (ctx) => {
  const a = await attackerKey(ctx);
  return signWith({ key: a.privateKey, kid: a.kid }, 'RS256', craftedClaims(ctx));
};

/** Attacker key with its public JWK embedded in the header, no kid. */
export const embedded_jwk = async (ctx) => {
  const a = await attackerKey(ctx);
  return signWith({ key: a.privateKey }, 'RS256', craftedClaims(ctx), { jwk: a.pub });
};

/** Attacker key with a `jku` pointing at an attacker URL, attacker kid. */
export const jku = async (ctx) => {
  const a = await attackerKey(ctx);
  return signWith({ key: a.privateKey, kid: a.kid }, 'RS256', craftedClaims(ctx), { jku: 'http://127.0.0.1:1/evil' });
};

/** Not a JWT at all. */
export const garbage = async () => 'abc.def';

export const factories = Object.freeze({
  idp,
  crafted_valid,
  expired,
  expired_within_skew,
  wrong_aud,
  wrong_iss,
  no_exp,
  not_yet_valid,
  wrong_typ,
  es256_idp,
  alg_none,
  flipped_sig,
  hs256_rsa_pub,
  unknown_kid,
  embedded_jwk,
  jku,
  garbage,
});

/** Mints the token called `name` (a key of `factories`). */
export async function mint(name, ctx) {
  const f = factories[name];
  if (!f) throw new Error(`unknown token factory "${name}" (known: ${Object.keys(factories).join(', ')})`);
  return f(ctx);
}
