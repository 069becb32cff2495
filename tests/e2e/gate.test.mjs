// jwtgate e2e: runs cases.json once per gate host in run/endpoints.json.
//
//   node --test tests/e2e/gate.test.mjs            (from the repo root)
//   JWTGATE_ENDPOINTS=/path/endpoints.json node --test tests/e2e/gate.test.mjs
//   JWTGATE_REQUIRE_HOSTS=1 ...                    (fail when "hosts" is empty)
//
// The "sanity" suite needs only the IdP (and the upstreams when listed): it
// checks the IdP contract and proves every token factory is wrong in exactly
// the intended way. The per-host suites are named after the host and each
// subtest `<host>: <case id>`.
//
// Case fields beyond README.md's table (issue 6):
//   placement "template"  the token goes only where a `{{token}}` appears in `path`
//                         or in a `headers` value (strings or arrays), e.g.
//                         {"authorization": "Bearer\t{{token}}"}
//   raw: true             send the request bytes exactly over node:net (no URL or
//                         header normalisation by fetch: dot segments, `#`, `\`,
//                         trailing whitespace, oversized headers)
//   expect.status         a number, or a list of acceptable statuses
//   expect.no_outbound    true: the canary listener that jku/x5u tokens point at
//                         received no request during the case (waits 500 ms)
//   hosts_differ.<h>.expect  a member set to null removes that expectation there
//   hosts_differ.<h>      also applies to variants of that host named "<h>-…"
//                         (e.g. "envoy" covers "envoy-software")

import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { describe, it, test } from 'node:test';

import * as jose from 'jose';

import * as tokens from './tokens.mjs';

const endpoints = tokens.loadEndpoints();
const table = JSON.parse(readFileSync(new URL('./cases.json', import.meta.url), 'utf8'));
const ctx = tokens.createTokenContext(endpoints);

const PLACEMENTS = new Set([
  'bearer', 'query', 'cookie', 'bearer+query', 'bearer+cookie',
  'two_auth_headers', 'comma_joined', 'bearer_lowercase_scheme', 'template',
]);
const TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------
// HTTP helpers

function withQuery(path, token) {
  return `${path}${path.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}`;
}

/** Builds {path, headers} for a case; headers values may be arrays. */
function buildRequest(c, token) {
  let path = c.path;
  const headers = { ...(c.headers ?? {}) };
  const p = c.placement ?? (token ? 'bearer' : undefined);
  if (token !== undefined) {
    switch (p) {
      case 'bearer': headers.authorization = `Bearer ${token}`; break;
      case 'bearer_lowercase_scheme': headers.authorization = `bearer ${token}`; break;
      case 'query': path = withQuery(path, token); break;
      case 'cookie': headers.cookie = `jwt=${token}`; break;
      case 'bearer+query': headers.authorization = `Bearer ${token}`; path = withQuery(path, token); break;
      case 'bearer+cookie': headers.authorization = `Bearer ${token}`; headers.cookie = `jwt=${token}`; break;
      case 'two_auth_headers': headers.authorization = [`Bearer ${token}`, `Bearer ${token}`]; break;
      case 'comma_joined': headers.authorization = `Bearer ${token}, Bearer ${token}`; break;
      case 'template': {
        const fill = (v) => v.replaceAll('{{token}}', token);
        path = fill(path);
        for (const [k, v] of Object.entries(headers)) headers[k] = Array.isArray(v) ? v.map(fill) : fill(v);
        break;
      }
      default: throw new Error(`unknown placement ${p}`);
    }
  }
  return { method: c.method ?? 'GET', path, headers, body: c.body, raw: c.raw === true };
}

