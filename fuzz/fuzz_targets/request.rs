//! Arbitrary requests against a fixed gate. Input, as text: the method on the first
//! line, the path (with query) on the second, then one `name: value` header per line.
#![no_main]

#[path = "common.rs"]
mod common;

use jwtgate_core::{RequestView, Wait};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let method = lines.next().unwrap_or("");
    let path = lines.next().unwrap_or("");
    let headers: Vec<(String, String)> = lines
        .take(64)
        .map(|l| match l.split_once(':') {
            Some((k, v)) => (k.to_owned(), v.strip_prefix(' ').unwrap_or(v).to_owned()),
            None => (l.to_owned(), String::new()),
        })
        .collect();
    let mut gate = common::gate();
    for wait in [Wait::Allowed, Wait::NotAllowed] {
        let d = gate.decide(&RequestView { method, path, headers: &headers }, common::NOW_MS, wait);
        common::check(&d);
    }
});
