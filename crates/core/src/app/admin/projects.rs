//! `/admin/projects`: tenants inside one deployment (the model: Raymon's
//! projects, Stytch's and Zitadel's organizations). A project's clients
//! carry its id in every token; deleting a project that still has clients
//! is refused with their ids.

use serde_json::{json, Value};

use super::caller::Caller;
use super::clients::client_ids;
use super::{
    check_precondition, edit, etag, if_match, json_body, list_limit, ok, query_pairs, AdminError, AdminResult,
};
use crate::app::render::project_json;
use crate::app::{Ports, Runtime};
use crate::client::ClientFilter;
use crate::grant::Grant;
use crate::http::{Request, Response};
use crate::ports::{StoreError, Write};
use crate::project::{parse_new, parse_patch, Project, ProjectId, ProjectStore};
use crate::resource::{check_grants, ResourceStore};

/// How many of a project's clients a refused delete names.
const CLIENTS_NAMED: usize = 100;

pub(super) async fn list<R: Runtime>(req: &Request, caller: &Caller, p: &Ports<'_, R>) -> AdminResult {
    let (limit, cursor) = list_limit(&query_pairs(req)?)?;
    // A project's admin sees its own project only.
    if let Some(own) = caller.project() {
        let projects: Vec<Value> = p.store.project(own).await?.iter().map(project_json).collect();
        return Ok(ok(200, json!({"projects": projects, "next_cursor": null})));
    }
    let page = p.store.projects(cursor.as_deref(), limit).await?;
    let projects: Vec<Value> = page.projects.iter().map(project_json).collect();
    Ok(ok(200, json!({"projects": projects, "next_cursor": page.next_cursor})))
}

/// `allowed_grants` hold API grants only (admin scopes are governed by
/// what each admin client holds), and, with resources registered, name
/// only them and their scopes.
async fn check_allowed<R: Runtime>(allowed: &[Grant], p: &Ports<'_, R>) -> Result<(), AdminError> {
    if let Some(i) = allowed.iter().position(|g| p.config.is_admin_audience(g.audience.as_str())) {
        return Err(AdminError::invalid(
            &format!("allowed_grants[{i}].audience"),
            "is the admin audience: admin scopes are handed out by admin clients that hold them, not by projects",
        ));
    }
    let resources = p.store.resources_fresh().await?;
    Ok(check_grants("allowed_grants", allowed, &resources, |_| false)?)
}

pub(super) async fn create<R: Runtime>(req: &Request, p: &Ports<'_, R>) -> AdminResult {
    let input = parse_new(&json_body(req)?)?;
    check_allowed(&input.allowed_grants, p).await?;
    let id = match input.id {
        Some(chosen) => chosen,
        None => ProjectId::generate(p.random).map_err(|_| AdminError::Server("random source failed".into()))?,
    };
    let now = p.clock.now();
    let project = Project {
        id: id.as_str().to_string(),
        name: input.name,
        description: input.description,
        allowed_grants: input.allowed_grants,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    match p.store.create_project(&project).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Err(AdminError::conflict(format!("project id {} is taken", project.id))),
        Err(e) => return Err(e.into()),
    }
    Ok(project_response(201, &project).with_header("location", format!("/admin/projects/{}", project.id)))
}

async fn load<R: Runtime>(id: &ProjectId, p: &Ports<'_, R>) -> Result<Project, AdminError> {
    p.store.project(id).await?.ok_or(AdminError::NotFound("project"))
}

fn project_response(status: u16, project: &Project) -> Response {
    ok(status, project_json(project)).with_header("etag", etag(project.version))
}

pub(super) async fn get<R: Runtime>(id: &ProjectId, caller: &Caller, p: &Ports<'_, R>) -> AdminResult {
    if !caller.sees(Some(id)) {
        return Err(AdminError::NotFound("project"));
    }
    Ok(project_response(200, &load(id, p).await?))
}

pub(super) async fn update<R: Runtime>(req: &Request, id: &ProjectId, p: &Ports<'_, R>) -> AdminResult {
    let patch = parse_patch(&json_body(req)?)?;
    if let Some(allowed) = &patch.allowed_grants {
        check_allowed(allowed, p).await?;
    }
    let read = async || load(id, p).await;
    let save = async |project: &Project| p.store.update_project(project).await;
    let change = async |project: &mut Project| {
        if let Some(name) = &patch.name {
            project.name = name.clone();
        }
        if let Some(description) = &patch.description {
            project.description = description.clone();
        }
        if let Some(allowed) = &patch.allowed_grants {
            project.allowed_grants = allowed.clone();
        }
        Ok(())
    };
    let (project, ()) = edit(req, p.clock.now(), read, change, save).await?;
    Ok(project_response(200, &project))
}

pub(super) async fn delete<R: Runtime>(req: &Request, id: &ProjectId, p: &Ports<'_, R>) -> AdminResult {
    let record = load(id, p).await?;
    let expected = if_match(req);
    check_precondition(expected.as_ref(), record.version)?;
    let members = ClientFilter { project_id: Some(id.clone()), ..ClientFilter::default() };
    let clients = client_ids(&members, |_| true, CLIENTS_NAMED, p).await?;
    if !clients.is_empty() {
        return Err(AdminError::Conflict {
            message: "the project still has clients: delete them first".into(),
            clients,
        });
    }
    match p.store.delete_project(id, expected.is_some().then_some(record.version)).await {
        Ok(Write::Done) => Ok(Response::empty(204)),
        Ok(Write::Missing) => Err(AdminError::NotFound("project")),
        Ok(Write::Stale) => Err(AdminError::PreconditionFailed),
        // D1's foreign key: a client joined in the meantime.
        Err(StoreError::Conflict) => Err(AdminError::conflict("the project still has clients: delete them first")),
        Err(e) => Err(e.into()),
    }
}
