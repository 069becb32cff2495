// Claim sets for crafted tokens: access-token claims mirroring a real IdP token,
// and OIDC ID-token claims. Re-exported (now, craftedClaims, idTokenClaims) by ../tokens.mjs.

import { randomBytes, randomUUID } from 'node:crypto';

export const now = () => Math.floor(Date.now() / 1000);
export const rand = () => randomBytes(6).toString('hex');

/** Claims mirroring a real IdP token; `over` overrides, undefined deletes. */
export function craftedClaims(ctx, over = {}) {
  const t = now();
  const claims = {
    iss: ctx.endpoints.idp_issuer,
    sub: 'crafted-client',
    aud: ctx.endpoints.audience,
    iat: t,
    exp: t + 300,
    jti: randomUUID(),
    client_id: ctx.endpoints.client_id,
    scope: 'read write',
    ...over,
  };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return claims;
}

/** crafted claims as JSON text minus the closing brace, so raw members can be appended. */
export const claimsOpen = (ctx, over) => JSON.stringify(craftedClaims(ctx, over)).slice(0, -1);

/** An OIDC ID token as the IdP would sign one: typ JWT, aud = the client id, nonce, auth_time. */
export function idTokenClaims(ctx, over = {}) {
  const t = now();
  const claims = {
    iss: ctx.endpoints.idp_issuer, sub: 'user-1', aud: ctx.endpoints.client_id, azp: ctx.endpoints.client_id,
    iat: t, exp: t + 300, auth_time: t - 5, nonce: `n-${rand()}`, ...over,
  };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return claims;
}
