//! Shared host-test world: the app with the in-memory store, a fixed clock
//! and the p256 signer; tokens checked with jwt-compact against the JWKS.
#![allow(dead_code)]

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jwt_compact::alg::Es256;
use jwt_compact::{AlgorithmExt, UntrustedToken};
use std::cell::Cell;

use m2m_edge::app::{self, Ports};
use m2m_edge::config::Config;
use m2m_edge::config::KeyMode;
use m2m_edge::http::{Method, Request, Response};
use m2m_edge::jose::jwk;
use m2m_edge::jose::signer::P256Signer;
use m2m_edge::jose::KeyError;
use m2m_edge::keys::manager::{open_current, resolve, KeyEnv};
use m2m_edge::keys::sealed::HostCrypto;
use m2m_edge::ports::Clock;
use m2m_edge::ports::{FixedClock, MemoryLogger, OsRandom};
use m2m_edge::store::memory::MemoryStore;
use p256::ecdsa::VerifyingKey;
use serde_json::{json, Value};

pub const ORIGIN: &str = "https://auth.test";
pub const ADMIN_KEY: &str = "admin-key-for-tests";
pub const NOW: i64 = 1_800_000_000;
pub const A3: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}"#;

pub struct World {
    pub config: Config,
    pub store: MemoryStore,
    pub clock: FixedClock,
    pub log: MemoryLogger,
    /// Bring-your-own keys, parsed once (as the glue caches them per isolate).
    pub byok: Result<(String, P256Signer), KeyError>,
}

impl World {
    pub fn new() -> World {
        World::with(&[], Some(A3))
    }

    pub fn with(vars: &[(&str, &str)], signing_keys: Option<&str>) -> World {
        let mut all: Vec<(String, String)> = vec![("ADMIN_API_KEY".into(), ADMIN_KEY.into())];
        if let Some(keys) = signing_keys {
            all.push(("SIGNING_KEYS".into(), keys.into()));
        }
        all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::from_lookup(|n| all.iter().rev().find(|(k, _)| k == n).map(|(_, v)| v.clone())).unwrap();
        let byok = jwk::parse(signing_keys).and_then(|set| {
            let signer = P256Signer::new(set.current())?;
            Ok((set.jwks_json, signer))
        });
        World { config, store: MemoryStore::default(), clock: FixedClock::at(NOW), log: MemoryLogger::default(), byok }
    }

    /// Managed keys (KEY_MODE "managed") sealed under `kek`.
    pub fn managed(kek: Option<&str>) -> World {
        let mut vars = vec![("KEY_MODE", "managed")];
        if let Some(k) = kek {
            vars.push(("KEY_ENCRYPTION_KEY", k));
        }
        World::with(&vars, None)
    }

    /// The managed-key ports as the glue builds them.
    pub fn key_env(&self) -> KeyEnv<'_, MemoryStore, HostCrypto> {
        KeyEnv::new(&self.store, &HostCrypto, &self.config, self.clock.now())
    }

    /// What the Cron Trigger does: apply the managed-key policy now.
    pub fn run_cron(&self) -> bool {
        let env = self.key_env();
        pollster::block_on(env.scheduled()).map(|(_, changed)| changed).unwrap_or_else(|e| panic!("cron: {e}"))
    }

    /// One request, with keys resolved the way the glue does: BYOK from the
    /// parsed secret, managed from the store (created on first use).
    pub fn call(&self, req: Request) -> Response {
        pollster::block_on(async {
            let managed_signer: Result<P256Signer, KeyError>;
            let (jwks, signer): (Result<String, KeyError>, Result<&P256Signer, KeyError>) = match self.config.key_mode {
                KeyMode::Byok => match &self.byok {
                    Ok((jwks, signer)) => (Ok(jwks.clone()), Ok(signer)),
                    Err(e) => (Err(e.clone()), Err(e.clone())),
                },
                KeyMode::Managed => {
                    let resolved = resolve(&self.key_env()).await;
                    let kek = self.config.key_encryption_key.as_deref();
                    managed_signer = match resolved.problem {
                        Some(e) => Err(e),
                        None => open_current(&resolved.keys, &HostCrypto, kek).await.and_then(|k| P256Signer::new(&k)),
                    };
                    (resolved.jwks, managed_signer.as_ref().map_err(Clone::clone))
                }
            };
            let changed = Cell::new(false);
            let ports = Ports {
                config: &self.config,
                store: &self.store,
                jwks: jwks.as_deref(),
                signer: signer.as_ref().map(|s| *s),
                crypto: &HostCrypto,
                clock: &self.clock,
                random: &OsRandom,
                log: &self.log,
                keys_changed: &changed,
            };
            let response = app::handle(&req, &ports).await;
            // The glue's part: sign into the slot the app left (glue.js in the Worker).
            match signer {
                Ok(signer) => signer.sign_response(response),
                Err(_) => response,
            }
        })
    }

    pub fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut req = Request::new(method, path, ORIGIN).with_header("authorization", &format!("Bearer {ADMIN_KEY}"));
        if let Some(b) = body {
            req = req.with_header("content-type", "application/json").with_body(b.to_string());
        }
        self.call(req)
    }

    /// Create a client; returns (client_id, client_secret).
    pub fn create(&self, body: Value) -> (String, String) {
        let r = self.admin(Method::Post, "/admin/clients", Some(body));
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let v = r.body_json();
        (v["client_id"].as_str().unwrap().into(), v["client_secret"].as_str().unwrap().into())
    }

    pub fn simple_client(&self) -> (String, String) {
        self.create(json!({"name": "svc", "grants": [{"audience": "https://api.test", "scopes": ["read", "write"]}]}))
    }

    pub fn token_basic(&self, id: &str, secret: &str, form: &str) -> Response {
        let creds = STANDARD.encode(format!("{id}:{secret}"));
        self.call(
            Request::new(Method::Post, "/oauth2/token", ORIGIN)
                .with_header("authorization", &format!("Basic {creds}"))
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_body(form),
        )
    }

    pub fn token_form(&self, form: &str) -> Response {
        self.call(
            Request::new(Method::Post, "/oauth2/token", ORIGIN)
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_body(form),
        )
    }

    /// Verify a token's signature against the served JWKS; return (header, claims).
    pub fn verify(&self, token: &str) -> (Value, Value) {
        let jwks = self.call(Request::new(Method::Get, "/.well-known/jwks.json", ORIGIN)).body_json();
        let untrusted = UntrustedToken::new(token).unwrap();
        let kid = untrusted.header().key_id.clone().unwrap();
        let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).unwrap();
        let mut sec1 = vec![4u8];
        sec1.extend(URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap());
        sec1.extend(URL_SAFE_NO_PAD.decode(key["y"].as_str().unwrap()).unwrap());
        let vk = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        Es256.validator::<Value>(&vk).validate(&untrusted).expect("signature verifies");
        let mut parts = token.split('.');
        let header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
        let claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
        (header, claims)
    }
}

pub fn error_of(r: &Response) -> String {
    r.body_json()["error"].as_str().unwrap_or("<none>").to_string()
}
