//! Arbitrary bytes as a compact JWS: `parse_compact`, then a whole `Gate::decide` with
//! the bytes as the bearer token (and as the `access_token` query parameter).
#![no_main]

#[path = "common.rs"]
mod common;

use jwtgate_core::{parse_compact, RequestView};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    if let Ok(u) = parse_compact(&token, 16 * 1024) {
        assert!(token.starts_with(u.signing_input), "the signing input is a prefix of the token");
    }
    let mut gate = common::gate();
    let headers = vec![("authorization".to_owned(), format!("Bearer {token}"))];
    let d = gate.decide(&RequestView { method: "GET", path: "/api", headers: &headers, conn: Default::default() }, common::NOW_MS, common::NOW_MS);
    common::check(&d);
    let path = format!("/opt/x?access_token={token}");
    let d = gate.decide(&RequestView { method: "GET", path: &path, headers: &[], conn: Default::default() }, common::NOW_MS, common::NOW_MS - 60_000);
    common::check(&d);
});
