"""Issue 16's targets table, filled from one run, and the report sections behind it: the
side-by-side Envoy (with the wasm floor), criterion's ns per decision and the filter's
host calls per request. Every Envoy ratio is taken per interleaved round and reported as
the median with its spread; a missed row says by how much, and what the run's own data
says about why, followed by the reasons found while working on the miss (`WHY`)."""
import statistics

from . import config
from .config import JWT_CACHE_SIZE
from .side_by_side import VM_IDS

KIB, MIB = 1024, 1024 * 1024
SIZE_GOAL, MEMORY_GOAL = 400 * KIB, 8 * MIB
# Why a target is missed, beyond what the run's figures show: what was measured while
# trying to close the gap, and what is left (issue 16's closing note has the commits).
WHY = {
    "cached": "Beyond the floor's header work, a cached allow reads the clock, reads the key-set generation "
              "(`get_shared_data`: a key another worker dropped stops validating at once; skipping the read on a hit "
              "would reopen that window, a hardening fix) and increments two metrics (`allowed`, per-route). The "
              "core's share is the cached `decide` above, run under V8 rather than natively.",
    "unique": "A unique token costs a full parse (base64url, JSON, claims) and policy under V8 plus one "
              "`verify_signature` foreign call. The filter keeps each key's SPKI DER ready, but the foreign "
              "function has no key handle: Envoy parses the DER into a BoringSSL key on every call, where native "
              "`jwt_authn` keeps its parsed keys. The remaining levers are upstream (a keyed verify in the ABI).",
    "ws": "Caches persist across rounds, so after the first round this compares jwtgate's cached path with "
          "native `jwt_authn`'s cache: what the wasm floor alone costs against this reference is given above; the "
          "rest is jwtgate's own cached work (the first row) and the first round's full verifications under V8. "
          "Closing it needs a cheaper proxy-wasm ABI (fewer host calls) rather than less core work.",
    "edge": "Both workers verify with WebCrypto. In the Results table jose costs about the same per request on "
            "unique as on repeated tokens (it verifies every request), while jwtgate's unique path costs far more "
            "than its cached one, more than one WebCrypto verify explains. Not profiled yet; the candidates are the "
            "core's parse, claims and cache insert and eviction in wasm (the criterion table has its native cost), the two crossings "
            "of the wasm boundary per new token (`decide`, then `resume` after `crypto.subtle.verify`) that copy the "
            "signing input and the JWK out as strings, and the extra await.",
    "edge-repeat": "A gap within the noise of one measurement (edge rows have no rounds; the same run's ES256 repeat "
                   "row is met). Both workers answer a repeated token without new crypto; jwtgate adds one call into "
                   "wasm per request.",
    "size": "Where the bytes go (`make size-attribution`: code bytes per crate of a build that keeps its names, "
            "before wasm-opt; 1.62 MB of code): crypto 23% (RSA and big integers, P-256/P-384, Ed25519, SHA-2, "
            "AES-GCM, DER), serde/serde_json/serde_path_to_error 16% plus the core's config loader 7% (where the "
            "derives are inlined), the rest of jwtgate-core 22%, Rust's core/alloc/std 15%, filter and proxy-wasm 6%. "
            "No one piece is the 3.8×. `opt-level` \"z\"/\"s\" saved ~230 KB but ran the cached decision 1.7–1.9× "
            "slower under V8, and `wasm-opt -Os` 1.35–1.4× slower, so the build is opt-level 3 with `wasm-opt -O2` "
            "(Cargo.toml, Makefile): speed targets first. Gating the software crypto out of the Envoy build is not "
            "done: PS*, EdDSA, HS* and DPoP proofs have no `verify_signature` path and still need it.",
    "memory": "The cache holds each token's claims, scopes and headers; the table sizes with `token_cache_size`.",
    "not measured": "The scenario failed or was skipped in this run (see Failures / Skipped).",
}
# The floor-all variant's host calls per request, by construction (bench/floor/src/lib.rs):
# the header map, `authorization`, its removal, three header sets.
FLOOR_ALL_CALLS = 6

# (path, goal text, numerator, denominator, target ratio, explain key)
RATIO_TARGETS = [
    ("Envoy, cached (repeat), RS256", "≥ 0.90× floor-all", "side/jwtgate/RS256/repeat",
     "side/floor-all/RS256/repeat", 0.90, "cached"),
    *[(f"Envoy, unique tokens, {a}", "≥ 0.95× native `jwt_authn` (stretch ≥ 1.0×)", f"side/jwtgate/{a}/unique",
       f"side/native/{a}/unique", 0.95, "unique") for a in ("RS256", "ES256")],
    *[(f"Envoy, unique, working-set-sized cache ({JWT_CACHE_SIZE:,}), {a}",
       f"≥ 1.0× native with `jwt_cache_config` {JWT_CACHE_SIZE:,}", f"side/jwtgate-ws/{a}/unique",
       f"side/native-cache/{a}/unique", 1.0, "ws") for a in ("RS256", "ES256")],
    *[(f"edge, {m}, {a}", "≥ 1.0× the jose worker", f"edge-jwtgate/{a}/{m}", f"edge-jose/{a}/{m}", 1.0,
       "edge" if m == "unique" else "edge-repeat")
      for m in ("repeat", "unique") for a in ("RS256", "ES256")],
]