/** node:http request: keeps repeated header lines (fetch would merge them). */
function rawRequest(base, { method, path, headers, body }) {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = http.request({
      host: url.hostname, port: url.port, method, path, headers, agent: false, timeout: TIMEOUT_MS,
    }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({
        status: res.statusCode,
        header: (n) => { const v = res.headers[n.toLowerCase()]; return Array.isArray(v) ? v.join(', ') : (v ?? null); },
        text: Buffer.concat(chunks).toString('utf8'),
      }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout ${method} ${base}${path}`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Decodes a chunked HTTP/1.1 body. */
function unchunk(buf) {
  const out = [];
  let i = 0;
  while (i < buf.length) {
    const eol = buf.indexOf('\r\n', i);
    if (eol < 0) break;
    const size = Number.parseInt(buf.subarray(i, eol).toString('latin1').split(';')[0], 16);
    if (!size) break;
    out.push(buf.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** True once `buf` holds a complete response (by content-length or the last chunk). */
function responseComplete(buf) {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return false;
  const head = buf.subarray(0, headEnd).toString('latin1');
  const len = head.match(/\r\ncontent-length:\s*(\d+)/i);
  if (len) return buf.length - headEnd - 4 >= Number(len[1]);
  return /\r\ntransfer-encoding:\s*chunked/i.test(head) && buf.subarray(headEnd).includes('\r\n0\r\n\r\n');
}

function parseResponse(buf) {
  const headEnd = buf.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const headers = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  let body = buf.subarray(headEnd + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = unchunk(body);
  return { status: Number(statusLine.split(' ')[1]), header: (n) => headers[n.toLowerCase()] ?? null, text: body.toString('utf8') };
}

/**
 * The request exactly as given, over node:net: request-target and header values are
 * written byte for byte (fetch and node:http would normalise or refuse some of them).
 * Resolves as soon as the response is complete (Envoy lingers up to 1 s before
 * closing); a reset after a complete response head (Envoy's 431) still counts.
 */
function socketRequest(base, { method, path, headers, body }) {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const sock = net.connect(Number(url.port), url.hostname);
    const chunks = [];
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      sock.destroy();
      const buf = Buffer.concat(chunks);
      if (buf.indexOf('\r\n\r\n') < 0) reject(err ?? new Error(`no HTTP response from ${base} for ${method} ${path.slice(0, 200)}`));
      else resolve(parseResponse(buf));
    };
    sock.setTimeout(TIMEOUT_MS, () => finish(new Error(`timeout ${method} ${base}${path.slice(0, 200)}`)));
    sock.on('connect', () => {
      let head = `${method} ${path} HTTP/1.1\r\nhost: ${url.host}\r\nconnection: close\r\n`;
      for (const [k, v] of Object.entries(headers)) for (const one of [v].flat()) head += `${k}: ${one}\r\n`;
      if (body !== undefined) head += `content-length: ${Buffer.byteLength(body)}\r\n`;
      sock.write(`${head}\r\n`);
      if (body !== undefined) sock.write(body);
    });
    sock.on('data', (d) => {
      chunks.push(d);
      if (responseComplete(Buffer.concat(chunks))) finish();
    });
    sock.on('end', () => finish());
    sock.on('close', () => finish());
    sock.on('error', (err) => finish(err));
  });
}

async function send(base, r) {
  if (r.raw) return socketRequest(base, r);
  const repeated = Object.values(r.headers).some(Array.isArray);
  if (repeated) return rawRequest(base, r);
  const res = await fetch(new URL(r.path, base), {
    method: r.method, headers: r.headers, body: r.body, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  return { status: res.status, header: (n) => res.headers.get(n), text: await res.text() };
}

// ---------------------------------------------------------------------------
// Expectations

function expand(value, vars) {
  if (typeof value !== 'string') return value;
  return value.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (m, key) => {
    const [scope, name] = key.split('.');
    const v = vars[scope]?.[name];
    if (v === undefined) throw new Error(`cases.json: placeholder ${m} has no value`);
    return String(v);
  });
}

function resolveHeaderSet(spec = {}) {
  const { $use, ...rest } = spec;
  const base = $use ? table.header_sets?.[$use] : {};
  if (!base) throw new Error(`cases.json: unknown header set "${$use}"`);
  return { ...base, ...rest };
}

function effectiveCase(c, host) {
  // "envoy-software" falls back to "envoy": a variant of a host shares its entries.
  const diff = c.hosts_differ?.[host] ?? c.hosts_differ?.[host.split('-')[0]];
  if (diff === undefined) return { c, skip: false };
  if (typeof diff === 'string') return { c, skip: diff };
  const expect = { ...c.expect, ...(diff.expect ?? {}) };
  for (const [k, v] of Object.entries(expect)) if (v === null) delete expect[k];
  const merged = { ...c, ...(diff.request ?? {}), expect };
  return { c: merged, skip: diff.skip ? diff.reason ?? true : false, note: diff.reason };
}

function parseJson(text, what) {
  try { return JSON.parse(text); } catch { assert.fail(`${what} is not JSON: ${text.slice(0, 300)}`); }
}

function checkResponse(c, token, res) {
  const e = c.expect;
  const where = `${c.method ?? 'GET'} ${c.path} -> ${res.status} www-authenticate=${JSON.stringify(res.header('www-authenticate'))} ${res.text.slice(0, 300)}`;
  if (Array.isArray(e.status)) assert.ok(e.status.includes(res.status), `status ${res.status} not in ${JSON.stringify(e.status)} (${where})`);
  else assert.equal(res.status, e.status, `status (${where})`);

  const wwwAuth = res.header('www-authenticate');
  if (e.www_authenticate !== undefined) assert.equal(wwwAuth, e.www_authenticate, 'WWW-Authenticate');
  if (e.www_authenticate_suffix !== undefined) {
    assert.ok(wwwAuth?.endsWith(e.www_authenticate_suffix),
      `WWW-Authenticate ${JSON.stringify(wwwAuth)} should end with ${JSON.stringify(e.www_authenticate_suffix)}`);
  }
  if (e.www_authenticate_prefix !== undefined) {
    assert.ok(wwwAuth?.startsWith(e.www_authenticate_prefix),
      `WWW-Authenticate ${JSON.stringify(wwwAuth)} should start with ${JSON.stringify(e.www_authenticate_prefix)}`);
  }

  const fromGate = res.status >= 300;
  const placement = c.placement ?? 'bearer';
  // Gate-made answers must never echo the token; neither may allowed
  // requests where the token only travelled in Authorization (removed).
  if (token && token.length > 8 && (fromGate || !/query|cookie/.test(placement))) {
    assert.ok(!res.text.includes(token), 'response body must not contain the token');
  }

  if (e.body_error !== undefined) {
    const body = parseJson(res.text, 'denial body');
    assert.equal(body.error, e.body_error, 'body error');
    assert.equal(typeof body.error_description, 'string', 'body error_description');
  }

  if (res.status >= 200 && res.status < 300) {
    const echo = parseJson(res.text, 'upstream echo');
    assert.ok(['node', 'python'].includes(echo.service), `echo.service ${echo.service}`);
    if (e.upstream !== undefined) assert.equal(echo.service, e.upstream, 'upstream service');
    assert.equal(echo.method, c.method ?? 'GET', 'upstream method');
    if (e.upstream_path !== undefined) assert.equal(echo.path, e.upstream_path, 'upstream path');
    const vars = { token: token && token.split('.').length === 3 ? jose.decodeJwt(token) : {}, endpoints };
    for (const [name, want] of Object.entries(resolveHeaderSet(e.upstream_headers))) {
      const got = echo.headers[name.toLowerCase()];
      if (want === null) assert.equal(got, undefined, `upstream header ${name} must be absent`);
      else assert.equal(got, expand(want, vars), `upstream header ${name} (exactly one value)`);
    }
    for (const [name, v] of Object.entries(echo.headers)) {
      if (name.startsWith('x-jwt-')) assert.equal(typeof v, 'string', `${name} sent more than once: ${JSON.stringify(v)}`);
    }
    for (const bad of e.upstream_absent_values ?? []) {
      for (const [name, v] of Object.entries(echo.headers)) {
        for (const one of [v].flat()) assert.ok(!one.includes(bad), `upstream header ${name}: ${JSON.stringify(one)} must not contain ${JSON.stringify(bad)}`);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Sanity: table lint, IdP contract, token factory proofs, upstream contract.

const STRICT = {
  issuer: endpoints.idp_issuer,
  audience: endpoints.audience,
  typ: 'at+jwt',
  algorithms: ['RS256', 'ES256'],
  requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'],
  clockTolerance: 0,
};
const jwks = jose.createRemoteJWKSet(new URL(`${endpoints.idp_issuer}/jwks`));
const verify = (tok, opts = {}) => jose.jwtVerify(tok, jwks, { ...STRICT, ...opts });
const nowDate = (dt) => new Date((tokens.now() + dt) * 1000);
const headerJwk = (tok) => jose.importJWK(jose.decodeProtectedHeader(tok).jwk, 'RS256');
const rejectsWith = (p, code, claim) => assert.rejects(p, (err) => {
  assert.equal(err.code, code, `expected ${code}${claim ? `/${claim}` : ''}, got ${err.code}: ${err.message}`);
  if (claim) assert.equal(err.claim, claim);
  return true;
});

/** The signature verifies with the IdP public key the header's kid names (no JOSE checks at all). */
async function idpSigOk(tok, { dsaEncoding = 'ieee-p1363' } = {}) {
  const [h, p, s] = tok.split('.');
  const { kid, alg } = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
  const { keys } = await (await fetch(`${endpoints.idp_issuer}/jwks`)).json();
  const jwk = keys.find((k) => k.kid === kid);
  assert.ok(jwk, `no IdP key ${kid}`);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const ok = cryptoVerify('sha256', Buffer.from(`${h}.${p}`), alg === 'ES256' ? { key, dsaEncoding } : key, Buffer.from(s, 'base64url'));
  assert.ok(ok, 'the IdP signature verifies');
}
const idpPublic = async (which) => {
  const { jwk } = (await tokens.idpKeys(ctx))[which];
  const { kty, n, e, crv, x, y } = jwk;
  return createPublicKey({ key: { kty, n, e, crv, x, y }, format: 'jwk' });
};
const rawPart = (tok, i) => Buffer.from(tok.split('.')[i], 'base64url');
const claimsOf = (tok) => JSON.parse(rawPart(tok, 1).toString('utf8'));
const nestDepth = (tok) => rawPart(tok, 1).toString('utf8').match(/\[+/)[0].length;
const BASE_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti'];

// name -> [strict failure code (null: jose accepts it), failing claim, relaxed check that
// must pass, detail: what makes it wrong when jose cannot tell (checked on the token)]
const PROOFS = {
  idp: [null],
  crafted_valid: [null],
  es256_idp: [null],
  expired_within_skew: ['ERR_JWT_EXPIRED', 'exp', (t) => verify(t, { clockTolerance: 60 })],
  expired: ['ERR_JWT_EXPIRED', 'exp', (t) => verify(t, { currentDate: nowDate(-700) })],
  not_yet_valid: ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'nbf', (t) => verify(t, { currentDate: nowDate(700) })],
  wrong_aud: ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'aud', (t) => verify(t, { audience: 'https://other.example' })],
  wrong_iss: ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'iss', (t) => verify(t, { issuer: 'https://evil.example' })],
  no_exp: ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'exp', (t) => verify(t, { requiredClaims: [] })],
  wrong_typ: ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'typ', (t) => verify(t, { typ: 'JWT' })],
  flipped_sig: ['ERR_JWS_SIGNATURE_VERIFICATION_FAILED', null],
  alg_none: ['ERR_JOSE_ALG_NOT_ALLOWED', null, (t) => jose.UnsecuredJWT.decode(t, { ...STRICT, typ: undefined })],
  hs256_rsa_pub: ['ERR_JOSE_ALG_NOT_ALLOWED', null, async (t) => {
    const { keys } = await (await fetch(`${endpoints.idp_issuer}/jwks`)).json();
    const kid = jose.decodeProtectedHeader(t).kid;
    const pem = createPublicKey({ key: keys.find((k) => k.kid === kid), format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    return jose.jwtVerify(t, new TextEncoder().encode(pem), { ...STRICT, algorithms: ['HS256'] });
  }],
  unknown_kid: ['ERR_JWKS_NO_MATCHING_KEY', null],
  embedded_jwk: ['ERR_JWS_SIGNATURE_VERIFICATION_FAILED', null, (t) => jose.jwtVerify(t, jose.EmbeddedJWK, STRICT)],
  jku: ['ERR_JWKS_NO_MATCHING_KEY', null],
  garbage: ['ERR_JWS_INVALID', null],
  es256_with_rs_kid: ['ERR_JWKS_NO_MATCHING_KEY', null, async (t) => jose.jwtVerify(t, await idpPublic('es'), STRICT)],
  rs256_with_es_kid: ['ERR_JWKS_NO_MATCHING_KEY', null, async (t) => jose.jwtVerify(t, await idpPublic('rs'), STRICT)],
  psychic_es256: ['ERR_JWS_SIGNATURE_VERIFICATION_FAILED', null, null, (t) => assert.deepEqual(rawPart(t, 2), Buffer.alloc(64))],
  es256_high_s: [null, null, null, (t) => {
    const sv = BigInt(`0x${rawPart(t, 2).subarray(32).toString('hex')}`);
    assert.ok(sv > 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n / 2n, 's is in the upper half');
  }],
  es256_der_signature: ['ERR_JWS_SIGNATURE_VERIFICATION_FAILED', null, (t) => idpSigOk(t, { dsaEncoding: 'der' })],
  embedded_jwk_idp_kid: ['ERR_JWS_SIGNATURE_VERIFICATION_FAILED', null, (t) => jose.jwtVerify(t, jose.EmbeddedJWK, STRICT)],
  jku_canary: ['ERR_JWKS_NO_MATCHING_KEY', null,
    (t) => jose.jwtVerify(t, jose.createRemoteJWKSet(new URL(jose.decodeProtectedHeader(t).jku)), STRICT)],
  x5u_canary: ['ERR_JWS_SIGNATURE_VERIFICATION_FAILED', null, async (t) => {
    const pem = await (await fetch(jose.decodeProtectedHeader(t).x5u)).text();
    return jose.jwtVerify(t, new X509Certificate(pem).publicKey, STRICT);
  }],
  x5c_attacker: ['ERR_JWS_SIGNATURE_VERIFICATION_FAILED', null,
    (t) => jose.jwtVerify(t, new X509Certificate(Buffer.from(jose.decodeProtectedHeader(t).x5c[0], 'base64')).publicKey, STRICT)],
  id_token: ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'typ',
    (t) => verify(t, { typ: 'JWT', audience: endpoints.client_id, requiredClaims: [...BASE_CLAIMS.slice(0, 5), 'nonce'] })],
  id_token_api_aud: ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'typ', (t) => verify(t, { typ: 'JWT', requiredClaims: [...BASE_CLAIMS.slice(0, 5), 'nonce'] })],
  id_token_no_typ: ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'typ', (t) => verify(t, { typ: undefined, requiredClaims: [...BASE_CLAIMS.slice(0, 5), 'nonce'] })],
  dpop_proof: ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'typ', (t) => verify(t, { typ: 'dpop+jwt' })],
  typ_application_at_jwt: [null, null, null, (t) => assert.equal(jose.decodeProtectedHeader(t).typ, 'application/at+jwt')],
  crit_unknown: ['ERR_JOSE_NOT_SUPPORTED', null, (t) => verify(t, { crit: { 'urn:jwtgate:test': true } })],
  crit_empty: ['ERR_JWS_INVALID', null, (t) => idpSigOk(t)],
  cty_nested: ['ERR_JWT_INVALID', null, async (t) => { await idpSigOk(t); return verify(rawPart(t, 1).toString('utf8')); }],
  jwe_five_segments: ['ERR_JWS_INVALID', null, async (t) => {
    const { rs } = await tokens.idpKeys(ctx);
    const { payload } = await jose.jwtDecrypt(t, createPrivateKey({ key: rs.jwk, format: 'jwk' }), { issuer: endpoints.idp_issuer, audience: endpoints.audience });
    assert.equal(payload.scope, 'read write');
  }],
  jws_json_flattened: ['ERR_JWS_INVALID', null, async (t) => {
    const { payload } = await jose.flattenedVerify(JSON.parse(t), jwks);
    assert.equal(JSON.parse(new TextDecoder().decode(payload)).iss, endpoints.idp_issuer);
  }],
  dup_alg: [null, null, null, (t) => assert.match(rawPart(t, 0).toString('utf8'), /^\{"alg":"none",.*"alg":"RS256"\}$/)],
  dup_sub: [null, null, null, (t) => assert.equal(rawPart(t, 1).toString('utf8').match(/"sub":/g).length, 2)],
  payload_invalid_utf8: ['ERR_JWT_INVALID', null, async (t) => {
    await idpSigOk(t);
    assert.equal(JSON.parse(rawPart(t, 1).toString('utf8')).iss, endpoints.idp_issuer); // lossy decoding parses
  }, (t) => assert.throws(() => new TextDecoder('utf-8', { fatal: true }).decode(rawPart(t, 1)))],
  payload_utf16: ['ERR_JWT_INVALID', null, async (t) => {
    await idpSigOk(t);
    assert.equal(JSON.parse(rawPart(t, 1).subarray(2).toString('utf16le')).iss, endpoints.idp_issuer);
  }],
  exp_string: ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'exp', (t) => idpSigOk(t)],
  exp_float: [null, null, null, (t) => assert.ok(!Number.isInteger(claimsOf(t).exp))],
  exp_negative: ['ERR_JWT_EXPIRED', 'exp', (t) => idpSigOk(t)],
  exp_1e300: [null, null, null, (t) => assert.equal(claimsOf(t).exp, 1e300)],
  lifetime_25h: [null, null, null, (t) => assert.equal(claimsOf(t).exp - claimsOf(t).iat, 25 * 3600)],
  lifetime_24h: [null, null, null, (t) => assert.equal(claimsOf(t).exp - claimsOf(t).iat, 24 * 3600)],
  iat_future: [null, null, null, (t) => assert.ok(claimsOf(t).iat > tokens.now() + 500)],
  iat_future_within_skew: [null, null, null, (t) => assert.ok(claimsOf(t).iat > tokens.now())],
  no_client_id: ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'client_id', (t) => verify(t, { requiredClaims: BASE_CLAIMS })],
  size_8192: [null, null, null, (t) => assert.equal(t.length, 8192)],
  size_8193: [null, null, null, (t) => assert.equal(t.length, 8193)],
  dots_100000: ['ERR_JWS_INVALID', null, null, (t) => assert.match(t, /^\.{100000}$/)],
  deep_nesting_10000: [null, null, null, (t) => { assert.equal(nestDepth(t), 10_000); assert.ok(t.length > 8192); }],
  deep_nesting_in_limit: [null, null, null, (t) => { assert.ok(nestDepth(t) > 2500); assert.ok(t.length <= 8192); }],
  aud_10000: [null, null, null, (t) => { assert.equal(claimsOf(t).aud.length, 10_000); assert.ok(t.length > 8192); }],
  aud_many_within_limit: [null, null, null, (t) => { assert.ok(claimsOf(t).aud.length > 1000); assert.ok(t.length <= 8192); }],
};

describe('sanity', () => {
  it('cases.json is well formed', () => {
    assert.ok(Array.isArray(table.cases) && table.cases.length > 0, 'cases array');
    const ids = new Set();
    for (const c of table.cases) {
      assert.match(c.id ?? '', /^[a-z0-9_]+$/, `case id ${c.id}`);
      assert.ok(!ids.has(c.id), `duplicate case id ${c.id}`);
      ids.add(c.id);
      assert.equal(typeof c.path, 'string', `${c.id}: path`);
      assert.ok(c.path.startsWith('/'), `${c.id}: path must start with /`);
      if (c.token !== undefined) assert.ok(c.token in tokens.factories, `${c.id}: unknown token ${c.token}`);
      if (c.placement !== undefined) assert.ok(PLACEMENTS.has(c.placement), `${c.id}: unknown placement ${c.placement}`);
      assert.ok(c.placement === undefined || c.token !== undefined, `${c.id}: placement without token`);
      const st = c.expect?.status;
      assert.ok(typeof st === 'number' || (Array.isArray(st) && st.length > 0 && st.every((x) => typeof x === 'number')),
        `${c.id}: expect.status must be a number or a non-empty list of numbers`);
      assert.ok(c.placement !== 'template' || JSON.stringify([c.path, c.headers ?? {}]).includes('{{token}}'),
        `${c.id}: placement template without a {{token}} in path or headers`);
      for (const [h, d] of Object.entries(c.hosts_differ ?? {})) {
        assert.ok(typeof d === 'string' || typeof d?.reason === 'string', `${c.id}: hosts_differ.${h} needs a reason`);
      }
      resolveHeaderSet(c.expect.upstream_headers);
    }
    for (const name of Object.keys(tokens.factories)) assert.ok(name in PROOFS, `factory ${name} has no proof`);
  });

  it('IdP discovery advertises /jwks and /token', async () => {
    const res = await fetch(`${endpoints.idp_issuer}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const d = await res.json();
    assert.equal(d.issuer, endpoints.idp_issuer);
    assert.equal(d.jwks_uri, `${endpoints.idp_issuer}/jwks`);
    assert.equal(d.token_endpoint, endpoints.idp_token_url);
  });

  it('IdP JWKS is public and matches the keys file', async () => {
    const { keys } = await (await fetch(`${endpoints.idp_issuer}/jwks`)).json();
    const { rs, es } = await tokens.idpKeys(ctx);
    assert.deepEqual(keys.map((k) => k.kid).sort(), [rs.kid, es.kid].sort());
    for (const k of keys) assert.ok(!('d' in k) && !('p' in k), `JWKS leaks private material for ${k.kid}`);
    assert.match(rs.kid, /^rs-/);
    assert.match(es.kid, /^es-/);
  });

  it('IdP issues an RFC 9068 at+jwt with the expected claims', async () => {
    const body = await tokens.fetchIdpToken(endpoints);
    assert.equal(body.token_type, 'Bearer');
    const h = jose.decodeProtectedHeader(body.access_token);
    assert.equal(h.typ, 'at+jwt');
    assert.equal(h.alg, 'RS256');
    assert.equal(h.kid, (await tokens.idpKeys(ctx)).rs.kid);
    const p = jose.decodeJwt(body.access_token);
    assert.equal(p.iss, endpoints.idp_issuer);
    assert.equal(p.sub, endpoints.client_id);
    assert.equal(p.aud, endpoints.audience);
    assert.equal(p.client_id, endpoints.client_id);
    assert.equal(p.scope, 'read write');
    assert.equal(typeof p.jti, 'string');
    assert.equal(p.exp - p.iat, 300);
    assert.ok(Math.abs(p.iat - tokens.now()) < 30, 'iat is now');
  });

  it('IdP rejects a wrong client secret and an unknown resource', async () => {
    await assert.rejects(tokens.fetchIdpToken({ ...endpoints, client_secret: 'nope' }), /answered 401/);
    await assert.rejects(tokens.fetchIdpToken({ ...endpoints, audience: 'https://other.example' }), /answered 400.*invalid_target/);
  });

  for (const [name, [code, claim, relaxed, detail]] of Object.entries(PROOFS)) {
    const what = code ? `fails only as ${code}${claim ? `/${claim}` : ''}` : 'verifies against the IdP JWKS';
    it(`token factory ${name}: ${what}${detail ? ' (+ detail)' : ''}`, async () => {
      const tok = await tokens.mint(name, ctx);
      assert.equal(typeof tok, 'string');
      if (!code) {
        const { payload, protectedHeader } = await verify(tok);
        assert.equal(protectedHeader.typ.toLowerCase().replace(/^application\//, ''), 'at+jwt');
        assert.equal(payload.scope, 'read write');
      } else {
        await rejectsWith(verify(tok), code, claim);
        if (relaxed) await relaxed(tok); // the one relaxed check makes it pass
      }
      if (detail) await detail(tok); // jose accepts some: what jwtgate must refuse
    });
  }

  it('factory details: flipped_sig, alg_none, attacker headers', async () => {
    const real = await tokens.mint('idp', ctx);
    const flipped = await tokens.mint('flipped_sig', ctx);
    const [a, b] = [real.split('.')[2], flipped.split('.')[2]];
    assert.equal(a.length, b.length);
    const diff = [...a].flatMap((ch, i) => (ch === b[i] ? [] : [i]));
    assert.deepEqual(diff, [Math.floor(a.length / 2)]);
    const none = await tokens.mint('alg_none', ctx);
    assert.deepEqual(jose.decodeProtectedHeader(none), { alg: 'none', typ: 'at+jwt' });
    assert.ok(none.endsWith('.'));
    const emb = jose.decodeProtectedHeader(await tokens.mint('embedded_jwk', ctx));
    assert.equal(emb.kid, undefined);
    assert.equal(emb.jwk.kty, 'RSA');
    assert.ok(!('d' in emb.jwk));
    await headerJwk(await tokens.mint('embedded_jwk', ctx));
    const j = jose.decodeProtectedHeader(await tokens.mint('jku', ctx));
    assert.equal(j.jku, 'http://127.0.0.1:1/evil');
    assert.match(j.kid, /^nope-/);
    assert.match(jose.decodeProtectedHeader(await tokens.mint('unknown_kid', ctx)).kid, /^nope-/);
  });

  for (const [name, base] of Object.entries(endpoints.upstreams)) {
    it(`upstream ${name} echoes method, raw path and repeated headers`, async () => {
      const res = await rawRequest(base, {
        method: 'PUT', path: '/sanity/a%20b?x=1&y=2', body: 'hi',
        headers: { 'x-dup': ['one', 'two'], 'X-Single': 'v', 'content-length': '2' },
      });
      assert.equal(res.status, 200);
      const echo = parseJson(res.text, 'echo');
      assert.equal(echo.service, name);
      assert.equal(echo.method, 'PUT');
      assert.equal(echo.path, '/sanity/a%20b?x=1&y=2');
      assert.deepEqual(echo.headers['x-dup'], ['one', 'two']);
      assert.equal(echo.headers['x-single'], 'v');
    });
  }
});

// ---------------------------------------------------------------------------
// The table, once per gate host.

const hosts = Object.entries(endpoints.hosts);

test(`gate hosts in ${endpoints.file}`, (t) => {
  t.diagnostic(`${hosts.length} host(s): ${hosts.map(([h]) => h).join(', ') || '(none)'}; ${table.cases.length} cases each`);
  if (process.env.JWTGATE_REQUIRE_HOSTS) assert.ok(hosts.length > 0, 'JWTGATE_REQUIRE_HOSTS is set but endpoints.json lists no hosts');
});

for (const [host, base] of hosts) {
  describe(host, () => {
    for (const raw of table.cases) {
      const { c, skip, note } = effectiveCase(raw, host);
      it(`${host}: ${c.id}`, { skip }, async (t) => {
        if (note) t.diagnostic(`differs on ${host}: ${note}`);
        const token = c.token ? await tokens.mint(c.token, ctx) : undefined;
        const outbound = c.expect.no_outbound ? await tokens.canary(ctx) : null;
        const hitsBefore = outbound?.hits.length;
        const res = await send(base, buildRequest(c, token));
        checkResponse(c, token, res);
        if (outbound) {
          await new Promise((r) => setTimeout(r, 500)); // background fetches too
          assert.deepEqual(outbound.hits.slice(hitsBefore), [], `the gate made outbound requests to ${outbound.url}`);
        }
      });
    }
  });
}
