// The JWT-profile test IdP's RFC 7662 endpoint for its OWN JWT access tokens, beside
// oidc-provider (which refuses to introspect structured tokens:
// reject_structured_tokens.js). It lets the gate's `introspect: true` routes ask this IdP
// about a locally valid JWT, the "revocable routes" of issue #12.
//
// - POST /token/introspection: client authentication of the dedicated introspector
//   client only (client_secret_basic or client_secret_post), `token`, optional
//   `token_type_hint`. The token is verified with this IdP's own keys and issuer; an
//   expired one, a foreign one, or one revoked through the RFC 7009 extension
//   (revocation.mjs: its jti, session or subject cut-off) is `{"active": false}`;
//   otherwise `{"active": true, ...claims, token_type: "access_token"}`.
// - GET /token/introspection/calls?sha256=<hex>: read-only counter for the tests: how
//   many introspection calls this IdP answered for the token with that SHA-256 (hex),
//   and how many of them were `active: false`. The token itself is never kept.

import { createHash } from 'node:crypto';

import * as jose from 'jose';

import { clientCredentials, json, readForm } from './revocation.mjs';

export const INTROSPECTOR = { id: 'jwtgate-jwt-introspector', secret: 'jwt-introspector-secret' };

export function introspectionEndpoint({ issuer, jwks, covers }) {
  const publicKeys = jose.createLocalJWKSet({ keys: jwks.keys.map(({ d, p, q, dp, dq, qi, ...pub }) => pub) });
  // sha256(token) hex -> { calls, inactive }
  const counts = new Map();

  function authenticated(req, form) {
    const { id, secret } = clientCredentials(req, form);
    return id === INTROSPECTOR.id && secret === INTROSPECTOR.secret;
  }

  async function answer(token) {
    try {
      const { payload } = await jose.jwtVerify(token, publicKeys, { issuer });
      if (covers(payload)) return { active: false };
      return { ...payload, active: true, token_type: 'access_token' };
    } catch {
      return { active: false }; // expired, not ours, or broken: RFC 7662 §2.2
    }
  }

  async function introspect(req, res, form) {
    if (!authenticated(req, form)) {
      return json(res, 401, { error: 'invalid_client' }, { 'www-authenticate': 'Basic realm="idp"' });
    }
    const token = form.get('token');
    if (!token) return json(res, 400, { error: 'invalid_request', error_description: '`token` is required' });
    const body = await answer(token);
    const key = createHash('sha256').update(token).digest('hex');
    const c = counts.get(key) ?? { calls: 0, inactive: 0 };
    counts.set(key, { calls: c.calls + 1, inactive: c.inactive + (body.active ? 0 : 1) });
    return json(res, 200, body, { 'cache-control': 'no-store' });
  }

  // Handles the routes above; returns false for anything else.
  async function handle(req, res) {
    const url = new URL(req.url, issuer);
    if (req.method === 'GET' && url.pathname === '/token/introspection/calls') {
      const c = counts.get(url.searchParams.get('sha256') ?? '') ?? { calls: 0, inactive: 0 };
      return json(res, 200, c, { 'cache-control': 'no-store' }), true;
    }
    if (req.method !== 'POST' || url.pathname !== '/token/introspection') return false;
    await introspect(req, res, await readForm(req));
    return true;
  }

  return { handle };
}
