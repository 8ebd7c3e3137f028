//! A registered client as stored, and how the admin API shows it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::secret::StoredSecret;
use crate::ids;
use crate::oauth::audience::Audience;
use crate::oauth::scope::Scope;
use crate::ports::{Random, RandomError};
use crate::time::rfc3339;

/// `m2m_` + 32 lowercase hex digits (128 random bits). Valid by construction,
/// so a malformed id never reaches storage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(String);

pub const CLIENT_ID_PREFIX: &str = "m2m_";

impl ClientId {
    pub fn generate(random: &dyn Random) -> Result<ClientId, RandomError> {
        ids::generate(CLIENT_ID_PREFIX, random).map(ClientId)
    }

    pub fn parse(s: &str) -> Option<ClientId> {
        ids::is_valid(CLIENT_ID_PREFIX, s).then(|| ClientId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Access to one API: the audience and the scopes the client may ask for there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub audience: Audience,
    pub scopes: Vec<Scope>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Inactive,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Inactive => "inactive",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "active" => Some(Status::Active),
            "inactive" => Some(Status::Inactive),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClientRecord {
    pub id: ClientId,
    pub name: String,
    pub description: Option<String>,
    pub grants: Vec<Grant>,
    /// Extra claims for every token of this client; never one of
    /// [`crate::oauth::claims::RESERVED_CLAIMS`] (checked on input, and again
    /// when a token is built).
    pub custom_claims: Map<String, Value>,
    /// Token lifetime in seconds; `None` means the server's `DEFAULT_TOKEN_TTL`.
    pub token_ttl: Option<u32>,
    pub status: Status,
    /// The secret that authenticates this client.
    pub secret: StoredSecret,
    /// During a rotation, the new secret, which authenticates too until the
    /// rotation is completed (it becomes `secret`) or cancelled (dropped).
    pub next_secret: Option<StoredSecret>,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

impl ClientRecord {
    /// The admin API's view: every field but the secret hashes.
    pub fn to_json(&self) -> Value {
        json!({
            "client_secret_last_four": self.secret.last_four,
            "next_client_secret_last_four": self.next_secret.as_ref().map(|s| s.last_four.as_str()),
            "secret_rotation_pending": self.next_secret.is_some(),
            "client_id": self.id.as_str(),
            "name": self.name,
            "description": self.description,
            "grants": self.grants,
            "custom_claims": self.custom_claims,
            "token_ttl": self.token_ttl,
            "status": self.status.as_str(),
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::tests::CountingRandom;

    #[test]
    fn client_id_format() {
        let id = ClientId::generate(&CountingRandom::default()).unwrap();
        assert_eq!(id.as_str().len(), 36);
        assert_eq!(ClientId::parse(id.as_str()), Some(id));
        for bad in
            ["", "m2m_", "m2m_XYZ", "abc_0123456789abcdef0123456789abcdef", "m2m_0123456789ABCDEF0123456789abcdef"]
        {
            assert_eq!(ClientId::parse(bad), None, "{bad}");
        }
    }
}
