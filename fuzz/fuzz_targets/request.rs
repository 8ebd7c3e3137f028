//! Whole requests through the app (the host World, as the Worker serves
//! it): the first byte picks method and path, the rest is split at 0xFF
//! into Authorization, Content-Type, If-Match and the body. Every answer
//! must be a documented status with a JSON error body; never a 5xx.
#![no_main]

use libfuzzer_sys::fuzz_target;
use m2m_edge_core::http::Method;
use m2m_edge_testkit::{Req, World, ADMIN_KEY};

const ROUTES: [(Method, &str); 12] = [
    (Method::Post, "/oauth2/token"),
    (Method::Get, "/oauth2/token"),
    (Method::Get, "/.well-known/jwks.json"),
    (Method::Get, "/.well-known/openid-configuration"),
    (Method::Post, "/admin/clients"),
    (Method::Get, "/admin/clients?limit=3&cursor=m2m_0"),
    (Method::Patch, "/admin/clients/{id}"),
    (Method::Delete, "/admin/clients/{id}"),
    (Method::Post, "/admin/clients/{id}/secrets/rotate"),
    (Method::Post, "/admin/resources"),
    (Method::Patch, "/admin/resources/api_00000000000000000000000000000000"),
    (Method::Post, "/admin/keys/rotate"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let w = World::new();
    let (id, _) = w.simple_client();
    let (method, path) = ROUTES[usize::from(pick) % ROUTES.len()];
    let mut parts = rest.splitn(4, |b| *b == 0xFF);
    let text = |p: Option<&[u8]>| p.map(|b| String::from_utf8_lossy(b).into_owned());
    let authorization = text(parts.next()).map(|a| if a == "admin" { format!("Bearer {ADMIN_KEY}") } else { a });
    let (content_type, if_match) = (text(parts.next()), text(parts.next()));
    let body = parts.next().unwrap_or_default().to_vec();
    let mut req = Req::new(method, &path.replace("{id}", &id));
    for (name, value) in [("authorization", authorization), ("content-type", content_type), ("if-match", if_match)] {
        if let Some(v) = value {
            req = req.header(name, &v);
        }
    }
    let response = w.call(req.body(body));
    assert!(response.status < 500, "{method:?} {path}: {}", response.status);
    if response.status >= 400 {
        assert!(response.body_json()["error"].is_string(), "an error body names the error");
    }
});
