"""Where the microseconds go, measured natively (no Envoy): criterion figures of
`Gate::decide` (`core/benches/decide.rs`: cached hit, unique RS256 through a stub
verifier, policy-heavy rules) and the filter's proxy-wasm host calls per request kind
(`filter/src/census_tests.rs`, counted by the mock host). The targets table uses both to
explain a gap: what the core spends, and how many times a request crosses into the host."""
import json
import os
import shutil
import subprocess

from .config import OUT, QUICK, ROOT, SERVER_CPU
from .errors import BenchError

# criterion benchmark id -> what it measures (report order).
DECIDE_BENCHES = {
    "cached_hit_rs256": "cached hit (RS256 token in the verified-token cache, one rule)",
    "unique_rs256_stub_verifier": "unique RS256 token, `Verify` job answered by a stub verifier (no RSA arithmetic)",
    "policy_heavy_cached": "cached hit behind 30 non-matching rules, 5-condition `require` tree",
}
HOSTCALL_KINDS = ("cached_allow", "unique_allow", "deny_bad_signature", "deny_empty_credential")


def _cargo(args, what, env=None, pin=False):
    cmd = (["taskset", "-c", SERVER_CPU] if pin and shutil.which("taskset") else []) + ["cargo"] + args
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if run.returncode != 0:
        raise BenchError(f"{what} failed:\n{run.stderr[-2000:]}")
    return run.stdout


def decide_costs():
    """criterion's median ns per decision (with its 95% interval) for each benchmark."""
    home = OUT / "criterion"
    if home.exists():
        shutil.rmtree(home)  # a stale estimate must never stand in for a bench that did not run
    timing = (["--warm-up-time", "0.2", "--measurement-time", "0.5", "--sample-size", "10"] if QUICK
              else ["--warm-up-time", "2", "--measurement-time", "5"])
    bench = ["bench", "-p", "jwtgate-core", "--bench", "decide"]
    _cargo(bench + ["--no-run"], "building the criterion benchmark")
    _cargo(bench + ["--", "--noplot", *timing], "the criterion benchmark", {"CRITERION_HOME": str(home)}, pin=True)
    out = {}
    for bench_id, about in DECIDE_BENCHES.items():
        est = home / bench_id / "new" / "estimates.json"
        if not est.exists():
            raise BenchError(f"criterion wrote no {est.relative_to(ROOT)}")
        median = json.loads(est.read_text())["median"]
        ci = median["confidence_interval"]
        out[bench_id] = {"ns": round(median["point_estimate"], 1), "ns_low": round(ci["lower_bound"], 1),
                         "ns_high": round(ci["upper_bound"], 1), "about": about}
    return out


def host_calls():
    """The filter's `proxy_*` calls per request kind, from the census test's JSON line."""
    stdout = _cargo(["test", "-p", "jwtgate-filter", "--lib", "census_of_host_calls", "--", "--nocapture"],
                    "the host-call census test")
    for line in stdout.splitlines():
        if line.startswith("BENCH_HOSTCALLS "):
            doc = json.loads(line.removeprefix("BENCH_HOSTCALLS "))
            return {kind: {"total": sum(doc[kind].values()), "calls": doc[kind]} for kind in HOSTCALL_KINDS}
    raise BenchError(f"the host-call census printed no BENCH_HOSTCALLS line:\n{stdout[-2000:]}")
