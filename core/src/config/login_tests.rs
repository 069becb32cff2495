use crate::config::GateConfig;
use serde_json::{json, Value};

fn config(edit: impl FnOnce(&mut Value)) -> Result<GateConfig, crate::config::ConfigError> {
    let mut c = json!({
        "providers": {"web": {
            "issuer": "https://idp", "audiences": ["api"], "jwks": {"uri": "https://idp/jwks"},
            "login": {
                "client_id": "bff", "client_secret": "s",
                "authorization_endpoint": "https://idp/auth", "token": {"uri": "https://idp/token"},
                "origins": ["https://app.example"],
                "cookie": {"keys": [crate::b64::encode(&[1; 32])]}
            }
        }},
        "rules": [{"match": {"prefix": "/app/"}, "requires": {"provider": "web"}, "browser": true}]
    });
    edit(&mut c);
    GateConfig::from_json(&c.to_string())
}

#[test]
fn defaults_fill_a_minimal_block() {
    let c = config(|_| {}).expect("valid");
    let l = c.providers[0].login.as_deref().expect("login");
    assert_eq!(
        (l.redirect_path.as_str(), l.logout_path.as_str(), l.cookie.name.as_str()),
        ("/callback", "/logout", "__Host-jwtgate")
    );
    assert_eq!((l.cookie.max_age_s, l.cookie.login_max_age_s, l.refresh_before_s), (28800, 600, 30));
    assert_eq!(c.rules[0].browser, Some(0));
    assert!(!format!("{l:?}").contains("[1, 1"), "keys never printed");
}

/// A config edit and the field its error must name.
type Case = (Box<dyn FnOnce(&mut Value)>, &'static str);

#[test]
fn errors_name_the_field() {
    let cases: Vec<Case> = vec![
        (
            Box::new(|c| c["providers"]["web"]["login"]["cookie"]["keys"] = json!(["short"])),
            "providers.web.login.cookie.keys[0]",
        ),
        (Box::new(|c| c["providers"]["web"]["login"]["cookie"]["keys"] = json!([])), "providers.web.login.cookie.keys"),
        (
            Box::new(|c| c["providers"]["web"]["login"]["origins"] = json!(["https://app.example/x"])),
            "providers.web.login.origins[0]",
        ),
        (Box::new(|c| c["providers"]["web"]["login"]["origins"] = json!([])), "providers.web.login.origins"),
        (
            Box::new(|c| c["providers"]["web"]["login"]["redirect_path"] = json!("//evil")),
            "providers.web.login.redirect_path",
        ),
        (Box::new(|c| c["providers"]["web"]["login"]["scopes"] = json!(["read"])), "providers.web.login.scopes"),
        (
            Box::new(|c| c["providers"]["web"]["login"]["authorization_endpoint"] = json!("/auth")),
            "providers.web.login.authorization_endpoint",
        ),
        (
            Box::new(|c| {
                c["providers"]["web"]["login"].as_object_mut().expect("o").remove("token");
            }),
            "providers.web.login.token",
        ),
        (
            Box::new(|c| {
                c["providers"]["web"]["login"].as_object_mut().expect("o").remove("client_secret");
            }),
            "providers.web.login.client_secret",
        ),
        (
            Box::new(|c| c["providers"]["web"]["login"]["cookie"]["max_bytes"] = json!(10)),
            "providers.web.login.cookie.max_bytes",
        ),
        (Box::new(|c| c["providers"]["web"]["login"]["bogus"] = json!(1)), "providers.web"),
        (
            Box::new(|c| {
                c["providers"]["web"].as_object_mut().expect("o").remove("login");
            }),
            "rules[0].browser",
        ),
        (Box::new(|c| c["rules"][0]["requires"] = json!({"any_of": ["web"]})), "rules[0].browser"),
    ];
    for (edit, field) in cases {
        let e = config(edit).expect_err(field);
        assert!(e.field.starts_with(field), "{field}: got {} ({})", e.field, e.problem);
    }
}
