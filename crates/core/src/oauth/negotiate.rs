//! Choosing the audience and scopes of a token from what the client holds
//! and what it asked for: least privilege per API (docs/architecture.md).

use super::OAuthError;
use crate::grant::scope::parse_request_scope;
use crate::grant::{Audience, Grant, Scope};

/// What the token will carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The token's `aud`.
    pub audience: Audience,
    /// The token's scopes: a subset of the grant's.
    pub scopes: Vec<Scope>,
}

/// `resource` (RFC 8707) and `audience` name the target; both may be given
/// only when they agree. Omitted, the client's only grant is used.
pub fn negotiate(
    grants: &[Grant],
    resource: &[String],
    audience: &[String],
    scope: Option<&str>,
) -> Result<Decision, OAuthError> {
    let requested = requested_target(resource, audience)?;
    let grant = match requested {
        Some(target) => {
            // RFC 8707 §2: "the value of the resource parameter MUST be an
            // absolute URI ... MUST NOT include a fragment".
            Audience::parse(target).map_err(|e| OAuthError::invalid_target(format!("the requested resource {e}")))?;
            grants.iter().find(|g| g.audience.as_str() == target).ok_or_else(|| {
                OAuthError::invalid_target("the client is not granted access to the requested resource")
            })?
        }
        None => match grants {
            [only] => only,
            [] => return Err(OAuthError::invalid_target("the client is not granted access to any resource")),
            _ => {
                return Err(OAuthError::invalid_target(
                    "the client holds several grants: name one with the `resource` or `audience` parameter",
                ))
            }
        },
    };

    let scopes = match scope {
        None => grant.scopes.clone(),
        Some(raw) => {
            let asked =
                parse_request_scope(raw).map_err(|e| OAuthError::invalid_scope(format!("malformed scope: {e}")))?;
            if asked.is_empty() {
                grant.scopes.clone()
            } else {
                if let Some(extra) = asked.iter().find(|s| !grant.scopes.contains(s)) {
                    return Err(OAuthError::invalid_scope(format!(
                        "scope `{}` is not granted to this client for this resource",
                        extra.as_str()
                    )));
                }
                // Keep the grant's order so equal requests give equal tokens.
                grant.scopes.iter().filter(|s| asked.contains(s)).cloned().collect()
            }
        }
    };
    Ok(Decision { audience: grant.audience.clone(), scopes })
}

/// The one target named by `resource` and/or `audience`, if any. This server
/// issues a token for one audience at a time; RFC 8707 §2 names
/// `invalid_target` for a set of resources it will not issue together.
fn requested_target<'a>(resource: &'a [String], audience: &'a [String]) -> Result<Option<&'a str>, OAuthError> {
    let mut target: Option<&str> = None;
    for value in resource.iter().chain(audience) {
        match target {
            None => target = Some(value),
            Some(t) if t == value => {}
            Some(_) => {
                return Err(OAuthError::invalid_target(
                    "a token is issued for one resource at a time; the request names several",
                ))
            }
        }
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorCode;

    fn grant(aud: &str, scopes: &[&str]) -> Grant {
        Grant {
            audience: Audience::parse(aud).unwrap(),
            scopes: scopes.iter().map(|s| Scope::parse(s).unwrap()).collect(),
        }
    }

    fn names(d: &Decision) -> Vec<&str> {
        d.scopes.iter().map(Scope::as_str).collect()
    }

    #[test]
    fn single_grant_is_default_with_all_scopes() {
        let g = [grant("https://a", &["r", "w"])];
        let d = negotiate(&g, &[], &[], None).unwrap();
        assert_eq!(d.audience.as_str(), "https://a");
        assert_eq!(names(&d), ["r", "w"]);
    }

    #[test]
    fn several_grants_need_a_target() {
        let g = [grant("https://a", &["r"]), grant("https://b", &["x"])];
        assert_eq!(negotiate(&g, &[], &[], None).unwrap_err().code, ErrorCode::InvalidTarget);
        let d = negotiate(&g, &["https://b".into()], &[], None).unwrap();
        assert_eq!(d.audience.as_str(), "https://b");
        let d = negotiate(&g, &[], &["https://a".into()], None).unwrap();
        assert_eq!(names(&d), ["r"]);
    }

    #[test]
    fn ungranted_or_malformed_target() {
        let g = [grant("https://a", &["r"])];
        for target in ["https://other", "not a uri", "https://a#frag"] {
            let e = negotiate(&g, &[target.into()], &[], None).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidTarget, "{target}");
        }
    }

    #[test]
    fn conflicting_targets() {
        let g = [grant("https://a", &["r"]), grant("https://b", &["r"])];
        let e = negotiate(&g, &["https://a".into()], &["https://b".into()], None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
        let e = negotiate(&g, &["https://a".into(), "https://b".into()], &[], None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
        // The same value twice is one target.
        assert!(negotiate(&g, &["https://a".into()], &["https://a".into()], None).is_ok());
    }

    #[test]
    fn scope_subset() {
        let g = [grant("https://a", &["r", "w", "d"])];
        let d = negotiate(&g, &[], &[], Some("d r")).unwrap();
        assert_eq!(names(&d), ["r", "d"]);
        let e = negotiate(&g, &[], &[], Some("r admin")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
        assert!(e.description.contains("admin"));
        let e = negotiate(&g, &[], &[], Some("r \"w\"")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
        let d = negotiate(&g, &[], &[], Some("   ")).unwrap();
        assert_eq!(names(&d), ["r", "w", "d"]);
    }

    #[test]
    fn scope_of_another_grant_is_not_granted() {
        let g = [grant("https://a", &["r"]), grant("https://b", &["w"])];
        let e = negotiate(&g, &["https://a".into()], &[], Some("w")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
    }
}
