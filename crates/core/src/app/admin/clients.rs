//! `/admin/clients`: the client registry, and secret rotation (the model:
//! Stytch's start / complete / cancel).

use serde_json::{json, Value};

use super::caller::{AdminScope, Caller};
use super::hand_out::{Holding, Overreach, Tenancy};
use super::{
    check_precondition, edit, etag, if_match, json_body, list_limit, listed_project, ok, propagation_bound,
    query_pairs, query_param, AdminError, AdminResult,
};
use crate::app::render::client_json;
use crate::app::{Ports, Runtime};
use crate::client::input::{parse_new, parse_patch, ClientPatch};
use crate::client::ClientStore;
use crate::client::{ClientFilter, ClientId, ClientRecord, ClientSecret, Incarnation, Status, StoredSecret};
use crate::grant::{Audience, Grant, Scope};
use crate::http::{Request, Response};
use crate::oauth::metadata::{endpoint, TOKEN_PATH};
use crate::ports::StoreError;
use crate::ports::Write;
use crate::project::{ProjectId, ProjectStore};
use crate::resource::check_grants;
use crate::resource::ResourceStore;
use crate::revocation::{not_before_now, Holder, RevocationStore};

/// The page size when the whole registry is walked.
const MAX_LIMIT: usize = 200;

fn rng_failed<E>(_: E) -> AdminError {
    AdminError::Server("random source failed".into())
}

/// The grants a client would hold, checked: a grant of the deployment's
/// admin audience holds admin scopes only (who may hand them out, and
/// which API grants a project's admins may give, is
/// [`Caller::may_hand_out`]'s question); with API resources registered,
/// every other grant names one and only its scopes.
async fn check_grants_of<R: Runtime>(grants: &[Grant], p: &Ports<'_, R>) -> Result<(), AdminError> {
    let is_admin = |g: &Grant| p.config.is_admin_audience(g.audience.as_str());
    for (i, grant) in grants.iter().enumerate().filter(|(_, g)| is_admin(g)) {
        if let Some((j, scope)) = grant.scopes.iter().enumerate().find(|(_, s)| AdminScope::parse(s.as_str()).is_none())
        {
            return Err(AdminError::invalid(
                &format!("grants[{i}].scopes[{j}]"),
                &format!("`{}` is not an admin scope; the admin audience takes only those", scope.as_str()),
            ));
        }
    }
    let resources = p.store.resources_fresh().await?;
    Ok(check_grants("grants", grants, &resources, is_admin)?)
}

/// The `allowed_grants` of the client's project, read for an admin token's
/// change only (the root key is not bound by them): `None` for a client
/// without a project; empty when the project's record is missing.
pub(super) async fn allowed_of<R: Runtime>(
    caller: &Caller,
    project: Option<&ProjectId>,
    p: &Ports<'_, R>,
) -> Result<Option<Vec<Grant>>, AdminError> {
    match (caller, project) {
        (Caller::Client { .. }, Some(id)) => {
            Ok(Some(p.store.project(id).await?.map(|project| project.allowed_grants).unwrap_or_default()))
        }
        _ => Ok(None),
    }
}

