//! JSON objects read without tolerating duplicate members.
//!
//! RFC 7519 §4 says a JWT with duplicate claim names must be rejected (or only the last one
//! used); `serde_json::Map` silently keeps the last, so two parties reading "the same" claims
//! could disagree. The hostile-input corpus found that a token signed by us with a claim given
//! twice verified; this reader refuses it instead.

use std::fmt;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `bytes` as one JSON object whose top-level member names are all distinct.
pub(super) fn object_without_duplicates(
    bytes: &[u8],
) -> Result<Map<String, Value>, serde_json::Error> {
    serde_json::from_slice::<Strict>(bytes).map(|s| s.0)
}

struct Strict(Map<String, Value>);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Strict;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object without duplicate members")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Strict, A::Error> {
                let mut map = Map::new();
                while let Some((name, value)) = access.next_entry::<String, Value>()? {
                    if map.contains_key(&name) {
                        return Err(A::Error::custom("duplicate member"));
                    }
                    map.insert(name, value);
                }
                Ok(Strict(map))
            }
        }
        d.deserialize_map(Members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_members_are_refused_and_distinct_ones_kept() {
        assert!(object_without_duplicates(br#"{"aud":"a","aud":"a"}"#).is_err());
        assert!(object_without_duplicates(br#"{"aud":"a","x":1,"aud":"b"}"#).is_err());
        let map = object_without_duplicates(br#"{"aud":"a","x":{"y":1}}"#).unwrap();
        assert_eq!(map.len(), 2);
        assert!(object_without_duplicates(b"[1]").is_err());
    }
}
