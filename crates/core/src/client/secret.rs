//! Client secrets: 256 random bits behind a fixed prefix, stored only as
//! SHA-256 (a high-entropy secret needs only an approved one-way
//! hash, NIST SP 800-63B §5.1.1.2), compared in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ports::{Random, RandomError};

/// Recognisable prefix, so secret scanners (GitHub push protection, trufflehog)
/// can be taught to find a leaked secret: `m2msk_` + 43 base64url characters.
pub use crate::ids::SECRET_PREFIX;

/// A freshly generated secret: shown once, in the create response, then dropped.
/// Deliberately not `Debug` or `Display`.
pub struct ClientSecret(String);

impl ClientSecret {
    /// A fresh secret from 256 random bits.
    pub fn generate(random: &dyn Random) -> Result<ClientSecret, RandomError> {
        let mut bytes = [0u8; 32];
        random.fill(&mut bytes)?;
        Ok(ClientSecret(format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))))
    }

    /// The secret itself, for the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its SHA-256, as stored.
    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }

    /// What is kept of this secret: its hash and its last four characters.
    pub fn stored(&self) -> StoredSecret {
        let tail_start = self.0.len().saturating_sub(4);
        StoredSecret { hash: self.hash(), last_four: self.0[tail_start..].to_string() }
    }
}

/// A secret as stored: the hash to check it against, and the last four
/// characters so an operator can tell which secret a deployment uses
/// (never more: four base64url characters leave 232 of its 256 bits unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecret {
    /// The SHA-256 of the secret.
    pub hash: SecretHash,
    /// The secret's last four characters.
    pub last_four: String,
}

impl StoredSecret {
    /// What a client without a secret (`private_key_jwt`) stores: a hash
    /// no secret has, so no secret ever authenticates it.
    pub fn none() -> StoredSecret {
        StoredSecret { hash: SecretHash::UNMATCHABLE, last_four: String::new() }
    }
}

/// Whether `presented` is the current secret or, during a rotation, the next
/// one. Both comparisons always run and are combined without branching, so
/// the time taken says nothing about which one matched, or whether a
/// rotation is pending.
pub fn verify_any(current: &SecretHash, next: Option<&SecretHash>, presented: &str) -> bool {
    let candidate = SecretHash::of(presented);
    let matches_current = current.0.ct_eq(&candidate.0);
    let matches_next =
        next.unwrap_or(&SecretHash::UNMATCHABLE).0.ct_eq(&candidate.0) & subtle::Choice::from(u8::from(next.is_some()));
    bool::from(matches_current | matches_next)
}

/// SHA-256 of a secret: the only form in which a secret is stored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretHash([u8; 32]);

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

impl SecretHash {
    /// The all-zero hash: no secret has it (finding a SHA-256 preimage of it
    /// is infeasible). Compared against when there is nothing real to compare,
    /// so that the work done does not depend on what exists.
    pub const UNMATCHABLE: SecretHash = SecretHash([0u8; 32]);

    /// The SHA-256 of `secret`.
    pub fn of(secret: &str) -> SecretHash {
        SecretHash(Sha256::digest(secret.as_bytes()).into())
    }

    /// Constant-time comparison of a presented secret against this hash.
    /// Hashing first also makes the time independent of the secret's length.
    pub fn verify(&self, presented: &str) -> bool {
        let candidate = SecretHash::of(presented);
        bool::from(self.0.ct_eq(&candidate.0))
    }

    /// Lower-case hex, as stored.
    pub fn to_hex(self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// From stored hex; `None` unless 64 hex digits.
    pub fn from_hex(s: &str) -> Option<SecretHash> {
        if s.len() != 64 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(SecretHash(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::CountingRandom;

    #[test]
    fn format_and_entropy() {
        let r = CountingRandom::default();
        let a = ClientSecret::generate(&r).unwrap();
        let b = ClientSecret::generate(&r).unwrap();
        assert!(a.expose().starts_with(SECRET_PREFIX));
        assert_eq!(a.expose().len(), SECRET_PREFIX.len() + 43);
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn stored_keeps_hash_and_last_four_only() {
        let secret = ClientSecret::generate(&CountingRandom::default()).unwrap();
        let stored = secret.stored();
        assert!(stored.hash.verify(secret.expose()));
        assert_eq!(stored.last_four.len(), 4);
        assert!(secret.expose().ends_with(&stored.last_four));
    }

    #[test]
    fn verify_any_accepts_either_secret_during_rotation() {
        let old = SecretHash::of("m2msk_old");
        let new = SecretHash::of("m2msk_new");
        assert!(verify_any(&old, None, "m2msk_old"));
        assert!(!verify_any(&old, None, "m2msk_new"));
        assert!(verify_any(&old, Some(&new), "m2msk_old"));
        assert!(verify_any(&old, Some(&new), "m2msk_new"));
        assert!(!verify_any(&old, Some(&new), "m2msk_other"));
    }

    #[test]
    fn verify_and_hex_round_trip() {
        let h = SecretHash::of("m2msk_abc");
        assert!(h.verify("m2msk_abc"));
        assert!(!h.verify("m2msk_abd"));
        assert!(!h.verify(""));
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(SecretHash::of("abc").to_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(SecretHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(SecretHash::from_hex("zz"), None);
        assert_eq!(format!("{h:?}"), "SecretHash(..)");
    }
}
