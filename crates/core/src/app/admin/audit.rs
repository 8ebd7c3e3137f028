//! `/admin/audit`: the trail of admin changes, and the per-minute counts of
//! failed admin authentications. Events are derived here, from the route
//! and what it answered, so no handler can forget one: an event names the
//! fields a request set, never their values.

use serde_json::{json, Value};

use super::caller::Caller;
use super::{list_limit, listed_project, ok, query_pairs, query_param, AdminError, AdminResult};
use crate::app::{Ports, Runtime};
use crate::audit::{AuditEvent, AuditFilter, AuditStore, AUTH_FAILURE_RETENTION_SECS};
use crate::http::{Request, Response};
use crate::time::rfc3339;

/// How far back the failure counts go unless `since` says otherwise.
const DEFAULT_FAILURE_WINDOW_SECS: i64 = 24 * 3600;

/// Append the event for a change that succeeded. `client_project` is the
/// project of a deleted client, read before the delete. A failure to
/// append is logged; the change stands.
pub(super) async fn record<R: Runtime>(
    req: &Request,
    segments: &[&str],
    caller: &Caller,
    response: &Response,
    client_project: Option<String>,
    p: &Ports<'_, R>,
) {
    if !(200..300).contains(&response.status) {
        return;
    }
    let Some((action, path_target)) = super::routes::action(req.method, segments) else { return };
    let answered: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let target = path_target
        .map(str::to_string)
        .or_else(|| {
            let named = answered.get("client_id").or_else(|| answered.get("id")).or_else(|| answered.get("jti"));
            named.and_then(Value::as_str).map(str::to_string)
        })
        .unwrap_or_default();
    let project_id = match action.split('.').next() {
        Some("client" | "token") => {
            answered.get("project_id").and_then(Value::as_str).map(str::to_string).or(client_project)
        }
        Some("project") => Some(target.clone()),
        _ => None,
    };
    let changed_fields: Vec<String> = match action {
        "client.rotation.start" | "client.rotation.cancel" => vec!["next_secret".into()],
        "client.rotation.complete" => vec!["secret".into(), "next_secret".into()],
        "keys.rotate" => vec!["keys".into()],
        _ => {
            let sent: Value = serde_json::from_slice(body_bytes(req)).unwrap_or(Value::Null);
            let mut names: Vec<String> = sent.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
            names.sort();
            names
        }
    };
    let now = p.clock.now();
    let id = match AuditEvent::new_id(p.clock.now_ms(), p.random) {
        Ok(id) => id,
        Err(e) => return p.log.error(&format!("audit: event for {action} {target} lost: {e}")),
    };
    let event = AuditEvent {
        id,
        at: now,
        actor: caller.actor().to_string(),
        project_id,
        action: action.to_string(),
        target,
        changed_fields,
    };
    if let Err(e) = p.store.append(&event, now + p.config.audit_retention_secs()).await {
        p.log.error(&format!("audit: event for {} {} lost: {e}", event.action, event.target));
    }
}

fn body_bytes(req: &Request) -> &[u8] {
    match &req.body {
        crate::http::Body::Bytes(b) => b,
        crate::http::Body::TooLarge => &[],
    }
}

/// Count one failed admin authentication in the current minute: held by
/// the isolate and written with its next write, at most one per 10 s
/// (`audit::FailureTally`), so failures cost no write per request.
pub(super) async fn failed_authentication<R: Runtime>(p: &Ports<'_, R>) {
    let now = p.clock.now();
    let keep = p.config.audit_retention_secs().min(AUTH_FAILURE_RETENTION_SECS);
    if let Err(e) = p.store.count_auth_failures(now.div_euclid(60), 1, now + keep).await {
        p.log.error(&format!("audit: failed admin authentications not written yet (held for the next write): {e}"));
    }
}

/// The event as the API shows it.
fn event_json(event: &AuditEvent) -> Value {
    json!({
        "id": event.id,
        "at": rfc3339(event.at),
        "actor": event.actor,
        "project_id": event.project_id,
        "action": event.action,
        "target": event.target,
        "changed_fields": event.changed_fields,
    })
}

/// `since` as Unix seconds, if given.
fn since(pairs: &[(String, String)]) -> Result<Option<i64>, AdminError> {
    query_param(pairs, "since")
        .map(|v| {
            v.parse::<i64>()
                .ok()
                .filter(|t| *t >= 0)
                .ok_or_else(|| AdminError::invalid("since", "must be Unix seconds"))
        })
        .transpose()
}

/// `GET /admin/audit?project_id=&since=&cursor=&limit=`: oldest first. A
/// project's admin reads its project's events only.
pub(super) async fn list<R: Runtime>(req: &Request, caller: &Caller, p: &Ports<'_, R>) -> AdminResult {
    let pairs = query_pairs(req)?;
    let (limit, cursor) = list_limit(&pairs)?;
    let Some(project_id) = listed_project(&pairs, caller)? else {
        return Ok(ok(200, json!({"events": [], "next_cursor": null})));
    };
    let filter = AuditFilter { project_id, since: since(&pairs)? };
    let page = p.store.events(&filter, cursor.as_deref(), limit).await?;
    let events: Vec<Value> = page.events.iter().map(event_json).collect();
    Ok(ok(200, json!({"events": events, "next_cursor": page.next_cursor})))
}

/// `GET /admin/audit/auth-failures?since=`: failed admin authentications
/// per minute (the last 24 hours by default): every one this isolate
/// counted, and those other isolates have written (each writes at most
/// every 10 s). Deployment-wide: not for a project's admin.
pub(super) async fn auth_failures<R: Runtime>(req: &Request, caller: &Caller, p: &Ports<'_, R>) -> AdminResult {
    if caller.project().is_some() {
        return Err(AdminError::Forbidden("a project's admin cannot read deployment-wide counts".into()));
    }
    let since = since(&query_pairs(req)?)?.unwrap_or(p.clock.now() - DEFAULT_FAILURE_WINDOW_SECS);
    let minutes: Vec<Value> = p
        .store
        .auth_failures(since.div_euclid(60))
        .await?
        .iter()
        .map(|m| json!({"minute": rfc3339(m.minute * 60), "count": m.count}))
        .collect();
    Ok(ok(200, json!({"minutes": minutes})))
}
