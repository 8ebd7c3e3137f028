//! Clock, logger, random source and rate limiter that say what the test
//! tells them.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use m2m_edge_core::limits::{Limit, LimiterError, RateLimiter, Verdict};
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

/// A rate limiter that counts in memory, as one location's Rate Limiting
/// binding does. Clones share the counts (isolates of one location share
/// the binding). Limits not set with [`MemoryLimiter::limit`] are not
/// configured; [`MemoryLimiter::next_window`] starts a new window.
#[derive(Clone, Default)]
pub struct MemoryLimiter(Rc<LimiterState>);

#[derive(Default)]
struct LimiterState {
    limits: RefCell<HashMap<Limit, u32>>,
    counts: RefCell<HashMap<(Limit, String), u32>>,
    broken: Cell<bool>,
}

impl MemoryLimiter {
    /// Allow `max` events per key and window under `limit`.
    pub fn limit(&self, limit: Limit, max: u32) {
        self.0.limits.borrow_mut().insert(limit, max);
    }

    /// Forget every count: the next window.
    pub fn next_window(&self) {
        self.0.counts.borrow_mut().clear();
    }

    /// Make every call fail (`true`) or work again.
    pub fn set_broken(&self, broken: bool) {
        self.0.broken.set(broken);
    }

    /// Events counted so far under `limit` for `key`.
    pub fn count(&self, limit: Limit, key: &str) -> u32 {
        self.0.counts.borrow().get(&(limit, key.to_string())).copied().unwrap_or(0)
    }
}

impl RateLimiter for MemoryLimiter {
    async fn hit(&self, limit: Limit, key: &str) -> Result<Verdict, LimiterError> {
        if self.0.broken.get() {
            return Err(LimiterError("the limiter is down (test)".into()));
        }
        let Some(&max) = self.0.limits.borrow().get(&limit) else {
            return Ok(Verdict::Within);
        };
        // As the binding does: an event over the limit is not counted.
        let mut counts = self.0.counts.borrow_mut();
        let count = counts.entry((limit, key.to_string())).or_default();
        if *count >= max {
            return Ok(Verdict::Exceeded);
        }
        *count += 1;
        Ok(Verdict::Within)
    }
}

/// An HTTP GET double for trusted issuers' documents: URL → answer, every
/// request counted, and the whole of it can be made unreachable or slow.
#[derive(Default)]
pub struct MapFetcher {
    documents: RefCell<HashMap<String, m2m_edge_verify::Fetched>>,
    down: Cell<bool>,
    slow: Cell<bool>,
    requests: RefCell<Vec<String>>,
}

impl MapFetcher {
    /// Serve `body` at `url` (200, `Cache-Control: max-age=300`).
    pub fn serve(&self, url: &str, body: &serde_json::Value) {
        self.answer(url, 200, body.to_string().into_bytes());
    }

    /// Answer `status` with `body` at `url` (`Cache-Control: max-age=300`).
    pub fn answer(&self, url: &str, status: u16, body: Vec<u8>) {
        let fetched = m2m_edge_verify::Fetched { status, cache_control: Some("max-age=300".into()), body };
        self.documents.borrow_mut().insert(url.to_string(), fetched);
    }

    /// From now on every GET fails like a network error (or, with `false`, works again).
    pub fn set_down(&self, down: bool) {
        self.down.set(down);
    }

    /// From now on every GET stays pending while the other requests of
    /// [`crate::World::call_all`] run, and answers after (or, with `false`,
    /// answers at once): concurrent requests overlap its fetches.
    pub fn set_slow(&self, slow: bool) {
        self.slow.set(slow);
    }

    /// Every URL asked for so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.borrow().clone()
    }
}

/// Pending for one poll, then ready: every other future that a `join_all`
/// polls gets its turn first.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

impl m2m_edge_verify::Fetcher for MapFetcher {
    async fn get(&self, url: &str, _limit: usize) -> Result<m2m_edge_verify::Fetched, m2m_edge_verify::FetchError> {
        self.requests.borrow_mut().push(url.to_string());
        if self.slow.get() {
            YieldOnce(false).await;
        }
        if self.down.get() {
            return Err(m2m_edge_verify::FetchError("connection refused".into()));
        }
        Ok(self.documents.borrow().get(url).cloned().unwrap_or(m2m_edge_verify::Fetched {
            status: 404,
            cache_control: None,
            body: Vec::new(),
        }))
    }
}
