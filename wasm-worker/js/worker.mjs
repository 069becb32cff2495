// jwtgate edge worker: the fetch handler only translates between the Workers runtime and
// the Rust core (wasm-bindgen). No validation logic lives here.
//
// Bindings:
//   JWTGATE_CONFIG  the gate's JSON config (text or JSON binding), the same document the
//                   Envoy filter takes; remote providers need `jwks.uri` here.
//   ORIGINS         where allowed requests go: a URL string, or a JSON list of
//                   {"prefix": "/api/py/", "url": "http://…"} (first match wins).
import { initSync, DecisionKind, EdgeDenial, EdgeGate } from '../pkg/jwtgate_worker.js';
import wasmModule from '../pkg/jwtgate_worker_bg.wasm';

initSync({ module: wasmModule });

// One gate per isolate: its JWKS cache outlives single requests.
let gate = null;
let setupError = null;
let origins = [];

function setup(env) {
  if (gate || setupError) return;
  try {
    const cfg = env.JWTGATE_CONFIG;
    const text = typeof cfg === 'string' ? cfg : JSON.stringify(cfg);
    const seed = crypto.getRandomValues(new Uint32Array(1))[0];
    gate = new EdgeGate(text, seed, true);
    const o = typeof env.ORIGINS === 'string' && !env.ORIGINS.trim().startsWith('[')
      ? [{ prefix: '/', url: env.ORIGINS }]
      : (typeof env.ORIGINS === 'string' ? JSON.parse(env.ORIGINS) : env.ORIGINS);
    if (!Array.isArray(o) || o.length === 0) throw new Error('ORIGINS must name at least one origin');
    origins = o;
    console.log('jwtgate: configuration loaded');
    for (const w of gate.warnings) console.warn(w);
  } catch (e) {
    setupError = String(e?.message ?? e);
    console.error(`jwtgate: ${setupError}`);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// WebCrypto parameters per JWS algorithm (import, verify). crypto.subtle runs on
// workerd's BoringSSL, far faster than pure-Rust RSA inside wasm.
const WEBCRYPTO = {
  RS256: [{ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, { name: 'RSASSA-PKCS1-v1_5' }],
  RS384: [{ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' }, { name: 'RSASSA-PKCS1-v1_5' }],
  RS512: [{ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' }, { name: 'RSASSA-PKCS1-v1_5' }],
  PS256: [{ name: 'RSA-PSS', hash: 'SHA-256' }, { name: 'RSA-PSS', saltLength: 32 }],
  PS384: [{ name: 'RSA-PSS', hash: 'SHA-384' }, { name: 'RSA-PSS', saltLength: 48 }],
  PS512: [{ name: 'RSA-PSS', hash: 'SHA-512' }, { name: 'RSA-PSS', saltLength: 64 }],
  ES256: [{ name: 'ECDSA', namedCurve: 'P-256' }, { name: 'ECDSA', hash: 'SHA-256' }],
  ES384: [{ name: 'ECDSA', namedCurve: 'P-384' }, { name: 'ECDSA', hash: 'SHA-384' }],
  EdDSA: [{ name: 'Ed25519' }, { name: 'Ed25519' }],
};
// Imported keys by the core's key_ref (provider, key-set generation, kid, alg).
const importedKeys = new Map();
const utf8 = new TextEncoder();

// Verifies one signature job from the core; any failure to import or verify is "invalid".
// Reads everything it needs from the job before awaiting: `resume` consumes the job.
async function verifyJob(job) {
  const alg = job.alg;
  const params = WEBCRYPTO[alg];
  if (!params) return false;
  const ref = `${job.key_ref}:${alg}`;
  const jwk = job.jwk;
  const signature = job.signature;
  const message = utf8.encode(job.message);
  try {
    let key = importedKeys.get(ref);
    if (!key) {
      key = await crypto.subtle.importKey('jwk', JSON.parse(jwk), params[0], false, ['verify']);
      if (importedKeys.size > 256) importedKeys.clear();
      importedKeys.set(ref, key);
    }
    return await crypto.subtle.verify(params[1], key, signature, message);
  } catch {
    return false;
  }
}

// Runs one fetch the core asked for (a JWKS or another document), within this request
// (Workers forbid awaiting another request's promise), and feeds the outcome back. The
// fetch is conditional when the core holds a document with validators (If-None-Match /
// If-Modified-Since).
async function runFetch(f) {
  let status = 0;
  let body = new Uint8Array(0);
  let cacheControl;
  let etag;
  let lastModified;
  const headers = { accept: f.accept, 'user-agent': 'jwtgate' };
  const extra = f.headers;
  for (let i = 0; i + 1 < extra.length; i += 2) headers[extra[i]] = extra[i + 1];
  if (f.if_none_match) headers['if-none-match'] = f.if_none_match;
  if (f.if_modified_since) headers['if-modified-since'] = f.if_modified_since;
  const sentAt = Date.now();
  try {
    const init = { method: f.method, headers, signal: AbortSignal.timeout(f.timeout_ms), redirect: 'manual' };
    if (f.method !== 'GET') init.body = f.body;
    const res = await fetch(f.uri, init);
    status = res.status;
    cacheControl = res.headers.get('cache-control') ?? undefined;
    etag = res.headers.get('etag') ?? undefined;
    lastModified = res.headers.get('last-modified') ?? undefined;
    body = await readCapped(res, f.max_body_bytes + 1);
  } catch (e) {
    status = 0;
    // Why there was no response (a TLS error names the certificate problem); the URL
    // carries no secret (an introspected token travels in the body).
    console.log(`jwtgate: fetch ${f.method} ${f.uri} failed: ${e?.name}: ${e?.message}`);
  }
  console.log(gate.on_fetch_result(f, Date.now(), sentAt, status, body, cacheControl, etag, lastModified));
}

// Reads at most `cap` bytes: enough for the core to refuse an oversized document.
async function readCapped(res, cap) {
  const reader = res.body?.getReader();
  if (!reader) return new Uint8Array(0);
  const chunks = [];
  let size = 0;
  while (size < cap) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  if (size >= cap) await reader.cancel();
  const out = new Uint8Array(Math.min(size, cap));
  let off = 0;
  for (const c of chunks) {
    const part = c.subarray(0, Math.min(c.byteLength, out.byteLength - off));
    out.set(part, off);
    off += part.byteLength;
  }
  return out;
}

function startDueFetches() {
  return gate.poll_fetches(Date.now()).map(runFetch);
}

// The core's decision for one request: holds it while the core waits for keys (the core
// ends the hold `startup_hold_ms` after `arrived`), and hands each signature job to
// WebCrypto and back to the core, which keeps the verdicts until its decision is final.
async function decide(request, url) {
  const headers = [];
  for (const [k, v] of request.headers) headers.push(k, v);
  // The login flow checks the host against its configured origins.
  if (!request.headers.has('host')) headers.push('host', url.host);
  const path = url.pathname + url.search;
  const scheme = url.protocol.replace(/:$/, '');
  const cert = clientCert(request);
  const arrived = Date.now();
  let d = gate.decide(request.method, path, headers, scheme, cert, arrived, arrived);
  for (;;) {
    switch (d.kind) {
      case DecisionKind.Verify: {
        const job = d.job();
        d = gate.resume(job, await verifyJob(job), Date.now());
        break;
      }
      case DecisionKind.NeedKeys: {
        const mine = startDueFetches();
        if (mine.length) await Promise.all(mine);
        else await sleep(20); // another request's fetch is in flight: look again shortly
        d = gate.decide(request.method, path, headers, scheme, cert, Date.now(), arrived);
        break;
      }
      case DecisionKind.NeedBody: {
        // A back-channel logout POST: read the form (bounded) and decide on it.
        const limit = d.body_limit;
        const body = new Uint8Array(await request.arrayBuffer());
        if (body.length > limit) {
          const tooBig = JSON.stringify({ error: 'invalid_request', error_description: 'the request body is too large' });
          return { kind: 'too_large', body: tooBig };
        }
        d = gate.decide_body(request.method, path, headers, body, Date.now());
        break;
      }
      default:
        return d;
    }
  }
}

// The verified client certificate's SHA-256 (hex), as Cloudflare's edge reports it for
// mTLS (RFC 8705 certificate-bound tokens). Only a certificate the edge verified counts.
// Plain workerd does not terminate client TLS: the local stack injects `cf` instead.
function clientCert(request) {
  const auth = request.cf?.tlsClientAuth;
  if (!auth || auth.certPresented !== '1' || auth.certVerified !== 'SUCCESS') return undefined;
  const fp = auth.certFingerprintSHA256;
  return typeof fp === 'string' && /^[0-9a-fA-F]{64}$/.test(fp) ? fp : undefined;
}

function originFor(pathname) {
  return origins.find((o) => pathname.startsWith(o.prefix ?? '/'))?.url;
}

// Forwards an allowed request. The origin is chosen by the path the core decided on,
// never by the raw URL, and the request target is the core's too.
async function forward(request, a) {
  const headers = new Headers(request.headers);
  for (const name of a.remove) headers.delete(name);
  const set = a.set;
  for (let i = 0; i + 1 < set.length; i += 2) headers.set(set[i], set[i + 1]);
  const origin = originFor(a.path);
  if (!origin) return new Response('{"error":"no_origin"}', { status: 502, headers: { 'content-type': 'application/json' } });
  // Concatenate, never resolve: `new URL('//evil/x', origin)` would change the host.
  const base = new URL(origin);
  const target = `${base.origin}${base.pathname.replace(/\/+$/, '')}${a.target}`;
  return fetch(target, {
    method: request.method,
    headers,
    body: request.body,
    redirect: 'manual',
  });
}

// A local reply built by the core (a denial, or a login redirect or page).
function reply(denial) {
  console.log(denial.log_line);
  const h = denial.headers;
  const headers = [];
  for (let i = 0; i + 1 < h.length; i += 2) headers.push([h[i], h[i + 1]]);
  return new Response(denial.body, { status: denial.status, headers });
}

export default {
  async fetch(request, env, ctx) {
    setup(env);
    if (!gate) return reply(EdgeDenial.unconfigured());
    let url;
    try {
      url = new URL(request.url);
    } catch {
      const body = JSON.stringify({ error: 'invalid_request', error_description: 'request target is not a URL path' });
      return new Response(body, { status: 400, headers: { 'content-type': 'application/json' } });
    }
    const d = await decide(request, url);
    if (d.kind === 'too_large') return new Response(d.body, { status: 413, headers: { 'content-type': 'application/json' } });
    const refresh = startDueFetches();
    if (refresh.length) ctx.waitUntil(Promise.all(refresh));
    // Forward only on an explicit allow; anything else the core did not mean: 500.
    switch (d.kind) {
      case DecisionKind.Allow: {
        const a = d.allow();
        // Like Envoy's `jwks_stale_served` counter: only an allow served from a key set
        // whose refresh is failing is worth a line (with the token's hash); logging every
        // allowed request would put console I/O on the hot path.
        if (a.stale_keys) console.log(a.log_line);
        const report = a.report_line;
        if (report) console.log(report); // a report-only decision: what would have happened
        const res = await forward(request, a);
        const extra = a.response_headers;
        if (!extra.length) return res;
        // The report-only header goes on the response only, never upstream.
        const out = new Response(res.body, res);
        // A refreshed session's cookies repeat `set-cookie`: append those, set the rest.
        for (let i = 0; i + 1 < extra.length; i += 2) {
          if (extra[i] === 'set-cookie') out.headers.append(extra[i], extra[i + 1]);
          else out.headers.set(extra[i], extra[i + 1]);
        }
        return out;
      }
      case DecisionKind.Deny:
        return reply(d.deny());
      case DecisionKind.Respond:
        return reply(d.respond());
      default:
        return reply(EdgeDenial.internal_error());
    }
  },
};
