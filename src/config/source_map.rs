//! Where each key and value of a YAML document sits (line and column), so that errors
//! found after parsing (a duplicate email, an unknown project, an undefined role) can
//! point at the line that caused them. serde_yaml gives positions only for errors it
//! finds itself; this index is built from yaml-rust2's event stream over the same text.

use std::collections::{BTreeMap, BTreeSet};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// The path of a node: mapping keys, and sequence indexes written as numbers.
pub type NodePath = Vec<String>;

/// Positions of every mapping key and every value, by path; and the keys of each mapping
/// in document order, duplicates included (a map type would silently keep only one).
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    keys: BTreeMap<NodePath, Position>,
    values: BTreeMap<NodePath, Position>,
    mapping_keys: BTreeMap<NodePath, Vec<(String, Position)>>,
    /// Values written as YAML null (nothing, `~` or `null`, unquoted).
    nulls: BTreeSet<NodePath>,
}

impl SourceMap {
    /// Index `text`. A document that does not parse yields an empty index: the serde
    /// parse of the same text reports that error with its own position.
    pub fn build(text: &str) -> SourceMap {
        let mut collector = Collector::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut collector, false).is_err() {
            return SourceMap::default();
        }
        collector.map
    }

    /// Where the key at `path` is written.
    pub fn key(&self, path: &[&str]) -> Option<Position> {
        self.keys.get(&owned(path)).copied()
    }

    /// Where the value at `path` starts.
    pub fn value(&self, path: &[&str]) -> Option<Position> {
        self.values.get(&owned(path)).copied()
    }

    /// The key if the path names a mapping entry, else the value (sequence items).
    pub fn locate(&self, path: &[&str]) -> Option<Position> {
        self.key(path).or_else(|| self.value(path))
    }

    /// Whether the value at `path` is a YAML null.
    pub fn is_null(&self, path: &[&str]) -> bool {
        self.nulls.contains(&owned(path))
    }

    /// The keys of the mapping at `path`, in document order, duplicates included.
    pub fn keys_of(&self, path: &[&str]) -> &[(String, Position)] {
        self.mapping_keys
            .get(&owned(path))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

fn owned(path: &[&str]) -> NodePath {
    path.iter().map(|segment| segment.to_string()).collect()
}

enum Frame {
    Mapping {
        path: NodePath,
        pending_key: Option<String>,
    },
    Sequence {
        path: NodePath,
        next_index: usize,
    },
}

#[derive(Default)]
struct Collector {
    stack: Vec<Frame>,
    map: SourceMap,
}

impl Collector {
    /// Called at the start of every node. Returns the node's path when it is a value,
    /// or records it as a key and returns None.
    fn start_node(&mut self, scalar: Option<&str>, position: Position) -> Option<NodePath> {
        match self.stack.last_mut() {
            None => Some(Vec::new()),
            Some(Frame::Mapping { path, pending_key }) => match pending_key.take() {
                None => {
                    // A key. Complex (non-scalar) keys get a placeholder segment; serde
                    // rejects them for this file's types anyway.
                    let key = scalar.unwrap_or("<complex key>").to_string();
                    let mut key_path = path.clone();
                    key_path.push(key.clone());
                    self.map.keys.entry(key_path).or_insert(position);
                    self.map
                        .mapping_keys
                        .entry(path.clone())
                        .or_default()
                        .push((key.clone(), position));
                    *pending_key = Some(key);
                    None
                }
                Some(key) => {
                    let mut value_path = path.clone();
                    value_path.push(key);
                    Some(value_path)
                }
            },
            Some(Frame::Sequence { path, next_index }) => {
                let mut item_path = path.clone();
                item_path.push(next_index.to_string());
                *next_index += 1;
                Some(item_path)
            }
        }
    }

    fn record_value(&mut self, path: &NodePath, position: Position) {
        self.map.values.entry(path.clone()).or_insert(position);
    }
}

impl MarkedEventReceiver for Collector {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let position = Position {
            line: mark.line(),
            column: mark.col() + 1,
        };
        match event {
            Event::Scalar(ref text, style, ..) => {
                if let Some(path) = self.start_node(Some(text), position) {
                    self.record_value(&path, position);
                    let plain = style == TScalarStyle::Plain;
                    if plain && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
                        self.map.nulls.insert(path);
                    }
                }
            }
            Event::Alias(_) => {
                if let Some(path) = self.start_node(None, position) {
                    self.record_value(&path, position);
                }
            }
            Event::MappingStart(..) => {
                // A mapping used as a key still needs a frame so its end pops correctly.
                let path = self
                    .start_node(None, position)
                    .unwrap_or_else(|| vec!["<complex key>".to_string()]);
                self.record_value(&path, position);
                self.stack.push(Frame::Mapping {
                    path,
                    pending_key: None,
                });
            }
            Event::SequenceStart(..) => {
                let path = self
                    .start_node(None, position)
                    .unwrap_or_else(|| vec!["<complex key>".to_string()]);
                self.record_value(&path, position);
                self.stack.push(Frame::Sequence {
                    path,
                    next_index: 0,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "version: 1\nusers:\n  Bob@acme.com:\n    projects: {Backend: admin}\n    roles: [dev, ops]\n  bob@acme.com: {}\n";

    #[test]
    fn finds_keys_values_and_sequence_items() {
        let map = SourceMap::build(TEXT);
        assert_eq!(map.key(&["version"]), Some(Position { line: 1, column: 1 }));
        assert_eq!(
            map.value(&["version"]),
            Some(Position {
                line: 1,
                column: 10
            })
        );
        assert_eq!(
            map.key(&["users", "Bob@acme.com", "projects", "Backend"]),
            Some(Position {
                line: 4,
                column: 16
            })
        );
        assert_eq!(
            map.locate(&["users", "Bob@acme.com", "roles", "1"]),
            Some(Position {
                line: 5,
                column: 18
            })
        );
    }

    #[test]
    fn keeps_every_key_in_order_including_duplicates() {
        let map = SourceMap::build(TEXT);
        let users: Vec<_> = map
            .keys_of(&["users"])
            .iter()
            .map(|(key, at)| (key.as_str(), at.line))
            .collect();
        assert_eq!(users, vec![("Bob@acme.com", 3), ("bob@acme.com", 6)]);
    }

    #[test]
    fn unparsable_text_gives_an_empty_map() {
        let map = SourceMap::build("users: [unclosed\n");
        assert_eq!(map.key(&["users"]), None);
    }
}
