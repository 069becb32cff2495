#!/usr/bin/env node
// jwtgate e2e echo upstream (Express).
//
//   node tests/upstreams/node/server.mjs --port 9401
//
// Answers EVERY method and path with 200 and a JSON echo:
//   {"service":"node","method":...,"path":<raw path incl. query>,
//    "headers":{<lowercased name>: <string | [strings] if sent more than once>}}
// Headers come from req.rawHeaders so repeated headers are kept as arrays
// (req.headers would comma-join or drop them).

import { parseArgs } from 'node:util';

import express from 'express';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '9401' },
    host: { type: 'string', default: '127.0.0.1' },
  },
  strict: true,
});

const port = Number.parseInt(args.port, 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`upstream node: invalid --port ${args.port}`);
  process.exit(2);
}

export function echoHeaders(rawHeaders) {
  const out = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    const value = rawHeaders[i + 1];
    if (!Object.hasOwn(out, name)) out[name] = value;
    else if (Array.isArray(out[name])) out[name].push(value);
    else out[name] = [out[name], value];
  }
  return out;
}

const app = express();
app.disable('x-powered-by');
app.disable('etag');

// No route pattern: a bare middleware matches every method and every path.
app.use((req, res) => {
  const body = {
    service: 'node',
    method: req.method,
    path: req.originalUrl,
    headers: echoHeaders(req.rawHeaders),
  };
  res.status(200).set('cache-control', 'no-store').json(body);
});

const server = app.listen(port, args.host, (err) => {
  if (err) {
    console.error(`upstream node: ${err.message}`);
    process.exit(1);
  }
  console.log('upstream node listening');
});
// Node closes an idle keep-alive connection after 5 s; Envoy keeps pooled upstream
// connections for up to an hour and may send a request on one just as Node closes it
// (a 503 "upstream connect error … connection termination" on a busy machine). Outlive
// every idle period of a test run instead.
server.keepAliveTimeout = 15 * 60 * 1000;
server.headersTimeout = server.keepAliveTimeout + 1000;
server.on('error', (err) => {
  console.error(`upstream node: ${err.message}`);
  process.exit(1);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.close();
    process.exit(0);
  });
}
