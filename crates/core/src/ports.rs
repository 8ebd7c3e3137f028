//! What the core needs from the world, as traits, and the failures they
//! report. Adapters live elsewhere: the Worker's in `m2m-edge-worker`, the
//! host doubles in `m2m-edge-testkit` (docs/architecture.md, "Ports").

use std::cell::RefCell;
use std::fmt;

/// The wall clock.
pub trait Clock {
    /// Unix seconds.
    fn now(&self) -> i64;

    /// Unix milliseconds, where the platform has them (ordering audit
    /// events within a second); by default the second's start.
    fn now_ms(&self) -> i64 {
        self.now() * 1000
    }
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

/// A CSPRNG read in 1 KiB blocks: one `crypto.getRandomValues` call per 64
/// sixteen-byte `jti`s instead of one per token. Every byte is handed out
/// once, the pool never leaves its isolate, and a block is used only once
/// the source has filled all of it: a failing source fails the draw, it
/// never hands out bytes it did not fill.
pub struct PooledRandom<S: Random = OsRandom> {
    source: S,
    pool: RefCell<Pool>,
}

struct Pool {
    bytes: Vec<u8>,
    /// Bytes of `bytes` already handed out; `bytes.len()` when it is spent.
    used: usize,
}

const POOL_BYTES: usize = 1024;

impl Default for PooledRandom<OsRandom> {
    fn default() -> Self {
        PooledRandom::new(OsRandom)
    }
}

impl<S: Random> PooledRandom<S> {
    /// A pool over `source`, empty until the first draw.
    pub fn new(source: S) -> PooledRandom<S> {
        PooledRandom { source, pool: RefCell::new(Pool { bytes: Vec::new(), used: 0 }) }
    }
}

impl<S: Random> Random for PooledRandom<S> {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        if buf.len() > POOL_BYTES / 4 {
            return self.source.fill(buf);
        }
        let mut pool = self.pool.borrow_mut();
        if pool.used + buf.len() > pool.bytes.len() {
            // A fresh block, kept only once the source has filled it whole.
            let mut fresh = vec![0u8; POOL_BYTES];
            self.source.fill(&mut fresh)?;
            *pool = Pool { bytes: fresh, used: 0 };
        }
        let Pool { bytes, used } = &mut *pool;
        buf.copy_from_slice(&bytes[*used..*used + buf.len()]);
        // Wipe what was handed out, so no byte is ever served twice.
        bytes[*used..*used + buf.len()].fill(0);
        *used += buf.len();
        Ok(())
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

    /// A source that fails until told otherwise, then counts 1, 2, 3, …
    struct Flaky {
        failing: std::cell::Cell<bool>,
        counting: CountingRandom,
    }

    impl Random for Flaky {
        fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
            if self.failing.get() {
                // A source may have written part of the buffer before failing.
                let half = buf.len() / 2;
                buf[..half].fill(0);
                return Err(RandomError);
            }
            self.counting.fill(buf)
        }
    }

    #[test]
    fn a_failing_source_fails_the_draw_and_never_hands_out_unfilled_bytes() {
        let r = PooledRandom::new(Flaky { failing: std::cell::Cell::new(true), counting: CountingRandom::default() });
        for _ in 0..3 {
            let mut b = [0xAAu8; 16];
            assert_eq!(r.fill(&mut b), Err(RandomError), "a draw from a failing source fails");
        }
        r.source.failing.set(false);
        let mut b = [0u8; 16];
        r.fill(&mut b).unwrap();
        assert_eq!(b, core::array::from_fn(|i| (i + 1) as u8), "the first bytes of the first filled block");
    }

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
