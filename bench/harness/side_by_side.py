"""The side-by-side Envoy: every Envoy configuration the targets compare (no auth, the wasm
floor's three variants, native `jwt_authn` with and without `jwt_cache_config`, jwtgate
with its default cache and with a working-set-sized one) as listeners of ONE Envoy process
(`--concurrency 1`, pinned), measured in interleaved rounds.

Why: separate Envoy processes measured one after another swing too much on a shared
machine (native RS256 unique measured 13.9k and 25.8k req/s in two runs). In one process,
with every configuration measured once per round, a burst of other work hits a round of
all of them; a ratio is taken per round (numerator and denominator measured minutes
apart at most) and reported as the median with its spread over the rounds.

Scenario names: `side/<listener>/<alg>/<mode>`. Caches persist across rounds (the process
does), so from the second round on a cache the working set fits in starts warm: for both
sides of a cache comparison alike.
"""
import json
import statistics
from dataclasses import dataclass, field

from . import config
from .config import JWT_CACHE_SIZE, OUT, SIDE_ADMIN, SIDE_PORT0, SNAP_FILTER, SNAP_FLOOR, V8
from .errors import BenchError
from .measure import measure
from .procs import stop
from .scenarios import Server
from .servers import Running, gate_config, launch_envoy

WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
JWT_AUTHN_TYPE = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
ROUTER = {"name": "envoy.filters.http.router",
          "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}


@dataclass
class Listener:
    """One configuration of the side-by-side Envoy: its name and the HTTP filter in front of
    the router (`kind`: none, floor, jwt_authn, jwtgate; `arg`: the floor variant, the
    jwt_cache_size, or the gate-config extra)."""
    name: str
    kind: str
    arg: object = None
    auth: bool = True
    scenarios: list = field(default_factory=list)   # (alg, mode) measured each round
    quick: list = field(default_factory=list)       # the subset the quick smoke run measures

    @property
    def stat_prefix(self):
        return self.name.replace("-", "_")


BOTH_UNIQUE = [("RS256", "unique"), ("ES256", "unique")]
LISTENERS = [
    Listener("noauth", "none", auth=False, scenarios=[("RS256", "repeat")], quick=[("RS256", "repeat")]),
    Listener("floor-noop", "floor", "noop", auth=False, scenarios=[("RS256", "repeat")], quick=[("RS256", "repeat")]),
    Listener("floor-min", "floor", "min", auth=False, scenarios=[("RS256", "repeat")], quick=[("RS256", "repeat")]),
    Listener("floor-all", "floor", "all", auth=False, scenarios=[("RS256", "repeat")], quick=[("RS256", "repeat")]),
    Listener("native", "jwt_authn", 0, scenarios=BOTH_UNIQUE, quick=[("RS256", "unique")]),
    Listener("native-cache", "jwt_authn", JWT_CACHE_SIZE, scenarios=[("RS256", "repeat")] + BOTH_UNIQUE,
             quick=[("RS256", "unique")]),
    Listener("jwtgate", "jwtgate", {}, scenarios=[("RS256", "repeat")] + BOTH_UNIQUE,
             quick=[("RS256", "repeat"), ("RS256", "unique")]),
    # The working-set-sized cache: the same size as native-cache's jwt_cache_config.
    Listener("jwtgate-ws", "jwtgate", {"token_cache_size": JWT_CACHE_SIZE}, scenarios=BOTH_UNIQUE,
             quick=[("RS256", "unique")]),
]
# The VM ids of the jwtgate listeners: the filter's memory gauge is named after them.
VM_IDS = {"jwtgate": "jwtgate", "jwtgate-ws": "jwtgate-ws"}


def scenario_names(quick=None):
    quick = config.QUICK if quick is None else quick
    return [f"side/{li.name}/{alg}/{mode}" for li in LISTENERS for alg, mode in (li.quick if quick else li.scenarios)]


def _wasm(name, vm_id, path, configuration):
    return {"name": "envoy.filters.http.wasm", "typed_config": {"@type": WASM_TYPE, "config": {
        "name": name, "root_id": name if name == "jwtgate" else "floor",
        "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": configuration},
        "vm_config": {"vm_id": vm_id, "runtime": V8, "code": {"local": {"filename": str(path)}}}}}}


def _jwt_authn(meta, jwks, cache_size):
    provider = {
        "issuer": meta["issuer"], "audiences": [meta["audience"]], "require_expiration": True,
        "clock_skew_seconds": 60, "from_headers": [{"name": "Authorization", "value_prefix": "Bearer "}],
        "local_jwks": {"inline_string": json.dumps(jwks)},
        "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"},
                             {"header_name": "x-jwt-iss", "claim_name": "iss"}],
    }
    if cache_size:
        provider["jwt_cache_config"] = {"jwt_cache_size": cache_size}
    return {"name": "envoy.filters.http.jwt_authn", "typed_config": {
        "@type": JWT_AUTHN_TYPE, "providers": {"bench": provider},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "bench"}}]}}


