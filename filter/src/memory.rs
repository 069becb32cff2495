//! The VM's linear memory as a gauge, `jwtgate.wasm_memory_bytes.<vm_id>`
//! (`wasmcustom.…` at Envoy's `/stats`), set on every tick.
//!
//! Why the filter reports it itself: Envoy's stats have no per-VM memory figure (only VM
//! counts; `server.memory_*` is Envoy's own heap), and the process RSS mixes every VM and
//! Envoy. Linear memory never shrinks, so the gauge is the VM's high-water mark: what the
//! token cache and the other caches cost, checked by `make bench` against its 8 MiB target.
//! The name carries the VM id because every VM of one Envoy process writes into the same
//! stats namespace: two gates in separate VMs would otherwise overwrite one gauge.

use crate::metrics::Metrics;
use std::cell::OnceCell;

/// 64 KiB: the size of a wasm page.
const PAGE_BYTES: u64 = 64 * 1024;

thread_local! {
    /// The gauge's name, read once per VM (the VM id does not change).
    static NAME: OnceCell<String> = const { OnceCell::new() };
}

/// Sets the gauge to the current linear memory size.
pub fn report(metrics: &mut Metrics) {
    let bytes = linear_memory_bytes();
    NAME.with(|name| metrics.gauge(name.get_or_init(gauge_name), bytes));
}

/// `wasm_memory_bytes.<vm_id>`, or `wasm_memory_bytes` when the host has no VM id (an
/// empty `vm_id`, or a host without the `plugin_vm_id` property).
fn gauge_name() -> String {
    let vm_id = proxy_wasm::hostcalls::get_property(vec!["plugin_vm_id"]).ok().flatten().unwrap_or_default();
    match String::from_utf8(vm_id) {
        Ok(id) if !id.is_empty() => format!("wasm_memory_bytes.{id}"),
        _ => "wasm_memory_bytes".to_owned(),
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
    fn a_tick_sets_the_memory_gauge() {
        let mut root = crate::root::tests::vm(1, "idp");
        proxy_wasm::traits::RootContext::on_tick(&mut root);
        // The mock host has no `plugin_vm_id` property: the plain name.
        assert_eq!(with(|h| h.metric("wasm_memory_bytes")), 64 * 1024);
    }
}
