//! A Worker binding looked up on first use: requests that never touch
//! storage (the JWKS, a token for a client in the isolate cache) skip the
//! lookup.

use std::cell::OnceCell;

use worker::Env;

use m2m_edge_core::ports::StoreError;

/// The binding `name` of `env`, resolved by `lookup` when first needed.
pub struct Binding<T> {
    env: Env,
    name: &'static str,
    lookup: fn(&Env, &str) -> worker::Result<T>,
    value: OnceCell<Option<T>>,
}

impl<T> Binding<T> {
    /// A binding not looked up yet.
    pub fn new(env: Env, name: &'static str, lookup: fn(&Env, &str) -> worker::Result<T>) -> Binding<T> {
        Binding { env, name, lookup, value: OnceCell::new() }
    }

    /// The bound value; a missing binding is a storage error that names it
    /// (the request answers `server_error`, the log says why).
    pub fn get(&self) -> Result<&T, StoreError> {
        self.value
            .get_or_init(|| (self.lookup)(&self.env, self.name).ok())
            .as_ref()
            .ok_or_else(|| StoreError::Backend(format!("the binding `{}` is missing (wrangler.toml)", self.name)))
    }
}
