//! The admin API's one route table: each route's method and path, the
//! operation that answers it, the admin scope it needs and the audit
//! action it records. Routing, authorization (`required_scope`, the
//! README's table, the OpenAPI document's `adminToken` scopes) and the
//! audit trail all read it, so they cannot disagree.

use super::caller::AdminScope;
use crate::http::Method;

/// What a route does; the handler is chosen by this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    ProjectsList,
    ProjectCreate,
    ProjectGet,
    ProjectUpdate,
    ProjectDelete,
    ClientsList,
    ClientCreate,
    ClientGet,
    ClientUpdate,
    ClientDelete,
    RotationStart,
    RotationComplete,
    RotationCancel,
    FederationFailures,
    IssuersList,
    IssuerCreate,
    IssuerGet,
    IssuerUpdate,
    IssuerDelete,
    ResourcesList,
    ResourceCreate,
    ResourceGet,
    ResourceUpdate,
    ResourceDelete,
    AuditList,
    AuthFailures,
    KeysList,
    KeysRotate,
    TokenRevoke,
    ClientTokensRevoke,
    ProjectTokensRevoke,
}

/// One route. In `path`, `{id}` stands for one path segment.
pub(super) struct Route {
    pub method: Method,
    pub path: &'static str,
    pub op: Op,
    pub scope: AdminScope,
    /// The audit trail's action for a change; `None` for a read.
    pub action: Option<&'static str>,
}

const fn route(method: Method, path: &'static str, op: Op, scope: AdminScope, action: Option<&'static str>) -> Route {
    Route { method, path, op, scope, action }
}

use AdminScope as S;
use Method::{Delete, Get, Patch, Post};

/// Every admin route.
pub(super) const ROUTES: [Route; 31] = [
    route(Get, "/admin/projects", Op::ProjectsList, S::ProjectsRead, None),
    route(Post, "/admin/projects", Op::ProjectCreate, S::ProjectsWrite, Some("project.create")),
    route(Get, "/admin/projects/{id}", Op::ProjectGet, S::ProjectsRead, None),
    route(Patch, "/admin/projects/{id}", Op::ProjectUpdate, S::ProjectsWrite, Some("project.update")),
    route(Delete, "/admin/projects/{id}", Op::ProjectDelete, S::ProjectsWrite, Some("project.delete")),
    route(Get, "/admin/clients", Op::ClientsList, S::ClientsRead, None),
    route(Post, "/admin/clients", Op::ClientCreate, S::ClientsWrite, Some("client.create")),
    route(Get, "/admin/clients/{id}", Op::ClientGet, S::ClientsRead, None),
    route(Patch, "/admin/clients/{id}", Op::ClientUpdate, S::ClientsWrite, Some("client.update")),
    route(Delete, "/admin/clients/{id}", Op::ClientDelete, S::ClientsWrite, Some("client.delete")),
    route(
        Post,
        "/admin/clients/{id}/secrets/rotate",
        Op::RotationStart,
        S::ClientsRotate,
        Some("client.rotation.start"),
    ),
    route(
        Post,
        "/admin/clients/{id}/secrets/rotate/complete",
        Op::RotationComplete,
        S::ClientsRotate,
        Some("client.rotation.complete"),
    ),
    route(
        Post,
        "/admin/clients/{id}/secrets/rotate/cancel",
        Op::RotationCancel,
        S::ClientsRotate,
        Some("client.rotation.cancel"),
    ),
    route(Get, "/admin/clients/{id}/federation/failures", Op::FederationFailures, S::ClientsRead, None),
    route(Get, "/admin/federation/issuers", Op::IssuersList, S::FederationRead, None),
    route(Post, "/admin/federation/issuers", Op::IssuerCreate, S::FederationWrite, Some("issuer.create")),
    route(Get, "/admin/federation/issuers/{id}", Op::IssuerGet, S::FederationRead, None),
    route(Patch, "/admin/federation/issuers/{id}", Op::IssuerUpdate, S::FederationWrite, Some("issuer.update")),
    route(Delete, "/admin/federation/issuers/{id}", Op::IssuerDelete, S::FederationWrite, Some("issuer.delete")),
    route(Get, "/admin/resources", Op::ResourcesList, S::ResourcesRead, None),
    route(Post, "/admin/resources", Op::ResourceCreate, S::ResourcesWrite, Some("resource.create")),
    route(Get, "/admin/resources/{id}", Op::ResourceGet, S::ResourcesRead, None),
    route(Patch, "/admin/resources/{id}", Op::ResourceUpdate, S::ResourcesWrite, Some("resource.update")),
    route(Delete, "/admin/resources/{id}", Op::ResourceDelete, S::ResourcesWrite, Some("resource.delete")),
    route(Get, "/admin/audit", Op::AuditList, S::AuditRead, None),
    route(Get, "/admin/audit/auth-failures", Op::AuthFailures, S::AuditRead, None),
    route(Get, "/admin/keys", Op::KeysList, S::KeysRead, None),
    route(Post, "/admin/keys/rotate", Op::KeysRotate, S::KeysWrite, Some("keys.rotate")),
    route(Post, "/admin/tokens/revoke", Op::TokenRevoke, S::TokensRevoke, Some("token.revoke")),
    route(
        Post,
        "/admin/clients/{id}/tokens/revoke",
        Op::ClientTokensRevoke,
        S::TokensRevoke,
        Some("client.tokens.revoke"),
    ),
    route(
        Post,
        "/admin/projects/{id}/tokens/revoke",
        Op::ProjectTokensRevoke,
        S::TokensRevoke,
        Some("project.tokens.revoke"),
    ),
];

