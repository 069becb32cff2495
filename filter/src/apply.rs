//! Carrying out a `Decision` on the current (effective) HTTP context.

use crate::host;
use jwtgate_core::{Allowed, Denial, Response};
use proxy_wasm::hostcalls;
use proxy_wasm::types::{LogLevel, MapType};

/// Removes every header the gate writes (client copies included), then sets the
/// verified values with replace semantics.
pub fn allow(a: &Allowed) {
    for name in &a.remove {
        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, None);
    }
    for (name, value) in &a.set {
        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value));
    }
}

/// Sends a response the core built (login redirect or page) and logs its line.
pub fn respond(r: &Response) {
    host::log(LogLevel::Info, &r.log);
    let pairs: Vec<(&str, &str)> = r.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    if hostcalls::send_http_response(u32::from(r.status), pairs, Some(r.body.as_bytes())).is_err() {
        host::log(LogLevel::Error, "jwtgate: could not send the local reply");
    }
}

/// Sends the local reply and logs why (with the token's hash, never the token).
pub fn deny(d: &Denial) {
    host::log(LogLevel::Info, &d.log_line());
    let headers = d.headers();
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    if hostcalls::send_http_response(u32::from(d.status), pairs, Some(d.body.as_bytes())).is_err() {
        host::log(LogLevel::Error, "jwtgate: could not send the local reply");
    }
}
