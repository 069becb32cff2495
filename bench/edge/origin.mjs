// bench origin: answers every request 200 "ok". The edge workers reach it through their
// globalOutbound (an in-process service binding), so every worker pays for one real
// subrequest and none pays for a network hop or a second process.
export default {
  fetch() {
    return new Response('ok\n', { status: 200, headers: { 'content-type': 'text/plain' } });
  },
};
