//! The one rule for every change an admin token makes to a client: no
//! admin client obtains or hands out more than it holds, and a project's
//! admins stay inside what the project is entitled to.
//!
//! "Handing out" is anything that lets someone obtain a client's tokens or
//! widens what they carry (creating it, its grants, keys, federated
//! credentials, activation, a secret rotation, and re-pointing a trusted
//! issuer it relies on); "locking out" is deactivating or deleting it. Both
//! are refused on a client that holds more than the caller, and so, for
//! simplicity and because a rename can mislead an operator too, is every
//! other change: one question, asked the same way by every route.

use super::caller::{AdminScope, Caller};
use crate::config::Config;
use crate::federation::TrustedIssuer;
use crate::grant::{first_outside, Grant};
use crate::oauth::metadata::ADMIN_PATH;
use crate::project::ProjectId;

/// What a client holds, as the rule weighs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// Admin scopes under any audience that is, or could become, an admin
    /// audience: `<issuer>/admin` of this `ISSUER`, of every loopback
    /// origin, or of an `ISSUER` the operator may set later — so scopes
    /// planted under a future issuer's admin audience count today.
    admin: Vec<AdminScope>,
    /// Grants of every other audience (what a project's `allowed_grants`
    /// bound), each with its index in the client's `grants`.
    api: Vec<(usize, Grant)>,
}

impl Holding {
    /// What `grants` hold.
    pub fn of(grants: &[Grant], config: &Config) -> Holding {
        let mut admin: Vec<AdminScope> = grants
            .iter()
            .filter(|g| g.audience.as_str().trim_end_matches('/').ends_with(ADMIN_PATH))
            .flat_map(|g| g.scopes.iter().filter_map(|s| AdminScope::parse(s.as_str())))
            .collect();
        admin.sort_by_key(|s| s.as_str());
        admin.dedup();
        let api = grants
            .iter()
            .enumerate()
            .filter(|(_, g)| !config.is_admin_audience(g.audience.as_str()))
            .map(|(i, g)| (i, g.clone()))
            .collect();
        Holding { admin, api }
    }

    /// Whether this holds anything `before` did not: an admin scope, or an
    /// API audience or scope.
    pub fn widens(&self, before: &Holding) -> bool {
        let held: Vec<Grant> = before.api.iter().map(|(_, g)| g.clone()).collect();
        self.admin.iter().any(|s| !before.admin.contains(s))
            || first_outside(self.api.iter().map(|(i, g)| (*i, g)), &held).is_some()
    }
}

/// Where the client lives: its project and what the project allows its
/// admins to grant. A project whose record is missing allows nothing.
#[derive(Debug, Clone, Copy)]
pub struct Tenancy<'a> {
    /// The client's project.
    pub project: Option<&'a ProjectId>,
    /// The project's `allowed_grants`; `None` without a project.
    pub allowed: Option<&'a [Grant]>,
}

/// Why an admin client may not make a change to a client (403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overreach {
    /// The target is in another project than the caller's.
    OtherProject,
    /// The target holds, or would hold, an admin scope the caller does not.
    HoldsMore(AdminScope),
    /// `projects:*` is granted by the root key only.
    OverProjects,
    /// The target would hold an API grant outside its project's
    /// `allowed_grants`: the field and what is wrong.
    GrantsOutside(String, String),
    /// The target already holds an API grant outside its project's
    /// `allowed_grants` (the root key gave it): only the root key changes it.
    HoldsOutside(String),
    /// Changing how a trusted issuer's tokens are verified hands out every
    /// client that trusts it, which needs `clients:write`.
    NeedsClientsWrite,
    /// A trusted issuer's keys from another origin than its own.
    KeysElsewhere,
}

impl std::fmt::Display for Overreach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Overreach::OtherProject => f.write_str("a project's admin changes clients of its own project only"),
            Overreach::HoldsMore(scope) => write!(
                f,
                "the client holds or would hold the admin scope {}, which this caller does not: an admin client changes only clients that hold no more than it does",
                scope.as_str()
            ),
            Overreach::OverProjects => f.write_str("projects:* is granted by the root key only"),
            Overreach::GrantsOutside(field, why) => write!(f, "{field}: {why}"),
            Overreach::HoldsOutside(why) => write!(
                f,
                "the client holds a grant outside its project's allowed_grants ({why}): only the root key changes it"
            ),
            Overreach::NeedsClientsWrite => f.write_str(
                "changing how an issuer's tokens are verified hands out the clients that trust it: it needs clients:write and every scope they hold",
            ),
            Overreach::KeysElsewhere => f.write_str(
                "jwks_uri: an issuer's keys from another origin than the issuer's own are trusted by the root key only",
            ),
        }
    }
}

