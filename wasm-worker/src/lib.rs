//! jwtgate as an edge-worker module (wasm-bindgen; served on workerd / Cloudflare Workers).
//!
//! Like the Envoy filter, this only translates: the JS entry (`js/worker.mjs`) passes the
//! request and the time in, and gets the core's decision and fetch requests back as typed
//! objects (`wire.rs`). Everything that decides lives in `jwtgate-core`, so both hosts
//! answer identically.

mod wire;

pub use wire::{DecisionKind, EdgeAllow, EdgeDecision, EdgeDenial, EdgeFetch, EdgeJob, EdgeResponse};

use jwtgate_core::{parse_max_age, Connection, FetchResult, Gate, HostKind, RequestView, Validators, Verifier};
use wasm_bindgen::prelude::*;

/// One gate per isolate; JS keeps it in module scope so the JWKS cache survives requests.
#[wasm_bindgen]
pub struct EdgeGate {
    gate: Gate,
}

#[wasm_bindgen]
impl EdgeGate {
    /// Loads the shared JSON config (the core checks what the edge needs: `jwks.uri`).
    /// `webcrypto`: the JS side verifies signatures with `crypto.subtle` (native
    /// BoringSSL in workerd) when the config's `verifier` allows it.
    #[wasm_bindgen(constructor)]
    pub fn new(config_json: &str, seed: f64, webcrypto: bool) -> Result<EdgeGate, JsError> {
        let config = HostKind::Edge.load_config(config_json).map_err(|e| JsError::new(&e.to_string()))?;
        let verifier = if webcrypto { Verifier::Async } else { Verifier::Software };
        Ok(EdgeGate { gate: Gate::new(config, verifier, seed as u64) })
    }

    /// Settings that weaken a guarantee on purpose (e.g. `revocation.on_stale: "allow"`),
    /// one log line each, for the JS side to log at start.
    #[wasm_bindgen(getter)]
    pub fn warnings(&self) -> Vec<String> {
        self.gate.config().warnings().into_iter().map(|w| format!("jwtgate: {w}")).collect()
    }

    /// Decides a request that arrived at `arrived_ms`. `headers` is a flat
    /// `[name, value, name, value, …]` list; `scheme` is the request URL's (`https`);
    /// `client_cert_sha256` the hex SHA-256 of a verified client certificate
    /// (`request.cf.tlsClientAuth.certFingerprintSHA256`), if any.
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &mut self,
        method: &str,
        path: &str,
        headers: Vec<String>,
        scheme: &str,
        client_cert_sha256: Option<String>,
        now_ms: f64,
        arrived_ms: f64,
    ) -> EdgeDecision {
        let pairs = wire::pairs(headers);
        let cert = client_cert_sha256.and_then(|h| jwtgate_core::hex::decode(&h)).and_then(|b| b.try_into().ok());
        let conn = Connection { scheme: Some(scheme), client_cert_sha256: cert };
        let view = RequestView { method, path, headers: &pairs, conn };
        self.gate.decide(&view, now_ms as u64, arrived_ms as u64).into()
    }

    /// Decides a request whose body was asked for (`DecisionKind.NeedBody`: a
    /// back-channel logout). At the edge the logout applies to this isolate; the others
    /// learn the session's end through the provider's revocation feed.
    pub fn decide_body(
        &mut self,
        method: &str,
        path: &str,
        headers: Vec<String>,
        body: &[u8],
        now_ms: f64,
    ) -> EdgeDecision {
        let pairs = wire::pairs(headers);
        let view = RequestView { method, path, headers: &pairs, conn: Connection::default() };
        let decision = self.gate.decide_body(&view, body, now_ms as u64);
        let _ = self.gate.take_logouts(); // nothing to share with: one isolate
        decision.into()
    }

    /// Goes on with the decision `job` came from, given WebCrypto's verdict. Consumes the
    /// job (its JS object is unusable afterwards).
    pub fn resume(&mut self, job: EdgeJob, valid: bool, now_ms: f64) -> EdgeDecision {
        self.gate.resume(job.into_inner(), valid, now_ms as u64).into()
    }

    /// Fetches due now (key sets and every other fetched document).
    pub fn poll_fetches(&mut self, now_ms: f64) -> Vec<EdgeFetch> {
        let fetches = self.gate.poll_fetches(now_ms as u64);
        wire::fetches(&fetches, |p| self.gate.fetch_body_cap(p))
    }

    /// Feeds the outcome of `fetch` (as `poll_fetches` gave it, so the validators it sent
    /// travel with it) back; `status` 0 means no response (timeout, network), `sent_at_ms`
    /// is when the request left, `etag` / `last_modified` are the response's. Returns a
    /// log line describing the document's change.
    #[allow(clippy::too_many_arguments)]
    pub fn on_fetch_result(
        &mut self,
        fetch: &EdgeFetch,
        now_ms: f64,
        sent_at_ms: f64,
        status: u16,
        body: &[u8],
        cache_control: Option<String>,
        etag: Option<String>,
        last_modified: Option<String>,
    ) -> String {
        let doc = fetch.doc();
        let result = FetchResult {
            sent_at_ms: sent_at_ms as u64,
            status: (status != 0).then_some(status),
            body,
            max_age_s: cache_control.as_deref().and_then(parse_max_age),
            validators: Validators { etag: etag.as_deref(), last_modified: last_modified.as_deref() },
            sent: Validators {
                etag: fetch.if_none_match.as_deref(),
                last_modified: fetch.if_modified_since.as_deref(),
            },
        };
        let name = self.gate.config().providers.get(doc.provider).map_or("?", |p| p.name.as_str()).to_owned();
        match self.gate.on_fetch_result(doc, now_ms as u64, result) {
            Some(event) => format!("jwtgate: provider {name}: {event}"),
            None => format!("jwtgate: fetch result for unknown document {doc:?}"),
        }
    }
}