def round_ratios(num, den):
    """Per-round ratios when both sides ran in rounds (side-by-side), else the one ratio."""
    a, b = num.get("rounds_rps", [num["rps"]]), den.get("rounds_rps", [den["rps"]])
    return [x / y for x, y in zip(a, b) if y]


def us_per_request(rps):
    return 1e6 / rps if rps else float("nan")


def _explain(key, num, den, profile, results):
    """What the run's own figures say about a gap (criterion, host calls, µs/request, and
    how far the wasm floor alone is from the reference)."""
    gap = us_per_request(num["rps"]) - us_per_request(den["rps"])
    decide, calls = profile.get("decide", {}), profile.get("hostcalls", {})
    parts = [f"{gap:+.1f} µs of server time per request more than the reference (1/req·s of the medians; "
             "the server's one core is the bottleneck)"]
    if key == "cached" and decide.get("cached_hit_rs256"):
        parts.append(f"the core's cached `decide`: {decide['cached_hit_rs256']['ns'] / 1000:.2f} µs (criterion)")
    if key == "cached" and calls.get("cached_allow"):
        parts.append(f"host calls per cached allow: {calls['cached_allow']['total']} (floor-all: {FLOOR_ALL_CALLS})")
    if key in ("unique", "ws") and decide.get("unique_rs256_stub_verifier"):
        parts.append("the core's own work on a unique RS256 token (stub verifier): "
                     f"{decide['unique_rs256_stub_verifier']['ns'] / 1000:.2f} µs; the rest is signature "
                     "verification (one `verify_signature` foreign call) and host calls "
                     f"({calls.get('unique_allow', {}).get('total', '?')} + 1 per unique allow)")
    floor = results.get("side/floor-all/RS256/repeat")
    if key == "ws" and floor and den.get("rounds_rps"):
        rs = round_ratios(floor, den)
        parts.append(f"a wasm filter that only does the header work (floor-all, repeated token) runs at "
                     f"{statistics.median(rs):.2f}× this reference ({min(rs):.2f}–{max(rs):.2f})")
    return "; ".join(parts)


def ratio_rows(results, profile):
    rows = []
    for path, goal, n, d, target, key in RATIO_TARGETS:
        num, den = results.get(n), results.get(d)
        if not num or not den or num.get("failed") or den.get("failed"):
            rows.append({"path": path, "goal": goal, "measured": "not measured", "met": None, "by": "—", "why": WHY["not measured"]})
            continue
        rs = round_ratios(num, den)
        med = statistics.median(rs)
        spread = f" ({min(rs):.2f}–{max(rs):.2f} over {len(rs)} rounds)" if len(rs) > 1 else " (one measurement)"
        met = med >= target
        by = "—" if met else f"{(target - med) / target * 100:.0f}% (needs {target / med:.2f}× the req/s)"
        why = "" if met else _explain(key, num, den, profile, results) + ". " + WHY[key]
        rows.append({"path": path, "goal": goal, "measured": f"**{med:.2f}×**{spread}", "ratio": round(med, 3),
                     "spread": [round(min(rs), 3), round(max(rs), 3)], "met": met, "by": by, "why": why,
                     "numerator": n, "denominator": d})
    return rows


def size_row(sizes):
    s = sizes.get("filter .wasm")
    if not s:
        return None
    met = s["bytes"] <= SIZE_GOAL
    return {"path": "filter `.wasm`", "goal": "≤ 400 KiB",
            "measured": f"**{s['bytes'] / KIB:,.0f} KiB** (gzip -9: {s['gzip9_bytes'] / KIB:,.0f} KiB)", "met": met,
            "by": "—" if met else f"{(s['bytes'] - SIZE_GOAL) / KIB:,.0f} KiB ({s['bytes'] / SIZE_GOAL:.2f}× the goal)",
            "why": "" if met else WHY["size"]}


def memory_row(gauges, results):
    b = gauges.get(VM_IDS["jwtgate-ws"])
    runs = sum(1 for n in results if n.startswith("side/jwtgate-ws/") and n.endswith("/unique"))
    held = min(JWT_CACHE_SIZE, runs * config.TOKEN_COUNT)
    if b is None:
        return {"path": "VM memory, 10,000 cached tokens", "goal": "≤ 8 MiB linear memory", "met": None,
                "measured": "not reported (no `wasm_memory_bytes` gauge at /stats)", "by": "—", "why": WHY["not measured"]}
    met = b <= MEMORY_GOAL
    other = gauges.get(VM_IDS["jwtgate"])
    tail = f"; default cache (4,096): {other / MIB:.1f} MiB" if other is not None else ""
    return {"path": f"VM memory with {held:,} cached tokens", "met": met,
            "goal": "≤ 8 MiB linear memory", "measured": f"**{b / MIB:.1f} MiB** (`jwtgate-ws` VM{tail})",
            "by": "—" if met else f"{(b - MEMORY_GOAL) / MIB:.1f} MiB", "why": "" if met else WHY["memory"]}


