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
// Case fields added for the security (RFC 8725 and HTTP bypass) cases, in more detail
// than tests/e2e/README.md's table:
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
//
// Sending requests: lib/requests.mjs; checking answers: lib/expect.mjs.

import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it, test } from 'node:test';

import * as jose from 'jose';

import {
  checkResponse, effectiveCase, parseJson, resolveHeaderSet,
} from './lib/expect.mjs';
import {
  PLACEMENTS, buildRequest, rawRequest, send,
} from './lib/requests.mjs';
import * as tokens from './tokens.mjs';

const endpoints = tokens.loadEndpoints();
const table = JSON.parse(readFileSync(new URL('./cases.json', import.meta.url), 'utf8'));
const ctx = tokens.createTokenContext(endpoints);

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
  idp: [null, null, null, (t) => {
    const p = jose.decodeJwt(t);
    assert.deepEqual([p.tenant, p.roles, p.email_verified, p.level], ['acme', ['orders:read', 'orders:write'], true, 2]);
  }],
  idp_globex: [null, null, null, (t) => {
    const p = jose.decodeJwt(t);
    assert.equal(p.client_id, endpoints.clients.globex.client_id);
    assert.deepEqual([p.tenant, p.roles, p.email_verified, p.level], ['globex', ['orders:read'], false, 1]);
  }],
  idp_plain: [null, null, null, (t) => {
    const p = jose.decodeJwt(t);
    assert.equal(p.client_id, endpoints.clients.plain.client_id);
    for (const c of ['tenant', 'roles', 'email_verified', 'level']) assert.ok(!(c in p), `no ${c}`);
  }],
  tenant_number: [null, null, null, (t) => assert.equal(jose.decodeJwt(t).tenant, 7)],
  roles_string: [null, null, null, (t) => assert.equal(jose.decodeJwt(t).roles, 'orders:write')],
  email_verified_string: [null, null, null, (t) => assert.equal(jose.decodeJwt(t).email_verified, 'true')],
  crafted_valid: [null],
  // Valid to jose: what matters is the one identifier an inline denylist entry names.
  status_valid: [null, null, null, (t) => assert.equal(jose.decodeJwt(t).status.status_list.idx, 0)],
  status_invalid: [null, null, null, (t) => assert.equal(jose.decodeJwt(t).status.status_list.idx, 1)],
  status_suspended: [null, null, null, (t) => assert.equal(jose.decodeJwt(t).status.status_list.idx, 2)],
  status_uri_elsewhere: [null, null, null, (t) => assert.match(jose.decodeJwt(t).status.status_list.uri, /\/other\/1$/)],
  revoked_jti: [null, null, null, (t) => assert.equal(jose.decodeJwt(t).jti, 'e2e-revoked-jti')],
  revoked_sub: [null, null, null, (t) => assert.equal(jose.decodeJwt(t).sub, 'e2e-revoked-sub')],
  revoked_sid: [null, null, null, (t) => assert.equal(jose.decodeJwt(t).sid, 'e2e-revoked-sid')],
  revoked_client: [null, null, null, (t) => assert.equal(jose.decodeJwt(t).client_id, 'e2e-revoked-client')],
  cutoff_sub_issued_after: [null, null, null, (t) => {
    const p = jose.decodeJwt(t);
    assert.equal(p.sub, 'e2e-cutoff-sub');
    assert.ok(p.iat >= 1700000000, 'issued after the entry\'s iat_before');
  }],
  es256_idp: [null],
  expired_within_skew: ['ERR_JWT_EXPIRED', 'exp', (t) => verify(t, { clockTolerance: 60 })],
  expired: ['ERR_JWT_EXPIRED', 'exp', (t) => verify(t, { currentDate: nowDate(-700) })],
  not_yet_valid: ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'nbf', (t) => verify(t, { currentDate: nowDate(700) })],
  wrong_aud: ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'aud', (t) => verify(t, { audience: 'https://other.example' })],
  wrong_iss: ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'iss', (t) => verify(t, { issuer: 'https://evil.example' })],
  no_exp: ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'exp', (t) => verify(t, { requiredClaims: [] })],
  wrong_typ: ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'typ', (t) => verify(t, { typ: 'JWT' })],
  wrong_typ_shared: ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'typ', (t) => verify(t, { typ: 'JWT' })],
  // Valid JWTs to jose; what is wrong is only their header rendering, checked here.
  sub_edge_whitespace: [null, null, null, (t) => assert.equal(jose.decodeJwt(t).sub, ' admin')],
  client_id_control_char: [null, null, null, (t) => assert.equal(jose.decodeJwt(t).client_id, 'app\u0001admin')],
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
      resolveHeaderSet(table, c.expect.upstream_headers);
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
        checkResponse(c, token, res, { table, endpoints });
        if (outbound) {
          await new Promise((r) => setTimeout(r, 500)); // background fetches too
          assert.deepEqual(outbound.hits.slice(hitsBefore), [], `the gate made outbound requests to ${outbound.url}`);
        }
      });
    }
  });
}
