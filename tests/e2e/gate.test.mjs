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

import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { describe, it, test } from 'node:test';

import * as jose from 'jose';

import * as tokens from './tokens.mjs';

const endpoints = tokens.loadEndpoints();
const table = JSON.parse(readFileSync(new URL('./cases.json', import.meta.url), 'utf8'));
const ctx = tokens.createTokenContext(endpoints);

const PLACEMENTS = new Set([
  'bearer', 'query', 'cookie', 'bearer+query', 'bearer+cookie',
  'two_auth_headers', 'comma_joined', 'bearer_lowercase_scheme',
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
      default: throw new Error(`unknown placement ${p}`);
    }
  }
  return { method: c.method ?? 'GET', path, headers, body: c.body };
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

async function send(base, r) {
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
  const diff = c.hosts_differ?.[host];
  if (diff === undefined) return { c, skip: false };
  if (typeof diff === 'string') return { c, skip: diff };
  const merged = { ...c, ...(diff.request ?? {}), expect: { ...c.expect, ...(diff.expect ?? {}) } };
  return { c: merged, skip: diff.skip ? diff.reason ?? true : false, note: diff.reason };
}

function parseJson(text, what) {
  try { return JSON.parse(text); } catch { assert.fail(`${what} is not JSON: ${text.slice(0, 300)}`); }
}

function checkResponse(c, token, res) {
  const e = c.expect;
  const where = `${c.method ?? 'GET'} ${c.path} -> ${res.status} www-authenticate=${JSON.stringify(res.header('www-authenticate'))} ${res.text.slice(0, 300)}`;
  assert.equal(res.status, e.status, `status (${where})`);

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

  if (e.status >= 200 && e.status < 300) {
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

// name -> [strict failure code, failing claim, relaxed check that must pass]
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
      assert.equal(typeof c.expect?.status, 'number', `${c.id}: expect.status`);
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

  for (const [name, [code, claim, relaxed]] of Object.entries(PROOFS)) {
    it(`token factory ${name}: ${code ? `fails only as ${code}${claim ? `/${claim}` : ''}` : 'verifies against the IdP JWKS'}`, async () => {
      const tok = await tokens.mint(name, ctx);
      assert.equal(typeof tok, 'string');
      if (!code) {
        const { payload, protectedHeader } = await verify(tok);
        assert.equal(protectedHeader.typ, 'at+jwt');
        assert.equal(payload.scope, 'read write');
        return;
      }
      await rejectsWith(verify(tok), code, claim);
      if (relaxed) await relaxed(tok); // the one relaxed check makes it pass
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
        const res = await send(base, buildRequest(c, token));
        checkResponse(c, token, res);
      });
    }
  });
}
