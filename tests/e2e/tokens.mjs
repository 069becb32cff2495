// jwtgate e2e token factory.
//
// Every export in `factories` is referenced BY NAME from cases.json ("token").
// Each factory is `async (ctx) => string`, where ctx comes from
// createTokenContext(endpoints). Crafted tokens are signed with the live
// IdP's own private keys (read from endpoints.idp_keys_path, same kid), so
// exactly one thing is wrong with each of them; gate.test.mjs proves that by
// verifying each one with jose with only that one check relaxed.

import {
  createHmac, createPrivateKey, createPublicKey, randomBytes, randomUUID, sign as cryptoSign,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
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
const b64 = (bytes) => Buffer.from(bytes).toString('base64url');

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

// ---------------------------------------------------------------------------
// RFC 8725 / CVE factories. Tokens that need exact bytes (duplicate members,
// invalid UTF-8, whitespace, huge payloads) are signed with signRaw, which
// signs the given header/payload bytes as they are.

/** A fixed attacker EC P-256 key and its self-signed cert (CN=attacker.invalid), for x5c/x5u. */
export const ATTACKER_EC_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHE4CJgz9UukyyC5z
OdS6J1jz4ci+v7t+XjWbVZeHigyhRANCAASpKKXnzUgEEnslIH77TNXyPKw5zvdR
aRmlpZPvsvwcBAQI3XDkEME2zaTwdIjXxqTv4Hy99cFkCFKP5uds2oAj
-----END PRIVATE KEY-----
`;
export const ATTACKER_CERT_DER_B64 = 'MIIBjTCCATOgAwIBAgIUD+uX1XHHauRa99JSOPYiBt4rVwEwCgYIKoZIzj0EAwIwGzEZMBcGA1UEAwwQYXR0YWNrZXIuaW52YWxpZDAgFw0yNjExMjkyMzExMzdaGA8yMTI2MTEwNTIzMTEzN1owGzEZMBcGA1UEAwwQYXR0YWNrZXIuaW52YWxpZDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABKkopefNSAQSeyUgfvtM1fI8rDnO91FpGaWlk++y/BwEBAjdcOQQwTbNpPB0iNfGpO/gfL31wWQIUo/m52zagCOjUzBRMB0GA1UdDgQWBBSA4c0XYbTls1tpKuUvuhlHsraGPDAfBgNVHSMEGDAWgBSA4c0XYbTls1tpKuUvuhlHsraGPDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCGxErJ1CPMOMKxTPs5JANV3LJutvTp0nAC5YY2WbqxvAIgHDRcjFAjAD1pbn2TYAmf2tMS5JJZW6HrIwIBv1u53W4=';
export const ATTACKER_CERT_PEM = `-----BEGIN CERTIFICATE-----\n${ATTACKER_CERT_DER_B64.match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n`;
const attackerEc = () => createPrivateKey(ATTACKER_EC_KEY_PEM);

/** The P-256 group order, for high-S signatures. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/**
 * A loopback HTTP listener (OS-chosen port, outside 9400-9499) that records every request.
 * jku/x5u tokens point here; a gate that dereferences them shows up in `hits`. It serves
 * what a trusting gate would want (/jwks: the attacker JWKS, /x5u: the attacker cert), so
 * the sanity proofs can show those URLs really would make the tokens verify.
 */
export function canary(ctx) {
  return once(ctx, 'canary', async () => {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const state = { hits: [], url: '', jwks: { keys: [] } };
      const server = createServer((req, res) => {
        state.hits.push(`${req.method} ${req.url}`);
        if (req.url.startsWith('/jwks')) {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(state.jwks));
        } else if (req.url.startsWith('/x5u')) {
          res.setHeader('content-type', 'application/pem-certificate-chain');
          res.end(ATTACKER_CERT_PEM);
        } else {
          res.statusCode = 404;
          res.end();
        }
      });
      await new Promise((ok, fail) => { server.once('error', fail); server.listen(0, '127.0.0.1', ok); });
      server.unref();
      const { port } = server.address();
      if (port >= 9400 && port <= 9499) { server.close(); continue; } // the stacks' range
      state.url = `http://127.0.0.1:${port}`;
      state.server = server;
      return state;
    }
    throw new Error('canary: no free port outside 9400-9499');
  });
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
async function headerText(ctx, which, extra = {}) {
  const k = (await idpKeys(ctx))[which];
  return JSON.stringify({ alg: which === 'es' ? 'ES256' : 'RS256', typ: 'at+jwt', kid: k.kid, ...extra });
}

