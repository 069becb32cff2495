// jwtgate edge worker: the fetch handler only translates between the Workers runtime and
// the Rust core (wasm-bindgen). No validation logic lives here.
//
// Bindings:
//   JWTGATE_CONFIG  the gate's JSON config (text or JSON binding), the same document the
//                   Envoy filter takes; remote providers need `jwks.uri` here.
//   ORIGINS         where allowed requests go: a URL string, or a JSON list of
//                   {"prefix": "/api/py/", "url": "http://…"} (first match wins).
import { initSync, EdgeGate } from '../pkg/jwtgate_worker.js';
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
async function verifyJob(job) {
  const params = WEBCRYPTO[job.alg];
  if (!params) return false;
  try {
    const ref = `${job.key_ref}:${job.alg}`;
    let key = importedKeys.get(ref);
    if (!key) {
      key = await crypto.subtle.importKey('jwk', JSON.parse(job.jwk), params[0], false, ['verify']);
      if (importedKeys.size > 256) importedKeys.clear();
      importedKeys.set(ref, key);
    }
    return await crypto.subtle.verify(params[1], key, new Uint8Array(job.signature), utf8.encode(job.message));
  } catch {
    return false;
  }
}

// Runs one JWKS fetch the core asked for, within this request (Workers forbid awaiting
// another request's promise), and feeds the outcome back.
async function runFetch(f) {
  let status = 0;
  let body = new Uint8Array(0);
  let cacheControl;
  try {
    const res = await fetch(f.uri, {
      headers: { accept: 'application/json, application/jwk-set+json', 'user-agent': 'jwtgate' },
      signal: AbortSignal.timeout(f.timeout_ms),
      redirect: 'manual',
    });
    status = res.status;
    cacheControl = res.headers.get('cache-control') ?? undefined;
    body = await readCapped(res, f.max_body_bytes + 1);
  } catch {
    status = 0;
  }
  console.log(gate.on_fetch_result(f.provider, Date.now(), status, body, cacheControl));
}

// Reads at most `cap` bytes: enough for the core to refuse an oversized JWKS.
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
  return JSON.parse(gate.poll_fetches(Date.now())).map(runFetch);
}

// Decides, holding the request while the core waits for keys (cold start or unknown kid).
async function decide(request, url) {
  const headers = [];
  for (const [k, v] of request.headers) headers.push(k, v);
  const path = url.pathname + url.search;
  const started = Date.now();
  let verifyRounds = 0;
  for (;;) {
    const mayWait = Date.now() - started < gate.hold_ms();
    const d = JSON.parse(gate.decide(request.method, path, headers, Date.now(), mayWait));
    if (d.kind === 'verify') {
      // One round per token (all_of rules may carry several); a core that kept asking
      // would be a bug: answer "invalid" rather than loop.
      const ok = ++verifyRounds <= 8 && (await verifyJob(d));
      gate.complete_signature(d.ticket, ok);
      continue;
    }
    if (d.kind !== 'need_keys') return d;
    const mine = startDueFetches();
    if (mine.length) await Promise.all(mine);
    else await sleep(20); // another request's fetch is in flight: look again shortly
  }
}

function originFor(pathname) {
  return origins.find((o) => pathname.startsWith(o.prefix ?? '/'))?.url;
}

async function forward(request, url, d) {
  const headers = new Headers(request.headers);
  for (const name of d.remove) headers.delete(name);
  let path = url.pathname + url.search;
  for (const [name, value] of d.set) {
    if (name === ':path') path = value;
    else headers.set(name, value);
  }
  const origin = originFor(url.pathname);
  if (!origin) return new Response('{"error":"no_origin"}', { status: 502, headers: { 'content-type': 'application/json' } });
  // Concatenate, never resolve: `new URL('//evil/x', origin)` would change the host.
  const base = new URL(origin);
  const target = `${base.origin}${base.pathname.replace(/\/+$/, '')}${path}`;
  return fetch(target, {
    method: request.method,
    headers,
    body: request.body,
    redirect: 'manual',
  });
}

export default {
  async fetch(request, env, ctx) {
    setup(env);
    if (!gate) {
      const body = JSON.stringify({ error: 'temporarily_unavailable', error_description: 'jwtgate is not configured' });
      return new Response(body, { status: 503, headers: { 'content-type': 'application/json' } });
    }
    let url;
    try {
      url = new URL(request.url);
    } catch {
      const body = JSON.stringify({ error: 'invalid_request', error_description: 'request target is not a URL path' });
      return new Response(body, { status: 400, headers: { 'content-type': 'application/json' } });
    }
    const d = await decide(request, url);
    const refresh = startDueFetches();
    if (refresh.length) ctx.waitUntil(Promise.all(refresh));
    if (d.kind === 'deny') {
      console.log(d.log);
      return new Response(d.body, { status: d.status, headers: d.headers });
    }
    if (d.log) console.log(d.log); // a report-only decision
    const res = await forward(request, url, d);
    if (!d.response_headers?.length) return res;
    // The report-only header goes on the response only, never upstream.
    const out = new Response(res.body, res);
    for (const [name, value] of d.response_headers) out.headers.set(name, value);
    return out;
  },
};
