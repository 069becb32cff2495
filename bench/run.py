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
import json
import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path

from harness import config
from harness.config import (CLIENT_CPU, EDGE_PORTS, JOSE_BUNDLE, JWT_CACHE_SIZE, LOGS, NOISE_BUDGET, NOISE_LIMIT,
                            ONLY, OUT, QUICK, QUIET_WAIT, RESULTS, RETRIES, RETRY_WAIT, ROOT, SERVER_CPU,
                            SNAP_FILTER, SNAP_WORKER_DIR, WORKER_WASM)
from harness import introspect, side_by_side
from harness.errors import BenchError, Skip
from harness.machine import machine_info, size_info, wait_quiet
from harness.measure import measure
from harness.micro import apikey_cost, dpop_cost, policy_cost, revocation_cost
from harness.profile import decide_costs, host_calls
from harness.procs import rss_kb, stop, stop_all
from harness.report import command_line, compute_ratios, write_report
from harness.scenarios import SCENARIOS, SERVERS, TARGET
from harness.targets import target_rows
from harness.servers import Running, check_prereqs, snapshot, start_envoy, start_workerd
from harness.tokens import make_tokens, read_tokens, tamper


def report_only():
    """Re-renders the report from results.json (after changing the report code)."""
    d = json.loads(RESULTS.read_text())
    m = d["meta"]
    config.PIN = m.get("server_cpu") is not None
    os.environ.setdefault("BENCH_CMD", m["command"])
    for k, v in (("DURATION", "duration_s"), ("WARMUP", "warmup_s"), ("TOKEN_COUNT", "tokens_per_alg"),
                 ("CONNECTIONS", "connections"), ("SIDE_ROUNDS", "side_rounds")):
        if v in m:
            setattr(config, k, m[v])
    info = {k: m[k] for k in ("cpu_model", "nproc", "kernel", "mem_total", "envoy_version", "workerd_version",
                              "wrk_version", "node_version", "git_commit", "loadavg_start", "loadavg_end")}
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(RESULTS.stat().st_mtime))
    side = d.get("side") or {"results": {}, "memory_gauges": {}}
    targets = target_rows({**d["scenarios"], **side["results"]}, d["sizes"], side["memory_gauges"], d.get("profile", {}))
    write_report(d["scenarios"], d["skipped"], d["ratios"], info, d["sizes"], d["memory"], m["total_s"],
                 d["failures"], d["verifiers"], when, micro=d.get("micro", {}), side=side,
                 profile=d.get("profile"), targets=targets)
    print(f"bench: re-rendered {config.REPORT.relative_to(ROOT)} from {RESULTS.relative_to(ROOT)}")
    return 0


