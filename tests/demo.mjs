// `make demo`: a denied request, an allowed one with what the upstream saw, and a
// spoofed identity header being replaced — through every running gate host.
import * as dpop from './e2e/lib/dpop.mjs';
import { fetchIdpToken, loadEndpoints } from './e2e/tokens.mjs';

const endpoints = loadEndpoints();
const { access_token: token } = await fetchIdpToken(endpoints);
const short = (t) => `${t.slice(0, 12)}…${t.slice(-6)}`;
// The demo client's tokens carry `tenant` (tests/idp/server.mjs, extraTokenClaims).
const tenant = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')).tenant;

async function show(title, url, headers = {}) {
  const res = await fetch(url, { headers });
  const body = await res.text();
  console.log(`\n── ${title}\n   GET ${url}  →  ${res.status} ${res.statusText}`);
  const www = res.headers.get('www-authenticate');
  if (www) console.log(`   WWW-Authenticate: ${www}`);
  const report = res.headers.get('x-jwtgate-report');
  if (report) console.log(`   x-jwtgate-report (report-only rule): ${report}`);
  let echo;
  try { echo = JSON.parse(body); } catch { echo = null; }
  if (echo?.service) {
    const seen = Object.entries(echo.headers).filter(([k]) => k.startsWith('x-jwt-') || k === 'authorization');
    console.log(`   the ${echo.service} upstream saw:`);
    for (const [k, v] of seen) console.log(`     ${k}: ${v}`);
    if (!seen.some(([k]) => k === 'authorization')) console.log('     (no authorization header: the token is not forwarded)');
  } else {
    console.log(`   body: ${body}`);
  }
}

console.log(`IdP ${endpoints.idp_issuer} issued an at+jwt access token for ${endpoints.client_id}: ${short(token)}`);
// The *-software hosts are the same gates with the fast paths off (for the tests).
for (const [host, base] of Object.entries(endpoints.hosts).filter(([h]) => !h.endsWith('-software'))) {
  console.log(`\n════ through ${host} (${base})`);
  await show('no token: denied', `${base}/api/node/hello`);
  await show('valid token: allowed (Express upstream)', `${base}/api/node/hello`, { authorization: `Bearer ${token}` });
  await show('valid token: allowed (Python upstream)', `${base}/api/py/hello`, { authorization: `Bearer ${token}` });
  await show('spoofed x-jwt-sub: admin is replaced by the verified subject', `${base}/api/py/hello`,
    { authorization: `Bearer ${token}`, 'x-jwt-sub': 'admin' });
  await show('spoofed x-jwt-sub on a public route is removed', `${base}/public/info`, { 'x-jwt-sub': 'admin' });
  await show('a route no rule opens: denied by default', `${base}/internal/metrics`, { authorization: `Bearer ${token}` });
  const auth = { authorization: `Bearer ${token}` };
  await show(`tenant ${tenant}'s own path: allowed`, `${base}/api/tenants/${tenant}/orders`, auth);
  await show('another tenant\'s path: 403 access_denied', `${base}/api/tenants/globex/orders`, auth);
  await show('report-only rule, no token: let through, the response header tells what would have happened',
    `${base}/api/shadow/orders`);
  // DPoP (RFC 9449): the token is bound to the client's key; a thief who copies it
  // (and even a proof) gets nowhere without that key.
  if (endpoints.dpop_client_id) {
    const client = await dpop.clientKey();
    const thief = await dpop.clientKey();
    const dclient = { client_id: endpoints.dpop_client_id, client_secret: endpoints.dpop_client_secret };
    const { access_token: bound } = await dpop.boundToken(endpoints, dclient, client);
    const url = `${base}/api/dpop/orders`;
    await show('DPoP-bound token with the client\'s proof: allowed', url,
      { authorization: `DPoP ${bound}`, dpop: await dpop.proof(client, 'GET', url, { token: bound }) });
    await show('the same token stolen, sent as Bearer: denied', url, { authorization: `Bearer ${bound}` });
    await show('the stolen token with a proof from the thief\'s own key: denied', url,
      { authorization: `DPoP ${bound}`, dpop: await dpop.proof(thief, 'GET', url, { token: bound }) });
  }
}
