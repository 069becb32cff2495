//! The root context's fetch machinery: carries out the core's `FetchRequest`s through
//! `dispatch_http_call`, one VM per process at a time (see `coord.rs`), and feeds every
//! outcome, its own or one another VM published, back into the core.

use crate::coord::{Channel, Published};
use crate::host;
use crate::state::State;
use jwtgate_core::{
    parse_max_age, FetchIdentity, FetchReason, FetchRequest, FetchResult, Gate, JwksSource, KeySetEvent, Validators,
};
use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, LogLevel, MapType};
use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// A JWKS call this VM dispatched and has not heard back from.
struct Call {
    provider: usize,
    kid_triggered: bool,
    sent_at_ms: u64,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
}

impl Call {
    fn sent(&self) -> Validators<'_> {
        Validators { etag: self.if_none_match.as_deref(), last_modified: self.if_modified_since.as_deref() }
    }
}

/// One provider's link to the other VMs.
struct Link {
    /// `None` for inline key sets (nothing to fetch).
    channel: Option<Channel>,
    /// The newest published generation this VM has applied.
    seen_generation: Cell<u64>,
}

impl Link {
    fn saw(&self, generation: u64) {
        self.seen_generation.set(self.seen_generation.get().max(generation));
    }
}

/// Every provider's link, indexed by provider; shared by the root context and the HTTP
/// contexts of one VM.
#[derive(Default)]
pub struct Links(Vec<Link>);

impl Links {
    /// Applies results other VMs published since this VM last looked. Runs on every tick
    /// and before every decision: once any VM has applied a new key set (a rotated-out
    /// key removed, say), no VM of the process decides with the old one. Costs one
    /// 8-byte shared-data read per remote provider when nothing changed.
    pub fn catch_up(&self, state: &mut State, now: u64) -> bool {
        let mut adopted = false;
        for (p, link) in self.0.iter().enumerate() {
            let Some(channel) = link.channel.as_ref() else { continue };
            let seen = link.seen_generation.get();
            if channel.published_generation() <= seen {
                continue;
            }
            let Some(rec) = channel.latest() else { continue };
            if rec.generation > seen {
                link.saw(rec.generation);
                apply_published(state, p, &rec, now);
                adopted = true;
            }
        }
        adopted
    }
}

#[derive(Default)]
pub struct Fetcher {
    /// Outstanding calls by callout token.
    calls: HashMap<u32, Call>,
    links: Rc<Links>,
}

impl Fetcher {
    pub fn open(gate: &Gate) -> Fetcher {
        let links = gate
            .config()
            .providers
            .iter()
            .map(|p| {
                let channel = match &p.jwks {
                    JwksSource::Remote(r) => Some(Channel::new(&p.name, &FetchIdentity::of(r, &p.issuer))),
                    JwksSource::Inline(_) => None,
                };
                Link { channel, seen_generation: Cell::new(0) }
            })
            .collect();
        Fetcher { calls: HashMap::new(), links: Rc::new(Links(links)) }
    }

    /// The links, for the HTTP contexts (see [`Links::catch_up`]).
    pub fn links(&self) -> Rc<Links> {
        Rc::clone(&self.links)
    }

    /// Carries out the fetches the core asks for, unless another VM holds the lease
    /// (its result arrives through `adopt_published`) or published one that answers.
    pub fn start_fetches(&mut self, state: &mut State, now: u64) {
        for f in state.gate.poll_fetches(now) {
            let p = f.provider;
            let Some(link) = self.links.0.get(p) else { continue };
            let Some(channel) = link.channel.as_ref() else { continue };
            if let Some(rec) = channel.latest() {
                if f.satisfied_by(rec.sent_at_ms, rec.succeeded(), rec.kid_triggered, now) {
                    link.saw(rec.generation);
                    apply_published(state, p, &rec, now);
                    continue;
                }
            }
            if !channel.try_lease(now, now + f.timeout_ms + 1000) {
                continue;
            }
            let call = Call {
                provider: p,
                kid_triggered: f.reason == FetchReason::UnknownKid,
                sent_at_ms: now,
                if_none_match: f.if_none_match.clone(),
                if_modified_since: f.if_modified_since.clone(),
            };
            match dispatch(&f) {
                Ok(token) => {
                    self.calls.insert(token, call);
                }
                Err(why) => {
                    let failed = FetchResult { sent: call.sent(), ..FetchResult::no_response(now) };
                    self.finish(state, &call, now, failed, &format!("dispatch failed: {why}"));
                }
            }
        }
    }

