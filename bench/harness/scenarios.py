"""What is measured: the servers, their scenarios (run and report order) and the
ratios with their target. Adding a gate-config variant is a `Server(...)` entry
plus an `add(...)` line in `_scenarios`."""
from dataclasses import dataclass, field

from .config import JWT_CACHE_SIZE, V8, WASMTIME


@dataclass
class Server:
    """One server configuration; started once, serves all its scenarios, then stopped."""
    name: str
    kind: str                      # "envoy" or "edge"
    template: str = ""             # bench/envoy/<template>.yaml.tmpl
    runtime: str = V8              # jwtgate only
    gate_extra: dict = field(default_factory=dict)   # merged into the top of the gate config
    jwt_cache: int = 0             # jwt_authn only: jwt_cache_config.jwt_cache_size (0: none)
    optional: bool = False         # skip (not fail) if Envoy refuses the config
    auth: bool = True              # expects 401 without a token
    introspect_cache: int = 0      # > 0: an introspection provider (harness/introspect.py) with this cache_size
    introspect_shared: int = None  # its shared_cache_size (None: the default)
    concurrency: int = 1           # Envoy worker threads (VMs)


SERVERS = {s.name: s for s in [
    Server("envoy-noauth", "envoy", "noauth", auth=False),
    Server("envoy-native", "envoy", "jwt_authn"),
    Server("envoy-native-cache", "envoy", "jwt_authn", jwt_cache=JWT_CACHE_SIZE),
    Server("envoy-jwtgate", "envoy", "jwtgate", V8),
    Server("envoy-jwtgate-wasmtime", "envoy", "jwtgate", WASMTIME),
    # Gate-config variants: `gate_extra` is merged into the top level of the gate config.
    # Skipped (not failed) when the core does not know a field (Envoy refuses the config).
    # `envoy-jwtgate` runs the defaults (verifier "auto", token_cache_size 4096).
    Server("envoy-jwtgate-software", "envoy", "jwtgate", V8, {"verifier": "software"}, optional=True),
    Server("envoy-jwtgate-native", "envoy", "jwtgate", V8, {"verifier": "auto"}, optional=True),
    Server("envoy-jwtgate-nocache", "envoy", "jwtgate", V8, {"token_cache_size": 0}, optional=True),
    # Opaque tokens by RFC 7662 introspection against the local IdP: cached answers, and
    # one call per request (cache_size 1 with distinct tokens).
    Server("envoy-jwtgate-introspect", "envoy", "jwtgate", V8, introspect_cache=4096),
    Server("envoy-jwtgate-introspect-nocache", "envoy", "jwtgate", V8, introspect_cache=1),
    # Two worker VMs, distinct tokens, caches large enough for all of them: answers shared
    # by the VMs (shared_cache_size) against answers per VM.
    Server("envoy-jwtgate-introspect-2vm", "envoy", "jwtgate", V8, introspect_cache=16384,
           introspect_shared=16384, concurrency=2, optional=True),
    Server("envoy-jwtgate-introspect-2vm-pervm", "envoy", "jwtgate", V8, introspect_cache=16384,
           introspect_shared=0, concurrency=2, optional=True),
    # The edge servers are sockets of one workerd process.
    Server("edge-origin", "edge", auth=False),
    Server("edge-noauth", "edge", auth=False),
    Server("edge-jwtgate", "edge"),
    Server("edge-jose", "edge"),
]}


def _scenarios():
    """Run (and report) order: server by server, each server's scenarios in a row."""
    out = []

    def add(server, algs, modes=("repeat", "unique")):
        out.extend(f"{server}/{alg}/{m}" for alg in algs for m in modes)

    both = ("RS256", "ES256")
    add("envoy-noauth", both, ("repeat",))
    add("envoy-native", both)
    add("envoy-native-cache", both)
    add("envoy-jwtgate", both + ("EdDSA",))
    add("envoy-jwtgate-software", both)
    # One line per further gate-config variant, e.g.:
    # add("envoy-jwtgate-native", both)    ({"verifier": "auto"}: the default today)
    # add("envoy-jwtgate-nocache", both)   ({"token_cache_size": 0})
    add("envoy-jwtgate-wasmtime", ("RS256",))
    add("envoy-jwtgate-introspect", ("opaque",), ("repeat",))
    add("envoy-jwtgate-introspect-nocache", ("opaque",), ("unique",))
    add("envoy-jwtgate-introspect-2vm", ("opaque",), ("unique",))
    add("envoy-jwtgate-introspect-2vm-pervm", ("opaque",), ("unique",))
    add("edge-origin", ("RS256",), ("repeat",))
    add("edge-noauth", ("RS256",), ("repeat",))
    add("edge-jwtgate", both)
    add("edge-jose", both)
    return out


SCENARIOS = _scenarios()

# (name, numerator, denominator, note). Target: >= 1.0 for all. A ratio whose scenarios did
# not run (skipped variant) is left out.
RATIOS = []
for _gate in ("envoy-jwtgate", "envoy-jwtgate-native", "envoy-jwtgate-software"):
    _suffix = _gate.removeprefix("envoy-jwtgate")
    for _alg in ("RS256", "ES256"):
        RATIOS.append((f"jwtgate{_suffix}_repeat_vs_native_cache_{_alg}", f"{_gate}/{_alg}/repeat",
                       f"envoy-native-cache/{_alg}/repeat", "same token repeated: jwtgate vs jwt_authn with jwt_cache_config"))
        RATIOS.append((f"jwtgate{_suffix}_unique_vs_native_{_alg}", f"{_gate}/{_alg}/unique",
                       f"envoy-native/{_alg}/unique", "distinct tokens: jwtgate vs jwt_authn (no cache)"))
        RATIOS.append((f"jwtgate{_suffix}_unique_vs_native_cache_{_alg}", f"{_gate}/{_alg}/unique",
                       f"envoy-native-cache/{_alg}/unique", "distinct tokens: jwtgate vs jwt_authn with jwt_cache_config (informational)"))
for _alg in ("RS256", "ES256"):
    RATIOS.append((f"edge_unique_jwtgate_vs_jose_{_alg}", f"edge-jwtgate/{_alg}/unique",
                   f"edge-jose/{_alg}/unique", "edge, distinct tokens: jwtgate worker vs jose worker"))
    RATIOS.append((f"edge_repeat_jwtgate_vs_jose_{_alg}", f"edge-jwtgate/{_alg}/repeat",
                   f"edge-jose/{_alg}/repeat", "edge, same token repeated: jwtgate worker vs jose worker (informational)"))
RATIOS.append(("introspect_cached_vs_jwt_repeat", "envoy-jwtgate-introspect/opaque/repeat", "envoy-jwtgate/RS256/repeat",
               "opaque token answered from the introspection cache vs a cached RS256 JWT (informational)"))
RATIOS.append(("introspect_uncached_vs_jwt_unique", "envoy-jwtgate-introspect-nocache/opaque/unique",
               "envoy-jwtgate/RS256/unique", "one introspection call to the local IdP per request vs distinct RS256 JWTs "
               "(informational: bounded by the IdP)"))
RATIOS.append(("introspect_2vm_shared_vs_per_vm_unique", "envoy-jwtgate-introspect-2vm/opaque/unique",
               "envoy-jwtgate-introspect-2vm-pervm/opaque/unique", "two Envoy worker VMs, distinct opaque tokens: "
               "answers shared by the VMs vs kept per VM (informational)"))
TARGET = 1.0
