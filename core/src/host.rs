//! What each host needs from the shared config beyond what the core validates: one
//! function, so both hosts report a missing field with the same `ConfigError` path.

use crate::config::{ConfigError, GateConfig, JwksSource, KeySource};

/// The host a gate runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKind {
    /// The proxy-wasm filter: fetches through an Envoy cluster.
    Envoy,
    /// The edge worker: fetches by URL.
    Edge,
}

impl HostKind {
    /// Parses and validates `text`, then checks what this host needs.
    pub fn load_config(self, text: &str) -> Result<GateConfig, ConfigError> {
        let config = GateConfig::from_json(text)?;
        self.check(&config)?;
        Ok(config)
    }

    /// Every remote JWKS must say how this host reaches it: `cluster` in Envoy, `uri` at
    /// the edge. The shared config may carry both, so the core cannot demand either.
    pub fn check(self, config: &GateConfig) -> Result<(), ConfigError> {
        for p in &config.providers {
            let (member, r) = match (&p.jwks, p.api_keys().map(|k| &k.keys)) {
                (_, Some(KeySource::Feed(r))) => ("feed", r),
                (JwksSource::Remote(r), None) => ("jwks", r),
                _ => continue,
            };
            let (field, present, why) = match self {
                HostKind::Envoy => {
                    ("cluster", r.cluster.is_some(), "required in Envoy (the cluster that reaches the IdP)")
                }
                HostKind::Edge => ("uri", r.uri.is_some(), "required at the edge (the full JWKS URL)"),
            };
            if !present {
                return Err(ConfigError {
                    field: format!("providers.{}.{member}.{field}", p.name),
                    problem: why.into(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(jwks: serde_json::Value) -> String {
        json!({
            "providers": {"corp": {"issuer": "https://idp.example", "audiences": ["api"], "jwks": jwks}},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "corp"}}]
        })
        .to_string()
    }

    #[test]
    fn envoy_needs_a_cluster_and_the_edge_a_uri() {
        let by_cluster = config(json!({"cluster": "idp", "path": "/jwks"}));
        let by_uri = config(json!({"uri": "https://idp.example/jwks"}));
        assert!(HostKind::Envoy.load_config(&by_cluster).is_ok());
        assert!(HostKind::Edge.load_config(&by_uri).is_ok());
        let e = HostKind::Envoy.load_config(&by_uri).expect_err("no cluster");
        assert_eq!(e.field, "providers.corp.jwks.cluster");
        assert_eq!(
            e.to_string(),
            "invalid config at `providers.corp.jwks.cluster`: required in Envoy (the cluster that reaches the IdP)"
        );
        let e = HostKind::Edge.load_config(&by_cluster).expect_err("no uri");
        assert_eq!(
            e.to_string(),
            "invalid config at `providers.corp.jwks.uri`: required at the edge (the full JWKS URL)"
        );
    }

    #[test]
    fn a_key_feed_needs_the_same_per_host_field() {
        let feed = |f: serde_json::Value| {
            json!({
                "providers": {"svc": {"kind": "api_keys", "feed": f}},
                "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "svc"}}]
            })
            .to_string()
        };
        let e = HostKind::Envoy.load_config(&feed(json!({"uri": "https://k.example/feed"}))).expect_err("no cluster");
        assert_eq!(e.field, "providers.svc.feed.cluster");
        let e = HostKind::Edge.load_config(&feed(json!({"cluster": "k", "path": "/feed"}))).expect_err("no uri");
        assert_eq!(e.field, "providers.svc.feed.uri");
    }

    #[test]
    fn inline_keys_need_neither_and_core_errors_come_first() {
        use crate::test_support::{ec_jwk, ec_key, jwks};
        let inline = config(json!({"inline": jwks(&[ec_jwk(&ec_key("k"))])}));
        assert!(HostKind::Envoy.load_config(&inline).is_ok());
        assert!(HostKind::Edge.load_config(&inline).is_ok());
        let e = HostKind::Envoy.load_config("[]").expect_err("not an object");
        assert_eq!(e.field, "(document)");
    }
}
