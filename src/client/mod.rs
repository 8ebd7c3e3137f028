//! The client registry's model: ids, secrets, records, and the validation of
//! what the admin API is sent.

pub mod input;
pub mod record;
pub mod secret;

pub use record::{ClientId, ClientRecord, Grant, Status};
pub use secret::{ClientSecret, SecretHash, StoredSecret};
