//! One authentication attempt of a client, whatever the credential: the
//! same lockout before it, the same log line and failure count after a
//! [`Refusal`], and the same answer for the caller — the grant's error
//! code and nothing of why (RFC 6749 §5.2), 429 when locked out (RFC 6585
//! §4), 500 when storage failed. Every authentication path runs through
//! [`attempt`], so none can forget the count or say too much.

use std::future::Future;

use super::{Ports, Runtime};
use crate::client::ClientId;
use crate::oauth::OAuthError;
use crate::refusal::Refusal;

/// Run `check` for client `id` from `address` with `method` (for the log):
/// not at all while that pair is locked out; a refusal that counts is
/// logged and counted against the client's failure limit, and the one that
/// goes over the limit becomes [`Refusal::Locked`].
pub(super) async fn attempt<T, R: Runtime, F: Future<Output = Result<T, Refusal>>>(
    method: &str,
    id: &ClientId,
    address: Option<&str>,
    p: &Ports<'_, R>,
    check: impl FnOnce() -> F,
) -> Result<T, Refusal> {
    let now = p.clock.now();
    if p.limits.locked(id.as_str(), address, now) {
        return Err(Refusal::Locked);
    }
    let refusal = match check().await {
        Ok(value) => return Ok(value),
        Err(refusal) => refusal,
    };
    if !refusal.counts() {
        return Err(refusal);
    }
    // The rule it broke, for the client's operator (a misconfigured key,
    // clock or credential shows here); never the credential itself.
    p.log.error(&format!("{method} refused for client {}: {refusal}", id.as_str()));
    match p.limits.failed(id.as_str(), address, now, p.log).await {
        Ok(()) => Err(refusal),
        Err(_) => Err(Refusal::Locked),
    }
}

/// What the caller hears of `refusal`: `denied` (the grant's error code),
/// unless the client is locked out or storage failed.
pub(super) fn answer(refusal: Refusal, denied: impl FnOnce() -> OAuthError) -> OAuthError {
    match refusal {
        Refusal::Locked => OAuthError::too_many_requests(),
        Refusal::Storage(e) => OAuthError::server(e.to_string()),
        _ => denied(),
    }
}
