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
    cargo = ["cargo", "bench", "-p", "jwtgate-core", "--bench", "policy"]
    build = subprocess.run(cargo + ["--no-run"], cwd=ROOT, capture_output=True, text=True)
    if build.returncode != 0:
        raise BenchError(f"building the policy micro-benchmark failed:\n{build.stderr[-2000:]}")
    pin = ["taskset", "-c", SERVER_CPU] if shutil.which("taskset") else []
    env = {**os.environ, "BENCH_ROUNDS": os.environ.get("BENCH_POLICY_ROUNDS", "15")}
    run = subprocess.run(pin + cargo, cwd=ROOT, capture_output=True, text=True, env=env)
    if run.returncode != 0:
        raise BenchError(f"the policy micro-benchmark failed:\n{run.stderr[-2000:]}")
    for line in run.stdout.splitlines():
        if line.startswith("BENCH_POLICY "):
            return json.loads(line.removeprefix("BENCH_POLICY "))
    raise BenchError(f"the policy micro-benchmark printed no BENCH_POLICY line:\n{run.stdout[-2000:]}")
