//! Revocations an m2m-edge deployment publishes (its `revocation_list_uri`,
//! `GET /oauth2/revocations`), held by a [`crate::Verifier`] so that a
//! revoked token is refused without a call per request: the list is
//! fetched again once it is older than the verifier's bound (60 s by
//! default), one fetch at a time, and a token is never accepted on a list
//! older than the bound — if it cannot be fetched, the answer is 503
//! ([`crate::Rejection::RevocationsUnavailable`]), not a token that may be
//! revoked.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::claims::VerifiedToken;
#[cfg(feature = "verifier")]
pub(crate) use held::{HeldList, Step};

/// The longest a held list is trusted by default, seconds.
pub const DEFAULT_REVOCATIONS_WITHIN_SECS: u64 = 60;
/// After a failed fetch, the next is tried no sooner than this, seconds
/// (unless the bound is shorter): an unreachable issuer is not hammered.
pub const RETRY_AFTER_FAILURE_SECS: i64 = 5;

/// One published list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationList {
    /// `jti` → the projects it is revoked in (`None`: in any).
    tokens: HashMap<String, Vec<Option<String>>>,
    /// Client id → not-before time.
    clients: HashMap<String, i64>,
    /// Project id → not-before time.
    projects: HashMap<String, i64>,
}

/// Why a fetched document is not taken as the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub &'static str);

impl RevocationList {
    /// The list in `body`, which must name `issuer`.
    pub fn parse(body: &[u8], issuer: &str) -> Result<RevocationList, Unreadable> {
        let document: Map<String, Value> = serde_json::from_slice(body).map_err(|_| Unreadable("not a JSON object"))?;
        if document.get("issuer").and_then(Value::as_str) != Some(issuer) {
            return Err(Unreadable("another issuer's list"));
        }
        let mut list = RevocationList::default();
        let tokens = document.get("tokens").and_then(Value::as_array).ok_or(Unreadable("no tokens"))?;
        for entry in tokens {
            let jti = entry.get("jti").and_then(Value::as_str).ok_or(Unreadable("a token without jti"))?;
            let project = match entry.get("project_id") {
                None | Some(Value::Null) => None,
                Some(Value::String(project)) => Some(project.clone()),
                Some(_) => return Err(Unreadable("a project_id that is not a string")),
            };
            list.tokens.entry(jti.to_string()).or_default().push(project);
        }
        list.clients = times(&document, "clients")?;
        list.projects = times(&document, "projects")?;
        Ok(list)
    }

