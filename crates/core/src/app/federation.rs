//! Workload identity federation on the token path: a platform's identity
//! token (GitHub Actions, Kubernetes, any trusted OIDC issuer) stands for
//! a client when it verifies like any token this server accepts — the
//! issuer's keys, its one algorithm, `iss` exact, `aud` one of its allowed
//! audiences, times with leeway, a maximum age, single use by `jti` — and
//! one of the client's federated credentials matches it.
//!
//! The rules themselves are `federation::platform`'s; this module fetches
//! what they need and records what failed. The caller is told nothing of
//! which rule failed; the operator is: each failure is logged, and one of
//! a token whose signature verified is counted against the client's
//! credentials (`GET /admin/clients/{id}/federation/failures`). A token
//! that does not verify could come from anyone: it writes nothing.

use m2m_edge_verify::token::{object, parse_jws, Typing};
use serde_json::{Map, Value};

use super::{Ports, Runtime};
use crate::assertion::{replay_key, ReplayStore};
use crate::client::{ClientId, ClientRecord, ClientStore, Status};
use crate::federation::keys::KeyProblem;
use crate::federation::platform::{
    actor, check_claims, claimed_issuer, first_match, remember_until, single_use_jti, typing,
};
use crate::federation::{FederationFailureStore, IssuerStore, TrustedIssuer};
use crate::oauth::claims::Actor;
use crate::oauth::OAuthError;

/// Why a federated request was refused, before the grant decides how to say it.
#[derive(Debug)]
pub enum Refused {
    /// Refused: the grant's own error code, nothing said of why.
    Denied,
    /// Over the failure limit.
    TooMany,
    /// Storage failed.
    Server(OAuthError),
}

/// How a check failed.
enum Failure {
    /// Not shown to be the issuer's (malformed, no key, a bad signature):
    /// anyone can send that, so it is logged but never written down.
    Unverified(String),
    /// The issuer's token, refused: a reason per credential, recorded for
    /// the operator.
    Rejected(Vec<(String, String)>),
    /// Storage failed.
    Server(OAuthError),
}

/// The client `client_id` names, and who acted for it, if `jwt` is a
/// trusted issuer's token that one of the client's credentials matches.
pub async fn authenticate<R: Runtime>(
    jwt: &str,
    client_id: &str,
    own_issuer: &str,
    address: Option<&str>,
    p: &Ports<'_, R>,
) -> Result<(ClientRecord, Actor), Refused> {
    let Some(id) = ClientId::parse(client_id) else {
        return Err(Refused::Denied);
    };
    let now = p.clock.now();
    if p.limits.locked(id.as_str(), address, now) {
        return Err(Refused::TooMany);
    }
    let server = |e: crate::ports::StoreError| Refused::Server(OAuthError::server(e.to_string()));
    let client = p.store.get(&id).await.map_err(server)?.filter(|c| c.status == Status::Active);
    let claimed = claimed_issuer(jwt);
    let issuers = p.store.load_issuers().await.map_err(server)?.1;
    let issuer = claimed.as_deref().and_then(|url| issuers.into_iter().find(|i| i.issuer == url));
    let (client, issuer) = match (client, issuer) {
        (Some(c), Some(i)) if c.federated_credentials.iter().any(|f| f.issuer == i.issuer) => (c, i),
        // An unknown or inactive client, an untrusted issuer, or a client
        // that trusts nothing of this issuer: nothing to attribute it to.
        _ => return Err(denied(&id, address, now, p).await),
    };
    match check(jwt, &client, &issuer, own_issuer, now, p).await {
        Ok(actor) => Ok((client, actor)),
        Err(Failure::Server(e)) => Err(Refused::Server(e)),
        Err(Failure::Unverified(reason)) => {
            p.log.error(&format!("federated token refused for client {}: {reason}", id.as_str()));
            Err(denied(&id, address, now, p).await)
        }
        Err(Failure::Rejected(reasons)) => {
            for (credential, reason) in &reasons {
                p.log.error(&format!(
                    "federated token refused for client {} (credential {credential}): {reason}",
                    id.as_str()
                ));
                if let Err(e) = p.store.record_failure(&id, credential, reason, now).await {
                    p.log.error(&format!("federation failure not recorded: {e}"));
                }
            }
            Err(denied(&id, address, now, p).await)
        }
    }
}

/// Count a failure against the client id and address, like a wrong secret.
async fn denied<R: Runtime>(id: &ClientId, address: Option<&str>, now: i64, p: &Ports<'_, R>) -> Refused {
    match p.limits.failed(id.as_str(), address, now, p.log).await {
        Ok(()) => Refused::Denied,
        Err(_) => Refused::TooMany,
    }
}

/// Verify `jwt` as `issuer`'s, check it by the issuer's terms, then find
/// the first of `client`'s credentials for that issuer that it matches.
async fn check<R: Runtime>(
    jwt: &str,
    client: &ClientRecord,
    issuer: &TrustedIssuer,
    own_issuer: &str,
    now: i64,
    p: &Ports<'_, R>,
) -> Result<Actor, Failure> {
    let credentials: Vec<_> = client.federated_credentials.iter().filter(|f| f.issuer == issuer.issuer).collect();
    let claims = verify(jwt, issuer, typing(issuer, own_issuer), p).await.map_err(Failure::Unverified)?;
    let every =
        |reason: String| Failure::Rejected(credentials.iter().map(|c| (c.name.clone(), reason.clone())).collect());
    let checked = check_claims(&claims, issuer, now).map_err(every)?;
    let credential = first_match(&credentials, &claims).map_err(Failure::Rejected)?;
    let refused = |reason: String| Failure::Rejected(vec![(credential.name.clone(), reason)]);
    if let Some(jti) = single_use_jti(&claims, issuer).map_err(refused)? {
        match p.store.first_use(&replay_key(&issuer.issuer, jti), remember_until(&checked.times, issuer)).await {
            Ok(true) => {}
            Ok(false) => return Err(refused("token already used (jti)".into())),
            Err(e) => return Err(Failure::Server(OAuthError::server(format!("assertion replay store: {e}")))),
        }
    }
    Ok(actor(issuer, checked, credential))
}

/// The claims of `jwt` if `issuer` signed it and it is typed as `typing`
/// allows; else why not.
async fn verify<R: Runtime>(
    jwt: &str,
    issuer: &TrustedIssuer,
    typing: Typing,
    p: &Ports<'_, R>,
) -> Result<Map<String, Value>, String> {
    let algorithm = issuer.algorithm;
    let jws = parse_jws(jwt, typing, algorithm).map_err(|r| r.to_string())?;
    let key = match p.federation_keys.key(issuer, jws.kid.as_deref(), p.fetcher, p.clock).await {
        Ok(key) => key,
        Err(KeyProblem::Unknown) => return Err("the issuer publishes no key with that kid".into()),
        Err(KeyProblem::Unavailable(why)) => return Err(format!("the issuer's keys are unavailable: {why}")),
    };
    // The issuer's set holds keys of its algorithm only (federation::keys).
    let verified = key.algorithm() == algorithm && super::signature::verifies(p.crypto, &key, &jws).await;
    if !verified {
        return Err("signature does not verify".into());
    }
    object(&jws.payload, "payload").map_err(|_| "claims are not a JSON object".to_string())
}
