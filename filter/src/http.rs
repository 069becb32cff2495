//! The per-request context: build the request view, ask the core, carry out the answer.

use crate::apply;
use crate::fetch::Links;
use crate::host;
use crate::state::{Held, Shared, State};
use jwtgate_core::{Connection, Decision, Denial, Mode, RequestView};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel, MapType};
use std::rc::Rc;

pub struct Request {
    pub id: u32,
    pub shared: Shared,
    /// Key sets other VMs published, applied before deciding (see `Links::catch_up`).
    pub links: Rc<Links>,
    /// Set when the core asked for the body (`Decision::NeedBody`): read at most this much.
    pub body_limit: Option<usize>,
}

impl Context for Request {}

impl HttpContext for Request {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let headers = host::headers(MapType::HttpRequestHeaders);
        let method = header_value(&headers, ":method");
        let path = header_value(&headers, ":path");
        let now = host::now_ms();
        let mut state = self.shared.borrow_mut();
        // Test builds only; placed after the lines above so the default wasm stays byte-identical.
        #[cfg(feature = "vector-endpoint")]
        if let Some(action) = crate::vectors::on_request_headers(&method, &path, _end_of_stream) {
            return action;
        }
        self.links.catch_up(&mut state, now);
        crate::logout::catch_up(&mut state);
        let client_cert = if state.client_certs { host::client_cert_sha256() } else { None };
        let conn = Connection { scheme: None, client_cert_sha256: client_cert };
        let view = RequestView { method: &method, path: &path, headers: &headers, conn };
        let decision = state.gate.decide(&view, now, now);
        if let Decision::NeedBody { max_bytes } = decision {
            if !_end_of_stream {
                self.body_limit = Some(max_bytes);
                return Action::Pause;
            }
            let decision = state.gate.decide_body(&view, &[], now);
            return carry_out(self.id, &decision, &mut state).unwrap_or(Action::Pause);
        }
        match carry_out(self.id, &decision, &mut state) {
            Some(action) => action,
            None => {
                state.held.insert(self.id, Held { method, path, headers, client_cert, since_ms: now });
                state.metrics.count("held_requests");
                // An introspection call waits for the root's next tick: make it come now
                // (Envoy applies a stream context's tick period to its root context).
                if state.gate.has_unsent_calls() {
                    let _ = proxy_wasm::hostcalls::set_tick_period(crate::root::FAST_TICK);
                }
                Action::Pause
            }
        }
    }

    /// A held request must not stream its body upstream before the gate has decided
    /// (hosts that honour a headers-stage pause never call this; others might).
    fn on_http_request_body(&mut self, _body_size: usize, _end_of_stream: bool) -> Action {
        #[cfg(feature = "vector-endpoint")]
        if let Some(action) = crate::vectors::on_request_body(_body_size, _end_of_stream) {
            return action;
        }
        if let Some(limit) = self.body_limit {
            return self.decide_body(limit, _body_size, _end_of_stream);
        }
        self.held_action()
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        self.held_action()
    }

    /// The report-only header goes on the response only (never upstream).
    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let pending = self.shared.try_borrow_mut().ok().and_then(|mut s| s.respond.remove(&self.id));
        for (name, value) in pending.unwrap_or_default() {
            // A refreshed session's cookies: `set-cookie` repeats, so it is added.
            let _ = if name == "set-cookie" {
                proxy_wasm::hostcalls::add_map_value(MapType::HttpResponseHeaders, &name, &value)
            } else {
                proxy_wasm::hostcalls::set_map_value(MapType::HttpResponseHeaders, &name, Some(&value))
            };
        }
        Action::Continue
    }
}

impl Request {
    /// The body the core asked for, once complete (Envoy buffers it meanwhile): decided
    /// by `Gate::decide_body`; a logout it applied is shared with the other VMs.
    fn decide_body(&mut self, limit: usize, size: usize, end_of_stream: bool) -> Action {
        if size > limit {
            self.body_limit = None;
            apply::respond(&jwtgate_core::Response::json(413, "invalid_request", "the request body is too large"));
            return Action::Pause;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        self.body_limit = None;
        let body = proxy_wasm::hostcalls::get_buffer(proxy_wasm::types::BufferType::HttpRequestBody, 0, size)
            .ok()
            .flatten()
            .unwrap_or_default();
        let headers = host::headers(MapType::HttpRequestHeaders);
        let (method, path) = (header_value(&headers, ":method"), header_value(&headers, ":path"));
        let view = RequestView { method: &method, path: &path, headers: &headers, conn: Connection::default() };
        let Ok(mut state) = self.shared.try_borrow_mut() else { return Action::Pause };
        let decision = state.gate.decide_body(&view, &body, host::now_ms());
        crate::logout::publish(&mut state);
        carry_out(self.id, &decision, &mut state).unwrap_or(Action::Pause)
    }

    fn held_action(&self) -> Action {
        match self.shared.try_borrow() {
            Ok(state) if !state.held.contains_key(&self.id) => Action::Continue,
            _ => Action::Pause,
        }
    }
}

impl Drop for Request {
    /// A held stream that the client reset must not be resumed later.
    fn drop(&mut self) {
        if let Ok(mut state) = self.shared.try_borrow_mut() {
            state.held.remove(&self.id);
            state.respond.remove(&self.id);
        }
    }
}

/// Applies a decision to the current context (HTTP context `id`). `None` means "hold
/// the request".
pub fn carry_out(id: u32, decision: &Decision, state: &mut State) -> Option<Action> {
    let metrics = &mut state.metrics;
    match decision {
        Decision::Allow(a) => {
            apply::allow(a);
            if let Some(v) = &a.verdict {
                metrics.count(&v.stat_name());
                if v.mode == Mode::ReportOnly {
                    crate::host::log(LogLevel::Info, &v.log_line(a.token_hash.as_deref()));
                }
            }
            if !a.response_headers.is_empty() {
                state.respond.insert(id, a.response_headers.clone());
            }
            metrics.count("allowed");
            if a.stale_keys {
                metrics.count("jwks_stale_served");
            }
            Some(Action::Continue)
        }
        Decision::Deny(d) => {
            apply::deny(d);
            metrics.count(&format!("denied.{}", d.reason.metric_reason()));
            if let Some(v) = &d.verdict {
                metrics.count(&v.stat_name());
            }
            Some(Action::Pause)
        }
        Decision::Respond(r) => {
            apply::respond(r);
            metrics.count(&format!("session_responses.{}", r.status));
            Some(Action::Pause)
        }
        Decision::NeedKeys { .. } => None,
        // Handled before `carry_out` (the body is read first); never from a re-decision.
        Decision::NeedBody { .. } => {
            let d = Denial::internal_error("unexpected body request");
            apply::deny(&d);
            Some(Action::Pause)
        }
        // Never produced here: only a gate built with `Verifier::Async` asks, and Envoy's
        // verifier is synchronous. Fail closed all the same, with the core's 500.
        Decision::Verify(_) => {
            let d = Denial::internal_error("unexpected verification request");
            apply::deny(&d);
            metrics.count(&format!("denied.{}", d.reason.metric_reason()));
            Some(Action::Pause)
        }
    }
}

fn header_value(headers: &[(String, String)], name: &str) -> String {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
