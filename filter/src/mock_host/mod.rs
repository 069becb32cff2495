//! A small proxy-wasm host for native unit tests of the root and HTTP contexts.
//!
//! proxy-wasm's hostcalls are `extern "C"` imports named `proxy_*`; in a native test
//! binary this module defines them (`#[no_mangle]`), so the filter's real code runs
//! unchanged against an in-memory host: shared data with compare-and-swap, a clock,
//! dispatched calls, per-context request headers, local replies, resumes, metrics and
//! logs. State is thread-local (the SDK's dispatcher is too), so tests run in parallel.
//!
//! Why not a `Host` trait in the production code: every call site in root/http/coord/
//! apply/metrics would change for the tests' sake, and the real hostcalls (their
//! argument encoding, their panics on unexpected statuses) would stay untested.

mod calls;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

/// A `dispatch_http_call` the filter made.
#[derive(Clone, Debug)]
pub struct Dispatched {
    pub token: u32,
    pub upstream: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Dispatched {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A local reply sent on a context.
#[derive(Clone, Debug)]
pub struct Reply {
    pub context: u32,
    pub status: u32,
    pub body: Vec<u8>,
}

/// Headers and body of a dispatched call's response.
pub type CallResponse = (Vec<(String, String)>, Vec<u8>);

#[derive(Default)]
pub struct Host {
    pub now_ms: u64,
    pub plugin_config: Option<Vec<u8>>,
    /// Shared data of the VM group: value and version.
    pub shared: BTreeMap<String, (Vec<u8>, u32)>,
    /// Compare-and-swap writes to keys containing this always lose (another writer).
    pub cas_loses_on: Option<String>,
    pub logs: Vec<(u32, String)>,
    pub tick_ms: Option<u32>,
    pub dispatched: Vec<Dispatched>,
    next_token: u32,
    /// The response the filter reads in `on_http_call_response`.
    pub call_response: Option<CallResponse>,
    /// Request headers per HTTP context.
    pub requests: HashMap<u32, Vec<(String, String)>>,
    /// The request body `get_buffer(HttpRequestBody)` returns.
    pub request_body: Option<Vec<u8>>,
    pub effective: u32,
    pub replies: Vec<Reply>,
    pub resumed: Vec<u32>,
    metric_names: Vec<String>,
    pub metric_values: HashMap<String, i64>,
    /// How many times the filter called each `proxy_*` host function (the host-call
    /// census of `make bench`, `census_tests.rs`).
    pub calls: BTreeMap<&'static str, u32>,
}

thread_local! {
    /// The clock starts at the wall clock's time (tokens carry real `iat`/`exp`) and then
    /// moves only when a test advances it.
    static HOST: RefCell<Host> = RefCell::new(Host { now_ms: wall_clock_ms(), next_token: 1, ..Host::default() });
}

fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Counts one host call by its `proxy_*` name.
fn tally(name: &'static str) {
    with(|h| *h.calls.entry(name).or_default() += 1);
}

/// Runs `f` on this thread's host.
pub fn with<R>(f: impl FnOnce(&mut Host) -> R) -> R {
    HOST.with(|h| f(&mut h.borrow_mut()))
}

impl Host {
    pub fn metric(&self, name: &str) -> i64 {
        self.metric_values.get(&format!("jwtgate.{name}")).copied().unwrap_or(0)
    }

    pub fn logged(&self, needle: &str) -> bool {
        self.logs.iter().any(|(_, l)| l.contains(needle))
    }

    pub fn header(&self, context: u32, name: &str) -> Option<String> {
        self.requests.get(&context)?.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
}
