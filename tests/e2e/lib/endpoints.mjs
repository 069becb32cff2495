// The running stack as tests/up.py describes it (run/endpoints.json), and the
// IdP's token endpoint. Re-exported by ../tokens.mjs.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Reads run/endpoints.json (or $JWTGATE_ENDPOINTS) relative to the repo root. */
export function loadEndpoints(path = process.env.JWTGATE_ENDPOINTS) {
  const file = path ? resolve(path) : resolve(REPO_ROOT, 'run', 'endpoints.json');
  let endpoints;
  try {
    endpoints = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read endpoints file ${file} (start the stack with tests/up.py or set JWTGATE_ENDPOINTS): ${err.message}`);
  }
  for (const k of ['idp_issuer', 'idp_token_url', 'client_id', 'client_secret', 'audience', 'idp_keys_path']) {
    if (typeof endpoints[k] !== 'string' || !endpoints[k]) throw new Error(`${file}: missing "${k}"`);
  }
  endpoints.hosts ??= {};
  endpoints.upstreams ??= {};
  return { ...endpoints, file };
}

/** Fetches a real access token from the IdP (client_credentials). */
export async function fetchIdpToken(endpoints) {
  const basic = Buffer.from(
    `${encodeURIComponent(endpoints.client_id)}:${encodeURIComponent(endpoints.client_secret)}`,
  ).toString('base64');
  const res = await fetch(endpoints.idp_token_url, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    // scope must be requested explicitly: oidc-provider does not default it.
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: endpoints.audience, scope: 'read write' }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`IdP token endpoint answered ${res.status}: ${text}`);
  const body = JSON.parse(text);
  if (typeof body.access_token !== 'string') throw new Error(`IdP token response has no access_token: ${text}`);
  return body;
}
