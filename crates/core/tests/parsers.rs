//! Property tests (proptest) over every parser that sees untrusted input:
//! the form body, the Basic header, token parameters (form and JSON),
//! admin JSON bodies, ids, audiences, scopes, list cursors — and the whole
//! app, fed arbitrary requests. Each property: no panic, and a well-formed
//! input round-trips. `make fuzz` runs the same targets coverage-guided
//! for longer (fuzz/).

#![cfg(not(target_arch = "wasm32"))]

use m2m_edge_core::client::input::{parse_new, parse_patch};
use m2m_edge_core::client::ClientId;
use m2m_edge_core::grant::{Audience, Scope};
use m2m_edge_core::http::Method;
use m2m_edge_core::oauth::client_auth::extract;
use m2m_edge_core::oauth::form::{decode_component, find_either, parse_pairs, FormError};
use m2m_edge_core::oauth::params::TokenParams;
use m2m_edge_core::resource;
use m2m_edge_testkit::{Req, World, ADMIN_KEY};
use proptest::prelude::*;
use serde_json::Value;

/// The WHATWG URL Standard's form decoding, one byte at a time (`+` a
/// space, `%XX` a byte), refusing what `decode_component` refuses: the
/// definition its run-at-a-time copy must agree with.
fn byte_at_a_time(raw: &[u8]) -> Result<String, FormError> {
    let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16)).map(|d| d as u8);
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(raw.get(i + 1)), hex(raw.get(i + 2))) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => return Err(FormError::BadPercentEncoding),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormError::NotUtf8)
}

/// application/x-www-form-urlencoded, as a client library writes it.
fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Field names the admin parsers know, and some they must refuse.
const FIELDS: &[&str] = &[
    "name",
    "grants",
    "audience",
    "scopes",
    "status",
    "token_ttl",
    "custom_claims",
    "description",
    "identifier",
    "sub",
    "roles",
];

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        prop::sample::select(FIELDS).prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (prop_oneof![prop::sample::select(FIELDS).prop_map(str::to_string), ".{0,8}"], inner),
                0..6
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn form_parsing_never_panics(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_pairs(&body);
        let _ = TokenParams::from_form(&body);
        let _ = TokenParams::from_json(&body);
    }

    #[test]
    fn form_decoding_is_the_byte_at_a_time_definition(raw in prop::collection::vec(
        prop_oneof![Just(b'+'), Just(b'%'), any::<u8>(), prop::sample::select(b"0123456789abcdefABCDEFxz".to_vec())],
        0..64,
    )) {
        prop_assert_eq!(decode_component(&raw), byte_at_a_time(&raw));
    }

    #[test]
    fn finding_two_bytes_eight_at_a_time_is_finding_them_one_at_a_time(
        bytes in prop::collection::vec(prop_oneof![Just(b'+'), Just(b'%'), Just(b'&'), any::<u8>()], 0..80),
        a in prop_oneof![Just(b'+'), Just(b'&'), any::<u8>()],
        b in prop_oneof![Just(b'%'), Just(b'='), any::<u8>()],
    ) {
        prop_assert_eq!(find_either(&bytes, a, b), bytes.iter().position(|&x| x == a || x == b));
    }

    #[test]
    fn form_pairs_round_trip(pairs in prop::collection::vec(("[a-z_]{1,12}", ".{0,24}"), 0..8)) {
        let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v))).collect();
        let parsed = parse_pairs(body.join("&").as_bytes()).expect("well-formed");
        let expected: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn basic_header_parsing_never_panics(header in ".{0,300}", id in proptest::option::of(".{0,20}"), secret in proptest::option::of(".{0,20}")) {
        let params = TokenParams { client_id: id, client_secret: secret, ..TokenParams::default() };
        let _ = extract(Some(&header), &params);
        let _ = extract(None, &params);
    }

    #[test]
    fn basic_credentials_round_trip(id in "[^\\x00]{1,40}", secret in "[^\\x00]{1,60}") {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", form_encode(&id), form_encode(&secret)));
        let credentials = extract(Some(&format!("Basic {encoded}")), &TokenParams::default()).expect("well-formed");
        prop_assert_eq!(credentials.client_id, id);
        prop_assert_eq!(credentials.secret, secret);
    }

    #[test]
    fn admin_bodies_never_panic(body in json_value()) {
        let _ = parse_new(&body);
        let _ = parse_patch(&body);
        let _ = resource::parse_new(&body);
        let _ = resource::parse_patch(&body);
    }

    #[test]
    fn ids_audiences_and_scopes_never_panic_and_round_trip(s in ".{0,80}") {
        if let Some(id) = ClientId::parse(&s) { prop_assert_eq!(id.as_str(), s.as_str()); }
        if let Ok(a) = Audience::parse(&s) { prop_assert_eq!(a.as_str(), s.as_str()); }
        if let Ok(scope) = Scope::parse(&s) { prop_assert_eq!(scope.as_str(), s.as_str()); }
    }
}

