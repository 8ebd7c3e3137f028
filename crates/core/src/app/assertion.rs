//! `private_key_jwt` at the token endpoint (RFC 7523 §2.2): the client
//! proves itself with a JWT it signed with a key it registered. Every
//! failure is one `invalid_client` for the caller; the reason goes to the
//! log, and counts against the client's failure limit like a wrong secret
//! ([`super::attempt`]).

use m2m_edge_verify::members::{ClaimSet, Members};
use m2m_edge_verify::token::{parse_either, Typing};
use m2m_edge_verify::Rejection;

use super::attempt::{answer, attempt};
use super::{Ports, Runtime};
use crate::assertion::{check, claimed, replay_key, Expected, ReplayStore, LEEWAY_SECS};
use crate::client::{ClientId, ClientRecord, ClientStore, Status};
use crate::oauth::client_auth::ClientAssertion;
use crate::oauth::metadata::{endpoint, TOKEN_PATH};
use crate::oauth::OAuthError;
use crate::refusal::Refusal;

/// The active `private_key_jwt` client `assertion` authenticates.
pub async fn authenticate<R: Runtime>(
    assertion: &ClientAssertion,
    issuer: &str,
    called: &str,
    address: Option<&str>,
    p: &Ports<'_, R>,
) -> Result<ClientRecord, OAuthError> {
    // Whose request this is: the client it names, by client_id or else by
    // the assertion's sub (RFC 7521 §4.2, RFC 7523 §3 point 2), read before
    // anything is checked — so that even an assertion refused for its form
    // is logged and counted for that client. Naming none, it is nobody's
    // failure, and not logged.
    let named = assertion.client_id.clone().or_else(|| claimed(&assertion.jwt, "sub"));
    let Some(id) = named.as_deref().and_then(ClientId::parse) else {
        return Err(OAuthError::invalid_client());
    };
    attempt("private_key_jwt", &id, address, p, || verify(&assertion.jwt, &id, issuer, called, p))
        .await
        .map_err(|refusal| answer(refusal, OAuthError::invalid_client))
}

/// The client `id`, if `jwt` is a valid, unused assertion it signed with
/// one of its keys, presented at the endpoint `called` (a path).
async fn verify<R: Runtime>(
    jwt: &str,
    id: &ClientId,
    issuer: &str,
    called: &str,
    p: &Ports<'_, R>,
) -> Result<ClientRecord, Refusal> {
    // ES256 or RS256, whichever the header says; the key it names must be
    // of that algorithm (checked below): the key decides, not the token.
    let jws = parse_either(jwt, Typing::NotAccessToken)?;
    let claims = Members::parse(&jws.payload, "payload")?;
    // The client is the assertion's subject (RFC 7523 §3 point 2): a
    // client_id sent beside it must be the same (RFC 7521 §4.2).
    if claims.string("sub").as_deref() != Some(id.as_str()) {
        return Err(Refusal::OtherClient);
    }
    let record = p.store.get(id).await?.filter(|r| r.status == Status::Active).ok_or(Refusal::UnknownClient)?;
    let keys = record.keys.as_ref().ok_or(Refusal::UnknownClient)?;
    let key = keys.find(jws.kid.as_deref()).ok_or(Rejection::UnknownKey)?;
    if key.algorithm() != jws.algorithm || !super::signature::verifies(p.crypto, key, &jws).await {
        return Err(Rejection::Signature.into());
    }
    let (token_endpoint, called) = (endpoint(issuer, TOKEN_PATH), endpoint(issuer, called));
    let max_lifetime = i64::from(p.config.assertion_max_lifetime);
    let expected =
        Expected { issuer, token_endpoint: &token_endpoint, called: &called, now: p.clock.now(), max_lifetime };
    let checked = check(jws.typ.as_deref(), &claims, &expected)?;
    // Last, so only an assertion that passed everything uses up its jti.
    let key = replay_key(record.id.as_str(), &checked.jti);
    match p.store.first_use(&key, checked.expires_at.saturating_add(LEEWAY_SECS)).await? {
        true => Ok(record),
        false => Err(Refusal::Replayed),
    }
}
