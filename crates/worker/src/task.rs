//! A request's future, run to its reply with as few trips through the JS
//! promise machinery as it allows.
//!
//! [`run`] polls the future at once, so a request that waits on nothing
//! (a secret token) answers in that poll. One that waits on a single
//! WebCrypto promise at a time (a federated token's RS256 verification)
//! waits through [`Settled`]: the future hands its promise over, and one
//! `then` in `glue.js` (`whenSettled`) calls straight back into Rust,
//! which polls the future again with the outcome. wasm-bindgen-futures
//! would instead build two closures for the promise (`JsFuture`), a task
//! and a promise for the future (`future_to_promise`), and schedule each
//! poll through `queueMicrotask`, all worker CPU a secret token never
//! spends (docs/architecture.md, "Performance decisions", has the A/B).
//!
//! A future that waits on anything else (a D1 query, awaited as a
//! `JsFuture` inside the `worker` crate) goes on under
//! wasm-bindgen-futures from the poll that finds it waiting, and a
//! [`Settled`] polled there is a plain `JsFuture`. So the fast path is an
//! optimisation only: any future runs correctly under either executor.
//! The waker a [`Settled`] was polled with is woken before its task is
//! polled with the outcome, so a combinator that re-polls only the
//! children whose wakers fired finds it too. What it does not give: a
//! timer raced against a handed-over promise fires no earlier than the
//! promise settles (the app races none; `m2m_edge_verify::flight`'s gates
//! wait as `JsFuture`s).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::ffi;

/// A request's future: the JS reply (a `Response`, or a promise of one).
type Task = Pin<Box<dyn Future<Output = JsValue>>>;

/// What the future being polled by [`run`] or [`RESUME`] handed over.
enum Handover {
    /// No poll of ours is under way: a [`Settled`] awaits as a `JsFuture`.
    Elsewhere,
    /// Our poll is under way and nothing has been handed over yet.
    Open,
    /// A [`Settled`] handed over its promise, and the waker it was polled
    /// with: the future waits on that promise alone.
    Promise(Promise, Waker),
}

thread_local! {
    static HANDOVER: RefCell<Handover> = const { RefCell::new(Handover::Elsewhere) };
    /// The outcome of the promise handed over, for the one [`Settled`]
    /// that waits on it (set only while its task is polled).
    static OUTCOME: RefCell<Option<Result<JsValue, JsValue>>> = const { RefCell::new(None) };
    /// Tasks waiting on a handed-over promise; the index is the task's id
    /// in `whenSettled`. A free slot is reused.
    static WAITING: RefCell<Vec<Option<(Task, Waker)>>> = const { RefCell::new(Vec::new()) };
    /// The continuation `whenSettled` calls: built once per isolate.
    static RESUME: ffi::Resumption = Closure::new(resume);
}

/// Run `future` to the reply the runtime takes: the reply itself when it
/// finishes in its first poll, otherwise a promise of it. For the
/// Worker's entry points; called while a poll of ours is under way (from
/// inside a request's future) it leaves `future` to wasm-bindgen-futures,
/// so the two polls' handovers stay apart.
pub fn run(future: impl Future<Output = JsValue> + 'static) -> JsValue {
    if HANDOVER.with(|h| !matches!(*h.borrow(), Handover::Elsewhere)) {
        return wasm_bindgen_futures::future_to_promise(async move { Ok(future.await) }).into();
    }
    go_on(Box::pin(future), None)
}

