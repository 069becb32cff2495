// bench comparison worker: the same gate job as jwtgate's edge worker, written with npm
// `jose` (WebCrypto verification). Bundled for workerd by bench/run.py with esbuild:
//   wasm-worker/node_modules/.bin/esbuild bench/jose-worker/worker.mjs --bundle \
//     --format=esm --outfile=target/bench/jose-worker.mjs
//
// Bindings (see bench/edge/workerd.capnp.tmpl):
//   JWKS      the public JWKS (JSON binding)
//   ISSUER    required `iss`
//   AUDIENCE  required `aud` member
//   ORIGIN    where allowed requests go
// Checks, matching the bench gate config: signature with a key from JWKS selected by
// kid/alg, algorithms allow-list (RS256, ES256, EdDSA), iss, aud, exp required, 60 s
// clock tolerance. Allowed requests are forwarded with the token removed and x-jwt-sub /
// x-jwt-iss set (client copies dropped); denied ones get 401 with WWW-Authenticate.
import { createLocalJWKSet, jwtVerify } from '../../tests/node_modules/jose/dist/webapi/index.js';

const ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];
let keySet = null; // one per isolate: it caches imported CryptoKeys

function deny(description) {
  const body = JSON.stringify({ error: 'invalid_token', error_description: description });
  return new Response(body, {
    status: 401,
    headers: {
      'content-type': 'application/json',
      'www-authenticate': `Bearer realm="jose", error="invalid_token", error_description="${description}"`,
    },
  });
}

export default {
  async fetch(request, env) {
    keySet ??= createLocalJWKSet(typeof env.JWKS === 'string' ? JSON.parse(env.JWKS) : env.JWKS);
    const auth = request.headers.get('authorization') ?? '';
    if (!auth.startsWith('Bearer ') || auth.length === 7) {
      return new Response('{"error":"missing_token"}', {
        status: 401,
        headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="jose"' },
      });
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(auth.slice(7), keySet, {
        issuer: env.ISSUER,
        audience: env.AUDIENCE,
        algorithms: ALGORITHMS,
        requiredClaims: ['exp'],
        clockTolerance: 60,
      }));
    } catch (e) {
      console.log(`jose: deny ${e?.code ?? e}`);
      return deny('token is not valid');
    }
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    headers.delete('authorization');
    headers.delete('x-jwt-sub');
    headers.delete('x-jwt-iss');
    if (typeof payload.sub === 'string') headers.set('x-jwt-sub', payload.sub);
    headers.set('x-jwt-iss', payload.iss);
    return fetch(new URL(url.pathname + url.search, env.ORIGIN), {
      method: request.method,
      headers,
      body: request.body,
      redirect: 'manual',
    });
  },
};
