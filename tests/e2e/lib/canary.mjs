// The canary listener that jku/x5u tokens point at. Re-exported by ../tokens.mjs.

import { createServer } from 'node:http';

import { ATTACKER_CERT_PEM, once } from './keys.mjs';

/**
 * A loopback HTTP listener (OS-chosen port, outside 9400-9499) that records every request.
 * jku/x5u tokens point here; a gate that dereferences them shows up in `hits`. It serves
 * what a trusting gate would want (/jwks: the attacker JWKS, /x5u: the attacker cert), so
 * the sanity proofs can show those URLs really would make the tokens verify.
 */
export function canary(ctx) {
  return once(ctx, 'canary', async () => {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const state = { hits: [], url: '', jwks: { keys: [] } };
      const server = createServer((req, res) => {
        state.hits.push(`${req.method} ${req.url}`);
        if (req.url.startsWith('/jwks')) {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(state.jwks));
        } else if (req.url.startsWith('/x5u')) {
          res.setHeader('content-type', 'application/pem-certificate-chain');
          res.end(ATTACKER_CERT_PEM);
        } else {
          res.statusCode = 404;
          res.end();
        }
      });
      await new Promise((ok, fail) => { server.once('error', fail); server.listen(0, '127.0.0.1', ok); });
      server.unref();
      const { port } = server.address();
      if (port >= 9400 && port <= 9499) { server.close(); continue; } // the stacks' range
      state.url = `http://127.0.0.1:${port}`;
      state.server = server;
      return state;
    }
    throw new Error('canary: no free port outside 9400-9499');
  });
}