    /// The answer to one of this VM's calls; `false` if the token is not a JWKS call.
    pub fn on_response(&mut self, state: &mut State, token: u32, body_size: usize, now: u64) -> bool {
        let Some(call) = self.calls.remove(&token) else { return false };
        let header = |name: &str| host::header(MapType::HttpCallResponseHeaders, name);
        let status = header(":status").and_then(|s| s.parse().ok());
        let etag = header("etag");
        let last_modified = header("last-modified");
        // Read at most one byte past the cap: enough for the core to refuse it.
        let cap = state.gate.fetch_body_cap(call.provider).saturating_add(1);
        let body = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size.min(cap))
            .ok()
            .flatten()
            .unwrap_or_default();
        let result = FetchResult {
            sent_at_ms: call.sent_at_ms,
            status,
            body: &body,
            max_age_s: header("cache-control").and_then(|c| parse_max_age(&c)),
            validators: Validators { etag: etag.as_deref(), last_modified: last_modified.as_deref() },
            sent: call.sent(),
        };
        self.finish(state, &call, now, result, "");
        true
    }

    /// The lease holder's side: publish the outcome for the other VMs, release the lease,
    /// and apply it here. A publish that loses every compare-and-swap is logged and
    /// counted (`jwks_publish_failed`): the other VMs then fetch on their own schedule.
    fn finish(&mut self, state: &mut State, call: &Call, now: u64, result: FetchResult<'_>, extra: &str) {
        let p = call.provider;
        if let Some(link) = self.links.0.get(p) {
            if let Some(channel) = link.channel.as_ref() {
                match channel.publish(&result, call.kid_triggered) {
                    Ok(generation) => link.saw(generation),
                    Err(e) => {
                        let name = provider_name(state, p);
                        host::log(
                            LogLevel::Warn,
                            &format!(
                                "jwtgate: provider {name}: could not publish the JWKS result to the other VMs ({e:?})"
                            ),
                        );
                        state.metrics.count("jwks_publish_failed");
                    }
                }
                channel.release();
            }
        }
        if let Some(event) = state.gate.on_fetch_result(p, now, result) {
            report(state, p, &event, extra);
            let name =
                if matches!(event, KeySetEvent::Failed { .. }) { "jwks_fetch_failed" } else { "jwks_fetch_success" };
            state.metrics.count(name);
        }
    }
}

fn dispatch(f: &FetchRequest) -> Result<u32, String> {
    let cluster = f.cluster.as_deref().ok_or("no cluster configured")?;
    let mut headers = vec![
        (":method", "GET"),
        (":path", f.path.as_str()),
        (":authority", f.authority.as_str()),
        ("accept", "application/json, application/jwk-set+json"),
        ("user-agent", "jwtgate"),
    ];
    if let Some(v) = f.if_none_match.as_deref() {
        headers.push(("if-none-match", v));
    }
    if let Some(v) = f.if_modified_since.as_deref() {
        headers.push(("if-modified-since", v));
    }
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

fn provider_name(state: &State, p: usize) -> String {
    state.gate.config().providers.get(p).map_or("?", |p| p.name.as_str()).to_owned()
}

/// One log line per key-set state change, and the key-count gauge.
fn report(state: &mut State, provider: usize, event: &KeySetEvent, extra: &str) {
    let name = provider_name(state, provider);
    let level = if matches!(event, KeySetEvent::Failed { .. }) { LogLevel::Warn } else { LogLevel::Info };
    let sep = if extra.is_empty() { "" } else { " " };
    host::log(level, &format!("jwtgate: provider {name}: {event}{sep}{extra}"));
    let keys = state.gate.key_count(provider) as u64;
    state.metrics.gauge(&format!("jwks_keys.{name}"), keys);
}