impl Caller {
    /// The rule: the target is in the caller's project (when the caller
    /// has one); the caller holds every admin scope the target holds
    /// `before` and would hold `after`, and adds no `projects:*`; and, for
    /// a client of a project, every API grant it holds before and after is
    /// within the project's `allowed_grants`. `before` is `None` for a
    /// client being created. The root key may do anything.
    pub fn may_hand_out(
        &self,
        tenancy: Tenancy<'_>,
        before: Option<&Holding>,
        after: &Holding,
    ) -> Result<(), Overreach> {
        let Caller::Client { project, scopes, .. } = self else { return Ok(()) };
        if project.is_some() && project.as_ref() != tenancy.project {
            return Err(Overreach::OtherProject);
        }
        let held_before = before.map_or(&[][..], |b| b.admin.as_slice());
        if let Some(&missing) = held_before.iter().chain(&after.admin).find(|s| !scopes.contains(s)) {
            return Err(Overreach::HoldsMore(missing));
        }
        if after.admin.iter().any(|s| s.over_projects() && !held_before.contains(s)) {
            return Err(Overreach::OverProjects);
        }
        if let Some(allowed) = tenancy.allowed {
            if let Some((_, why)) = before.and_then(|b| first_outside(b.api.iter().map(|(i, g)| (*i, g)), allowed)) {
                return Err(Overreach::HoldsOutside(why));
            }
            if let Some((field, why)) = first_outside(after.api.iter().map(|(i, g)| (*i, g)), allowed) {
                return Err(Overreach::GrantsOutside(field, why));
            }
        }
        Ok(())
    }

    /// Whether the caller may trust `issuer` with its keys where it says:
    /// an admin token only from within the issuer itself (its discovery
    /// document, or a `jwks_uri` under the issuer's URL), which only the
    /// issuer controls. Within, not merely at the same origin: issuers
    /// often live on shared hosts (a Kubernetes cluster's OIDC documents
    /// in a storage bucket, `https://storage.googleapis.com/<bucket>`),
    /// where anyone can publish beside them. A `jwks_uri` elsewhere decides
    /// whose signatures stand for every client that will ever trust the
    /// issuer — before any does, so no client's holdings can be weighed —
    /// and is the root key's decision.
    pub fn may_locate_keys(&self, issuer: &TrustedIssuer) -> Result<(), Overreach> {
        match (self, &issuer.jwks_uri) {
            (Caller::Root, _) | (_, None) => Ok(()),
            (_, Some(uri)) if is_within(uri, &issuer.issuer) => Ok(()),
            _ => Err(Overreach::KeysElsewhere),
        }
    }

    /// Whether the caller may change how a trusted issuer's tokens are
    /// verified, given the clients that trust it (each with its tenancy
    /// and holding): that is handing each of them out, so it needs
    /// `clients:write` and [`Caller::may_hand_out`] for every one.
    pub fn may_repoint_issuer<'a>(
        &self,
        trusting: impl IntoIterator<Item = (Tenancy<'a>, Holding)>,
    ) -> Result<(), Overreach> {
        let mut trusting = trusting.into_iter().peekable();
        if let Caller::Client { scopes, .. } = self {
            if trusting.peek().is_some() && !scopes.contains(&AdminScope::ClientsWrite) {
                return Err(Overreach::NeedsClientsWrite);
            }
        }
        trusting.try_for_each(|(tenancy, holding)| self.may_hand_out(tenancy, Some(&holding), &holding))
    }
}

/// Whether `url` lies under `base`: the same origin, and `base`'s path
/// (without a trailing `/`) followed by `/` begins `url`'s path. A path
/// with a `.` or `..` segment, plain or percent-encoded, is never within:
/// resolved (RFC 3986 §5.2.4), it could climb out of `base`.
fn is_within(url: &str, base: &str) -> bool {
    let path = |u: &str| {
        let rest = u.split_once("://").map_or("", |(_, rest)| rest);
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        rest.find('/').map_or(String::new(), |i| rest[i..].to_string())
    };
    let url_path = path(url);
    let dot_segment = url_path.split('/').any(|segment| {
        let segment = segment.to_ascii_lowercase().replace("%2e", ".");
        segment == "." || segment == ".."
    });
    let base_path = path(base);
    let base_path = base_path.trim_end_matches('/');
    origin(url).is_some()
        && origin(url) == origin(base)
        && !dot_segment
        && (base_path.is_empty() || url_path.starts_with(&format!("{base_path}/")))
}

/// `scheme://authority` of a URL, lower-cased (RFC 3986 §6.2.2.1: scheme
/// and host are case-insensitive).
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| format!("{scheme}://{authority}").to_ascii_lowercase())
}
