// `make demo`: a denied request, an allowed one with what the upstream saw, and a
// spoofed identity header being replaced — through every running gate host.
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
