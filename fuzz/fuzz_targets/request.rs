//! Arbitrary requests against a fixed gate. Input, as text: the method on the first
//! line, the path (with query) on the second, then one `name: value` header per line.
#![no_main]

#[path = "common.rs"]
mod common;

use jwtgate_core::RequestView;
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
    // Just arrived (may be held), and arrived a minute ago (the hold has ended).
    for arrived in [common::NOW_MS, common::NOW_MS - 60_000] {
        let d = gate.decide(&RequestView { method, path, headers: &headers, conn: Default::default() }, common::NOW_MS, arrived);
        common::check(&d);
    }
});
