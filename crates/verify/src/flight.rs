//! One fetch of an issuer's keys at a time: the request that fetches holds
//! a [`Gate`]; requests that need the keys meanwhile wait at one of its
//! [`Waiter`]s, and go on when the gate is dropped — the fetch ended,
//! however it ended (`cache::resolve` holds the gate until the outcome is
//! recorded).
//!
//! How a request waits depends on where it runs. In workerd a request that
//! waits only on Rust state another request will change is cancelled as
//! hung, and a request woken by another request's code runs its own I/O in
//! that request's context, where it is cancelled when that request ends
//! (both measured: 15 of 16 concurrent first requests answered 500). So on
//! wasm32 the gate is a JS promise that the fetching request settles, and a
//! waiting request awaits it itself, racing a timer of its own: its
//! continuation is delivered in its own context, and the timer bounds the
//! wait should the fetching request be cancelled midway. Elsewhere the gate
//! wakes the waiting tasks.

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex, PoisonError};
    use std::task::{Context, Poll, Waker};

    #[derive(Default)]
    struct State {
        passed: bool,
        waiting: Vec<Waker>,
    }

    fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
        state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Held by the request that fetches; dropping it lets the waiters go on.
    pub struct Gate(Arc<Mutex<State>>);

    /// Where another request waits for a [`Gate`] to be dropped.
    #[derive(Clone)]
    pub struct Waiter(Arc<Mutex<State>>);

    impl Gate {
        /// A gate nobody has passed yet.
        #[allow(clippy::new_without_default)] // a gate is made to be held, not defaulted
        pub fn new() -> Gate {
            Gate(Arc::default())
        }

        /// A place to wait for this gate.
        pub fn waiter(&self) -> Waiter {
            Waiter(Arc::clone(&self.0))
        }
    }

    impl Drop for Gate {
        fn drop(&mut self) {
            let waiting = {
                let mut state = lock(&self.0);
                state.passed = true;
                std::mem::take(&mut state.waiting)
            };
            waiting.into_iter().for_each(Waker::wake);
        }
    }

    impl Waiter {
        /// Until the gate is dropped. (`at_most_ms` bounds the wait on
        /// wasm32, where a fetching request can be cancelled without its
        /// gate ever being dropped; here dropping is certain.)
        pub fn wait(self, _at_most_ms: u32) -> impl Future<Output = ()> {
            Passing(self.0)
        }
    }

    struct Passing(Arc<Mutex<State>>);

    impl Future for Passing {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let mut state = lock(&self.0);
            if state.passed {
                return Poll::Ready(());
            }
            if !state.waiting.iter().any(|w| w.will_wake(cx.waker())) {
                state.waiting.push(cx.waker().clone());
            }
            Poll::Pending
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {

    use js_sys::{Array, Function, Promise, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    /// Held by the request that fetches; dropping it settles the promise
    /// the waiters await.
    pub struct Gate {
        promise: Promise,
        resolve: Option<Function>,
    }

    /// Where another request waits for a [`Gate`] to be dropped: the
    /// gate's promise.
    #[derive(Clone)]
    pub struct Waiter(Promise);

    impl Gate {
        /// A gate nobody has passed yet.
        #[allow(clippy::new_without_default)] // a gate is made to be held, not defaulted
        pub fn new() -> Gate {
            let mut resolve = None;
            // The executor runs at once, so `resolve` is set on return.
            let promise = Promise::new(&mut |settle, _| resolve = Some(settle));
            Gate { promise, resolve }
        }

        /// A place to wait for this gate.
        pub fn waiter(&self) -> Waiter {
            Waiter(self.promise.clone())
        }
    }

    impl Drop for Gate {
        fn drop(&mut self) {
            if let Some(resolve) = self.resolve.take() {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            }
        }
    }

    impl Waiter {
        /// Until the gate is dropped, or `at_most_ms` have passed: the
        /// promise raced against a timer of this request's own, both
        /// awaited from this request.
        pub async fn wait(self, at_most_ms: u32) {
            let timer = Promise::new(&mut |elapsed, _| {
                let _ = set_timeout(&elapsed, at_most_ms);
            });
            let race = Promise::race(&Array::of2(&self.0, &timer));
            let _ = JsFuture::from(race).await;
        }
    }

    fn set_timeout(callback: &Function, ms: u32) -> Result<JsValue, JsValue> {
        let global = js_sys::global();
        let set_timeout: Function = Reflect::get(&global, &JsValue::from_str("setTimeout"))?.dyn_into()?;
        set_timeout.call2(&global, callback, &JsValue::from(ms))
    }
}

pub use imp::{Gate, Waiter};

// Both back ends hold runtime handles with nothing worth printing.
impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gate")
    }
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Waiter")
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use std::future::Future;

    #[test]
    fn waiters_go_on_when_the_gate_is_dropped_not_before() {
        let gate = Gate::new();
        let waiter = gate.waiter();
        let mut waiting = Box::pin(waiter.clone().wait(0));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        drop(gate);
        assert!(waiting.as_mut().poll(&mut cx).is_ready());
        assert!(Box::pin(waiter.wait(0)).as_mut().poll(&mut cx).is_ready(), "a gate passed stays passed");
    }
}
