//! Verify an ES256 access token against a JWKS with p256 + jwt-compact:
//! `cargo run --example verify_token -- <jwks.json> <token>`. The e2e suite
//! uses it to prove that a token signed by WebCrypto inside workerd verifies
//! with the Rust stack too. Prints the claims; exits non-zero on failure.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_compact::alg::Es256;
use jwt_compact::{AlgorithmExt, UntrustedToken};
use p256::ecdsa::VerifyingKey;
use serde_json::Value;

fn main() {
    if let Err(e) = run() {
        eprintln!("verify_token: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let [_, jwks_path, token] = args.as_slice() else {
        return Err("usage: verify_token <jwks.json> <token>".into());
    };
    let jwks: Value = serde_json::from_str(&std::fs::read_to_string(jwks_path).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let untrusted = UntrustedToken::new(token).map_err(|e| e.to_string())?;
    if untrusted.header().token_type.as_deref() != Some("at+jwt") {
        return Err("typ is not at+jwt".into());
    }
    let kid = untrusted.header().key_id.clone().ok_or("no kid")?;
    let keys = jwks["keys"].as_array().ok_or("no keys")?;
    let jwk = keys.iter().find(|k| k["kid"] == kid.as_str()).ok_or("kid not in JWKS")?;
    let coordinate = |name: &str| -> Result<Vec<u8>, String> {
        URL_SAFE_NO_PAD.decode(jwk[name].as_str().ok_or("missing coordinate")?).map_err(|e| e.to_string())
    };
    let mut sec1 = vec![4u8];
    sec1.extend(coordinate("x")?);
    sec1.extend(coordinate("y")?);
    let key = VerifyingKey::from_sec1_bytes(&sec1).map_err(|e| e.to_string())?;
    Es256.validator::<Value>(&key).validate(&untrusted).map_err(|e| e.to_string())?;
    let payload = token.split('.').nth(1).ok_or("malformed")?;
    let claims = URL_SAFE_NO_PAD.decode(payload).map_err(|e| e.to_string())?;
    println!("{}", String::from_utf8_lossy(&claims));
    Ok(())
}
