//! `/admin/resources`: API resources (the model: Auth0's APIs, Authgear's
//! API resources).

use serde_json::{json, Value};

use super::clients::using;
use super::{check_precondition, edit, etag, if_match, json_body, ok, AdminError, AdminResult};
use crate::app::render::resource_json;
use crate::app::{Ports, Runtime};
use crate::http::{Request, Response};
use crate::ports::{StoreError, Write};
use crate::resource::ResourceStore;
use crate::resource::{parse_new, parse_patch, removed_scopes, ApiResource, ResourceId, MAX_RESOURCES};

pub(super) async fn list<R: Runtime>(p: &Ports<'_, R>) -> AdminResult {
    let all: Vec<Value> = p.store.resources_fresh().await?.iter().map(resource_json).collect();
    Ok(ok(200, json!({"resources": all})))
}

pub(super) async fn create<R: Runtime>(req: &Request, p: &Ports<'_, R>) -> AdminResult {
    let input = parse_new(&json_body(req)?)?;
    if p.store.resources_fresh().await?.len() >= MAX_RESOURCES {
        return Err(AdminError::conflict(format!("at most {MAX_RESOURCES} API resources can be registered")));
    }
    let now = p.clock.now();
    let resource = ApiResource {
        id: ResourceId::generate(p.random).map_err(|_| AdminError::Server("random source failed".into()))?,
        identifier: input.identifier,
        name: input.name,
        scopes: input.scopes,
        token_ttl: input.token_ttl,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    match p.store.create_resource(&resource).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            return Err(AdminError::conflict(format!(
                "an API resource with identifier `{}` already exists",
                resource.identifier.as_str()
            )))
        }
        Err(e) => return Err(e.into()),
    }
    Ok(resource_response(201, &resource).with_header("location", format!("/admin/resources/{}", resource.id.as_str())))
}

async fn load<R: Runtime>(id: &ResourceId, p: &Ports<'_, R>) -> Result<ApiResource, AdminError> {
    p.store.resource(id).await?.ok_or(AdminError::NotFound("resource"))
}

/// An API resource as JSON, with its version as the `ETag`.
fn resource_response(status: u16, resource: &ApiResource) -> Response {
    ok(status, resource_json(resource)).with_header("etag", etag(resource.version))
}

pub(super) async fn get<R: Runtime>(id: &ResourceId, p: &Ports<'_, R>) -> AdminResult {
    Ok(resource_response(200, &load(id, p).await?))
}

/// Apply the patch under compare-and-swap ([`edit`]).
pub(super) async fn update<R: Runtime>(req: &Request, id: &ResourceId, p: &Ports<'_, R>) -> AdminResult {
    let patch = parse_patch(&json_body(req)?)?;
    let change = async |resource: &mut ApiResource| -> Result<(), AdminError> {
        if let Some(scopes) = &patch.scopes {
            // Dropping a scope that grants still use would leave those grants
            // naming a scope the API no longer has.
            let removed = removed_scopes(resource, scopes);
            if !removed.is_empty() {
                let clients = using(&resource.identifier, Some(&removed), p).await?;
                if !clients.is_empty() {
                    let names: Vec<&str> = removed.iter().map(|s| s.as_str()).collect();
                    return Err(AdminError::Conflict {
                        message: format!("scopes still granted to clients cannot be removed: {}", names.join(" ")),
                        clients,
                    });
                }
            }
            resource.scopes = scopes.clone();
        }
        if let Some(name) = &patch.name {
            resource.name = name.clone();
        }
        if let Some(ttl) = patch.token_ttl {
            resource.token_ttl = ttl;
        }
        Ok(())
    };
    let read = async || load(id, p).await;
    let save = async |resource: &ApiResource| p.store.update_resource(resource).await;
    let (resource, ()) = edit(req, p.clock.now(), read, change, save).await?;
    Ok(resource_response(200, &resource))
}

pub(super) async fn delete<R: Runtime>(req: &Request, id: &ResourceId, p: &Ports<'_, R>) -> AdminResult {
    let expected = if_match(req);
    let resource = load(id, p).await?;
    check_precondition(expected.as_ref(), resource.version)?;
    let clients = using(&resource.identifier, None, p).await?;
    if !clients.is_empty() {
        return Err(AdminError::Conflict {
            message: format!(
                "API resource `{}` is still granted to clients; remove it from their grants first",
                resource.identifier.as_str()
            ),
            clients,
        });
    }
    match p.store.delete_resource(&resource).await? {
        Write::Done => Ok(Response::empty(204)),
        Write::Missing => Err(AdminError::NotFound("resource")),
        Write::Stale if expected.is_some() => Err(AdminError::PreconditionFailed),
        Write::Stale => {
            Err(AdminError::conflict("the API resource changed while this request applied; read it again and retry"))
        }
    }
}
