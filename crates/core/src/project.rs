//! Projects: tenants inside one deployment. A client may belong to one
//! project (chosen when it is created, never moved); its tokens then carry
//! a `project_id` claim, so an API can tell which tenant is calling. API
//! resources stay deployment-wide; what of them a project's own admins may
//! grant is the project's `allowed_grants` (the model: Auth0's client
//! grants, which authorize an application for an API explicitly).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::grant::{parse_list, Grant};
use crate::ports::{StoreError, Write};
use crate::validate::{as_object, description, name, FieldError};

crate::ids::prefixed_id!(
    /// A project's id: `prj_` + 32 lowercase hex digits, or one the creator
    /// chose ([`crate::ids::is_valid_chosen`]).
    ProjectId,
    "prj_",
    chosen
);

/// A project as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// Its id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Free text for operators.
    pub description: Option<String>,
    /// The APIs and scopes the project's own admin clients may grant to
    /// its clients; empty (the default) means none. Set by the root key or
    /// a deployment-wide admin only; admin scopes are never listed here
    /// (an admin client hands out only the admin scopes it holds).
    #[serde(default, deserialize_with = "grants_as_list_or_text")]
    pub allowed_grants: Vec<Grant>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Write count: compare-and-swap, as for clients.
    #[serde(default = "first_version")]
    pub version: i64,
}

fn first_version() -> i64 {
    1
}

/// `allowed_grants` as stored: a JSON array in a KV value, the same array
/// as JSON text in a D1 column (NULL or absent in rows of before
/// migration 0009: none).
fn grants_as_list_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Grant>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        List(Vec<Grant>),
        Text(String),
        Null(()),
    }
    match Stored::deserialize(d)? {
        Stored::List(grants) => Ok(grants),
        Stored::Text(text) => serde_json::from_str(&text).map_err(serde::de::Error::custom),
        Stored::Null(()) => Ok(Vec::new()),
    }
}

impl Project {
    /// Its id, typed.
    pub fn project_id(&self) -> Option<ProjectId> {
        ProjectId::parse(&self.id)
    }
}

/// `POST /admin/projects`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProject {
    /// The id the caller chose, if any.
    pub id: Option<ProjectId>,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// What its admins may grant; empty when absent.
    pub allowed_grants: Vec<Grant>,
}

/// `PATCH /admin/projects/{id}`: `None` leaves a field alone.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProjectPatch {
    /// A new name.
    pub name: Option<String>,
    /// A new description, or `Some(None)` to clear it.
    pub description: Option<Option<String>>,
    /// New allowed grants, replacing the old ones.
    pub allowed_grants: Option<Vec<Grant>>,
}

/// The checked body of `POST /admin/projects`.
pub fn parse_new(body: &Value) -> Result<NewProject, FieldError> {
    let map = as_object(body, &["id", "name", "description", "allowed_grants"])?;
    let id = match map.get("id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(chosen_id(v, "id")?),
    };
    let name = match map.get("name") {
        None | Some(Value::Null) => return Err(FieldError::new("name", "is required")),
        Some(v) => name(v)?,
    };
    Ok(NewProject {
        id,
        name,
        description: map.get("description").map(description).transpose()?.flatten(),
        allowed_grants: map.get("allowed_grants").map(allowed_grants).transpose()?.unwrap_or_default(),
    })
}

/// The checked body of `PATCH /admin/projects/{id}`.
pub fn parse_patch(body: &Value) -> Result<ProjectPatch, FieldError> {
    let map = as_object(body, &["name", "description", "allowed_grants"])?;
    Ok(ProjectPatch {
        name: map.get("name").map(name).transpose()?,
        description: map.get("description").map(description).transpose()?,
        allowed_grants: map.get("allowed_grants").map(allowed_grants).transpose()?,
    })
}

/// `allowed_grants`: grants as a client's are written, possibly none
/// (`null` is none too).
fn allowed_grants(v: &Value) -> Result<Vec<Grant>, FieldError> {
    match v {
        Value::Null => Ok(Vec::new()),
        v => parse_list("allowed_grants", v, 0),
    }
}

/// A chosen project id in `field`.
pub fn chosen_id(v: &Value, field: &str) -> Result<ProjectId, FieldError> {
    v.as_str().and_then(ProjectId::chosen).ok_or_else(|| {
        FieldError::new(field, "must be 3 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit")
    })
}

/// One page of projects, in id order.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectPage {
    /// The projects.
    pub projects: Vec<Project>,
    /// Where the next page starts; `None` on the last.
    pub next_cursor: Option<String>,
}

/// Where projects are kept.
#[allow(async_fn_in_trait)] // single-threaded (wasm32): no Send bound wanted
pub trait ProjectStore {
    /// The project with that id, if any (always from storage: projects are
    /// read on admin paths only).
    async fn project(&self, id: &ProjectId) -> Result<Option<Project>, StoreError>;

    /// Insert a new project; [`StoreError::Conflict`] if the id exists.
    async fn create_project(&self, project: &Project) -> Result<(), StoreError>;

    /// Replace it if the stored version is still `project.version`.
    async fn update_project(&self, project: &Project) -> Result<Write, StoreError>;

    /// Remove it; with `expected`, only at that version. [`StoreError::Conflict`]
    /// where the backend itself refuses because clients still belong to it.
    async fn delete_project(&self, id: &ProjectId, expected: Option<i64>) -> Result<Write, StoreError>;

    /// Up to `limit` projects in id order, after `cursor`.
    async fn projects(&self, cursor: Option<&str>, limit: usize) -> Result<ProjectPage, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn new_projects() {
        let p = parse_new(&json!({"id": "team-payments", "name": " Payments ", "description": ""})).unwrap();
        assert_eq!(p.id.unwrap().as_str(), "team-payments");
        assert_eq!(p.name, "Payments");
        assert_eq!(p.description, None);
        assert_eq!(parse_new(&json!({"name": "x"})).unwrap().id, None);
        assert_eq!(parse_new(&json!({"id": "a b", "name": "x"})).unwrap_err().field, "id");
        assert_eq!(parse_new(&json!({"name": "x", "owner": "y"})).unwrap_err().field, "owner");
        assert_eq!(parse_new(&json!({})).unwrap_err().field, "name");
        assert_eq!(parse_patch(&json!({"id": "x"})).unwrap_err().field, "id");
    }
}
