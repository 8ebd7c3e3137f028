//! The admin audience's scopes (`<issuer>/admin`): what each admin route
//! needs, and `tokens:introspect`, which the introspection endpoint asks of
//! its caller. Outside `admin` because the token service's own build, which
//! leaves the admin API to a Worker of its own, still checks that one.

/// The admin API's scopes: a fixed set, each route needing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminScope {
    /// Read projects.
    ProjectsRead,
    /// Create, change, delete projects.
    ProjectsWrite,
    /// Read clients.
    ClientsRead,
    /// Create, change, delete clients.
    ClientsWrite,
    /// Start, complete, cancel secret rotations.
    ClientsRotate,
    /// Read API resources.
    ResourcesRead,
    /// Create, change, delete API resources.
    ResourcesWrite,
    /// Read the signing keys' metadata.
    KeysRead,
    /// Rotate signing keys.
    KeysWrite,
    /// Read the audit trail.
    AuditRead,
    /// Read the trusted issuers.
    FederationRead,
    /// Trust, change, remove issuers.
    FederationWrite,
    /// Revoke tokens: one by its `jti`, or everything a client or project
    /// was issued until now.
    TokensRevoke,
    /// Not for the admin API: lets a client (a resource server) call the
    /// introspection endpoint (RFC 7662), for the tokens of its project.
    TokensIntrospect,
}

impl AdminScope {
    /// Every admin scope.
    pub const ALL: [AdminScope; 14] = [
        AdminScope::ProjectsRead,
        AdminScope::ProjectsWrite,
        AdminScope::ClientsRead,
        AdminScope::ClientsWrite,
        AdminScope::ClientsRotate,
        AdminScope::ResourcesRead,
        AdminScope::ResourcesWrite,
        AdminScope::KeysRead,
        AdminScope::KeysWrite,
        AdminScope::AuditRead,
        AdminScope::FederationRead,
        AdminScope::FederationWrite,
        AdminScope::TokensRevoke,
        AdminScope::TokensIntrospect,
    ];

    /// The scope as granted and carried in tokens.
    pub const fn as_str(self) -> &'static str {
        match self {
            AdminScope::ProjectsRead => "projects:read",
            AdminScope::ProjectsWrite => "projects:write",
            AdminScope::ClientsRead => "clients:read",
            AdminScope::ClientsWrite => "clients:write",
            AdminScope::ClientsRotate => "clients:rotate",
            AdminScope::ResourcesRead => "resources:read",
            AdminScope::ResourcesWrite => "resources:write",
            AdminScope::KeysRead => "keys:read",
            AdminScope::KeysWrite => "keys:write",
            AdminScope::AuditRead => "audit:read",
            AdminScope::FederationRead => "federation:read",
            AdminScope::FederationWrite => "federation:write",
            AdminScope::TokensRevoke => "tokens:revoke",
            AdminScope::TokensIntrospect => "tokens:introspect",
        }
    }

    /// The scope named `s`, if it is an admin scope.
    pub fn parse(s: &str) -> Option<AdminScope> {
        AdminScope::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Scopes over deployment-wide things (projects themselves, API
    /// resources, keys): never for a project's admin.
    pub fn deployment_wide(self) -> bool {
        matches!(
            self,
            AdminScope::ProjectsWrite
                | AdminScope::ResourcesWrite
                | AdminScope::KeysRead
                | AdminScope::KeysWrite
                | AdminScope::FederationWrite
        )
    }

    /// `projects:*`: never handed out by an admin client.
    pub fn over_projects(self) -> bool {
        matches!(self, AdminScope::ProjectsRead | AdminScope::ProjectsWrite)
    }
}
