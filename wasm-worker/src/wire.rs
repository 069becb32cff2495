//! The typed objects that cross wasm-bindgen to `js/worker.mjs`. JS switches on
//! [`DecisionKind`] (an exported enum, not a string) and reads each variant through its
//! own class, so a field the core adds is one getter here, not a JSON shape kept in sync
//! by hand on both sides.

use jwtgate_core::{Allowed, Decision, Denial, DocId, FetchRequest, Mode, Response, Verdict, VerifyJob};
use wasm_bindgen::prelude::*;

pub fn pairs(flat: Vec<String>) -> Vec<(String, String)> {
    let mut it = flat.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

fn flatten<K: AsRef<str>>(list: &[(K, String)]) -> Vec<String> {
    list.iter().flat_map(|(k, v)| [k.as_ref().to_owned(), v.clone()]).collect()
}

#[wasm_bindgen]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionKind {
    /// Forward: `allow()` says how.
    Allow,
    /// Answer locally: `deny()`.
    Deny,
    /// Run the due fetches, then decide again with the same arrival time.
    NeedKeys,
    /// Verify `job()` with WebCrypto, then `EdgeGate.resume(job, valid, now)`.
    Verify,
    /// Send `respond()` as is (a login redirect or page, with `Set-Cookie`).
    Respond,
    /// Read the request body (at most `body_limit` bytes) and call `EdgeGate.decide_body`.
    NeedBody,
}

/// The core's decision for one request. The variant accessors move their part out.
#[wasm_bindgen]
pub struct EdgeDecision {
    decision: Option<Decision>,
}

impl From<Decision> for EdgeDecision {
    fn from(d: Decision) -> EdgeDecision {
        EdgeDecision { decision: Some(d) }
    }
}

#[wasm_bindgen]
impl EdgeDecision {
    /// `None` once a variant has been taken out.
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> Option<DecisionKind> {
        Some(match self.decision.as_ref()? {
            Decision::Allow(_) => DecisionKind::Allow,
            Decision::Deny(_) => DecisionKind::Deny,
            Decision::NeedKeys { .. } => DecisionKind::NeedKeys,
            Decision::Verify(_) => DecisionKind::Verify,
            Decision::Respond(_) => DecisionKind::Respond,
            Decision::NeedBody { .. } => DecisionKind::NeedBody,
        })
    }

    pub fn allow(&mut self) -> Option<EdgeAllow> {
        match self.decision.take()? {
            Decision::Allow(a) => Some(EdgeAllow(a)),
            other => self.put_back(other),
        }
    }

    pub fn deny(&mut self) -> Option<EdgeDenial> {
        match self.decision.take()? {
            Decision::Deny(d) => Some(EdgeDenial(d)),
            other => self.put_back(other),
        }
    }

    /// For `NeedBody`: the most body bytes to read.
    #[wasm_bindgen(getter)]
    pub fn body_limit(&self) -> Option<usize> {
        match self.decision.as_ref()? {
            Decision::NeedBody { max_bytes } => Some(*max_bytes),
            _ => None,
        }
    }

    pub fn respond(&mut self) -> Option<EdgeResponse> {
        match self.decision.take()? {
            Decision::Respond(r) => Some(EdgeResponse(*r)),
            other => self.put_back(other),
        }
    }

    pub fn job(&mut self) -> Option<EdgeJob> {
        match self.decision.take()? {
            Decision::Verify(j) => Some(EdgeJob(*j)),
            other => self.put_back(other),
        }
    }
}

impl EdgeDecision {
    fn put_back<T>(&mut self, d: Decision) -> Option<T> {
        self.decision = Some(d);
        None
    }
}

/// How to forward an allowed request.
#[wasm_bindgen]
pub struct EdgeAllow(Allowed);

#[wasm_bindgen]
impl EdgeAllow {
    /// Headers to delete first.
    #[wasm_bindgen(getter)]
    pub fn remove(&self) -> Vec<String> {
        self.0.remove.clone()
    }

    /// Headers to set (replace), flat `[name, value, …]`; the target is `target`.
    #[wasm_bindgen(getter)]
    pub fn set(&self) -> Vec<String> {
        let headers: Vec<(&str, String)> =
            self.0.set.iter().filter(|(k, _)| k != ":path").map(|(k, v)| (k.as_str(), v.clone())).collect();
        flatten(&headers)
    }

    /// The normalised path the rule matched: choose the origin by this.
    #[wasm_bindgen(getter)]
    pub fn path(&self) -> String {
        self.0.path.clone()
    }

