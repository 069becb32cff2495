#!/usr/bin/env node
// jwtgate e2e IdP: the real npm `oidc-provider`, configured for the
// client_credentials grant issuing RFC 9068 `at+jwt` access tokens.
//
//   node tests/idp/server.mjs --port 9400 --keys-out run/idp-keys.json
//   node tests/idp/server.mjs --port 9403 --profile opaque --keys-out run/idp-opaque-keys.json
//   JWTGATE_LOGIN_PASSWORD=... node tests/idp/server.mjs --port 9406 --profile login --keys-out run/idp-login-keys.json
//
// `--profile login` (browser sessions, issue #15) is a separate provider for the
// authorization code flow with a login page: tests/idp/login.mjs.
//
// `--profile opaque` (the introspection IdP, issue #12): its access tokens are opaque
// (resource server `https://opaque.example` with accessTokenFormat 'opaque'), RFC 7662
// introspection and RFC 7009 revocation are on, and it has two clients: `jwtgate-opaque`
// (whose tokens the gate sees) and `jwtgate-introspector` (the gate's own client for the
// introspection call). oidc-provider refuses to introspect JWT access tokens
// (reject_structured_tokens.js), so this IdP issues only opaque ones; a client may revoke
// only its own tokens (revocation allowedPolicy). Introspection answers carry
// extraTokenClaims, iss, aud, exp, iat, client_id, scope and token_type, but no `sub`
// for client_credentials tokens (no account).
//
// The jwt profile also answers RFC 7662 introspection of its own JWT access tokens
// (tests/idp/introspection.mjs: client `jwtgate-jwt-introspector`, active:false once
// revoked through revocation.mjs), with a per-token call counter for the tests.
//
// On start it generates fresh signing keys (RS256 2048-bit `rs-<rand>` and
// ES256 `es-<rand>`), writes them as a PRIVATE JWKS to --keys-out (so the
// token factory can craft tokens with the same keys/kids), then listens on
// 127.0.0.1 and prints `idp listening <issuer>`. Every request is logged as
// `idp <METHOD> <path> <status>` so tests can count JWKS fetches.
//
// oidc-provider quirks hit while wiring this up (9.13.3):
// - Access tokens only become JWTs through resourceIndicators: a token
//   request without a resolved resource gets an opaque token. defaultResource
//   therefore always returns https://api.example.
// - The token's `scope` is the intersection of the REQUESTED scope and the
//   resource server's scope; the client's registered `scope` does not act as
//   a default. Ask with `scope=read write` or the token carries no scope.
//   The client's `scope` only restricts values that are listed in the
//   provider-level `scopes`, so read/write are added there.
// - The default ttl.ClientCredentials / ttl.AccessToken functions log
//   "you SHOULD change it" notices on first use; they are replaced here.
// - devInteractions is on by default and warns at boot; it is disabled (there
//   is no interactive flow here, only client_credentials).
// - client_secret_basic and client_secret_post are interchangeable: a client
//   registered with either accepts both (lib/shared/client_auth.js), so POST
//   body credentials work too without registering a second client.
// - getResourceServerInfo is called with whatever `resource` the client sent;
//   it must reject unknown ones itself (InvalidTarget), otherwise any resource
//   value would get an api.example token.
// - Requested scopes that the resource server does not list (e.g. `admin`)
//   are silently dropped rather than rejected.
// - For client_credentials tokens `sub` is the client_id (`jwtgate-demo`).
// - JWKS exposes only the public parts of the `jwks` passed in; the route is
//   set explicitly to /jwks (the default name too) and the token route to
//   /token (also the default).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { X509Certificate, randomBytes } from 'node:crypto';

import * as jose from 'jose';
import Provider, { errors } from 'oidc-provider';

import { introspectionEndpoint } from './introspection.mjs';
import { revocationFeed } from './revocation.mjs';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '9400' },
    'keys-out': { type: 'string', default: 'run/idp-keys.json' },
    host: { type: 'string', default: '127.0.0.1' },
    profile: { type: 'string', default: 'jwt' },
    // HTTPS (issue #12, TLS to the IdP): a certificate from tests/pki.py; the issuer is
    // then https://127.0.0.1:<port>.
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    // The test CA (run/pki/ca.pem): enables RFC 8705 certificate-bound tokens.
    ca: { type: 'string' },
    // --profile opaque: the public JWKS of the gate's own key (tests/client_key.py), for
    // client `jwtgate-introspector-jwt`, which authenticates with private_key_jwt.
    'client-jwks': { type: 'string' },
    // --profile login: where the IdP POSTs logout tokens (default: the demo Envoy's).
    'backchannel-uri': { type: 'string', default: 'http://127.0.0.1:9410/app/backchannel-logout' },
    // Access-token lifetime in seconds. The bench mints its opaque tokens once and uses
    // them for minutes of measuring (with retries when the machine is busy).
    'access-ttl': { type: 'string', default: '300' },
  },
  strict: true,
});

const port = Number.parseInt(args.port, 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`idp: invalid --port ${args.port}`);
  process.exit(2);
}

