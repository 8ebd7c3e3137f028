//! m2m-edge: an OAuth 2.0 client-credentials authorization server that runs
//! as a Cloudflare Worker.
//!
//! The layering (see DESIGN.md) is visible in the module tree:
//!
//! - [`wasm`] — the Worker glue and the wasm-only adapters (D1, WebCrypto).
//!   It is the only code that knows the `worker` crate.
//! - [`app`] — routing and handlers: one function of (request, ports) → response.
//! - [`oauth`], [`jose`], [`client`] — the protocol core, no I/O.
//! - [`ports`], [`store`] — the traits the core needs and the host adapters.

pub mod app;
pub mod client;
pub mod config;
pub mod http;
pub mod ids;
pub mod jose;
pub mod keys;
pub mod oauth;
pub mod ports;
pub mod resource;
pub mod store;
pub mod time;

#[cfg(target_arch = "wasm32")]
mod wasm;