/** crafted claims as JSON text minus the closing brace, so raw members can be appended. */
const claimsOpen = (ctx, over) => JSON.stringify(craftedClaims(ctx, over)).slice(0, -1);

// --- key / algorithm binding --------------------------------------------------

/** Valid ES256 signature by the IdP EC key, but the header names the IdP *RSA* kid. */
export const es256_with_rs_kid = async (ctx) => {
  const { es, rs } = await idpKeys(ctx);
  return signWith(es, 'ES256', craftedClaims(ctx), { kid: rs.kid });
};
/** Valid RS256 signature by the IdP RSA key, but the header names the IdP *EC* kid. */
export const rs256_with_es_kid = async (ctx) => {
  const { es, rs } = await idpKeys(ctx);
  return signWith(rs, 'RS256', craftedClaims(ctx), { kid: es.kid });
};
/** CVE-2022-21449 "psychic signature": ES256 with r = s = 0 (64 zero bytes), IdP EC kid. */
export const psychic_es256 = async (ctx) => {
  const { es } = await idpKeys(ctx);
  return `${b64json({ alg: 'ES256', typ: 'at+jwt', kid: es.kid })}.${b64json(craftedClaims(ctx))}.${b64(Buffer.alloc(64))}`;
};
/** A valid IdP ES256 token whose s was replaced by n - s (the "high-S" twin: same claims, other bytes). */
export const es256_high_s = async (ctx) => {
  const [h, p, s] = (await es256_idp(ctx)).split('.');
  const sig = Buffer.from(s, 'base64url');
  const sv = BigInt(`0x${sig.subarray(32).toString('hex')}`);
  const high = sv > P256_N / 2n ? sv : P256_N - sv;
  const out = Buffer.concat([sig.subarray(0, 32), Buffer.from(high.toString(16).padStart(64, '0'), 'hex')]);
  return `${h}.${p}.${b64(out)}`;
};
/** A valid IdP ES256 signature in ASN.1 DER form instead of JOSE's raw r||s (RFC 7518 3.4). */
export const es256_der_signature = async (ctx) =>
  signRaw(ctx, 'es', await headerText(ctx, 'es'), JSON.stringify(craftedClaims(ctx)), { dsaEncoding: 'der' });

// --- keys named or embedded in the header (CVE-2018-0114 and friends) ----------

/** Attacker RSA key; the attacker JWK embedded in `jwk`, but the kid is the IdP's RSA kid. */
export const embedded_jwk_idp_kid = async (ctx) => {
  const a = await attackerKey(ctx);
  const { rs } = await idpKeys(ctx);
  return signWith({ key: a.privateKey, kid: rs.kid }, 'RS256', craftedClaims(ctx), { jwk: a.pub });
};
/** Attacker RSA key, attacker kid, `jku` = the canary's /jwks, which serves the attacker JWKS. */
export const jku_canary = async (ctx) => {
  const a = await attackerKey(ctx);
  const c = await canary(ctx);
  c.jwks = { keys: [{ ...a.pub, kid: a.kid }] };
  return signWith({ key: a.privateKey, kid: a.kid }, 'RS256', craftedClaims(ctx), { jku: `${c.url}/jwks` });
};
/** Attacker EC key, no kid, `x5u` = the canary's /x5u, which serves the attacker cert. */
export const x5u_canary = async (ctx) => {
  const c = await canary(ctx);
  return signWith({ key: attackerEc() }, 'ES256', craftedClaims(ctx), { x5u: `${c.url}/x5u` });
};
/** Attacker EC key, no kid, the attacker's self-signed cert in `x5c`. */
export const x5c_attacker = async (ctx) =>
  signWith({ key: attackerEc() }, 'ES256', craftedClaims(ctx), { x5c: [ATTACKER_CERT_DER_B64] });

// --- token-type confusion (RFC 8725 3.11, RFC 9068 4) -------------------------

/** An OIDC ID token as the IdP would sign one: typ JWT, aud = the client id, nonce, auth_time. */
export function idTokenClaims(ctx, over = {}) {
  const t = now();
  const claims = {
    iss: ctx.endpoints.idp_issuer, sub: 'user-1', aud: ctx.endpoints.client_id, azp: ctx.endpoints.client_id,
    iat: t, exp: t + 300, auth_time: t - 5, nonce: `n-${rand()}`, ...over,
  };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return claims;
}
export const id_token = async (ctx) => signWith((await idpKeys(ctx)).rs, 'RS256', idTokenClaims(ctx), { typ: 'JWT' });
/** ID-token shape and typ JWT, but aud = the API (an IdP that puts the resource in aud). */
export const id_token_api_aud = async (ctx) =>
  signWith((await idpKeys(ctx)).rs, 'RS256', idTokenClaims(ctx, { aud: ctx.endpoints.audience }), { typ: 'JWT' });
