"""Introspection scenarios (RFC 7662): the local introspection IdP (tests/idp/server.mjs
--profile opaque) and opaque tokens minted from it. `envoy-jwtgate-introspect` answers
a repeated token from the gate's introspection cache; `envoy-jwtgate-introspect-nocache`
(`cache_size` 1, distinct tokens) makes one IdP call per request, so it measures the
uncached path against that IdP. The `-2vm` pair runs Envoy with two worker VMs and
distinct tokens, answers shared by the VMs (`shared_cache_size`) or kept per VM: after
the first pass a token comes back on either VM, so per VM about half the requests of the
second pass call the IdP again, shared none."""
import base64
import json
import urllib.request

from . import config
from .config import TOKENS_DIR
from .errors import BenchError
from .procs import spawn, wait_ready

IDP_PORT = 9620
ISSUER = f"http://127.0.0.1:{IDP_PORT}"
AUDIENCE = "https://opaque.example"
ALG = "opaque"   # the token "alg" these scenarios are listed under


def start_idp():
    proc = spawn("idp-opaque", ["node", "tests/idp/server.mjs", "--port", str(IDP_PORT), "--profile", "opaque", "--access-ttl", "3600",
                                "--keys-out", str(TOKENS_DIR / "idp-opaque-keys.json")])
    wait_ready("idp-opaque", proc, ISSUER + "/jwks")
    return proc


def _mint():
    basic = base64.b64encode(b"jwtgate-opaque:opaque-secret").decode()
    req = urllib.request.Request(ISSUER + "/token", method="POST",
                                 data=b"grant_type=client_credentials&scope=read+write",
                                 headers={"authorization": f"Basic {basic}",
                                          "content-type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["access_token"]


# oidc-provider's in-memory store (the test IdP's) is an LRU of 1000 entries in all: a
# token minted more than ~1000 tokens ago is forgotten and introspects as inactive.
MAX_OPAQUE_TOKENS = 800


def make_tokens():
    """opaque-unique.txt (TOKEN_COUNT tokens, at most MAX_OPAQUE_TOKENS) and
    opaque-repeat.txt (one token, minted last so it is the newest in the IdP's store)."""
    count = min(config.TOKEN_COUNT, MAX_OPAQUE_TOKENS)
    try:
        (TOKENS_DIR / f"{ALG}-unique.txt").write_text("".join(_mint() + "\n" for _ in range(count)))
        (TOKENS_DIR / f"{ALG}-repeat.txt").write_text(_mint() + "\n")
    except OSError as e:
        raise BenchError(f"could not mint opaque tokens at {ISSUER}: {e}") from e


def provider(cache_size, shared=None):
    """The gate-config provider that introspects through the `bench_idp` cluster;
    `shared`: its `shared_cache_size` (None: the default)."""
    extra = {} if shared is None else {"shared_cache_size": shared}
    return {
        "issuer": ISSUER, "audiences": [AUDIENCE], "validation": "introspection",
        "introspection": {"cluster": "bench_idp", "path": "/token/introspection", "authority": f"127.0.0.1:{IDP_PORT}",
                          "client_id": "jwtgate-introspector", "client_secret": "introspector-secret",
                          "max_ttl_s": 300, "cache_size": cache_size, **extra},
    }


CLUSTERS = [{"name": "bench_idp", "type": "STATIC", "connect_timeout": "1s",
             "load_assignment": {"cluster_name": "bench_idp", "endpoints": [{"lb_endpoints": [
                 {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": IDP_PORT}}}}]}]}}]
