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

/// What every client secret begins with (`client::secret`): never an id,
/// so a secret sent where the id goes (`-u "$SECRET:$ID"`) is refused
/// without being read, counted or written to a log line as a client id.
pub const SECRET_PREFIX: &str = "m2msk_";

/// The longest id a caller may choose.
pub const MAX_CHOSEN_CHARS: usize = 64;
/// The shortest id a caller may choose.
pub const MIN_CHOSEN_CHARS: usize = 3;

/// Whether `s` is an id a caller may choose (the Hydra-like flow): 3 to 64
/// characters of `A-Z a-z 0-9 . _ -`, starting with a letter or digit, not
/// with [`SECRET_PREFIX`]. The
/// set is safe in a URL path, a KV key and a log line without escaping.
pub fn is_valid_chosen(s: &str) -> bool {
    (MIN_CHOSEN_CHARS..=MAX_CHOSEN_CHARS).contains(&s.len())
        && !s.starts_with(SECRET_PREFIX)
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A prefixed id type that is valid by construction, so a malformed id
/// never reaches storage: `generate`, `parse`, `as_str`. With `chosen`, an
/// id a caller chose ([`is_valid_chosen`]) parses too.
macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, chosen) => {
        $crate::ids::prefixed_id!($(#[$doc])* $name, $prefix, |s| $crate::ids::is_valid($prefix, s) || $crate::ids::is_valid_chosen(s));

        impl $name {
            /// A caller's choice of id, if it follows [`crate::ids::is_valid_chosen`].
            pub fn chosen(s: &str) -> Option<$name> {
                $crate::ids::is_valid_chosen(s).then(|| $name(s.to_string()))
            }
        }
    };
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $crate::ids::prefixed_id!($(#[$doc])* $name, $prefix, |s| $crate::ids::is_valid($prefix, s));
    };
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $valid:expr) => {
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

            /// `None` unless `s` is the prefix and 32 lowercase hex digits
            /// (or, for a type that takes chosen ids, a valid chosen id).
            pub fn parse(s: &str) -> Option<$name> {
                let valid: fn(&str) -> bool = $valid;
                valid(s).then(|| $name(s.to_string()))
            }

            /// The id as sent and stored.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        /// Only a valid id deserializes: stored JSON is checked too.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| serde::de::Error::custom(concat!("not a valid ", stringify!($name))))
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

    prefixed_id!(
        /// Generated or chosen.
        ChosenId,
        "cho_",
        chosen
    );

    #[test]
    fn chosen_ids() {
        for ok in ["ci-pipeline", "abc", "team.payments_2", "A1", "cho_0123456789abcdef0123456789abcdef"] {
            if ok.len() >= 3 {
                assert!(ChosenId::parse(ok).is_some(), "{ok}");
            }
        }
        for bad in ["", "ab", "-abc", ".abc", "a b c", "a/b/c", "ab%20", "é-abc", &"a".repeat(65)] {
            assert_eq!(ChosenId::parse(bad), None, "{bad}");
            assert_eq!(ChosenId::chosen(bad), None, "{bad}");
        }
        assert!(ChosenId::parse(&"a".repeat(64)).is_some());
        let generated = ChosenId::generate(&crate::ports::CountingRandom::default()).unwrap();
        assert!(generated.as_str().starts_with(ChosenId::PREFIX));
        assert_eq!(ChosenId::parse(generated.as_str()), Some(generated));
        assert!(TestId::parse("ci-pipeline").is_none(), "only types declared `chosen` take chosen ids");
    }
}
