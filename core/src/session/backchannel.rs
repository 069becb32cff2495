//! OIDC Back-Channel Logout 1.0 at the gate (a child of `gate.rs`): the IdP POSTs a
//! logout token to `backchannel_logout_path`; a valid one puts the session's `sid` (or
//! the subject's `sub`) into the provider's revocation denylist, so every access token
//! of that session is refused from then on, sealed cookie or not.
//!
//! Envoy runs one gate per worker VM: the VM that received the POST hands the entry to
//! the host ([`Gate::take_logouts`]), which shares it through shared data; every other
//! VM applies it with [`Gate::apply_logout`], as fetched documents are shared. At the
//! edge each isolate is alone: others learn the `sid` through the revocation feed.

use super::Gate;
use crate::decision::Decision;
use crate::request::RequestView;
use crate::revocation::{Entry, Target};
use crate::session::jws::{self, JwsError};
use crate::session::Response;

/// Largest logout POST read (a form with one JWT).
pub const MAX_LOGOUT_BODY: usize = 16 * 1024;
/// How old a logout token's `iat` may be.
const LOGOUT_TOKEN_MAX_AGE_S: u64 = 300;

fn refuse(why: &str) -> Decision {
    Decision::Respond(Box::new(Response::json(400, "invalid_request", why)))
}

impl Gate {
    /// The provider whose `backchannel_logout_path` is `path`.
    pub(crate) fn backchannel_provider(&self, path: &str) -> Option<usize> {
        self.config
            .providers
            .iter()
            .position(|p| p.login.as_ref().and_then(|l| l.backchannel_logout_path.as_deref()) == Some(path))
    }

    /// Decides a request whose body the host has read after [`Decision::NeedBody`]: a
    /// back-channel logout. 200 when the session is ended, 400 (JSON, §2.8) otherwise.
    pub fn decide_body(&mut self, req: &RequestView<'_>, body: &[u8], now_ms: u64) -> Decision {
        let path = req.path.split(['?', '#']).next().unwrap_or("");
        let Some(p) = self.backchannel_provider(path) else { return refuse("not a back-channel logout endpoint") };
        if body.len() > MAX_LOGOUT_BODY {
            return refuse("the logout request is too large");
        }
        let form = String::from_utf8_lossy(body);
        let token = form.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == "logout_token");
        let Some((_, token)) = token else { return refuse("no `logout_token` in the form body") };
        let token = crate::session::flow_decode(token);
        let prov = &self.config.providers[p];
        let Some(login) = prov.login.as_deref() else { return refuse("no login block") };
        let keys = &self.state.keys[p];
        let claims = match jws::verified_claims(&self.config, keys, p, &token, now_ms, false) {
            Ok(c) => c,
            Err(JwsError::NeedKeys) => return refuse("the provider's keys are not loaded"),
            Err(JwsError::Refused(why)) => return refuse(why),
        };
        let now_s = now_ms / 1000;
        let of = match jws::check_logout_token(
            &claims,
            &prov.issuer,
            &login.client_id,
            now_s,
            prov.clock_skew_s,
            LOGOUT_TOKEN_MAX_AGE_S,
        ) {
            Ok(of) => of,
            Err(why) => return refuse(why),
        };
        // Any session token is gone once the session cookie could no longer be valid.
        let exp_s = now_s + login.cookie.max_age_s;
        let mut records = Vec::new();
        if let Some(sid) = of.sid {
            records.push(record(&prov.name, "sid", &sid, exp_s));
        }
        if let Some(sub) = of.sub.filter(|_| records.is_empty()) {
            records.push(record(&prov.name, "sub", &sub, exp_s));
        }
        for r in &records {
            self.apply_logout(r);
        }
        self.state.logout_outbox.extend(records);
        let hash = crate::gate::fingerprint(&token);
        Decision::Respond(Box::new(Response::ok(&format!("back-channel logout applied (logout token {hash})"))))
    }

    /// Logout records applied here since the last call, for the host to share with the
    /// other VMs of the process (one line each; no token in them).
    pub fn take_logouts(&mut self) -> Vec<String> {
        std::mem::take(&mut self.state.logout_outbox)
    }

    /// Applies a logout record (from [`Gate::take_logouts`] of this or another VM).
    /// `false` for a record that names no known provider or is malformed.
    pub fn apply_logout(&mut self, record: &str) -> bool {
        let mut parts = record.split('\t');
        let (Some(name), Some(kind), Some(value), Some(exp)) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let Some(p) = self.config.providers.iter().position(|pr| pr.name == name) else { return false };
        let Ok(exp_s) = exp.parse::<u64>() else { return false };
        let target = match kind {
            "sid" => Target::Sid(value.to_owned()),
            // Every token of the subject issued until now (the record's time).
            "sub" => Target::Sub { sub: value.to_owned(), iat_before: exp_s.checked_sub(self.login_max_age(p)) },
            _ => return false,
        };
        let iss = Some(self.config.providers[p].issuer.clone());
        match self.state.revocations.get_mut(p).and_then(Option::as_mut) {
            Some(r) => {
                r.deny(Entry { target, iss, exp_s });
                true
            }
            None => false,
        }
    }

    fn login_max_age(&self, p: usize) -> u64 {
        self.config.providers[p].login.as_ref().map_or(0, |l| l.cookie.max_age_s)
    }
}

/// `provider \t sid|sub \t value \t exp_s`. Tabs cannot occur in the values (refused).
fn record(provider: &str, kind: &str, value: &str, exp_s: u64) -> String {
    let clean: String = value.chars().filter(|c| !c.is_control()).collect();
    format!("{provider}\t{kind}\t{clean}\t{exp_s}")
}

#[cfg(test)]
#[path = "backchannel_tests.rs"]
mod tests;
