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

#![allow(unsafe_code, clippy::missing_safety_doc, clippy::not_unsafe_ptr_arg_deref)]

use proxy_wasm::types::{BufferType, LogLevel, MapType, MetricType, Status, StreamType};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

/// A `dispatch_http_call` the filter made.
#[derive(Clone, Debug)]
pub struct Dispatched {
    pub token: u32,
    pub upstream: String,
    pub headers: Vec<(String, String)>,
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
    pub effective: u32,
    pub replies: Vec<Reply>,
    pub resumed: Vec<u32>,
    metric_names: Vec<String>,
    pub metric_values: HashMap<String, i64>,
}

thread_local! {
    /// The clock starts at the wall clock's time (tokens carry real `iat`/`exp`) and then
    /// moves only when a test advances it.
    static HOST: RefCell<Host> = RefCell::new(Host { now_ms: wall_clock_ms(), next_token: 1, ..Host::default() });
}

fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
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

unsafe fn text<'a>(ptr: *const u8, len: usize) -> &'a str {
    if len == 0 {
        return "";
    }
    std::str::from_utf8(std::slice::from_raw_parts(ptr, len)).unwrap_or("<non-UTF-8>")
}

unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if len == 0 || ptr.is_null() {
        return &[];
    }
    std::slice::from_raw_parts(ptr, len)
}

/// Hands `data` to the SDK, which frees it as a `Vec` of capacity == length.
unsafe fn give(data: Vec<u8>, out: *mut *mut u8, out_len: *mut usize) {
    let boxed = data.into_boxed_slice();
    *out_len = boxed.len();
    *out = Box::into_raw(boxed) as *mut u8;
}

