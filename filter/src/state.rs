//! State shared by the root context and the HTTP contexts of one VM.

use jwtgate_core::Gate;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A request held while keys are fetched: what is needed to decide it again.
pub struct Held {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub client_cert: Option<[u8; 32]>,
    pub since_ms: u64,
}

pub struct State {
    pub gate: Gate,
    /// Held requests by HTTP context id. Removed on resume, reply or stream end.
    pub held: BTreeMap<u32, Held>,
    pub metrics: crate::metrics::Metrics,
    /// Response headers to set when each HTTP context's response arrives (the
    /// report-only header). Removed then, or at stream end.
    pub respond: BTreeMap<u32, Vec<(String, String)>>,
    /// Read the client certificate for each request (some route checks
    /// certificate-bound tokens).
    pub client_certs: bool,
    /// Some provider runs the login flow: only then is there a shared logout list to
    /// look at on each request (one `get_shared_data` saved per request otherwise).
    pub logins: bool,
    /// The generation of the shared back-channel logout list this VM has applied.
    pub logouts_seen: u64,
}

pub type Shared = Rc<RefCell<State>>;
