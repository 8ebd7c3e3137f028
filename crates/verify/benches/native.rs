//! `make bench`: verifications per second of the native verifier on one
//! core (p256), a warm key cache, the whole `verify` (parse, signature,
//! claims). A plain timing loop: the figure is reported, never asserted.

fn main() {
    #[cfg(not(target_arch = "wasm32"))]
    native::run();
}

/// Native only: the Worker's figures come from the edge API in workerd.
#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::time::{Duration, Instant};

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};
    use serde_json::json;

    use m2m_edge_verify::{FetchError, Fetched, Fetcher, Requirements, Verifier};

    struct Jwks(String);

    impl Fetcher for Jwks {
        async fn get(&self, _url: &str) -> Result<Fetched, FetchError> {
            Ok(Fetched { status: 200, cache_control: Some("max-age=3600".into()), body: self.0.clone().into_bytes() })
        }
    }

    pub fn run() {
        let key = SigningKey::from_slice(&[7u8; 32]).expect("a valid scalar");
        let point = key.verifying_key().to_encoded_point(false);
        let (x, y) = (point.x().expect("x"), point.y().expect("y"));
        let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)}]});
        let now = m2m_edge_verify::system_clock();
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "typ": "at+jwt", "kid": "k1"}).to_string());
        let claims = json!({
            "iss": "https://auth.example.com", "sub": "m2m_x", "client_id": "m2m_x", "aud": "https://orders.example.com",
            "scope": "orders:read", "iat": now, "nbf": now, "exp": now + 3600, "jti": "j",
        });
        let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature: Signature = key.sign(input.as_bytes());
        let token = format!("Bearer {input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()));

        let verifier = Verifier::with_jwks_uri(
            "https://auth.example.com",
            "https://auth.example.com/jwks",
            Jwks(jwks.to_string()),
        )
        .audience("https://orders.example.com");
        let required = Requirements::scopes(["orders:read"]);
        let once = || pollster::block_on(verifier.verify(&token, &required)).expect("the token verifies");
        for _ in 0..200 {
            once();
        }
        let (mut n, start) = (0u64, Instant::now());
        while start.elapsed() < Duration::from_secs(3) {
            for _ in 0..100 {
                once();
            }
            n += 100;
        }
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "native verifications/s (1 core): {:.0} ({:.1} µs each)",
            n as f64 / seconds,
            seconds * 1e6 / n as f64
        );
    }
}
