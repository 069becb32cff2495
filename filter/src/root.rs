//! The root context: loads the config, runs JWKS fetches the core asks for through
//! `dispatch_http_call`, and decides held requests again when keys arrive or holds expire.

use crate::fetch::Fetcher;
use crate::host;
use crate::http::{carry_out, Request};
use crate::metrics::Metrics;
use crate::native::EnvoyVerifier;
use crate::state::{Shared, State};
use jwtgate_core::{Connection, Decision, Denial, Gate, HostKind, RequestView, Verifier};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

const TICK: Duration = Duration::from_millis(200);
/// The tick while an introspection call is waiting to be sent (set by the HTTP context
/// that held a request for it; back to `TICK` once sent).
pub const FAST_TICK: Duration = Duration::from_millis(2);
/// The tick while introspection calls wait for another VM's answer (shared answers).
const WAIT_TICK: Duration = Duration::from_millis(5);

pub struct Root {
    id: u32,
    shared: Option<Shared>,
    fetcher: Fetcher,
    /// The tick is `WAIT_TICK` (calls wait for another VM's answer).
    waiting: bool,
}

impl Root {
    pub fn new(id: u32) -> Root {
        Root { id, shared: None, fetcher: Fetcher::default(), waiting: false }
    }

    fn load(&self) -> Result<Gate, String> {
        let bytes = self.get_plugin_configuration().ok_or("no plugin configuration was given")?;
        let text = std::str::from_utf8(&bytes).map_err(|_| "the plugin configuration is not UTF-8")?;
        let seed = host::now_ms() ^ (u64::from(self.id) << 32);
        let config = HostKind::Envoy.load_config(text).map_err(|e| e.to_string())?;
        let verifier = if config.prefer_native { native_verifier() } else { Verifier::Software };
        let dpop = config.uses_dpop().then_some(config.dpop.replay_cache_size);
        let mut gate = Gate::new(config, verifier, seed);
        if let Some(size) = dpop {
            gate.set_replay_store(Box::new(crate::replay::SharedReplay::open(size)));
        }
        Ok(gate)
    }

    /// Decides every held request again; the core ends holds that ran out.
    fn revisit_held(&self, state: &mut State, now: u64) {
        let ids: Vec<u32> = state.held.keys().copied().collect();
        for id in ids {
            let Some(held) = state.held.get(&id) else { continue };
            let conn = Connection { scheme: None, client_cert_sha256: held.client_cert };
            let view = RequestView { method: &held.method, path: &held.path, headers: &held.headers, conn };
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

impl Context for Root {
    fn on_http_call_response(&mut self, token: u32, _headers: usize, body_size: usize, _trailers: usize) {
        let Some(shared) = self.shared.clone() else { return };
        let mut state = shared.borrow_mut();
        let now = host::now_ms();
        if self.fetcher.on_response(&mut state, token, body_size, now) {
            self.revisit_held(&mut state, now);
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        match self.load() {
            Ok(gate) => {
                self.fetcher = Fetcher::open(&gate);
                let warnings = gate.config().warnings();
                let client_certs = gate.config().uses_client_certs();
                let logins = gate.config().uses_login();
                let state = State {
                    gate,
                    held: Default::default(),
                    metrics: Metrics::default(),
                    respond: Default::default(),
                    client_certs,
                    logins,
                    logouts_seen: 0,
                };
                self.shared = Some(Rc::new(RefCell::new(state)));
                let _ = hostcalls::set_tick_period(TICK);
                host::log(LogLevel::Info, "jwtgate: configuration loaded");
                for w in &warnings {
                    host::log(LogLevel::Warn, &format!("jwtgate: {w}"));
                }
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
        crate::memory::report();
        let now = host::now_ms();
        self.fetcher.links().catch_up(&mut state, now);
        crate::logout::catch_up(&mut state);
        let fast = state.gate.has_unsent_calls();
        self.fetcher.start_fetches(&mut state, now);
        let waiting = self.fetcher.waiting();
        if waiting != self.waiting || fast {
            let _ = hostcalls::set_tick_period(if waiting { WAIT_TICK } else { TICK });
            self.waiting = waiting;
        }
        if !state.held.is_empty() {
            self.revisit_held(&mut state, now);
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        match &self.shared {
            Some(shared) => Some(Box::new(Request {
                id: context_id,
                shared: Rc::clone(shared),
                links: self.fetcher.links(),
                body_limit: None,
            })),
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

#[cfg(test)]
#[path = "root_tests.rs"]
pub(crate) mod tests;

#[cfg(test)]
#[path = "root_introspect_tests.rs"]
mod introspect_tests;

/// Helpers the HTTP context's tests share with the root's.
#[cfg(test)]
#[path = "root_support_tests.rs"]
pub(crate) mod test_support;
