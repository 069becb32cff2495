//! The root context's fetch machinery: carries out the core's `FetchRequest`s through
//! `dispatch_http_call`, one VM per process at a time (see `coord.rs`), and feeds every
//! outcome, its own or one another VM published, back into the core.

use crate::answers::{self, Route, SharedAnswers, Slot};
use crate::coord::{Channel, Published};
use crate::host;
use crate::state::State;
use jwtgate_core::{parse_max_age, DocEvent, DocId, FetchReason, FetchRequest, FetchResult, Gate, Validators};
use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, LogLevel, MapType};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// A fetch this VM dispatched and has not heard back from.
struct Call {
    doc: DocId,
    kid_triggered: bool,
    sent_at_ms: u64,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
    /// An introspection call's slot in the table shared with the other VMs.
    slot: Option<Slot>,
}

impl Call {
    fn sent(&self) -> Validators<'_> {
        Validators { etag: self.if_none_match.as_deref(), last_modified: self.if_modified_since.as_deref() }
    }
}

/// One fetched document's link to the other VMs.
struct Link {
    channel: Channel,
    /// The newest published generation this VM has applied.
    seen_generation: Cell<u64>,
}

impl Link {
    fn saw(&self, generation: u64) {
        self.seen_generation.set(self.seen_generation.get().max(generation));
    }
}

/// Every fetched document's link, shared by the root context and the HTTP contexts of
/// one VM. Documents known at load get theirs at once; others (named later by a token)
/// when their first fetch is asked for. Ordered, so every VM catches up in one order.
#[derive(Default)]
pub struct Links(RefCell<BTreeMap<DocId, Link>>);

impl Links {
    /// Applies results other VMs published since this VM last looked. Runs on every tick
    /// and before every decision: once any VM has applied a new document (a key set with
    /// a rotated-out key removed, say), no VM of the process decides with the old one.
    /// Costs one 8-byte shared-data read per fetched document when nothing changed.
    pub fn catch_up(&self, state: &mut State, now: u64) -> bool {
        let mut adopted = false;
        for (doc, link) in self.0.borrow().iter() {
            let seen = link.seen_generation.get();
            if link.channel.published_generation() <= seen {
                continue;
            }
            let Some(rec) = link.channel.latest() else { continue };
            if rec.generation > seen {
                link.saw(rec.generation);
                apply_published(state, *doc, &rec, now);
                adopted = true;
            }
        }
        adopted
    }

    /// Opens the link of `doc` unless it exists; `false` if the gate does not fetch it.
    fn ensure(&self, gate: &Gate, doc: DocId) -> bool {
        let mut links = self.0.borrow_mut();
        if links.contains_key(&doc) {
            return true;
        }
        let Some(identity) = gate.fetch_identity(doc) else { return false };
        let channel = Channel::new(&provider_name(gate, doc.provider), doc.kind.label(), &identity);
        links.insert(doc, Link { channel, seen_generation: Cell::new(0) });
        true
    }
}

#[derive(Default)]
pub struct Fetcher {
    /// Outstanding calls by callout token.
    calls: HashMap<u32, Call>,
    links: Rc<Links>,
    answers: SharedAnswers,
}

impl Fetcher {
    pub fn open(gate: &Gate) -> Fetcher {
        let links = Links::default();
        for (doc, _) in gate.remote_docs() {
            links.ensure(gate, doc);
        }
        Fetcher { calls: HashMap::new(), links: Rc::new(links), answers: SharedAnswers::open(gate) }
    }

    /// The links, for the HTTP contexts (see [`Links::catch_up`]).
    pub fn links(&self) -> Rc<Links> {
        Rc::clone(&self.links)
    }

    /// Whether introspection calls wait for another VM's answer (tick fast meanwhile).
    pub fn waiting(&self) -> bool {
        self.answers.waiting()
    }

    /// Carries out the fetches the core asks for, unless another VM holds the lease
    /// (its result arrives through `adopt_published`) or published one that answers.
    pub fn start_fetches(&mut self, state: &mut State, now: u64) {
        for route in self.answers.poll(now) {
            self.take_route(state, route, now);
        }
        for f in state.gate.poll_fetches(now) {
            let doc = f.doc;
            // An introspection call: one per token, through the shared answer table.
            if !doc.kind.shared() {
                let route = self.answers.route(&state.gate, f, now);
                self.take_route(state, route, now);
                continue;
            }
            if !self.links.ensure(&state.gate, doc) {
                continue;
            }
            let leased = {
                let links = self.links.0.borrow();
                let Some(link) = links.get(&doc) else { continue };
                match link.channel.latest() {
                    Some(rec) if f.satisfied_by(rec.sent_at_ms, rec.succeeded(), rec.kid_triggered, now) => {
                        link.saw(rec.generation);
                        Err(rec)
                    }
                    _ => Ok(link.channel.try_lease(now, now + f.timeout_ms + 1000)),
                }
            };
            match leased {
                Err(rec) => apply_published(state, doc, &rec, now),
                Ok(false) => {}
                Ok(true) => self.dispatch_call(state, &f, now, None),
            }
        }
    }

    /// Sends an introspection call, applies another VM's answer, or waits for it.
    fn take_route(&mut self, state: &mut State, route: Route, now: u64) {
        match route {
            Route::Call(f, slot) => self.dispatch_call(state, &f, now, slot),
            Route::Adopt { doc, answered_at_ms, status, body } => {
                let r = FetchResult { status: Some(status), body: &body, ..FetchResult::no_response(answered_at_ms) };
                if let Some(event) = state.gate.on_fetch_result(doc, answered_at_ms, r) {
                    report(state, doc, &event, "(answered by another VM)");
                    state.metrics.count("introspection_shared_hit");
                }
            }
            Route::Wait => {}
        }
    }

