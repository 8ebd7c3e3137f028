//! `/admin/keys`: the signing keys. In managed mode, list and rotate them;
//! in bring-your-own mode they come from the SIGNING_KEYS secret, so the
//! list shows what is published and rotation is refused with a pointer.

use serde_json::{json, Value};

use super::{ok, AdminError, AdminResult};
use crate::app::render::key_json;
use crate::app::{Ports, Runtime};
use crate::config::KeyMode;
use crate::http::{Body, Request};
use crate::keys::manager::KeyEnv;
use crate::keys::KeyError;

fn env<'a, R: Runtime>(p: &'a Ports<'a, R>) -> KeyEnv<'a, R::Store, R::Crypto> {
    p.config.key_env(p.store, p.crypto, p.random, p.clock.now())
}

fn key_failure(e: KeyError) -> AdminError {
    match e {
        // What the caller can act on is said; the rest is ours to log.
        KeyError::AtCap { .. } => AdminError::conflict(e.to_string()),
        KeyError::Contended => AdminError::conflict(
            "another rotation changed the key set at the same time; read GET /admin/keys and retry",
        ),
        other => AdminError::Server(format!("signing keys: {other}")),
    }
}

pub(super) async fn list<R: Runtime>(p: &Ports<'_, R>) -> AdminResult {
    match p.config.key_mode {
        KeyMode::Managed => {
            let keys = env(p).load().await.map_err(key_failure)?;
            let policy = p.config.key_policy;
            let listed: Vec<Value> = keys.iter().map(|k| key_json(k, &policy)).collect();
            Ok(ok(
                200,
                json!({
                    "mode": "managed",
                    "keys": listed,
                    "policy": {
                        "rotation_interval": policy.rotation_interval,
                        "prepublish_lead": policy.prepublish_lead,
                        "retire_after": policy.retire_after,
                    },
                }),
            ))
        }
        KeyMode::Byok => {
            let jwks: Value = serde_json::from_str(p.jwks.map_err(|e| key_failure(e.clone()))?)
                .map_err(|e| AdminError::Server(format!("JWKS: {e}")))?;
            let listed: Vec<Value> = jwks["keys"]
                .as_array()
                .map(|keys| {
                    keys.iter()
                        .enumerate()
                        .map(|(i, k)| json!({"kid": k["kid"], "state": if i == 0 { "current" } else { "published" }}))
                        .collect()
                })
                .unwrap_or_default();
            Ok(ok(200, json!({"mode": "byok", "keys": listed})))
        }
    }
}

/// Promote `next` now and publish a new `next`; with
/// `{"revoke_current": true}` the old current key leaves the JWKS at once.
pub(super) async fn rotate<R: Runtime>(req: &Request, p: &Ports<'_, R>) -> AdminResult {
    if p.config.key_mode == KeyMode::Byok {
        return Err(AdminError::conflict(
            "signing keys come from the SIGNING_KEYS secret (KEY_MODE \"byok\"): publish a new key second, then move it first (README, \"Signing keys\")",
        ));
    }
    let revoke = revoke_requested(req)?;
    let (keys, old_current) = env(p).rotate_now(revoke).await.map_err(key_failure)?;
    let policy = p.config.key_policy;
    let mut body = json!({"keys": keys.iter().map(|k| key_json(k, &policy)).collect::<Vec<_>>()});
    if let (true, Some(kid)) = (revoke, old_current) {
        body["revoked_kid"] = json!(kid);
        body["warning"] = json!(format!(
            "key {kid} was removed from the JWKS: every token it signed stops verifying once verifiers refresh their JWKS cache (max-age {} s)",
            crate::config::JWKS_MAX_AGE
        ));
    }
    Ok(ok(200, body))
}

/// The optional body `{"revoke_current": bool}`; an empty body is `false`.
fn revoke_requested(req: &Request) -> Result<bool, AdminError> {
    let bytes = match &req.body {
        Body::TooLarge => return Err(AdminError::TooLarge),
        Body::Bytes(b) if b.iter().all(u8::is_ascii_whitespace) => return Ok(false),
        Body::Bytes(b) => b,
    };
    if req.media_type().as_deref() != Some("application/json") {
        return Err(AdminError::UnsupportedMediaType);
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|_| AdminError::invalid("body", "is not valid JSON"))?;
    let map = value.as_object().ok_or_else(|| AdminError::invalid("body", "must be a JSON object"))?;
    if let Some(unknown) = map.keys().find(|k| *k != "revoke_current") {
        return Err(AdminError::invalid(unknown, "unknown field; expected revoke_current"));
    }
    match map.get("revoke_current") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(AdminError::invalid("revoke_current", "must be true or false")),
    }
}
