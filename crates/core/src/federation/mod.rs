//! Workload identity federation: tokens for a client in exchange for a
//! platform's own signed identity token (GitHub Actions, Kubernetes, any
//! OIDC issuer), so the workload holds no secret at all.
//!
//! - [`issuer`]: the **trusted issuers** an operator registers — the exact
//!   `iss`, where its keys are, the audiences its tokens must carry for
//!   this deployment, its one algorithm, the oldest token accepted.
//! - a client's **federated credentials** (Azure's shape; they belong to
//!   the client: `client::federated`): an issuer and an exact `sub`, or
//!   exact values of named claims (GitHub's `repository`, `ref`, …;
//!   Kubernetes' namespace and service account), each named.
//! - [`keys`]: the issuers' keys, fetched and cached per isolate by the
//!   verifier crate's cache policy.
//! - [`platform`]: the rules a platform's token must pass once its
//!   signature verified, and which credential it matches (pure); the token
//!   path that drives them is `app::federation`.

pub mod issuer;
pub mod keys;
pub mod platform;

pub use crate::client::federated::FederatedCredential;
pub use issuer::{IssuerId, TrustedIssuer};

use serde::{Deserialize, Serialize};

use crate::client::ClientId;
use crate::ports::StoreError;

/// The trusted issuers, kept as one versioned set: there are few, the
/// token path reads them all at once, and a change is a compare-and-swap
/// of the whole set (as the managed signing keys are).
#[allow(async_fn_in_trait)] // single-threaded (wasm32): no Send bound wanted
pub trait IssuerStore {
    /// The set and its version (0 when none was ever written), as the
    /// token path may read it: up to `CLIENT_CACHE_TTL` old in an isolate,
    /// from a read replica.
    async fn load_issuers(&self) -> Result<(i64, Vec<TrustedIssuer>), StoreError>;
    /// The set as storage has it now, past any cache or replica: what an
    /// admin change starts from.
    /// No default, for the reason `ClientStore::get_fresh` has none.
    async fn load_issuers_fresh(&self) -> Result<(i64, Vec<TrustedIssuer>), StoreError>;
    /// Replace the set if it is still at `expected`; `false` if someone
    /// wrote in between.
    async fn save_issuers(&self, expected: i64, issuers: &[TrustedIssuer]) -> Result<bool, StoreError>;
}

/// Failed federated token requests, per client and credential: what an
/// operator looks at when a workload cannot get tokens. Stored as it is
/// (memory) or as a row (D1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialFailures {
    /// The federated credential's name.
    pub credential: String,
    /// Failures so far.
    pub count: u64,
    /// Why the last one failed.
    pub last_reason: String,
    /// When, Unix seconds.
    pub last_at: i64,
}

impl CredentialFailures {
    /// Count one failure of `credential` in `list`, a client's counts.
    pub fn record(list: &mut Vec<CredentialFailures>, credential: &str, reason: &str, at: i64) {
        match list.iter_mut().find(|f| f.credential == credential) {
            Some(f) => {
                f.count += 1;
                f.last_reason = reason.to_string();
                f.last_at = at;
            }
            None => list.push(CredentialFailures {
                credential: credential.to_string(),
                count: 1,
                last_reason: reason.to_string(),
                last_at: at,
            }),
        }
    }
}

/// Where [`CredentialFailures`] are counted.
#[allow(async_fn_in_trait)] // single-threaded (wasm32): no Send bound wanted
pub trait FederationFailureStore {
    /// Count one failure of the credential `name` of `client`, for `reason`.
    async fn record_failure(&self, client: &ClientId, name: &str, reason: &str, at: i64) -> Result<(), StoreError>;
    /// The failures of `client`'s credentials.
    async fn failures(&self, client: &ClientId) -> Result<Vec<CredentialFailures>, StoreError>;
}
