//! Compact JWS assembly for ES256 (RFC 7515 §7.1, RFC 7518 §3.4).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

/// The protected header of an access token, RFC 9068 §2.1: `typ` is
/// `at+jwt` so a resource server can tell it from an ID token.
pub fn access_token_header(kid: &str) -> String {
    #[derive(Serialize)]
    struct Header<'a> {
        alg: &'static str,
        typ: &'static str,
        kid: &'a str,
    }
    let header = Header { alg: "ES256", typ: "at+jwt", kid };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default())
}

/// `BASE64URL(header) '.' BASE64URL(payload)`, with room left for the signature.
pub fn signing_input(header_b64: &str, payload: &[u8]) -> String {
    let mut out = String::with_capacity(header_b64.len() + 1 + payload.len() * 4 / 3 + 4 + 1 + 86);
    out.push_str(header_b64);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_shape() {
        let h = URL_SAFE_NO_PAD.decode(access_token_header("k1")).unwrap();
        assert_eq!(String::from_utf8(h).unwrap(), r#"{"alg":"ES256","typ":"at+jwt","kid":"k1"}"#);
    }

    #[test]
    fn rfc7515_a3_signing_input() {
        // RFC 7515 A.3.1: header {"alg":"ES256"} and the A.1 payload (CRLFs included).
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256"}"#);
        assert_eq!(header, "eyJhbGciOiJFUzI1NiJ9");
        let payload = b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
        assert_eq!(
            signing_input(&header, payload),
            "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
        );
    }
}
