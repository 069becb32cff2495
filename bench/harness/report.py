"""The report: BENCHMARKS.md (written to config.REPORT), the ratios, and the
command line it names."""
import os
import time

from . import config
from .config import CLIENT_CPU, JWT_CACHE_SIZE, NOISE_LIMIT, QUICK, RESULTS, RETRIES, ROOT, SERVER_CPU
from .scenarios import RATIOS, SCENARIOS, TARGET
from .targets import profile_section, side_section, targets_section


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


# One section per native micro-benchmark (`bench/harness/micro.py`): what it measures,
# its two paths (label, JSON member) and the ratio it states.
MICRO_SECTIONS = [
    {"key": "dpop", "title": "DPoP on the cached path",
     "about": "`Gate::decide` for a DPoP-bound token already in the verified-token cache plus a fresh ES256 proof "
              "(parse, claims, thumbprint, software signature check, replay set), against the same cached token "
              "with the Bearer scheme (`core/benches/dpop.rs`); rounds alternate.",
     "column": "path", "rows": [("Bearer", "bearer_ns"), ("DPoP", "dpop_ns")], "ratio": "DPoP ÷ Bearer",
     "tail": "No target: every DPoP request verifies a fresh proof signature."},
    {"key": "policy", "title": "Authorization cost on the cached path",
     "about": "`Gate::decide` for a token already in the verified-token cache (`core/benches/policy.rs`, also "
              "`make bench-policy`), pinned like a server; rounds alternate between the two rules, so load from "
              "other processes falls on both alike. The 5-condition rule: tenant = path capture, role in an array, "
              "a boolean, a number, a pattern.",
     "column": "rule", "rows": [("scopes only", "scopes_ns"), ("5-condition `require`", "policy_ns")],
     "ratio": "5-condition ÷ scopes-only",
     "tail": "No target: it states what a policy costs next to the request's other work."},
    {"key": "apikey", "title": "The API-key path",
     "about": "`Gate::decide` with a valid API key (checksum, SHA-256, lookup in a 10,001-entry table, header edits) "
              "against a bearer token already in the verified-token cache, on equivalent scopes rules "
              "(`core/benches/apikey.rs`, also `make bench-apikey`); rounds alternate.",
     "column": "credential", "rows": [("cached JWT", "jwt_cached_ns"), ("API key", "api_key_ns")],
     "ratio": "API key ÷ cached JWT", "tail": "No target."},
    {"key": "revocation", "title": "Revocation on the cached path",
     "about": "`Gate::decide` for a token already in the verified-token cache, with a denylist of {entries:,} "
              "entries (`jti`, `sub`, `sid`, `client_id`) against no revocation block "
              "(`core/benches/revocation.rs`, also `make bench-revocation`); rounds alternate; the list loaded in "
              "{load_ms:,} ms.",
     "column": "provider", "rows": [("no revocation block", "plain_ns"), ("{entries:,}-entry denylist", "denylist_ns")],
     "ratio": "denylist ÷ none", "tail": "No target: the check is at most four hash-map reads."},
]


def micro_section(spec, m):
    """The report lines of one micro-benchmark result `m` (none when it did not run)."""
    if not m:
        return []
    rows = [f"| {label.format(**m)} | {m[field]:,.0f} |" for label, field in spec["rows"]]
    return ["", f"## {spec['title']} (native micro-benchmark)", "", spec["about"].format(**m), "",
            f"| {spec['column']} | ns per decision (median) |", "|---|---:|", *rows, "",
            f"Ratio {spec['ratio']}: **{m['ratio']:.2f}** (median of {m['rounds']} per-round ratios of "
            f"{m['iters']:,} decisions each; spread {m['ratio_min']:.2f}–{m['ratio_max']:.2f}). {spec['tail']}"]


def write_report(results, skipped, ratios, info, sizes, memory, total_s, failures, verifiers, when=None, micro=None,
                 side=None, profile=None, targets=None):
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
          "Method: server pinned to CPU " + (SERVER_CPU if config.PIN else "(not pinned)") + ", wrk to CPU "
          + (CLIENT_CPU if config.PIN else "(not pinned)") + f"; `wrk -t1 -c{config.CONNECTIONS} -d{config.DURATION}s` after a {config.WARMUP} s "
          "warm-up with the repeated token. Envoy runs with `--concurrency 1` and answers from a `direct_response` "
          "200 route (no upstream); the edge workers all run in one workerd process (started afresh for each edge "
          "server) and forward allowed requests with "
          "`fetch()` to an in-process origin worker that answers 200. `repeat`: one token on every request; `unique`: "
          f"{config.TOKEN_COUNT} distinct valid tokens in rotation (a token comes back only after all the others). "
          "Every scenario first checks sample tokens get 200 and (auth servers) that no token / a broken signature "
          "get 401; a run with any non-2xx response fails. *server CPU*: cores' worth of CPU the Envoy/workerd "
          "process used during the run (1.00 = its core saturated); *other CPU*: CPU used meanwhile by everything "
          f"except the server, wrk and the harness (other work on the machine). A run with other CPU > {NOISE_LIMIT} "
          f"was measured again after the machine quietened (up to {RETRIES} times; the quietest run is kept).", ""]
    if targets:
        L += targets_section(targets)
    if side and side.get("results"):
        L += side_section(side["results"], side.get("memory_gauges") or {})
    L += profile_section(profile or {})
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
    if config.TOKEN_COUNT:
        fits = lambda n: "fit in" if config.TOKEN_COUNT <= n else "do not fit in"  # noqa: E731
        L += ["", f"Caches vs the {config.TOKEN_COUNT} unique tokens: they {fits(4096)} jwtgate's default token cache "
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
              f"{fmt_kb(o['rss_kb_after'])} RSS in its {config.DURATION} s run: the edge rows' tail latency and RSS growth "
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
    for spec in MICRO_SECTIONS:
        L += micro_section(spec, (micro or {}).get(spec["key"]))
    L += ["", "## Size and memory", "",
          "| artefact | bytes | gzip -9 bytes | sha256 (first 16) |", "|---|---:|---:|---|"]
    for key, s in sizes.items():
        L.append(f"| {key} (`{s['path']}`) | {s['bytes']:,} | {s['gzip9_bytes']:,} | `{s['sha256']}` |")
    L += ["", memory["note"], "", "| server | RSS idle (after start) | RSS after its last scenario | RSS delta over each unique-token run |",
          "|---|---|---|---|"]
    for srv, m in memory["servers"].items():
        deltas = ", ".join(f"{k.split('/', 1)[1]}: {d:+,} KiB" for k, d in m["unique_deltas_kb"].items()) or "—"
        L.append(f"| `{srv}` | {fmt_kb(m['idle_kb'])} | {fmt_kb(m['final_kb'])} | {deltas} |")
    config.REPORT.parent.mkdir(parents=True, exist_ok=True)
    config.REPORT.write_text("\n".join(L) + "\n")
