//! Managed signing keys (KEY_MODE = "managed"): the worker owns its ES256
//! keys, keeps them encrypted at rest, and rotates them on a schedule with
//! pre-publication and retirement overlap (the model: Auth0, Keycloak).
//!
//! - [`rotation`]: the states and the one pure function that moves them.
//! - [`sealed`]: AES-256-GCM sealing of private keys under KEY_ENCRYPTION_KEY.
//! - [`manager`]: loading, bootstrapping and saving a key set through the
//!   ports; what the cron, the admin API and the token path call.

pub mod manager;
pub mod rotation;
pub mod sealed;

pub use rotation::{KeyState, ManagedKey, Policy};
