//! What a rule matches besides method and prefix: path templates with captures, and hosts.

mod host;
mod template;

pub use host::{authority, HostMatch};
pub use template::Template;
