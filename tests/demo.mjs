// `make demo`: a denied request, an allowed one with what the upstream saw, and a
// spoofed identity header being replaced — through every running gate host.
import { fetchIdpToken, loadEndpoints } from './e2e/tokens.mjs';

const endpoints = loadEndpoints();
const { access_token: token } = await fetchIdpToken(endpoints);
const short = (t) => `${t.slice(0, 12)}…${t.slice(-6)}`;

async function show(title, url, headers = {}) {
  const res = await fetch(url, { headers });
  const body = await res.text();
  console.log(`\n── ${title}\n   GET ${url}  →  ${res.status} ${res.statusText}`);
  const www = res.headers.get('www-authenticate');
  if (www) console.log(`   WWW-Authenticate: ${www}`);
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
}
