// jwtgate e2e token factory.
//
// Every export in `factories` is referenced BY NAME from cases.json ("token").
// Each factory is `async (ctx) => string`, where ctx comes from
// createTokenContext(endpoints). Crafted tokens are signed with the live
// IdP's own private keys (read from endpoints.idp_keys_path, same kid), so
// exactly one thing is wrong with each of them; gate.test.mjs proves that by
// verifying each one with jose with only that one check relaxed.
//
// Helpers live in lib/ (endpoints.mjs: endpoints file and IdP token endpoint;
// claims.mjs; keys.mjs: token context and keys; signing.mjs; canary.mjs). This
// file re-exports the ones other files use, so importers need only tokens.mjs.

import { createHmac, createPublicKey } from 'node:crypto';

import * as jose from 'jose';

import { canary } from './lib/canary.mjs';
import { claimsOpen, craftedClaims, idTokenClaims, now } from './lib/claims.mjs';
import { fetchIdpToken } from './lib/endpoints.mjs';
import {
  ATTACKER_CERT_DER_B64, attackerEc, attackerKey, idpKeys, once,
} from './lib/keys.mjs';
import {
  b64, b64json, flipSignature, headerText, rsCrafted, signRaw, signWith, signedOfSize,
} from './lib/signing.mjs';

export { canary } from './lib/canary.mjs';
export { craftedClaims, idTokenClaims, now } from './lib/claims.mjs';
export { REPO_ROOT, fetchIdpToken, loadEndpoints } from './lib/endpoints.mjs';
export {
  ATTACKER_CERT_DER_B64, ATTACKER_CERT_PEM, ATTACKER_EC_KEY_PEM, createTokenContext, idpKeys,
} from './lib/keys.mjs';
export { flipSignature, rsCrafted, signRaw, signedOfSize } from './lib/signing.mjs';

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

/** A real IdP token for another client in endpoints.clients (cached per run like `idp`). */
async function idpClient(ctx, name) {
  const key = `idp-token-${name}`;
  const cached = ctx.cache.get(key);
  if (cached) {
    const { access_token: tok } = await cached;
    if (jose.decodeJwt(tok).exp - now() > 60) return tok;
    ctx.cache.delete(key);
  }
  const client = ctx.endpoints.clients?.[name];
  if (!client) throw new Error(`endpoints.json has no clients.${name} (restart the stack with tests/up.py)`);
  return (await once(ctx, key, () => fetchIdpToken({ ...ctx.endpoints, ...client }))).access_token;
}

// --- authorization policy: real IdP tokens of other clients, and claims of the wrong type

/** Real IdP token of the `globex` client: tenant globex, roles [orders:read], email_verified false, level 1. */
export const idp_globex = (ctx) => idpClient(ctx, 'globex');
/** Real IdP token of the `plain` client: none of the policy claims (no tenant, roles, ...). */
export const idp_plain = (ctx) => idpClient(ctx, 'plain');
/** Valid, with `tenant` a number (7): never equal to the path segment "7". */
export const tenant_number = (ctx) => rsCrafted(ctx, { tenant: 7 });
/** Valid, with `roles` the string "orders:write" instead of an array. */
export const roles_string = (ctx) => rsCrafted(ctx, { tenant: 'acme', roles: 'orders:write' });
/** Valid, with `email_verified` the string "true" (and `level` 2): a string is no boolean. */
export const email_verified_string = (ctx) => rsCrafted(ctx, { email_verified: 'true', level: 2 });

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
/** `wrong_typ`, but one token per run: the same string on two routes exercises the token cache. */
export const wrong_typ_shared = (ctx) => once(ctx, 'wrong-typ-shared', () => wrong_typ(ctx));
/** Valid, but `sub` has leading whitespace: no header can carry it with one reading. */
export const sub_edge_whitespace = (ctx) => rsCrafted(ctx, { sub: ' admin' });
/** Valid, but `client_id` (a claim header) holds a control character (header injection material). */
export const client_id_control_char = (ctx) => rsCrafted(ctx, { client_id: 'app\u0001admin' });
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

/** The P-256 group order, for high-S signatures. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

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

// --- revocation: valid tokens that an inline denylist entry of provider `idp` matches
// (envoy/jwtgate.json -> providers.idp.revocation.inline)

/** Valid; its `jti` is listed. */
export const revoked_jti = (ctx) => rsCrafted(ctx, { jti: 'e2e-revoked-jti' });
/** Valid; every token of its subject is listed. */
export const revoked_sub = (ctx) => rsCrafted(ctx, { sub: 'e2e-revoked-sub' });
/** Valid; its session (`sid`) is listed. */
export const revoked_sid = (ctx) => rsCrafted(ctx, { sid: 'e2e-revoked-sid' });
/** Valid; its client (`client_id`) is listed. */
export const revoked_client = (ctx) => rsCrafted(ctx, { client_id: 'e2e-revoked-client' });
/** Valid; its subject is listed only for tokens issued before 2023-11-14 (`iat_before`): not this one. */
export const cutoff_sub_issued_after = (ctx) => rsCrafted(ctx, { sub: 'e2e-cutoff-sub' });

// --- Token Status List: tokens naming an index of the IdP's list 1 (0 VALID, 1 INVALID,
// 2 SUSPENDED), or a list outside the configured uri_prefix.
const statusRef = (ctx, idx, uri = `${ctx.endpoints.idp_issuer}/statuslists/1`) =>
  rsCrafted(ctx, { status: { status_list: { idx, uri } } });
export const status_valid = (ctx) => statusRef(ctx, 0);
export const status_invalid = (ctx) => statusRef(ctx, 1);
export const status_suspended = (ctx) => statusRef(ctx, 2);
export const status_uri_elsewhere = (ctx) => statusRef(ctx, 0, `${ctx.endpoints.idp_issuer}/other/1`);

export const factories = Object.freeze({
  status_valid,
  status_invalid,
  status_suspended,
  status_uri_elsewhere,
  revoked_jti,
  revoked_sub,
  revoked_sid,
  revoked_client,
  cutoff_sub_issued_after,
  idp,
  idp_globex,
  idp_plain,
  tenant_number,
  roles_string,
  email_verified_string,
  crafted_valid,
  expired,
  expired_within_skew,
  wrong_aud,
  wrong_iss,
  no_exp,
  not_yet_valid,
  wrong_typ,
  wrong_typ_shared,
  sub_edge_whitespace,
  client_id_control_char,
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
