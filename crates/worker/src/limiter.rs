//! The rate limits' counter: Cloudflare's Rate Limiting bindings, one per
//! [`Limit`] (`[[ratelimits]]` in wrangler.toml). The policy — what is
//! counted, under which key, what a limited caller gets — is the core's
//! (`m2m_edge_core::limits`); this only asks the binding.

use std::cell::{Cell, RefCell};

use js_sys::Reflect;
use wasm_bindgen::JsValue;
use worker::Env;

use m2m_edge_core::limits::{Limit, LimiterError, RateLimiter, Verdict};

use crate::ffi;
use crate::task::Settled;
use crate::ConsoleLog;
use m2m_edge_core::ports::Logger;

/// The bindings of one request's `env`, and the outcome of a count the
/// glue already made while it read the body.
pub struct BindingLimiter {
    env: Env,
    answered: RefCell<Option<Answered>>,
}

/// One count made ahead of the app (`glue.js` `withBody`).
pub struct Answered {
    limit: Limit,
    key: String,
    outcome: Result<Verdict, LimiterError>,
}

impl Answered {
    /// What the glue handed back for `limit` and `key`: `true`, `false`,
    /// `null` (the binding failed); `None` if it asked nothing (`undefined`).
    pub fn from_js(limit: Limit, key: &str, within: &JsValue) -> Option<Answered> {
        let outcome = match verdict(within) {
            Some(verdict) => Ok(verdict),
            None if within.is_undefined() => return None,
            None => Err(LimiterError("the binding failed".into())),
        };
        Some(Answered { limit, key: key.to_string(), outcome })
    }

    /// A count another Worker made, within the limit, before it handed the
    /// request on.
    #[cfg(feature = "admin")]
    pub fn counted_upstream(limit: Limit, key: &str) -> Answered {
        Answered { limit, key: key.to_string(), outcome: Ok(Verdict::Within) }
    }
}

/// The verdict a binding's outcome (`true` within the limit, `false` over
/// it) stands for; `None` for anything else.
fn verdict(within: &JsValue) -> Option<Verdict> {
    within.as_bool().map(|ok| if ok { Verdict::Within } else { Verdict::Exceeded })
}

/// The Rate Limiting binding for `limit`, if `env` has one.
pub fn binding(env: &Env, limit: Limit) -> Option<JsValue> {
    Reflect::get(env.as_ref(), &JsValue::from_str(limit.binding())).ok().filter(|b| !b.is_undefined())
}

impl BindingLimiter {
    /// The limiter over `env`'s bindings, with the count already made, if any.
    pub fn new(env: Env, answered: Option<Answered>) -> BindingLimiter {
        BindingLimiter { env, answered: RefCell::new(answered) }
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
        // The count made while the body was read stands for this one event.
        let ahead = self.answered.borrow_mut().take_if(|a| a.limit == limit && a.key == key);
        if let Some(answered) = ahead {
            return answered.outcome;
        }
        let Some(binding) = binding(&self.env, limit) else {
            report_unconfigured(limit);
            return Ok(Verdict::Within);
        };
        let promise = ffi::rate_limit(&binding, key).map_err(|_| LimiterError("the binding threw".into()))?;
        let within = Settled::of(promise).await.map_err(|_| LimiterError("the binding failed".into()))?;
        verdict(&within).ok_or_else(|| LimiterError("the binding answered something other than an outcome".into()))
    }
}