fn serialize(map: &[(String, String)]) -> Vec<u8> {
    let mut out = (map.len() as u32).to_le_bytes().to_vec();
    for (k, v) in map {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in map {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

fn deserialize(b: &[u8]) -> Vec<(String, String)> {
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
    let n = u32_at(0);
    let mut p = 4 + n * 8;
    let mut out = Vec::new();
    for i in 0..n {
        let (kl, vl) = (u32_at(4 + i * 8), u32_at(8 + i * 8));
        let k = String::from_utf8_lossy(&b[p..p + kl]).into_owned();
        p += kl + 1;
        let v = String::from_utf8_lossy(&b[p..p + vl]).into_owned();
        p += vl + 1;
        out.push((k, v));
    }
    out
}

#[no_mangle]
pub extern "C" fn proxy_log(level: LogLevel, data: *const u8, len: usize) -> Status {
    let line = unsafe { text(data, len) }.to_owned();
    with(|h| h.logs.push((level as u32, line)));
    Status::Ok
}

#[no_mangle]
pub extern "C" fn proxy_get_current_time_nanoseconds(out: *mut u64) -> Status {
    unsafe { *out = with(|h| h.now_ms) * 1_000_000 };
    Status::Ok
}

#[no_mangle]
pub extern "C" fn proxy_set_tick_period_milliseconds(period: u32) -> Status {
    with(|h| h.tick_ms = Some(period));
    Status::Ok
}

#[no_mangle]
pub extern "C" fn proxy_get_buffer_bytes(
    kind: BufferType,
    start: usize,
    max: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> Status {
    let data = with(|h| match kind {
        BufferType::PluginConfiguration => h.plugin_config.clone(),
        BufferType::HttpCallResponseBody => h.call_response.as_ref().map(|(_, b)| b.clone()),
        _ => None,
    });
    match data {
        Some(d) => {
            let end = start.saturating_add(max).min(d.len());
            unsafe { give(d.get(start..end).unwrap_or_default().to_vec(), out, out_len) };
            Status::Ok
        }
        None => Status::NotFound,
    }
}

fn map_of(h: &Host, kind: MapType) -> Vec<(String, String)> {
    match kind {
        MapType::HttpRequestHeaders => h.requests.get(&h.effective).cloned().unwrap_or_default(),
        MapType::HttpCallResponseHeaders => h.call_response.as_ref().map(|(m, _)| m.clone()).unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[no_mangle]
pub extern "C" fn proxy_get_header_map_pairs(kind: MapType, out: *mut *mut u8, out_len: *mut usize) -> Status {
    let map = with(|h| map_of(h, kind));
    unsafe { give(serialize(&map), out, out_len) };
    Status::Ok
}

#[no_mangle]
pub extern "C" fn proxy_get_header_map_value(
    kind: MapType,
    key: *const u8,
    key_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> Status {
    let key = unsafe { text(key, key_len) }.to_owned();
    let value = with(|h| map_of(h, kind).into_iter().find(|(k, _)| *k == key).map(|(_, v)| v));
    match value {
        Some(v) => {
            unsafe { give(v.into_bytes(), out, out_len) };
            Status::Ok
        }
        None => Status::NotFound,
    }
}

#[no_mangle]
pub extern "C" fn proxy_remove_header_map_value(kind: MapType, key: *const u8, key_len: usize) -> Status {
    let key = unsafe { text(key, key_len) }.to_owned();
    if kind == MapType::HttpRequestHeaders {
        with(|h| {
            let id = h.effective;
            h.requests.entry(id).or_default().retain(|(k, _)| *k != key);
        });
    }
    Status::Ok
}

#[no_mangle]
pub extern "C" fn proxy_replace_header_map_value(
    kind: MapType,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> Status {
    let (key, value) = unsafe { (text(key, key_len).to_owned(), text(value, value_len).to_owned()) };
    if kind == MapType::HttpRequestHeaders {
        with(|h| {
            let id = h.effective;
            let headers = h.requests.entry(id).or_default();
            headers.retain(|(k, _)| *k != key);
            headers.push((key, value));
        });
    }
    Status::Ok
}

#[no_mangle]
pub extern "C" fn proxy_get_shared_data(
    key: *const u8,
    key_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
    out_cas: *mut u32,
) -> Status {
    let key = unsafe { text(key, key_len) }.to_owned();
    match with(|h| h.shared.get(&key).cloned()) {
        Some((value, cas)) => {
            unsafe {
                give(value, out, out_len);
                *out_cas = cas;
            }
            Status::Ok
        }
        None => Status::NotFound,
    }
}

#[no_mangle]
pub extern "C" fn proxy_set_shared_data(
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    cas: u32,
) -> Status {
    let key = unsafe { text(key, key_len) }.to_owned();
    let value = unsafe { bytes(value, value_len) }.to_vec();
    with(|h| {
        let current = h.shared.get(&key).map_or(0, |(_, c)| *c);
        let loses = h.cas_loses_on.as_deref().is_some_and(|s| key.contains(s));
        if cas != 0 && (cas != current || loses) {
            return Status::CasMismatch;
        }
        h.shared.insert(key, (value, current + 1));
        Status::Ok
    })
}

#[no_mangle]
pub extern "C" fn proxy_http_call(
    upstream: *const u8,
    upstream_len: usize,
    headers: *const u8,
    headers_len: usize,
    _body: *const u8,
    _body_len: usize,
    _trailers: *const u8,
    _trailers_len: usize,
    _timeout_ms: u32,
    out_token: *mut u32,
) -> Status {
    let upstream = unsafe { text(upstream, upstream_len) }.to_owned();
    let headers = deserialize(unsafe { bytes(headers, headers_len) });
    let token = with(|h| {
        let token = h.next_token;
        h.next_token += 1;
        h.dispatched.push(Dispatched { token, upstream, headers });
        token
    });
    unsafe { *out_token = token };
    Status::Ok
}

#[no_mangle]
pub extern "C" fn proxy_set_effective_context(id: u32) -> Status {
    with(|h| h.effective = id);
    Status::Ok
}

#[no_mangle]
pub extern "C" fn proxy_continue_stream(kind: StreamType) -> Status {
    if kind == StreamType::HttpRequest {
        with(|h| {
            let id = h.effective;
            h.resumed.push(id);
        });
    }
    Status::Ok
}

#[no_mangle]
pub extern "C" fn proxy_send_local_response(
    status: u32,
    _details: *const u8,
    _details_len: usize,
    body: *const u8,
    body_len: usize,
    _headers: *const u8,
    _headers_len: usize,
    _grpc_status: i32,
) -> Status {
    let body = unsafe { bytes(body, body_len) }.to_vec();
    with(|h| {
        let context = h.effective;
        h.replies.push(Reply { context, status, body });
    });
    Status::Ok
}

#[no_mangle]
pub extern "C" fn proxy_define_metric(_kind: MetricType, name: *const u8, name_len: usize, out: *mut u32) -> Status {
    let name = unsafe { text(name, name_len) }.to_owned();
    let id = with(|h| {
        h.metric_names.push(name);
        h.metric_names.len() as u32
    });
    unsafe { *out = id };
    Status::Ok
}

fn metric_name(h: &Host, id: u32) -> Option<String> {
    h.metric_names.get((id as usize).checked_sub(1)?).cloned()
}

#[no_mangle]
pub extern "C" fn proxy_increment_metric(id: u32, offset: i64) -> Status {
    with(|h| match metric_name(h, id) {
        Some(name) => {
            *h.metric_values.entry(name).or_default() += offset;
            Status::Ok
        }
        None => Status::NotFound,
    })
}

#[no_mangle]
pub extern "C" fn proxy_record_metric(id: u32, value: u64) -> Status {
    with(|h| match metric_name(h, id) {
        Some(name) => {
            h.metric_values.insert(name, value as i64);
            Status::Ok
        }
        None => Status::NotFound,
    })
}

/// No foreign functions: the software verifier runs.
#[no_mangle]
pub extern "C" fn proxy_call_foreign_function(
    _name: *const u8,
    _name_len: usize,
    _args: *const u8,
    _args_len: usize,
    _out: *mut *mut u8,
    _out_len: *mut usize,
) -> Status {
    Status::NotFound
}

/// Host calls the filter never makes, defined so the test binary links (the SDK's trait
/// defaults reference them). Taking no arguments is fine under the C ABI for a function
/// that is never called; if one ever is, the SDK sees `InternalFailure` and errs or panics, which
/// fails the test loudly.
macro_rules! unused_host_calls {
    ($($name:ident),* $(,)?) => {$(
        #[no_mangle]
        pub extern "C" fn $name() -> Status {
            Status::InternalFailure
        }
    )*};
}

unused_host_calls!(
    proxy_add_header_map_value,
    proxy_close_stream,
    proxy_dequeue_shared_queue,
    proxy_done,
    proxy_enqueue_shared_queue,
    proxy_get_property,
    proxy_get_status,
    proxy_grpc_call,
    proxy_grpc_cancel,
    proxy_grpc_close,
    proxy_grpc_send,
    proxy_grpc_stream,
    proxy_register_shared_queue,
    proxy_resolve_shared_queue,
    proxy_set_buffer_bytes,
    proxy_set_header_map_pairs,
    proxy_set_property,
);
