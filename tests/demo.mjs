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
    if (headers['x-api-key'] && !('x-api-key' in echo.headers)) console.log('     (no x-api-key header: an API key is never forwarded)');
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
  // API keys identify an application; /api/keys/ takes a key only, /api/either/ a key or a token.
  const key = { 'x-api-key': endpoints.api_key };
  await show(`API key of ${endpoints.api_key_client}: allowed, the upstream sees the application`, `${base}/api/keys/reports`, key);
  await show('no API key (or a wrong one): 401 ApiKey challenge', `${base}/api/keys/reports`);
  await show('a key or a token: the key', `${base}/api/either/reports`, key);
  await show('a key and a token together: refused', `${base}/api/either/reports`, { ...key, ...auth });
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

// Revocation: a fresh token allowed everywhere, revoked at the IdP (RFC 7009), and refused
// by every gate a few seconds later (within revocation_bound_s).
if (endpoints.revocation_url) {
  const { access_token: doomed } = await fetchIdpToken(endpoints);
  const gates = Object.entries(endpoints.hosts).filter(([h]) => !h.endsWith('-software'));
  console.log(`\n════ revocation (bound: ${endpoints.revocation_bound_s} s)`);
  for (const [host, base] of gates) {
    await show(`${host}: a fresh token: allowed`, `${base}/api/node/hello`, { authorization: `Bearer ${doomed}` });
  }
  const basic = Buffer.from(`${endpoints.client_id}:${endpoints.client_secret}`).toString('base64');
  const revokedAt = Date.now();
  const r = await fetch(endpoints.revocation_url, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: doomed, token_type_hint: 'access_token' }),
  });
  console.log(`\n── revoked at the IdP: POST ${endpoints.revocation_url} (RFC 7009)  →  ${r.status}`);
  for (const [host, base] of gates) {
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < (endpoints.revocation_bound_s + 5) * 1000) {
      await new Promise((done) => setTimeout(done, 250));
      status = (await fetch(`${base}/api/node/hello`, { headers: { authorization: `Bearer ${doomed}` } })).status;
    }
    console.log(`   ${host}: refused ${((Date.now() - revokedAt) / 1000).toFixed(1)} s after the revocation`);
    await show(`${host}: the revoked token`, `${base}/api/node/hello`, { authorization: `Bearer ${doomed}` });
  }
}

// Opaque tokens via RFC 7662 introspection (tests/idp/server.mjs --profile opaque): the
// gate asks the IdP once per token and caches the answer for at most max_ttl_s (2 s in
// envoy/jwtgate.json, short so that a revocation shows within seconds).
const form = async (url, id, secret, params) => fetch(url, {
  method: 'POST',
  headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
    'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(params),
});
for (const [host, base] of Object.entries(endpoints.hosts).filter(([h]) => !h.endsWith('-software'))) {
  const res = await form(endpoints.opaque_token_url, endpoints.opaque_client_id, endpoints.opaque_client_secret,
    { grant_type: 'client_credentials', scope: 'read write' });
  const opaque = (await res.json()).access_token;
  console.log(`\n════ introspection through ${host}: ${endpoints.opaque_issuer} issued an opaque token ${short(opaque)}`);
  const auth = { authorization: `Bearer ${opaque}` };
  await show('opaque token: allowed via introspection', `${base}/api/node/hello`, auth);
  await form(endpoints.opaque_revocation_url, endpoints.opaque_client_id, endpoints.opaque_client_secret, { token: opaque });
  console.log('   … revoked at the IdP (RFC 7009); waiting 2.5 s for the cached answer (max_ttl_s: 2) to expire');
  await new Promise((r) => { setTimeout(r, 2500); });
  await show('the same opaque token after revocation: refused', `${base}/api/node/hello`, auth);
}

// Why was that 403? `jwtgate check` runs the same core offline on the same config, with
// the IdP's key set saved to a file, and lists the rule and every check it ran.
{
  const { spawnSync } = await import('node:child_process');
  const { writeFileSync } = await import('node:fs');
  const { resolve } = await import('node:path');
  const { REPO_ROOT } = await import('./e2e/tokens.mjs');
  const jwks = await (await fetch(`${endpoints.idp_issuer}/jwks`)).text();
  const jwksFile = resolve(REPO_ROOT, 'run/demo-jwks.json');
  writeFileSync(jwksFile, jwks);
  const tokenFile = resolve(REPO_ROOT, 'run/demo-token.jwt');
  writeFileSync(tokenFile, token, { mode: 0o600 });
  const args = ['check', '--config', 'run/jwtgate.json', '--token', `@${tokenFile}`,
    '--path', '/api/tenants/globex/orders', '--jwks', jwksFile];
  console.log(`\n════ explaining the 403 offline\n$ target/debug/jwtgate ${args.join(' ').replaceAll(`${REPO_ROOT}/`, '')}`);
  const r = spawnSync(resolve(REPO_ROOT, 'target/debug/jwtgate'), args, { cwd: REPO_ROOT, encoding: 'utf8' });
  process.stdout.write(r.stdout + r.stderr);
  console.log(`(exit ${r.status}: 0 allow, 1 deny, 2 usage or config error)`);
}

// Browser sessions (issue #15): the gate logs a person in at the login IdP and keeps the
// tokens server-side; the browser only holds an HttpOnly session cookie.
if (endpoints.login_url) {
  console.log('\n════ log in with a browser (the gate as backend-for-frontend)');
  console.log(`   open ${endpoints.login_url}   (the worker: ${endpoints.hosts.worker}/app/)`);
  console.log(`   user ${endpoints.browser_user}, password ${endpoints.browser_password}`);
  console.log('   /app/logout signs out (RP-initiated logout at the IdP)');
}
