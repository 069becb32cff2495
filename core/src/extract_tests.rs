use super::*;
use crate::test_support::{req, Req};

const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";

fn bearer_src() -> TokenSource {
    TokenSource::Header { name: "authorization".into(), prefix: "Bearer ".into() }
}

fn query_src() -> TokenSource {
    TokenSource::Query("access_token".into())
}

fn cookie_src() -> TokenSource {
    TokenSource::Cookie("jwt".into())
}

fn run(r: &Req, sources: &[TokenSource]) -> Result<Option<(String, TokenSource)>, AuthError> {
    let refs: Vec<&TokenSource> = sources.iter().collect();
    extract(&r.view(), &refs).map(|f| f.map(|f| (f.token.to_owned(), f.source)))
}

fn with_auth(values: &[&str]) -> Req {
    let headers: Vec<(&str, &str)> = values.iter().map(|v| ("Authorization", *v)).collect();
    req("GET", "/api/x", &headers)
}

#[test]
fn one_bearer_header_yields_its_token() {
    let r = with_auth(&[&format!("Bearer {TOKEN}")]);
    assert_eq!(run(&r, &[bearer_src()]), Ok(Some((TOKEN.to_owned(), bearer_src()))));
}

#[test]
fn scheme_is_case_insensitive_and_extra_spaces_are_tolerated() {
    for v in [format!("bearer {TOKEN}"), format!("BEARER {TOKEN}"), format!("Bearer   {TOKEN}  ")] {
        let r = with_auth(&[&v]);
        assert_eq!(run(&r, &[bearer_src()]).map(|f| f.map(|f| f.0)), Ok(Some(TOKEN.to_owned())), "{v:?}");
    }
}

#[test]
fn two_authorization_headers_are_multiple_tokens() {
    let r = with_auth(&[&format!("Bearer {TOKEN}"), &format!("Bearer {TOKEN}x")]);
    assert_eq!(run(&r, &[bearer_src()]), Err(AuthError::MultipleTokens));
    // Even when the second one is another scheme: there is no "right" one to pick.
    let r = with_auth(&[&format!("Bearer {TOKEN}"), "Basic dXNlcjpwYXNz"]);
    assert_eq!(run(&r, &[bearer_src()]), Err(AuthError::MultipleTokens));
}

#[test]
fn comma_joined_tokens_are_multiple_tokens() {
    let r = with_auth(&[&format!("Bearer {TOKEN}, Bearer {TOKEN}")]);
    assert_eq!(run(&r, &[bearer_src()]), Err(AuthError::MultipleTokens));
    let r = with_auth(&[&format!("Bearer {TOKEN},{TOKEN}")]);
    assert_eq!(run(&r, &[bearer_src()]), Err(AuthError::MultipleTokens));
}

#[test]
fn bearer_without_a_token_is_malformed_credential() {
    for v in ["Bearer", "Bearer ", "bearer    "] {
        let r = with_auth(&[v]);
        assert!(matches!(run(&r, &[bearer_src()]), Err(AuthError::MalformedCredential(_))), "{v:?}");
    }
}

#[test]
fn other_schemes_are_not_our_token() {
    for v in ["Basic dXNlcjpwYXNz", "DPoP abc.def.ghi", "BearerX abc.def.ghi", "Bearerabc.def.ghi", ""] {
        let r = with_auth(&[v]);
        assert_eq!(run(&r, &[bearer_src()]), Ok(None), "{v:?}");
    }
    assert_eq!(run(&req("GET", "/", &[]), &[bearer_src()]), Ok(None));
}

#[test]
fn token68_outside_base64url_is_a_malformed_token() {
    for t in ["a+b.c.d", "a/b.c.d", "abc.def.ghi=", "a~b"] {
        let r = with_auth(&[&format!("Bearer {t}")]);
        assert!(matches!(run(&r, &[bearer_src()]), Err(AuthError::Malformed(_))), "{t:?}");
    }
    // `null` and other odd-but-base64url text passes extraction; the token parser refuses it.
    let r = with_auth(&["Bearer null"]);
    assert_eq!(run(&r, &[bearer_src()]).map(|f| f.map(|f| f.0)), Ok(Some("null".to_owned())));
}

#[test]
fn header_and_query_together_are_multiple_tokens() {
    let r = req("GET", &format!("/api/x?access_token={TOKEN}"), &[("authorization", &format!("Bearer {TOKEN}"))]);
    assert_eq!(run(&r, &[bearer_src(), query_src()]), Err(AuthError::MultipleTokens));
    // With only the header configured, the query parameter is not a token source.
    assert_eq!(run(&r, &[bearer_src()]).map(|f| f.map(|f| f.1)), Ok(Some(bearer_src())));
}

