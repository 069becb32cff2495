//! The root context: loads the config, runs JWKS fetches the core asks for through
//! `dispatch_http_call`, and decides held requests again when keys arrive or holds expire.

use crate::coord::{Channel, Published};
use crate::host;
use crate::http::{carry_out, Request};
use crate::metrics::Metrics;
use crate::native::EnvoyVerifier;
use crate::state::{Shared, State};
use jwtgate_core::{
    parse_max_age, Decision, Denial, FetchReason, FetchRequest, FetchResult, Gate, HostKind, KeySetEvent, RequestView,
    Verifier,
};
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
    /// Outstanding JWKS calls: callout token → (provider index, kid-triggered, started at).
    calls: HashMap<u32, (usize, bool, u64)>,
    /// Per provider: the shared-data channel (remote providers only) and the newest
    /// published generation this VM has applied.
    channels: Vec<Option<Channel>>,
    seen: Vec<u64>,
}

impl Root {
    pub fn new(id: u32) -> Root {
        Root { id, shared: None, calls: HashMap::new(), channels: Vec::new(), seen: Vec::new() }
    }

    fn open_channels(&mut self, gate: &Gate) {
        for p in &gate.config().providers {
            let channel = match &p.jwks {
                jwtgate_core::JwksSource::Remote(r) => {
                    Some(Channel::new(&p.name, r.cluster.as_deref().unwrap_or_default(), &r.path))
                }
                jwtgate_core::JwksSource::Inline(_) => None,
            };
            self.channels.push(channel);
            self.seen.push(0);
        }
    }

    /// Applies results other VMs published since this VM last looked.
    fn adopt_published(&mut self, state: &mut State, now: u64) -> bool {
        let mut adopted = false;
        for p in 0..self.channels.len() {
            let Some(rec) = self.channels[p].as_ref().and_then(Channel::latest) else { continue };
            if rec.generation > self.seen[p] {
                self.seen[p] = rec.generation;
                apply_published(state, p, &rec, now);
                adopted = true;
            }
        }
        adopted
    }

    fn load(&self) -> Result<Gate, String> {
        let bytes = self.get_plugin_configuration().ok_or("no plugin configuration was given")?;
        let text = std::str::from_utf8(&bytes).map_err(|_| "the plugin configuration is not UTF-8")?;
        let seed = host::now_ms() ^ (u64::from(self.id) << 32);
        let config = HostKind::Envoy.load_config(text).map_err(|e| e.to_string())?;
        let verifier = if config.prefer_native { native_verifier() } else { Verifier::Software };
        Ok(Gate::new(config, verifier, seed))
    }

    /// Carries out the fetches the core asks for, unless another VM holds the lease
    /// (its result arrives through `adopt_published`) or published one moments ago.
    fn start_fetches(&mut self, state: &mut State, now: u64) {
        for f in state.gate.poll_fetches(now) {
            let p = f.provider;
            let Some(channel) = self.channels.get(p).and_then(Option::as_ref) else { continue };
            if let Some(rec) = channel.latest() {
                if f.satisfied_by(rec.fetched_at_ms, rec.succeeded(), rec.kid_triggered, now) {
                    self.seen[p] = self.seen[p].max(rec.generation);
                    apply_published(state, p, &rec, now);
                    continue;
                }
            }
            if !channel.try_lease(now, now + f.timeout_ms + 1000) {
                continue;
            }
            match dispatch(&f) {
                Ok(token) => {
                    self.calls.insert(token, (p, f.reason == FetchReason::UnknownKid, now));
                }
                Err(why) => {
                    let failed = FetchResult { status: None, body: &[], max_age_s: None };
                    let kid = f.reason == FetchReason::UnknownKid;
                    self.finish_fetch(state, p, now, now, failed, kid, &format!("dispatch failed: {why}"));
                }
            }
        }
    }

