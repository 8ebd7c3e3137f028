//! What a client may be given: [`Audience`]s (the APIs a token is for),
//! [`Scope`]s (what it may do there) and the [`Grant`] that pairs them. The
//! registry stores grants; the token endpoint negotiates against them.

pub mod audience;
pub mod scope;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::validate::FieldError;

pub use audience::{Audience, AudienceError};
pub use scope::{Scope, ScopeError};

/// Access to one API: the audience and the scopes the client may ask for there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The token's `aud` for this API.
    pub audience: Audience,
    /// The scopes the client may request for it.
    pub scopes: Vec<Scope>,
}

/// The string newtype's shared half: `as_str`, and the serde conversions
/// through `parse`, so a stored or deserialized value is checked like an
/// input one.
macro_rules! checked_string {
    ($name:ident, $error:ident) => {
        impl $name {
            /// The value as sent and stored.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;
            fn try_from(s: String) -> Result<$name, $error> {
                $name::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}
pub(crate) use checked_string;

/// Most grants in one list.
const MAX_GRANTS: usize = 50;
/// Most scopes in one grant.
const MAX_SCOPES_PER_GRANT: usize = 100;

/// A list of grants as the admin API takes it (`grants` of a client,
/// `allowed_grants` of a project), in `field`, with at least `min` grants:
/// every audience an absolute URI named once, every scope valid and named
/// once per grant; errors name the JSON path.
pub fn parse_list(field: &str, v: &Value, min: usize) -> Result<Vec<Grant>, FieldError> {
    let items = v.as_array().ok_or_else(|| FieldError::new(field, "must be an array of {audience, scopes}"))?;
    if items.len() < min {
        return Err(FieldError::new(field, "must contain at least one grant"));
    }
    if items.len() > MAX_GRANTS {
        return Err(FieldError::new(field, "must contain at most 50 grants"));
    }
    let mut out: Vec<Grant> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("{field}[{i}]");
        let Value::Object(g) = item else {
            return Err(FieldError::new(field, "must be an object {audience, scopes}"));
        };
        if let Some(unknown) = g.keys().find(|k| *k != "audience" && *k != "scopes") {
            return Err(FieldError::new(format!("{field}.{unknown}"), "unknown field; expected audience, scopes"));
        }
        let aud_field = format!("{field}.audience");
        let audience = g
            .get("audience")
            .and_then(Value::as_str)
            .ok_or_else(|| FieldError::new(aud_field.as_str(), "is required and must be a string"))?;
        let audience = Audience::parse(audience).map_err(|e| FieldError::new(aud_field.as_str(), e.to_string()))?;
        if out.iter().any(|o| o.audience == audience) {
            return Err(FieldError::new(aud_field, "names the same audience as an earlier grant"));
        }
        let scopes_field = format!("{field}.scopes");
        let raw_scopes = g
            .get("scopes")
            .and_then(Value::as_array)
            .ok_or_else(|| FieldError::new(scopes_field.as_str(), "is required and must be an array of strings"))?;
        if raw_scopes.len() > MAX_SCOPES_PER_GRANT {
            return Err(FieldError::new(scopes_field, "must contain at most 100 scopes"));
        }
        let mut scopes: Vec<Scope> = Vec::with_capacity(raw_scopes.len());
        for (j, s) in raw_scopes.iter().enumerate() {
            let f = format!("{scopes_field}[{j}]");
            let s = s.as_str().ok_or_else(|| FieldError::new(f.as_str(), "must be a string"))?;
            let scope = Scope::parse(s).map_err(|e| FieldError::new(f.as_str(), e.to_string()))?;
            if scopes.contains(&scope) {
                return Err(FieldError::new(f, format!("repeats scope `{s}`")));
            }
            scopes.push(scope);
        }
        out.push(Grant { audience, scopes });
    }
    Ok(out)
}

/// The first of `grants` (each with its index in the list it came from)
/// that `allowed` does not cover — an audience it does not list, or a
/// scope it does not list for that audience — as the field path in
/// `grants` and a message; `None` when all are covered.
pub fn first_outside<'a>(
    grants: impl IntoIterator<Item = (usize, &'a Grant)>,
    allowed: &[Grant],
) -> Option<(String, String)> {
    for (i, grant) in grants {
        let Some(within) = allowed.iter().find(|a| a.audience == grant.audience) else {
            return Some((
                format!("grants[{i}].audience"),
                format!("`{}` is not among the project's allowed_grants", grant.audience.as_str()),
            ));
        };
        if let Some((j, scope)) = grant.scopes.iter().enumerate().find(|(_, s)| !within.scopes.contains(s)) {
            return Some((
                format!("grants[{i}].scopes[{j}]"),
                format!(
                    "`{}` is not among the project's allowed_grants for `{}`",
                    scope.as_str(),
                    grant.audience.as_str()
                ),
            ));
        }
    }
    None
}