#[test]
fn query_parameter_source() {
    let r = req("GET", &format!("/api/x?a=1&access_token={TOKEN}&b=2"), &[]);
    assert_eq!(run(&r, &[bearer_src(), query_src()]), Ok(Some((TOKEN.to_owned(), query_src()))));
    let twice = req("GET", &format!("/x?access_token={TOKEN}&access_token={TOKEN}"), &[]);
    assert_eq!(run(&twice, &[query_src()]), Err(AuthError::MultipleTokens));
    let empty = req("GET", "/x?access_token=", &[]);
    assert!(matches!(run(&empty, &[query_src()]), Err(AuthError::MalformedCredential(_))));
    let fragment = req("GET", &format!("/x#access_token={TOKEN}"), &[]);
    assert_eq!(run(&fragment, &[query_src()]), Ok(None));
    let similar = req("GET", &format!("/x?my_access_token={TOKEN}"), &[]);
    assert_eq!(run(&similar, &[query_src()]), Ok(None));
}

#[test]
fn cookie_source() {
    let r = req("GET", "/x", &[("cookie", &format!("theme=dark; jwt={TOKEN}; lang=en"))]);
    assert_eq!(run(&r, &[cookie_src()]), Ok(Some((TOKEN.to_owned(), cookie_src()))));
    let quoted = req("GET", "/x", &[("Cookie", &format!("jwt=\"{TOKEN}\""))]);
    assert_eq!(run(&quoted, &[cookie_src()]).map(|f| f.map(|f| f.0)), Ok(Some(TOKEN.to_owned())));
    let two_headers = req("GET", "/x", &[("cookie", &format!("jwt={TOKEN}")), ("cookie", &format!("jwt={TOKEN}"))]);
    assert_eq!(run(&two_headers, &[cookie_src()]), Err(AuthError::MultipleTokens));
    let other = req("GET", "/x", &[("cookie", &format!("xjwt={TOKEN}"))]);
    assert_eq!(run(&other, &[cookie_src()]), Ok(None));
}

#[test]
fn custom_header_without_prefix() {
    let src = TokenSource::Header { name: "x-token".into(), prefix: String::new() };
    let r = req("GET", "/x", &[("X-Token", TOKEN)]);
    assert_eq!(run(&r, std::slice::from_ref(&src)), Ok(Some((TOKEN.to_owned(), src.clone()))));
    let empty = req("GET", "/x", &[("x-token", "")]);
    assert!(matches!(run(&empty, &[src]), Err(AuthError::MalformedCredential(_))));
}

fn edits(r: &Req, src: &TokenSource) -> (Vec<String>, Vec<(String, String)>) {
    removal_edits(&r.view(), src)
}

#[test]
fn removal_of_a_header_token_removes_the_header() {
    let r = with_auth(&[&format!("Bearer {TOKEN}")]);
    assert_eq!(edits(&r, &bearer_src()), (vec!["authorization".to_owned()], vec![]));
}

#[test]
fn removal_of_a_query_token_rewrites_the_path() {
    let r = req("GET", &format!("/api/x?a=1&access_token={TOKEN}&b=2"), &[]);
    assert_eq!(edits(&r, &query_src()), (vec![], vec![(":path".to_owned(), "/api/x?a=1&b=2".to_owned())]));
    let only = req("GET", &format!("/api/x?access_token={TOKEN}"), &[]);
    assert_eq!(edits(&only, &query_src()), (vec![], vec![(":path".to_owned(), "/api/x".to_owned())]));
    let none = req("GET", "/api/x", &[]);
    assert_eq!(edits(&none, &query_src()), (vec![], vec![]));
}

#[test]
fn removal_of_a_cookie_token_keeps_other_cookies() {
    let r = req("GET", "/x", &[("cookie", &format!("theme=dark; jwt={TOKEN}")), ("cookie", "lang=en")]);
    let (remove, set) = edits(&r, &cookie_src());
    assert_eq!(remove, ["cookie"]);
    assert_eq!(set, [("cookie".to_owned(), "theme=dark; lang=en".to_owned())]);
    let only = req("GET", "/x", &[("cookie", &format!("jwt={TOKEN}"))]);
    assert_eq!(edits(&only, &cookie_src()), (vec!["cookie".to_owned()], vec![]));
}

#[test]
fn a_tab_after_the_scheme_is_a_malformed_credential_not_another_scheme() {
    let r = with_auth(&["Bearer\tabc.def.ghi"]);
    assert!(matches!(run(&r, &[bearer_src()]), Err(AuthError::MalformedCredential(_))));
    let r = with_auth(&["Bearerabc.def.ghi"]);
    assert_eq!(run(&r, &[bearer_src()]), Ok(None), "a different scheme name is not ours");
}

