"""Settings of one bench run: paths, BENCH_* overrides, ports, binaries.

DURATION, WARMUP, TOKEN_COUNT, CONNECTIONS, REPORT and PIN change during a run
(`--report-only` takes them from results.json; a failed run reports elsewhere; PIN
is decided at start): read those as `config.NAME`, never copy them with `from`.
"""
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH = ROOT / "bench"
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
OUT = ROOT / "target" / "bench" / ("quick" if QUICK else "")
LOGS = OUT / "logs"
TOKENS_DIR = OUT / "tokens"
RESULTS = OUT / "results.json"
REPORT = (OUT / "BENCHMARKS.md") if QUICK else (ROOT / "BENCHMARKS.md")

DURATION = int(os.environ.get("BENCH_DURATION", 2 if QUICK else 10))
WARMUP = int(os.environ.get("BENCH_WARMUP", 1 if QUICK else 2))
TOKEN_COUNT = int(os.environ.get("BENCH_TOKENS", 500 if QUICK else 10000))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", 8))
ONLY = re.compile(os.environ["BENCH_ONLY"]) if os.environ.get("BENCH_ONLY") else None
SERVER_CPU = os.environ.get("BENCH_SERVER_CPU", "0")
# Noise control (full runs): before starting, wait up to QUIET_WAIT s for the machine to
# use < NOISE_LIMIT cores; re-measure a scenario (up to RETRIES times) when other
# processes used more than NOISE_LIMIT cores during it.
NOISE_LIMIT = float(os.environ.get("BENCH_NOISE_LIMIT", 0.25))
QUIET_WAIT = float(os.environ.get("BENCH_QUIET_WAIT", 0 if QUICK else 300))
RETRIES = int(os.environ.get("BENCH_RETRIES", 0 if QUICK else 2))
RETRY_WAIT = 60          # longest wait for quiet before one re-measurement
NOISE_BUDGET = float(os.environ.get("BENCH_NOISE_BUDGET", 900))  # total s a run may spend on waits + retries
CLIENT_CPU = os.environ.get("BENCH_CLIENT_CPU", "1")

# Ports 9600-9699 belong to the bench (the e2e stacks use 9400-9499).
ENVOY_PORT, ENVOY_ADMIN = 9600, 9601
EDGE_PORTS = {"jwtgate": 9610, "jose": 9611, "noauth": 9612, "origin": 9613}
# The side-by-side Envoy (harness/side_by_side.py): one listener per configuration from here
# on, and its own admin port.
SIDE_ADMIN, SIDE_PORT0 = 9629, 9630
# Interleaved rounds of the side-by-side Envoy (full run; the quick run does one).
SIDE_ROUNDS = int(os.environ.get("BENCH_SIDE_ROUNDS", 1 if QUICK else 3))

ENVOY_BIN = ROOT / ".venv" / "bin" / "envoy"
WORKERD_BIN = ROOT / "wasm-worker" / "node_modules" / ".bin" / "workerd"
ESBUILD_BIN = ROOT / "wasm-worker" / "node_modules" / ".bin" / "esbuild"
FILTER_WASM = ROOT / "target" / "wasm32-wasip1" / "release" / "jwtgate_filter.wasm"
# The wasm floor (bench/floor/): a proxy-wasm filter doing only a gate's host work.
FLOOR_WASM = ROOT / "target" / "wasm32-wasip1" / "release" / "jwtgate_bench_floor.wasm"
WORKER_WASM = ROOT / "wasm-worker" / "pkg" / "jwtgate_worker_bg.wasm"
JOSE_DIR = ROOT / "tests" / "node_modules" / "jose"
JOSE_BUNDLE = OUT / "jose-worker.mjs"
# The run measures copies taken at its start: other work may rebuild the originals meanwhile.
SNAP = OUT / "snapshot"
SNAP_FILTER = SNAP / "jwtgate_filter.wasm"
SNAP_FLOOR = SNAP / "jwtgate_bench_floor.wasm"
SNAP_WORKER_DIR = SNAP / "wasm-worker"

V8 = "envoy.wasm.runtime.v8"
WASMTIME = "envoy.wasm.runtime.wasmtime"
JWT_CACHE_SIZE = 10000

# Whether servers and wrk are pinned to CPUs with taskset (set by run.main/report_only).
PIN = False
