//! What the core needs from the world, as traits, and the failures they
//! report. Adapters live elsewhere: the Worker's in `m2m-edge-worker`, the
//! host doubles in `m2m-edge-testkit` (docs/architecture.md, "Ports").

use std::cell::RefCell;
use std::fmt;

/// The wall clock.
pub trait Clock {
    /// Unix seconds.
    fn now(&self) -> i64;
}

/// The platform's random source failed; nothing was drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomError;

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the random source failed")
    }
}

impl std::error::Error for RandomError {}

/// Cryptographically secure random bytes.
pub trait Random {
    /// Fill `buf` entirely, or fail without handing out anything.
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError>;
}

/// Operator-facing log lines. Never given a secret, a key, or a token.
pub trait Logger {
    /// One line about something the operator must look at.
    fn error(&self, message: &str);
}

/// The platform CSPRNG: the OS on the host, `crypto.getRandomValues` in workerd.
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::getrandom(buf).map_err(|_| RandomError)
    }
}

/// The platform CSPRNG read in 1 KiB blocks: one `crypto.getRandomValues`
/// call per 64 sixteen-byte `jti`s instead of one per token. Every byte is
/// handed out once and the pool never leaves its isolate.
#[derive(Default)]
pub struct PooledRandom {
    pool: RefCell<(Vec<u8>, usize)>,
}

const POOL_BYTES: usize = 1024;

impl Random for PooledRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        if buf.len() > POOL_BYTES / 4 {
            return OsRandom.fill(buf);
        }
        let mut pool = self.pool.borrow_mut();
        let (bytes, used) = &mut *pool;
        if bytes.len() < POOL_BYTES || *used + buf.len() > POOL_BYTES {
            bytes.resize(POOL_BYTES, 0);
            OsRandom.fill(bytes)?;
            *used = 0;
        }
        buf.copy_from_slice(&bytes[*used..*used + buf.len()]);
        // Wipe what was handed out, so no byte is ever served twice.
        bytes[*used..*used + buf.len()].fill(0);
        *used += buf.len();
        Ok(())
    }
}

/// Distinct, predictable "random" bytes (1, 2, 3, …) for unit tests; the
/// same double for integration tests is in `m2m-edge-testkit`.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct CountingRandom(std::cell::Cell<u8>);

#[cfg(test)]
impl Random for CountingRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        for b in buf.iter_mut() {
            self.0.set(self.0.get().wrapping_add(1));
            *b = self.0.get();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_random_never_repeats_and_refills() {
        let r = PooledRandom::default();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let mut b = [0u8; 16];
            r.fill(&mut b).unwrap();
            assert!(seen.insert(b), "a 16-byte draw repeated");
        }
        let mut big = [0u8; 600];
        r.fill(&mut big).unwrap();
        assert!(big.iter().any(|b| *b != 0));
    }
}

/// A storage failure. The text goes to the log, never to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The backend is missing, unreachable or refused the operation.
    Backend(String),
    /// A stored record could not be read back (hand-edited, or a bug): it
    /// names the record and the field, never a stored value.
    Corrupt(String),
    /// The id (or, for resources, the identifier) is taken.
    Conflict,
    /// A list cursor this backend did not issue.
    BadCursor,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Backend(m) => write!(f, "storage backend error: {m}"),
            StoreError::Corrupt(m) => write!(f, "stored record unreadable: {m}"),
            StoreError::Conflict => f.write_str("record already exists"),
            StoreError::BadCursor => f.write_str("invalid list cursor"),
        }
    }
}

impl std::error::Error for StoreError {}

/// What a conditional write (compare-and-swap on a record's version) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Write {
    /// Written: the stored version was the expected one, and is now one more.
    Done,
    /// There is no such record.
    Missing,
    /// Another writer changed the record since it was read: nothing written.
    Stale,
}