if (!['jwt', 'opaque', 'login'].includes(args.profile)) {
  console.error(`idp: invalid --profile ${args.profile} (jwt, opaque or login)`);
  process.exit(2);
}
const OPAQUE = args.profile === 'opaque';
const HOST = args.host;
const TLS = args['tls-cert'] && args['tls-key'] ? { cert: readFileSync(args['tls-cert']), key: readFileSync(args['tls-key']) } : null;
const ISSUER = `${TLS ? 'https' : 'http'}://127.0.0.1:${port}`;
const AUDIENCE = OPAQUE ? 'https://opaque.example' : 'https://api.example';
const CLIENT_ID = 'jwtgate-demo';
const CLIENT_SECRET = 'demo-secret';
const OPAQUE_CLIENTS = { 'jwtgate-opaque': 'opaque-secret', 'jwtgate-introspector': 'introspector-secret' };
// More clients, for the authorization-policy routes: another tenant with fewer roles,
// and one whose tokens carry none of the policy claims. tests/up.py lists them in
// run/endpoints.json -> clients.
const CLIENTS = OPAQUE ? OPAQUE_CLIENTS : {
  [CLIENT_ID]: CLIENT_SECRET,
  'jwtgate-globex': 'globex-secret',
  'jwtgate-plain': 'plain-secret',
};
// extraTokenClaims per client: `roles` an array, `tenant` a string, `email_verified`
// a boolean and `level` a number, so the gate's type-strict conditions meet real JSON
// types from a real IdP.
// DPoP (RFC 9449) clients: their tokens are sender-constrained (`cnf.jkt`), so the token
// endpoint refuses them without a DPoP proof. `jwtgate-dpop` needs no nonce (the
// run/endpoints.json contract: dpop_client_id / dpop_client_secret); the second one
// must first get a `DPoP-Nonce` from the token endpoint.
const DPOP_CLIENT_ID = 'jwtgate-dpop';
const DPOP_NONCE_CLIENT_ID = 'jwtgate-dpop-nonce';
const DPOP_CLIENTS = { [DPOP_CLIENT_ID]: 'dpop-secret', [DPOP_NONCE_CLIENT_ID]: 'dpop-nonce-secret' };
// RFC 8705: tokens of this client carry `cnf.x5t#S256` of the client certificate it
// presented (with --ca). The IdP listens on plain HTTP, so it reads the certificate the
// way an app behind a TLS terminator does: URL-encoded PEM in `x-client-cert` (nginx's
// $ssl_client_escaped_cert), verified here against the CA. Test-only: in production the
// terminator, not the client, sets that header.
const MTLS_CLIENT_ID = 'jwtgate-mtls';
const CA = args.ca ? new X509Certificate(readFileSync(args.ca)) : null;
const clientCert = (ctx) => {
  const raw = ctx.get('x-client-cert');
  return raw ? decodeURIComponent(raw) : undefined;
};
const POLICY_CLAIMS = {
  [CLIENT_ID]: { tenant: 'acme', roles: ['orders:read', 'orders:write'], email_verified: true, level: 2 },
  'jwtgate-globex': { tenant: 'globex', roles: ['orders:read'], email_verified: false, level: 1 },
  'jwtgate-opaque': { tenant: 'acme' },
};
const ACCESS_TOKEN_TTL = Number.parseInt(args['access-ttl'], 10);
if (!Number.isInteger(ACCESS_TOKEN_TTL) || ACCESS_TOKEN_TTL <= 0) {
  console.error(`idp: invalid --access-ttl ${args['access-ttl']} (seconds, > 0)`);
  process.exit(2);
}

const rand = () => randomBytes(6).toString('hex');

async function makeKey(alg, kid, opts) {
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true, ...opts });
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, kid, alg, use: 'sig' };
}

const jwks = {
  keys: [
    await makeKey('RS256', `rs-${rand()}`, { modulusLength: 2048 }),
    await makeKey('ES256', `es-${rand()}`),
  ],
};

// Private JWKS for the token factory, written BEFORE listening so anything
// that waits for the "listening" line can rely on the file being complete.
const keysOut = resolve(args['keys-out']);
mkdirSync(dirname(keysOut), { recursive: true });
writeFileSync(keysOut, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600 });

if (args.profile === 'login') {
  const { serveLogin, demoOrigins } = await import('./login.mjs');
  const password = process.env.JWTGATE_LOGIN_PASSWORD;
  if (!password) {
    console.error('idp: --profile login needs JWTGATE_LOGIN_PASSWORD (the test user\'s password)');
    process.exit(2);
  }
  const server = await serveLogin({ port, host: HOST, issuer: ISSUER, audience: 'https://api.example', jwks, password,
    origins: demoOrigins(), backchannelUri: args['backchannel-uri'] });
  console.log(`idp listening ${ISSUER}`);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { server.close(); process.exit(0); });
  // The rest of this file is the token IdP of the other profiles: never reached here
  // (a top-level await that never settles; the server keeps the process alive).
  await new Promise(() => {});
}

// A client_credentials client with `extra` metadata.
const serviceClient = (clientId, secret, extra = {}) => ({
  client_id: clientId,
  client_secret: secret,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: 'read write',
  ...extra,
});

