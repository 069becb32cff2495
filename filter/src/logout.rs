//! Back-channel logouts shared between the worker VMs of one Envoy process. The VM that
//! received the IdP's POST applies the logout and appends its records (one line each, no
//! token) to a shared-data list; every VM applies the list when its 8-byte generation
//! changes, checked on every request and tick (like fetched documents, `fetch.rs`).
//! Applying a record twice is harmless (a denylist entry keeps the later `exp`).

use crate::state::State;
use proxy_wasm::hostcalls;

const LIST_KEY: &str = "jwtgate/logouts/list";
const GENERATION_KEY: &str = "jwtgate/logouts/generation";
/// Records kept in the list (older ones have been applied by every live VM long since;
/// a VM started later learns them from the revocation feed).
const MAX_RECORDS: usize = 512;

fn generation() -> u64 {
    match hostcalls::get_shared_data(GENERATION_KEY) {
        Ok((Some(b), _)) if b.len() == 8 => u64::from_le_bytes(b.try_into().unwrap_or([0; 8])),
        _ => 0,
    }
}

/// Appends this VM's new records (compare-and-swap, retried) and bumps the generation.
pub fn publish(state: &mut State) {
    let records = state.gate.take_logouts();
    if records.is_empty() {
        return;
    }
    for _ in 0..8 {
        let (current, cas) = match hostcalls::get_shared_data(LIST_KEY) {
            Ok((v, cas)) => (v.unwrap_or_default(), cas),
            Err(_) => return,
        };
        let text = String::from_utf8_lossy(&current);
        let mut lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        lines.extend(records.iter().map(String::as_str));
        let skip = lines.len().saturating_sub(MAX_RECORDS);
        let next = lines.iter().skip(skip).copied().collect::<Vec<_>>().join("\n");
        if hostcalls::set_shared_data(LIST_KEY, Some(next.as_bytes()), cas).is_ok() {
            let g = generation() + 1;
            let _ = hostcalls::set_shared_data(GENERATION_KEY, Some(&g.to_le_bytes()), None);
            state.logouts_seen = g;
            return;
        }
    }
    crate::host::log(
        proxy_wasm::types::LogLevel::Warn,
        "jwtgate: could not share a back-channel logout with the other VMs",
    );
}

/// Applies the shared list if another VM added to it since this VM last looked.
pub fn catch_up(state: &mut State) {
    if !state.logins {
        return;
    }
    let g = generation();
    if g == 0 || state.logouts_seen >= g {
        return;
    }
    state.logouts_seen = g;
    if let Ok((Some(list), _)) = hostcalls::get_shared_data(LIST_KEY) {
        for line in String::from_utf8_lossy(&list).lines() {
            state.gate.apply_logout(line);
        }
    }
}
