//! The floor of `make bench`: the least work a proxy-wasm filter on this Envoy can do per
//! request, measured next to jwtgate in the same Envoy process, so `BENCHMARKS.md` can say
//! how close jwtgate comes to the physical limit of its host rather than to a native filter
//! (which no wasm filter can match on the cached path).
//!
//! The plugin configuration picks the variant (one module, three listeners):
//! - `noop`: returns `Continue` (the cost of entering the VM at all);
//! - `min`: reads `authorization`, removes it and sets three headers (the edits an allowed
//!   request costs any gate);
//! - `all`: reads the whole request header map first, then does what `min` does (a gate
//!   must see every header to strip its identity-header namespace).
//!
//! It verifies nothing: never deploy it. It lives in the workspace only so `make lint`
//! holds it to the hosts' no-panic policy and `make bench` builds it with the filter's
//! release profile.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use std::hint::black_box;

/// What the filter does per request (the plugin configuration, as plain text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Noop,
    Min,
    All,
}

impl Variant {
    /// `noop`, `min` or `all` (surrounding whitespace ignored); anything else is `None`.
    pub fn parse(config: &[u8]) -> Option<Variant> {
        match std::str::from_utf8(config).ok()?.trim() {
            "noop" => Some(Variant::Noop),
            "min" => Some(Variant::Min),
            "all" => Some(Variant::All),
            _ => None,
        }
    }
}

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| Box::new(FloorRoot { variant: Variant::Noop }));
}}

struct FloorRoot {
    variant: Variant,
}

impl Context for FloorRoot {}

impl RootContext for FloorRoot {
    /// Refuses an unknown variant, so a typo in the bench config fails the run instead of
    /// measuring `noop` under another name.
    fn on_configure(&mut self, _size: usize) -> bool {
        match self.get_plugin_configuration().as_deref().and_then(Variant::parse) {
            Some(v) => {
                self.variant = v;
                true
            }
            None => {
                let _ = hostcalls::log(LogLevel::Critical, "bench floor: the configuration must be noop, min or all");
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(FloorRequest { variant: self.variant }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct FloorRequest {
    variant: Variant,
}

impl Context for FloorRequest {}

impl HttpContext for FloorRequest {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        if self.variant == Variant::Noop {
            return Action::Continue;
        }
        if self.variant == Variant::All {
            // `black_box`: the map must really be copied into the VM, as a gate reads it.
            black_box(self.get_http_request_headers());
        }
        let credential_len = self.get_http_request_header("authorization").map_or(0, |v| v.len());
        self.set_http_request_header("authorization", None);
        self.set_http_request_header("x-jwt-sub", Some("floor"));
        self.set_http_request_header("x-jwt-iss", Some("https://bench.example"));
        self.set_http_request_header("x-floor-credential-len", Some(&credential_len.to_string()));
        Action::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::Variant;

    #[test]
    fn parses_the_three_variants_and_nothing_else() {
        assert_eq!(Variant::parse(b"noop"), Some(Variant::Noop));
        assert_eq!(Variant::parse(b" min\n"), Some(Variant::Min));
        assert_eq!(Variant::parse(b"all"), Some(Variant::All));
        assert_eq!(Variant::parse(b"All"), None);
        assert_eq!(Variant::parse(b""), None);
        assert_eq!(Variant::parse(&[0xff]), None);
    }
}
