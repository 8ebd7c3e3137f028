//! A registered client as stored.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::secret::StoredSecret;
use crate::grant::Grant;
use crate::project::ProjectId;

crate::ids::prefixed_id!(
    /// A client's id: `m2m_` + 32 lowercase hex digits (128 random bits),
    /// or one the creator chose ([`crate::ids::is_valid_chosen`]).
    ClientId,
    "m2m_",
    chosen
);

crate::ids::prefixed_id!(
    /// One incarnation of a client id: `inc_` + 32 hex digits drawn when
    /// the client is created. Its tokens carry it (`client_incarnation`), so
    /// a client deleted and created again under the same id — or an
    /// isolate still holding the old record — never makes an old token
    /// pass as the new client's, and a conditional write never lands on a
    /// record of another incarnation.
    Incarnation,
    "inc_"
);

/// Whether a client may get tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Authenticates and gets tokens.
    Active,
    /// Refused at the token endpoint as an unknown client would be.
    Inactive,
}

impl Status {
    /// The value as sent and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Inactive => "inactive",
        }
    }

    /// `active` or `inactive`.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "active" => Some(Status::Active),
            "inactive" => Some(Status::Inactive),
            _ => None,
        }
    }
}

/// A registered client as stored (secrets as hashes only).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRecord {
    /// Its id.
    pub id: ClientId,
    /// The project it belongs to, for good: its tokens carry it as
    /// `project_id`.
    pub project_id: Option<ProjectId>,
    /// Its display name.
    pub name: String,
    /// Free text for operators.
    pub description: Option<String>,
    /// The APIs and scopes it may ask for.
    pub grants: Vec<Grant>,
    /// Extra claims for every token of this client; never one of
    /// [`crate::oauth::claims::RESERVED_CLAIMS`] (checked on input, and again
    /// when a token is built).
    pub custom_claims: Map<String, Value>,
    /// Token lifetime in seconds; `None` means the server's `DEFAULT_TOKEN_TTL`.
    pub token_ttl: Option<u32>,
    /// RFC 9449 §5.2: every token request of this client must carry a DPoP
    /// proof, so that each of its tokens is bound to its key.
    pub dpop_bound_access_tokens: bool,
    /// Whether it may get tokens.
    pub status: Status,
    /// The secret that authenticates this client.
    pub secret: StoredSecret,
    /// During a rotation, the new secret, which authenticates too until the
    /// rotation is completed (it becomes `secret`) or cancelled (dropped).
    pub next_secret: Option<StoredSecret>,
    /// `private_key_jwt` (RFC 7523 §2.2): the client authenticates with
    /// assertions these keys verify, and with nothing else — its `secret`
    /// is then [`super::SecretHash::UNMATCHABLE`] and never shown, and it
    /// has no `next_secret`. `None`: it authenticates with its secret.
    pub keys: Option<super::ClientKeys>,
    /// The platform tokens that stand for this client (workload identity
    /// federation); empty for most clients.
    pub federated_credentials: Vec<super::federated::FederatedCredential>,
    /// This incarnation of the id; `None` only for a client created before
    /// incarnations existed (its tokens carry none).
    pub incarnation: Option<Incarnation>,
    /// Unix seconds.
    pub created_at: i64,
    /// When it last changed (Unix seconds).
    pub updated_at: i64,
    /// How many times it was written: 1 when created, one more on every
    /// update. A write lands only if the stored version is still the one
    /// it read (compare-and-swap), so no edit can undo another it never saw.
    pub version: i64,
}
