//! `/admin/federation/issuers`: the trusted issuers (deployment-wide, like
//! API resources), kept as one versioned set and changed by
//! compare-and-swap of the whole set; and each client's federated
//! credential failures.

use serde_json::{json, Value};

use super::caller::Caller;
use super::clients::{allowed_of, client_ids, clients_where};
use super::hand_out::{Holding, Tenancy};
use super::{check_precondition, etag, if_match, json_body, ok, AdminError, AdminResult};
use crate::app::render::issuer_json;
use crate::app::{Ports, Runtime};
use crate::client::{ClientFilter, ClientRecord};
use crate::federation::issuer::{parse_new, parse_patch, IssuerPatch, MAX_ISSUERS};
use crate::federation::{FederatedCredential, FederationFailureStore, IssuerId, IssuerStore, TrustedIssuer};
use crate::http::{Request, Response};
use crate::time::rfc3339;
use crate::validate::FieldError;

/// How many times a change of the set is tried on fresh data.
const ATTEMPTS: usize = 3;

fn issuer_response(status: u16, issuer: &TrustedIssuer) -> Response {
    ok(status, issuer_json(issuer)).with_header("etag", etag(issuer.version))
}

pub(super) async fn list<R: Runtime>(p: &Ports<'_, R>) -> AdminResult {
    let (_, issuers) = p.store.load_issuers_fresh().await?;
    Ok(ok(200, json!({"issuers": issuers.iter().map(issuer_json).collect::<Vec<_>>()})))
}

/// Apply `change` to the set and save it, retrying on a lost race; the
/// issuer `change` returns is the answer.
async fn change_set<R: Runtime>(
    p: &Ports<'_, R>,
    mut change: impl FnMut(&mut Vec<TrustedIssuer>) -> Result<Option<TrustedIssuer>, AdminError>,
) -> Result<Option<TrustedIssuer>, AdminError> {
    for _ in 0..ATTEMPTS {
        let (version, mut issuers) = p.store.load_issuers_fresh().await?;
        let out = change(&mut issuers)?;
        if p.store.save_issuers(version, &issuers).await? {
            return Ok(out);
        }
    }
    Err(AdminError::conflict("the trusted issuers kept changing while this request applied; retry"))
}

