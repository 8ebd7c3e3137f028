//! Scope values, RFC 6749 §3.3:
//! `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`, space-delimited.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest scope token accepted; long enough for `read:org:projects:billing`-style names.
pub const MAX_SCOPE_LEN: usize = 128;

/// One scope token, valid by construction.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope(String);

/// Why a string is not a scope token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeError {
    /// The empty string.
    Empty,
    /// Longer than [`MAX_SCOPE_LEN`].
    TooLong,
    /// Space, control character, `"` or `\`: outside the RFC 6749 §3.3 grammar.
    BadCharacter,
}

impl std::error::Error for ScopeError {}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScopeError::Empty => "a scope must not be empty",
            ScopeError::TooLong => "a scope must be at most 128 characters",
            ScopeError::BadCharacter => {
                "a scope may not contain spaces, control characters, quotes, backslashes or non-ASCII characters"
            }
        })
    }
}

impl Scope {
    /// Check `s` against RFC 6749 §3.3.
    pub fn parse(s: &str) -> Result<Scope, ScopeError> {
        if s.is_empty() {
            return Err(ScopeError::Empty);
        }
        if s.len() > MAX_SCOPE_LEN {
            return Err(ScopeError::TooLong);
        }
        if !s.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)) {
            return Err(ScopeError::BadCharacter);
        }
        Ok(Scope(s.to_string()))
    }
}

crate::grant::checked_string!(Scope, ScopeError);

/// The `scope` request parameter, split into tokens. RFC 6749 §3.3 delimits
/// with single spaces; runs of spaces are tolerated (several client libraries
/// produce them), anything else outside the grammar is an error.
pub fn parse_request_scope(raw: &str) -> Result<Vec<Scope>, ScopeError> {
    let mut out: Vec<Scope> = Vec::new();
    for token in raw.split(' ').filter(|t| !t.is_empty()) {
        let scope = Scope::parse(token)?;
        if !out.contains(&scope) {
            out.push(scope);
        }
    }
    Ok(out)
}

/// Render scopes as the space-delimited `scope` string.
pub fn join(scopes: &[Scope]) -> String {
    let mut s = String::new();
    for (i, scope) in scopes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(scope.as_str());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        assert!(Scope::parse("read:users").is_ok());
        assert!(Scope::parse("a!#[]~").is_ok());
        assert_eq!(Scope::parse(""), Err(ScopeError::Empty));
        for bad in ["a b", "a\"", "a\\b", "tab\t", "nl\n", "é", "\u{7f}"] {
            assert_eq!(Scope::parse(bad), Err(ScopeError::BadCharacter), "{bad:?}");
        }
        assert_eq!(Scope::parse(&"x".repeat(129)), Err(ScopeError::TooLong));
    }

    #[test]
    fn request_scope_dedupes_and_tolerates_extra_spaces() {
        let s = parse_request_scope("  a b  a ").unwrap();
        assert_eq!(join(&s), "a b");
        assert!(parse_request_scope("a \"b\"").is_err());
        assert!(parse_request_scope("").unwrap().is_empty());
    }
}
