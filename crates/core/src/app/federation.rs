//! Workload identity federation on the token path: a platform's identity
//! token (GitHub Actions, Kubernetes, any trusted OIDC issuer) stands for
//! a client when it verifies like any token this server accepts — the
//! issuer's keys, its one algorithm, `iss` exact, `aud` one of its allowed
//! audiences, times with leeway, a maximum age, single use by `jti` — and
//! one of the client's federated credentials matches it.
//!
//! The rules themselves are `federation::platform`'s; this module fetches
//! what they need and records what failed. The caller is told nothing of
//! which rule failed; the operator is: each failure is logged
//! ([`super::attempt`]), and one of a token whose signature verified is
//! recorded against the client's credentials
//! (`GET /admin/clients/{id}/federation/failures`). A token that does not
//! verify could come from anyone: it writes nothing.

use m2m_edge_verify::members::{ClaimSet, Members};
use m2m_edge_verify::token::{split, Split, Typing};
use m2m_edge_verify::Rejection;

use super::attempt::{answer, attempt};
use super::{Ports, Runtime};
use crate::assertion::{replay_key, ReplayStore};
use crate::client::federated::FederatedCredential;
use crate::client::{ClientFilter, ClientId, ClientRecord, ClientStore, Status};
use crate::federation::platform::{actor, check_claims, first_match, remember_until, single_use_jti, typing};
use crate::federation::{FederationFailureStore, IssuerStore, TrustedIssuer};
use crate::oauth::claims::Actor;
use crate::oauth::OAuthError;
use crate::ports::StoreError;
use crate::refusal::Refusal;

/// The client `client_id` names, and who acted for it, if `jwt` is a
/// trusted issuer's token that one of the client's credentials matches;
/// else `denied` (the grant's error code), or 429 or 500
/// ([`super::attempt::answer`]).
pub async fn authenticate<R: Runtime>(
    jwt: &str,
    client_id: &str,
    own_issuer: &str,
    address: Option<&str>,
    denied: impl FnOnce() -> OAuthError,
    p: &Ports<'_, R>,
) -> Result<(ClientRecord, Actor), OAuthError> {
    let Some(id) = ClientId::parse(client_id) else {
        return Err(denied());
    };
    attempt("federated token", &id, address, p, || check(jwt, &id, own_issuer, p))
        .await
        .map_err(|refusal| answer(refusal, denied))
}

/// The clients a platform token sent without `client_id` is matched
/// against, per page and in all: past them, it names no one client.
const CANDIDATES_PER_PAGE: usize = 100;
const MAX_CANDIDATES: usize = 1_000;

/// The one active client whose federated credentials `jwt` matches, for a
/// platform token sent without `client_id` (the MCP workload identity
/// federation profile: the token alone names the workload). The token is
/// verified as its issuer's first; a token that matches no client, or
/// more than one, names none ([`Refusal::MatchedClients`]), and the
/// request is denied as an unmatched one is. The caller then authenticates
/// that client as if the request had named it ([`authenticate`]), so its
/// lockout, single use and failure records apply alike.
pub async fn sole_match<R: Runtime>(jwt: &str, own_issuer: &str, p: &Ports<'_, R>) -> Result<ClientId, Refusal> {
    let token = split(jwt).map_err(|_| Refusal::UntrustedIssuer)?;
    let claims = Members::parse(token.payload(), "payload").map_err(|_| Refusal::UntrustedIssuer)?;
    let claimed = claims.string("iss").ok_or(Refusal::UntrustedIssuer)?;
    let issuer = p.store.load_issuers().await?.1.into_iter().find(|i| i.issuer == claimed);
    let issuer = issuer.ok_or(Refusal::UntrustedIssuer)?;
    verify(&token, &issuer, typing(&issuer, own_issuer), p).await?;
    check_claims(&claims, &issuer, p.clock.now())?;
    let filter = ClientFilter {
        status: Some(Status::Active),
        federated_issuer: Some(issuer.issuer.clone()),
        ..ClientFilter::default()
    };
    let (mut ids, mut cursor, mut read) = (Vec::new(), None, 0);
    let more = loop {
        let page = p.store.list(&filter, cursor.as_deref(), CANDIDATES_PER_PAGE).await?;
        read += page.clients.len();
        for client in page.clients {
            let credentials: Vec<_> =
                client.federated_credentials.iter().filter(|f| f.issuer == issuer.issuer).collect();
            if first_match(&credentials, &claims).is_ok() && ids.len() < 3 {
                ids.push(client.id);
            }
        }
        match page.next_cursor {
            Some(next) if read < MAX_CANDIDATES => cursor = Some(next),
            Some(_) => break true,
            None => break false,
        }
    };
    match (ids.len(), more) {
        (1, false) => Ok(ids.remove(0)),
        _ => Err(Refusal::MatchedClients { ids: ids.into_iter().map(|id| id.as_str().to_string()).collect(), more }),
    }
}

