//! Host doubles for `m2m-edge-core`: what the Worker provides in workerd,
//! provided on the host so whole flows run under `cargo test`. A
//! dev-dependency only; nothing here ships in the Worker.
//!
//! - [`MemoryStore`]: the storage contract in memory (rows, as D1 and KV keep them).
//! - [`FixedClock`], [`MemoryLogger`], [`CountingRandom`]: ports that say what the test tells them.
//! - [`P256Signer`], [`HostCrypto`]: ES256 signing and AES-256-GCM sealing with RustCrypto.
//! - [`World`]: one deployment and one isolate, served as the Worker serves it;
//!   [`Req`] builds its requests.
//!
//! # Example
//!
//! ```
//! use m2m_edge_testkit::{Req, World};
//! use serde_json::json;
//!
//! let world = World::new();
//! let (id, secret) = world.create(json!({
//!     "name": "nightly-export",
//!     "grants": [{"audience": "https://api.example.com", "scopes": ["export"]}],
//! }));
//! let response = world.call(Req::token().basic(&id, &secret).form("grant_type=client_credentials"));
//! assert_eq!(response.status, 200);
//! let (header, claims) = world.verify(response.body_json()["access_token"].as_str().unwrap());
//! assert_eq!(header["typ"], "at+jwt");
//! assert_eq!(claims["client_id"], id.as_str());
//! ```

#![warn(missing_docs)]

mod crypto;
mod doubles;
mod memory;
mod world;

pub use crypto::{ClientKeyPair, HostCrypto, IssuerKeyPair, P256Import, P256Signer};
pub use doubles::{CountingRandom, FixedClock, MapFetcher, MemoryLimiter, MemoryLogger};
pub use memory::MemoryStore;
pub use world::{error_of, Host, Req, World, A3, ADMIN_KEY, NOW, ORIGIN};
