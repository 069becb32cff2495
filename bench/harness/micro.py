"""Native micro-benchmarks of the core, run by the same `make bench` as the HTTP
scenarios: the cached-path cost of a 5-condition `require` tree against a
scopes-only rule (`core/benches/policy.rs`, also `make bench-policy`), and the API-key
path against the cached JWT path (`core/benches/apikey.rs`, `make bench-apikey`), and
the DPoP path against the Bearer path (`core/benches/dpop.rs`), and the revocation
check with a 100,000-entry denylist against none (`core/benches/revocation.rs`).

Each benchmark prints one `BENCH_<NAME> {json}` line; this module builds it (cargo's
bench profile), runs it pinned like a server, and returns that JSON. The quick smoke
run skips the policy benchmark (`make bench-policy` exercises it on its own) and runs
the API-key one with 3 short rounds."""
import json
import os
import shutil
import subprocess

from .config import QUICK, ROOT, SERVER_CPU
from .errors import BenchError, Skip


def _run_micro(bench, marker, rounds, iters):
    """Builds and runs one core benchmark (pinned like a server); its `marker {json}` line."""
    cargo = ["cargo", "bench", "-p", "jwtgate-core", "--bench", bench]
    build = subprocess.run(cargo + ["--no-run"], cwd=ROOT, capture_output=True, text=True)
    if build.returncode != 0:
        raise BenchError(f"building the {bench} micro-benchmark failed:\n{build.stderr[-2000:]}")
    pin = ["taskset", "-c", SERVER_CPU] if shutil.which("taskset") else []
    env = {**os.environ, "BENCH_ROUNDS": rounds, "BENCH_ITERS": iters}
    run = subprocess.run(pin + cargo, cwd=ROOT, capture_output=True, text=True, env=env)
    if run.returncode != 0:
        raise BenchError(f"the {bench} micro-benchmark failed:\n{run.stderr[-2000:]}")
    for line in run.stdout.splitlines():
        if line.startswith(marker + " "):
            return json.loads(line.removeprefix(marker + " "))
    raise BenchError(f"the {bench} micro-benchmark printed no {marker} line:\n{run.stdout[-2000:]}")


def apikey_cost():
    """The API-key path as a ratio to the cached JWT path (`core/benches/apikey.rs`).
    Unlike the policy benchmark it also runs in the quick smoke run, with 3 short
    rounds: the number is then a smoke value, not a measurement."""
    rounds = "3" if QUICK else os.environ.get("BENCH_APIKEY_ROUNDS", "15")
    iters = "2000" if QUICK else "20000"
    return _run_micro("apikey", "BENCH_APIKEY", rounds, iters)


def policy_cost():
    if QUICK:
        raise Skip("quick run (make bench-policy runs it on its own)")
    return _run_micro("policy", "BENCH_POLICY", os.environ.get("BENCH_POLICY_ROUNDS", "15"), "20000")


def revocation_cost():
    """The revocation check on the cached path: a 100,000-entry denylist against no
    revocation block (`core/benches/revocation.rs`, `make bench-revocation`). The quick
    run measures it with 3 short rounds (a smoke value)."""
    rounds, iters = ("3", "2000") if QUICK else (os.environ.get("BENCH_REVOCATION_ROUNDS", "9"), "20000")
    return _run_micro("revocation", "BENCH_REVOCATION", rounds, iters)


def dpop_cost():
    """The DPoP path (cached token + a fresh ES256 proof per request) as a ratio to the
    Bearer path (`core/benches/dpop.rs`). The quick run measures it too, with fewer
    decisions: DPoP through Envoy/workerd would need a fresh proof per request from
    wrk, so the native benchmark is where the ratio is measured."""
    rounds, iters = ("3", "300") if QUICK else ("9", "2000")
    return _run_micro("dpop", "BENCH_DPOP", rounds, iters)

