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
    while let Some(at) = find_either(rest, b'+', b'%') {
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

/// The index of the first byte of `bytes` that is `a` or `b`.
///
/// Eight bytes at a time ("SWAR"): a token exchange's body is mostly one
/// value of a kilobyte or more (the platform's JWT) holding none of the
/// bytes a form is split or decoded at, and looking at it a byte at a
/// time was a tenth of the exchange's own work (docs/architecture.md,
/// "what is left of a token exchange's cost"). A `u64` is one register
/// natively and in wasm32 alike, so the count `make bench` takes of the
/// host build holds for the Worker's; `memchr` would use SIMD natively
/// that the Worker's wasm32 build has not.
pub fn find_either(bytes: &[u8], a: u8, b: u8) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    // A byte of `x` is zero where its high bit is set here. Where a byte
    // is not zero a borrow can set it only above a zero byte, so the
    // lowest set bit marks the first zero byte exactly.
    let zero_at = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let (fill_a, fill_b) = (ONES * u64::from(a), ONES * u64::from(b));
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let found = zero_at(word ^ fill_a) | zero_at(word ^ fill_b);
        if found != 0 {
            return Some(offset + found.trailing_zeros() as usize / 8);
        }
        offset += 8;
    }
    chunks.remainder().iter().position(|&x| x == a || x == b).map(|at| offset + at)
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
    let mut pairs = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (segment, next) = match find_either(rest, b'&', b'&') {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, &b""[..]),
        };
        rest = next;
        if segment.is_empty() {
            continue;
        }
        let (name, value) = match find_either(segment, b'=', b'=') {
            Some(eq) => (&segment[..eq], &segment[eq + 1..]),
            None => (segment, &b""[..]),
        };
        pairs.push((decode_component(name)?, decode_component(value)?));
    }
    Ok(pairs)
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
    fn finds_the_first_of_two_bytes_in_any_lane() {
        for len in 0..40 {
            for at in 0..len {
                let mut bytes = vec![b'a'; len];
                bytes[at] = b'%';
                if at + 1 < len {
                    bytes[at + 1] = b'+';
                }
                assert_eq!(find_either(&bytes, b'+', b'%'), Some(at), "{len} {at}");
            }
            assert_eq!(find_either(&vec![b'a'; len], b'+', b'%'), None);
        }
        // Bytes one below or above a needle, and high bytes, are no match.
        assert_eq!(find_either(&[0x24, 0x26, 0x2A, 0x2C, 0xA5, 0xAB, 0xFF, 0x00, 0x25], b'+', b'%'), Some(8));
    }

    #[test]
    fn value_may_contain_equals() {
        assert_eq!(parse_pairs(b"k=a=b").unwrap(), vec![("k".into(), "a=b".into())]);
    }
}
