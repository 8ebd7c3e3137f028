//! Access tokens this deployment issued, presented back to it — to the
//! admin API, to revocation (RFC 7009) and to introspection (RFC 7662):
//! one check, the verifier's own rules (`m2m_edge_verify`) against the
//! deployment's current keys, and one question to storage of whether it
//! was revoked since.

use m2m_edge_verify::claims::{check, Binding, Expected};
use m2m_edge_verify::{in_range, jwks, token, Rejection, Requirements, VerifiedToken};
use serde_json::{Map, Value};

use super::{Ports, Runtime};
use crate::client::{ClientId, ClientRecord, ClientStore, Status};
use crate::keys::sealed::KeyCrypto;
use crate::ports::StoreError;
use crate::revocation::{Issued, RevocationStore, Revoked, KEPT_PAST_EXPIRY};

/// Clock difference tolerated in the token's times, seconds (the
/// verifier's default).
pub(super) const LEEWAY_SECS: i64 = 30;

/// The audience the token must carry.
#[derive(Debug, Clone, Copy)]
pub(super) enum Audience<'a> {
    /// Exactly this one (the admin API's, or the one an API asks for).
    Only(&'a str),
    /// Whichever it names: the caller decides what it may see.
    Any,
}

/// Why a presented token is not taken.
#[derive(Debug)]
pub(super) enum Unaccepted {
    /// The token itself (RFC 6750 answers).
    Token(Rejection),
    /// The deployment's keys are unavailable; logged, never shown.
    Server(String),
}

/// The token `presented`, if this deployment issued it under `issuer`
/// with one of its current keys, it is within its lifetime and its binding
/// is as it was presented (a DPoP-bound token is no bearer token, RFC 9449
/// §7.1; handed back to be revoked, any token is taken).
pub(super) async fn verify<R: Runtime>(
    presented: &str,
    issuer: &str,
    audience: Audience<'_>,
    binding: Binding<'_>,
    p: &Ports<'_, R>,
) -> Result<VerifiedToken, Unaccepted> {
    Ok(signed(presented, issuer, audience, binding, &Requirements::none(), p).await?.token)
}

/// A token of ours that passed [`verify`]'s checks and `required`, with
/// every claim as signed: the verified token keeps only some, and the
/// answers that show a token's claims (introspection, the RPC) show them
/// all.
pub(super) struct Signed {
    /// The checked token.
    pub token: VerifiedToken,
    /// Its payload, whole.
    pub claims: Map<String, Value>,
}

/// [`verify`], and `required` of it (scopes, maximum age, claims); the
/// claims as signed kept beside the checked token.
async fn signed<R: Runtime>(
    presented: &str,
    issuer: &str,
    audience: Audience<'_>,
    binding: Binding<'_>,
    required: &Requirements,
    p: &Ports<'_, R>,
) -> Result<Signed, Unaccepted> {
    let unverified = token::parse(presented).map_err(Unaccepted::Token)?;
    if !in_range(&unverified.signature) {
        return Err(Unaccepted::Token(Rejection::Signature));
    }
    let set = p.jwks.map_err(|e| Unaccepted::Server(format!("keys unavailable: {e}")))?;
    let keys = jwks::parse(set.as_bytes()).map_err(|_| Unaccepted::Server("the JWKS does not parse".into()))?;
    let key = keys.iter().find(|k| k.kid == unverified.kid).ok_or(Unaccepted::Token(Rejection::UnknownKey))?;
    if !p.crypto.verify_es256(key, unverified.signing_input, &unverified.signature).await {
        return Err(Unaccepted::Token(Rejection::Signature));
    }
    let claims = token::object(&unverified.payload, "payload").map_err(Unaccepted::Token)?;
    let audiences = match audience {
        Audience::Only(only) => vec![only.to_string()],
        Audience::Any => audiences_of(&claims),
    };
    let expected = Expected { issuer, audiences: &audiences, leeway: LEEWAY_SECS, now: p.clock.now(), binding };
    let token = check(claims.clone(), &expected, required).map_err(Unaccepted::Token)?;
    Ok(Signed { token, claims })
}

/// A token that is [`signed`]'s and still live ([`live_owner`]).
pub(super) async fn live<R: Runtime>(
    presented: &str,
    issuer: &str,
    audience: Audience<'_>,
    binding: Binding<'_>,
    required: &Requirements,
    p: &Ports<'_, R>,
) -> Result<Signed, Unaccepted> {
    let signed = signed(presented, issuer, audience, binding, required, p).await?;
    live_owner(&signed.token, p).await?;
    Ok(signed)
}

/// The audiences a payload names (RFC 7519 §4.1.3: one string or an array).
fn audiences_of(claims: &serde_json::Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// The project a verified token's client belongs to (its `project_id` claim).
pub(super) fn project_of(token: &VerifiedToken) -> Option<&str> {
    token.claims.get("project_id").and_then(Value::as_str)
}

/// The revocation of a verified token: its `jti` in its project, kept
/// until its `exp` plus [`KEPT_PAST_EXPIRY`].
pub(super) fn revocation_of(token: &VerifiedToken) -> Revoked {
    Revoked {
        jti: token.jti.clone(),
        project_id: project_of(token).map(str::to_string),
        expires_at: token.expires_at.saturating_add(KEPT_PAST_EXPIRY),
    }
}

/// The client a verified token is still good for: the token not revoked,
/// not issued before a not-before time of its client or project, and its
/// client — as stored now, past every cache — active and the same
/// incarnation. So a deactivated or deleted client's tokens stop however
/// they were issued (by an isolate that had not yet seen the change, or
/// before revocation existed). Read from the primary: a revocation or a
/// deactivation is seen by the next request.
pub(super) async fn live_owner<R: Runtime>(
    token: &VerifiedToken,
    p: &Ports<'_, R>,
) -> Result<ClientRecord, Unaccepted> {
    let stored = |e: StoreError| Unaccepted::Server(e.to_string());
    let issued = Issued { jti: &token.jti, client_id: &token.client_id, project_id: project_of(token) };
    if p.store.standing(&issued).await.map_err(stored)?.refuses(token.issued_at) {
        return Err(Unaccepted::Token(Rejection::Revoked));
    }
    let id = ClientId::parse(&token.client_id).ok_or(Unaccepted::Token(Rejection::Claim("client_id")))?;
    let client = p.store.get_fresh(&id).await.map_err(stored)?;
    client
        .filter(|c| c.status == Status::Active && is_incarnation_of(token, c))
        .ok_or(Unaccepted::Token(Rejection::Revoked))
}

/// Whether a token was issued to this very client rather than to an
/// earlier one with the same id (deleted, and the id chosen again, or an
/// isolate still holding the old record): its `client_incarnation` is the
/// client's; its `project_id` is the client's; and it was issued no
/// earlier than the client was created. (A client created before
/// incarnations existed has none, and its tokens carry none.)
fn is_incarnation_of(token: &VerifiedToken, client: &ClientRecord) -> bool {
    let claim = |name: &str| token.claims.get(name).map(|v| v.as_str());
    let same = |claimed: Option<Option<&str>>, own: Option<&str>| match (claimed, own) {
        (None, None) => true,
        (Some(Some(claimed)), Some(own)) => claimed == own,
        _ => false,
    };
    same(claim("client_incarnation"), client.incarnation.as_ref().map(|i| i.as_str()))
        && same(claim("project_id"), client.project_id.as_ref().map(|p| p.as_str()))
        && token.issued_at >= client.created_at
}
