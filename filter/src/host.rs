//! Small, panic-free wrappers over proxy-wasm host calls.

use proxy_wasm::hostcalls;
use proxy_wasm::types::{LogLevel, MapType};
use std::time::UNIX_EPOCH;

pub fn now_ms() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn log(level: LogLevel, msg: &str) {
    let _ = hostcalls::log(level, msg);
}

/// All pairs of a header map, duplicates kept. Values are read as bytes: the SDK's
/// string variant panics on non-UTF-8 values, which a client controls. Invalid bytes
/// become U+FFFD and then fail token parsing (401), never a crash.
pub fn headers(map: MapType) -> Vec<(String, String)> {
    hostcalls::get_map_bytes(map)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect()
}

/// SHA-256 of the verified TLS client certificate (DER), from Envoy's
/// `connection.sha256_peer_certificate_digest` property (hex). `None` without TLS, without
/// a client certificate, or if the value is not 32 bytes of hex.
pub fn client_cert_sha256() -> Option<[u8; 32]> {
    let hex = hostcalls::get_property(vec!["connection", "sha256_peer_certificate_digest"]).ok().flatten()?;
    let bytes = jwtgate_core::hex::decode(std::str::from_utf8(&hex).ok()?)?;
    bytes.try_into().ok()
}

pub fn header(map: MapType, name: &str) -> Option<String> {
    hostcalls::get_map_value_bytes(map, name).ok().flatten().map(|v| String::from_utf8_lossy(&v).into_owned())
}
