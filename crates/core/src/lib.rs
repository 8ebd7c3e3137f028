//! m2m-edge's OAuth 2.0 client-credentials authorization server as plain
//! Rust: no runtime types, no I/O of its own. The Worker
//! (`m2m-edge-worker`) supplies the ports and serves it; the host tests
//! (`m2m-edge-testkit`) supply in-memory ones and run whole flows.
//!
//! Modules, lowest first; each uses only those above it in this list
//! (`tests/architecture.rs` checks that no two modules depend on each other):
//!
//! - [`ports`], [`http`], [`ids`], [`time`] — what the core needs from the
//!   world, and plain request/response types.
//! - [`refusal`] — why a credential did not authenticate its client: the
//!   one "why not" of every authentication path.
//! - [`grant`], [`validate`] — audiences, scopes, grants; admin input checks.
//! - [`jose`] — JWK sets, compact JWS, the issuing key.
//! - [`oauth`] — the token protocol: parameters, client authentication,
//!   negotiation, claims, errors, metadata.
//! - [`project`], [`client`], [`resource`] — the registry model and its storage ports.
//! - [`keys`] — key rotation policy, sealing, the managed key set, the
//!   per-isolate key cache.
//! - [`audit`] — the audit trail's events and its storage port.
//! - [`revocation`] — tokens revoked by `jti`, not-before times per client
//!   and project, and their storage port.
//! - [`store`] — the whole store, its rows and the isolate read cache.
//! - [`limits`] — rate limits per source address and failed authentications per client.
//! - [`config`] — settings from vars and secrets.
//! - [`app`] — routing and handlers: (request, ports) → (response, effects).
//!
//! # Example
//!
//! One token request through the app, with the host doubles of
//! `m2m-edge-testkit` standing in for the Worker's ports:
//!
//! ```
//! use m2m_edge_testkit::World;
//! use serde_json::json;
//!
//! let world = World::new();
//! let (id, secret) = world.create(json!({
//!     "name": "billing-sync",
//!     "grants": [{"audience": "https://api.example.com", "scopes": ["invoices:read"]}],
//! }));
//! let response = world.token_basic(&id, &secret, "grant_type=client_credentials");
//! assert_eq!(response.status, 200);
//! let (_header, claims) = world.verify(response.body_json()["access_token"].as_str().unwrap());
//! assert_eq!(claims["aud"], "https://api.example.com");
//! assert_eq!(claims["scope"], "invoices:read");
//! ```

#![warn(missing_docs)]

pub mod app;
pub mod assertion;
pub mod audit;
pub mod client;
pub mod config;
pub mod federation;
mod future;
pub mod grant;
pub mod http;
pub mod ids;
pub mod jose;
pub mod keys;
pub mod limits;
pub mod oauth;
pub mod ports;
pub mod project;
pub mod refusal;
pub mod resource;
pub mod revocation;
pub mod store;
pub mod time;
pub mod validate;
