//! The `proxy_*` host calls of the mock host (see `mod.rs`).

#![allow(unsafe_code, clippy::missing_safety_doc, clippy::not_unsafe_ptr_arg_deref)]

use super::{with, Dispatched, Host, Reply};
use proxy_wasm::types::{BufferType, LogLevel, MapType, MetricType, Status, StreamType};

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
    super::tally("proxy_log");
    let line = unsafe { text(data, len) }.to_owned();
    with(|h| h.logs.push((level as u32, line)));
    Status::Ok
}

#[no_mangle]
pub extern "C" fn proxy_get_current_time_nanoseconds(out: *mut u64) -> Status {
    super::tally("proxy_get_current_time_nanoseconds");
    unsafe { *out = with(|h| h.now_ms) * 1_000_000 };
    Status::Ok
}

#[no_mangle]
pub extern "C" fn proxy_set_tick_period_milliseconds(period: u32) -> Status {
    super::tally("proxy_set_tick_period_milliseconds");
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
    super::tally("proxy_get_buffer_bytes");
    let data = with(|h| match kind {
        BufferType::PluginConfiguration => h.plugin_config.clone(),
        BufferType::HttpCallResponseBody => h.call_response.as_ref().map(|(_, b)| b.clone()),
        BufferType::HttpRequestBody => h.request_body.clone(),
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
    super::tally("proxy_get_header_map_pairs");
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
    super::tally("proxy_get_header_map_value");
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
    super::tally("proxy_remove_header_map_value");
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
    super::tally("proxy_replace_header_map_value");
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
    super::tally("proxy_get_shared_data");
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
    super::tally("proxy_set_shared_data");
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
    body: *const u8,
    body_len: usize,
    _trailers: *const u8,
    _trailers_len: usize,
    _timeout_ms: u32,
    out_token: *mut u32,
) -> Status {
    super::tally("proxy_http_call");
    let upstream = unsafe { text(upstream, upstream_len) }.to_owned();
    let headers = deserialize(unsafe { bytes(headers, headers_len) });
    let body = unsafe { bytes(body, body_len) }.to_vec();
    let token = with(|h| {
        let token = h.next_token;
        h.next_token += 1;
        h.dispatched.push(Dispatched { token, upstream, headers, body });
        token
    });
    unsafe { *out_token = token };
    Status::Ok
}

#[no_mangle]
pub extern "C" fn proxy_set_effective_context(id: u32) -> Status {
    super::tally("proxy_set_effective_context");
    with(|h| h.effective = id);
    Status::Ok
}

#[no_mangle]
pub extern "C" fn proxy_continue_stream(kind: StreamType) -> Status {
    super::tally("proxy_continue_stream");
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
    super::tally("proxy_send_local_response");
    let body = unsafe { bytes(body, body_len) }.to_vec();
    with(|h| {
        let context = h.effective;
        h.replies.push(Reply { context, status, body });
    });
    Status::Ok
}

#[no_mangle]
pub extern "C" fn proxy_define_metric(_kind: MetricType, name: *const u8, name_len: usize, out: *mut u32) -> Status {
    super::tally("proxy_define_metric");
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
    super::tally("proxy_increment_metric");
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
    super::tally("proxy_record_metric");
    with(|h| match metric_name(h, id) {
        Some(name) => {
            h.metric_values.insert(name, value as i64);
            Status::Ok
        }
        None => Status::NotFound,
    })
}

#[no_mangle]
pub extern "C" fn proxy_get_metric(id: u32, out: *mut u64) -> Status {
    super::tally("proxy_get_metric");
    with(|h| match metric_name(h, id) {
        Some(name) => {
            unsafe { *out = h.metric_values.get(&name).copied().unwrap_or(0) as u64 };
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
    super::tally("proxy_call_foreign_function");
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
