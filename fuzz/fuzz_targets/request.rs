//! Whole requests through the app (the host World, as the Worker serves
//! it): the first byte picks method and path, the rest is split at 0xFF
//! into Authorization, Content-Type, If-Match and the body. Every answer
//! must be a documented status with a JSON error body; never a 5xx.
#![no_main]

use libfuzzer_sys::fuzz_target;
use m2m_edge_core::http::Method;
use m2m_edge_testkit::{Req, World, ADMIN_KEY};

/// "METHOD path", `{id}` standing for the one registered client.
const ROUTES: &str = "POST /oauth2/token\nGET /oauth2/token\nGET /.well-known/jwks.json\n\
    GET /.well-known/openid-configuration\nPOST /admin/clients\nGET /admin/clients?limit=3&cursor=m2m_0\n\
    PATCH /admin/clients/{id}\nDELETE /admin/clients/{id}\nPOST /admin/clients/{id}/secrets/rotate\n\
    POST /admin/resources\nPATCH /admin/resources/api_00000000000000000000000000000000\nPOST /admin/keys/rotate";

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let w = World::new();
    let (id, _) = w.simple_client();
    let routes: Vec<(&str, &str)> = ROUTES.lines().filter_map(|l| l.trim().split_once(' ')).collect();
    let (method, path) = routes[usize::from(pick) % routes.len()];
    let method = Method::parse(method);
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
