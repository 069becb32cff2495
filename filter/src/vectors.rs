//! Test-only signature-vector endpoint, compiled in with `--features vector-endpoint`
//! and never in the default build.
//!
//! `POST /__jwtgate/vectors` takes a JSON array of
//! `{"alg": "RS256", "spki_der_hex": "…", "msg_hex": "…", "sig_hex": "…"}`, runs each
//! through `EnvoyVerifier` (Envoy's BoringSSL behind `verify_signature`, exactly the
//! call the gate makes), and answers 200 with a JSON array of `true` / `false` / `null`
//! (`null`: the native verifier declined, so the gate would fall back to software).
//! The request is answered here, before the gate decides; `tests/e2e/native_vectors.test.mjs`
//! feeds it Project Wycheproof's primitive vectors.
//!
//! Envoy turns a header-phase `Pause` into `StopAllIterationAndWatermark`, which never
//! hands the body to the filter, unless the plugin config sets
//! `allow_on_headers_stop_iteration: true` (Envoy >= 1.35). The test's Envoy config sets
//! it; without it a vector request waits until the stream times out.

use crate::host;
use crate::native::EnvoyVerifier;
use jwtgate_core::{Alg, NativeVerifier};
use proxy_wasm::hostcalls;
use proxy_wasm::types::{Action, BufferType, MapType};
use serde_json::Value;

pub const PATH: &str = "/__jwtgate/vectors";

/// From `on_http_request_headers`, before the gate: `Some` when the request is for the
/// vector endpoint (its body is then buffered and answered in `on_request_body`).
pub fn on_request_headers(method: &str, path: &str, end_of_stream: bool) -> Option<Action> {
    if path != PATH {
        return None;
    }
    if method != "POST" {
        reply(405, &error_body("use POST with a JSON array of vectors"));
    } else if end_of_stream {
        reply(400, &error_body("the request has no body"));
    }
    Some(Action::Pause)
}

/// From `on_http_request_body`: buffers the vector request's body until the end of the
/// stream, then answers it. Other requests pass through untouched.
/// `None` for requests that are not for the vector endpoint.
pub fn on_request_body(body_size: usize, end_of_stream: bool) -> Option<Action> {
    if host::header(MapType::HttpRequestHeaders, ":path").as_deref() != Some(PATH) {
        return None;
    }
    if host::header(MapType::HttpRequestHeaders, ":method").as_deref() != Some("POST") {
        return Some(Action::Pause); // already answered 405
    }
    if !end_of_stream {
        return Some(Action::Pause);
    }
    let body = hostcalls::get_buffer(BufferType::HttpRequestBody, 0, body_size).ok().flatten().unwrap_or_default();
    match run(&body) {
        Ok(results) => reply(200, &serde_json::to_vec(&results).unwrap_or_default()),
        Err((status, why)) => reply(status, &error_body(&why)),
    }
    Some(Action::Pause)
}

fn run(body: &[u8]) -> Result<Vec<Value>, (u32, String)> {
    let Some(native) = EnvoyVerifier::detect() else {
        return Err((503, "the host has no verify_signature foreign function".into()));
    };
    let items: Vec<Value> =
        serde_json::from_slice(body).map_err(|e| (400, format!("body is not a JSON array: {e}")))?;
    let mut results = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = |name: &str| -> Result<&str, (u32, String)> {
            item[name].as_str().ok_or_else(|| (400, format!("vector {i}: `{name}` is not a string")))
        };
        let alg = Alg::parse(field("alg")?).ok_or_else(|| (400, format!("vector {i}: unknown alg")))?;
        let bytes = |name: &str| -> Result<Vec<u8>, (u32, String)> {
            jwtgate_core::hex::decode(field(name)?).ok_or_else(|| (400, format!("vector {i}: `{name}` is not hex")))
        };
        let (spki, msg, sig) = (bytes("spki_der_hex")?, bytes("msg_hex")?, bytes("sig_hex")?);
        results.push(match native.verify(alg, &spki, &msg, &sig) {
            Some(ok) => Value::Bool(ok),
            None => Value::Null,
        });
    }
    Ok(results)
}

fn error_body(why: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "error": why })).unwrap_or_default()
}

fn reply(status: u32, body: &[u8]) {
    let _ = hostcalls::send_http_response(status, vec![("content-type", "application/json")], Some(body));
}