    /// The lease holder's side: publish the outcome for the other VMs, release the
    /// lease, and apply it here. The outcome is stamped with the time the fetch *started*:
    /// a fetch that was already under way when a token with a new kid arrived cannot
    /// know that key, even if it completes afterwards.
    #[allow(clippy::too_many_arguments)]
    fn finish_fetch(
        &mut self,
        state: &mut State,
        p: usize,
        now: u64,
        started: u64,
        result: FetchResult<'_>,
        kid: bool,
        extra: &str,
    ) {
        if let Some(channel) = self.channels.get(p).and_then(Option::as_ref) {
            let generation = channel.publish(started, &result, kid);
            self.seen[p] = self.seen[p].max(generation);
            channel.release();
        }
        if let Some(event) = state.gate.on_fetch_result(p, now, result) {
            report(state, p, &event, extra);
            let name =
                if matches!(event, KeySetEvent::Failed { .. }) { "jwks_fetch_failed" } else { "jwks_fetch_success" };
            state.metrics.count(name);
        }
    }

    /// Decides every held request again; the core ends holds that ran out.
    fn revisit_held(&self, state: &mut State, now: u64) {
        let ids: Vec<u32> = state.held.keys().copied().collect();
        for id in ids {
            let Some(held) = state.held.get(&id) else { continue };
            let view = RequestView { method: &held.method, path: &held.path, headers: &held.headers };
            let decision = state.gate.decide(&view, now, held.since_ms);
            if matches!(decision, Decision::NeedKeys { .. }) {
                continue;
            }
            state.held.remove(&id);
            if hostcalls::set_effective_context(id).is_err() {
                continue;
            }
            if let Some(Action::Continue) = carry_out(id, &decision, state) {
                let _ = hostcalls::resume_http_request();
            }
        }
        let _ = hostcalls::set_effective_context(self.id);
    }
}

/// Envoy's BoringSSL verifier when the host has it and it passes the self-test.
fn native_verifier() -> Verifier {
    let Some(native) = EnvoyVerifier::detect() else {
        host::log(LogLevel::Info, "jwtgate: host has no verify_signature; using the software verifier");
        return Verifier::Software;
    };
    match jwtgate_core::native_self_test(&native) {
        Ok(()) => {
            host::log(
                LogLevel::Info,
                "jwtgate: verifying RS*/ES* signatures with Envoy's verify_signature (BoringSSL)",
            );
            Verifier::Native(Box::new(native))
        }
        Err(e) => {
            host::log(LogLevel::Warn, &format!("jwtgate: native verifier failed its self-test ({e}); using software"));
            Verifier::Software
        }
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

/// Applies a result another VM fetched (or this one, earlier). Only changes are logged;
/// fetch counters belong to the VM that fetched.
fn apply_published(state: &mut State, p: usize, rec: &Published, now: u64) {
    if let Some(event) = state.gate.on_fetch_result(p, now, rec.as_result()) {
        if event != KeySetEvent::Unchanged {
            report(state, p, &event, "(fetched by another VM)");
        }
    }
}

/// One log line per key-set state change, and the key-count gauge.
fn report(state: &mut State, provider: usize, event: &KeySetEvent, extra: &str) {
    let name = state.gate.config().providers.get(provider).map_or("?", |p| p.name.as_str()).to_owned();
    let level = if matches!(event, KeySetEvent::Failed { .. }) { LogLevel::Warn } else { LogLevel::Info };
    let sep = if extra.is_empty() { "" } else { " " };
    host::log(level, &format!("jwtgate: provider {name}: {event}{sep}{extra}"));
    let keys = state.gate.key_count(provider) as u64;
    state.metrics.gauge(&format!("jwks_keys.{name}"), keys);
}

impl Context for Root {
    fn on_http_call_response(&mut self, token: u32, _headers: usize, body_size: usize, _trailers: usize) {
        let Some((provider, kid, started)) = self.calls.remove(&token) else { return };
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
        self.finish_fetch(&mut state, provider, now, started, result, kid, "");
        self.revisit_held(&mut state, now);
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        match self.load() {
            Ok(gate) => {
                self.open_channels(&gate);
                let state =
                    State { gate, held: Default::default(), metrics: Metrics::default(), respond: Default::default() };
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
        self.adopt_published(&mut state, now);
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

/// Serves requests when the plugin has no valid config: fail closed with the core's 503.
struct Unconfigured;

impl Context for Unconfigured {}

impl HttpContext for Unconfigured {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        crate::apply::deny(&Denial::unconfigured());
        Action::Pause
    }
}
