//! The root context: loads the config, runs JWKS fetches the core asks for through
//! `dispatch_http_call`, and decides held requests again when keys arrive or holds expire.

use crate::host;
use crate::http::{carry_out, Request};
use crate::metrics::Metrics;
use crate::state::{Shared, State};
use jwtgate_core::{parse_max_age, Decision, FetchRequest, FetchResult, Gate, KeySetEvent, RequestView, Wait};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

const TICK: Duration = Duration::from_millis(200);

pub struct Root {
    id: u32,
    shared: Option<Shared>,
    /// Outstanding JWKS calls: callout token → provider index.
    calls: HashMap<u32, usize>,
}

impl Root {
    pub fn new(id: u32) -> Root {
        Root { id, shared: None, calls: HashMap::new() }
    }

    fn load(&self) -> Result<Gate, String> {
        let bytes = self.get_plugin_configuration().ok_or("no plugin configuration was given")?;
        let text = std::str::from_utf8(&bytes).map_err(|_| "the plugin configuration is not UTF-8")?;
        let seed = host::now_ms() ^ (u64::from(self.id) << 32);
        let gate = Gate::from_json(text, seed).map_err(|e| e.to_string())?;
        for p in &gate.config().providers {
            if let jwtgate_core::JwksSource::Remote(r) = &p.jwks {
                if r.cluster.is_none() {
                    return Err(format!(
                        "invalid config at `providers.{}.jwks.cluster`: required in Envoy (the cluster that reaches the IdP)",
                        p.name
                    ));
                }
            }
        }
        Ok(gate)
    }

    fn start_fetches(&mut self, state: &mut State, now: u64) {
        for f in state.gate.poll_fetches(now) {
            match dispatch(&f) {
                Ok(token) => {
                    self.calls.insert(token, f.provider);
                }
                Err(why) => {
                    let failed = FetchResult { status: None, body: &[], max_age_s: None };
                    if let Some(event) = state.gate.on_fetch_result(f.provider, now, failed) {
                        report(state, f.provider, &event, &format!("dispatch failed: {why}"));
                    }
                }
            }
        }
    }

    /// Decides every held request again; expired holds get their final answer.
    fn revisit_held(&self, state: &mut State, now: u64) {
        let hold_ms = state.gate.config().startup_hold_ms;
        let ids: Vec<u32> = state.held.keys().copied().collect();
        for id in ids {
            let Some(held) = state.held.get(&id) else { continue };
            let wait = if now.saturating_sub(held.since_ms) >= hold_ms { Wait::NotAllowed } else { Wait::Allowed };
            let view = RequestView { method: &held.method, path: &held.path, headers: &held.headers };
            let decision = state.gate.decide(&view, now, wait);
            if matches!(decision, Decision::NeedKeys { .. }) {
                continue;
            }
            state.held.remove(&id);
            if hostcalls::set_effective_context(id).is_err() {
                continue;
            }
            if let Some(Action::Continue) = carry_out(&decision, &mut state.metrics) {
                let _ = hostcalls::resume_http_request();
            }
        }
        let _ = hostcalls::set_effective_context(self.id);
    }
}

fn dispatch(f: &FetchRequest) -> Result<u32, String> {
    let cluster = f.cluster.as_deref().ok_or("no cluster configured")?;
    let headers = vec![
        (":method", "GET"),
        (":path", f.path.as_str()),
        (":authority", f.authority.as_str()),
        ("accept", "application/json, application/jwk-set+json"),
        ("user-agent", "jwtgate"),
    ];
    hostcalls::dispatch_http_call(cluster, headers, None, vec![], Duration::from_millis(f.timeout_ms))
        .map_err(|s| format!("{s:?}"))
}

fn report(state: &mut State, provider: usize, event: &KeySetEvent, extra: &str) {
    let name = state.gate.config().providers.get(provider).map_or("?", |p| p.name.as_str()).to_owned();
    let level = if matches!(event, KeySetEvent::Failed { .. }) { LogLevel::Warn } else { LogLevel::Info };
    let sep = if extra.is_empty() { "" } else { " — " };
    host::log(level, &format!("jwtgate: provider {name}: {event}{sep}{extra}"));
    match event {
        KeySetEvent::Failed { .. } => state.metrics.count("jwks_fetch_failed"),
        _ => state.metrics.count("jwks_fetch_success"),
    }
    let keys = state.gate.key_count(provider) as u64;
    state.metrics.gauge("jwks_keys", keys);
}

impl Context for Root {
    fn on_http_call_response(&mut self, token: u32, _headers: usize, body_size: usize, _trailers: usize) {
        let Some(provider) = self.calls.remove(&token) else { return };
        let Some(shared) = self.shared.clone() else { return };
        let mut state = shared.borrow_mut();
        let status = host::header(MapType::HttpCallResponseHeaders, ":status").and_then(|s| s.parse().ok());
        let max_age_s = host::header(MapType::HttpCallResponseHeaders, "cache-control").and_then(|c| parse_max_age(&c));
        // Read at most one byte past the cap: enough for the core to refuse it.
        let cap = state.gate.fetch_body_cap(provider).saturating_add(1);
        let body = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size.min(cap))
            .ok()
            .flatten()
            .unwrap_or_default();
        let now = host::now_ms();
        let result = FetchResult { status, body: &body, max_age_s };
        if let Some(event) = state.gate.on_fetch_result(provider, now, result) {
            report(&mut state, provider, &event, "");
        }
        self.revisit_held(&mut state, now);
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        match self.load() {
            Ok(gate) => {
                let state = State { gate, held: Default::default(), metrics: Metrics::default() };
                self.shared = Some(Rc::new(RefCell::new(state)));
                let _ = hostcalls::set_tick_period(TICK);
                host::log(LogLevel::Info, "jwtgate: configuration loaded");
                true
            }
            Err(e) => {
                host::log(LogLevel::Critical, &format!("jwtgate: {e}"));
                false
            }
        }
    }

    fn on_tick(&mut self) {
        let Some(shared) = self.shared.clone() else { return };
        let mut state = shared.borrow_mut();
        let now = host::now_ms();
        self.start_fetches(&mut state, now);
        if !state.held.is_empty() {
            self.revisit_held(&mut state, now);
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        match &self.shared {
            Some(shared) => Some(Box::new(Request { id: context_id, shared: Rc::clone(shared) })),
            None => Some(Box::new(Unconfigured)),
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// Serves requests when the plugin has no valid config: fail closed with 503.
struct Unconfigured;

impl Context for Unconfigured {}

impl HttpContext for Unconfigured {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        let body = br#"{"error":"temporarily_unavailable","error_description":"jwtgate is not configured"}"#;
        let _ = hostcalls::send_http_response(503, vec![("content-type", "application/json")], Some(body));
        Action::Pause
    }
}
