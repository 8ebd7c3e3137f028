//! What a client may be given: [`Audience`]s (the APIs a token is for),
//! [`Scope`]s (what it may do there) and the [`Grant`] that pairs them. The
//! registry stores grants; the token endpoint negotiates against them.

pub mod audience;
pub mod scope;

use serde::{Deserialize, Serialize};

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
