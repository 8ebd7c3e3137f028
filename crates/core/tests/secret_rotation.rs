//! Host ring, paired with tests/e2e/secret_rotation.test.mjs: client
//! secret rotation (start, complete, cancel).

use m2m_edge_core::http::Method;
use m2m_edge_testkit::*;
use serde_json::Value;

fn rotate(w: &World, id: &str, step: &str) -> (u16, Value) {
    let r = w.admin(Method::Post, &format!("/admin/clients/{id}/secrets/rotate{step}"), None);
    (r.status, r.body_json())
}

fn works(w: &World, id: &str, secret: &str) -> bool {
    w.token_basic(id, secret, "grant_type=client_credentials").status == 200
}

#[test]
fn rotation_start_complete() {
    let w = World::new();
    let (id, old) = w.simple_client();
    let got = w.admin(Method::Get, &format!("/admin/clients/{id}"), None).body_json();
    assert_eq!(got["secret_rotation_pending"], false);
    assert_eq!(got["client_secret_last_four"], &old[old.len() - 4..]);
    assert_eq!(got["next_client_secret_last_four"], Value::Null);

    let (status, body) = rotate(&w, &id, "");
    assert_eq!(status, 200);
    let new = body["next_client_secret"].as_str().unwrap().to_string();
    assert!(new.starts_with("m2msk_") && new != old);
    assert_eq!(body["secret_rotation_pending"], true);
    assert_eq!(body["next_client_secret_last_four"], &new[new.len() - 4..]);
    assert!(works(&w, &id, &old) && works(&w, &id, &new), "both secrets work during a rotation");

    // Shown once: a later read has the last four characters only.
    let got = w.admin(Method::Get, &format!("/admin/clients/{id}"), None);
    let text = String::from_utf8_lossy(&got.body).to_string();
    assert!(!text.contains(&new) && !text.contains(&old));
    assert_eq!(got.body_json()["secret_rotation_pending"], true);

    let (status, body) = rotate(&w, &id, "");
    assert_eq!(status, 409, "a second rotation while one is pending");
    assert_eq!(body["error"], "conflict");

    let (status, body) = rotate(&w, &id, "/complete");
    assert_eq!(status, 200);
    assert_eq!(body["secret_rotation_pending"], false);
    assert_eq!(body["client_secret_last_four"], &new[new.len() - 4..]);
    assert!(!works(&w, &id, &old), "the old secret stops at completion");
    assert!(works(&w, &id, &new));

    assert_eq!(rotate(&w, &id, "/complete").0, 409);
    assert_eq!(rotate(&w, &id, "/cancel").0, 409);
}

#[test]
fn rotation_cancel_keeps_the_old_secret() {
    let w = World::new();
    let (id, old) = w.simple_client();
    let new = rotate(&w, &id, "").1["next_client_secret"].as_str().unwrap().to_string();
    let (status, body) = rotate(&w, &id, "/cancel");
    assert_eq!(status, 200);
    assert_eq!(body["secret_rotation_pending"], false);
    assert!(works(&w, &id, &old));
    assert!(!works(&w, &id, &new), "the cancelled secret never works again");
    // A new rotation can start after a cancel.
    assert_eq!(rotate(&w, &id, "").0, 200);
}

#[test]
fn rotation_errors() {
    let w = World::new();
    assert_eq!(rotate(&w, "m2m_00000000000000000000000000000000", "").0, 404);
    assert_eq!(rotate(&w, "bogus", "/complete").0, 404);
    let (id, _) = w.simple_client();
    assert_eq!(w.admin(Method::Get, &format!("/admin/clients/{id}/secrets/rotate"), None).status, 405);
    let r = w.call(Req::new(Method::Post, &format!("/admin/clients/{id}/secrets/rotate")));
    assert_eq!(r.status, 401, "rotation needs the admin key");
}
