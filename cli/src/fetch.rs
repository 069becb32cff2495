//! Reading a document the CLI was pointed at by URL (`--jwks https://…`, `jwks inspect
//! URL`, `jwks fetch URL`): one GET with a timeout and a size cap, no redirects (a key
//! set's location is configuration; a redirect is an error to look at, as in the gate),
//! and anything but `200` refused. HTTPS is verified against the Web PKI roots.

use crate::fail::Fail;
use std::time::Duration;

/// The largest body read: the gate's own default cap for a JWKS is 256 KiB.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `spec` names a URL rather than a file.
pub fn is_url(spec: &str) -> bool {
    spec.starts_with("https://") || spec.starts_with("http://")
}

/// The body of a `200` answer to `GET url`.
pub fn get(url: &str) -> Result<Vec<u8>, Fail> {
    let fail = |why: String| Fail::Usage(format!("GET {url}: {why}"));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut res = agent.get(url).header("accept", "application/json").call().map_err(|e| fail(e.to_string()))?;
    let status = res.status().as_u16();
    if status != 200 {
        return Err(fail(format!("status {status} (only 200 is a document)")));
    }
    let body = res.body_mut().with_config().limit(MAX_BODY_BYTES + 1).read_to_vec();
    let body = body.map_err(|e| fail(e.to_string()))?;
    if body.len() as u64 > MAX_BODY_BYTES {
        return Err(fail(format!("the body exceeds {MAX_BODY_BYTES} bytes")));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// Serves one HTTP/1.1 answer on a loopback port; returns its URL.
    fn serve_once(status: &str, body: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let status = status.to_owned();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let head = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(&body);
            }
        });
        format!("http://127.0.0.1:{port}/jwks")
    }

    #[test]
    fn a_200_body_is_read_and_anything_else_is_an_error_naming_the_url() {
        let url = serve_once("200 OK", br#"{"keys":[]}"#.to_vec());
        assert_eq!(get(&url).expect("fetched"), br#"{"keys":[]}"#);
        let url = serve_once("500 Internal Server Error", b"{}".to_vec());
        let e = get(&url).expect_err("a 500 is no document").to_string();
        assert!(e.contains(&url) && e.contains("status 500"), "{e}");
        let url = serve_once("302 Found", Vec::new());
        assert!(get(&url).is_err(), "redirects are not followed");
    }

    #[test]
    fn an_oversized_body_is_refused() {
        let url = serve_once("200 OK", vec![b' '; MAX_BODY_BYTES as usize + 10]);
        let e = get(&url).expect_err("too large").to_string();
        assert!(e.contains("exceeds") || e.contains("limit"), "{e}");
    }

    #[test]
    fn only_http_and_https_are_urls() {
        assert!(is_url("https://idp.example/jwks") && is_url("http://127.0.0.1:9400/jwks"));
        assert!(!is_url("jwks.json") && !is_url("-") && !is_url("file:///etc/passwd"));
    }
}
