"""Native micro-benchmarks of the core, run by the same `make bench` as the HTTP
scenarios: today the cached-path cost of a 5-condition `require` tree against a
scopes-only rule (`core/benches/policy.rs`, also `make bench-policy`).

The benchmark prints one `BENCH_POLICY {json}` line; this module builds it (cargo's
bench profile), runs it pinned like a server, and returns that JSON. The quick smoke
run skips it: compiling the core with LTO would double `make test`'s bench step, and
`make bench-policy` exercises it on its own."""
import json
import os
import shutil
import subprocess

from .config import QUICK, ROOT, SERVER_CPU
from .errors import BenchError, Skip


def policy_cost():
    if QUICK:
        raise Skip("quick run (make bench-policy runs it on its own)")
    return _native("policy", "BENCH_POLICY", {"BENCH_ROUNDS": os.environ.get("BENCH_POLICY_ROUNDS", "15")})


def dpop_cost():
    """The DPoP path (cached token + a fresh ES256 proof per request) as a ratio to the
    Bearer path (`core/benches/dpop.rs`). The quick run measures it too, with fewer
    decisions: DPoP through Envoy/workerd would need a fresh proof per request from
    wrk, so the native benchmark is where the ratio is measured."""
    env = {"BENCH_ROUNDS": "3", "BENCH_ITERS": "300"} if QUICK else {"BENCH_ROUNDS": "9", "BENCH_ITERS": "2000"}
    return _native("dpop", "BENCH_DPOP", env)


def _native(bench, marker, env):
    cargo = ["cargo", "bench", "-p", "jwtgate-core", "--bench", bench]
    build = subprocess.run(cargo + ["--no-run"], cwd=ROOT, capture_output=True, text=True)
    if build.returncode != 0:
        raise BenchError(f"building the {bench} micro-benchmark failed:\n{build.stderr[-2000:]}")
    pin = ["taskset", "-c", SERVER_CPU] if shutil.which("taskset") else []
    run = subprocess.run(pin + cargo, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **env})
    if run.returncode != 0:
        raise BenchError(f"the {bench} micro-benchmark failed:\n{run.stderr[-2000:]}")
    for line in run.stdout.splitlines():
        if line.startswith(marker + " "):
            return json.loads(line.removeprefix(marker + " "))
    raise BenchError(f"the {bench} micro-benchmark printed no {marker} line:\n{run.stdout[-2000:]}")
