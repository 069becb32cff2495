//! The host-neutral view of an incoming request.

/// What a host hands the core: method, the raw `:path` (with query), and every header
/// pair in arrival order with duplicates kept. Names are compared case-insensitively.
#[derive(Clone, Copy, Debug)]
pub struct RequestView<'r> {
    pub method: &'r str,
    pub path: &'r str,
    pub headers: &'r [(String, String)],
}

impl<'r> RequestView<'r> {
    /// Every value of header `name`, in order.
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'r str> + 'a {
        self.headers.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A request the core keeps while a host verifies a signature for it (see
/// [`crate::VerifyJob`]): the same fields as [`RequestView`], owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OwnedRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl OwnedRequest {
    pub fn view(&self) -> RequestView<'_> {
        RequestView { method: &self.method, path: &self.path, headers: &self.headers }
    }
}

impl RequestView<'_> {
    pub(crate) fn to_owned_request(self) -> OwnedRequest {
        OwnedRequest { method: self.method.to_owned(), path: self.path.to_owned(), headers: self.headers.to_vec() }
    }
}
