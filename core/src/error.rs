//! Why a request is refused. One enum decides status, RFC 6750 error code and metric
//! label, so the Envoy filter and the edge worker cannot drift apart.

use std::fmt;

/// Every reason jwtgate refuses a request. Messages never contain token text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// No token in any configured place, on a route that needs one.
    MissingToken,
    /// More than one token: several `Authorization` headers, a comma-joined value, or
    /// a token in two configured places.
    MultipleTokens,
    /// The credential is present but not a bearer token of the expected shape.
    MalformedCredential(&'static str),
    /// The token is larger than `max_token_bytes`; refused before decoding.
    TokenTooLarge,
    /// The token is not a compact JWS of three base64url segments with JSON inside.
    Malformed(&'static str),
    /// The header names an algorithm that is unknown, `none`, or not allowed.
    AlgorithmNotAllowed,
    /// The header carries a member jwtgate refuses (`crit`, `cty`, ...).
    UnsupportedHeader(&'static str),
    /// `typ` does not match the provider's `token_type`.
    WrongTokenType,
    /// No trusted key matches the token's `kid` and `alg`.
    UnknownKey,
    /// The signature does not verify with the trusted key.
    BadSignature,
    MissingExpiry,
    Expired,
    NotYetValid,
    IssuedInFuture,
    LifetimeTooLong,
    /// A registered claim has the wrong JSON type.
    BadClaim(&'static str),
    WrongIssuer,
    /// The token was found in a place its issuer's provider does not read tokens from
    /// (e.g. a query parameter when only `Authorization` is configured for it).
    WrongSource,
    WrongAudience,
    /// A claim configured as a request header has no unambiguous header form (edge
    /// whitespace, a `,` in an array item, a space in a scope, a control character).
    UnrenderableClaim(String),
    /// The token is valid but lacks scopes the route requires.
    InsufficientScope(String),
    /// The token is valid but does not meet the rule's `require` tree (the reason is a
    /// stable code; no claim value is ever part of it).
    AccessDenied(crate::policy::Unmet),
    /// An array claim a condition reads is longer than the evaluation bound: the token
    /// is refused rather than scanned.
    ClaimTooLarge(String),
    /// A claim member a `require` tree reads nests deeper than the evaluation bound.
    ClaimTooDeep(String),
    /// The DPoP proof is missing, malformed, or does not match the request (RFC 9449
    /// `invalid_dpop_proof`).
    InvalidDpopProof(&'static str),
    /// The proof carries no nonce, or one that is not current (`use_dpop_nonce`; the
    /// answer carries a fresh `DPoP-Nonce`).
    UseDpopNonce,
    /// The token is not presented by its holder: a DPoP-bound token with the `Bearer`
    /// scheme, an unbound token where the route requires binding, or a proof by another key.
    NotBound(&'static str),
    /// RFC 8705: no client certificate, or not the one `cnf.x5t#S256` names.
    CertificateMismatch(&'static str),
    /// The proof replay cache is full (or its shared store failed): refuse with 503,
    /// never accept a proof that might be a replay.
    ReplayCacheUnavailable,
    /// The request's host is given twice, differently, and a rule depends on it.
    AmbiguousHost,
    /// An API key is missing, malformed, unknown, disabled or expired: one answer for
    /// all, so a caller never learns which (`WWW-Authenticate: ApiKey realm=…`).
    InvalidApiKey,
    /// A route that takes a token or an API key got neither (both challenges).
    MissingCredential,
    /// No rule matches the request: deny by default.
    NoMatchingRule,
    /// The path cannot be matched safely (encoded slash, backslash, NUL, ...).
    BadPath,
    /// The gate has no usable keys (cold start past the hold, or an IdP outage past the
    /// stale bound). This is the gate's own failure: 503, never 401, never allow.
    KeysUnavailable,
    /// A denylist entry (`jti`, `sub`, `sid` or client) matches the verified token.
    Revoked,
    /// The provider's revocation list is older than `max_staleness_s` (or was never
    /// loaded): the gate cannot tell whether the token was revoked. 503, never allow.
    RevocationUnavailable,
    /// The IdP's introspection endpoint said `active: false` (revoked, expired, unknown).
    Inactive,
    /// No introspection answer (timeout, 5xx, a broken answer, the hold ran out): the
    /// gate cannot tell, so 503, never 401, never allow.
    IntrospectionUnavailable,
    /// An `api_keys` provider's feed was never loaded, or is stale past its bound: 503,
    /// never 401, never allow (as [`AuthError::KeysUnavailable`] for a JWKS).
    KeyFeedUnavailable,
    /// The host could not load a valid config: every request gets 503 until it does.
    Unconfigured,
    /// The host got an answer from the core it cannot carry out (a bug): fail closed, 500.
    Internal(&'static str),
}

impl AuthError {
    /// HTTP status of the local reply.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::InsufficientScope(_) | AuthError::NoMatchingRule | AuthError::AccessDenied(_) => 403,
            AuthError::BadPath | AuthError::AmbiguousHost => 400,
            AuthError::KeysUnavailable | AuthError::RevocationUnavailable | AuthError::Unconfigured => 503,
            AuthError::ReplayCacheUnavailable | AuthError::IntrospectionUnavailable => 503,
            AuthError::KeyFeedUnavailable => 503,
            AuthError::Internal(_) => 500,
            _ => 401,
        }
    }

    /// RFC 6750 §3.1 error code; `None` for a missing token (§3.1: no error code then)
    /// and for failures that are not the client's.
    pub fn bearer_error(&self) -> Option<&'static str> {
        match self {
            AuthError::MissingToken | AuthError::KeysUnavailable | AuthError::RevocationUnavailable => None,
            AuthError::InvalidApiKey | AuthError::MissingCredential => None,
            AuthError::ReplayCacheUnavailable => None,
            AuthError::InvalidDpopProof(_) => Some("invalid_dpop_proof"),
            AuthError::UseDpopNonce => Some("use_dpop_nonce"),
            AuthError::IntrospectionUnavailable | AuthError::KeyFeedUnavailable => None,
            AuthError::Unconfigured | AuthError::Internal(_) => None,
            AuthError::NoMatchingRule | AuthError::BadPath | AuthError::AmbiguousHost => None,
            AuthError::AccessDenied(_) => None,
            AuthError::MultipleTokens | AuthError::MalformedCredential(_) => Some("invalid_request"),
            AuthError::InsufficientScope(_) => Some("insufficient_scope"),
            _ => Some("invalid_token"),
        }
    }

    /// The `error` member of the JSON body.
    pub fn body_error(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::InvalidApiKey => "invalid_api_key",
            AuthError::MissingCredential => "missing_credential",
            AuthError::NoMatchingRule | AuthError::AccessDenied(_) => "access_denied",
            AuthError::BadPath | AuthError::AmbiguousHost => "invalid_request",
            AuthError::KeysUnavailable | AuthError::RevocationUnavailable | AuthError::Unconfigured => {
                "temporarily_unavailable"
            }
            AuthError::ReplayCacheUnavailable | AuthError::IntrospectionUnavailable => "temporarily_unavailable",
            AuthError::KeyFeedUnavailable => "temporarily_unavailable",
            AuthError::Internal(_) => "server_error",
            other => other.bearer_error().unwrap_or("invalid_token"),
        }
    }

    /// Low-cardinality label for metrics and logs.
    pub fn metric_reason(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing",
            AuthError::InvalidApiKey => "api_key",
            AuthError::MissingCredential => "missing",
            AuthError::MultipleTokens => "multiple_tokens",
            AuthError::MalformedCredential(_) | AuthError::Malformed(_) => "malformed",
            AuthError::TokenTooLarge => "too_large",
            AuthError::AlgorithmNotAllowed => "algorithm",
            AuthError::UnsupportedHeader(_) => "header",
            AuthError::WrongTokenType => "token_type",
            AuthError::UnknownKey => "unknown_kid",
            AuthError::BadSignature => "signature",
            AuthError::MissingExpiry | AuthError::Expired => "expired",
            AuthError::NotYetValid | AuthError::IssuedInFuture => "not_yet_valid",
            AuthError::LifetimeTooLong => "lifetime",
            AuthError::BadClaim(_) => "claims",
            AuthError::WrongIssuer => "issuer",
            AuthError::WrongSource => "source",
            AuthError::UnrenderableClaim(_) => "claims",
            AuthError::WrongAudience => "audience",
            AuthError::InsufficientScope(_) => "scope",
            AuthError::AccessDenied(why) => why.code(),
            AuthError::ClaimTooLarge(_) => "claim_too_large",
            AuthError::ClaimTooDeep(_) => "claim_too_deep",
            AuthError::InvalidDpopProof(_) => "dpop_proof",
            AuthError::UseDpopNonce => "dpop_nonce",
            AuthError::NotBound(_) => "not_bound",
            AuthError::CertificateMismatch(_) => "certificate",
            AuthError::ReplayCacheUnavailable => "replay_cache",
            AuthError::AmbiguousHost => "host",
            AuthError::NoMatchingRule => "no_rule",
            AuthError::BadPath => "path",
            AuthError::KeysUnavailable => "keys_unavailable",
            AuthError::Revoked => "revoked",
            AuthError::RevocationUnavailable => "revocation_stale",
            AuthError::Inactive => "inactive",
            AuthError::IntrospectionUnavailable => "introspection_unavailable",
            AuthError::KeyFeedUnavailable => "api_keys_unavailable",
            AuthError::Unconfigured => "unconfigured",
            AuthError::Internal(_) => "internal",
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::MissingToken => f.write_str("a bearer token is required"),
            AuthError::InvalidApiKey => f.write_str("a valid API key is required"),
            AuthError::MissingCredential => f.write_str("a bearer token or an API key is required"),
            AuthError::MultipleTokens => f.write_str("more than one token was sent"),
            AuthError::MalformedCredential(what) => write!(f, "malformed credential: {what}"),
            AuthError::TokenTooLarge => f.write_str("token is too large"),
            AuthError::Malformed(what) => write!(f, "malformed token: {what}"),
            AuthError::AlgorithmNotAllowed => f.write_str("token algorithm is not allowed"),
            AuthError::UnsupportedHeader(m) => write!(f, "token header member `{m}` is not supported"),
            AuthError::WrongTokenType => f.write_str("token type (typ) is not accepted"),
            AuthError::UnknownKey => f.write_str("no trusted key matches the token's kid and alg"),
            AuthError::BadSignature => f.write_str("token signature is invalid"),
            AuthError::MissingExpiry => f.write_str("token has no exp claim"),
            AuthError::Expired => f.write_str("token has expired"),
            AuthError::NotYetValid => f.write_str("token is not valid yet (nbf)"),
            AuthError::IssuedInFuture => f.write_str("token is issued in the future (iat)"),
            AuthError::LifetimeTooLong => f.write_str("token lifetime exceeds the allowed maximum"),
            AuthError::BadClaim(c) => write!(f, "claim `{c}` has an invalid value"),
            AuthError::WrongIssuer => f.write_str("token issuer is not accepted"),
            AuthError::WrongSource => f.write_str("token was sent in a place its issuer's provider does not read"),
            AuthError::UnrenderableClaim(c) => write!(f, "claim `{c}` has no unambiguous header form"),
            AuthError::WrongAudience => f.write_str("token audience is not accepted"),
            AuthError::InsufficientScope(s) => write!(f, "token lacks the required scope: {s}"),
            AuthError::AccessDenied(_) => f.write_str("the token does not meet this route's access policy"),
            AuthError::ClaimTooLarge(c) => write!(f, "claim `{c}` is too large to evaluate"),
            AuthError::ClaimTooDeep(c) => write!(f, "claim `{c}` is nested too deeply to evaluate"),
            AuthError::InvalidDpopProof(why) => write!(f, "invalid DPoP proof: {why}"),
            AuthError::UseDpopNonce => f.write_str("the DPoP proof must carry the server's current nonce"),
            AuthError::NotBound(why) => f.write_str(why),
            AuthError::CertificateMismatch(why) => f.write_str(why),
            AuthError::ReplayCacheUnavailable => f.write_str("the DPoP replay cache is full; retry shortly"),
            AuthError::AmbiguousHost => f.write_str("the request names more than one host"),
            AuthError::NoMatchingRule => f.write_str("no rule allows this route"),
            AuthError::BadPath => f.write_str("request path cannot be matched safely"),
            AuthError::KeysUnavailable => f.write_str("signing keys are temporarily unavailable"),
            AuthError::Revoked => f.write_str("token has been revoked"),
            AuthError::RevocationUnavailable => f.write_str("the revocation list is temporarily unavailable"),
            AuthError::Inactive => f.write_str("token is not active (introspection)"),
            AuthError::IntrospectionUnavailable => f.write_str("token introspection is temporarily unavailable"),
            AuthError::KeyFeedUnavailable => f.write_str("API keys are temporarily unavailable"),
            AuthError::Unconfigured => f.write_str("jwtgate is not configured"),
            AuthError::Internal(what) => write!(f, "internal error: {what}"),
        }
    }
}

impl std::error::Error for AuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_infrastructure_failure_is_503_never_401() {
        assert_eq!(AuthError::KeysUnavailable.status(), 503);
        assert_eq!(AuthError::KeysUnavailable.bearer_error(), None);
        assert_eq!(AuthError::RevocationUnavailable.status(), 503);
        assert_eq!(AuthError::RevocationUnavailable.bearer_error(), None);
        assert_eq!(AuthError::RevocationUnavailable.metric_reason(), "revocation_stale");
    }

    #[test]
    fn a_revoked_token_is_invalid_token() {
        let e = AuthError::Revoked;
        assert_eq!((e.status(), e.bearer_error(), e.metric_reason()), (401, Some("invalid_token"), "revoked"));
        assert_eq!(AuthError::IntrospectionUnavailable.status(), 503);
        assert_eq!(AuthError::IntrospectionUnavailable.bearer_error(), None);
        assert_eq!((AuthError::Inactive.status(), AuthError::Inactive.bearer_error()), (401, Some("invalid_token")));
    }

    #[test]
    fn rfc6750_codes() {
        assert_eq!(AuthError::MissingToken.bearer_error(), None);
        assert_eq!(AuthError::Expired.bearer_error(), Some("invalid_token"));
        assert_eq!(AuthError::MultipleTokens.bearer_error(), Some("invalid_request"));
        assert_eq!(AuthError::MultipleTokens.status(), 401);
        let scope = AuthError::InsufficientScope("admin".into());
        assert_eq!((scope.status(), scope.bearer_error()), (403, Some("insufficient_scope")));
    }
}