/// Poll `task` (with `outcome` for the [`Settled`] it waits on, if any) and
/// answer with its reply, or with a promise of it once it waits.
fn go_on(mut task: Task, outcome: Option<Result<JsValue, JsValue>>) -> JsValue {
    OUTCOME.with(|o| *o.borrow_mut() = outcome);
    HANDOVER.with(|h| *h.borrow_mut() = Handover::Open);
    let polled = task.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    let handed = HANDOVER.with(|h| std::mem::replace(&mut *h.borrow_mut(), Handover::Elsewhere));
    // An outcome nobody took (its `Settled` was dropped) is not kept for another.
    OUTCOME.with(|o| o.borrow_mut().take());
    match (polled, handed) {
        (Poll::Ready(reply), _) => reply,
        (Poll::Pending, Handover::Promise(promise, waker)) => {
            let id = WAITING.with(|waiting| {
                let mut waiting = waiting.borrow_mut();
                match waiting.iter().position(Option::is_none) {
                    Some(free) => {
                        waiting[free] = Some((task, waker));
                        free
                    }
                    None => {
                        waiting.push(Some((task, waker)));
                        waiting.len() - 1
                    }
                }
            });
            RESUME.with(|resume| ffi::when_settled(&promise, id as u32, resume))
        }
        // Waiting on something else: wasm-bindgen-futures polls it from
        // here with a real waker. A promise that settled since woke only
        // the no-op waker, but a `JsFuture` keeps its outcome until polled,
        // so that poll finds it.
        (Poll::Pending, _) => wasm_bindgen_futures::future_to_promise(async move { Ok(task.await) }).into(),
    }
}

/// `whenSettled`'s continuation: the task `id`'s promise settled with
/// `value` (fulfilled or rejected).
fn resume(id: u32, value: JsValue, fulfilled: bool) -> JsValue {
    let task = WAITING.with(|waiting| waiting.borrow_mut().get_mut(id as usize).and_then(Option::take));
    let Some((task, waker)) = task else {
        // Only `go_on` hands out ids, each once: unreachable, but an answer.
        return crate::fallback("a settled promise for no waiting request");
    };
    waker.wake();
    go_on(task, Some(if fulfilled { Ok(value) } else { Err(value) }))
}

/// A JS promise as a future: handed to [`run`]'s loop when it polls, a
/// `JsFuture` otherwise.
pub enum Settled {
    /// Not yet polled.
    Fresh(Promise),
    /// Handed over: the task is polled again when it settles.
    HandedOver(Promise),
    /// Awaited under wasm-bindgen-futures.
    Elsewhere(JsFuture),
    /// Its outcome was taken.
    Done,
}

impl Settled {
    /// The future of `promise`'s outcome.
    pub fn of(promise: Promise) -> Settled {
        Settled::Fresh(promise)
    }
}

impl Future for Settled {
    type Output = Result<JsValue, JsValue>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        match std::mem::replace(this, Settled::Done) {
            Settled::Fresh(promise) => {
                let handed = HANDOVER.with(|h| {
                    let mut h = h.borrow_mut();
                    // One promise per poll: a second (two awaited at once)
                    // waits the ordinary way.
                    let open = matches!(*h, Handover::Open);
                    if open {
                        *h = Handover::Promise(promise.clone(), cx.waker().clone());
                    }
                    open
                });
                if handed {
                    *this = Settled::HandedOver(promise);
                    Poll::Pending
                } else {
                    this.elsewhere(promise, cx)
                }
            }
            Settled::HandedOver(promise) => match OUTCOME.with(|o| o.borrow_mut().take()) {
                Some(outcome) => Poll::Ready(outcome),
                // Polled outside our loop (the task went on under
                // wasm-bindgen-futures before this was polled again): the
                // promise, settled or not, is awaited the ordinary way.
                None if HANDOVER.with(|h| matches!(*h.borrow(), Handover::Elsewhere)) => this.elsewhere(promise, cx),
                // Polled again in the poll that handed it over.
                None => {
                    *this = Settled::HandedOver(promise);
                    Poll::Pending
                }
            },
            Settled::Elsewhere(mut future) => {
                let polled = Pin::new(&mut future).poll(cx);
                if polled.is_pending() {
                    *this = Settled::Elsewhere(future);
                }
                polled
            }
            Settled::Done => Poll::Ready(Err(JsValue::from_str("a settled promise awaited twice"))),
        }
    }
}

impl Settled {
    /// Await `promise` as a `JsFuture` from now on.
    fn elsewhere(&mut self, promise: Promise, cx: &mut Context<'_>) -> Poll<Result<JsValue, JsValue>> {
        *self = Settled::Elsewhere(JsFuture::from(promise));
        Pin::new(self).poll(cx)
    }
}