def main():
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
    config.PIN = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    if QUIET_WAIT:
        wait_quiet(NOISE_LIMIT, QUIET_WAIT, "before starting")
    info = machine_info()
    print(f"bench: {'quick' if QUICK else 'full'} run, {config.DURATION}s per scenario (+{config.WARMUP}s warm-up), "
          f"{config.TOKEN_COUNT} tokens per alg; {info['envoy_version']}; workerd {info['workerd_version']}", flush=True)
    snapshot()
    jwks, meta = make_tokens()
    bad = {alg: tamper(read_tokens(alg, "repeat")[0]) for alg in meta["algs"]}
    wanted = [s for s in SCENARIOS if not ONLY or ONLY.search(s)]
    if QUICK:
        # The side-by-side Envoy measures these configurations; the smoke run checks them there.
        wanted = [s for s in wanted if s.split("/")[0] not in ("envoy-noauth", "envoy-native", "envoy-native-cache")]
    side_wanted = [s for s in side_by_side.scenario_names() if not ONLY or ONLY.search(s)]
    if any(f"/{introspect.ALG}/" in s for s in wanted):
        introspect.start_idp()  # stopped with every other process at the end (stop_all)
        introspect.make_tokens()  # they live an hour: the whole run, retries included
        # An opaque token cannot be tampered with: a JWT with a broken signature must get
        # 401 from these gates too (their JWT provider refuses it).
        bad[introspect.ALG] = bad["RS256"]
    results, skipped, failures = {}, {}, []
    memory = {"servers": {}}
    verifiers = {}  # jwtgate server -> the signature verifier its log says it uses
    noise_spent = [0.0]  # seconds spent waiting for quiet and re-measuring

    side = {"results": {}, "memory_gauges": {}}
    if side_wanted:
        try:
            side["results"], side["per_round"], side_failures, side["memory_gauges"] = side_by_side.run(
                jwks, meta, bad, side_wanted)
            failures.extend(side_failures)
        except BenchError as e:
            failures.append(f"`side-by-side`: {e}")
            print(f"bench: FAIL side-by-side Envoy: {e}", flush=True)

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

    micro = {}
    # The native micro-benchmarks and criterion need no servers and a host release build
    # of every dependency (minutes on a fresh clone): the full run measures them; the
    # smoke run leaves them to `make lint`, whose clippy --all-targets compiles them.
    native = () if QUICK else (
        ("policy", policy_cost, lambda p: f"scopes-only {p['scopes_ns']:.0f} ns, 5-condition {p['policy_ns']:.0f} ns"),
        ("apikey", apikey_cost, lambda p: f"cached JWT {p['jwt_cached_ns']:.0f} ns, API key {p['api_key_ns']:.0f} ns"),
        ("dpop", dpop_cost, lambda p: f"bearer {p['bearer_ns']:.0f} ns, DPoP {p['dpop_ns']:.0f} ns"),
        ("revocation", revocation_cost,
         lambda p: f"no list {p['plain_ns']:.0f} ns, {p['entries']:,}-entry denylist {p['denylist_ns']:.0f} ns"),
    )
    if QUICK:
        print("bench: quick run: native micro-benchmarks and criterion skipped (make bench runs them)", flush=True)
    for name, run_micro, line in native:
        try:
            p = micro[name] = run_micro()
            print(f"bench: {name} micro-benchmark: {line(p)}, ratio {p['ratio']:.2f} ({p['ratio_min']:.2f}-{p['ratio_max']:.2f})",
                  flush=True)
        except Skip as e:
            skipped[f"micro/{name}"] = str(e)
        except BenchError as e:
            failures.append(f"`micro/{name}`: {e}")
            print(f"bench: FAIL micro/{name}: {e}", flush=True)

    profile = {}
    for name, run_profile in ((() if QUICK else (("decide", decide_costs),)) + (("hostcalls", host_calls),)):
        try:
            profile[name] = run_profile()
        except BenchError as e:
            failures.append(f"`profile/{name}`: {e}")
            print(f"bench: FAIL profile/{name}: {e}", flush=True)
    for bench_id, d in profile.get("decide", {}).items():
        print(f"bench: criterion {bench_id:28s} {d['ns']:>9,.0f} ns/decision ({d['ns_low']:,.0f}-{d['ns_high']:,.0f})")
    for kind, c in profile.get("hostcalls", {}).items():
        print(f"bench: host calls per request, {kind:22s} {c['total']}")

    info["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    memory["note"] = (
        "Memory is the VmRSS of the Envoy (or workerd) process from `/proc/<pid>/status`, read right before and "
        "right after each measured run (for the delta below: its first attempt); the delta across the unique-token runs "
        f"(which see all {config.TOKEN_COUNT} distinct tokens at least once) is what they cost the whole process. The "
        "filter's own linear memory (its `wasm_memory_bytes` gauge) is in the side-by-side section and the targets "
        "table; the workerd process holds all edge workers, so its deltas are per process.")
    sizes = {"filter .wasm": size_info(SNAP_FILTER), "worker .wasm": size_info(SNAP_WORKER_DIR / "pkg" / WORKER_WASM.name)}
    if JOSE_BUNDLE.exists():
        sizes["jose worker bundle (.mjs)"] = size_info(JOSE_BUNDLE)
    ratios = compute_ratios(results)
    targets = target_rows({**results, **side["results"]}, sizes, side["memory_gauges"], profile)
    total = time.time() - started
    doc = {"scenarios": results, "ratios": ratios, "skipped": skipped, "failures": failures, "verifiers": verifiers,
           "meta": {**info, "quick": QUICK, "duration_s": config.DURATION, "warmup_s": config.WARMUP, "tokens_per_alg": config.TOKEN_COUNT,
                    "connections": config.CONNECTIONS, "server_cpu": SERVER_CPU if config.PIN else None,
                    "client_cpu": CLIENT_CPU if config.PIN else None, "command": command_line(), "total_s": round(total, 1),
                    "jwt_cache_size": JWT_CACHE_SIZE, "side_rounds": config.SIDE_ROUNDS},
           "sizes": sizes, "memory": memory, "micro": micro, "side": side, "profile": profile, "targets": targets}
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")
    if failures and not QUICK:
        config.REPORT = OUT / "BENCHMARKS.failed.md"  # a failed run does not replace BENCHMARKS.md
    write_report(results, skipped, ratios, info, sizes, memory, total, failures, verifiers, micro=micro, side=side,
                 profile=profile, targets=targets)
    print(f"bench: wrote {RESULTS.relative_to(ROOT)} and {config.REPORT.relative_to(ROOT)} in {total:.0f}s", flush=True)
    for name, r in ratios.items():
        print(f"bench: ratio {name:48s} {r['ratio']:.3f} (target {TARGET}){'' if r['met'] else ' MISSED'}")
    for t in targets:
        print(f"bench: target {t['path']:48s} {t['goal']:40s} {t['measured']} "
              f"{ {True: 'met', False: 'MISSED', None: '-'}[t['met']]}")
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
