//! The states of a fetched document: what is held ([`Phase`], [`Held`]), and what that
//! means at a given time ([`Status`], [`Unavailable`]). The machine that moves between
//! them is `machine.rs`.

use super::Validators;
use std::rc::Rc;

/// What is held, and how the latest fetches went.
#[derive(Debug)]
pub enum Phase<D> {
    /// No document yet; `failures` fetches have failed so far.
    Cold { failures: u32 },
    /// The latest fetch succeeded.
    Fresh(Held<D>),
    /// Refreshes have failed since `since_ms`; the last good document is still served.
    Failing { held: Held<D>, since_ms: u64, failures: u32 },
}

/// The last good document and what came with it.
#[derive(Debug)]
pub struct Held<D> {
    pub(super) doc: Rc<D>,
    /// When the fetch that last confirmed it was *sent*: the stale bound counts from here.
    pub(super) fetched_at_ms: u64,
    pub(super) digest: [u8; 32],
    pub(super) etag: Option<String>,
    pub(super) last_modified: Option<String>,
}

impl<D> Held<D> {
    pub(super) fn validators(&self) -> Validators<'_> {
        Validators { etag: self.etag.as_deref(), last_modified: self.last_modified.as_deref() }
    }

    /// A `304` answers the request only if every validator it sent is this document's.
    pub(super) fn confirmed_by(&self, sent: Validators<'_>) -> bool {
        !sent.is_empty()
            && sent.etag.is_none_or(|e| self.etag.as_deref() == Some(e))
            && sent.last_modified.is_none_or(|m| self.last_modified.as_deref() == Some(m))
    }
}

/// The phase seen at a given time: whether the document may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Cold,
    Fresh,
    /// Served stale: refreshes fail, but the document is within `max_stale_s`.
    Failing {
        since_ms: u64,
        failures: u32,
    },
    /// Older than `max_stale_s`. `refreshable`: no refresh has failed since it was
    /// fetched (it is only old, e.g. an idle edge isolate), so a fetch is worth waiting for.
    Stale {
        refreshable: bool,
    },
}

/// Why no document can be served: see [`super::Fetched::serving`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unavailable {
    pub cold: bool,
    pub refreshable: bool,
}
