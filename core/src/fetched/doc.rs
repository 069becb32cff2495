//! What a fetch is for ([`DocId`]: a provider's document of one [`DocKind`]), how it is
//! sent ([`FetchMethod`]), and what its outcome changed ([`DocEvent`]): the names hosts
//! carry between `poll_fetches` and `on_fetch_result` without looking inside.

use super::{DiscoveryLoaded, FetchEvent, KeyFeedEvent, KeySetEvent};
use crate::introspect::IntrospectionEvent;
use std::fmt;

/// Which kind of document a fetch is for. Each kind is one [`Document`] type held by
/// the gate; hosts never look inside, they only carry it from [`FetchRequest::doc`] back
/// to [`crate::Gate::on_fetch_result`] and name metrics and shared-data records by
/// [`DocKind::label`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocKind {
    /// The provider's JWKS.
    Jwks,
    /// The provider's revocation feed (`revocation.feed`).
    Revocation,
    /// An `api_keys` provider's key feed.
    ApiKeys,
    /// The provider's discovery document (OIDC Discovery / RFC 8414).
    Discovery,
    /// One introspection call (RFC 7662), by its slot in the provider's introspector.
    /// Each is a one-off POST: per VM, never shared (see [`DocKind::shared`]).
    Introspection(u64),
    /// A Status List Token a token of the provider named (`revocation.status_list`), by
    /// slot: the n-th URI this gate saw for the provider.
    StatusList(u16),
    /// One token endpoint call of the provider's `login` flow (code exchange or
    /// refresh), by slot. A one-off POST like introspection: per VM, never shared.
    Token(u64),
}

impl DocKind {
    /// The document's name in metric names (`<label>_fetch_failed`) and shared-data keys.
    pub fn label(self) -> &'static str {
        match self {
            DocKind::Jwks => "jwks",
            DocKind::Revocation => "revocation",
            DocKind::ApiKeys => "api_keys",
            DocKind::Discovery => "discovery",
            DocKind::Introspection(_) => "introspection",
            DocKind::StatusList(_) => "status_list",
            DocKind::Token(_) => "token",
        }
    }

    /// Whether Envoy shares this document between the VMs of a process (a shared-data
    /// channel and a fetch lease). An introspection answer is not shared: it is one
    /// token's, asked once and applied by the VM that holds the requests waiting for it.
    pub fn shared(self) -> bool {
        !matches!(self, DocKind::Introspection(_) | DocKind::Token(_))
    }
}

/// One fetched document of one provider: what a fetch is for, echoed back with its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId {
    /// Index of the owning provider in [`crate::GateConfig::providers`].
    pub provider: usize,
    pub kind: DocKind,
}

impl DocId {
    pub fn jwks(provider: usize) -> DocId {
        DocId { provider, kind: DocKind::Jwks }
    }

    pub fn revocation(provider: usize) -> DocId {
        DocId { provider, kind: DocKind::Revocation }
    }

    pub fn api_keys(provider: usize) -> DocId {
        DocId { provider, kind: DocKind::ApiKeys }
    }
}

/// The HTTP method of a fetch. Documents are read with `GET`; endpoints that take
/// a form (introspection, token exchange) are called with `POST` and [`FetchRequest::body`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchMethod {
    Get,
    Post,
}

impl FetchMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            FetchMethod::Get => "GET",
            FetchMethod::Post => "POST",
        }
    }
}

/// A state change of any fetched document, for the host to log ([`fmt::Display`]) and
/// count (`<label>_fetch_success` / `<label>_fetch_failed`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DocEvent {
    Keys(KeySetEvent),
    Revocation(crate::revocation::RevocationEvent),
    ApiKeys(KeyFeedEvent),
    Discovery(FetchEvent<DiscoveryLoaded>),
    Introspection(IntrospectionEvent),
    StatusList(crate::revocation::StatusListEvent),
    Token(crate::session::calls::TokenEvent),
}

impl DocEvent {
    pub fn failed(&self) -> bool {
        match self {
            DocEvent::Keys(e) => matches!(e, FetchEvent::Failed { .. }),
            DocEvent::Revocation(e) => matches!(e, FetchEvent::Failed { .. }),
            DocEvent::ApiKeys(e) => matches!(e, FetchEvent::Failed { .. }),
            DocEvent::Discovery(e) => matches!(e, FetchEvent::Failed { .. }),
            DocEvent::Introspection(e) => e.failed(),
            DocEvent::StatusList(e) => matches!(e, FetchEvent::Failed { .. }),
            DocEvent::Token(e) => matches!(e, crate::session::calls::TokenEvent::Failed(..)),
        }
    }

    pub fn unchanged(&self) -> bool {
        match self {
            DocEvent::Keys(e) => matches!(e, FetchEvent::Unchanged),
            DocEvent::Revocation(e) => matches!(e, FetchEvent::Unchanged),
            DocEvent::ApiKeys(e) => matches!(e, FetchEvent::Unchanged),
            DocEvent::Discovery(e) => matches!(e, FetchEvent::Unchanged),
            DocEvent::Introspection(e) => matches!(e, IntrospectionEvent::Dropped),
            DocEvent::StatusList(e) => matches!(e, FetchEvent::Unchanged),
            DocEvent::Token(e) => matches!(e, crate::session::calls::TokenEvent::Dropped),
        }
    }
}

impl fmt::Display for DocEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocEvent::Keys(e) => fmt::Display::fmt(e, f),
            DocEvent::Revocation(e) => fmt::Display::fmt(e, f),
            DocEvent::ApiKeys(e) => fmt::Display::fmt(e, f),
            DocEvent::Discovery(e) => fmt::Display::fmt(e, f),
            DocEvent::Introspection(e) => fmt::Display::fmt(e, f),
            DocEvent::StatusList(e) => fmt::Display::fmt(e, f),
            DocEvent::Token(e) => fmt::Display::fmt(e, f),
        }
    }
}
