//! A small map from resource names to levels, as a person's grants hold them: one sorted
//! list rather than a tree. A big file holds a map or two of one or two names for each of
//! ten thousand users, and a tree allocates room for eleven entries in each.

use std::fmt;
use std::marker::PhantomData;

use schemars::JsonSchema;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Names and their values in name order, each name once: a name written twice keeps
/// the value written last, as a `BTreeMap` would, and the file reads the same either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameMap<V>(Vec<(String, V)>);

impl<V> Default for NameMap<V> {
    fn default() -> Self {
        NameMap(Vec::new())
    }
}

impl<V> NameMap<V> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&String, &V)> {
        self.0.iter().map(|(name, value)| (name, value))
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &String> {
        self.0.iter().map(|(name, _)| name)
    }

    pub fn get(&self, name: &str) -> Option<&V> {
        let found = self
            .0
            .binary_search_by(|(other, _)| other.as_str().cmp(name));
        found.ok().map(|at| &self.0[at].1)
    }

    /// Set `name` to `value`, returning the value it replaces.
    pub fn insert(&mut self, name: String, value: V) -> Option<V> {
        match self.0.binary_search_by(|(other, _)| other.cmp(&name)) {
            Ok(at) => Some(std::mem::replace(&mut self.0[at].1, value)),
            Err(at) => {
                self.0.insert(at, (name, value));
                None
            }
        }
    }
}

impl<V> FromIterator<(String, V)> for NameMap<V> {
    /// Entries in any order; of a name given twice, the later value is kept.
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        let mut entries: Vec<(String, V)> = iter.into_iter().collect();
        // A stable sort keeps repeats in the order given; reversed first, the last one
        // given comes first among its repeats, and `dedup_by` keeps the first.
        entries.reverse();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, first| later.0 == first.0);
        entries.shrink_to_fit();
        NameMap(entries)
    }
}

impl<'a, V> IntoIterator for &'a NameMap<V> {
    type Item = (&'a String, &'a V);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, (String, V)>, fn(&'a (String, V)) -> Self::Item>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(name, value)| (name, value))
    }
}

impl<V: Serialize> Serialize for NameMap<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for NameMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameMapVisitor<V>(PhantomData<V>);

        // Accepts exactly what serde's own map visitor accepts, so that replacing a
        // `BTreeMap` with this changes no file's meaning and no error.
        impl<'de, V: Deserialize<'de>> Visitor<'de> for NameMapVisitor<V> {
            type Value = NameMap<V>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(1024));
                while let Some(entry) = access.next_entry::<String, V>()? {
                    entries.push(entry);
                }
                Ok(entries.into_iter().collect())
            }
        }

        deserializer.deserialize_map(NameMapVisitor(PhantomData))
    }
}

impl<V: JsonSchema> JsonSchema for NameMap<V> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        <std::collections::BTreeMap<String, V>>::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <std::collections::BTreeMap<String, V>>::json_schema(generator)
    }

    fn inline_schema() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn reads_writes_and_keeps_the_last_of_a_repeated_name_as_a_tree_does() {
        let text = "b: 2\na: 1\nb: 3\nc: 4\nb: 5\n";
        let map: NameMap<u32> = serde_yaml::from_str(text).unwrap();
        let tree: BTreeMap<String, u32> = serde_yaml::from_str(text).unwrap();
        assert_eq!(
            map.iter().collect::<Vec<_>>(),
            tree.iter().collect::<Vec<_>>()
        );
        assert_eq!(map.0.capacity(), 3);
        assert_eq!(
            serde_yaml::to_string(&map).unwrap(),
            serde_yaml::to_string(&tree).unwrap()
        );
        assert_eq!(
            map.iter().find(|(name, _)| *name == "b"),
            Some((&"b".to_string(), &5))
        );
    }

    #[test]
    fn insert_keeps_names_in_order_and_replaces() {
        let mut map = NameMap::default();
        assert_eq!(map.insert("b".to_string(), 1), None);
        assert_eq!(map.insert("a".to_string(), 2), None);
        assert_eq!(map.insert("b".to_string(), 3), Some(1));
        assert_eq!(
            map.iter().collect::<Vec<_>>(),
            [(&"a".to_string(), &2), (&"b".to_string(), &3)]
        );
    }

    #[test]
    fn rejects_what_a_tree_rejects() {
        for text in ["[a, b]", "x", "a: [1]", "~"] {
            let map = serde_yaml::from_str::<NameMap<u32>>(text).map_err(|err| err.to_string());
            let tree =
                serde_yaml::from_str::<BTreeMap<String, u32>>(text).map_err(|err| err.to_string());
            assert_eq!(map.map(|_| ()), tree.map(|_| ()), "{text}");
        }
    }
}
