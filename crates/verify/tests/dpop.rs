//! DPoP (RFC 9449) at the verifier: a bound token is taken only with a
//! proof for this very request, by the key it is bound to, once; and the
//! proof attacks of the issue's list are each refused with the `DPoP`
//! challenge.
#![cfg(not(target_arch = "wasm32"))] // the native back end; the WebCrypto one is exercised in workerd

mod common;

use common::*;
use m2m_edge_verify::dpop::{self, SeenProofs, Target, MAX_SEEN_PROOFS};
use m2m_edge_verify::jwks::ec_thumbprint;
use m2m_edge_verify::{Rejection, Requirements};
use serde_json::{json, Value};

const URL: &str = "https://orders.example.com/orders/7";

/// The client's proof key: public JWK members and thumbprint.
fn public(key: &Key) -> Value {
    let mut jwk = key.jwk();
    for member in ["kid", "use", "alg"] {
        jwk.as_object_mut().unwrap().remove(member);
    }
    jwk
}

fn jkt(key: &Key) -> String {
    let jwk = public(key);
    ec_thumbprint(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap())
}

/// A proof by `key` for `GET URL` with `token`'s `ath`, `changes` merged
/// into the claims (`null` removes one).
fn proof(key: &Key, token: &str, changes: Value) -> String {
    proof_with_header(key, json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public(key)}), token, changes)
}

fn proof_with_header(key: &Key, header: Value, token: &str, changes: Value) -> String {
    let mut claims = json!({
        "jti": format!("proof-{}", changes), "htm": "GET", "htu": URL, "iat": clock(),
        "ath": dpop::access_token_hash(token),
    });
    for (name, value) in changes.as_object().unwrap() {
        match value {
            Value::Null => {
                claims.as_object_mut().unwrap().remove(name);
            }
            value => claims[name] = value.clone(),
        }
    }
    key.sign(&header, &claims)
}

struct Setup {
    issuer: Issuer,
    client_key: Key,
    bound: String,
}

fn setup() -> Setup {
    set_time(NOW);
    let signing = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&signing]);
    let client_key = Key::new("client", 42);
    let bound = signing.token(json!({"cnf": {"jkt": jkt(&client_key)}}));
    Setup { issuer, client_key, bound }
}

fn verify_dpop(s: &Setup, authorization: &str, proof: Option<&str>, method: &str) -> Result<String, Rejection> {
    let verifier = s.issuer.verifier().without_revocations();
    pollster::block_on(verifier.verify_dpop(authorization, proof, method, URL, &Requirements::none()))
        .map(|token| token.client_id)
}

#[test]
fn a_bound_token_is_taken_with_a_proof_for_this_request_once() {
    let s = setup();
    let verifier = s.issuer.verifier().without_revocations();
    let authorization = format!("DPoP {}", s.bound);
    let good = proof(&s.client_key, &s.bound, json!({}));
    let verify = |proof: &str| {
        pollster::block_on(verifier.verify_dpop(&authorization, Some(proof), "GET", URL, &Requirements::none()))
    };
    let token = verify(&good).expect("a good proof");
    assert_eq!(token.claims["cnf"]["jkt"], jkt(&s.client_key));
    // Replayed to the same verifier: refused.
    assert_eq!(verify(&good).unwrap_err(), Rejection::Proof("the proof was used before"));
    // A fresh proof, same key: taken (its key now held, imported, by this verifier).
    assert!(verify(&proof(&s.client_key, &s.bound, json!({"jti": "another"}))).is_ok());
    // With the key held, a proof naming it but signed by another key, or
    // with its signature altered, is still refused.
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public(&s.client_key)});
    let forged = proof_with_header(&Key::new("other", 9), header, &s.bound, json!({"jti": "forged"}));
    assert_eq!(verify(&forged).unwrap_err(), Rejection::Proof("bad signature"));
    let good = proof(&s.client_key, &s.bound, json!({"jti": "altered"}));
    let altered = format!("{}{}", &good[..good.len() - 2], if good.ends_with("AA") { "BA" } else { "AA" });
    assert_eq!(verify(&altered).unwrap_err(), Rejection::Proof("bad signature"));
    assert!(verify(&good).is_ok());
}