def target_rows(results, sizes, gauges, profile):
    return [r for r in ratio_rows(results, profile) + [size_row(sizes), memory_row(gauges, results)] if r]


def targets_section(rows):
    L = ["## Targets (issue 16), from this run", "",
         "Envoy rows come from the side-by-side Envoy (one process, interleaved rounds; median of the per-round "
         "ratios, spread in brackets); edge rows from the edge scenarios below (one measurement each).", "",
         "| path | goal | measured | met? | missed by | why (for a miss) |", "|---|---|---|---|---|---|"]
    for r in rows:
        met = {True: "met", False: "**missed**", None: "—"}[r["met"]]
        L.append(f"| {r['path']} | {r['goal']} | {r['measured']} | {met} | {r['by']} | {r['why']} |")
    return L + [""]


def side_section(results, gauges):
    """The side-by-side Envoy's scenarios: median req/s, spread and the floor ratios."""
    L = ["## Side by side in one Envoy (with the wasm floor)", "",
         f"One Envoy (`--concurrency 1`), one listener per configuration, {config.SIDE_ROUNDS} interleaved round(s): "
         "each round measures every scenario once, in the order below. Floor: `bench/floor/`, a proxy-wasm filter "
         "(V8, its own VM per variant) that returns `Continue` (`noop`), reads `authorization`, removes it and sets "
         "three headers (`min`), or reads the whole header map first, then does as `min` (`all`: what a gate must "
         "do to strip its header namespace). `jwtgate-ws`: jwtgate with `token_cache_size` "
         f"{JWT_CACHE_SIZE:,} (the size of `native-cache`'s `jwt_cache_config`). Caches persist across rounds.", "",
         "| scenario | req/s (median) | spread (min–max) | per round | µs/request (1/req·s) | p50 ms | p99 ms | other CPU (max) |",
         "|---|---:|---|---|---:|---:|---:|---:|"]
    for name, r in results.items():
        rounds = ", ".join(f"{x:,.0f}" for x in r["rounds_rps"])
        L.append(f"| `{name}`{' **FAILED**' if r.get('failed') else ''} | {r['rps']:,.0f} | "
                 f"{r['rps_min']:,.0f}–{r['rps_max']:,.0f} | {rounds} | {us_per_request(r['rps']):.1f} | "
                 f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['other_cpu_cores']:.2f} |")
    rep = results.get("side/jwtgate/RS256/repeat")
    floors = [f for f in ("noauth", "floor-noop", "floor-min", "floor-all") if f"side/{f}/RS256/repeat" in results]
    if rep and floors:
        L += ["", "jwtgate (repeated RS256 token) against the floor, median of per-round ratios (spread):", ""]
        for f in floors:
            rs = round_ratios(rep, results[f"side/{f}/RS256/repeat"])
            if rs:
                L.append(f"- ÷ `{f}`: **{statistics.median(rs):.2f}×** ({min(rs):.2f}–{max(rs):.2f})")
    if gauges:
        L += ["", "Linear memory the filter reports (`wasmcustom.jwtgate.wasm_memory_bytes.<vm_id>` at `/stats`, "
              "after the last round; the largest copy of each VM, i.e. the worker's): " + ", ".join(f"`{vm}` {b / MIB:.1f} MiB" if b is not None else f"`{vm}` n/a"
                                                   for vm, b in gauges.items()) + "."]
    return L + [""]


def profile_section(profile):
    """criterion's ns per decision and the filter's host calls per request kind."""
    L = []
    decide = profile.get("decide")
    if decide:
        L += ["## `Gate::decide`, natively (criterion)", "",
              "`core/benches/decide.rs` (also `cargo bench -p jwtgate-core --bench decide`), pinned like a server; "
              "criterion's median and its 95% interval. No target: it says how much of a request is the core's.", "",
              "| case | ns per decision | 95% interval |", "|---|---:|---|"]
        L += [f"| {d['about']} | {d['ns']:,.0f} | {d['ns_low']:,.0f}–{d['ns_high']:,.0f} |" for d in decide.values()]
        L.append("")
    calls = profile.get("hostcalls")
    if calls:
        names = sorted({n for k in calls.values() for n in k["calls"]})
        L += ["## proxy-wasm host calls per request", "",
              "Counted by the filter's mock host around the real filter code (`filter/src/census_tests.rs`): request "
              "headers, then response headers, in steady state (token cached where it can be, metrics defined). The mock "
              "host has no `verify_signature`, so on Envoy every RS*/ES* signature check (a unique or a forged token) "
              f"adds one `proxy_call_foreign_function`. The floor-all filter makes {FLOOR_ALL_CALLS}.",
              "", "| host call | " + " | ".join(f"`{k}`" for k in calls) + " |", "|---|" + "---:|" * len(calls)]
        for n in names:
            L.append(f"| `{n}` | " + " | ".join(str(k["calls"].get(n, 0)) for k in calls.values()) + " |")
        L += ["| **total** | " + " | ".join(f"**{k['total']}**" for k in calls.values()) + " |", ""]
    return L
