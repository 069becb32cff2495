// Sender-constrained tokens end to end on every gate host: DPoP (RFC 9449) with real
// proofs made by jose and DPoP-bound tokens from the IdP (oidc-provider), and
// certificate-bound tokens (RFC 8705). Each hostile case of the issue is refused.
// Needs the stack of tests/up.py (run/endpoints.json).
//
// mTLS: Envoy terminates TLS on `mtls_hosts` (require_client_certificate, the test CA)
// and the filter reads the verified certificate's digest. workerd does not terminate
// client TLS here, so the worker cases inject `request.cf.tlsClientAuth` through the
// test-only `cf-blob` header (wasm-worker/workerd.capnp.tmpl), as Cloudflare's edge
// would fill it.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { resolve } from 'node:path';
import { describe, it, before } from 'node:test';

import * as dp from './lib/dpop.mjs';
import { send } from './lib/requests.mjs';
import { rsCrafted } from './lib/signing.mjs';
import * as tokens from './tokens.mjs';

const endpoints = tokens.loadEndpoints();
const ctx = tokens.createTokenContext(endpoints);
const hosts = Object.entries(endpoints.hosts ?? {});
const dpopClient = { client_id: endpoints.dpop_client_id, client_secret: endpoints.dpop_client_secret };
const PATH = '/api/dpop/orders';

const now = () => Math.floor(Date.now() / 1000);
const wwwDpop = (res) => res.header('www-authenticate') ?? '';

async function call(base, { method = 'GET', path = PATH, headers = {} } = {}) {
  return send(base, { method, path, headers });
}

describe('dpop: the IdP issues DPoP-bound tokens', () => {
  it('binds the token to the proof key (cnf.jkt), and the nonce client gets one too', async () => {
    const key = await dp.clientKey();
    const body = await dp.boundToken(endpoints, dpopClient, key);
    assert.equal(body.token_type, 'DPoP');
    const claims = JSON.parse(Buffer.from(body.access_token.split('.')[1], 'base64url'));
    assert.equal(claims.cnf?.jkt, key.jkt);
    const nonceClient = endpoints.clients?.dpop_nonce;
    if (nonceClient) {
      const other = await dp.boundToken(endpoints, nonceClient, key);
      assert.equal(JSON.parse(Buffer.from(other.access_token.split('.')[1], 'base64url')).cnf?.jkt, key.jkt);
    }
  });
});

for (const [host, base] of hosts) {
  describe(`dpop: ${host}`, () => {
    const htu = `${base}${PATH}`;
    let key;
    let thief;
    let token;
    before(async () => {
      key = await dp.clientKey();
      thief = await dp.clientKey();
      token = (await dp.boundToken(endpoints, dpopClient, key)).access_token;
    });
    const withProof = (p, extra = {}) => ({ headers: { authorization: `DPoP ${token}`, dpop: p, ...extra } });

    it(`${host}: a valid proof is allowed once; its replay is refused`, async () => {
      const p = await dp.proof(key, 'GET', htu, { token });
      const ok = await call(base, withProof(p));
      assert.equal(ok.status, 200, ok.text);
      const echo = JSON.parse(ok.text);
      assert.equal(echo.headers['x-jwt-sub'], endpoints.dpop_client_id);
      assert.equal(echo.headers.authorization, undefined, 'forward_token: false');
      const again = await call(base, withProof(p));
      assert.equal(again.status, 401);
      assert.match(wwwDpop(again), /^DPoP realm="jwtgate", algs="[^"]*ES256[^"]*", error="invalid_dpop_proof"/);
    });

    const hostile = [
      ['proof for another method', () => dp.proof(key, 'POST', htu, { token }), 'invalid_dpop_proof'],
      ['proof for another URI', () => dp.proof(key, 'GET', `${base}/api/dpop/other`, { token }), 'invalid_dpop_proof'],
      ['stale iat', () => dp.proof(key, 'GET', htu, { token, claims: { iat: now() - 600 } }), 'invalid_dpop_proof'],
      ['future iat', () => dp.proof(key, 'GET', htu, { token, claims: { iat: now() + 600 } }), 'invalid_dpop_proof'],
      ['wrong ath', () => dp.proof(key, 'GET', htu, { token: `${token}x` }), 'invalid_dpop_proof'],
      ['no jti', () => dp.proof(key, 'GET', htu, { token, claims: { jti: undefined } }), 'invalid_dpop_proof'],
      ['signed by another key', () => dp.proof(thief, 'GET', htu, { token }), 'invalid_token'],
      ['another key signs over the client key', () => dp.proof(thief, 'GET', htu, { token, header: { jwk: key.publicJwk } }), 'invalid_dpop_proof'],
      ['alg none', async () => dp.unsignedProof(key, 'GET', htu, token), 'invalid_dpop_proof'],
      ['HS256', () => dp.hmacProof(key, 'GET', htu, token), 'invalid_dpop_proof'],
      ['private key in jwk', async () => {
        const jose = await import('jose');
        const priv = await jose.exportJWK(key.privateKey);
        return dp.proof(key, 'GET', htu, { token, header: { jwk: priv } });
      }, 'invalid_dpop_proof'],
    ];
    for (const [name, make, error] of hostile) {
      it(`${host}: ${name} is refused`, async () => {
        const res = await call(base, withProof(await make()));
        assert.equal(res.status, 401, res.text);
        assert.equal(JSON.parse(res.text).error, error);
        assert.ok(wwwDpop(res).startsWith('DPoP realm="jwtgate"'), wwwDpop(res));
        assert.ok(!res.text.includes(token), 'the token never appears in the answer');
      });
    }

    it(`${host}: two DPoP headers are refused`, async () => {
      const p = await dp.proof(key, 'GET', htu, { token });
      const res = await call(base, { headers: { authorization: `DPoP ${token}`, dpop: [p, p] } });
      assert.equal(res.status, 401);
      assert.equal(JSON.parse(res.text).error, 'invalid_dpop_proof');
    });

    it(`${host}: a bound token as Bearer, or without a proof, is refused`, async () => {
      const p = await dp.proof(key, 'GET', htu, { token });
      const bearer = await call(base, { headers: { authorization: `Bearer ${token}`, dpop: p } });
      assert.equal(bearer.status, 401);
      assert.equal(JSON.parse(bearer.text).error, 'invalid_token');
      const elsewhere = await call(base, { path: '/api/node/x', headers: { authorization: `Bearer ${token}` } });
      assert.equal(elsewhere.status, 401, 'no downgrade on a bearer route either');
      const bare = await call(base, { headers: { authorization: `DPoP ${token}` } });
      assert.equal(bare.status, 401);
      assert.equal(JSON.parse(bare.text).error, 'invalid_dpop_proof');
      const plain = await tokens.factories.idp(ctx);
      const unbound = await call(base, { headers: { authorization: `Bearer ${plain}` } });
      assert.equal(unbound.status, 401, 'a bearer token where DPoP is required');
    });
  });
}

