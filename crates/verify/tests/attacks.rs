//! The attack suite: each forged or malformed token is refused, each in its
//! own test, with the check it fails. Native signature back end (p256); the
//! same tokens are sent to the WebCrypto back end in workerd by
//! tests/e2e/edge_api.test.mjs.
#![cfg(not(target_arch = "wasm32"))] // the native back end; the WebCrypto one is exercised in workerd

mod common;

use common::*;
use m2m_edge_verify::{Rejection, Requirements, VerifiedToken, MAX_TOKEN_BYTES};
use serde_json::json;
use sha2::{Digest, Sha256};

fn verify(issuer: &Issuer, token: &str) -> Result<VerifiedToken, Rejection> {
    pollster::block_on(issuer.verifier().verify(&format!("Bearer {token}"), &Requirements::none()))
}

fn setup() -> (Key, Issuer) {
    let key = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&key]);
    (key, issuer)
}

#[test]
fn a_valid_token_passes() {
    let (key, issuer) = setup();
    let token = verify(&issuer, &key.token(json!({}))).unwrap();
    assert_eq!(token.client_id, "m2m_client");
}

#[test]
fn alg_none_in_any_case() {
    let (key, issuer) = setup();
    for alg in ["none", "None", "NONE"] {
        let header = b64(json!({"alg": alg, "typ": "at+jwt", "kid": "k1"}).to_string().as_bytes());
        let payload = b64(claims(json!({})).to_string().as_bytes());
        assert_eq!(
            verify(&issuer, &format!("{header}.{payload}.")),
            Err(Rejection::Algorithm { expected: "ES256" }),
            "{alg}"
        );
        // Even carrying a real signature of the same input.
        let signed = key.sign_raw(&header, &payload);
        assert_eq!(verify(&issuer, &signed), Err(Rejection::Algorithm { expected: "ES256" }), "{alg}");
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().to_vec()
}

#[test]
fn hs256_keyed_with_the_public_key_is_refused() {
    let (key, issuer) = setup();
    // The classic key confusion: the public key's bytes (as the JWKS or a
    // PEM would give them) used as an HMAC secret.
    let public = key.signing.verifying_key().to_encoded_point(false);
    let header = b64(json!({"alg": "HS256", "typ": "at+jwt", "kid": "k1"}).to_string().as_bytes());
    let payload = b64(claims(json!({})).to_string().as_bytes());
    let input = format!("{header}.{payload}");
    for secret in [public.as_bytes().to_vec(), key.jwk().to_string().into_bytes()] {
        let mac = hmac_sha256(&secret, input.as_bytes());
        assert_eq!(verify(&issuer, &format!("{input}.{}", b64(&mac))), Err(Rejection::Algorithm { expected: "ES256" }));
    }
}

fn with_signature(token: &str, signature: &[u8]) -> String {
    let input = token.rsplit_once('.').unwrap().0;
    format!("{input}.{}", b64(signature))
}

/// P-256's order n, big-endian.
const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa,
    0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

#[test]
fn psychic_signature_r_and_s_zero() {
    let (key, issuer) = setup();
    assert_eq!(verify(&issuer, &with_signature(&key.token(json!({})), &[0u8; 64])), Err(Rejection::Signature));
}

#[test]
fn r_or_s_at_or_above_the_group_order() {
    let (key, issuer) = setup();
    let token = key.token(json!({}));
    let real =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, token.rsplit('.').next().unwrap())
            .unwrap();
    for (at, value) in [(0, N), (32, N), (0, [0xff; 32]), (32, [0xff; 32])] {
        let mut forged = real.clone();
        forged[at..at + 32].copy_from_slice(&value);
        assert_eq!(verify(&issuer, &with_signature(&token, &forged)), Err(Rejection::Signature), "at {at}");
    }
}

#[test]
fn a_der_encoded_signature_is_refused() {
    let (key, issuer) = setup();
    let token = key.token(json!({}));
    let input = token.rsplit_once('.').unwrap().0;
    let der = p256::ecdsa::signature::Signer::<p256::ecdsa::Signature>::sign(&key.signing, input.as_bytes()).to_der();
    assert_eq!(verify(&issuer, &with_signature(&token, der.as_bytes())), Err(Rejection::Signature));
}

