//! Project Wycheproof vectors (C2SP/wycheproof) against jwtgate's verification path.
//!
//! The vectors are not in this repository: they are read from
//! `../shared/test-vectors/wycheproof/` beside it, or from `$JWTGATE_WYCHEPROOF_DIR`.
//! Without them every test here prints `skipping: …` and passes.
//!
//! `tests/wycheproof-exceptions.json` (at the repository root; `support.rs` defines its
//! shape, `tests/wycheproof-exceptions.md` explains it) lists every vector whose outcome
//! differs from Wycheproof's expectation, with the reason, and decides the `acceptable`
//! vectors by flag. A test fails on any mismatch the file does not list and on any listed
//! exception that no longer occurs, so the file stays exact.

#[path = "wycheproof/jose.rs"]
mod jose;
#[path = "wycheproof/primitive.rs"]
mod primitive;
#[path = "wycheproof/support.rs"]
mod support;

use support::{finish, vectors_or_skip, Exceptions};

const RSA_PKCS1: [&str; 5] = [
    "rsa_signature_2048_sha256_test.json",
    "rsa_signature_2048_sha384_test.json",
    "rsa_signature_2048_sha512_test.json",
    "rsa_signature_3072_sha256_test.json",
    "rsa_signature_4096_sha256_test.json",
];
const RSA_PSS: [&str; 2] = ["rsa_pss_2048_sha256_mgf1_32_test.json", "rsa_pss_2048_sha384_mgf1_48_test.json"];
const ECDSA: [&str; 2] = ["ecdsa_secp256r1_sha256_p1363_test.json", "ecdsa_secp384r1_sha384_p1363_test.json"];
const EDDSA: [&str; 1] = ["ed25519_test.json"];
const JWK: &str = "json_web_key_test.json";
const JWS: &str = "json_web_signature_test.json";

fn run_primitive(test: &str, files: &[&str]) {
    let Some(dir) = vectors_or_skip(test) else { return };
    let ex = Exceptions::load();
    let problems = files.iter().flat_map(|f| primitive::run(&dir, f, &ex).reconcile(&ex)).collect();
    finish(problems);
}

fn run_jose(test: &str, file: &str) {
    let Some(dir) = vectors_or_skip(test) else { return };
    let ex = Exceptions::load();
    let tallies = jose::run(&dir, file, &ex);
    let mut problems: Vec<String> = tallies.iter().flat_map(|t| t.reconcile(&ex)).collect();
    // A label that produced no tally (e.g. no inline key set any more) must not keep entries.
    for label in jose::labels(file) {
        if ex.listed.contains_key(&label) && !tallies.iter().any(|t| t.label == label) {
            problems.push(format!("{label}: listed in the exceptions file but no vector runs under it"));
        }
    }
    finish(problems);
}

#[test]
fn rsa_pkcs1_v1_5_signatures() {
    run_primitive("rsa_pkcs1_v1_5_signatures", &RSA_PKCS1);
}

#[test]
fn rsa_pss_signatures() {
    run_primitive("rsa_pss_signatures", &RSA_PSS);
}

#[test]
fn ecdsa_p1363_signatures() {
    run_primitive("ecdsa_p1363_signatures", &ECDSA);
}

#[test]
fn ed25519_signatures() {
    run_primitive("ed25519_signatures", &EDDSA);
}

#[test]
fn json_web_keys() {
    run_jose("json_web_keys", JWK);
}

#[test]
fn json_web_signatures() {
    run_jose("json_web_signatures", JWS);
}

/// Runs without the vectors: the exceptions file parses, decides at least one flag, and
/// names only labels some test produces: one above, or for `envoyNativeExceptions` the
/// Envoy native test (tests/e2e/native_vectors.test.mjs), which runs the RSA_PKCS1 and
/// ECDSA files.
#[test]
fn exceptions_file_is_well_formed() {
    let ex = Exceptions::load();
    assert!(!ex.acceptable.is_empty(), "the exceptions file decides no `acceptable` flag");
    let primitive = RSA_PKCS1.iter().chain(&RSA_PSS).chain(&ECDSA).chain(&EDDSA);
    let mut known: Vec<String> = primitive.map(|f| f.to_string()).collect();
    known.extend(jose::labels(JWK));
    known.extend(jose::labels(JWS));
    let unknown: Vec<&String> = ex.listed.keys().filter(|l| !known.contains(l)).collect();
    assert!(unknown.is_empty(), "the exceptions file names unknown files/labels {unknown:?}; known: {known:?}");
    let native: Vec<String> = RSA_PKCS1.iter().chain(&ECDSA).map(|f| format!("{f}:envoy-native")).collect();
    let unknown: Vec<&String> = ex.envoy_native.keys().filter(|l| !native.contains(l)).collect();
    assert!(unknown.is_empty(), "envoyNativeExceptions names unknown labels {unknown:?}; known: {native:?}");
}
