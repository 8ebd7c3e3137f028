//! Tokens, cached: `m2m-edge token` (and admin-client profiles) reuse a
//! token until shortly before it expires, from `<cache dir>/tokens/`
//! (0600), keyed by a hash of everything that shaped it — endpoint, client,
//! secret, resource, scope — so a new secret or another audience never gets
//! an old token.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{Failure, Outcome};
use crate::files;
use crate::http::Deployment;

/// One token request.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// Where to ask.
    pub token_endpoint: String,
    /// The client.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// RFC 8707 `resource`, if any.
    pub resource: Option<String>,
    /// `scope`, if any.
    pub scope: Option<String>,
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// How long before its expiry a cached token stops being handed out: a
/// minute, or half the lifetime of a shorter token, so a caller always
/// gets some time to use it.
pub fn margin(lifetime: i64) -> i64 {
    60.min(lifetime / 2)
}

fn cache_file(request: &TokenRequest) -> Outcome<PathBuf> {
    let mut hash = Sha256::new();
    for part in [
        request.token_endpoint.as_str(),
        &request.client_id,
        &request.client_secret,
        request.resource.as_deref().unwrap_or(""),
        request.scope.as_deref().unwrap_or(""),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let name: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(files::cache_dir()?.join("tokens").join(format!("{name}.json")))
}

/// A still-usable cached answer for `request`.
fn cached(request: &TokenRequest) -> Option<Value> {
    let text = std::fs::read_to_string(cache_file(request).ok()?).ok()?;
    let entry: Value = serde_json::from_str(&text).ok()?;
    let expires_at = entry["expires_at"].as_i64()?;
    let lifetime = entry["expires_in"].as_i64()?;
    (now() < expires_at - margin(lifetime)).then_some(entry)
}

/// The token answer for `request`: cached when `use_cache` and one is
/// still good, else fetched (and cached). The answer is the token
/// endpoint's JSON plus `expires_at` (Unix seconds).
pub async fn token(deployment: &Deployment, request: &TokenRequest, use_cache: bool) -> Outcome<Value> {
    if use_cache {
        if let Some(entry) = cached(request) {
            return Ok(entry);
        }
    }
    let mut answer = deployment.request_token(request).await?;
    let lifetime = answer["expires_in"].as_i64().unwrap_or(0);
    answer["expires_at"] = json!(now() + lifetime);
    if use_cache {
        let text = serde_json::to_vec(&answer).map_err(|e| Failure::other(e.to_string()))?;
        // A cache that cannot be written costs a token request next time,
        // nothing more: say so and carry on.
        if let Err(e) = files::write_private(&cache_file(request)?, &text) {
            eprintln!("warning: token not cached: {e}");
        }
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tokens_keep_half_their_life() {
        assert_eq!(margin(3600), 60);
        assert_eq!(margin(60), 30);
        assert_eq!(margin(0), 0);
    }
}
