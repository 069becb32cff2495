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
        self.check_login(config)?;
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

    /// A `login` block's token endpoint, the same way: `cluster` in Envoy, `uri` at the edge.
    fn check_login(self, config: &GateConfig) -> Result<(), ConfigError> {
        for p in &config.providers {
            let Some(t) = p.login.as_ref().map(|l| &l.token) else { continue };
            let (field, present) = match self {
                HostKind::Envoy => ("cluster", t.cluster.is_some()),
                HostKind::Edge => ("uri", t.uri.is_some()),
            };
            if !present {
                let field = format!("providers.{}.login.token.{field}", p.name);
                return Err(ConfigError { field, problem: format!("required on this host ({self:?})") });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_login_token_endpoint_needs_a_cluster_in_envoy_and_a_uri_at_the_edge() {
        let with = |token: serde_json::Value| {
            json!({
                "providers": {"web": {"issuer": "https://idp.example", "audiences": ["api"],
                    "jwks": {"cluster": "idp", "uri": "https://idp.example/jwks"},
                    "login": {"client_id": "c", "client_secret": "s", "authorization_endpoint": "https://idp.example/auth",
                        "token": token, "origins": ["https://app.example"],
                        "cookie": {"keys": ["AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"]}}}},
                "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "web"}, "browser": true}]
            })
            .to_string()
        };
        let by_uri = with(json!({"uri": "https://idp.example/token"}));
        assert!(HostKind::Edge.load_config(&by_uri).is_ok());
        assert_eq!(
            HostKind::Envoy.load_config(&by_uri).expect_err("no cluster").field,
            "providers.web.login.token.cluster"
        );
        let by_cluster = with(json!({"cluster": "idp", "path": "/token"}));
        assert!(HostKind::Envoy.load_config(&by_cluster).is_ok());
        assert_eq!(HostKind::Edge.load_config(&by_cluster).expect_err("no uri").field, "providers.web.login.token.uri");
    }

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
