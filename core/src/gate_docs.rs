//! The gate's side of OIDC discovery: a provider with `discovery` fetches its metadata
//! document first; its JWKS is fetched only from the `jwks_uri` a checked document
//! named (a request meanwhile is held like any request waiting for keys).

use crate::config::GateConfig;
use crate::fetched::{
    DiscoveryCheck, DiscoveryDoc, DocEvent, DocId, DocKind, FetchEvent, FetchRequest, FetchResult, Fetched,
};
use crate::gate::GateState;

/// Provider `p`'s discovery machine, if it has `discovery`.
pub(crate) fn discovery_of(config: &GateConfig, p: usize, seed: u64) -> Option<Fetched<DiscoveryDoc>> {
    let prov = &config.providers[p];
    let d = prov.discovery.as_ref()?;
    let cx = DiscoveryCheck { issuer: prov.issuer.clone(), allowed_hosts: d.allowed_hosts.clone() };
    let doc = DocId { provider: p, kind: DocKind::Discovery };
    Some(Fetched::new(doc, d.remote.clone(), cx, seed.wrapping_add(0x5eed).wrapping_add(p as u64)))
}

/// Due discovery fetches, then due JWKS fetches of providers whose JWKS location is
/// known (no discovery, or a discovery document has been loaded).
pub(crate) fn poll_keys_and_discovery(state: &mut GateState, now_ms: u64) -> Vec<FetchRequest> {
    let mut out: Vec<FetchRequest> = state.discovery.iter_mut().flatten().filter_map(|d| d.poll(now_ms)).collect();
    for (p, keys) in state.keys.iter_mut().enumerate() {
        let located = state.discovery.get(p).is_none_or(|d| d.as_ref().is_none_or(|d| d.document().is_some()));
        if located {
            out.extend(keys.poll(now_ms));
        }
    }
    out
}

/// Applies a discovery fetch; a loaded document points the key set at its `jwks_uri`
/// (and says so in the event when that location changed).
pub(crate) fn on_discovery(state: &mut GateState, p: usize, now_ms: u64, r: FetchResult<'_>) -> Option<DocEvent> {
    let machine = state.discovery.get_mut(p)?.as_mut()?;
    let before = machine.document().map(|d| d.jwks_uri.clone());
    let mut event = machine.on_fetch_result(now_ms, r);
    let doc = machine.document().cloned();
    if let FetchEvent::Loaded(loaded) = &mut event {
        loaded.changed_from = before.filter(|old| *old != loaded.jwks_uri);
    }
    let Some(doc) = doc else { return Some(DocEvent::Discovery(event)) };
    let Some(keys) = state.keys.get_mut(p) else { return Some(DocEvent::Discovery(event)) };
    let Some(current) = keys.remote_location().cloned() else { return Some(DocEvent::Discovery(event)) };
    keys.set_remote(doc.jwks_remote(&current));
    if let (Some((uri, (authority, path))), Some(Some(intro))) = (&doc.introspection, state.introspectors.get_mut(p)) {
        intro.set_endpoint(current.cluster.clone(), uri, authority, path);
    }
    Some(DocEvent::Discovery(event))
}