pub(super) async fn create<R: Runtime>(req: &Request, caller: &Caller, p: &Ports<'_, R>) -> AdminResult {
    let input = parse_new(&json_body(req)?)?;
    let now = p.clock.now();
    let id = IssuerId::generate(p.random).map_err(|_| AdminError::Server("random source failed".into()))?;
    let issuer = TrustedIssuer {
        id,
        issuer: input.issuer,
        name: input.name,
        jwks_uri: input.jwks_uri,
        audiences: input.audiences,
        algorithm: input.algorithm,
        max_token_age: input.max_token_age,
        single_use: input.single_use,
        accept_access_tokens: input.accept_access_tokens,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    caller.may_locate_keys(&issuer).map_err(|why| AdminError::Forbidden(why.to_string()))?;
    let created = change_set(p, |issuers| {
        if issuers.iter().any(|i| i.issuer == issuer.issuer) {
            return Err(AdminError::conflict(format!("issuer {} is trusted already", issuer.issuer)));
        }
        if issuers.len() >= MAX_ISSUERS {
            return Err(AdminError::conflict(format!("at most {MAX_ISSUERS} issuers can be trusted")));
        }
        issuers.push(issuer.clone());
        Ok(Some(issuer.clone()))
    })
    .await?
    .ok_or_else(|| AdminError::Server("issuer not created".into()))?;
    Ok(issuer_response(201, &created)
        .with_header("location", format!("/admin/federation/issuers/{}", created.id.as_str())))
}

pub(super) async fn get<R: Runtime>(id: &IssuerId, p: &Ports<'_, R>) -> AdminResult {
    let (_, issuers) = p.store.load_issuers_fresh().await?;
    let issuer = issuers.iter().find(|i| &i.id == id).ok_or(AdminError::NotFound("trusted issuer"))?;
    Ok(issuer_response(200, issuer))
}

pub(super) async fn update<R: Runtime>(req: &Request, id: &IssuerId, caller: &Caller, p: &Ports<'_, R>) -> AdminResult {
    let patch = parse_patch(&json_body(req)?)?;
    let expected = if_match(req);
    let now = p.clock.now();
    may_change_trust(id, &patch, caller, p).await?;
    let updated = change_set(p, |issuers| {
        let issuer = issuers.iter_mut().find(|i| &i.id == id).ok_or(AdminError::NotFound("trusted issuer"))?;
        check_precondition(expected.as_ref(), issuer.version)?;
        issuer.apply(patch.clone());
        issuer.updated_at = now;
        issuer.version += 1;
        Ok(Some(issuer.clone()))
    })
    .await?
    .ok_or(AdminError::NotFound("trusted issuer"))?;
    Ok(issuer_response(200, &updated))
}

/// A change to how an issuer's tokens are verified (anything but its name)
/// decides who obtains the tokens of every client that trusts it: for an
/// admin token, that is handing each of them out ([`Caller::may_repoint_issuer`]).
async fn may_change_trust<R: Runtime>(
    id: &IssuerId,
    patch: &IssuerPatch,
    caller: &Caller,
    p: &Ports<'_, R>,
) -> Result<(), AdminError> {
    if *caller == Caller::Root {
        return Ok(());
    }
    let (_, issuers) = p.store.load_issuers_fresh().await?;
    let current = issuers.iter().find(|i| &i.id == id).ok_or(AdminError::NotFound("trusted issuer"))?;
    let mut changed = current.clone();
    changed.apply(patch.clone());
    caller.may_locate_keys(&changed).map_err(|why| AdminError::Forbidden(why.to_string()))?;
    changed.name.clone_from(&current.name);
    if changed == *current {
        return Ok(());
    }
    let url = &current.issuer;
    let trusting = |c: &ClientRecord| c.federated_credentials.iter().any(|f| &f.issuer == url);
    let clients = clients_where(&ClientFilter::default(), trusting, usize::MAX, p).await?;
    let mut allowed = Vec::with_capacity(clients.len());
    for client in &clients {
        allowed.push(allowed_of(caller, client.project_id.as_ref(), p).await?);
    }
    let each = clients.iter().zip(&allowed).map(|(client, allowed)| {
        (
            Tenancy { project: client.project_id.as_ref(), allowed: allowed.as_deref() },
            Holding::of(&client.grants, p.config),
        )
    });
    caller.may_repoint_issuer(each).map_err(|why| AdminError::Forbidden(why.to_string()))
}

/// 409 naming the clients whose credentials still name the issuer.
pub(super) async fn delete<R: Runtime>(req: &Request, id: &IssuerId, p: &Ports<'_, R>) -> AdminResult {
    let (_, issuers) = p.store.load_issuers_fresh().await?;
    let url = issuers.iter().find(|i| &i.id == id).ok_or(AdminError::NotFound("trusted issuer"))?.issuer.clone();
    let trusting = |c: &ClientRecord| c.federated_credentials.iter().any(|f| f.issuer == url);
    let clients = client_ids(&ClientFilter::default(), trusting, 100, p).await?;
    if !clients.is_empty() {
        return Err(AdminError::Conflict {
            message: "clients' federated credentials name this issuer: remove them first".into(),
            clients,
        });
    }
    let expected = if_match(req);
    change_set(p, |issuers| {
        let at = issuers.iter().position(|i| &i.id == id).ok_or(AdminError::NotFound("trusted issuer"))?;
        check_precondition(expected.as_ref(), issuers[at].version)?;
        issuers.remove(at);
        Ok(None)
    })
    .await?;
    Ok(Response::empty(204))
}

/// Every credential's issuer must be trusted: a credential for an issuer
/// nobody verifies would never match, silently.
pub(super) async fn check_credentials<R: Runtime>(
    credentials: &[FederatedCredential],
    p: &Ports<'_, R>,
) -> Result<(), AdminError> {
    if credentials.is_empty() {
        return Ok(());
    }
    let (_, issuers) = p.store.load_issuers_fresh().await?;
    for (i, credential) in credentials.iter().enumerate() {
        if !issuers.iter().any(|t| t.issuer == credential.issuer) {
            return Err(AdminError::Invalid(FieldError::new(
                format!("federated_credentials[{i}].issuer"),
                "is not a trusted issuer: register it under /admin/federation/issuers first",
            )));
        }
    }
    Ok(())
}

/// `GET /admin/clients/{id}/federation/failures`: per credential, how
/// many federated requests failed and why the last one did.
pub(super) async fn failures<R: Runtime>(client: &ClientRecord, p: &Ports<'_, R>) -> AdminResult {
    let failures = p.store.failures(&client.id).await?;
    let listed: Vec<Value> = failures
        .iter()
        .map(|f| json!({"credential": f.credential, "count": f.count, "last_reason": f.last_reason, "last_at": rfc3339(f.last_at)}))
        .collect();
    Ok(ok(200, json!({"client_id": client.id.as_str(), "failures": listed})))
}
