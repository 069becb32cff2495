"""Measuring one scenario: sanity answers first, a warm-up, then wrk, CPU and RSS,
Envoy counters, and the checks that fail the scenario."""
import json
import re
import subprocess

from . import config
from .config import BENCH, CLIENT_CPU, LOGS, ROOT
from .errors import BenchError
from .machine import CpuWatch
from .procs import http, rss_kb, spawn, stop
from .tokens import read_tokens, token_file


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


def wrk(url, script, token_path, seconds, label):
    cmd = ["wrk", "-t1", f"-c{config.CONNECTIONS}", f"-d{seconds}s", "-s", str(BENCH / "wrk" / script), url,
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


def measure(run, name, alg, mode, bad_token, label=None):
    check_answers(run, alg, mode, bad_token)
    s0 = run.stats()
    label = (label or name).replace("/", "-")
    # Warm-up with the repeated token (JIT tiers, connections) so a unique-token run still
    # meets every token for the first time on its first pass.
    warm, _ = wrk(run.url, "repeat.lua", token_file(alg, "repeat"), config.WARMUP, label + "-warmup")
    rss0 = rss_kb(run.pid)
    script = "unique.lua" if mode == "unique" else "repeat.lua"
    watch = CpuWatch(run.pid)
    res, cmd = wrk(run.url, script, token_file(alg, mode), config.DURATION, label)
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
        out["tokens"] = len(read_tokens(alg, mode))  # fewer than TOKEN_COUNT for opaque tokens
        out["uses_per_token"] = round(res["requests"] / out["tokens"], 2)
    if s1:
        counters = rf"^http\.{run.stat_prefix}\.(downstream_rq_[2-5]xx|jwt_authn\.)|^wasmcustom\.jwtgate\."
        out["envoy_stats"] = stat_delta(s0, s1, counters)
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
