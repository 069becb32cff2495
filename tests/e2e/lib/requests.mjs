// Sending a case's request to a gate: building it from the case (token
// placement), then fetch, node:http (repeated header lines) or raw bytes over
// node:net (`raw: true`). Used by ../gate.test.mjs.

import http from 'node:http';
import net from 'node:net';

export const PLACEMENTS = new Set([
  'bearer', 'query', 'cookie', 'bearer+query', 'bearer+cookie',
  'two_auth_headers', 'comma_joined', 'bearer_lowercase_scheme', 'template',
]);
export const TIMEOUT_MS = 10_000;

function withQuery(path, token) {
  return `${path}${path.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}`;
}

/** Builds {path, headers} for a case; headers values may be arrays. */
export function buildRequest(c, token) {
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
      case 'template': {
        const fill = (v) => v.replaceAll('{{token}}', token);
        path = fill(path);
        for (const [k, v] of Object.entries(headers)) headers[k] = Array.isArray(v) ? v.map(fill) : fill(v);
        break;
      }
      default: throw new Error(`unknown placement ${p}`);
    }
  }
  return { method: c.method ?? 'GET', path, headers, body: c.body, raw: c.raw === true };
}

/** node:http request: keeps repeated header lines (fetch would merge them). */
export function rawRequest(base, { method, path, headers, body }) {
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

/** Decodes a chunked HTTP/1.1 body. */
function unchunk(buf) {
  const out = [];
  let i = 0;
  while (i < buf.length) {
    const eol = buf.indexOf('\r\n', i);
    if (eol < 0) break;
    const size = Number.parseInt(buf.subarray(i, eol).toString('latin1').split(';')[0], 16);
    if (!size) break;
    out.push(buf.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** True once `buf` holds a complete response (by content-length or the last chunk). */
function responseComplete(buf) {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return false;
  const head = buf.subarray(0, headEnd).toString('latin1');
  const len = head.match(/\r\ncontent-length:\s*(\d+)/i);
  if (len) return buf.length - headEnd - 4 >= Number(len[1]);
  return /\r\ntransfer-encoding:\s*chunked/i.test(head) && buf.subarray(headEnd).includes('\r\n0\r\n\r\n');
}

function parseResponse(buf) {
  const headEnd = buf.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const headers = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  let body = buf.subarray(headEnd + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = unchunk(body);
  return { status: Number(statusLine.split(' ')[1]), header: (n) => headers[n.toLowerCase()] ?? null, text: body.toString('utf8') };
}

/**
 * The request exactly as given, over node:net: request-target and header values are
 * written byte for byte (fetch and node:http would normalise or refuse some of them).
 * Resolves as soon as the response is complete (Envoy lingers up to 1 s before
 * closing); a reset after a complete response head (Envoy's 431) still counts.
 */
function socketRequest(base, { method, path, headers, body }) {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const sock = net.connect(Number(url.port), url.hostname);
    const chunks = [];
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      sock.destroy();
      const buf = Buffer.concat(chunks);
      if (buf.indexOf('\r\n\r\n') < 0) reject(err ?? new Error(`no HTTP response from ${base} for ${method} ${path.slice(0, 200)}`));
      else resolve(parseResponse(buf));
    };
    sock.setTimeout(TIMEOUT_MS, () => finish(new Error(`timeout ${method} ${base}${path.slice(0, 200)}`)));
    sock.on('connect', () => {
      let head = `${method} ${path} HTTP/1.1\r\nhost: ${url.host}\r\nconnection: close\r\n`;
      for (const [k, v] of Object.entries(headers)) for (const one of [v].flat()) head += `${k}: ${one}\r\n`;
      if (body !== undefined) head += `content-length: ${Buffer.byteLength(body)}\r\n`;
      sock.write(`${head}\r\n`);
      if (body !== undefined) sock.write(body);
    });
    sock.on('data', (d) => {
      chunks.push(d);
      if (responseComplete(Buffer.concat(chunks))) finish();
    });
    sock.on('end', () => finish());
    sock.on('close', () => finish());
    sock.on('error', (err) => finish(err));
  });
}

export async function send(base, r) {
  if (r.raw) return socketRequest(base, r);
  const repeated = Object.values(r.headers).some(Array.isArray);
  if (repeated) return rawRequest(base, r);
  const res = await fetch(new URL(r.path, base), {
    method: r.method, headers: r.headers, body: r.body, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  return { status: res.status, header: (n) => res.headers.get(n), text: await res.text() };
}