#[test]
fn one_changed_payload_byte_breaks_the_signature() {
    let (key, issuer) = setup();
    let token = key.token(json!({}));
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    let tampered = format!("{header}.{}.{signature}", b64(&bytes));
    assert!(matches!(verify(&issuer, &tampered), Err(Rejection::Signature) | Err(Rejection::Malformed(_))));
    // A byte that keeps the JSON valid: the scope widened.
    let widened = b64(claims(json!({"scope": "orders:read orders:write admin"})).to_string().as_bytes());
    assert_eq!(verify(&issuer, &format!("{header}.{widened}.{signature}")), Err(Rejection::Signature));
}

#[test]
fn keys_named_in_the_header_are_never_used_or_fetched() {
    let (_key, issuer) = setup();
    let attacker = Key::new("attacker", 9);
    for (name, value) in [
        ("jwk", attacker.jwk()),
        ("jku", json!("https://evil.example/jwks.json")),
        ("x5u", json!("https://evil.example/cert.pem")),
        ("x5c", json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"])),
    ] {
        let mut header = attacker.header();
        header[name] = value;
        assert_eq!(verify(&issuer, &attacker.sign(&header, &claims(json!({})))), Err(Rejection::UnknownKey), "{name}");
        // The attacker's key under the real kid fails on the signature.
        header["kid"] = json!("k1");
        assert_eq!(verify(&issuer, &attacker.sign(&header, &claims(json!({})))), Err(Rejection::Signature), "{name}");
    }
    assert!(issuer.urls().iter().all(|u| u == JWKS_URI), "{:?}", issuer.urls());
}

#[test]
fn hostile_kids_are_only_looked_up() {
    let (key, issuer) = setup();
    let verifier = issuer.verifier();
    for kid in ["../../../etc/passwd", "' OR 1=1 --", "k1\u{0}", "https://evil.example/k"] {
        let mut header = key.header();
        header["kid"] = json!(kid);
        let token = key.sign(&header, &claims(json!({})));
        let r = pollster::block_on(verifier.verify(&token, &Requirements::none()));
        assert_eq!(r, Err(Rejection::UnknownKey), "{kid}");
    }
    assert_eq!(issuer.fetches(), 1, "one fetch; unknown kids refetch at most once per 30 s");
    assert!(issuer.urls().iter().all(|u| u == JWKS_URI));
}

#[test]
fn typ_jwt_is_an_id_token_shape_not_an_access_token() {
    let (key, issuer) = setup();
    for typ in [json!("JWT"), json!("jwt"), json!("application/jwt"), json!(null)] {
        let mut header = key.header();
        if typ.is_null() {
            header.as_object_mut().unwrap().remove("typ");
        } else {
            header["typ"] = typ.clone();
        }
        assert_eq!(verify(&issuer, &key.sign(&header, &claims(json!({})))), Err(Rejection::Type), "{typ}");
    }
    let mut header = key.header();
    header["typ"] = json!("application/AT+JWT");
    assert!(verify(&issuer, &key.sign(&header, &claims(json!({})))).is_ok());
}

#[test]
fn crit_extensions_are_refused() {
    let (key, issuer) = setup();
    let mut header = key.header();
    header["crit"] = json!(["exp"]);
    assert_eq!(verify(&issuer, &key.sign(&header, &claims(json!({})))), Err(Rejection::Critical));
}

#[test]
fn expired_not_yet_valid_and_missing_exp() {
    let (key, issuer) = setup();
    let now = clock();
    assert_eq!(verify(&issuer, &key.token(json!({"exp": now - 31}))), Err(Rejection::Expired));
    assert_eq!(verify(&issuer, &key.token(json!({"nbf": now + 31}))), Err(Rejection::NotYetValid));
    assert_eq!(verify(&issuer, &key.token(json!({"iat": now + 31}))), Err(Rejection::NotYetValid));
    assert_eq!(verify(&issuer, &key.token(json!({"exp": null}))), Err(Rejection::Claim("exp")));
    assert_eq!(verify(&issuer, &key.token(json!({"exp": "tomorrow"}))), Err(Rejection::Claim("exp")));
    // Within the default 30 s leeway.
    assert!(verify(&issuer, &key.token(json!({"exp": now - 29, "nbf": now + 29}))).is_ok());
}

#[test]
fn another_apis_audience() {
    let (key, issuer) = setup();
    assert_eq!(verify(&issuer, &key.token(json!({"aud": "https://billing.example.com"}))), Err(Rejection::Audience));
    let others = json!({"aud": ["https://billing.example.com", "https://users.example.com"]});
    assert_eq!(verify(&issuer, &key.token(others)), Err(Rejection::Audience));
    assert_eq!(verify(&issuer, &key.token(json!({"aud": null}))), Err(Rejection::Audience));
    let ours = json!({"aud": ["https://billing.example.com", AUDIENCE]});
    assert_eq!(verify(&issuer, &key.token(ours)).unwrap().audience.len(), 2);
}

#[test]
fn an_issuer_with_a_trailing_slash_is_another_issuer() {
    let (key, issuer) = setup();
    let slash = format!("{ISSUER}/");
    assert_eq!(verify(&issuer, &key.token(json!({"iss": slash}))), Err(Rejection::Issuer));
    assert_eq!(verify(&issuer, &key.token(json!({"iss": "HTTPS://AUTH.EXAMPLE.COM"}))), Err(Rejection::Issuer));
}

#[test]
fn repeated_claim_names_are_refused() {
    let (key, issuer) = setup();
    let now = clock();
    let payload = format!(
        r#"{{"iss":"{ISSUER}","sub":"m2m_client","aud":"https://elsewhere.example","aud":"{AUDIENCE}","exp":{},"iat":{now},"jti":"j","client_id":"m2m_client"}}"#,
        now + 600
    );
    let header = b64(key.header().to_string().as_bytes());
    assert_eq!(verify(&issuer, &key.sign_raw(&header, &b64(payload.as_bytes()))), Err(Rejection::Malformed("payload")));
    let header = b64(br#"{"alg":"ES256","typ":"at+jwt","kid":"k1","kid":"k2"}"#);
    let payload = b64(claims(json!({})).to_string().as_bytes());
    assert_eq!(verify(&issuer, &key.sign_raw(&header, &payload)), Err(Rejection::Malformed("header")));
}

#[test]
fn non_canonical_or_padded_base64url_is_refused() {
    let (key, issuer) = setup();
    let token = key.token(json!({}));
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    // The last character of an 86-character signature carries 2 unused
    // bits; setting one spells the same bytes non-canonically.
    let last = signature.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bumped = alphabet.chars().nth(alphabet.find(last).unwrap() + 1).unwrap();
    let non_canonical = format!("{header}.{payload}.{}{bumped}", &signature[..signature.len() - 1]);
    assert_eq!(verify(&issuer, &non_canonical), Err(Rejection::Malformed("signature")));
    let padded = format!("{header}.{payload}.{signature}==");
    assert_eq!(verify(&issuer, &padded), Err(Rejection::Malformed("signature")));
    let standard_alphabet = token.replace('-', "+").replace('_', "/");
    if standard_alphabet != token {
        assert!(verify(&issuer, &standard_alphabet).is_err());
    }
}

#[test]
fn a_token_over_16_kib_is_refused_unparsed() {
    let (key, issuer) = setup();
    let token = key.token(json!({"padding": "x".repeat(MAX_TOKEN_BYTES)}));
    assert_eq!(verify(&issuer, &token), Err(Rejection::TooLarge));
    assert_eq!(issuer.fetches(), 0, "refused before any key was needed");
}

#[test]
fn the_empty_string_and_a_bare_bearer_are_missing_tokens() {
    let (_key, issuer) = setup();
    let verifier = issuer.verifier();
    for header in ["", "Bearer", "Bearer ", "Basic bTJtOnNlY3JldA=="] {
        let r = pollster::block_on(verifier.verify(header, &Requirements::none()));
        assert_eq!(r, Err(Rejection::Missing), "{header:?}");
        let answer = r.unwrap_err().to_response("orders");
        assert_eq!(answer.status, 401);
        assert!(answer.headers.contains(&("www-authenticate", r#"Bearer realm="orders""#.into())));
    }
    assert_eq!(verify(&issuer, "not a token"), Err(Rejection::MalformedRequest));
    assert_eq!(verify(&issuer, "a.b"), Err(Rejection::Malformed("not three dot-separated parts")));
}

/// Tenants confined: a valid token of project A is refused by an API that
/// requires project B, and by one that requires a project when the token
/// has none (or carries it as another type).
#[test]
fn a_token_of_another_project_is_refused_where_a_project_is_required() {
    let (key, issuer) = setup();
    let verify_for = |token: &str, project: &str| {
        let required = Requirements::scopes(["read"]).claim("project_id", project);
        pollster::block_on(issuer.verifier().verify(&format!("Bearer {token}"), &required))
    };
    let acme = key.token(json!({"project_id": "acme", "scope": "read"}));
    assert_eq!(verify_for(&acme, "acme").unwrap().claims["project_id"], "acme");
    let refused = verify_for(&acme, "globex").unwrap_err();
    assert_eq!(refused, Rejection::ClaimValue("project_id".into()));
    assert_eq!((refused.status(), refused.error_code()), (401, Some("invalid_token")));
    assert_eq!(
        verify_for(&key.token(json!({"scope": "read"})), "acme"),
        Err(Rejection::ClaimValue("project_id".into()))
    );
    let typed = key.token(json!({"project_id": ["acme"], "scope": "read"}));
    assert_eq!(verify_for(&typed, "acme"), Err(Rejection::ClaimValue("project_id".into())));
}

/// A revoked token, and the same token with its signature malleated to
/// `(r, n - s)` — still a valid ES256 signature over the same bytes: the
/// revocation is by `jti`, so both encodings are refused.
#[test]
fn a_revoked_token_in_any_encoding_and_a_token_from_before_its_clients_not_before() {
    let (key, issuer) = setup();
    set_time(NOW);
    *issuer.state().revocations.lock().unwrap() = Some(json!({
        "issuer": ISSUER, "tokens": [{"jti": "revoked"}], "clients": {"m2m_client": NOW}, "projects": {"acme": NOW},
    }));
    let verifier = issuer.verifier().revocations(REVOCATIONS_URI);
    let verify = |token: &str| pollster::block_on(verifier.verify(token, &Requirements::none()));
    let revoked = key.token(json!({"jti": "revoked", "iat": NOW, "nbf": NOW}));
    assert_eq!(verify(&revoked), Err(Rejection::Revoked));
    // (r, s) → (r, n − s): the other valid encoding of the same signature.
    let n = hex_literal("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    let (input, signature) = revoked.rsplit_once('.').unwrap();
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, signature).unwrap();
    let s = &bytes[32..];
    let mut flipped = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(n[i]) - i16::from(s[i]) - borrow;
        (flipped[i], borrow) = if d < 0 { ((d + 256) as u8, 1) } else { (d as u8, 0) };
    }
    let malleated = format!("{input}.{}", b64(&[&bytes[..32], &flipped[..]].concat()));
    assert_ne!(malleated, revoked);
    assert!(matches!(verify(&malleated), Err(Rejection::Revoked | Rejection::Signature)), "never accepted");
    // Issued before its client's not-before time, or its project's.
    assert_eq!(verify(&key.token(json!({"jti": "a", "iat": NOW - 1}))), Err(Rejection::Revoked));
    let other = json!({"jti": "b", "client_id": "m2m_other", "sub": "m2m_other", "iat": NOW - 1, "project_id": "acme"});
    assert_eq!(verify(&key.token(other)), Err(Rejection::Revoked));
    assert!(verify(&key.token(json!({"jti": "c", "iat": NOW}))).is_ok());
}

fn hex_literal(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}
