// The test IdP's revocation side, beside oidc-provider (which refuses RFC 7009 revocation
// of JWT access tokens: "Structured JWT Tokens cannot be revoked via the
// revocation_endpoint").
//
// - POST /token/revocation: RFC 7009-shaped. Client authentication (client_secret_basic
//   or client_secret_post), `token`, optional `token_type_hint`. The token must be one
//   this IdP issued (signature by its keys, its issuer) to the authenticated client;
//   its `jti` is recorded until the token's `exp`. A token that is not ours gets 200 and
//   changes nothing (RFC 7009 §2.2: invalid tokens cause no error).
// - POST /session/end: the provider's session-end event (what back-channel logout
//   delivers to relying parties), for a client-credentials-only IdP that has no browser
//   sessions: `sid=` and/or `sub=` (client-authenticated). Records a `sid` entry, or a
//   `sub` entry with `iat_before` = now. oidc-provider's own `end_session.success` and
//   `grant.revoked` events feed the same log (see `listen`).
// - GET /statuslists/1: a Token Status List token (draft-ietf-oauth-status-list).
// - GET /revocations[?since=<cursor>]: the jwtgate revocation feed
//   (docs/revocation-feed.schema.json): a full list, or a delta from `since`; `ETag`
//   is the version and a matching `If-None-Match` gets 304.

import { deflateSync } from 'node:zlib';

import * as jose from 'jose';

