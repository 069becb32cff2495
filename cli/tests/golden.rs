//! Golden outputs: each case runs the built `jwtgate` binary from `cli/` and compares its
//! exit status and standard output (then standard error) with `tests/golden/<name>.txt`.
//! `UPDATE_GOLDEN=1 cargo test -p jwtgate-cli` rewrites the files; review the diff.

use std::path::Path;
use std::process::Command;

/// (golden file name, arguments). Paths are relative to `cli/`.
const CASES: &[(&str, &[&str])] = &[
    (
        // A provider with a revocation feed and an API-key feed: offline, the check
        // stands in an empty list and an empty key table, and says so on stderr.
        "check-offline-feeds",
        &[
            "check",
            "-c",
            "tests/fixtures/check/config-feeds.json",
            "-t",
            "@tests/fixtures/check/token-acme.jwt",
            "-p",
            "/api/tenants/acme/orders",
            "--jwks",
            JWKS,
            "--now",
            NOW,
        ],
    ),
    (
        "check-tenant-403",
        &[
            "check",
            "-c",
            CHECK_CONFIG,
            "-t",
            "@tests/fixtures/check/token-acme.jwt",
            "-p",
            "/api/tenants/globex/orders",
            "--jwks",
            JWKS,
            "--now",
            NOW,
        ],
    ),
    (
        "check-tenant-allow",
        &[
            "check",
            "-c",
            CHECK_CONFIG,
            "-t",
            "@tests/fixtures/check/token-acme.jwt",
            "-p",
            "/api/tenants/acme/orders",
            "-H",
            "x-jwt-sub: admin",
            "--jwks",
            JWKS,
            "--now",
            NOW,
        ],
    ),
    (
        "check-expired-json",
        &[
            "check",
            "-c",
            CHECK_CONFIG,
            "-t",
            "@tests/fixtures/check/token-expired.jwt",
            "-p",
            "/api/x",
            "--jwks",
            "idp=tests/fixtures/check/jwks.json",
            "--now",
            NOW,
            "--json",
        ],
    ),
    (
        "check-wrong-aud",
        &[
            "check",
            "-c",
            CHECK_CONFIG,
            "-t",
            "@tests/fixtures/check/token-wrong-aud.jwt",
            "-p",
            "/api/x",
            "--jwks",
            JWKS,
            "--now",
            NOW,
        ],
    ),
    (
        "check-scope",
        &[
            "check",
            "-c",
            CHECK_CONFIG,
            "-t",
            "@tests/fixtures/check/token-acme.jwt",
            "-p",
            "/api/admin/users",
            "--jwks",
            JWKS,
            "--now",
            NOW,
        ],
    ),
    (
        "check-scope-ok",
        &[
            "check",
            "-c",
            CHECK_CONFIG,
            "-t",
            "@tests/fixtures/check/token-admin.jwt",
            "-p",
            "/api/admin/users",
            "--jwks",
            JWKS,
            "--now",
            NOW,
        ],
    ),
    (
        "check-rotated-key",
        &[
            "check",
            "-c",
            CHECK_CONFIG,
            "-t",
            "@tests/fixtures/check/token-acme.jwt",
            "-p",
            "/api/x",
            "--jwks",
            "tests/fixtures/check/jwks-rotated.json",
            "--now",
            NOW,
        ],
    ),
    ("check-no-token", &["check", "-c", CHECK_CONFIG, "-p", "/api/x", "--jwks", JWKS, "--now", NOW]),
    ("check-no-rule", &["check", "-c", CHECK_CONFIG, "-p", "/internal/metrics", "--now", NOW]),
    ("check-public", &["check", "-c", CHECK_CONFIG, "-p", "/public/info", "-H", "x-jwt-sub: admin", "--now", NOW]),
    (
        "check-needs-jwks",
        &["check", "-c", CHECK_CONFIG, "-t", "@tests/fixtures/check/token-acme.jwt", "-p", "/api/x", "--now", NOW],
    ),
    ("check-bad-config", &["check", "-c", "tests/fixtures/lint/broken.json", "-p", "/", "--now", NOW]),
    (
        "check-jwks-unknown-provider",
        &["check", "-c", CHECK_CONFIG, "-p", "/api/x", "--jwks", "other=tests/fixtures/check/jwks.json", "--now", NOW],
    ),
    (
        "check-report-only",
        &[
            "check",
            "-c",
            "tests/fixtures/check/config-report-only.json",
            "-t",
            "@tests/fixtures/check/token-acme.jwt",
            "-p",
            "/api/tenants/globex/orders",
            "--jwks",
            JWKS,
            "--now",
            NOW,
        ],
    ),
    ("lint-risky", &["lint", "tests/fixtures/lint/risky.json"]),
    ("lint-broken", &["lint", "tests/fixtures/lint/broken.json"]),
    ("lint-risky-json-strict", &["lint", "--strict", "--json", "tests/fixtures/lint/risky.json"]),
    ("jwks-inspect-mixed", &["jwks", "inspect", "tests/fixtures/jwks/mixed.json"]),
    (
        "jwks-inspect-es256-only-json",
        &["jwks", "inspect", "--algorithms", "ES256", "--json", "tests/fixtures/check/jwks.json"],
    ),
    ("jwks-inspect-duplicate-kid", &["jwks", "inspect", "tests/fixtures/jwks/duplicate-kid.json"]),
    ("jwks-diff-rotation-add", &["jwks", "diff", JWKS, "tests/fixtures/jwks/rotation-step1.json"]),
    (
        "jwks-diff-rotation-drop",
        &["jwks", "diff", "tests/fixtures/jwks/rotation-step1.json", "tests/fixtures/check/jwks-rotated.json"],
    ),
    ("jwks-diff-replaced", &["jwks", "diff", JWKS, "tests/fixtures/jwks/k1-replaced.json"]),
    ("import-istio-require-jwt", &["import", "istio", "tests/fixtures/import/istio/require-jwt.yaml"]),
    ("import-istio-authn-only", &["import", "istio", "tests/fixtures/import/istio/authn-only.yaml"]),
    ("import-istio-groups-and-paths", &["import", "istio", "tests/fixtures/import/istio/groups-and-paths.yaml"]),
    ("import-istio-deny-without-token", &["import", "istio", "tests/fixtures/import/istio/deny-without-token.yaml"]),
    ("import-istio-mesh-only", &["import", "istio", "tests/fixtures/import/istio/mesh-only.yaml"]),
    ("import-envoy-basic", &["import", "envoy", "tests/fixtures/import/envoy/basic.yaml"]),
    ("import-envoy-two-providers", &["import", "envoy", "tests/fixtures/import/envoy/two-providers.json"]),
    ("import-envoy-metadata-driven", &["import", "envoy", "tests/fixtures/import/envoy/metadata-driven.yaml"]),
    (
        "import-envoy-metadata-driven-partial",
        &["import", "envoy", "--allow-partial", "tests/fixtures/import/envoy/metadata-driven.yaml"],
    ),
];

const CHECK_CONFIG: &str = "tests/fixtures/check/config.json";
const JWKS: &str = "tests/fixtures/check/jwks.json";
const NOW: &str = "1767226000";

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_jwtgate"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run jwtgate");
    let mut text = format!("$ jwtgate {}\nexit {}\n", args.join(" "), out.status.code().unwrap_or(-1));
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr);
    if !err.is_empty() {
        text.push_str("--- stderr\n");
        text.push_str(&err);
    }
    text
}

/// Compares every case and reports all differences at once.
pub fn check_cases(cases: &[(&str, &[&str])]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failed = Vec::new();
    for (name, args) in cases {
        let got = run(args);
        let file = dir.join(format!("{name}.txt"));
        if update {
            std::fs::write(&file, &got).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&file).unwrap_or_default();
        if got != want {
            eprintln!("=== {name}: got\n{got}=== want\n{want}");
            failed.push(*name);
        }
    }
    assert!(failed.is_empty(), "golden outputs differ (UPDATE_GOLDEN=1 to accept): {failed:?}");
}

#[test]
fn check_outputs_match_their_golden_files() {
    check_cases(CASES);
}