/** ID-token shape, aud = the API, and no typ at all (many IdPs omit it on ID tokens). */
export const id_token_no_typ = async (ctx) =>
  signWith((await idpKeys(ctx)).rs, 'RS256', idTokenClaims(ctx, { aud: ctx.endpoints.audience }), { typ: undefined });
/** Valid access-token claims plus htm/htu, signed by the IdP, but typ dpop+jwt (RFC 9449 proof type). */
export const dpop_proof = async (ctx) =>
  signWith((await idpKeys(ctx)).rs, 'RS256', craftedClaims(ctx, { htm: 'GET', htu: 'http://127.0.0.1/api/node/hello' }), { typ: 'dpop+jwt' });
/** typ `application/at+jwt`, the long form of at+jwt (RFC 9068 2.1): must be ALLOWED. */
export const typ_application_at_jwt = async (ctx) =>
  signWith((await idpKeys(ctx)).rs, 'RS256', craftedClaims(ctx), { typ: 'application/at+jwt' });

// --- header members and serialisations ----------------------------------------

/** Signed by the IdP with crit naming an extension nobody implements. */
export const crit_unknown = async (ctx) =>
  signRaw(ctx, 'rs', await headerText(ctx, 'rs', { crit: ['urn:jwtgate:test'], 'urn:jwtgate:test': true }), JSON.stringify(craftedClaims(ctx)));
/** Signed by the IdP with `crit: []` (invalid per RFC 7515 4.1.11; jwt-simple accepts it). */
export const crit_empty = async (ctx) =>
  signRaw(ctx, 'rs', await headerText(ctx, 'rs', { crit: [] }), JSON.stringify(craftedClaims(ctx)));
/** cty JWT: the payload is a complete, valid inner token (a nested JWT), outer signed by the IdP. */
export const cty_nested = async (ctx) =>
  signRaw(ctx, 'rs', await headerText(ctx, 'rs', { cty: 'JWT' }), await crafted_valid(ctx));
/** A real JWE (RSA-OAEP-256/A256GCM) of valid claims, encrypted to the IdP RSA public key: 5 segments. */
export const jwe_five_segments = async (ctx) => {
  const { rs } = await idpKeys(ctx);
  const { kty, n, e } = rs.jwk;
  return new jose.CompactEncrypt(new TextEncoder().encode(JSON.stringify(craftedClaims(ctx))))
    .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', typ: 'at+jwt', kid: rs.kid })
    .encrypt(createPublicKey({ key: { kty, n, e }, format: 'jwk' }));
};
/** A valid IdP-signed token in JWS flattened JSON serialization (RFC 7515 7.2.2), as one header value. */
export const jws_json_flattened = async (ctx) => {
  const { rs } = await idpKeys(ctx);
  const jws = await new jose.FlattenedSign(new TextEncoder().encode(JSON.stringify(craftedClaims(ctx))))
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: rs.kid }).sign(rs.key);
  return JSON.stringify(jws);
};
/** Header `{"alg":"none",…,"alg":"RS256"}`, validly RS256-signed: last-wins parsers see RS256, first-wins none. */
export const dup_alg = async (ctx) => {
  const { rs } = await idpKeys(ctx);
  return signRaw(ctx, 'rs', `{"alg":"none","typ":"at+jwt","kid":${JSON.stringify(rs.kid)},"alg":"RS256"}`, JSON.stringify(craftedClaims(ctx)));
};
/** Payload `{"sub":"admin",…,"sub":"crafted-client"}`, validly signed: two parsers, two subjects. */
export const dup_sub = async (ctx) =>
  signRaw(ctx, 'rs', await headerText(ctx, 'rs'), `{"sub":"admin",${claimsOpen(ctx).slice(1)}}`);
