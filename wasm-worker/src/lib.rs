//! jwtgate as an edge-worker module (wasm-bindgen; served on workerd / Cloudflare Workers).
//!
//! Like the Envoy filter, this only translates: the JS entry (`js/worker.mjs`) passes the
//! request and the time in, and gets the core's decision and fetch requests back as JSON.
//! Everything that decides lives in `jwtgate-core`, so both hosts answer identically.

mod wire;

use jwtgate_core::{parse_max_age, FetchResult, Gate, JwksSource, RequestView, Validators, Wait};
use wasm_bindgen::prelude::*;

/// One gate per isolate; JS keeps it in module scope so the JWKS cache survives requests.
#[wasm_bindgen]
pub struct EdgeGate {
    gate: Gate,
}

#[wasm_bindgen]
impl EdgeGate {
    /// Loads the shared JSON config. At the edge a remote JWKS is fetched by URL, so every
    /// remote provider needs `jwks.uri`; the error names the field like the core's do.
    /// `webcrypto`: the JS side verifies signatures with `crypto.subtle` (native
    /// BoringSSL in workerd) when the config's `verifier` allows it.
    #[wasm_bindgen(constructor)]
    pub fn new(config_json: &str, seed: f64, webcrypto: bool) -> Result<EdgeGate, JsError> {
        let mut gate = Gate::from_json(config_json, seed as u64).map_err(|e| JsError::new(&e.to_string()))?;
        for p in &gate.config().providers {
            if let JwksSource::Remote(r) = &p.jwks {
                if r.uri.is_none() {
                    let msg = format!(
                        "invalid config at `providers.{}.jwks.uri`: required at the edge (the full JWKS URL)",
                        p.name
                    );
                    return Err(JsError::new(&msg));
                }
            }
        }
        gate.set_async_verifier(webcrypto);
        Ok(EdgeGate { gate })
    }

    /// The answer to a `{"kind":"verify"}` decision; decide the request again next.
    pub fn complete_signature(&mut self, ticket: &str, valid: bool) {
        self.gate.complete_signature(ticket, valid);
    }

    /// Decides a request. `headers` is a flat `[name, value, name, value, …]` list.
    /// Returns the decision as JSON (see `wire.rs`).
    pub fn decide(&mut self, method: &str, path: &str, headers: Vec<String>, now_ms: f64, may_wait: bool) -> String {
        let pairs = wire::pairs(headers);
        let view = RequestView { method, path, headers: &pairs };
        let wait = if may_wait { Wait::Allowed } else { Wait::NotAllowed };
        wire::decision(&self.gate.decide(&view, now_ms as u64, wait))
    }

    /// JWKS fetches due now, as JSON
    /// `[{provider, uri, timeout_ms, max_body_bytes, if_none_match, if_modified_since}]`.
    pub fn poll_fetches(&mut self, now_ms: f64) -> String {
        let fetches = self.gate.poll_fetches(now_ms as u64);
        wire::fetches(&fetches, |p| self.gate.fetch_body_cap(p))
    }

    /// Feeds a fetch outcome back; `status` 0 means no response (timeout, network).
    /// `sent_at_ms` is when the request was sent; `sent_etag` / `sent_last_modified` are
    /// the `if_none_match` / `if_modified_since` the fetch carried, `etag` /
    /// `last_modified` the response's. Returns a log line describing the key set's change.
    #[allow(clippy::too_many_arguments)]
    pub fn on_fetch_result(
        &mut self,
        provider: u32,
        now_ms: f64,
        sent_at_ms: f64,
        status: u16,
        body: &[u8],
        cache_control: Option<String>,
        etag: Option<String>,
        last_modified: Option<String>,
        sent_etag: Option<String>,
        sent_last_modified: Option<String>,
    ) -> String {
        let result = FetchResult {
            sent_at_ms: sent_at_ms as u64,
            status: (status != 0).then_some(status),
            body,
            max_age_s: cache_control.as_deref().and_then(parse_max_age),
            validators: Validators { etag: etag.as_deref(), last_modified: last_modified.as_deref() },
            sent: Validators { etag: sent_etag.as_deref(), last_modified: sent_last_modified.as_deref() },
        };
        let name = self.gate.config().providers.get(provider as usize).map_or("?", |p| p.name.as_str()).to_owned();
        match self.gate.on_fetch_result(provider as usize, now_ms as u64, result) {
            Some(event) => format!("jwtgate: provider {name}: {event}"),
            None => format!("jwtgate: fetch result for unknown provider {provider}"),
        }
    }

    /// How long a request may be held waiting for keys.
    pub fn hold_ms(&self) -> f64 {
        self.gate.config().startup_hold_ms as f64
    }
}
