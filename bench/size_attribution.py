#!/usr/bin/env python3
"""Where the filter's bytes go (`make size-attribution`): code bytes per crate, from a
.wasm that still has its `name` section (a release build with `strip = false`).

  python3 bench/size_attribution.py <module.wasm> [--top N]

twiggy-style, stdlib only: each function body in the code section is charged to the
crate its (demangled) name starts with; a generic instantiation lands with the crate its
path names first (`<serde_json::de::Deserializer as ...>` → serde_json), so the table is
an attribution, not an exact split. Data segments are counted once, in the header line. Sizes are
before `wasm-opt`, which shrinks every crate's code by roughly the same share.
"""
import re
import sys
from collections import defaultdict
from pathlib import Path


def leb(buf, i):
    """An unsigned LEB128 at buf[i]: (value, next index)."""
    out = shift = 0
    while True:
        b = buf[i]
        i += 1
        out |= (b & 0x7F) << shift
        if b < 0x80:
            return out, i
        shift += 7


def sections(buf):
    """(id, custom name or None, payload bytes) for each section of a module."""
    if buf[:4] != b"\0asm":
        raise SystemExit("not a wasm module")
    i = 8
    while i < len(buf):
        sid, i = leb(buf, i)
        size, i = leb(buf, i)
        payload = buf[i:i + size]
        i += size
        name = None
        if sid == 0:
            n, j = leb(payload, 0)
            name, payload = payload[j:j + n].decode(errors="replace"), payload[j + n:]
        yield sid, name, payload


def imported_functions(payload):
    count, i = leb(payload, 0)
    funcs = 0
    for _ in range(count):
        for _ in range(2):  # module, field
            n, i = leb(payload, i)
            i += n
        kind = payload[i]
        i += 1
        if kind == 0:
            _, i = leb(payload, i)
            funcs += 1
        elif kind == 1:  # table: reftype + limits
            i += 1
            flags, i = leb(payload, i)
            _, i = leb(payload, i)
            if flags & 1:
                _, i = leb(payload, i)
        elif kind == 2:  # memory: limits
            flags, i = leb(payload, i)
            _, i = leb(payload, i)
            if flags & 1:
                _, i = leb(payload, i)
        elif kind == 3:  # global: valtype + mut
            i += 2
        else:
            raise SystemExit(f"unknown import kind {kind}")
    return funcs


def body_sizes(payload):
    count, i = leb(payload, 0)
    out = []
    for _ in range(count):
        size, i = leb(payload, i)
        out.append(size)
        i += size
    return out


def function_names(payload):
    names, i = {}, 0
    while i < len(payload):
        sub, i = leb(payload, i)
        size, i = leb(payload, i)
        if sub == 1:
            j = i
            count, j = leb(payload, j)
            for _ in range(count):
                idx, j = leb(payload, j)
                n, j = leb(payload, j)
                names[idx] = payload[j:j + n].decode(errors="replace")
                j += n
        i += size
    return names


ESCAPES = {"$LT$": "<", "$GT$": ">", "$u20$": " ", "$RF$": "&", "$C$": ",", "$u7b$": "{", "$u7d$": "}",
           "$u5b$": "[", "$u5d$": "]", "$BP$": "*", "$SP$": "@", "$u27$": "'", "$u3b$": ";"}


def demangle(name):
    """Legacy Rust mangling (`_ZN..E`) to a path; other names are returned as they are."""
    if not name.startswith("_ZN"):
        return name
    i, parts = 3, []
    while i < len(name) and name[i].isdigit():
        j = i
        while name[j].isdigit():
            j += 1
        n = int(name[i:j])
        parts.append(name[j:j + n])
        i = j + n
    if parts and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts.pop()
    path = "::".join(parts)
    for k, v in ESCAPES.items():
        path = path.replace(k, v)
    return path.replace("..", "::").lstrip("_")


V0_CRATE = re.compile(r"C(?:s[0-9A-Za-z]*_)?(\d+)([A-Za-z_][A-Za-z0-9_]*)")
# Crates summed per concern in the summary line; jwtgate_core is split into its config
# loader (`config::`, where the serde derives are inlined) and the rest.
GROUPS = {
    "crypto": {"rsa", "num_bigint_dig", "num_traits", "num_integer", "crypto_bigint", "primeorder", "p256", "p384",
               "ecdsa", "elliptic_curve", "ed25519_compact", "sha2", "sha1", "hmac", "hmac_sha256", "hmac_sha512",
               "der", "spki", "pkcs1", "pkcs8", "sec1", "aes", "aes_gcm", "cipher", "ctr", "ghash", "polyval",
               "digest", "signature", "subtle", "block_buffer", "universal_hash", "jwt_simple", "ff", "group",
               "rfc6979", "base16ct", "coarsetime", "zeroize", "const_oid", "binstring", "ct_codecs", "superboring",
               "getrandom", "rand_core", "rand", "rand_chacha", "ppv_lite86", "siphasher"},
    "serde": {"serde", "serde_core", "serde_json", "serde_path_to_error", "ryu", "itoa", "memchr"},
    "jwtgate_core config loader": {"jwtgate_core::config"},
    "jwtgate_core (rest)": {"jwtgate_core"},
    "jwtgate_filter + proxy_wasm": {"jwtgate_filter", "proxy_wasm"},
}


def crate_of(path):
    if path.startswith("_R"):
        m = V0_CRATE.search(path)
        return m.group(2)[:int(m.group(1))] if m else "(other)"
    if path.startswith("jwtgate_core::config::"):
        return "jwtgate_core::config"
    p = path.lstrip("<&* ").removeprefix("mut ").removeprefix("dyn ")
    m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", p)
    return m.group(0) if m and "::" in p else "(other)"  # C symbols, exports, generic params


def main(argv):
    if not argv or argv[0].startswith("-"):
        print(__doc__)
        return 2
    top = int(argv[argv.index("--top") + 1]) if "--top" in argv else 25
    buf = Path(argv[0]).read_bytes()
    imports, bodies, names, data = 0, [], {}, 0
    for sid, cname, payload in sections(buf):
        if sid == 2:
            imports = imported_functions(payload)
        elif sid == 10:
            bodies = body_sizes(payload)
        elif sid == 11:
            data = len(payload)
        elif cname == "name":
            names = function_names(payload)
    if not names:
        raise SystemExit(f"{argv[0]}: no `name` section (build with strip = false)")
    by_crate = defaultdict(int)
    for k, size in enumerate(bodies):
        by_crate[crate_of(demangle(names.get(imports + k, "?")))] += size
    code = sum(bodies)
    rows = sorted(by_crate.items(), key=lambda kv: -kv[1])
    print(f"{argv[0]}: {len(buf):,} bytes; code {code:,} in {len(bodies):,} functions; data {data:,}")
    print(f"{'crate':32s} {'code bytes':>12s} {'share':>7s}")
    for crate, size in rows[:top]:
        print(f"{crate:32s} {size:>12,} {size / code:>7.1%}")
    rest = sum(s for _, s in rows[top:])
    if rest:
        print(f"{'(' + str(len(rows) - top) + ' more)':32s} {rest:>12,} {rest / code:>7.1%}")
    print("\nby concern:")
    for group, members in GROUPS.items():
        size = sum(by_crate.get(c, 0) for c in members)
        print(f"{group:32s} {size:>12,} {size / code:>7.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
