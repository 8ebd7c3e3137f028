//! DPoP proofs (RFC 9449) presented to this deployment: at the token
//! endpoint, binding the token it issues to the proof's key (§5, §6.1);
//! and with a bound token at the RPC verifier (§7.1). The proof's form is
//! the verifier crate's one rule ([`m2m_edge_verify::dpop`]); its signature
//! goes through the `KeyCrypto` port; its `jti` is spent in the
//! `ReplayStore`, which every isolate shares, so a proof is used once
//! anywhere (§11.1).

use m2m_edge_verify::dpop::{self, Proof, Target};
use m2m_edge_verify::Rejection;

use super::own_token::{Unaccepted, LEEWAY_SECS};
use super::{Ports, Runtime};
use crate::assertion::{replay_key, ReplayStore};

/// The proof `proof` for `target`, with the access token it came with, if
/// any (its `ath`): every check but the signature, which stores and
/// imports nothing — so a request is refused for a malformed or
/// misdirected proof before anything is spent on it.
pub(super) fn parse<'a, R: Runtime>(
    proof: &'a str,
    target: &Target<'_>,
    access_token: Option<&str>,
    p: &Ports<'_, R>,
) -> Result<Proof<'a>, Rejection> {
    dpop::parse(proof, target, p.clock.now(), LEEWAY_SECS, access_token)
}

/// The proof's signature, by the key in its header. Checked only once the
/// request is otherwise authorized (the client authenticated; the token
/// checked), since the key is the request's own and the Worker imports it.
pub(super) async fn signed<R: Runtime>(proof: &Proof<'_>, p: &Ports<'_, R>) -> Result<(), Rejection> {
    match super::signature::verifies(p.crypto, &proof.key, &proof.jws).await {
        true => Ok(()),
        false => Err(Rejection::Proof("bad signature")),
    }
}

/// Use `proof` up: refused if any isolate took it before (within its
/// window, after which it is refused for its age anyway).
pub(super) async fn spend<R: Runtime>(proof: &Proof<'_>, p: &Ports<'_, R>) -> Result<(), Unaccepted> {
    // "dpop:" and a thumbprint: never a client id (no ':') nor an issuer URL.
    let key = replay_key(&format!("dpop:{}", proof.jkt), &proof.jti);
    match p.store.first_use(&key, proof.usable_until(LEEWAY_SECS)).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Unaccepted::Token(Rejection::Proof("the proof was used before"))),
        Err(e) => Err(Unaccepted::Server(e.to_string())),
    }
}
