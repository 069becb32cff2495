//! jwtgate as a proxy-wasm HTTP filter (Envoy, Istio).
//!
//! The filter only translates: request headers → `jwtgate_core::RequestView`, a
//! `Decision` → header edits, a local reply, or a paused request; `FetchRequest`s →
//! `dispatch_http_call` on the configured cluster. All policy lives in the core.
//!
//! A panic kills the VM and every request behind it, so nothing here unwraps input.

mod answers;
mod apply;
#[cfg(test)]
mod census_tests;
mod coord;
mod fetch;
mod host;
mod http;
mod logout;
mod memory;
mod metrics;
#[cfg(test)]
mod mock_host;
mod native;
mod replay;
mod root;
#[cfg(test)]
#[path = "session_tests.rs"]
mod session_tests;
mod state;
#[cfg(feature = "vector-endpoint")]
mod vectors;

use proxy_wasm::types::LogLevel;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_id| Box::new(root::Root::new(_id)));
}}