/// Find the client and the issuer `jwt` claims, verify it as that
/// issuer's, and match it against the client's credentials for it.
async fn check<R: Runtime>(
    jwt: &str,
    id: &ClientId,
    own_issuer: &str,
    p: &Ports<'_, R>,
) -> Result<(ClientRecord, Actor), Refusal> {
    let client = p.store.get(id).await?.filter(|c| c.status == Status::Active).ok_or(Refusal::UnknownClient)?;
    let token = split(jwt).ok();
    let claims = token.as_ref().and_then(|token| Members::parse(token.payload(), "payload").ok());
    let issuers = p.store.load_issuers().await?.1;
    let issuer = claims
        .as_ref()
        .and_then(|claims| claims.string("iss"))
        .and_then(|url| issuers.into_iter().find(|i| i.issuer == url))
        .filter(|i| client.federated_credentials.iter().any(|f| f.issuer == i.issuer))
        .ok_or(Refusal::UntrustedIssuer)?;
    let (Some(token), Some(claims)) = (&token, claims) else {
        return Err(Refusal::UntrustedIssuer);
    };
    let credentials: Vec<_> = client.federated_credentials.iter().filter(|f| f.issuer == issuer.issuer).collect();
    // Until its signature verifies the token could be anyone's: refused,
    // it is logged but never written down.
    verify(token, &issuer, typing(&issuer, own_issuer), p).await?;
    match accept(&claims, &credentials, &issuer, p).await? {
        Ok(actor) => Ok((client, actor)),
        Err(each) => {
            let now = p.clock.now();
            for (credential, refusal) in &each {
                if let Err(e) = p.store.record_failure(id, credential, &refusal.to_string(), now).await {
                    p.log.error(&format!("federation failure not recorded: {e}"));
                }
            }
            Err(Refusal::Credentials(each))
        }
    }
}

/// The actor, if the verified `claims` pass `issuer`'s terms and match the
/// first of `credentials` they can; else the refusal per credential it
/// concerns: the issuer's terms every credential, a replay the matched one.
async fn accept<R: Runtime>(
    claims: &Members<'_>,
    credentials: &[&FederatedCredential],
    issuer: &TrustedIssuer,
    p: &Ports<'_, R>,
) -> Result<Result<Actor, Vec<(String, Refusal)>>, StoreError> {
    let every = |refusal: Refusal| credentials.iter().map(|c| (c.name.clone(), refusal.clone())).collect();
    let checked = match check_claims(claims, issuer, p.clock.now()) {
        Ok(checked) => checked,
        Err(refusal) => return Ok(Err(every(refusal))),
    };
    let credential = match first_match(credentials, claims) {
        Ok(credential) => credential,
        Err(each) => return Ok(Err(each)),
    };
    let refused = |refusal: Refusal| Ok(Err(vec![(credential.name.clone(), refusal)]));
    match single_use_jti(claims, issuer) {
        Err(refusal) => return refused(refusal),
        Ok(Some(jti)) => {
            if !p.store.first_use(&replay_key(&issuer.issuer, &jti), remember_until(&checked.times, issuer)).await? {
                return refused(Refusal::Replayed);
            }
        }
        Ok(None) => {}
    }
    Ok(Ok(actor(issuer, checked, credential)))
}

/// Whether `issuer` signed `token`, typed as `typing` allows: its claims,
/// read before from the payload the signature covers ([`Split`]), are
/// then the token's.
async fn verify<R: Runtime>(
    token: &Split<'_>,
    issuer: &TrustedIssuer,
    typing: Typing,
    p: &Ports<'_, R>,
) -> Result<(), Refusal> {
    let algorithm = issuer.algorithm;
    let jws = token.jws(typing, algorithm)?;
    let key = p.federation_keys.key(issuer, jws.kid.as_deref(), p.fetcher, p.clock).await?;
    // The issuer's set holds keys of its algorithm only (federation::keys).
    if key.algorithm() != algorithm || !super::signature::verifies(p.crypto, &key, &jws).await {
        return Err(Rejection::Signature.into());
    }
    Ok(())
}
