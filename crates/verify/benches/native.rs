//! `make bench`: verifications per second on one core, a warm key cache,
//! the whole `verify` (parse, signature, claims) — of this crate's native
//! verifier with whichever back end it was built with (`aws-lc-rs` by
//! default, `p256` with `--no-default-features --features verifier`), and of
//! `jsonwebtoken` checking the same token for the same rules, as released
//! now (12, AWS-LC underneath) and as 9 (ring underneath), taken in turn. A
//! plain timing loop: the figures are reported, never asserted.

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

    use m2m_edge_verify::revocation::RevocationList;
    use m2m_edge_verify::{FetchError, Fetched, Fetcher, Requirements, Verifier};

    const ISSUER: &str = "https://auth.example.com";
    const AUDIENCE: &str = "https://orders.example.com";

    struct Jwks(String);

    impl Fetcher for Jwks {
        async fn get(&self, _url: &str, _limit: usize) -> Result<Fetched, FetchError> {
            Ok(Fetched { status: 200, cache_control: Some("max-age=3600".into()), body: self.0.clone().into_bytes() })
        }
    }

    /// What `jsonwebtoken` is asked to check and hand back: the claims the
    /// verifier checks and returns (RFC 9068 §2.2).
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Claims {
        iss: String,
        sub: String,
        client_id: String,
        aud: String,
        scope: String,
        iat: i64,
        nbf: i64,
        exp: i64,
        jti: String,
    }

    /// Verifications per second of `once`, over `window`.
    fn rate(window: Duration, mut once: impl FnMut()) -> f64 {
        for _ in 0..100 {
            once();
        }
        let (mut n, start) = (0u64, Instant::now());
        while start.elapsed() < window {
            for _ in 0..100 {
                once();
            }
            n += 100;
        }
        n as f64 / start.elapsed().as_secs_f64()
    }

    fn median(mut xs: Vec<f64>) -> f64 {
        xs.sort_by(f64::total_cmp);
        xs[xs.len() / 2]
    }

    pub fn run() {
        let key = SigningKey::from_slice(&[7u8; 32]).expect("a valid scalar");
        let point = key.verifying_key().to_encoded_point(false);
        let (x, y) = (URL_SAFE_NO_PAD.encode(point.x().expect("x")), URL_SAFE_NO_PAD.encode(point.y().expect("y")));
        let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "x": x, "y": y}]});
        let now = m2m_edge_verify::system_clock();
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "typ": "at+jwt", "kid": "k1"}).to_string());
        let claims = json!({
            "iss": ISSUER, "sub": "m2m_x", "client_id": "m2m_x", "aud": AUDIENCE,
            "scope": "orders:read", "iat": now, "nbf": now, "exp": now + 3600, "jti": "j",
        });
        let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature: Signature = key.sign(input.as_bytes());
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        let authorization = format!("Bearer {token}");

        let verifier =
            Verifier::with_jwks_uri(ISSUER, "https://auth.example.com/jwks", Jwks(jwks.to_string())).audience(AUDIENCE);
        let required = Requirements::scopes(["orders:read"]);
        let ours = || {
            pollster::block_on(verifier.verify(&authorization, &required)).expect("the token verifies");
        };

        // The same rules: ES256 only, issuer, audience, exp/nbf with a 30 s
        // leeway, the RFC 9068 claims present; the key decoded once, as a
        // server holding it would. The scope is checked as the verifier does.
        // The two majors' APIs are the same here; only the crate differs.
        macro_rules! jsonwebtoken_check {
            ($jwt:ident) => {{
                let decoding = $jwt::DecodingKey::from_ec_components(&x, &y).expect("the point");
                let mut validation = $jwt::Validation::new($jwt::Algorithm::ES256);
                validation.set_issuer(&[ISSUER]);
                validation.set_audience(&[AUDIENCE]);
                validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub", "jti", "client_id"]);
                validation.validate_nbf = true;
                validation.leeway = 30;
                let token = token.clone();
                move || {
                    let data = $jwt::decode::<Claims>(&token, &decoding, &validation).expect("the token verifies");
                    assert!(data.claims.scope.split(' ').any(|s| s == "orders:read"));
                }
            }};
        }
        let theirs = jsonwebtoken_check!(jsonwebtoken);
        let theirs9 = jsonwebtoken_check!(jsonwebtoken9);

        // `NATIVE_BENCH_COUNT=ours:N` (or `jsonwebtoken:N`): only N
        // verifications of one side, untimed — for an instruction count
        // under `valgrind --tool=callgrind`, which the neighbours cannot move.
        if let Ok(spec) = std::env::var("NATIVE_BENCH_COUNT") {
            let (side, n) = spec.split_once(':').expect("side:count");
            let n: u32 = n.parse().expect("a count");
            for _ in 0..n {
                match side {
                    "ours" => ours(),
                    "jsonwebtoken9" => theirs9(),
                    _ => theirs(),
                }
            }
            return;
        }
        // Half-second windows taken in pairs, back to back: this machine's
        // neighbours come and go, and a slow window then slows one pair, not
        // one side. The ratio is the median of the pairs' ratios.
        let (mut a, mut b, mut c, mut ratios, mut ratios9) = (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..11 {
            let window = Duration::from_millis(500);
            let (x, y, z) = (rate(window, ours), rate(window, &theirs), rate(window, &theirs9));
            a.push(x);
            b.push(y);
            c.push(z);
            ratios.push(x / y);
            ratios9.push(x / z);
        }
        let (a, b, c) = (median(a), median(b), median(c));
        let backend = if cfg!(feature = "aws-lc-rs") { "aws-lc-rs" } else { "p256" };
        println!("native verifications/s (1 core, {backend}): {a:.0} ({:.1} µs each)", 1e6 / a);
        println!("jsonwebtoken verifications/s (1 core): {b:.0} ({:.1} µs each)", 1e6 / b);
        println!("jsonwebtoken 9 verifications/s (1 core): {c:.0} ({:.1} µs each)", 1e6 / c);
        println!("ratio (median of 11 paired windows): {:.3}", median(ratios));
        println!("ratio to jsonwebtoken 9 (median of 11 paired windows): {:.3}", median(ratios9));

        // What the revocation check adds to a verification when the list is
        // held: one lookup of the jti, the client and the project in a list
        // of 10,000 revoked jtis and 1,000 clients' and projects' times.
        let mut tokens = Vec::new();
        for i in 0..10_000 {
            tokens.push(json!({"jti": format!("revoked-{i:05}"), "project_id": format!("p{}", i % 50)}));
        }
        let times: serde_json::Map<String, serde_json::Value> =
            (0..1_000).map(|i| (format!("m2m_{i:032x}"), json!(now - 10))).collect();
        let document = json!({"issuer": ISSUER, "tokens": tokens, "clients": times, "projects": times});
        let list = RevocationList::parse(document.to_string().as_bytes(), ISSUER).expect("the list");
        let mut verified = pollster::block_on(verifier.verify(&authorization, &required)).expect("the token");
        verified.claims.insert("project_id".into(), json!("p7"));
        let check = || assert!(!std::hint::black_box(&list).refuses(std::hint::black_box(&verified)));
        let checks = median((0..5).map(|_| rate(Duration::from_millis(200), check)).collect());
        println!("revocation check with 12,000 entries held: {:.3} µs each ({} entries)", 1e6 / checks, list.len());

        dpop(&key, &verifier, 1e6 / a);
    }

    /// What a DPoP proof adds (RFC 9449 §7.1, `verify_dpop`): a bound token
    /// presented with a fresh proof each time (each is used once, so they
    /// are signed beforehand), against the plain verification's `plain_us`.
    fn dpop(issuer_key: &SigningKey, verifier: &Verifier<Jwks>, plain_us: f64) {
        const URL: &str = "https://orders.example.com/orders";
        let client = SigningKey::from_slice(&[9u8; 32]).expect("a valid scalar");
        let point = client.verifying_key().to_encoded_point(false);
        let (x, y) = (URL_SAFE_NO_PAD.encode(point.x().expect("x")), URL_SAFE_NO_PAD.encode(point.y().expect("y")));
        let jkt = m2m_edge_verify::jwks::ec_thumbprint(&x, &y);
        let now = m2m_edge_verify::system_clock();
        let sign = |key: &SigningKey, header: serde_json::Value, claims: serde_json::Value| {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let signature: Signature = key.sign(input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
        };
        let token = sign(
            issuer_key,
            json!({"alg": "ES256", "typ": "at+jwt", "kid": "k1"}),
            json!({"iss": ISSUER, "sub": "m2m_x", "client_id": "m2m_x", "aud": AUDIENCE, "scope": "orders:read",
                   "iat": now, "nbf": now, "exp": now + 3600, "jti": "bound", "cnf": {"jkt": jkt}}),
        );
        let authorization = format!("DPoP {token}");
        let ath = m2m_edge_verify::dpop::access_token_hash(&token);
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC", "crv": "P-256", "x": x, "y": y}});
        let (batches, per_batch) = (7, 1_500);
        let proofs: Vec<String> = (0..batches * per_batch)
            .map(|i| {
                sign(
                    &client,
                    header.clone(),
                    json!({"jti": i.to_string(), "htm": "GET", "htu": URL, "iat": now, "ath": ath}),
                )
            })
            .collect();
        let required = Requirements::scopes(["orders:read"]);
        let times: Vec<f64> = proofs
            .chunks(per_batch)
            .map(|batch| {
                let start = Instant::now();
                for proof in batch {
                    let verified = verifier.verify_dpop(&authorization, Some(proof), "GET", URL, &required);
                    pollster::block_on(verified).expect("the proof and the token verify");
                }
                start.elapsed().as_secs_f64() * 1e6 / per_batch as f64
            })
            .collect();
        let with_proof = median(times);
        println!(
            "DPoP: token and proof {with_proof:.1} µs, the proof's check {:.1} µs ({:.2}× a verification)",
            with_proof - plain_us,
            with_proof / plain_us
        );
    }
}
