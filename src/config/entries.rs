//! A mapping of named entries (users, API tokens, roles) that remembers what a plain map
//! would silently lose: a key written twice, and a key with nothing after it. Knowing
//! this while deserializing lets a valid file load in one parse; the positions of the
//! problems are looked up only when there is one to report.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use schemars::JsonSchema;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entries<T> {
    map: BTreeMap<String, T>,
    /// Keys that appeared more than once (the last value is kept).
    repeated: Vec<String>,
    /// Keys written with nothing after them (kept as the default value).
    empty: Vec<String>,
}

impl<T> Default for Entries<T> {
    fn default() -> Self {
        Entries {
            map: BTreeMap::new(),
            repeated: Vec::new(),
            empty: Vec::new(),
        }
    }
}

impl<T> Entries<T> {
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn repeated(&self) -> &[String] {
        &self.repeated
    }

    pub fn empty(&self) -> &[String] {
        &self.empty
    }
}

impl<T> Deref for Entries<T> {
    type Target = BTreeMap<String, T>;

    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl<'a, T> IntoIterator for &'a Entries<T> {
    type Item = (&'a String, &'a T);
    type IntoIter = std::collections::btree_map::Iter<'a, String, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.map.iter()
    }
}

impl<T> FromIterator<(String, T)> for Entries<T> {
    fn from_iter<I: IntoIterator<Item = (String, T)>>(iter: I) -> Self {
        Entries {
            map: iter.into_iter().collect(),
            ..Entries::default()
        }
    }
}

impl<T: Serialize> Serialize for Entries<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.map.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Entries<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for EntriesVisitor<T> {
            type Value = Entries<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Entries::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut read = Vec::with_capacity(access.size_hint().unwrap_or(0).min(4096));
                let mut empty = Vec::new();
                while let Some((key, value)) = access.next_entry::<String, Option<T>>()? {
                    if value.is_none() {
                        empty.push(key.clone());
                    }
                    read.push((key, value.unwrap_or_default()));
                }
                // The map is built in one pass from a sorted run, which costs less than
                // ten thousand insertions. A stable sort keeps repeats in reading order:
                // each one after the first is a repeat, and the last is the one kept.
                read.sort_by(|a, b| a.0.cmp(&b.0));
                let mut repeated = Vec::new();
                for pair in read.windows(2) {
                    if pair[0].0 == pair[1].0 {
                        repeated.push(pair[1].0.clone());
                    }
                }
                Ok(Entries {
                    map: read.into_iter().collect(),
                    repeated,
                    empty,
                })
            }
        }

        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for Entries<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        <BTreeMap<String, T>>::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <BTreeMap<String, T>>::json_schema(generator)
    }

    fn inline_schema() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_repeated_and_empty_keys() {
        let entries: Entries<BTreeMap<String, u32>> =
            serde_yaml::from_str("a: {x: 1}\nb:\na: {y: 2}\n").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries.repeated(), ["a"]);
        assert_eq!(entries.empty(), ["b"]);
        assert_eq!(entries["a"]["y"], 2);

        let thrice: Entries<BTreeMap<String, u32>> =
            serde_yaml::from_str("c: {}\na: {x: 1}\nb: {}\na: {y: 2}\na: {z: 3}\n").unwrap();
        assert_eq!(thrice.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(thrice.repeated(), ["a", "a"]);
        assert_eq!(thrice["a"].len(), 1);
        assert_eq!(thrice["a"]["z"], 3);
    }
}
