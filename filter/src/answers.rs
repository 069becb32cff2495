//! Introspection answers shared by the VMs of one Envoy process (`shared_cache_size`):
//! the shared-data side of `jwtgate_core::SharedRecord` (format and decisions live in
//! the core).
//!
//! Before a VM sends an introspection call it reads the token's slot: a fresh answer
//! another VM got is applied instead (no call); a live pending marker makes it wait for
//! that answer (single-flight across VMs, checked on a fast tick); otherwise it writes
//! its own pending marker (compare-and-swap) and calls. The caller publishes the answer
//! (`active` or refused, with its cache TTL) or, when the call failed, clears its
//! marker so the waiting VMs ask for themselves. Slots hold the SHA-256 of a token and
//! the IdP's answer body (claims), never the token.

use jwtgate_core::{DocId, DocKind, FetchRequest, Gate, SharedCall, SharedLookup, SharedRecord};
use proxy_wasm::hostcalls;

/// What to do with one introspection call the core asks for.
pub enum Route {
    /// Send it (this VM holds the slot's lease, or the provider does not share).
    Call(Box<FetchRequest>, Option<Slot>),
    /// Another VM's answer: apply it (`answered_at_ms` dates it).
    Adopt { doc: DocId, answered_at_ms: u64, status: u16, body: Vec<u8> },
    /// Another VM is asking; the call is parked until its answer or lease end.
    Wait,
}

/// A call's place in the shared table.
#[derive(Clone, Debug)]
pub struct Slot {
    key: String,
    share: SharedCall,
}

impl Slot {
    /// SHA-256 of the call's token.
    pub fn digest(&self) -> [u8; 32] {
        self.share.digest
    }
}

struct Parked {
    request: FetchRequest,
    slot: Slot,
}

/// The calls this VM parked while another VM asks the IdP.
#[derive(Default)]
pub struct SharedAnswers {
    parked: Vec<Parked>,
}

impl SharedAnswers {
    /// Creates every slot of each sharing provider's table (empty) unless it exists: a
    /// missing key can only be written unconditionally, so two VMs could both take a
    /// fresh slot; an existing one is taken by compare-and-swap. (An endpoint named by a
    /// discovery document changes the keys later; its slots are created on first use.)
    pub fn open(gate: &Gate) -> SharedAnswers {
        for (provider, p) in gate.config().providers.iter().enumerate() {
            let slots = p.introspection.as_ref().map_or(0, |i| i.shared_cache_size);
            let doc = DocId { provider, kind: DocKind::Introspection(0) };
            for index in 0..slots {
                let Some(key) = slot_key(gate, doc, index) else { break };
                if matches!(hostcalls::get_shared_data(&key), Ok((None, _)) | Err(_)) {
                    let _ = hostcalls::set_shared_data(&key, Some(&[]), None);
                }
            }
        }
        SharedAnswers::default()
    }

    /// Whether calls are parked (the root then ticks fast to pick up their answers).
    pub fn waiting(&self) -> bool {
        !self.parked.is_empty()
    }

    /// Routes a call the core asks for.
    pub fn route(&mut self, gate: &Gate, request: FetchRequest, now: u64) -> Route {
        let Some(share) = gate.shared_introspection(request.doc) else { return Route::Call(Box::new(request), None) };
        let Some(key) = slot_key(gate, request.doc, share.index) else { return Route::Call(Box::new(request), None) };
        self.decide(Slot { key, share }, request, now)
    }

    /// Parked calls whose answer arrived, or whose lease ran out (then this VM calls).
    pub fn poll(&mut self, now: u64) -> Vec<Route> {
        let mut out = Vec::new();
        for p in std::mem::take(&mut self.parked) {
            match self.decide(p.slot, p.request, now) {
                Route::Wait => {}
                route => out.push(route),
            }
        }
        out
    }

    /// Reads the slot and decides; a call that must wait is parked (again).
    fn decide(&mut self, slot: Slot, request: FetchRequest, now: u64) -> Route {
        let (record, cas) = read(&slot.key);
        let digest = slot.share.digest;
        match record.as_ref().map_or(SharedLookup::Call, |r| r.lookup(&digest, now)) {
            SharedLookup::Adopt { answered_at_ms, status, body } => {
                Route::Adopt { doc: request.doc, answered_at_ms, status, body: body.to_vec() }
            }
            SharedLookup::Wait { .. } => {
                self.parked.push(Parked { request, slot });
                Route::Wait
            }
            SharedLookup::Call => {
                let marker = SharedRecord::Pending { digest, until_ms: now + slot.share.lease_ms };
                // Lost the race: another VM just took the slot; its marker (or answer)
                // decides on the next poll. Without a version to compare (no slot yet),
                // the write is unconditional.
                if hostcalls::set_shared_data(&slot.key, Some(&marker.encode()), cas).is_err() {
                    self.parked.push(Parked { request, slot });
                    return Route::Wait;
                }
                Route::Call(Box::new(request), Some(slot))
            }
        }
    }
}

/// Publishes this VM's answer for the others: a usable one (`until_ms` known) as an
/// answer record, a failed call by clearing the pending marker it wrote.
pub fn publish(slot: &Slot, answered_at_ms: u64, until_ms: Option<u64>, status: Option<u16>, body: &[u8]) {
    let digest = slot.share.digest;
    match (until_ms, status) {
        (Some(until_ms), Some(status)) => {
            let record = SharedRecord::Answer { digest, answered_at_ms, until_ms, status, body: body.to_vec() };
            let _ = hostcalls::set_shared_data(&slot.key, Some(&record.encode()), None);
        }
        _ => {
            let (record, cas) = read(&slot.key);
            if matches!(record, Some(SharedRecord::Pending { digest: d, .. }) if d == digest) {
                let _ = hostcalls::set_shared_data(&slot.key, Some(&[]), cas);
            }
        }
    }
}

fn read(key: &str) -> (Option<SharedRecord>, Option<u32>) {
    match hostcalls::get_shared_data(key) {
        Ok((bytes, cas)) => (bytes.as_deref().and_then(SharedRecord::decode), cas),
        Err(_) => (None, None),
    }
}

/// `jwtgate/introspection/<provider>/<fetch identity>/<slot>`: the identity keeps two
/// plugins of one VM group with another endpoint or issuer apart.
fn slot_key(gate: &Gate, doc: DocId, index: usize) -> Option<String> {
    let identity = gate.fetch_identity(doc)?;
    let name = &gate.config().providers.get(doc.provider)?.name;
    Some(format!("jwtgate/introspection/{name}/{}/{index}", identity.key()))
}
