//! Futures kept out of their callers' code.

use std::future::Future;
use std::pin::Pin;

/// A future behind a pointer, polled through its vtable: its state machine
/// stays a function of its own instead of being merged into its caller's.
/// A fresh Worker isolate compiles each wasm function whole when it is
/// first called (V8's lazy compilation), and with every route merged the
/// router's poll was one 157 KB function that every isolate's first request
/// compiled — about 24 ms, most of a cold token (docs/architecture.md,
/// "Performance decisions"). So each route is apart, and so is each path a
/// request takes only sometimes (a grant, a way to authenticate, a DPoP
/// proof, loading signing keys): a first token with a secret compiles none
/// of the others. One allocation per such path a request takes buys it.
pub(crate) fn apart<'a, T>(route: impl Future<Output = T> + 'a) -> Pin<Box<dyn Future<Output = T> + 'a>> {
    Box::pin(route)
}
