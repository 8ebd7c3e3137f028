//! What the core needs from the world, as traits (DESIGN.md, "ports"), and
//! the implementations that are not tied to the Worker runtime.

use std::cell::{Cell, RefCell};

/// Unix seconds.
pub trait Clock {
    fn now(&self) -> i64;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomError;

/// Cryptographically secure random bytes.
pub trait Random {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError>;
}

/// Operator-facing log lines. Never given a secret, a key, or a token.
pub trait Logger {
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

/// The host's clock (`SystemTime` panics on wasm32; the glue has its own).
#[cfg(not(target_arch = "wasm32"))]
pub struct SystemClock;

#[cfg(not(target_arch = "wasm32"))]
impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    }
}

/// A clock that says what it is told, for tests.
pub struct FixedClock(pub Cell<i64>);

impl FixedClock {
    pub fn at(t: i64) -> FixedClock {
        FixedClock(Cell::new(t))
    }

    pub fn advance(&self, seconds: i64) {
        self.0.set(self.0.get() + seconds);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0.get()
    }
}

/// Keeps log lines, so tests can check what would be logged (and what not).
#[derive(Default)]
pub struct MemoryLogger(pub RefCell<Vec<String>>);

impl Logger for MemoryLogger {
    fn error(&self, message: &str) {
        self.0.borrow_mut().push(message.to_string());
    }
}

impl MemoryLogger {
    pub fn lines(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

#[cfg(test)]
pub mod tests {
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

    /// Distinct, predictable "random" bytes for unit tests.
    #[derive(Default)]
    pub struct CountingRandom(Cell<u8>);

    impl Random for CountingRandom {
        fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
            for b in buf.iter_mut() {
                self.0.set(self.0.get().wrapping_add(1));
                *b = self.0.get();
            }
            Ok(())
        }
    }
}
