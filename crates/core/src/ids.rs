//! Generated identifiers: a fixed prefix and 32 lowercase hex digits (128
//! random bits), e.g. `m2m_…` for clients, `api_…` for API resources. Ids
//! sort by byte order in every backend.

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

/// A prefixed id type that is valid by construction, so a malformed id
/// never reaches storage: `generate`, `parse`, `as_str`.
macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Every id of this kind starts with this.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id from 128 random bits.
            pub fn generate(random: &dyn $crate::ports::Random) -> Result<$name, $crate::ports::RandomError> {
                $crate::ids::generate(Self::PREFIX, random).map($name)
            }

            /// `None` unless `s` is the prefix and 32 lowercase hex digits.
            pub fn parse(s: &str) -> Option<$name> {
                $crate::ids::is_valid(Self::PREFIX, s).then(|| $name(s.to_string()))
            }

            /// The id as sent and stored.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}
pub(crate) use prefixed_id;

#[cfg(test)]
mod tests {

    prefixed_id!(
        /// An id for the tests.
        TestId,
        "tst_"
    );

    #[test]
    fn format_and_parse() {
        let id = TestId::generate(&crate::ports::CountingRandom::default()).unwrap();
        assert_eq!(id.as_str(), "tst_0102030405060708090a0b0c0d0e0f10");
        assert_eq!(TestId::parse(id.as_str()), Some(id));
        for bad in
            ["", "tst_", "tst_XYZ", "abc_0123456789abcdef0123456789abcdef", "tst_0123456789ABCDEF0123456789abcdef"]
        {
            assert_eq!(TestId::parse(bad), None, "{bad}");
        }
    }
}