#[test]
fn a_bound_token_is_no_bearer_token() {
    let s = setup();
    let verifier = s.issuer.verifier().without_revocations();
    let bearer = format!("Bearer {}", s.bound);
    let refused = pollster::block_on(verifier.verify(&bearer, &Requirements::none())).unwrap_err();
    assert!(matches!(refused, Rejection::Bound(_)), "{refused:?}");
    // Even with a proof beside it: the scheme says how it is presented.
    let proof = proof(&s.client_key, &s.bound, json!({}));
    assert!(matches!(verify_dpop(&s, &bearer, Some(&proof), "GET"), Err(Rejection::Bound(_))));
    let answer = refused.to_response("orders");
    assert_eq!(answer.status, 401);
    let challenge = &answer.headers.iter().find(|(name, _)| *name == "www-authenticate").unwrap().1;
    assert!(challenge.starts_with(r#"DPoP realm="orders", algs="ES256 RS256", error="invalid_token""#), "{challenge}");
}

#[test]
fn an_unbound_token_is_no_dpop_token_and_an_api_may_take_bound_ones_only() {
    let s = setup();
    let unbound = Key::new("k1", 7).token(json!({}));
    let proof = proof(&s.client_key, &unbound, json!({}));
    let refused = verify_dpop(&s, &format!("DPoP {unbound}"), Some(&proof), "GET").unwrap_err();
    assert!(matches!(refused, Rejection::Bound(_)), "{refused:?}");
    let verifier = s.issuer.verifier().without_revocations();
    let only_bound = Requirements::none().dpop_bound();
    let refused = pollster::block_on(verifier.verify(&format!("Bearer {unbound}"), &only_bound)).unwrap_err();
    assert_eq!(refused, Rejection::Bound("this API takes DPoP-bound tokens only"));
    // The same API takes a bearer token when it does not ask for that.
    assert!(pollster::block_on(verifier.verify(&format!("Bearer {unbound}"), &Requirements::none())).is_ok());
}

#[test]
fn proof_attacks_are_refused_with_the_dpop_challenge() {
    let s = setup();
    let key = &s.client_key;
    let other = Key::new("other", 9);
    let token = s.bound.as_str();
    let header = |changes: Value| {
        let mut h = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public(key)});
        for (name, value) in changes.as_object().unwrap() {
            h[name] = value.clone();
        }
        h
    };
    let mut private = public(key);
    private["d"] = json!(b64(&[1; 32]));
    let none_alg = format!(
        "{}.{}.",
        b64(json!({"typ": "dpop+jwt", "alg": "none", "jwk": public(key)}).to_string().as_bytes()),
        b64(json!({"jti": "x", "htm": "GET", "htu": URL, "iat": NOW, "ath": dpop::access_token_hash(token)})
            .to_string()
            .as_bytes())
    );
    let cases: Vec<(&str, String)> = vec![
        ("wrong htm", proof(key, token, json!({"htm": "POST"}))),
        ("lower-case htm", proof(key, token, json!({"htm": "get"}))),
        ("wrong htu", proof(key, token, json!({"htu": "https://orders.example.com/orders/8"}))),
        ("another host", proof(key, token, json!({"htu": "https://evil.example.com/orders/7"}))),
        ("missing ath", proof(key, token, json!({"ath": null}))),
        ("ath of another token", proof(key, token, json!({"ath": dpop::access_token_hash("other")}))),
        ("stale iat", proof(key, token, json!({"iat": NOW - 91}))),
        ("future iat", proof(key, token, json!({"iat": NOW + 31}))),
        ("no iat", proof(key, token, json!({"iat": null}))),
        ("no jti", proof(key, token, json!({"jti": null}))),
        ("alg none", none_alg),
        ("alg HS256", proof_with_header(key, header(json!({"alg": "HS256"})), token, json!({}))),
        ("RS256 with an EC key", proof_with_header(key, header(json!({"alg": "RS256"})), token, json!({}))),
        ("private key in the header", proof_with_header(key, header(json!({"jwk": private})), token, json!({}))),
        ("no jwk", proof_with_header(key, json!({"typ": "dpop+jwt", "alg": "ES256"}), token, json!({}))),
        ("typ JWT", proof_with_header(key, header(json!({"typ": "JWT"})), token, json!({}))),
        ("no typ", proof_with_header(key, json!({"alg": "ES256", "jwk": public(key)}), token, json!({}))),
        ("signed by another key than its jwk", proof_with_header(&other, header(json!({})), token, json!({}))),
        ("by a key the token is not bound to", proof(&other, token, json!({}))),
        ("two proofs", format!("{0}, {0}", proof(key, token, json!({})))),
        ("not a JWT", "proof".into()),
    ];
    for (attack, proof) in cases {
        let refused = verify_dpop(&s, &format!("DPoP {token}"), Some(&proof), "GET").unwrap_err();
        assert!(matches!(refused, Rejection::Proof(_)), "{attack}: {refused:?}");
        let answer = refused.to_response("orders");
        let challenge = &answer.headers.iter().find(|(name, _)| *name == "www-authenticate").unwrap().1;
        assert_eq!(answer.status, 401, "{attack}");
        assert!(
            challenge.starts_with(r#"DPoP realm="orders", algs="ES256 RS256", error="invalid_dpop_proof""#),
            "{attack}: {challenge}"
        );
    }
    let missing = verify_dpop(&s, &format!("DPoP {token}"), None, "GET").unwrap_err();
    assert_eq!(missing, Rejection::Proof("the request has no DPoP header"));
    // A proof for GET presented with a POST.
    let refused = verify_dpop(&s, &format!("DPoP {token}"), Some(&proof(key, token, json!({}))), "POST");
    assert!(matches!(refused, Err(Rejection::Proof(_))));
}

#[test]
fn a_proof_is_remembered_until_its_window_closes_and_no_more_than_the_bound() {
    let s = setup();
    let target = Target { method: "GET", url: URL };
    let text = proof(&s.client_key, &s.bound, json!({}));
    let mut parsed = dpop::parse(&text, &target, NOW, 30, Some(&s.bound)).unwrap();
    assert_eq!(parsed.usable_until(30), NOW + dpop::PROOF_WINDOW_SECS + 30);
    let mut seen = SeenProofs::default();
    assert_eq!(seen.first_use(&parsed, 30, NOW), Ok(()));
    assert!(seen.first_use(&parsed, 30, NOW + 90).is_err(), "within the window");
    // Past the window the record no longer stands (the proof is refused for its age anyway).
    assert_eq!(seen.first_use(&parsed, 30, NOW + 91), Ok(()));
    let mut full = SeenProofs::default();
    for n in 0..MAX_SEEN_PROOFS {
        parsed.jti = n.to_string();
        full.first_use(&parsed, 30, NOW).unwrap();
    }
    parsed.jti = "one more".into();
    assert_eq!(full.first_use(&parsed, 30, NOW), Err(Rejection::Proof("too many proofs within the window: try again")));
    // Once their windows have closed, there is room again.
    assert_eq!(full.first_use(&parsed, 30, NOW + 200), Ok(()));
}

/// RS256 proofs: checked by `aws-lc-rs` (the pure-Rust fallback has no RSA).
#[cfg(feature = "aws-lc-rs")]
#[test]
fn an_rs256_proof_is_taken() {
    use aws_lc_rs::signature::{KeyPair, RsaKeyPair, RSA_PKCS1_SHA256};
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    let s = setup();
    let pem = include_str!("../../testkit/src/test-issuer-rsa.pem");
    let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let pair = RsaKeyPair::from_pkcs8(&STANDARD.decode(der).unwrap()).unwrap();
    let parts: aws_lc_rs::rsa::PublicKeyComponents<Vec<u8>> = pair.public_key().into();
    let (n, e) = (b64(&parts.n), b64(&parts.e));
    let rsa_jkt = m2m_edge_verify::jwks::thumbprint(&[("e", &e), ("kty", "RSA"), ("n", &n)]);
    let token = Key::new("k1", 7).token(json!({"cnf": {"jkt": rsa_jkt}}));
    let header = json!({"typ": "dpop+jwt", "alg": "RS256", "jwk": {"kty": "RSA", "n": n, "e": e}});
    let claims = json!({"jti": "rsa", "htm": "GET", "htu": URL, "iat": NOW, "ath": dpop::access_token_hash(&token)});
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), input.as_bytes(), &mut signature).unwrap();
    let proof = format!("{input}.{}", b64(&signature));
    assert_eq!(verify_dpop(&s, &format!("DPoP {token}"), Some(&proof), "GET"), Ok("m2m_client".into()));
}
