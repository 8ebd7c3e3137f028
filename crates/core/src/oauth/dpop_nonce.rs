//! Server-provided DPoP nonces at the token endpoint (RFC 9449 §8).
//!
//! A nonce bounds how long a proof can be made ahead of its use: with one
//! required, a proof signed by a stolen-for-a-moment key is good only while
//! the nonce it carries is (§11.2, "pre-generated proofs"). The nonces are
//! stateless — a time step and an HMAC of it under `DPOP_NONCE_SECRET` —
//! so that every isolate accepts what any other handed out without a
//! shared store on the token path (the design node-oidc-provider's
//! `features.dpop.nonceSecret` uses too).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How long one nonce is handed out, seconds. A nonce is accepted during
/// its step and the next, so for between one and two steps: long enough
/// for a client that fetched it to use it, short enough that a proof made
/// ahead of time goes stale within ten minutes.
pub const NONCE_STEP_SECS: i64 = 300;

/// The shortest `DPOP_NONCE_SECRET` accepted, characters: a random value
/// of at least 192 bits as base64 (`openssl rand -base64 32` gives 44).
pub const MIN_NONCE_SECRET_CHARS: usize = 32;

/// The step number's bytes, then the tag's: 24 bytes, 32 characters.
const STEP_BYTES: usize = 8;
const TAG_BYTES: usize = 16;

/// `DPOP_NONCE_SECRET`: the key nonces are made and checked with, keyed
/// once. Never printed; compared in constant time.
#[derive(Clone)]
pub struct NonceSecret {
    secret: Vec<u8>,
    keyed: Hmac<Sha256>,
}

impl PartialEq for NonceSecret {
    fn eq(&self, other: &NonceSecret) -> bool {
        self.secret.ct_eq(&other.secret).into()
    }
}

impl Eq for NonceSecret {}

impl std::fmt::Debug for NonceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceSecret(..)")
    }
}

impl NonceSecret {
    /// The secret, or `None` if it is shorter than
    /// [`MIN_NONCE_SECRET_CHARS`].
    pub fn new(secret: &str) -> Option<NonceSecret> {
        if secret.chars().count() < MIN_NONCE_SECRET_CHARS {
            return None;
        }
        // HMAC takes a key of any length (RFC 2104 §3): this never fails.
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).ok()?;
        Some(NonceSecret { secret: secret.as_bytes().to_vec(), keyed })
    }

    /// The nonce `issuer` hands out at `now` (Unix seconds): the same for
    /// every request of the step, in every isolate. Its characters are
    /// base64url, within §8.1's `NQCHAR`.
    pub fn current(&self, issuer: &str, now: i64) -> String {
        let step = step_of(now);
        let mut nonce = [0u8; STEP_BYTES + TAG_BYTES];
        nonce[..STEP_BYTES].copy_from_slice(&step.to_be_bytes());
        nonce[STEP_BYTES..].copy_from_slice(&self.mac(issuer, step).finalize().into_bytes()[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(nonce)
    }

    /// Whether `nonce` is one `issuer` made with this secret for the step
    /// of `now` or the one before — so two deployments that share a secret
    /// still take only their own. The tag is compared in constant time.
    pub fn accepts(&self, issuer: &str, nonce: &str, now: i64) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(nonce) else { return false };
        if bytes.len() != STEP_BYTES + TAG_BYTES {
            return false;
        }
        let (step, tag) = bytes.split_at(STEP_BYTES);
        let Ok(step) = <[u8; STEP_BYTES]>::try_from(step).map(u64::from_be_bytes) else { return false };
        let current = step_of(now);
        (step == current || Some(step) == current.checked_sub(1))
            && self.mac(issuer, step).verify_truncated_left(tag).is_ok()
    }

    fn mac(&self, issuer: &str, step: u64) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(b"m2m-edge DPoP nonce ");
        mac.update(&step.to_be_bytes());
        // Last, whole: nothing follows it to run into.
        mac.update(issuer.as_bytes());
        mac
    }
}

fn step_of(now: i64) -> u64 {
    u64::try_from(now.div_euclid(NONCE_STEP_SECS)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://auth.example.com";

    fn secret(s: &str) -> NonceSecret {
        NonceSecret::new(s).unwrap()
    }

    #[test]
    fn a_nonce_is_good_for_its_step_and_the_next_only() {
        let s = secret("a-secret-of-at-least-32-characters!!");
        let t = 1_800_000_000 - 1_800_000_000 % NONCE_STEP_SECS;
        let nonce = s.current(ISSUER, t);
        assert_eq!(nonce.len(), 32);
        assert_eq!(s.current(ISSUER, t + NONCE_STEP_SECS - 1), nonce, "one nonce per step");
        assert!(s.accepts(ISSUER, &nonce, t));
        assert!(s.accepts(ISSUER, &nonce, t + 2 * NONCE_STEP_SECS - 1));
        assert!(!s.accepts(ISSUER, &nonce, t + 2 * NONCE_STEP_SECS), "stale after the next step");
        assert!(!s.accepts(ISSUER, &nonce, t - 1), "not before its step");
        assert_ne!(s.current(ISSUER, t + NONCE_STEP_SECS), nonce);
    }

    #[test]
    fn only_this_secrets_nonces_are_accepted() {
        let (s, other) =
            (secret("a-secret-of-at-least-32-characters!!"), secret("another-secret-of-32-characters-or-more"));
        let t = 1_800_000_000;
        assert!(!s.accepts(ISSUER, &other.current(ISSUER, t), t));
        assert!(!s.accepts(ISSUER, &s.current("https://staging.example.com", t), t), "another deployment's");
        let mut forged = URL_SAFE_NO_PAD.decode(s.current(ISSUER, t)).unwrap();
        forged[STEP_BYTES] ^= 1;
        assert!(!s.accepts(ISSUER, &URL_SAFE_NO_PAD.encode(&forged), t));
        for junk in ["", "nonce", "!!!!", &"A".repeat(32), &s.current(ISSUER, t)[..31]] {
            assert!(!s.accepts(ISSUER, junk, t), "{junk:?}");
        }
    }

    #[test]
    fn a_short_secret_is_refused_and_none_is_printed() {
        assert!(NonceSecret::new("too short").is_none());
        assert_eq!(format!("{:?}", secret(&"x".repeat(32))), "NonceSecret(..)");
    }
}
