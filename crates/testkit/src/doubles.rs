//! Clock, logger and random source that say what the test tells them.

use std::cell::{Cell, RefCell};

use m2m_edge_core::ports::{Clock, Logger, Random, RandomError};

/// A clock that says what it is told.
pub struct FixedClock(pub Cell<i64>);

impl FixedClock {
    /// A clock stopped at `t` (Unix seconds).
    pub fn at(t: i64) -> FixedClock {
        FixedClock(Cell::new(t))
    }

    /// Move it on by `seconds`.
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
    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// Distinct, predictable "random" bytes: 1, 2, 3, …
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
