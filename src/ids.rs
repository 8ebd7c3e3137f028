//! The shape of generated identifiers: a fixed prefix and 32 lowercase hex
//! digits (128 random bits), e.g. `m2m_…` for clients, `api_…` for API
//! resources. Ids sort by byte order in every backend.

use crate::ports::{Random, RandomError};

/// `prefix` + 32 lowercase hex digits from 16 random bytes.
pub fn generate(prefix: &str, random: &dyn Random) -> Result<String, RandomError> {
    let mut bytes = [0u8; 16];
    random.fill(&mut bytes)?;
    let mut id = String::with_capacity(prefix.len() + 32);
    id.push_str(prefix);
    for b in bytes {
        id.push_str(&format!("{b:02x}"));
    }
    Ok(id)
}

/// Whether `s` is `prefix` + exactly 32 lowercase hex digits.
pub fn is_valid(prefix: &str, s: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}
