//! Verify the access tokens of an m2m-edge authorization server — or of
//! any issuer of RFC 9068 JWT access tokens signed with ES256 — in the API
//! that receives them: in a Cloudflare Worker (wasm32, signatures checked by
//! WebCrypto) or in a native service (signatures checked by `aws-lc-rs`, or
//! by the pure-Rust `p256` crate without the default feature `aws-lc-rs`; on any
//! executor).
//!
//! A token is accepted only if (RFC 9068 §4, RFC 8725):
//!
//! - it is a compact JWS in canonical base64url, at most
//!   [`MAX_TOKEN_BYTES`], with no repeated JSON member names;
//! - `alg` is exactly `ES256` and `typ` is `at+jwt` (any case, with or
//!   without `application/`); `crit` is absent or empty; header keys
//!   (`jwk`, `jku`, `x5u`, `x5c`) are ignored, never fetched;
//! - its `kid` names a key of the issuer's JWKS, and the 64-byte `r || s`
//!   signature verifies with `r`, `s` in `[1, n-1]`;
//! - `iss` equals the configured issuer exactly; `aud` holds a configured
//!   audience; `exp` is in the future and `nbf`/`iat` are not (within the
//!   leeway, 30 s by default, at most 5 min); `client_id`, `sub` and `jti`
//!   are present;
//! - and then the request's [`Requirements`]: every required scope, and
//!   `iat` no older than `max_token_age`.
//!
//! Every refusal is a [`Rejection`] naming the failed check, never the
//! key; [`Rejection::to_response`] makes the RFC 6750 §3 answer (401
//! `invalid_token`, 403 `insufficient_scope` with `scope=`, 400
//! `invalid_request`, with `WWW-Authenticate: Bearer …`).
//!
//! Without the default feature `verifier`, the crate is only the pure
//! checks ([`token`], [`claims`], [`time`], [`jwks`], [`members`], [`in_range`]): what a server
//! that holds its own keys needs (m2m-edge's admin API uses them).
//!
//! The issuer's keys are fetched through a [`Fetcher`] — implement it for
//! your HTTP client, or use `ReqwestFetcher` (feature `reqwest`) or
//! `WorkerFetcher` (feature `worker`: the Workers `fetch`, or a service
//! binding to the token service). They are held per [`Verifier`] under the
//! rules of the [`cache`] module: the JWKS `max-age` (60 s – 1 h), at most
//! one refetch per 30 s for an unknown `kid`, the last good set for up to
//! an hour while refetches fail, one fetch at a time that concurrent
//! misses wait for ([`flight`]: in a Worker at a JS promise, since workerd
//! cancels a request that waits on Rust state another request changes).
//! Every fetch is bounded ([`FETCH_TIMEOUT_MS`], no redirect followed,
//! [`MAX_DOCUMENT_BYTES`], at most [`jwks::MAX_KEYS`] keys).
//!
//! # Example
//!
//! ```
//! use m2m_edge_verify::{Fetched, FetchError, Fetcher, Rejection, Requirements, Verifier};
//!
//! /// Any HTTP client will do; this one answers from memory.
//! struct Issuer;
//!
//! impl Fetcher for Issuer {
//!     async fn get(&self, _url: &str, _limit: usize) -> Result<Fetched, FetchError> {
//!         let jwks = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
//!         Ok(Fetched { status: 200, cache_control: Some("max-age=300".into()), body: jwks.into() })
//!     }
//! }
//!
//! let verifier = Verifier::with_jwks_uri("https://auth.example.com", "https://auth.example.com/.well-known/jwks.json", Issuer)
//!     .audience("https://orders.example.com");
//! let required = Requirements::scopes(["orders:read"]).max_token_age(3600);
//!
//! # pollster::block_on(async {
//! // In a handler: the Authorization header's value, as received.
//! match verifier.verify("Bearer not-a-token", &required).await {
//!     Ok(token) => println!("called by {}", token.client_id),
//!     Err(rejection) => {
//!         let answer = rejection.to_response("orders");
//!         assert_eq!(answer.status, 401);
//!         assert!(answer.headers.iter().any(|(name, value)| *name == "www-authenticate"
//!             && value.starts_with(r#"Bearer realm="orders", error="invalid_token""#)));
//!     }
//! }
//! # });
//! ```

#![warn(missing_docs)]

pub mod cache;
pub mod claims;
#[cfg(feature = "verifier")]
mod crypto;
pub mod discovery;
pub mod dpop;
mod error;
mod fetch;
pub mod flight;
pub mod jwks;
pub mod members;
pub mod resource;
pub mod revocation;
mod scalar;
pub mod time;
pub mod token;
#[cfg(feature = "verifier")]
mod verifier;

pub use claims::{Binding, Requirements, VerifiedToken};
pub use error::{ErrorResponse, Rejection, DPOP_ALGORITHMS};
#[cfg(target_arch = "wasm32")]
pub use fetch::fetch_within_bounds;
#[cfg(all(feature = "reqwest", not(target_arch = "wasm32")))]
pub use fetch::ReqwestFetcher;
#[cfg(all(feature = "worker", target_arch = "wasm32"))]
pub use fetch::WorkerFetcher;
pub use fetch::{
    document, max_age, FetchError, Fetched, Fetcher, FETCH_TIMEOUT_MS, MAX_DOCUMENT_BYTES, MAX_LIST_BYTES,
};
pub use scalar::in_range;
pub use token::MAX_TOKEN_BYTES;
#[cfg(feature = "verifier")]
pub use verifier::{system_clock, Verifier, DEFAULT_LEEWAY_SECS, MAX_LEEWAY_SECS, MAX_REVOCATIONS_WITHIN_SECS};