pub(super) async fn create<R: Runtime>(req: &Request, caller: &Caller, p: &Ports<'_, R>) -> AdminResult {
    let mut input = parse_new(&json_body(req)?)?;
    // A project's admin creates clients in its project (the default for it)
    // and nowhere else — refused before any read, so the answer says
    // nothing of whether another project exists.
    if let Some(own) = caller.project() {
        match &input.project_id {
            None => input.project_id = Some(own.clone()),
            Some(asked) if asked == own => {}
            Some(_) => return Err(forbidden(Overreach::OtherProject)),
        }
    }
    let project = match &input.project_id {
        Some(id) => {
            Some(p.store.project(id).await?.ok_or_else(|| AdminError::invalid("project_id", "no such project"))?)
        }
        None => None,
    };
    let tenancy = Tenancy {
        project: input.project_id.as_ref(),
        allowed: project.as_ref().filter(|_| *caller != Caller::Root).map(|p| p.allowed_grants.as_slice()),
    };
    caller.may_hand_out(tenancy, None, &Holding::of(&input.grants, p.config)).map_err(forbidden)?;
    check_grants_of(&input.grants, p).await?;
    super::federation::check_credentials(&input.federated_credentials, p).await?;
    let id = match input.id {
        Some(chosen) => chosen,
        None => ClientId::generate(p.random).map_err(rng_failed)?,
    };
    // A private_key_jwt client has no secret: nothing is generated, nothing
    // shown, and the stored hash matches no secret.
    let secret = match input.keys {
        None => Some(ClientSecret::generate(p.random).map_err(rng_failed)?),
        Some(_) => None,
    };
    let now = p.clock.now();
    let record = ClientRecord {
        id,
        project_id: input.project_id,
        name: input.name,
        description: input.description,
        grants: input.grants,
        custom_claims: input.custom_claims,
        token_ttl: input.token_ttl,
        dpop_bound_access_tokens: input.dpop_bound_access_tokens,
        status: Status::Active,
        secret: secret.as_ref().map_or_else(StoredSecret::none, ClientSecret::stored),
        next_secret: None,
        keys: input.keys,
        federated_credentials: input.federated_credentials,
        incarnation: Some(Incarnation::generate(p.random).map_err(rng_failed)?),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    p.store.create(&record).await.map_err(|e| match e {
        StoreError::Conflict => AdminError::conflict(format!("client_id {} is taken", record.id.as_str())),
        other => other.into(),
    })?;
    // The secret is shown this once; only its hash is kept. With the
    // issuer and token endpoint, the body is a complete credentials
    // document a tool can save as it is.
    let mut extra: Vec<(&str, &str)> = secret.as_ref().map(|s| ("client_secret", s.expose())).into_iter().collect();
    let issuer = p.config.issuer_for(&req.origin).ok();
    let token_endpoint = issuer.map(|issuer| endpoint(issuer, TOKEN_PATH));
    if let (Some(issuer), Some(token_endpoint)) = (issuer, &token_endpoint) {
        extra.extend([("issuer", issuer), ("token_endpoint", token_endpoint.as_str())]);
    }
    Ok(client_response(201, &record, &extra).with_header("location", format!("/admin/clients/{}", record.id.as_str())))
}

/// The client, if `caller` may see it: another project's client is as
/// absent as one that does not exist.
pub(super) async fn load<R: Runtime>(
    id: &ClientId,
    caller: &Caller,
    p: &Ports<'_, R>,
) -> Result<ClientRecord, AdminError> {
    p.store.get_fresh(id).await?.filter(|c| caller.sees(c.project_id.as_ref())).ok_or(AdminError::NotFound("client"))
}

/// Edit the client under compare-and-swap ([`edit`]), if the caller may:
/// every change to a client, whatever it touches, passes
/// [`Caller::may_hand_out`] with what the client held before and holds
/// after, on the record as stored at the write. Widening the grants of a
/// client with a secret rotation pending is refused, whoever asks: the
/// pending secret may be in the hands of a lower admin that started it.
async fn modify<R: Runtime, T>(
    req: &Request,
    id: &ClientId,
    caller: &Caller,
    p: &Ports<'_, R>,
    mut change: impl FnMut(&mut ClientRecord) -> Result<T, AdminError>,
) -> Result<(ClientRecord, T), AdminError> {
    let read = async || load(id, caller, p).await;
    let save = async |record: &ClientRecord| p.store.update(record).await;
    let guarded = async |record: &mut ClientRecord| {
        // The project of the record this attempt read (no read for the root key).
        let allowed = allowed_of(caller, record.project_id.as_ref(), p).await?;
        let before = Holding::of(&record.grants, p.config);
        let out = change(record)?;
        let after = Holding::of(&record.grants, p.config);
        let tenancy = Tenancy { project: record.project_id.as_ref(), allowed: allowed.as_deref() };
        caller.may_hand_out(tenancy, Some(&before), &after).map_err(forbidden)?;
        if record.next_secret.is_some() && after.widens(&before) {
            return Err(AdminError::conflict(
                "a secret rotation is pending on this client: complete or cancel it before widening its grants",
            ));
        }
        Ok(out)
    };
    edit(req, p.clock.now(), read, guarded, save).await
}

fn forbidden(why: Overreach) -> AdminError {
    AdminError::Forbidden(why.to_string())
}

/// A client as JSON, with `extra` string fields, and its version as the `ETag`.
fn client_response(status: u16, record: &ClientRecord, extra: &[(&str, &str)]) -> Response {
    let mut body = client_json(record);
    for (name, value) in extra {
        body[*name] = Value::String(value.to_string());
    }
    ok(status, body).with_header("etag", etag(record.version))
}

pub(super) async fn get<R: Runtime>(id: &ClientId, caller: &Caller, p: &Ports<'_, R>) -> AdminResult {
    Ok(client_response(200, &load(id, caller, p).await?, &[]))
}

pub(super) async fn list<R: Runtime>(req: &Request, caller: &Caller, p: &Ports<'_, R>) -> AdminResult {
    let pairs = query_pairs(req)?;
    let (limit, cursor) = list_limit(&pairs)?;
    let param = |name: &str| query_param(&pairs, name);
    let listed = listed_project(&pairs, caller)?;
    let status = param("status")
        .map(|v| Status::parse(v).ok_or_else(|| AdminError::invalid("status", "must be active or inactive")))
        .transpose()?;
    // A project's admin lists its project's clients; asking for another
    // project finds nothing.
    let Some(project_id) = listed else {
        return Ok(ok(200, json!({"clients": [], "next_cursor": null})));
    };
    let name_prefix = param("name_prefix").map(str::to_string);
    let filter = ClientFilter { project_id, status, name_prefix, ..ClientFilter::default() };
    let page = p.store.list(&filter, cursor.as_deref(), limit).await?;
    let clients: Vec<Value> = page.clients.iter().map(client_json).collect();
    Ok(ok(200, json!({"clients": clients, "next_cursor": page.next_cursor})))
}

pub(super) async fn update<R: Runtime>(req: &Request, id: &ClientId, caller: &Caller, p: &Ports<'_, R>) -> AdminResult {
    let patch: ClientPatch = parse_patch(&json_body(req)?)?;
    if let Some(grants) = &patch.grants {
        check_grants_of(grants, p).await?;
    }
    if let Some(credentials) = &patch.federated_credentials {
        super::federation::check_credentials(credentials, p).await?;
    }
    let (record, ()) = modify(req, id, caller, p, |record| {
        let patch = patch.clone();
        if let Some(name) = patch.name {
            record.name = name;
        }
        if let Some(description) = patch.description {
            record.description = description;
        }
        if let Some(grants) = patch.grants {
            record.grants = grants;
        }
        if let Some(claims) = patch.custom_claims {
            record.custom_claims = claims;
        }
        if let Some(ttl) = patch.token_ttl {
            record.token_ttl = ttl;
        }
        if let Some(required) = patch.dpop_bound_access_tokens {
            record.dpop_bound_access_tokens = required;
        }
        if let Some(status) = patch.status {
            record.status = status;
        }
        if let Some(credentials) = patch.federated_credentials {
            record.federated_credentials = credentials;
        }
        if let Some(keys) = patch.keys {
            if record.keys.is_none() {
                return Err(AdminError::invalid("jwks", "is only for a client created with private_key_jwt"));
            }
            record.keys = Some(keys);
        }
        Ok(())
    })
    .await?;
    // What an operator means by deactivating a client in an incident: its
    // tokens in flight stop too, not only new ones (README, "Revocation").
    if patch.status == Some(Status::Inactive) {
        end_tokens(id, p).await?;
    }
    Ok(client_response(200, &record, &[]))
}

/// Whether `caller` may act on the client `record` as a whole (delete it,
/// revoke its tokens): it must hold all the client holds, as for any
/// change to it ([`Caller::may_hand_out`]).
pub(super) async fn may_act_on<R: Runtime>(
    record: &ClientRecord,
    caller: &Caller,
    p: &Ports<'_, R>,
) -> Result<(), AdminError> {
    let allowed = allowed_of(caller, record.project_id.as_ref(), p).await?;
    let tenancy = Tenancy { project: record.project_id.as_ref(), allowed: allowed.as_deref() };
    acts_on(record, caller, tenancy, p).map_err(forbidden)
}

/// [`may_act_on`] for every client of `project` at once, as revoking the
/// project's tokens acts on each of them (the project's allowed grants read
/// once). The refusal says why, not which client: a caller holding only
/// `tokens:revoke` may not list the project's clients.
pub(super) async fn may_act_on_project<R: Runtime>(
    project: &ProjectId,
    caller: &Caller,
    p: &Ports<'_, R>,
) -> Result<(), AdminError> {
    if *caller == Caller::Root {
        return Ok(());
    }
    let allowed = allowed_of(caller, Some(project), p).await?;
    let tenancy = Tenancy { project: Some(project), allowed: allowed.as_deref() };
    let filter = ClientFilter { project_id: Some(project.clone()), ..ClientFilter::default() };
    let beyond = clients_where(&filter, |record| acts_on(record, caller, tenancy, p).is_err(), 1, p).await?;
    match beyond.first().and_then(|record| acts_on(record, caller, tenancy, p).err()) {
        Some(why) => Err(AdminError::Forbidden(format!(
            "the project has a client this caller may not act on, and this would end its tokens: {why}"
        ))),
        None => Ok(()),
    }
}

/// The hand-out rule for a change that leaves what `record` holds as it
/// is: the caller must hold all it holds.
fn acts_on<R: Runtime>(
    record: &ClientRecord,
    caller: &Caller,
    tenancy: Tenancy<'_>,
    p: &Ports<'_, R>,
) -> Result<(), Overreach> {
    let held = Holding::of(&record.grants, p.config);
    caller.may_hand_out(tenancy, Some(&held), &held)
}

/// Every token `id` was issued until now stops being accepted — and until
/// the change has reached every isolate ([`propagation_bound`]): an
/// isolate that still holds the client as it was may issue tokens in that
/// window, and those are refused too. A failure is a 500 the operator can
/// retry: deactivating again, or deleting (which does this first).
async fn end_tokens<R: Runtime>(id: &ClientId, p: &Ports<'_, R>) -> Result<(), AdminError> {
    let not_before = not_before_now(p.clock.now()) + propagation_bound(p.config);
    p.store
        .set_not_before(Holder::Client(id.as_str()), not_before)
        .await
        .map_err(|e| AdminError::Server(format!("client {}: its tokens were not revoked: {e}", id.as_str())))
}

pub(super) async fn delete<R: Runtime>(req: &Request, id: &ClientId, caller: &Caller, p: &Ports<'_, R>) -> AdminResult {
    let expected = if_match(req);
    // The root key without If-Match deletes unconditionally. Anyone else
    // deletes what it may change, at the version it checked: a grant
    // added in between makes the delete stale, and it is checked again.
    if expected.is_none() && *caller == Caller::Root {
        // Before the delete, so that a failure leaves the client to delete again.
        end_tokens(id, p).await?;
        return match p.store.delete(id, None).await? {
            Write::Done => Ok(Response::empty(204)),
            Write::Missing | Write::Stale => Err(AdminError::NotFound("client")),
        };
    }
    for _ in 0..2 {
        let record = load(id, caller, p).await?;
        check_precondition(expected.as_ref(), record.version)?;
        may_act_on(&record, caller, p).await?;
        end_tokens(id, p).await?;
        match p.store.delete(id, Some(&record)).await? {
            Write::Done => return Ok(Response::empty(204)),
            Write::Missing => return Err(AdminError::NotFound("client")),
            Write::Stale if expected.is_some() => return Err(AdminError::PreconditionFailed),
            Write::Stale => continue,
        }
    }
    Err(AdminError::conflict("the client kept changing while this request applied; read it again and retry"))
}

/// Start a rotation: a new secret, returned once as `next_client_secret`;
/// from now on the old and the new secret both authenticate.
pub(super) async fn rotate_start<R: Runtime>(
    req: &Request,
    id: &ClientId,
    caller: &Caller,
    p: &Ports<'_, R>,
) -> AdminResult {
    let (record, secret) = modify(req, id, caller, p, |record| {
        if record.keys.is_some() {
            return Err(AdminError::conflict(
                "this client authenticates with private_key_jwt and has no secret: rotate its keys with PATCH jwks",
            ));
        }
        if record.next_secret.is_some() {
            return Err(AdminError::conflict(
                "a secret rotation is already pending: complete or cancel it before starting another",
            ));
        }
        let secret = ClientSecret::generate(p.random).map_err(rng_failed)?;
        record.next_secret = Some(secret.stored());
        Ok(secret)
    })
    .await?;
    Ok(client_response(200, &record, &[("next_client_secret", secret.expose())]))
}

/// Complete (the new secret replaces the old) or cancel (the new one is dropped).
pub(super) async fn rotate_finish<R: Runtime>(
    req: &Request,
    id: &ClientId,
    complete: bool,
    caller: &Caller,
    p: &Ports<'_, R>,
) -> AdminResult {
    let (record, ()) = modify(req, id, caller, p, |record| {
        let Some(next) = record.next_secret.take() else {
            return Err(AdminError::conflict("no secret rotation is pending for this client"));
        };
        if complete {
            record.secret = next;
        }
        Ok(())
    })
    .await?;
    Ok(client_response(200, &record, &[]))
}

/// Ids of the clients whose grants name `audience` (and, when `scopes` is
/// given, use one of those scopes). Pages through the whole registry: an
/// admin-only path.
pub(super) async fn using<R: Runtime>(
    audience: &Audience,
    scopes: Option<&[Scope]>,
    p: &Ports<'_, R>,
) -> Result<Vec<String>, AdminError> {
    let uses = |client: &ClientRecord| {
        client
            .grants
            .iter()
            .any(|g| g.audience == *audience && scopes.is_none_or(|ss| g.scopes.iter().any(|s| ss.contains(s))))
    };
    client_ids(&ClientFilter::default(), uses, usize::MAX, p).await
}

/// Ids of up to `most` clients passing `filter` and `keep`, paging as far
/// as needed (KV filters as it scans, so pages may be short).
pub(super) async fn client_ids<R: Runtime>(
    filter: &ClientFilter,
    keep: impl Fn(&ClientRecord) -> bool,
    most: usize,
    p: &Ports<'_, R>,
) -> Result<Vec<String>, AdminError> {
    Ok(clients_where(filter, keep, most, p).await?.iter().map(|c| c.id.as_str().to_string()).collect())
}

/// Up to `most` clients passing `filter` and `keep`, paging as far as needed.
pub(super) async fn clients_where<R: Runtime>(
    filter: &ClientFilter,
    keep: impl Fn(&ClientRecord) -> bool,
    most: usize,
    p: &Ports<'_, R>,
) -> Result<Vec<ClientRecord>, AdminError> {
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = p.store.list(filter, cursor.as_deref(), MAX_LIMIT).await?;
        found.extend(page.clients.into_iter().filter(|c| keep(c)));
        match page.next_cursor {
            Some(next) if found.len() < most => cursor = Some(next),
            _ => {
                found.truncate(most);
                return Ok(found);
            }
        }
    }
}
