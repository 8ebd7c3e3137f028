//! How the core's values are shown over HTTP: OAuth errors (RFC 6749 §5.2)
//! and the admin API's JSON views of clients, resources and keys. The
//! models below know nothing of JSON responses; this is the one place that
//! decides what leaves the server (never a secret hash or key material).

use serde_json::{json, Value};

use crate::client::ClientRecord;
use crate::federation::TrustedIssuer;
use crate::http::Response;
use crate::keys::{ManagedKey, Policy};
use crate::limits::RETRY_AFTER_SECS;
use crate::oauth::OAuthError;
use crate::project::Project;
use crate::resource::ApiResource;
use crate::time::rfc3339;

/// The RFC 6749 §5.2 JSON body with `Cache-Control: no-store` (§5.1).
pub fn oauth_error(error: &OAuthError, realm: &str) -> Response {
    let body = json!({
        "error": error.code.as_str(),
        "error_description": error.description,
    });
    let mut response = Response::json(error.status, body.to_string())
        .with_header("cache-control", "no-store")
        .with_header("pragma", "no-cache");
    // RFC 6749 §5.2 requires the challenge when the Authorization header
    // was used; RFC 9110 §15.5.2 requires one on every 401. Basic is the
    // scheme this endpoint accepts in that header.
    if error.status == 429 {
        response = response.with_header("retry-after", RETRY_AFTER_SECS.to_string());
    }
    if error.status == 401 {
        response = response.with_header(
            "www-authenticate",
            format!("Basic realm=\"{}\", charset=\"UTF-8\"", realm.replace(['"', '\\'], "")),
        );
    }
    response
}

/// The admin API's view of a client: every field but the secret hashes.
pub fn client_json(client: &ClientRecord) -> Value {
    let (method, jwks, last_four) = match &client.keys {
        Some(keys) => ("private_key_jwt", Some(keys.to_json()), None),
        None => ("client_secret_basic", None, Some(client.secret.last_four.as_str())),
    };
    json!({
        "token_endpoint_auth_method": method,
        "jwks": jwks,
        "federated_credentials": client.federated_credentials,
        "client_secret_last_four": last_four,
        "next_client_secret_last_four": client.next_secret.as_ref().map(|s| s.last_four.as_str()),
        "secret_rotation_pending": client.next_secret.is_some(),
        "client_id": client.id.as_str(),
        "project_id": client.project_id.as_ref().map(|p| p.as_str()),
        "name": client.name,
        "description": client.description,
        "grants": client.grants,
        "custom_claims": client.custom_claims,
        "token_ttl": client.token_ttl,
        "dpop_bound_access_tokens": client.dpop_bound_access_tokens,
        "status": client.status.as_str(),
        "created_at": rfc3339(client.created_at),
        "updated_at": rfc3339(client.updated_at),
    })
}

/// The admin API's view of a project.
pub fn project_json(project: &Project) -> Value {
    json!({
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "allowed_grants": project.allowed_grants,
        "created_at": rfc3339(project.created_at),
        "updated_at": rfc3339(project.updated_at),
    })
}

/// The admin API's view of a trusted issuer.
pub fn issuer_json(issuer: &TrustedIssuer) -> Value {
    json!({
        "id": issuer.id,
        "issuer": issuer.issuer,
        "name": issuer.name,
        "jwks_uri": issuer.jwks_uri,
        "audiences": issuer.audiences,
        "algorithm": issuer.algorithm.as_str(),
        "max_token_age": issuer.max_token_age,
        "single_use": issuer.single_use,
        "accept_access_tokens": issuer.accept_access_tokens,
        "created_at": rfc3339(issuer.created_at),
        "updated_at": rfc3339(issuer.updated_at),
    })
}

/// The admin API's view of an API resource.
pub fn resource_json(resource: &ApiResource) -> Value {
    json!({
        "id": resource.id.as_str(),
        "identifier": resource.identifier.as_str(),
        "name": resource.name,
        "scopes": resource.scopes,
        "token_ttl": resource.token_ttl,
        "created_at": rfc3339(resource.created_at),
        "updated_at": rfc3339(resource.updated_at),
    })
}

/// The admin API's view of a managed key: never private material.
pub fn key_json(key: &ManagedKey, policy: &Policy) -> Value {
    json!({
        "kid": key.kid,
        "state": key.state,
        "created_at": rfc3339(key.created_at),
        "activated_at": key.activated_at.map(rfc3339),
        "retired_at": key.retired_at.map(rfc3339),
        "removed_after": key.retired_at.map(|t| rfc3339(t + policy.retire_after)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_error_is_rfc_json_and_not_cacheable() {
        let r = oauth_error(&OAuthError::invalid_scope("nope"), "x");
        assert_eq!(r.status, 400);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.body_json()["error"], "invalid_scope");
        assert_eq!(r.body_json()["error_description"], "nope");
        assert!(r.header("www-authenticate").is_none());
    }

    #[test]
    fn basic_challenge_on_every_401() {
        let r = oauth_error(&OAuthError::invalid_client(), "m2m \"edge\"");
        assert_eq!(r.status, 401);
        assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"m2m edge\", charset=\"UTF-8\""));
        assert!(oauth_error(&OAuthError::invalid_request("x"), "x").header("www-authenticate").is_none());
    }

    #[test]
    fn server_error_hides_detail() {
        let e = OAuthError::server("D1: no such table clients");
        let r = oauth_error(&e, "x");
        assert_eq!(r.status, 500);
        assert!(!String::from_utf8_lossy(&r.body).contains("D1"));
        assert_eq!(e.log.as_deref(), Some("D1: no such table clients"));
    }
}
