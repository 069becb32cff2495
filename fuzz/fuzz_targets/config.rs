//! Arbitrary bytes as the gate's JSON config; a config that loads then decides a few
//! fixed requests and schedules its fetches.
#![no_main]

#[path = "common.rs"]
mod common;

use jwtgate_core::{Gate, RequestView};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(mut gate) = Gate::from_json(&text, 42) else { return };
    let token = &common::valid_tokens()[2];
    let bearer = [("authorization".to_owned(), format!("Bearer {token}"))];
    let requests = [("GET", "/", &bearer[..]), ("POST", "/api/x?y=1", &[][..]), ("GET", "/public/%2e%2e/admin", &bearer[..])];
    for (method, path, headers) in requests {
        let _ = gate.decide(&RequestView { method, path, headers, conn: Default::default() }, common::NOW_MS, common::NOW_MS);
    }
    let _ = gate.poll_fetches(common::NOW_MS);
});