    /// Sends `f` (this VM holds its lease); a refused dispatch is a failed fetch.
    fn dispatch_call(&mut self, state: &mut State, f: &FetchRequest, now: u64, slot: Option<Slot>) {
        let call = Call {
            doc: f.doc,
            kid_triggered: f.reason == FetchReason::UnknownKid,
            sent_at_ms: now,
            if_none_match: f.if_none_match.clone(),
            if_modified_since: f.if_modified_since.clone(),
            slot,
        };
        match dispatch(f) {
            Ok(token) => {
                self.calls.insert(token, call);
            }
            Err(why) => {
                let failed = FetchResult { sent: call.sent(), ..FetchResult::no_response(now) };
                self.finish(state, &call, now, failed, &format!("dispatch failed: {why}"));
            }
        }
    }

    /// The answer to one of this VM's calls; `false` if the token is not a fetch call.
    pub fn on_response(&mut self, state: &mut State, token: u32, body_size: usize, now: u64) -> bool {
        let Some(call) = self.calls.remove(&token) else { return false };
        let header = |name: &str| host::header(MapType::HttpCallResponseHeaders, name);
        let status = header(":status").and_then(|s| s.parse().ok());
        let etag = header("etag");
        let last_modified = header("last-modified");
        // Read at most one byte past the cap: enough for the core to refuse it.
        let cap = state.gate.fetch_body_cap(call.doc).saturating_add(1);
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
        // A failed answer says why in its body (Envoy's own 503 names a TLS or connect
        // failure: "CERTIFICATE_VERIFY_FAILED"); a 2xx body is never logged.
        let why = match status {
            Some(s) if !(200..300).contains(&s) => failure_hint(&body),
            _ => String::new(),
        };
        self.finish(state, &call, now, result, &why);
        true
    }

    /// The lease holder's side: publish the outcome for the other VMs, release the lease,
    /// and apply it here. A publish that loses every compare-and-swap is logged and
    /// counted (`<label>_publish_failed`): the other VMs then fetch on their own schedule.
    fn finish(&mut self, state: &mut State, call: &Call, now: u64, result: FetchResult<'_>, extra: &str) {
        let doc = call.doc;
        let label = doc.kind.label();
        if let Some(link) = self.links.0.borrow().get(&doc) {
            match link.channel.publish(&result, call.kid_triggered) {
                Ok(generation) => link.saw(generation),
                Err(e) => {
                    let name = provider_name(&state.gate, doc.provider);
                    host::log(
                        LogLevel::Warn,
                        &format!(
                            "jwtgate: provider {name}: could not publish the {label} result to the other VMs ({e:?})"
                        ),
                    );
                    state.metrics.count(&format!("{label}_publish_failed"));
                }
            }
            link.channel.release();
        }
        let (status, body) = (result.status, result.body);
        if let Some(event) = state.gate.on_fetch_result(doc, now, result) {
            if let Some(slot) = &call.slot {
                let until = state.gate.introspection_until(doc.provider, &slot.digest());
                answers::publish(slot, now, until, status, body);
            }
            report(state, doc, &event, extra);
            let outcome = if event.failed() { "fetch_failed" } else { "fetch_success" };
            state.metrics.count(&format!("{label}_{outcome}"));
        }
    }
}

/// The start of a failed response's body for the log line: printable ASCII only, at
/// most 160 bytes.
fn failure_hint(body: &[u8]) -> String {
    let text: String =
        body.iter().take(160).map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { ' ' }).collect();
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!("(response: {text})")
    }
}

fn dispatch(f: &FetchRequest) -> Result<u32, String> {
    let cluster = f.cluster.as_deref().ok_or("no cluster configured")?;
    let mut headers = vec![
        (":method", f.method.as_str()),
        (":path", f.path.as_str()),
        (":authority", f.authority.as_str()),
        ("accept", f.accept),
        ("user-agent", "jwtgate"),
    ];
    headers.extend(f.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if let Some(v) = f.if_none_match.as_deref() {
        headers.push(("if-none-match", v));
    }
    if let Some(v) = f.if_modified_since.as_deref() {
        headers.push(("if-modified-since", v));
    }
    let body = (!f.body.is_empty()).then_some(f.body.as_slice());
    hostcalls::dispatch_http_call(cluster, headers, body, vec![], Duration::from_millis(f.timeout_ms))
        .map_err(|s| format!("{s:?}"))
}

/// Applies a result another VM fetched (or this one, earlier). Only changes are logged;
/// fetch counters belong to the VM that fetched.
fn apply_published(state: &mut State, doc: DocId, rec: &Published, now: u64) {
    if let Some(event) = state.gate.on_fetch_result(doc, now, rec.as_result()) {
        if !event.unchanged() {
            report(state, doc, &event, "(fetched by another VM)");
        }
    }
}

fn provider_name(gate: &Gate, provider: usize) -> String {
    gate.config().providers.get(provider).map_or("?", |p| p.name.as_str()).to_owned()
}

/// One log line per document state change, and the document's gauges.
fn report(state: &mut State, doc: DocId, event: &DocEvent, extra: &str) {
    let name = provider_name(&state.gate, doc.provider);
    let level = if event.failed() { LogLevel::Warn } else { LogLevel::Info };
    let sep = if extra.is_empty() { "" } else { " " };
    host::log(level, &format!("jwtgate: provider {name}: {event}{sep}{extra}"));
    for (gauge, value) in state.gate.doc_gauges(doc) {
        state.metrics.gauge(&gauge, value);
    }
}
