//! Why a credential did not authenticate its client: the one "why not" of
//! every authentication path — a secret, a client assertion
//! (`private_key_jwt`, RFC 7523 §2.2), a platform's token (workload
//! identity federation), the keys they are checked with, and the match
//! against a client's federated credentials.
//!
//! A [`Refusal`] is for the log and the operator (failure records), never
//! for the caller, who hears only the grant's error code (RFC 6749 §5.2):
//! telling a caller which rule its credential broke teaches it how to
//! forge the next one. Each message states the rule that was broken, never
//! the rule that was kept.
//!
//! The rules of a compact JWS and of RFC 7519 times are the verifier's
//! (`m2m_edge_verify`), so its [`Rejection`] is carried as it is rather
//! than restated.

use std::fmt;

use m2m_edge_verify::Rejection;

use crate::ports::StoreError;

/// Why a credential was refused, or why no decision could be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A rule of the JWS form or of the token's times, as the verifier
    /// states it: `alg`, `typ`, `crit`, `kid`, the signature, `exp`, `nbf`,
    /// `iat`, the maximum age and lifetime.
    Token(Rejection),
    /// No active client with that id uses the presented method.
    UnknownClient,
    /// The secret matches neither the client's secret nor its pending one.
    WrongSecret,
    /// The request's `client_id` is not the assertion's `sub` (RFC 7521 §4.2).
    OtherClient,
    /// `iss` or `sub` missing, or they differ (RFC 7523 §3 points 1–2).
    Subject,
    /// A client assertion's `aud` is neither the issuer nor the token
    /// endpoint URL (draft-ietf-oauth-rfc7523bis).
    Audience,
    /// A client assertion's `aud` has more than one value.
    SeveralAudiences,
    /// A `client-authentication+jwt` assertion's `aud` is the token
    /// endpoint URL, where the draft requires the issuer.
    TypedAudience,
    /// No `jti` where single use needs one (RFC 7523 §3 point 7).
    NoJti,
    /// Its `jti` was used already.
    Replayed,
    /// The token's `iss` is not a trusted issuer, or not one the client's
    /// federated credentials name.
    UntrustedIssuer,
    /// A platform token's `aud` is none of its issuer's allowed audiences.
    IssuerAudience,
    /// A platform token without a `sub`: the issued token's `act.sub`
    /// would name no one (RFC 8693 §4.1).
    NoSubject,
    /// The issuer's keys cannot be fetched and no recent copy is held; why.
    KeysUnavailable(String),
    /// A federated credential's `subject` differs from the token's `sub`.
    SubjectMismatch,
    /// A federated credential's rule on this claim: missing, not a string,
    /// or another value.
    ClaimMismatch(String),
    /// A federated credential whose rules name no workload (stored before
    /// such credentials were refused): it matches no token.
    NamesNoWorkload,
    /// A trusted issuer's genuine token (its signature verified), refused:
    /// the reason for each of the client's credentials for that issuer,
    /// by credential name — what the operator's failure records show.
    Credentials(Vec<(String, Refusal)>),
    /// A platform token sent without `client_id` matches the federated
    /// credentials of these clients (the first few of them), where it must
    /// match exactly one; `more` when there were more than could be read.
    MatchedClients {
        /// The ids of the clients it matched.
        ids: Vec<String>,
        /// Whether more clients were left unread.
        more: bool,
    },
    /// Not checked: the client and source are over the failure limit.
    Locked,
    /// Storage failed: no decision, and not the caller's doing.
    Storage(StoreError),
}

impl Refusal {
    /// Whether the credential was refused for what it is — counted against
    /// the client's failure limit — rather than left undecided (locked out
    /// already, or storage failed).
    pub fn counts(&self) -> bool {
        !matches!(self, Refusal::Locked | Refusal::Storage(_))
    }
}

impl From<Rejection> for Refusal {
    fn from(rejection: Rejection) -> Refusal {
        Refusal::Token(rejection)
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        Refusal::Storage(e)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The two limits a token's times are held to on these paths
            // are settings an operator can change: name them.
            Refusal::Token(Rejection::TooLong) => f.write_str("valid for longer than ASSERTION_MAX_LIFETIME"),
            Refusal::Token(Rejection::TooOld) => f.write_str("older than the issuer's max_token_age"),
            Refusal::Token(rejection) => rejection.fmt(f),
            Refusal::UnknownClient => f.write_str("no active client with that id uses this authentication method"),
            Refusal::WrongSecret => f.write_str("the secret does not match"),
            Refusal::OtherClient => f.write_str("client_id is not the assertion's sub"),
            Refusal::Subject => f.write_str("iss and sub must both be the client id"),
            Refusal::Audience => f.write_str("aud is neither the issuer nor the token endpoint URL"),
            Refusal::SeveralAudiences => f.write_str("aud has more than one value"),
            Refusal::TypedAudience => {
                f.write_str("aud is the token endpoint URL, not the issuer, in a client-authentication+jwt assertion")
            }
            Refusal::NoJti => f.write_str("no jti: it could be replayed"),
            Refusal::Replayed => f.write_str("token already used (jti)"),
            Refusal::UntrustedIssuer => f.write_str("iss is no trusted issuer of the client's federated credentials"),
            Refusal::IssuerAudience => f.write_str("aud is none of the issuer's allowed audiences"),
            Refusal::NoSubject => {
                f.write_str("no sub (a non-empty string): the issued token's act.sub would name no one")
            }
            Refusal::KeysUnavailable(why) => write!(f, "the issuer's keys are unavailable: {why}"),
            Refusal::SubjectMismatch => f.write_str("sub does not match"),
            Refusal::ClaimMismatch(name) => write!(f, "claim {name} does not match"),
            Refusal::NamesNoWorkload => f.write_str(
                "the credential names no workload (rules only on iss, aud, exp, nbf, iat or jti): it matches no token",
            ),
            Refusal::Credentials(each) => {
                for (i, (credential, refusal)) in each.iter().enumerate() {
                    let separator = if i == 0 { "" } else { "; " };
                    write!(f, "{separator}credential {credential}: {refusal}")?;
                }
                Ok(())
            }
            Refusal::MatchedClients { ids, more: false } if ids.is_empty() => {
                f.write_str("sent without client_id, it matches no client's federated credentials")
            }
            Refusal::MatchedClients { ids, more } => write!(
                f,
                "sent without client_id, it matches the federated credentials of {}{}, not exactly one client: send client_id",
                ids.join(", "),
                if *more { " (and more clients than were read)" } else { "" }
            ),
            Refusal::Locked => f.write_str("too many failed attempts: not checked"),
            Refusal::Storage(e) => write!(f, "storage failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_broken_rule_and_the_setting_behind_it() {
        assert_eq!(Refusal::Token(Rejection::TooLong).to_string(), "valid for longer than ASSERTION_MAX_LIFETIME");
        assert_eq!(Refusal::Token(Rejection::Algorithm { expected: "RS256" }).to_string(), "alg must be RS256");
        assert_eq!(Refusal::ClaimMismatch("ref".into()).to_string(), "claim ref does not match");
        assert!(Refusal::Replayed.counts() && !Refusal::Locked.counts());
        assert!(!Refusal::Storage(StoreError::Backend("down".into())).counts());
    }
}
