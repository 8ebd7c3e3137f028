//! The rate limits' counter: Cloudflare's Rate Limiting bindings, one per
//! [`Limit`] (`[[ratelimits]]` in wrangler.toml). The policy — what is
//! counted, under which key, what a limited caller gets — is the core's
//! (`m2m_edge_core::limits`); this only asks the binding.

use std::cell::Cell;

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use m2m_edge_core::limits::{Limit, LimiterError, RateLimiter, Verdict};

use crate::ffi;
use crate::ConsoleLog;
use m2m_edge_core::ports::Logger;

/// The bindings of one request's `env`.
pub struct BindingLimiter {
    env: Env,
}

impl BindingLimiter {
    /// The limiter over `env`'s bindings.
    pub fn new(env: Env) -> BindingLimiter {
        BindingLimiter { env }
    }
}

thread_local! {
    /// Limits already reported as unconfigured in this isolate, one bit per
    /// [`Limit`]: said once, not on every request.
    static REPORTED: Cell<u8> = const { Cell::new(0) };
}

fn report_unconfigured(limit: Limit) {
    let bit = 1u8 << (limit as u8);
    if REPORTED.with(|r| r.replace(r.get() | bit)) & bit == 0 {
        ConsoleLog.error(&format!(
            "rate limit {name} is off: no `{name}` binding ([[ratelimits]] in wrangler.toml)",
            name = limit.binding()
        ));
    }
}

impl RateLimiter for BindingLimiter {
    async fn hit(&self, limit: Limit, key: &str) -> Result<Verdict, LimiterError> {
        let binding = Reflect::get(self.env.as_ref(), &JsValue::from_str(limit.binding()))
            .map_err(|_| LimiterError("binding not readable".into()))?;
        if binding.is_undefined() {
            report_unconfigured(limit);
            return Ok(Verdict::Within);
        }
        let promise = ffi::rate_limit(&binding, key).map_err(|_| LimiterError("the binding threw".into()))?;
        let within = JsFuture::from(promise).await.map_err(|_| LimiterError("the binding failed".into()))?;
        match within.dyn_ref::<js_sys::Boolean>().map(|b| b.value_of()) {
            Some(true) => Ok(Verdict::Within),
            Some(false) => Ok(Verdict::Exceeded),
            None => Err(LimiterError("the binding answered something other than an outcome".into())),
        }
    }
}