const resourceServer = {
  scope: 'read write',
  audience: AUDIENCE,
  accessTokenFormat: OPAQUE ? 'opaque' : 'jwt',
  accessTokenTTL: ACCESS_TOKEN_TTL,
  jwt: { sign: { alg: 'RS256' } },
};

// RFC 7009-shaped revocation of JWT access tokens, session ends, and the jwtgate
// revocation feed (tests/idp/revocation.mjs). The opaque profile's tokens are revoked
// by oidc-provider's own endpoint (it refuses only structured JWTs), so there the
// extension stays out of the way.
const revocation = revocationFeed({ issuer: ISSUER, jwks, clients: CLIENTS, tokenTtlS: ACCESS_TOKEN_TTL });
// RFC 7662 for this IdP's own JWT access tokens (tests/idp/introspection.mjs), answering
// `active: false` once revoked above; only its dedicated client
// `jwtgate-jwt-introspector` may call it.
const introspection = introspectionEndpoint({ issuer: ISSUER, jwks, covers: revocation.covers });

// RFC 7523: the gate signs an ES256 assertion with its own key; this IdP knows the
// public half only. oidc-provider checks aud (endpoint, issuer or token endpoint),
// exp and a unique jti (replay detection).
const jwtClients = OPAQUE && args['client-jwks'] ? [{
  client_id: 'jwtgate-introspector-jwt',
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'private_key_jwt',
  token_endpoint_auth_signing_alg: 'ES256',
  jwks: JSON.parse(readFileSync(args['client-jwks'], 'utf8')),
  scope: 'read write',
}] : [];

const configuration = {
  discovery: { revocation_endpoint: `${ISSUER}/token/revocation`, jwtgate_revocation_feed: `${ISSUER}/revocations` },
  clients: [
    ...Object.entries(CLIENTS).map(([clientId, secret]) => serviceClient(clientId, secret)),
    ...Object.entries(DPOP_CLIENTS).map(([clientId, secret]) => serviceClient(clientId, secret, { dpop_bound_access_tokens: true })),
    ...(CA ? [serviceClient(MTLS_CLIENT_ID, 'mtls-secret', { tls_client_certificate_bound_access_tokens: true })] : []),
    ...jwtClients,
  ],
  extraTokenClaims: async (_ctx, token) => ({ ...(POLICY_CLAIMS[token.clientId] ?? {}) }),
  jwks,
  scopes: ['openid', 'offline_access', 'read', 'write'],
  routes: { jwks: '/jwks', token: '/token', introspection: '/token/introspection', revocation: '/token/revocation' },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: OPAQUE },
    revocation: { enabled: OPAQUE },
    mTLS: {
      enabled: !!CA,
      certificateBoundAccessTokens: !!CA,
      getCertificate: clientCert,
      certificateAuthorized: (ctx) => {
        try {
          const cert = new X509Certificate(clientCert(ctx));
          return cert.checkIssued(CA) && cert.verify(CA.publicKey) && new Date(cert.validTo) > new Date();
        } catch {
          return false;
        }
      },
      certificateSubjectMatches: () => false,
    },
    dPoP: {
      enabled: true,
      nonceSecret: randomBytes(32),
      requireNonce: (ctx) => ctx.oidc?.client?.clientId === DPOP_NONCE_CLIENT_ID,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => AUDIENCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        if (resourceIndicator !== AUDIENCE) throw new errors.InvalidTarget();
        return { ...resourceServer, jwt: { sign: { ...resourceServer.jwt.sign } } };
      },
    },
  },
  ttl: {
    ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL || ACCESS_TOKEN_TTL,
    AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL || ACCESS_TOKEN_TTL,
  },
  // Only needed for interactive flows; set so nothing falls back to defaults.
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  renderError: async (ctx, out) => {
    ctx.type = 'application/json';
    ctx.body = out;
  },
};

const provider = new Provider(ISSUER, configuration);

// Request log: one line per request, after the response status is known.
provider.use(async (ctx, next) => {
  try {
    await next();
  } finally {
    console.log(`idp ${ctx.method} ${ctx.path} ${ctx.status}`);
  }
});

provider.on('server_error', (_ctx, err) => {
  console.error('idp server_error', err);
});

if (!OPAQUE) revocation.listen(provider);

const providerCallback = provider.callback();
const handler = async (req, res) => {
  try {
    if (!OPAQUE && ((await revocation.handle(req, res)) || (await introspection.handle(req, res)))) {
      console.log(`idp ${req.method} ${req.url.split('?')[0]} ${res.statusCode}`);
      return;
    }
  } catch (err) {
    console.error(`idp revocation/introspection: ${err.message}`);
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end('{"error":"invalid_request"}');
    return;
  }
  providerCallback(req, res);
};
const server = TLS ? createTlsServer(TLS, handler) : createServer(handler);
server.on('error', (err) => {
  console.error(`idp: ${err.message}`);
  process.exit(1);
});
server.listen(port, HOST, () => {
  console.log(`idp listening ${ISSUER}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.close();
    process.exit(0);
  });
}