// Token Status List (draft-ietf-oauth-status-list): list 1 has 2-bit statuses, index 0
// VALID, 1 INVALID, 2 SUSPENDED, the rest VALID.
const STATUS_LIST_1 = [0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const STATUS_TTL_S = 30;

/** Packs 2-bit statuses, index 0 in the least significant bits of byte 0. */
function packStatuses(statuses, bits = 2) {
  const out = Buffer.alloc(Math.ceil((statuses.length * bits) / 8));
  statuses.forEach((s, i) => { out[(i * bits) >> 3] |= s << ((i * bits) % 8); });
  return out;
}

export function revocationFeed({ issuer, jwks, clients, tokenTtlS }) {
  const publicKeys = jose.createLocalJWKSet({ keys: jwks.keys.map(({ d, p, q, dp, dq, qi, ...pub }) => pub) });
  // Every recorded entry, in order; entry i was added by version FIRST + i + 1. FIRST is
  // the start time in ms, so a restarted IdP's versions still go forward (a gate refuses
  // a feed whose version goes back).
  const FIRST = Date.now();
  const log = [];
  const now = () => Math.floor(Date.now() / 1000);
  const record = (entry) => {
    log.push({ ...entry, iss: issuer });
    console.log(`idp revocation v${FIRST + log.length} ${Object.keys(entry).filter((k) => k !== 'exp').join('+')}`);
  };
  const live = (e) => e.exp > now();

  function authenticate(req, form) {
    const { id, secret } = clientCredentials(req, form);
    return id && clients[id] !== undefined && clients[id] === secret ? id : null;
  }

  async function revoke(req, res, form) {
    const client = authenticate(req, form);
    if (!client) {
      return json(res, 401, { error: 'invalid_client' }, { 'www-authenticate': 'Basic realm="idp"' });
    }
    const token = form.get('token');
    if (!token) return json(res, 400, { error: 'invalid_request', error_description: '`token` is required' });
    let claims;
    try {
      ({ payload: claims } = await jose.jwtVerify(token, publicKeys, { issuer }));
    } catch {
      return json(res, 200, {}); // not a token we issued (or already expired): nothing to do
    }
    const owner = claims.client_id ?? claims.azp;
    if (owner !== client) {
      return json(res, 400, { error: 'unauthorized_client', error_description: 'the token was issued to another client' });
    }
    if (typeof claims.jti !== 'string' || typeof claims.exp !== 'number') {
      return json(res, 400, { error: 'unsupported_token_type', error_description: 'the token has no jti or exp' });
    }
    if (!log.some((e) => e.jti === claims.jti)) record({ jti: claims.jti, exp: claims.exp });
    return json(res, 200, {});
  }

  // A session ended (back-channel logout): its tokens, and the subject's older ones.
  function sessionEnded({ sid, sub }) {
    const exp = now() + tokenTtlS + 60;
    if (sid) record({ sid, exp });
    if (sub) record({ sub, iat_before: now() + 1, exp }); // + 1: tokens of this very second too
  }

  function endSession(req, res, form) {
    if (!authenticate(req, form)) return json(res, 401, { error: 'invalid_client' });
    const sid = form.get('sid') || undefined;
    const sub = form.get('sub') || undefined;
    if (!sid && !sub) return json(res, 400, { error: 'invalid_request', error_description: 'give `sid` and/or `sub`' });
    sessionEnded({ sid, sub });
    return json(res, 200, {});
  }

  function feed(req, res, url) {
    const version = FIRST + log.length;
    const etag = `"v${version}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag, 'cache-control': 'no-store' });
      return res.end();
    }
    const since = url.searchParams.get('since');
    const base = since !== null && /^v\d+$/.test(since) ? Number(since.slice(1)) : null;
    const delta = base !== null && base >= FIRST && base <= version;
    const entries = (delta ? log.slice(base - FIRST) : log).filter(live).map(({ iss, ...e }) => e);
    const doc = { version, generated_at: now(), kind: delta ? 'delta' : 'full', issuer, entries, next: `v${version}` };
    if (delta) doc.base = base;
    return json(res, 200, doc, { etag, 'cache-control': 'no-store' });
  }

  // GET /statuslists/1: the Status List Token (typ statuslist+jwt), signed with the
  // IdP's RS256 key, for tokens whose `status.status_list` names it.
  async function statusList(res, url) {
    const rs = jwks.keys.find((k) => k.alg === 'RS256');
    const key = await jose.importJWK(rs, 'RS256');
    const lst = deflateSync(packStatuses(STATUS_LIST_1)).toString('base64url');
    const iat = now();
    const jwt = await new jose.SignJWT({ status_list: { bits: 2, lst }, ttl: STATUS_TTL_S })
      .setProtectedHeader({ alg: 'RS256', kid: rs.kid, typ: 'statuslist+jwt' })
      .setSubject(`${issuer}${url.pathname}`).setIssuedAt(iat).setExpirationTime(iat + 86_400).sign(key);
    res.writeHead(200, { 'content-type': 'application/statuslist+jwt', 'cache-control': 'no-store' });
    res.end(jwt);
  }

  // oidc-provider's own grant and session events.
  function listen(provider) {
    provider.on('end_session.success', (ctx) => {
      const s = ctx.oidc?.session;
      if (s) sessionEnded({ sid: s.jti ?? s.uid, sub: s.accountId });
    });
    provider.on('grant.revoked', (ctx) => {
      const sub = ctx.oidc?.entities?.Grant?.accountId;
      if (sub) sessionEnded({ sub });
    });
  }

  // Handles the routes above; returns false for anything else (oidc-provider's).
  async function handle(req, res) {
    const url = new URL(req.url, issuer);
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /revocations') return feed(req, res, url), true;
    if (route === 'GET /statuslists/1') return await statusList(res, url), true;
    if (route !== 'POST /token/revocation' && route !== 'POST /session/end') return false;
    const form = new URLSearchParams(await readBody(req));
    if (route === 'POST /token/revocation') await revoke(req, res, form);
    else endSession(req, res, form);
    return true;
  }

  // Whether a recorded, live entry covers a token with these claims (its jti, its
  // session, or its subject before a cut-off): the introspection extension's answer.
  function covers(claims) {
    return log.filter(live).some((e) => (e.jti !== undefined && e.jti === claims.jti)
      || (e.sid !== undefined && e.sid === claims.sid)
      || (e.sub !== undefined && e.sub === claims.sub && (claims.iat ?? 0) < e.iat_before));
  }

  return { handle, listen, covers, sessionEnded, count: () => log.length };
}

/** The client's id and secret: client_secret_basic, else client_secret_post. */
export function clientCredentials(req, form) {
  const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
  if (!basic) return { id: form.get('client_id'), secret: form.get('client_secret') };
  const [u, p] = Buffer.from(basic[1], 'base64').toString().split(':');
  return { id: decodeURIComponent(u ?? ''), secret: decodeURIComponent(p ?? '') };
}

export function json(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** The request's form body (at most 64 KiB). */
export async function readForm(req) {
  return new URLSearchParams(await readBody(req));
}

export async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 64 * 1024) throw new Error('request body too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString();
}
