//! Strict `application/x-www-form-urlencoded` decoding (the WHATWG URL
//! standard's parser, minus its silent repairs): a bad percent-escape or a
//! byte sequence that is not UTF-8 is an error instead of a replacement
//! character, so that a secret is never compared in a mangled form.

/// Why a form body could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormError {
    /// A `%` not followed by two hex digits.
    BadPercentEncoding,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl FormError {
    /// For the `error_description`.
    pub fn describe(self) -> &'static str {
        match self {
            FormError::BadPercentEncoding => "malformed percent-encoding in the request body",
            FormError::NotUtf8 => "the request body is not valid UTF-8 once decoded",
        }
    }
}

impl std::fmt::Display for FormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

impl std::error::Error for FormError {}

/// Decode one name or value: `+` is a space, `%XX` a byte. Copied a run
/// at a time between them: most values (ids, secrets, base64url tokens)
/// hold neither.
pub fn decode_component(raw: &[u8]) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.iter().position(|&b| b == b'+' || b == b'%') {
        out.extend_from_slice(&rest[..at]);
        if rest[at] == b'+' {
            out.push(b' ');
            rest = &rest[at + 1..];
            continue;
        }
        let hi = rest.get(at + 1).and_then(|b| hex(*b));
        let lo = rest.get(at + 2).and_then(|b| hex(*b));
        match (hi, lo) {
            (Some(h), Some(l)) => out.push(h << 4 | l),
            _ => return Err(FormError::BadPercentEncoding),
        }
        rest = &rest[at + 3..];
    }
    out.extend_from_slice(rest);
    String::from_utf8(out).map_err(|_| FormError::NotUtf8)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// All `name=value` pairs in order, repeats included (the caller decides
/// what a repeat means). Empty segments (`a=1&&b=2`) are skipped.
pub fn parse_pairs(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    body.split(|b| *b == b'&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (name, value) = match segment.iter().position(|b| *b == b'=') {
                Some(eq) => (&segment[..eq], &segment[eq + 1..]),
                None => (segment, &b""[..]),
            };
            Ok((decode_component(name)?, decode_component(value)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_escapes() {
        assert_eq!(decode_component(b"a+b%20c%2Bd%3a").unwrap(), "a b c+d:");
        assert_eq!(decode_component(b"%C3%A9").unwrap(), "é");
    }

    #[test]
    fn rejects_bad_escapes() {
        assert_eq!(decode_component(b"%"), Err(FormError::BadPercentEncoding));
        assert_eq!(decode_component(b"%4"), Err(FormError::BadPercentEncoding));
        assert_eq!(decode_component(b"%zz"), Err(FormError::BadPercentEncoding));
        assert_eq!(decode_component(b"%C3%28"), Err(FormError::NotUtf8));
        assert_eq!(decode_component(b"\xff"), Err(FormError::NotUtf8));
    }

    #[test]
    fn splits_pairs_keeping_repeats() {
        let pairs = parse_pairs(b"a=1&&b=&c&a=2").unwrap();
        assert_eq!(
            pairs,
            vec![("a".into(), "1".into()), ("b".into(), "".into()), ("c".into(), "".into()), ("a".into(), "2".into())]
        );
    }

    #[test]
    fn value_may_contain_equals() {
        assert_eq!(parse_pairs(b"k=a=b").unwrap(), vec![("k".into(), "a=b".into())]);
    }
}
