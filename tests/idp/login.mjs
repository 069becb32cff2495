// The login IdP (issue #15, browser sessions at the gate): `server.mjs --profile login`.
//
// A real oidc-provider with the authorization code flow for ONE confidential client,
// `jwtgate-bff` (the gate acting as backend-for-frontend):
// - PKCE required (oidc-provider 9 knows only S256), rotating refresh tokens, JWT access
//   tokens for the demo audience with a `sid` claim and an 8 s lifetime (so a browser test
//   sees a refresh), ID tokens with `sid` (back-channel logout session required);
// - its own login page (a password form for the one test user) and consent that is
//   granted automatically for this first-party client but still recorded as a Grant;
// - RP-initiated logout with a confirm page, and back-channel logout POSTed to Envoy's
//   `/app/backchannel-logout`; every ended session's `sid` also goes into the revocation
//   feed (`GET /revocations`, tests/idp/revocation.mjs) so hosts that got no logout token
//   (the worker) learn it there;
// - test hooks: `POST /test/end-session` (client-authenticated, `sub=`) ends a user's
//   sessions server-side as an admin would (back-channel logout + feed), and
//   `GET /test/counters` counts token grants by type and back-channel deliveries.
//
// oidc-provider quirks met here (9.13.3):
// - `offline_access` is dropped from an authorization request without `prompt=consent`
//   (lib/actions/authorization/scopes.js), and refresh tokens are issued only with it by
//   default; `issueRefreshToken` is therefore "whenever the client may refresh".
// - The `sid` in ID tokens and logout tokens is per client (`session.sidFor(clientId)`),
//   not the session's own id: the feed must carry that one, so revocation.mjs's `listen`
//   (session jti) is not used here; the back-channel events carry the right sid.
// - revocation.mjs also answers `POST /session/end`, which is oidc-provider's own
//   end-session route here: only `GET /revocations` is routed to it.
// - Outgoing requests (back-channel logout) go through an SSRF guard that refuses
//   special-use addresses, loopback included (lib/helpers/fetch_request.js); the gates
//   of the test stack are on loopback, so `fetch` drops that dispatcher. Test-only.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

import { json, readBody, revocationFeed } from './revocation.mjs';

export const LOGIN_CLIENT_ID = 'jwtgate-bff';
export const LOGIN_CLIENT_SECRET = 'bff-secret';
export const LOGIN_USER = 'alice';
const ACCESS_TOKEN_TTL_S = 8;
const SESSION_TTL_S = 3600;
const SCOPES = ['openid', 'offline_access', 'read'];

/** The gate origins of the demo stack (envoy, envoy-software, worker, worker-software). */
export function demoOrigins(ports = [9410, 9412, 9420, 9422]) {
  return ports.map((p) => `http://127.0.0.1:${p}`);
}

export function loginClient({ origins, backchannelUri }) {
  return {
    client_id: LOGIN_CLIENT_ID,
    client_secret: LOGIN_CLIENT_SECRET,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: origins.map((o) => `${o}/app/callback`),
    post_logout_redirect_uris: origins.map((o) => `${o}/app/`),
    backchannel_logout_uri: backchannelUri,
    backchannel_logout_session_required: true,
    scope: SCOPES.join(' '),
  };
}

function configuration({ issuer, audience, jwks, client }) {
  return {
    clients: [client],
    jwks,
    scopes: SCOPES,
    responseTypes: ['code'],
    claims: { openid: ['sub'], profile: ['name'] },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub, name: 'Alice' }) }),
    // The access token's `sid`: the session the gate may be told to end (feed or logout token).
    extraTokenClaims: async (_ctx, token) => (token.kind === 'AccessToken' && token.sid ? { sid: token.sid } : {}),
    interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    issueRefreshToken: async (_ctx, c) => c.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    routes: { authorization: '/auth', token: '/token', jwks: '/jwks', end_session: '/session/end' },
    discovery: { jwtgate_revocation_feed: `${issuer}/revocations` },
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => audience,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource) => {
          if (resource !== audience) throw new errors.InvalidTarget();
          return { scope: 'read', audience, accessTokenFormat: 'jwt', accessTokenTTL: ACCESS_TOKEN_TTL_S,
            jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL || ACCESS_TOKEN_TTL_S,
      AuthorizationCode: 60,
      IdToken: 300,
      RefreshToken: SESSION_TTL_S,
      Session: SESSION_TTL_S,
      Grant: SESSION_TTL_S,
      Interaction: 600,
    },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    fetch: (url, { dispatcher, ...options }) => globalThis.fetch(url, options),
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Error', `<p id="error">${esc(out.error)}: ${esc(out.error_description ?? '')}</p>`);
    },
  };
}

