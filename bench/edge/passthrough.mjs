// bench "edge-noauth" baseline: forwards every request to the origin without any check,
// the way the gate workers forward allowed requests.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(new URL(url.pathname + url.search, env.ORIGIN), {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
    });
  },
};
