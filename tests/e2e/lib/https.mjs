// A client_credentials token from an HTTPS token endpoint that only the test CA vouches
// for (tests/pki.py): node's fetch cannot take a CA per request, node:https can.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { resolve } from 'node:path';

import { REPO_ROOT } from './endpoints.mjs';

export function httpsToken(url, caFile, clientId, secret, params) {
  const ca = readFileSync(resolve(REPO_ROOT, caFile));
  const authorization = `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;
  return new Promise((res, rej) => {
    const req = https.request(url, {
      method: 'POST', ca, timeout: 10_000,
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    }, (r) => {
      let text = '';
      r.on('data', (d) => { text += d; });
      r.on('end', () => (r.statusCode === 200 ? res(JSON.parse(text).access_token) : rej(new Error(`${r.statusCode}: ${text}`))));
    });
    req.on('error', rej);
    req.end(new URLSearchParams(params).toString());
  });
}

/** A token of the stack's HTTPS issuer (`third_token_url`, port 9404). */
export function thirdToken(ep) {
  return httpsToken(ep.third_token_url, ep.ca_cert, ep.client_id, ep.client_secret,
    { grant_type: 'client_credentials', resource: ep.audience, scope: 'read write' });
}
