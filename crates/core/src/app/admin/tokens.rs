//! Revocation through the admin API (scope `tokens:revoke`): one token, by
//! itself or its `jti`; and everything a client or a project was issued
//! until now (a not-before time). A project's admin acts inside its
//! project only: its `jti` revocations reach that project's tokens, and it
//! sees no other project's clients. Revoking all of a client's tokens is
//! acting on that client: the caller must hold all it holds, as for any
//! change to it; so a project's admin cannot revoke a whole project (its
//! admins above the caller included), and a deployment's admin revokes a
//! project only if it holds all that each of its clients holds.

use m2m_edge_verify::claims::Binding;
use serde_json::{json, Value};

use super::caller::Caller;
use super::{clients, json_body, ok, AdminError, AdminResult};
use crate::app::own_token::{self, Audience, Unaccepted};
use crate::app::{Ports, Runtime};
use crate::client::ClientId;
use crate::http::Request;
use crate::project::{ProjectId, ProjectStore};
use crate::revocation::{not_before_now, Holder, RevocationStore, Revoked, KEPT_PAST_EXPIRY};
use crate::time::rfc3339;
use crate::validate::{as_object, MAX_TOKEN_TTL};

/// The longest `jti` taken (this server's are 22 characters).
const MAX_JTI_CHARS: usize = 256;

/// `POST /admin/tokens/revoke` with `{"token": "<access token>"}` or
/// `{"jti": "<jti>"}`.
pub(super) async fn revoke<R: Runtime>(req: &Request, caller: &Caller, p: &Ports<'_, R>) -> AdminResult {
    let body = json_body(req)?;
    let body = as_object(&body, &["token", "jti"])?;
    let now = p.clock.now();
    let revoked = match (body.get("token"), body.get("jti")) {
        (Some(Value::String(token)), None) => by_token(token, req, caller, p).await?,
        (None, Some(Value::String(jti))) if !jti.is_empty() && jti.chars().count() <= MAX_JTI_CHARS => Revoked {
            jti: jti.clone(),
            project_id: caller.project().map(|p| p.as_str().to_string()),
            // Whatever token has this jti was issued by now, so it expires
            // within the longest lifetime.
            expires_at: now + i64::from(MAX_TOKEN_TTL) + KEPT_PAST_EXPIRY,
        },
        (None, Some(_)) => return Err(AdminError::invalid("jti", "must be a string of 1–256 characters")),
        (Some(_), None) => return Err(AdminError::invalid("token", "must be a string")),
        _ => return Err(AdminError::invalid("body", "must hold exactly one of token and jti")),
    };
    p.store.revoke(&revoked).await?;
    Ok(ok(
        200,
        json!({"jti": revoked.jti, "project_id": revoked.project_id, "kept_until": rfc3339(revoked.expires_at)}),
    ))
}

/// The revocation of a token the caller presents: this deployment's, valid
/// now, and of a project the caller sees.
async fn by_token<R: Runtime>(
    token: &str,
    req: &Request,
    caller: &Caller,
    p: &Ports<'_, R>,
) -> Result<Revoked, AdminError> {
    let issuer = p.config.issuer_for(&req.origin).map_err(|unset| AdminError::Server(unset.to_string()))?;
    let verified = match own_token::verify(token, issuer, Audience::Any, Binding::Any, p).await {
        Ok(verified) => verified,
        Err(Unaccepted::Token(why)) => {
            return Err(AdminError::invalid("token", &format!("is not a valid token of this deployment: {why}")))
        }
        Err(Unaccepted::Server(why)) => return Err(AdminError::Server(format!("token revocation: {why}"))),
    };
    if !caller.sees(own_token::project_of(&verified).and_then(ProjectId::parse).as_ref()) {
        return Err(AdminError::NotFound("token"));
    }
    Ok(own_token::revocation_of(&verified))
}

/// `POST /admin/clients/{id}/tokens/revoke`: every token the client was
/// issued until now.
pub(super) async fn revoke_client<R: Runtime>(id: &ClientId, caller: &Caller, p: &Ports<'_, R>) -> AdminResult {
    let client = clients::load(id, caller, p).await?;
    clients::may_act_on(&client, caller, p).await?;
    let not_before = not_before_now(p.clock.now());
    p.store.set_not_before(Holder::Client(client.id.as_str()), not_before).await?;
    Ok(ok(
        200,
        json!({"client_id": client.id.as_str(), "project_id": client.project_id.as_ref().map(|p| p.as_str()), "not_before": rfc3339(not_before)}),
    ))
}

/// `POST /admin/projects/{id}/tokens/revoke`: every token the project's
/// clients were issued until now.
pub(super) async fn revoke_project<R: Runtime>(id: &ProjectId, caller: &Caller, p: &Ports<'_, R>) -> AdminResult {
    if !caller.sees(Some(id)) || p.store.project(id).await?.is_none() {
        return Err(AdminError::NotFound("project"));
    }
    // It reaches every client of the project, its admins above the caller
    // too: a project's own admin revokes client by client, each under the
    // hand-out rule; anyone else must hold all that each client holds.
    if caller.project().is_some() {
        return Err(AdminError::Forbidden("a project's admin revokes its clients' tokens one client at a time".into()));
    }
    clients::may_act_on_project(id, caller, p).await?;
    let not_before = not_before_now(p.clock.now());
    p.store.set_not_before(Holder::Project(id.as_str()), not_before).await?;
    Ok(ok(200, json!({"project_id": id.as_str(), "not_before": rfc3339(not_before)})))
}