/// Arbitrary requests through the whole app: never a panic, always an
/// answer with a status the API documents, and a JSON error body.
#[derive(Debug, Clone)]
struct AnyRequest {
    method: Method,
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    if_match: Option<String>,
    body: Vec<u8>,
}

fn any_request() -> impl Strategy<Value = AnyRequest> {
    let method = prop_oneof![
        Just(Method::Get),
        Just(Method::Post),
        Just(Method::Patch),
        Just(Method::Delete),
        Just(Method::Head),
        Just(Method::Put),
        Just(Method::Other)
    ];
    let path = prop_oneof![
        Just("/oauth2/token".to_string()),
        Just("/.well-known/jwks.json".to_string()),
        Just("/.well-known/openid-configuration".to_string()),
        Just("/admin/clients".to_string()),
        Just("/admin/clients?limit=2&cursor=zzz".to_string()),
        Just("/admin/resources".to_string()),
        Just("/admin/keys/rotate".to_string()),
        "/admin/clients/m2m_[0-9a-f]{32}(/secrets/rotate(/complete|/cancel)?)?",
        "/[ -~]{0,40}",
    ];
    let authorization =
        proptest::option::of(
            prop_oneof![Just(format!("Bearer {ADMIN_KEY}")), ".{0,60}", "Basic [A-Za-z0-9+/=]{0,60}",],
        );
    let content_type = proptest::option::of(prop_oneof![
        Just("application/json".to_string()),
        Just("application/x-www-form-urlencoded".to_string()),
        ".{0,30}",
    ]);
    let if_match = proptest::option::of(prop_oneof![Just("*".to_string()), "\"[0-9]{1,3}\"", ".{0,12}"]);
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        "(grant_type|scope|resource|audience|client_id|client_secret)=[ -~]{0,20}(&[a-z_]{1,12}=[ -~]{0,20}){0,4}"
            .prop_map(String::into_bytes),
    ];
    (method, path, authorization, content_type, if_match, body).prop_map(
        |(method, path, authorization, content_type, if_match, body)| AnyRequest {
            method,
            path,
            authorization,
            content_type,
            if_match,
            body,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    #[test]
    fn the_app_answers_every_request_without_panicking(requests in prop::collection::vec(any_request(), 1..6)) {
        let w = World::new();
        let (id, _) = w.simple_client();
        for r in requests {
            let path = r.path.replace("m2m_00000000000000000000000000000000", &id);
            let mut req = Req::new(r.method, &path);
            for (name, value) in [("authorization", &r.authorization), ("content-type", &r.content_type), ("if-match", &r.if_match)] {
                if let Some(v) = value { req = req.header(name, v); }
            }
            let response = w.call(req.body(r.body.clone()));
            prop_assert!(
                [200, 201, 204, 400, 401, 404, 405, 409, 412, 413, 415].contains(&response.status),
                "{} {} -> {}", r.method as u8, path, response.status
            );
            if response.status >= 400 && r.method != Method::Head {
                prop_assert!(response.body_json()["error"].is_string(), "an error body names the error");
            }
        }
        prop_assert!(w.log.lines().is_empty(), "nothing for the operator: {:?}", w.log.lines());
    }
}