/** Valid claims plus `"name":"<0xff>"`: the payload is not UTF-8 (RFC 7519 7.2 step 10). */
export const payload_invalid_utf8 = async (ctx) =>
  signRaw(ctx, 'rs', await headerText(ctx, 'rs'), Buffer.concat([Buffer.from(`${claimsOpen(ctx)},"name":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]));
/** Valid claims encoded as UTF-16LE with a BOM: JSON, but not in UTF-8. */
export const payload_utf16 = async (ctx) =>
  signRaw(ctx, 'rs', await headerText(ctx, 'rs'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify(craftedClaims(ctx)), 'utf16le')]));

// --- time claims ----------------------------------------------------------------

export const exp_string = (ctx) => rsCrafted(ctx, { exp: String(now() + 300) });
export const exp_float = (ctx) => rsCrafted(ctx, { exp: now() + 300.5 });
export const exp_negative = (ctx) => rsCrafted(ctx, { exp: -1 });
export const exp_1e300 = (ctx) => rsCrafted(ctx, { exp: 1e300 });
/** iat now, exp 25 h later: beyond the default max_lifetime_s of 24 h. */
export const lifetime_25h = (ctx) => rsCrafted(ctx, { iat: now(), exp: now() + 25 * 3600 });
/** iat 10 s ago, exp exactly 24 h after iat: the longest lifetime allowed, must be ALLOWED. */
export const lifetime_24h = (ctx) => rsCrafted(ctx, { iat: now() - 10, exp: now() - 10 + 24 * 3600 });
/** iat 10 min in the future (beyond the 60 s skew). */
export const iat_future = (ctx) => rsCrafted(ctx, { iat: now() + 600, exp: now() + 900 });
/** iat 30 s in the future (inside the 60 s skew): must be ALLOWED. */
export const iat_future_within_skew = (ctx) => rsCrafted(ctx, { iat: now() + 30, exp: now() + 330 });

// --- claims the gate maps to headers ---------------------------------------------

/** Valid token without client_id (so x-jwt-client-id has no verified value). */
export const no_client_id = (ctx) => rsCrafted(ctx, { client_id: undefined });

// --- sizes ----------------------------------------------------------------------

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
export const size_8192 = (ctx) => signedOfSize(ctx, 8192);
export const size_8193 = (ctx) => signedOfSize(ctx, 8193);
/** 100,000 dots: about 98 KiB, beyond Envoy's 60 KiB default request-header limit. */
export const dots_100000 = async () => '.'.repeat(100_000);
/** Validly signed; payload has `nest` = 10,000 nested arrays (about 27 KB, so over max_token_bytes). */
export const deep_nesting_10000 = async (ctx) =>
  signRaw(ctx, 'rs', await headerText(ctx, 'rs'), `${claimsOpen(ctx)},"nest":${'['.repeat(10_000)}${']'.repeat(10_000)}}`);
/** Validly signed; as many nested arrays as fit within 8192 bytes (over 2,500): reaches the JSON parser. */
export const deep_nesting_in_limit = async (ctx) => {
  const head = await headerText(ctx, 'rs');
  let depth = 3000;
  for (;;) {
    const tok = await signRaw(ctx, 'rs', head, `${claimsOpen(ctx)},"nest":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    if (tok.length <= 8192) return tok;
    depth -= 10;
  }
};
/** Validly signed; aud = 9,999 one-letter entries then the right audience (about 53 KB). */
export const aud_10000 = (ctx) => rsCrafted(ctx, { aud: [...Array(9_999).fill('x'), ctx.endpoints.audience] });
/** Validly signed; aud = as many one-letter entries as fit within 8192 bytes, then the right audience. */
export const aud_many_within_limit = async (ctx) => {
  let count = 1500;
  for (;;) {
    const tok = await rsCrafted(ctx, { aud: [...Array(count).fill('x'), ctx.endpoints.audience] });
    if (tok.length <= 8192) return tok;
    count -= 10;
  }
};

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
  es256_with_rs_kid,
  rs256_with_es_kid,
  psychic_es256,
  es256_high_s,
  es256_der_signature,
  embedded_jwk_idp_kid,
  jku_canary,
  x5u_canary,
  x5c_attacker,
  id_token,
  id_token_api_aud,
  id_token_no_typ,
  dpop_proof,
  typ_application_at_jwt,
  crit_unknown,
  crit_empty,
  cty_nested,
  jwe_five_segments,
  jws_json_flattened,
  dup_alg,
  dup_sub,
  payload_invalid_utf8,
  payload_utf16,
  exp_string,
  exp_float,
  exp_negative,
  exp_1e300,
  lifetime_25h,
  lifetime_24h,
  iat_future,
  iat_future_within_skew,
  no_client_id,
  size_8192,
  size_8193,
  dots_100000,
  deep_nesting_10000,
  deep_nesting_in_limit,
  aud_10000,
  aud_many_within_limit,
});

/** Mints the token called `name` (a key of `factories`). */
export async function mint(name, ctx) {
  const f = factories[name];
  if (!f) throw new Error(`unknown token factory "${name}" (known: ${Object.keys(factories).join(', ')})`);
  return f(ctx);
}