/// What the table says of a request.
pub(super) enum Found<'a> {
    /// This route, and the segment `{id}` matched, if its path has one.
    Route(&'static Route, Option<&'a str>),
    /// The path is routed, not for this method: these are (405 `Allow`).
    WrongMethod(String),
    /// No route has this path (404).
    Nothing,
}

/// `segments` against a route's path: the `{id}` segment's value if they match.
fn matches<'a>(path: &str, segments: &[&'a str]) -> Option<Option<&'a str>> {
    let pattern: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if pattern.len() != segments.len() {
        return None;
    }
    let mut id = None;
    for (p, s) in pattern.iter().zip(segments) {
        match *p {
            "{id}" => id = Some(*s),
            literal if literal == *s => {}
            _ => return None,
        }
    }
    Some(id)
}

/// The token of a method a route has, for `Allow`.
fn method_name(method: Method) -> &'static str {
    match method {
        Get => "GET",
        Post => "POST",
        Patch => "PATCH",
        Delete => "DELETE",
        Method::Head => "HEAD",
        Method::Put => "PUT",
        Method::Options => "OPTIONS",
        Method::Other => "",
    }
}

/// The route for `method` and the path `segments`.
pub(super) fn find<'a>(method: Method, segments: &[&'a str]) -> Found<'a> {
    let mut allowed: Vec<&str> = Vec::new();
    for route in &ROUTES {
        if let Some(id) = matches(route.path, segments) {
            if route.method == method {
                return Found::Route(route, id);
            }
            allowed.push(method_name(route.method));
        }
    }
    if allowed.is_empty() {
        Found::Nothing
    } else {
        Found::WrongMethod(allowed.join(", "))
    }
}

/// The scope a request needs: its route's; `None` for a path or method no
/// route has (answered 404 or 405 after authentication).
pub(super) fn required_scope(method: Method, segments: &[&str]) -> Option<AdminScope> {
    match find(method, segments) {
        Found::Route(route, _) => Some(route.scope),
        Found::WrongMethod(_) | Found::Nothing => None,
    }
}

/// Whether a change reaches token requests through the caches (the
/// `propagation` notice): a revocation does not; it is read from the
/// primary by the next request that checks it.
pub(super) fn propagates(method: Method, segments: &[&str]) -> bool {
    match find(method, segments) {
        Found::Route(route, _) => {
            !matches!(route.op, Op::TokenRevoke | Op::ClientTokensRevoke | Op::ProjectTokensRevoke)
        }
        Found::WrongMethod(_) | Found::Nothing => true,
    }
}

/// The audit action of a change, and its target when the path names it
/// (a key rotation's target is the signing key set).
pub(super) fn action<'a>(method: Method, segments: &[&'a str]) -> Option<(&'static str, Option<&'a str>)> {
    match find(method, segments) {
        Found::Route(route, id) => {
            let target = id.or((route.op == Op::KeysRotate).then_some("signing-keys"));
            route.action.map(|action| (action, target))
        }
        Found::WrongMethod(_) | Found::Nothing => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(method: Method, path: &str) -> Option<&'static str> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        required_scope(method, &segments).map(AdminScope::as_str)
    }

    #[test]
    fn every_route_needs_one_scope() {
        assert_eq!(scope(Get, "/admin/clients"), Some("clients:read"));
        assert_eq!(scope(Post, "/admin/clients"), Some("clients:write"));
        assert_eq!(scope(Delete, "/admin/clients/x"), Some("clients:write"));
        assert_eq!(scope(Post, "/admin/clients/x/secrets/rotate/complete"), Some("clients:rotate"));
        assert_eq!(scope(Get, "/admin/projects/x"), Some("projects:read"));
        assert_eq!(scope(Patch, "/admin/projects/x"), Some("projects:write"));
        assert_eq!(scope(Post, "/admin/resources"), Some("resources:write"));
        assert_eq!(scope(Post, "/admin/keys/rotate"), Some("keys:write"));
        assert_eq!(scope(Get, "/admin/audit"), Some("audit:read"));
        assert_eq!(scope(Get, "/admin/elsewhere"), None);
        assert_eq!(scope(Method::Put, "/admin/clients"), None, "no route: authentication only, then 405");
        for s in AdminScope::ALL {
            assert_eq!(AdminScope::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn a_path_routed_for_other_methods_lists_them() {
        let segments = ["admin", "clients", "x"];
        assert!(matches!(find(Method::Put, &segments), Found::WrongMethod(allow) if allow == "GET, PATCH, DELETE"));
        assert!(matches!(find(Get, &["admin", "nothing"]), Found::Nothing));
        assert_eq!(action(Post, &["admin", "keys", "rotate"]), Some(("keys.rotate", Some("signing-keys"))));
        assert_eq!(action(Get, &["admin", "clients"]), None, "reads are not audited");
    }
}
