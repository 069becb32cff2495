//! The VM's linear memory as a gauge, `jwtgate.wasm_memory_bytes.<vm_id>`
//! (`wasmcustom.…` at Envoy's `/stats`), raised on every tick.
//!
//! Why the filter reports it itself: Envoy's stats have no per-VM memory figure (only VM
//! counts; `server.memory_*` is Envoy's own heap), and the process RSS mixes every VM and
//! Envoy. Linear memory never shrinks, so the gauge is a high-water mark: what the token
//! cache and the other caches cost, checked by `make bench` against its 8 MiB target.
//!
//! The name carries the VM id because every VM of one Envoy process writes into the same
//! stats namespace, and a VM id still has several copies (the main thread's and one per
//! worker, each with its own caches): each copy raises the gauge to its size and never
//! lowers it, so the gauge shows the largest copy, the one to hold against a budget.

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use std::cell::OnceCell;

/// 64 KiB: the size of a wasm page.
const PAGE_BYTES: u64 = 64 * 1024;

thread_local! {
    /// The gauge's id, defined once per VM (the VM id does not change); `None` if the host
    /// refused to define it.
    static GAUGE: OnceCell<Option<u32>> = const { OnceCell::new() };
}

/// Raises the gauge to this VM's current linear memory size if that is larger.
pub fn report() {
    let bytes = linear_memory_bytes();
    let Some(id) = GAUGE.with(|g| *g.get_or_init(|| hostcalls::define_metric(MetricType::Gauge, &gauge_name()).ok()))
    else {
        return;
    };
    if hostcalls::get_metric(id).map_or(true, |shown| shown < bytes) {
        let _ = hostcalls::record_metric(id, bytes);
    }
}

/// `jwtgate.wasm_memory_bytes.<vm_id>`, or without the suffix when the host has no VM id
/// (an empty `vm_id`, or a host without the `plugin_vm_id` property).
fn gauge_name() -> String {
    let vm_id = hostcalls::get_property(vec!["plugin_vm_id"]).ok().flatten().unwrap_or_default();
    match String::from_utf8(vm_id) {
        Ok(id) if !id.is_empty() => format!("jwtgate.wasm_memory_bytes.{id}"),
        _ => "jwtgate.wasm_memory_bytes".to_owned(),
    }
}

#[cfg(target_arch = "wasm32")]
fn linear_memory_bytes() -> u64 {
    core::arch::wasm32::memory_size(0) as u64 * PAGE_BYTES
}

/// Native unit tests have no linear memory: one page stands in, so the gauge is set.
#[cfg(not(target_arch = "wasm32"))]
fn linear_memory_bytes() -> u64 {
    PAGE_BYTES
}

#[cfg(test)]
mod tests {
    use crate::mock_host::with;

    #[test]
    fn a_tick_raises_the_memory_gauge_and_never_lowers_it() {
        let mut root = crate::root::tests::vm(1, "idp");
        proxy_wasm::traits::RootContext::on_tick(&mut root);
        // The mock host has no `plugin_vm_id` property: the plain name.
        assert_eq!(with(|h| h.metric("wasm_memory_bytes")), 64 * 1024);
        // A larger copy of the VM raised it: a smaller one leaves it alone.
        with(|h| h.metric_values.insert("jwtgate.wasm_memory_bytes".to_owned(), 1 << 30));
        proxy_wasm::traits::RootContext::on_tick(&mut root);
        assert_eq!(with(|h| h.metric("wasm_memory_bytes")), 1 << 30);
    }
}
