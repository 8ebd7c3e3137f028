//! Verify one token natively, the way a Rust service would: discovery and
//! the JWKS over HTTP with reqwest, on tokio.
//!
//! ```sh
//! cargo run -p m2m-edge-verify --features reqwest --example verify -- \
//!     <issuer> <audience> <token> [required scope ...]
//! ```
//!
//! Prints the verified token as JSON and exits 0, or prints the RFC 6750
//! answer's status and reason and exits 1. In a server, build the
//! `Verifier` once (in the application state) and call `verify` with each
//! request's `Authorization` header.

#[cfg(not(target_arch = "wasm32"))]
use std::process::ExitCode;

#[cfg(not(target_arch = "wasm32"))]
use m2m_edge_verify::{Requirements, ReqwestFetcher, Verifier};

/// Native only (reqwest, tokio); in a Worker, see examples/edge-api.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [issuer, audience, token, scopes @ ..] = args.as_slice() else {
        eprintln!("usage: verify <issuer> <audience> <token> [required scope ...]");
        return ExitCode::from(2);
    };
    let verifier = Verifier::new(issuer.as_str(), ReqwestFetcher::default()).audience(audience.as_str());
    match verifier.verify(token, &Requirements::scopes(scopes)).await {
        Ok(token) => {
            let shown = serde_json::json!({
                "client_id": token.client_id,
                "subject": token.subject,
                "audience": token.audience,
                "scopes": token.scopes,
                "issued_at": token.issued_at,
                "expires_at": token.expires_at,
                "jti": token.jti,
                "claims": token.claims,
            });
            println!("{shown}");
            ExitCode::SUCCESS
        }
        Err(rejection) => {
            eprintln!("{} {rejection}", rejection.status());
            ExitCode::from(1)
        }
    }
}
