// Checking a gate's answer against a case's `expect`, after applying the case's
// `hosts_differ` entry for the host. Used by ../gate.test.mjs.

import assert from 'node:assert/strict';

import * as jose from 'jose';

function expand(value, vars) {
  if (typeof value !== 'string') return value;
  return value.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (m, key) => {
    const [scope, name] = key.split('.');
    const v = vars[scope]?.[name];
    if (v === undefined) throw new Error(`cases.json: placeholder ${m} has no value`);
    return String(v);
  });
}

export function resolveHeaderSet(table, spec = {}) {
  const { $use, ...rest } = spec;
  const base = $use ? table.header_sets?.[$use] : {};
  if (!base) throw new Error(`cases.json: unknown header set "${$use}"`);
  return { ...base, ...rest };
}

export function effectiveCase(c, host) {
  // "envoy-software" falls back to "envoy": a variant of a host shares its entries.
  const diff = c.hosts_differ?.[host] ?? c.hosts_differ?.[host.split('-')[0]];
  if (diff === undefined) return { c, skip: false };
  if (typeof diff === 'string') return { c, skip: diff };
  const expect = { ...c.expect, ...(diff.expect ?? {}) };
  for (const [k, v] of Object.entries(expect)) if (v === null) delete expect[k];
  const merged = { ...c, ...(diff.request ?? {}), expect };
  return { c: merged, skip: diff.skip ? diff.reason ?? true : false, note: diff.reason };
}

export function parseJson(text, what) {
  try { return JSON.parse(text); } catch { assert.fail(`${what} is not JSON: ${text.slice(0, 300)}`); }
}

/** Asserts that `res` meets the case's `expect` (and the checks every case gets). */
export function checkResponse(c, token, res, { table, endpoints }) {
  const e = c.expect;
  const where = `${c.method ?? 'GET'} ${c.path} -> ${res.status} www-authenticate=${JSON.stringify(res.header('www-authenticate'))} ${res.text.slice(0, 300)}`;
  if (Array.isArray(e.status)) assert.ok(e.status.includes(res.status), `status ${res.status} not in ${JSON.stringify(e.status)} (${where})`);
  else assert.equal(res.status, e.status, `status (${where})`);

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

  // Response headers: a string must match exactly, null means absent.
  for (const [name, want] of Object.entries(e.response_headers ?? {})) {
    const got = res.header(name) ?? null;
    if (want === null) assert.equal(got, null, `response header ${name} must be absent`);
    else assert.equal(got, want, `response header ${name}`);
  }

  const fromGate = res.status >= 300;
  const placement = c.placement ?? 'bearer';
  // Gate-made answers must never echo the token; neither may allowed
  // requests where the token only travelled in Authorization (removed).
  if (token && token.length > 8 && (fromGate || !/query|cookie/.test(placement))) {
    assert.ok(!res.text.includes(token), 'response body must not contain the token');
  }

  for (const bad of e.body_absent_values ?? []) {
    assert.ok(!res.text.includes(bad), `the response body must not contain ${JSON.stringify(bad)}`);
  }

  if (e.body_error !== undefined) {
    const body = parseJson(res.text, 'denial body');
    assert.equal(body.error, e.body_error, 'body error');
    assert.equal(typeof body.error_description, 'string', 'body error_description');
  }

  if (res.status >= 200 && res.status < 300) {
    const echo = parseJson(res.text, 'upstream echo');
    assert.ok(['node', 'python'].includes(echo.service), `echo.service ${echo.service}`);
    if (e.upstream !== undefined) assert.equal(echo.service, e.upstream, 'upstream service');
    assert.equal(echo.method, c.method ?? 'GET', 'upstream method');
    if (e.upstream_path !== undefined) assert.equal(echo.path, e.upstream_path, 'upstream path');
    const vars = { token: token && token.split('.').length === 3 ? jose.decodeJwt(token) : {}, endpoints };
    for (const [name, want] of Object.entries(resolveHeaderSet(table, e.upstream_headers))) {
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