    /// Whether `token` is revoked: its `jti` listed (everywhere, or in its
    /// project), or issued before its client's or its project's time.
    pub fn refuses(&self, token: &VerifiedToken) -> bool {
        let project = token.claims.get("project_id").and_then(Value::as_str);
        let revoked = self
            .tokens
            .get(&token.jti)
            .is_some_and(|reach| reach.iter().any(|p| p.is_none() || p.as_deref() == project));
        let before = |time: Option<&i64>| time.is_some_and(|t| token.issued_at < *t);
        revoked || before(self.clients.get(&token.client_id)) || before(project.and_then(|p| self.projects.get(p)))
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.tokens.len() + self.clients.len() + self.projects.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An object of id → Unix seconds.
fn times(document: &Map<String, Value>, name: &'static str) -> Result<HashMap<String, i64>, Unreadable> {
    let object = document.get(name).and_then(Value::as_object).ok_or(Unreadable("clients or projects missing"))?;
    object
        .iter()
        .map(|(id, time)| time.as_i64().map(|t| (id.clone(), t)).ok_or(Unreadable("a time that is not an integer")))
        .collect()
}

/// The held list and when to fetch it again (the verifier's, feature
/// `verifier`).
#[cfg(feature = "verifier")]
mod held {
    use std::sync::Arc;

    use super::{RevocationList, RETRY_AFTER_FAILURE_SECS};
    use crate::cache::MAX_FLIGHT_SECS;
    use crate::flight::{Gate, Waiter};

    /// The held list, and when to fetch it again: policy over "now".
    #[derive(Debug, Default)]
    pub(crate) struct HeldList {
        list: Option<Arc<RevocationList>>,
        fetched_at: i64,
        failed_at: Option<i64>,
        /// The fetch in flight: its number, when it started, where to wait.
        flight: Option<(u64, i64, Waiter)>,
        flights: u64,
    }

    /// What a verification does with the held list.
    pub(crate) enum Step {
        /// Check against this list.
        Use(Arc<RevocationList>),
        /// Fetch it, holding the gate others wait at; record the outcome under
        /// this flight's number.
        Fetch(Gate, u64),
        /// Another request is fetching: wait for it.
        Wait(Waiter),
        /// None fresh enough, and a fetch failed just now: refuse.
        Unavailable,
    }

    impl HeldList {
        /// The step at `now` for a list trusted `within` seconds.
        pub(crate) fn step(&mut self, now: i64, within: i64) -> Step {
            if let Some(list) = self.list.as_ref().filter(|_| now - self.fetched_at < within) {
                return Step::Use(list.clone());
            }
            if let Some((_, started, waiter)) = &self.flight {
                if now - started < MAX_FLIGHT_SECS {
                    return Step::Wait(waiter.clone());
                }
            }
            if self.failed_at.is_some_and(|at| now - at < RETRY_AFTER_FAILURE_SECS.min(within)) {
                return Step::Unavailable;
            }
            let gate = Gate::new();
            self.flights += 1;
            self.flight = Some((self.flights, now, gate.waiter()));
            Step::Fetch(gate, self.flights)
        }

        /// The outcome of flight `flight` at `now`: the list, or `None` if it
        /// could not be had.
        pub(crate) fn landed(&mut self, flight: u64, outcome: Option<RevocationList>, now: i64) {
            match outcome {
                Some(list) => {
                    self.list = Some(Arc::new(list));
                    self.fetched_at = now;
                    self.failed_at = None;
                }
                None => self.failed_at = Some(now),
            }
            if self.flight.as_ref().is_some_and(|(id, _, _)| *id == flight) {
                self.flight = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token(jti: &str, client: &str, project: Option<&str>, iat: i64) -> VerifiedToken {
        let mut claims = Map::new();
        if let Some(p) = project {
            claims.insert("project_id".into(), json!(p));
        }
        VerifiedToken {
            client_id: client.into(),
            subject: client.into(),
            audience: vec!["https://api".into()],
            scopes: vec![],
            issued_at: iat,
            expires_at: iat + 60,
            jti: jti.into(),
            claims,
        }
    }

    fn list(document: serde_json::Value) -> RevocationList {
        RevocationList::parse(document.to_string().as_bytes(), "https://as").unwrap()
    }

    #[test]
    fn a_listed_jti_a_client_time_and_a_project_time_refuse() {
        let l = list(json!({"issuer": "https://as", "generated_at": 0,
            "tokens": [{"jti": "j1"}, {"jti": "j2", "project_id": "blue"}],
            "clients": {"c1": 100}, "projects": {"blue": 200}}));
        assert!(l.refuses(&token("j1", "c9", None, 500)));
        assert!(l.refuses(&token("j2", "c9", Some("blue"), 500)));
        assert!(!l.refuses(&token("j2", "c9", Some("green"), 500)), "a project's jti reaches that project only");
        assert!(!l.refuses(&token("j2", "c9", None, 500)));
        assert!(l.refuses(&token("x", "c1", None, 99)));
        assert!(!l.refuses(&token("x", "c1", None, 100)));
        assert!(l.refuses(&token("x", "c2", Some("blue"), 199)));
        assert!(!l.refuses(&token("x", "c2", Some("blue"), 200)));
        assert_eq!(l.len(), 4);
    }

    #[test]
    fn a_document_that_is_not_the_issuers_list_is_not_taken() {
        let parse = |d: serde_json::Value| RevocationList::parse(d.to_string().as_bytes(), "https://as");
        let good = json!({"issuer": "https://as", "tokens": [], "clients": {}, "projects": {}});
        assert!(parse(good.clone()).is_ok());
        let mut other = good.clone();
        other["issuer"] = json!("https://evil");
        assert!(parse(other).is_err());
        for (member, bad) in
            [("tokens", json!([{"id": 1}])), ("clients", json!({"c": "soon"})), ("projects", json!([]))]
        {
            let mut broken = good.clone();
            broken[member] = bad;
            assert!(parse(broken).is_err(), "{member}");
        }
        assert!(RevocationList::parse(b"[]", "https://as").is_err());
    }

    #[cfg(feature = "verifier")]
    use crate::cache::MAX_FLIGHT_SECS;

    #[cfg(feature = "verifier")]
    #[test]
    fn a_held_list_is_used_within_the_bound_then_fetched_and_never_trusted_past_it() {
        let mut held = HeldList::default();
        let Step::Fetch(gate, first) = held.step(1_000, 60) else { panic!("nothing held: fetch") };
        assert!(matches!(held.step(1_000, 60), Step::Wait(_)), "one fetch at a time");
        held.landed(first, Some(RevocationList::default()), 1_000);
        drop(gate);
        assert!(matches!(held.step(1_059, 60), Step::Use(_)));
        let Step::Fetch(_gate, second) = held.step(1_060, 60) else { panic!("past the bound: fetch") };
        held.landed(second, None, 1_060);
        assert!(matches!(held.step(1_062, 60), Step::Unavailable), "stale, and a fetch just failed");
        assert!(matches!(held.step(1_065, 60), Step::Fetch(..)), "tried again after RETRY_AFTER_FAILURE_SECS");
    }

    #[cfg(feature = "verifier")]
    #[test]
    fn an_abandoned_fetch_is_not_waited_for_past_the_flight_bound() {
        let mut held = HeldList::default();
        let Step::Fetch(_abandoned, _) = held.step(1_000, 60) else { panic!("fetch") };
        assert!(matches!(held.step(1_000 + MAX_FLIGHT_SECS - 1, 60), Step::Wait(_)));
        assert!(matches!(held.step(1_000 + MAX_FLIGHT_SECS, 60), Step::Fetch(..)));
    }
}
