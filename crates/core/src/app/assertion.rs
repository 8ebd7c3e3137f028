//! `private_key_jwt` at the token endpoint (RFC 7523 §2.2): the client
//! proves itself with a JWT it signed with a key it registered. Every
//! failure is one `invalid_client` for the caller; the reason goes to the
//! log, and counts against the client's failure limit like a wrong secret.

use m2m_edge_verify::token::{object, parse_jws, Algorithm, Jws, Typing};
use m2m_edge_verify::Rejection;
use serde_json::{Map, Value};

use super::{Ports, Runtime};
use crate::assertion::{check, replay_key, Expected, Refusal, ReplayStore, LEEWAY_SECS};
use crate::client::{ClientId, ClientRecord, ClientStore, Status};
use crate::oauth::client_auth::ClientAssertion;
use crate::oauth::metadata::{endpoint, TOKEN_PATH};
use crate::oauth::OAuthError;

/// The active `private_key_jwt` client `assertion` authenticates.
pub async fn authenticate<R: Runtime>(
    assertion: &ClientAssertion,
    issuer: &str,
    address: Option<&str>,
    p: &Ports<'_, R>,
) -> Result<ClientRecord, OAuthError> {
    // ES256 or RS256, whichever the header says; the key it names must be
    // of that algorithm (checked below): the key decides, not the token.
    let jws = match parse_jws(&assertion.jwt, Typing::NotAccessToken, Algorithm::Es256) {
        Err(Rejection::Algorithm { .. }) => parse_jws(&assertion.jwt, Typing::NotAccessToken, Algorithm::Rs256),
        parsed => parsed,
    }
    .map_err(|_| refused(Refusal::Malformed, None, p))?;
    let claims = object(&jws.payload, "payload").map_err(|_| refused(Refusal::Malformed, None, p))?;
    // The client is the assertion's subject (RFC 7523 §3 point 2), and a
    // client_id sent beside it must agree (RFC 7521 §4.2).
    let subject = claims.get("sub").and_then(|s| s.as_str()).unwrap_or_default();
    if assertion.client_id.as_deref().is_some_and(|id| id != subject) {
        return Err(refused(Refusal::Subject, None, p));
    }
    let Some(id) = ClientId::parse(subject) else {
        return Err(refused(Refusal::Subject, None, p));
    };
    let now = p.clock.now();
    if p.limits.locked(id.as_str(), address, now) {
        return Err(OAuthError::too_many_requests());
    }
    match verify(&jws, &claims, &id, issuer, now, p).await {
        Ok(record) => Ok(record),
        Err(Failure::Server(e)) => Err(e),
        Err(Failure::Refused(refusal)) => {
            let refused = refused(refusal, Some(&id), p);
            if p.limits.failed(id.as_str(), address, now, p.log).await.is_err() {
                return Err(OAuthError::too_many_requests());
            }
            Err(refused)
        }
    }
}

/// How checking a known client's assertion failed.
enum Failure {
    /// The assertion does not authenticate the client, for this reason.
    Refused(Refusal),
    /// Storage failed.
    Server(OAuthError),
}

impl From<Refusal> for Failure {
    fn from(refusal: Refusal) -> Failure {
        Failure::Refused(refusal)
    }
}

/// The client `id`, if `jws` (with `claims`) is a valid, unused assertion
/// signed with one of its keys.
async fn verify<R: Runtime>(
    jws: &Jws<'_>,
    claims: &Map<String, Value>,
    id: &ClientId,
    issuer: &str,
    now: i64,
    p: &Ports<'_, R>,
) -> Result<ClientRecord, Failure> {
    let record = p.store.get(id).await.map_err(|e| Failure::Server(OAuthError::server(e.to_string())))?;
    let record = record.filter(|r| r.status == Status::Active).ok_or(Refusal::UnknownClient)?;
    let keys = record.keys.as_ref().ok_or(Refusal::UnknownClient)?;
    let key = keys.find(jws.kid.as_deref()).ok_or(Refusal::UnknownKey)?;
    if key.algorithm() != jws.algorithm || !super::signature::verifies(p.crypto, key, jws).await {
        return Err(Refusal::Signature.into());
    }
    let token_endpoint = endpoint(issuer, TOKEN_PATH);
    let audiences = [issuer, token_endpoint.as_str()];
    let expected = Expected { audiences: &audiences, now, max_lifetime: i64::from(p.config.assertion_max_lifetime) };
    let checked = check(claims, &expected)?;
    // Last, so only an assertion that passed everything uses up its jti.
    let key = replay_key(record.id.as_str(), &checked.jti);
    match p.store.first_use(&key, checked.expires_at.saturating_add(LEEWAY_SECS)).await {
        Ok(true) => Ok(record),
        Ok(false) => Err(Refusal::Replayed.into()),
        Err(e) => Err(Failure::Server(OAuthError::server(format!("assertion replay store: {e}")))),
    }
}

/// `invalid_client`. With the client known, the reason is logged for its
/// operator (a misconfigured key or clock shows there); the assertion
/// itself never is. Garbage from nobody in particular is not logged.
fn refused<R: Runtime>(refusal: Refusal, id: Option<&ClientId>, p: &Ports<'_, R>) -> OAuthError {
    if let Some(id) = id {
        p.log.error(&format!("private_key_jwt refused for client {}: {}", id.as_str(), refusal.as_str()));
    }
    OAuthError::invalid_client()
}