async function logoutSource(ctx, form) {
  ctx.body = page('Sign out', `${form}<p>Sign out of the test IdP?</p>
    <button id="logout" type="submit" form="op.logoutForm" value="yes" name="logout">Sign out</button>`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.body = page('Signed out', '<p id="signed-out">You are signed out.</p>');
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;max-width:28em;margin:3em auto}input,button{display:block;margin:.5em 0}</style>
</head><body><h1>jwtgate test IdP: ${esc(title)}</h1>${body}</body></html>`;

function loginPage(uid, error) {
  return page('Sign in', `${error ? `<p id="error">${esc(error)}</p>` : ''}
    <form method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
      <label>User <input id="username" name="username" required></label>
      <label>Password <input id="password" name="password" type="password" required></label>
      <button id="signin" type="submit">Sign in</button>
    </form>`);
}

/**
 * Starts the login IdP; resolves once it listens. `password` is the test user's
 * (tests/up.py makes one per run and publishes it as `browser_password`).
 */
export async function serveLogin({ port, host, issuer, audience, jwks, password, origins, backchannelUri }) {
  const client = loginClient({ origins, backchannelUri });
  const provider = new Provider(issuer, configuration({ issuer, audience, jwks, client }));
  const feed = revocationFeed({ issuer, jwks, clients: { [LOGIN_CLIENT_ID]: LOGIN_CLIENT_SECRET }, tokenTtlS: SESSION_TTL_S });
  const counters = { grants: {}, backchannel: { ok: 0, failed: 0 }, logins: 0, login_failures: 0 };
  const sessions = new Map(); // session id -> account id, for the end-session hook

  provider.use(async (ctx, next) => {
    try {
      await next();
    } finally {
      console.log(`idp ${ctx.method} ${ctx.path} ${ctx.status}`);
    }
  });
  provider.on('server_error', (_ctx, err) => console.error('idp server_error', err));
  provider.on('grant.success', (ctx) => {
    const type = ctx.oidc.params.grant_type;
    counters.grants[type] = (counters.grants[type] ?? 0) + 1;
  });
  provider.on('authorization.success', (ctx) => {
    if (ctx.oidc.session?.accountId) sessions.set(ctx.oidc.session.jti, ctx.oidc.session.accountId);
  });
  // Every logout delivered (or not) by end_session: its sid into the feed either way.
  provider.on('backchannel.success', (_ctx, _client, _sub, sid) => {
    counters.backchannel.ok += 1;
    feed.sessionEnded({ sid });
  });
  provider.on('backchannel.error', (_ctx, err, _client, _sub, sid) => {
    counters.backchannel.failed += 1;
    console.error(`idp backchannel failed: ${err.message}`);
    feed.sessionEnded({ sid });
  });

  const interactions = interactionRoutes(provider, password, counters);
  const hooks = testHooks(provider, feed, sessions, counters);
  const callback = provider.callback();
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, issuer).pathname;
    try {
      if (req.method === 'GET' && path === '/revocations') {
        await feed.handle(req, res);
      } else if (!(await interactions(req, res, path)) && !(await hooks(req, res, path))) {
        return callback(req, res);
      }
      console.log(`idp ${req.method} ${path} ${res.statusCode}`);
    } catch (err) {
      console.error(`idp ${req.method} ${path}: ${err.message}`);
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('bad request');
    }
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, ok);
  });
  return server;
}

/** GET /interaction/:uid (login form, or consent granted at once), POST .../login. */
function interactionRoutes(provider, password, counters) {
  return async (req, res, path) => {
    const m = /^\/interaction\/([\w-]+)(\/login)?$/.exec(path);
    if (!m) return false;
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== m[1]) throw new Error('interaction mismatch');
    const { prompt } = details;
    if (req.method === 'GET' && prompt.name === 'login') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(loginPage(details.uid));
    } else if (req.method === 'GET' && prompt.name === 'consent') {
      // First-party client: consent without a page, but recorded as a Grant.
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      const { missingOIDCScope = [], missingOIDCClaims = [], missingResourceScopes = {} } = prompt.details;
      if (missingOIDCScope.length) grant.addOIDCScope(missingOIDCScope.join(' '));
      if (missingOIDCClaims.length) grant.addOIDCClaims(missingOIDCClaims);
      for (const [resource, scopes] of Object.entries(missingResourceScopes)) grant.addResourceScope(resource, scopes.join(' '));
      await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
    } else if (req.method === 'POST' && m[2] && prompt.name === 'login') {
      const form = new URLSearchParams(await readBody(req));
      if (form.get('username') !== LOGIN_USER || !sameSecret(form.get('password') ?? '', password)) {
        counters.login_failures += 1;
        res.writeHead(401, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(loginPage(details.uid, 'Wrong user or password.'));
        return true;
      }
      counters.logins += 1;
      await provider.interactionFinished(req, res, { login: { accountId: LOGIN_USER } }, { mergeWithLastSubmission: false });
    } else {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`unexpected ${req.method} for prompt ${prompt.name}`);
    }
    return true;
  };
}

/** Test-only hooks: counters, and ending a user's sessions at the IdP (an admin action). */
function testHooks(provider, feed, sessions, counters) {
  return async (req, res, path) => {
    if (req.method === 'GET' && path === '/test/counters') {
      json(res, 200, counters, { 'cache-control': 'no-store' });
      return true;
    }
    if (req.method !== 'POST' || path !== '/test/end-session') return false;
    const form = new URLSearchParams(await readBody(req));
    if (!clientAuthenticated(req)) return json(res, 401, { error: 'invalid_client' }), true;
    const sub = form.get('sub');
    if (!sub) return json(res, 400, { error: 'invalid_request', error_description: '`sub` is required' }), true;
    const ended = [];
    for (const [id, account] of sessions) {
      if (account !== sub) continue;
      sessions.delete(id);
      const session = await provider.Session.find(id);
      if (session) ended.push(...(await endSession(provider, feed, session, counters)));
    }
    json(res, 200, { ended }, { 'cache-control': 'no-store' });
    return true;
  };
}

/** Back-channel logout to every client of the session, sid into the feed, grants and session gone. */
async function endSession(provider, feed, session, counters) {
  const ended = [];
  for (const [clientId, { grantId }] of Object.entries(session.authorizations ?? {})) {
    const sid = session.sidFor(clientId);
    const client = await provider.Client.find(clientId);
    let delivered = false;
    if (client?.backchannelLogoutUri) {
      try {
        await client.backchannelLogout(session.accountId, sid);
        delivered = true;
        counters.backchannel.ok += 1;
      } catch (err) {
        counters.backchannel.failed += 1;
        console.error(`idp backchannel failed: ${err.message}`);
      }
    }
    feed.sessionEnded({ sid });
    if (grantId) await (await provider.Grant.find(grantId))?.destroy();
    ended.push({ client_id: clientId, sid, delivered });
  }
  await session.destroy();
  return ended;
}

function clientAuthenticated(req) {
  const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
  if (!basic) return false;
  const [id, secret] = Buffer.from(basic[1], 'base64').toString().split(':').map(decodeURIComponent);
  return id === LOGIN_CLIENT_ID && sameSecret(secret ?? '', LOGIN_CLIENT_SECRET);
}

/** Constant-time comparison (of digests, so lengths may differ). */
function sameSecret(a, b) {
  const digest = (v) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(a), digest(b));
}
