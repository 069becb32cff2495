//! The host-neutral view of an incoming request.

/// What a host hands the core: method, the raw `:path` (with query), and every header
/// pair in arrival order with duplicates kept. Names are compared case-insensitively.
#[derive(Clone, Copy, Debug)]
pub struct RequestView<'r> {
    pub method: &'r str,
    pub path: &'r str,
    pub headers: &'r [(String, String)],
    /// What the host knows about the connection (not from headers a client can send).
    pub conn: Connection<'r>,
}

/// The transport facts sender-constrained tokens need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Connection<'r> {
    /// `http` or `https` as the host's listener saw it; `None`: the core reads
    /// `:scheme` (Envoy sets it from the connection).
    pub scheme: Option<&'r str>,
    /// SHA-256 of the verified TLS client certificate (DER), if one was presented.
    pub client_cert_sha256: Option<[u8; 32]>,
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
    pub conn: OwnedConnection,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct OwnedConnection {
    pub scheme: Option<String>,
    pub client_cert_sha256: Option<[u8; 32]>,
}

impl OwnedRequest {
    pub fn view(&self) -> RequestView<'_> {
        let conn = Connection { scheme: self.conn.scheme.as_deref(), client_cert_sha256: self.conn.client_cert_sha256 };
        RequestView { method: &self.method, path: &self.path, headers: &self.headers, conn }
    }
}

impl RequestView<'_> {
    pub(crate) fn to_owned_request(self) -> OwnedRequest {
        let conn = OwnedConnection {
            scheme: self.conn.scheme.map(str::to_owned),
            client_cert_sha256: self.conn.client_cert_sha256,
        };
        OwnedRequest {
            method: self.method.to_owned(),
            path: self.path.to_owned(),
            headers: self.headers.to_vec(),
            conn,
        }
    }
}