def _filters(li, jwks, meta):
    if li.kind == "floor":
        return [_wasm(f"floor-{li.arg}", f"floor-{li.arg}", SNAP_FLOOR, li.arg)]
    if li.kind == "jwt_authn":
        return [_jwt_authn(meta, jwks, li.arg)]
    if li.kind == "jwtgate":
        return [_wasm("jwtgate", VM_IDS[li.name], SNAP_FILTER, json.dumps(gate_config(jwks, meta, li.arg)))]
    return []


def render(jwks, meta):
    """The side-by-side Envoy config (JSON, which Envoy reads as YAML)."""
    listeners = []
    for i, li in enumerate(LISTENERS):
        hcm = {"@type": HCM_TYPE, "stat_prefix": li.stat_prefix, "normalize_path": True, "merge_slashes": True,
               "path_with_escaped_slashes_action": "REJECT_REQUEST",
               "route_config": {"name": "local", "virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
                   {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}}}]}]},
               "http_filters": _filters(li, jwks, meta) + [ROUTER]}
        listeners.append({"name": li.name, "address": {"socket_address": {"address": "127.0.0.1",
                                                                           "port_value": SIDE_PORT0 + i}},
                          "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                                          "typed_config": hcm}]}]})
    doc = {"admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": SIDE_ADMIN}}},
           "static_resources": {"listeners": listeners}}
    out = OUT / "config" / "side-by-side.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1))
    return out


def summarize(rounds):
    """Median and spread of a scenario's per-round req/s (and its other figures)."""
    ok = [r for r in rounds if not r.get("failed")]
    rps = [r["rps"] for r in ok]
    last = rounds[-1]
    return {"rps": round(statistics.median(rps), 1) if rps else 0, "rps_min": min(rps, default=0),
            "rps_max": max(rps, default=0), "rounds_rps": [r["rps"] for r in rounds],
            "p50_ms": statistics.median([r["p50_ms"] for r in ok]) if ok else 0,
            "p99_ms": statistics.median([r["p99_ms"] for r in ok]) if ok else 0,
            "other_cpu_cores": max(r["other_cpu_cores"] for r in rounds),
            "server_cpu_cores": statistics.median([r["server_cpu_cores"] for r in rounds]),
            "requests": sum(r["requests"] for r in rounds), "non_2xx_3xx": sum(r["non_2xx_3xx"] for r in rounds),
            "rss_kb_before": rounds[0]["rss_kb_before"], "rss_kb_after": last["rss_kb_after"],
            "command": last["command"], **({"failed": "; ".join(r["failed"] for r in rounds if r.get("failed"))}
                                          if len(ok) < len(rounds) else {})}


def run(jwks, meta, bad, wanted):
    """Starts the side-by-side Envoy, measures each `wanted` scenario once per round (rounds
    interleave the configurations), stops it. Returns (results by scenario, each round's
    results, failures, the filter's memory gauges by VM id after the last round)."""
    server = Server("side-by-side", "envoy")
    run0 = launch_envoy(server, render(jwks, meta), (SIDE_PORT0, SIDE_ADMIN))
    views = {li.name: Running(Server(f"side/{li.name}", "envoy", auth=li.auth), run0.proc,
                              f"http://127.0.0.1:{SIDE_PORT0 + i}/", "envoy", f"http://127.0.0.1:{SIDE_ADMIN}",
                              li.stat_prefix)
             for i, li in enumerate(LISTENERS)}
    per_round, failures = {}, []
    try:
        for rnd in range(config.SIDE_ROUNDS):
            for li in LISTENERS:
                for alg, mode in (li.quick if config.QUICK else li.scenarios):
                    name = f"side/{li.name}/{alg}/{mode}"
                    if name not in wanted:
                        continue
                    try:
                        r = measure(views[li.name], name, alg, mode, bad[alg], label=f"{name}-r{rnd + 1}")
                    except BenchError as e:
                        r = {"failed": str(e), "rps": 0, "p50_ms": 0, "p99_ms": 0, "other_cpu_cores": 0,
                             "server_cpu_cores": 0, "requests": 0, "non_2xx_3xx": 0, "rss_kb_before": None,
                             "rss_kb_after": None, "command": ""}
                    per_round.setdefault(name, []).append(r)
                    print(f"bench: round {rnd + 1}/{config.SIDE_ROUNDS} {name:36s} {r['rps']:>10,.0f} req/s"
                          f"{'  FAILED: ' + r['failed'] if r.get('failed') else ''}", flush=True)
        stats = run0.stats()
    finally:
        stop(run0.proc)
    results = {name: summarize(rounds) for name, rounds in per_round.items()}
    failures += [f"`{name}`: {r['failed']}" for name, r in results.items() if r.get("failed")]
    memory = {vm: stats.get(f"wasmcustom.jwtgate.wasm_memory_bytes.{vm}") for vm in VM_IDS.values()}
    return results, per_round, failures, memory