// ---------------------------------------------------------------------------
// mTLS (RFC 8705).

const certs = endpoints.client_certs ?? {};
const pem = (name, part) => readFileSync(resolve(tokens.REPO_ROOT, certs[name][part]));
const x5t = (name) => createHash('sha256').update(new X509Certificate(pem(name, 'cert')).raw).digest('base64url');
const hex = (name) => createHash('sha256').update(new X509Certificate(pem(name, 'cert')).raw).digest('hex');
const ca = () => readFileSync(resolve(tokens.REPO_ROOT, endpoints.ca_cert));

function tlsGet(base, path, headers, client) {
  return new Promise((done, fail) => {
    const req = https.request(new URL(path, base), {
      method: 'GET', headers, ca: ca(), cert: pem(client, 'cert'), key: pem(client, 'key'), servername: 'localhost',
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => done({ status: res.statusCode, text }));
    });
    req.on('error', fail);
    req.end();
  });
}

const cfBlob = (name) => JSON.stringify({
  tlsClientAuth: { certPresented: '1', certVerified: 'SUCCESS', certFingerprintSHA256: hex(name) },
});

/** A certificate-bound token for `client-a` from the IdP (RFC 8705), or crafted with the IdP key. */
async function mtlsToken() {
  const client = endpoints.clients?.mtls;
  if (!client) return rsCrafted(ctx, { cnf: { 'x5t#S256': x5t('client-a') } });
  const basic = Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64');
  const res = await fetch(endpoints.idp_token_url, {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded',
      'x-client-cert': encodeURIComponent(pem('client-a', 'cert').toString()),
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: endpoints.audience, scope: 'read write' }),
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text).access_token;
}

describe('mtls: certificate-bound tokens', { skip: !certs['client-a'] && 'no client_certs in endpoints.json' }, () => {
  const bound = mtlsToken;
  it('the IdP binds the token to the client certificate (cnf.x5t#S256)', async () => {
    const claims = JSON.parse(Buffer.from((await bound()).split('.')[1], 'base64url'));
    assert.equal(claims.cnf?.['x5t#S256'], x5t('client-a'));
  });
  for (const [host, base] of Object.entries(endpoints.mtls_hosts ?? {})) {
    it(`${host}: the bound certificate is allowed, another is refused`, async () => {
      const token = await bound();
      const headers = { authorization: `Bearer ${token}` };
      const ok = await tlsGet(base, '/api/mtls/x', headers, 'client-a');
      assert.equal(ok.status, 200, ok.text);
      const wrong = await tlsGet(base, '/api/mtls/x', headers, 'client-b');
      assert.equal(wrong.status, 401, wrong.text);
      assert.equal(JSON.parse(wrong.text).error, 'invalid_token');
    });
  }
  for (const [host, base] of hosts.filter(([h]) => h.startsWith('worker'))) {
    it(`${host}: the injected certificate decides (workerd does not terminate client TLS)`, async () => {
      const token = await bound();
      const ok = await call(base, { path: '/api/mtls/x', headers: { authorization: `Bearer ${token}`, 'cf-blob': cfBlob('client-a') } });
      assert.equal(ok.status, 200, ok.text);
      const wrong = await call(base, { path: '/api/mtls/x', headers: { authorization: `Bearer ${token}`, 'cf-blob': cfBlob('client-b') } });
      assert.equal(wrong.status, 401);
      const none = await call(base, { path: '/api/mtls/x', headers: { authorization: `Bearer ${token}` } });
      assert.equal(none.status, 401);
    });
  }
  for (const [host, base] of hosts.filter(([h]) => h.startsWith('envoy'))) {
    it(`${host}: plain HTTP carries no certificate, so a bound token is refused`, async () => {
      const res = await call(base, { path: '/api/mtls/x', headers: { authorization: `Bearer ${await bound()}` } });
      assert.equal(res.status, 401);
    });
  }
});