#[test]
fn cookie_lines_joined_with_commas_still_yield_each_pair() {
    // Workers' Headers joins two Cookie lines as "a=1, jwt=<t>".
    let r = req("GET", "/x", &[("cookie", "a=1, jwt=abc.def.ghi")]);
    assert_eq!(run(&r, &[cookie_src()]), Ok(Some(("abc.def.ghi".into(), cookie_src()))));
    let r = req("GET", "/x", &[("cookie", "jwt=a.b.c, jwt=d.e.f")]);
    assert_eq!(run(&r, &[cookie_src()]), Err(AuthError::MultipleTokens));
}

#[test]
fn anything_but_sp_and_a_token68_after_the_scheme_is_a_malformed_credential() {
    for v in [
        "Bearer a b",
        "Bearer a\"b",
        "Bearer =abc",
        "Bearer,abc.def.ghi",
        "Bearer;abc.def.ghi",
        "Bearer\tabc.def.ghi",
        "Bearer \tabc.def.ghi",
        "Bearer abc.def.ghi\x0b",
    ] {
        let r = with_auth(&[v]);
        assert!(matches!(run(&r, &[bearer_src()]), Err(AuthError::MalformedCredential(_))), "{v:?}");
    }
}

#[test]
fn bytes_python_splits_on_are_malformed_credentials_wherever_they_stand() {
    // `str.split()` treats 0x1C-0x1F, U+0085 and U+00A0 as whitespace: a WSGI app would
    // read a bearer token in each of these.
    for sep in ["\x1c", "\x1d", "\x1e", "\x1f", "\u{85}", "\u{a0}", "\x0c", "\x7f"] {
        for v in [format!("Bearer{sep}{TOKEN}"), format!("{sep}Bearer {TOKEN}"), format!("Bearer {TOKEN}{sep}")] {
            let r = with_auth(&[&v]);
            assert!(matches!(run(&r, &[bearer_src()]), Err(AuthError::MalformedCredential(_))), "{v:?}");
        }
    }
    // Also when the value is another scheme: no upstream may find a bearer token in it.
    let r = with_auth(&["Basic\x1cBearer abc"]);
    assert!(matches!(run(&r, &[bearer_src()]), Err(AuthError::MalformedCredential(_))));
}

#[test]
fn query_names_are_compared_as_form_parsers_decode_them() {
    for q in [
        "access_%74oken",
        "access%5Ftoken",
        "%61ccess_token",
        "access.token",
        "access+token",
        "access%20token",
        "access_token[]",
        "access_token[0]",
        "+access_token",
    ] {
        let r = req("GET", &format!("/api/x?{q}={TOKEN}"), &[]);
        assert_eq!(run(&r, &[query_src()]), Ok(Some((TOKEN.to_owned(), query_src()))), "{q}");
        let both = req("GET", &format!("/api/x?access_token={TOKEN}&{q}={TOKEN}"), &[]);
        assert_eq!(run(&both, &[query_src()]), Err(AuthError::MultipleTokens), "{q}");
    }
    let semi = req("GET", &format!("/api/x?a=1;access_token={TOKEN}"), &[]);
    assert_eq!(run(&semi, &[query_src()]), Ok(Some((TOKEN.to_owned(), query_src()))));
    for other in ["access_tokens", "xaccess_token", "access_%zzoken", "access_to%6en_"] {
        let r = req("GET", &format!("/api/x?{other}={TOKEN}"), &[]);
        assert_eq!(run(&r, &[query_src()]), Ok(None), "{other}");
    }
}

#[test]
fn removal_of_a_query_token_removes_every_spelling() {
    let r = req("GET", &format!("/api/x?a=1;access_%74oken={TOKEN}&b=2;c=3"), &[]);
    assert_eq!(edits(&r, &query_src()), (vec![], vec![(":path".to_owned(), "/api/x?a=1&b=2;c=3".to_owned())]));
}

#[test]
fn cookie_names_are_trimmed_and_decoded() {
    for c in ["jwt =TOKEN", " jwt = TOKEN ", "j%77t=TOKEN", "jwt\t=TOKEN"] {
        let header = c.replace("TOKEN", TOKEN);
        let r = req("GET", "/x", &[("cookie", &header)]);
        assert_eq!(run(&r, &[cookie_src()]), Ok(Some((TOKEN.to_owned(), cookie_src()))), "{c:?}");
        let both = req("GET", "/x", &[("cookie", &format!("jwt={TOKEN}; {header}"))]);
        assert_eq!(run(&both, &[cookie_src()]), Err(AuthError::MultipleTokens), "{c:?}");
        let (_, set) = edits(&req("GET", "/x", &[("cookie", &format!("a=1; {header}"))]), &cookie_src());
        assert_eq!(set, [("cookie".to_owned(), "a=1".to_owned())], "{c:?}");
    }
}