    /// Path and query to send to the origin.
    #[wasm_bindgen(getter)]
    pub fn target(&self) -> String {
        self.0.target.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn token_hash(&self) -> Option<String> {
        self.0.token_hash.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn stale_keys(&self) -> bool {
        self.0.stale_keys
    }

    /// One log line (token hash, never the token).
    #[wasm_bindgen(getter)]
    pub fn log_line(&self) -> String {
        self.0.log_line()
    }

    /// Headers to set on the *response* (the report-only header), flat `[name, value, …]`;
    /// never sent upstream.
    #[wasm_bindgen(getter)]
    pub fn response_headers(&self) -> Vec<String> {
        flatten(&self.0.response_headers)
    }

    /// The decision metric's name (`decisions.<rule>.<outcome>.<reason>.<mode>`).
    #[wasm_bindgen(getter)]
    pub fn stat(&self) -> Option<String> {
        self.0.verdict.as_ref().map(Verdict::stat_name)
    }

    /// The log line of a report-only decision (what would have happened), if this is one.
    #[wasm_bindgen(getter)]
    pub fn report_line(&self) -> Option<String> {
        let v = self.0.verdict.as_ref().filter(|v| v.mode == Mode::ReportOnly)?;
        Some(v.log_line(self.0.token_hash.as_deref()))
    }
}

/// A local reply.
#[wasm_bindgen]
pub struct EdgeDenial(Denial);

#[wasm_bindgen]
impl EdgeDenial {
    /// The 503 for an isolate whose config did not load.
    pub fn unconfigured() -> EdgeDenial {
        EdgeDenial(Denial::unconfigured())
    }

    /// The 500 for a decision the worker cannot carry out.
    pub fn internal_error() -> EdgeDenial {
        EdgeDenial(Denial::internal_error("unexpected decision"))
    }

    #[wasm_bindgen(getter)]
    pub fn status(&self) -> u16 {
        self.0.status
    }

    /// Response headers, flat `[name, value, …]`.
    #[wasm_bindgen(getter)]
    pub fn headers(&self) -> Vec<String> {
        let headers: Vec<(&str, String)> = self.0.headers();
        flatten(&headers)
    }

    #[wasm_bindgen(getter)]
    pub fn body(&self) -> String {
        self.0.body.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn log_line(&self) -> String {
        self.0.log_line()
    }

    /// The decision metric's name (`decisions.<rule>.deny.<reason>.enforce`).
    #[wasm_bindgen(getter)]
    pub fn stat(&self) -> Option<String> {
        self.0.verdict.as_ref().map(Verdict::stat_name)
    }
}

/// A response the core built (login redirects and pages): the same getters as
/// [`EdgeDenial`], so the worker replies to both the same way.
#[wasm_bindgen]
pub struct EdgeResponse(Response);

#[wasm_bindgen]
impl EdgeResponse {
    #[wasm_bindgen(getter)]
    pub fn status(&self) -> u16 {
        self.0.status
    }

    /// Response headers, flat `[name, value, …]`; `set-cookie` may repeat.
    #[wasm_bindgen(getter)]
    pub fn headers(&self) -> Vec<String> {
        flatten(&self.0.headers)
    }

    #[wasm_bindgen(getter)]
    pub fn body(&self) -> String {
        self.0.body.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn log_line(&self) -> String {
        self.0.log.clone()
    }
}

/// A signature for WebCrypto; hand it back to `EdgeGate.resume`, which consumes it.
#[wasm_bindgen]
pub struct EdgeJob(VerifyJob);

impl EdgeJob {
    pub fn into_inner(self) -> VerifyJob {
        self.0
    }
}

#[wasm_bindgen]
impl EdgeJob {
    /// The JWS `alg` name.
    #[wasm_bindgen(getter)]
    pub fn alg(&self) -> String {
        self.0.alg.name().to_owned()
    }

    /// Stable across requests: key the imported-key cache on it (plus `alg`).
    #[wasm_bindgen(getter)]
    pub fn key_ref(&self) -> String {
        self.0.key_ref.to_string()
    }

    #[wasm_bindgen(getter)]
    pub fn jwk(&self) -> String {
        self.0.jwk.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn message(&self) -> String {
        self.0.message.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn signature(&self) -> Vec<u8> {
        self.0.signature.clone()
    }
}

/// A fetch to run now (plain data: read-only copies of the core's request). JS sends
/// `method`, `accept`, `headers` and `body` as given, then hands this object back with
/// the response; the document it is for travels inside, opaque to JS.
#[wasm_bindgen(getter_with_clone)]
pub struct EdgeFetch {
    doc: DocId,
    /// The owning provider's index (for logs).
    #[wasm_bindgen(readonly)]
    pub provider: u32,
    #[wasm_bindgen(readonly)]
    pub uri: Option<String>,
    #[wasm_bindgen(readonly)]
    pub method: String,
    #[wasm_bindgen(readonly)]
    pub accept: String,
    /// Extra request headers as alternating name, value.
    #[wasm_bindgen(readonly)]
    pub headers: Vec<String>,
    /// Empty for `GET`.
    #[wasm_bindgen(readonly)]
    pub body: Vec<u8>,
    #[wasm_bindgen(readonly)]
    pub timeout_ms: f64,
    #[wasm_bindgen(readonly)]
    pub max_body_bytes: f64,
    /// Validators of the held document: send them as `If-None-Match` /
    /// `If-Modified-Since`, then hand this object back with the response.
    #[wasm_bindgen(readonly)]
    pub if_none_match: Option<String>,
    #[wasm_bindgen(readonly)]
    pub if_modified_since: Option<String>,
}

impl EdgeFetch {
    pub fn doc(&self) -> DocId {
        self.doc
    }
}

/// The fetches due now. Every remote provider has a `uri` at the edge (checked at load);
/// were one missing, the fetch would fail in JS and be reported like any failed fetch.
pub fn fetches(list: &[FetchRequest], cap: impl Fn(DocId) -> usize) -> Vec<EdgeFetch> {
    list.iter()
        .map(|f| EdgeFetch {
            doc: f.doc,
            provider: f.doc.provider as u32,
            uri: f.uri.clone(),
            method: f.method.as_str().to_owned(),
            accept: f.accept.to_owned(),
            headers: flatten(&f.headers),
            body: f.body.clone(),
            timeout_ms: f.timeout_ms as f64,
            max_body_bytes: cap(f.doc) as f64,
            if_none_match: f.if_none_match.clone(),
            if_modified_since: f.if_modified_since.clone(),
        })
        .collect()
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
