//! `decode`: a JWT's header and claims, unverified, with its times made
//! readable.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use crate::error::{Failure, Kind, Outcome};
use crate::output;

/// The registered claims that hold times (RFC 7519 §4.1.4–6).
const TIME_CLAIMS: [&str; 3] = ["iat", "nbf", "exp"];

/// A decoded, unverified JWT.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
}

fn part(segment: &str, what: &str) -> Outcome<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|_| Failure::new(Kind::TokenInvalid, format!("the {what} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Failure::new(Kind::TokenInvalid, format!("the {what} is not a JSON object"))),
    }
}

/// Split and decode a compact JWS (RFC 7515 §7.1), without checking it.
pub fn decode(token: &str) -> Outcome<Decoded> {
    let token = token.trim();
    let token = token.strip_prefix("Bearer ").unwrap_or(token);
    let segments: Vec<&str> = token.split('.').collect();
    let [header, claims, _signature] = segments.as_slice() else {
        return Err(Failure::new(Kind::TokenInvalid, "not a JWT: expected three dot-separated parts"));
    };
    Ok(Decoded { header: part(header, "header")?, claims: part(claims, "claims part")? })
}

impl Decoded {
    /// The human form: header, claims, times with how far from `now`.
    pub fn render(&self, now: i64) -> String {
        let mut out = String::from("header (not verified)\n");
        for (name, value) in &self.header {
            out.push_str(&format!("  {name:10} {}\n", output::cell(value)));
        }
        out.push_str("claims (not verified)\n");
        for (name, value) in &self.claims {
            let shown = match value.as_i64() {
                Some(t) if TIME_CLAIMS.contains(&name.as_str()) => output::timestamp(t, now),
                _ => match value {
                    Value::Object(_) => value.to_string(),
                    other => output::cell(other),
                },
            };
            out.push_str(&format!("  {name:10} {shown}\n"));
        }
        if let Some(exp) = self.claims.get("exp").and_then(Value::as_i64) {
            let left = exp - now;
            out.push_str(&if left > 0 {
                format!("expires in {}\n", output::duration(left.unsigned_abs()))
            } else {
                format!("expired {} ago\n", output::duration(left.unsigned_abs()))
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(header: &str, claims: &str) -> String {
        format!("{}.{}.sig", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims))
    }

    #[test]
    fn header_and_claims_with_readable_times() {
        let token = jwt(
            r#"{"alg":"ES256","typ":"at+jwt"}"#,
            r#"{"sub":"c1","iat":1700000000,"exp":1700000900,"scope":"read"}"#,
        );
        let decoded = decode(&format!("Bearer {token}")).unwrap();
        assert_eq!(decoded.header["alg"], "ES256");
        let shown = decoded.render(1_700_000_300);
        assert!(shown.contains("exp        2023-11-14T22:28:20Z (in 10m)"), "{shown}");
        assert!(shown.contains("iat        2023-11-14T22:13:20Z (5m ago)"), "{shown}");
        assert!(shown.contains("expires in 10m"), "{shown}");
        assert!(decoded.render(1_700_001_000).contains("expired 1m 40s ago"));
    }

    #[test]
    fn what_is_not_a_jwt_is_said_plainly() {
        for bad in ["", "a.b", "a.b.c.d", "!!!.e30.x", &jwt("[1]", "{}")] {
            assert_eq!(decode(bad).unwrap_err().kind, Kind::TokenInvalid, "{bad}");
        }
    }
}
