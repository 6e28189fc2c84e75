//! Where each key and value of a YAML document sits (line and column), so that errors
//! found after parsing (a duplicate email, an unknown project, an undefined role) can
//! point at the line that caused them, and a key written twice can name both lines. It
//! is built from the events of serde-saphyr's own parser (`granit_parser`, which
//! serde-saphyr re-exports), so positions agree with the ones serde-saphyr reports, and
//! only when there is a problem to locate: a valid file is parsed once.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser, Span};

/// A 1-based line and column (the column counts characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// The path of a node: mapping keys, and sequence indexes written as numbers.
pub type NodePath = Vec<String>;

/// Deeper than any desired-state file goes (the file's types nest five levels), and as
/// deep as the loader's own limit: the index stops there, so a hostile document cannot
/// make it copy long paths.
const MAX_DEPTH: usize = 64;

/// Positions of every mapping key and every value, by path; and the keys of each mapping
/// in document order, repeats included (a map type would keep only one). Hashed rather
/// than ordered: paths share long prefixes, which makes comparing them the cost of
/// building a tree of them.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    keys: HashMap<NodePath, Position>,
    values: HashMap<NodePath, Position>,
    mapping_keys: HashMap<NodePath, Vec<(String, Position)>>,
}

impl SourceMap {
    /// Index `text` as far as it parses: the part before a syntax error is indexed, so
    /// that an error there can still be located.
    pub fn build(text: &str) -> SourceMap {
        SourceMap::build_until(text, None)
    }

    /// Index `text` up to `end` and no further: enough to find what is written there,
    /// and a key's earlier occurrences, in the time the parser took to get there.
    pub fn build_until(text: &str, end: Option<Position>) -> SourceMap {
        let mut collector = Collector::default();
        let mut parser = Parser::new_from_str(text);
        while let Some(Ok((event, span))) = parser.next_event() {
            let past_end = end.is_some_and(|end| {
                (span.start.line(), span.start.col() + 1) > (end.line, end.column)
            });
            if past_end || !collector.on_event(event, span) {
                break;
            }
        }
        collector.finish()
    }

    /// Where the key at `path` is written (its first occurrence).
    pub fn key(&self, path: &[impl AsRef<str>]) -> Option<Position> {
        self.keys.get(&owned(path)).copied()
    }

    /// Where the value at `path` starts.
    pub fn value(&self, path: &[impl AsRef<str>]) -> Option<Position> {
        self.values.get(&owned(path)).copied()
    }

    /// The key if the path names a mapping entry, else the value (sequence items).
    pub fn locate(&self, path: &[impl AsRef<str>]) -> Option<Position> {
        self.key(path).or_else(|| self.value(path))
    }

    /// The keys of the mapping at `path`, in document order, repeats included.
    pub fn keys_of(&self, path: &[impl AsRef<str>]) -> &[(String, Position)] {
        self.mapping_keys
            .get(&owned(path))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// What is written at `at`: the mapping holding a key written there (with that key),
    /// or else the path of a value starting there.
    pub fn node_at(&self, at: Position) -> Option<NodeAt<'_>> {
        for (mapping, keys) in &self.mapping_keys {
            if let Some(index) = keys.iter().position(|(_, position)| *position == at) {
                return Some(NodeAt::Key {
                    mapping,
                    keys,
                    index,
                });
            }
        }
        self.values
            .iter()
            .find(|(_, position)| **position == at)
            .map(|(path, _)| NodeAt::Value(path))
    }
}

/// A node found by its position.
#[derive(Debug, PartialEq, Eq)]
pub enum NodeAt<'a> {
    /// The key `keys[index]` of the mapping at `mapping`.
    Key {
        mapping: &'a NodePath,
        keys: &'a [(String, Position)],
        index: usize,
    },
    /// A value, by its path.
    Value(&'a NodePath),
}

fn owned(path: &[impl AsRef<str>]) -> NodePath {
    path.iter()
        .map(|segment| segment.as_ref().to_string())
        .collect()
}

enum Frame {
    Mapping {
        path: NodePath,
        pending_key: Option<String>,
        /// This mapping's keys so far; moved into the map when it ends.
        keys: Vec<(String, Position)>,
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
            Some(Frame::Mapping {
                path,
                pending_key,
                keys,
            }) => match pending_key.take() {
                None => {
                    // A key. Complex (non-scalar) keys get a placeholder segment; the
                    // file's types reject them anyway.
                    let key = scalar.unwrap_or("<complex key>").to_string();
                    let mut key_path = path.clone();
                    key_path.push(key.clone());
                    self.map.keys.entry(key_path).or_insert(position);
                    keys.push((key.clone(), position));
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

    fn record_value(&mut self, path: NodePath, position: Position) {
        self.map.values.entry(path).or_insert(position);
    }

    /// A collection starts: returns false when it is nested too deep to index.
    fn open(&mut self, mapping: bool, position: Position) -> bool {
        if self.stack.len() >= MAX_DEPTH {
            return false;
        }
        // A collection used as a key still needs a frame, so that its end pops it.
        let path = self
            .start_node(None, position)
            .unwrap_or_else(|| vec!["<complex key>".to_string()]);
        self.record_value(path.clone(), position);
        self.stack.push(if mapping {
            Frame::Mapping {
                path,
                pending_key: None,
                keys: Vec::new(),
            }
        } else {
            Frame::Sequence {
                path,
                next_index: 0,
            }
        });
        true
    }

    /// A collection ends (or the text does, inside it).
    fn close(&mut self) {
        if let Some(Frame::Mapping { path, keys, .. }) = self.stack.pop() {
            self.map.mapping_keys.entry(path).or_default().extend(keys);
        }
    }

    /// Index one event; false to stop.
    fn on_event(&mut self, event: Event<'_>, span: Span) -> bool {
        let position = Position {
            line: span.start.line(),
            column: span.start.col() + 1,
        };
        match event {
            Event::Scalar(ref text, ..) => {
                if let Some(path) = self.start_node(Some(text), position) {
                    self.record_value(path, position);
                }
            }
            Event::Alias(_) => {
                if let Some(path) = self.start_node(None, position) {
                    self.record_value(path, position);
                }
            }
            Event::MappingStart(..) => return self.open(true, position),
            Event::SequenceStart(..) => return self.open(false, position),
            Event::MappingEnd | Event::SequenceEnd => self.close(),
            _ => {}
        }
        true
    }

    /// The index, with the keys of mappings still open where the text stopped.
    fn finish(mut self) -> SourceMap {
        while !self.stack.is_empty() {
            self.close();
        }
        self.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "version: 1\nusers:\n  Bob@acme.com:\n    projects: {Backend: admin}\n    roles: [dev, ops]\n  bob@acme.com: {}\n";

    fn at(line: usize, column: usize) -> Position {
        Position { line, column }
    }

    #[test]
    fn finds_keys_values_and_sequence_items() {
        let map = SourceMap::build(TEXT);
        assert_eq!(map.key(&["version"]), Some(at(1, 1)));
        assert_eq!(map.value(&["version"]), Some(at(1, 10)));
        assert_eq!(
            map.key(&["users", "Bob@acme.com", "projects", "Backend"]),
            Some(at(4, 16))
        );
        assert_eq!(
            map.locate(&["users", "Bob@acme.com", "roles", "1"]),
            Some(at(5, 18))
        );
    }

    #[test]
    fn keeps_every_key_in_order_including_repeats() {
        let map = SourceMap::build("a: 1\nb: 2\na: 3\n");
        let keys: Vec<_> = map
            .keys_of(&[] as &[&str])
            .iter()
            .map(|(key, at)| (key.as_str(), at.line))
            .collect();
        assert_eq!(keys, vec![("a", 1), ("b", 2), ("a", 3)]);
        assert_eq!(map.key(&["a"]), Some(at(1, 1)));
    }

    #[test]
    fn finds_the_node_at_a_position() {
        let map = SourceMap::build(TEXT);
        let users = vec!["users".to_string()];
        assert!(matches!(
            map.node_at(at(6, 3)),
            Some(NodeAt::Key { mapping, index: 1, .. }) if *mapping == users
        ));
        let roles = owned(&["users", "Bob@acme.com", "roles", "0"]);
        assert_eq!(map.node_at(at(5, 13)), Some(NodeAt::Value(&roles)));
        assert_eq!(map.node_at(at(9, 9)), None);
    }

    #[test]
    fn indexes_what_comes_before_a_syntax_error() {
        let map = SourceMap::build("version: 1\nusers: [unclosed\n");
        assert_eq!(map.key(&["version"]), Some(at(1, 1)));
        assert_eq!(map.key(&["users"]), Some(at(2, 1)));
    }

    #[test]
    fn an_index_up_to_a_position_holds_what_comes_before_it() {
        let map = SourceMap::build_until(TEXT, Some(at(4, 16)));
        assert_eq!(
            map.key(&["users", "Bob@acme.com", "projects", "Backend"]),
            Some(at(4, 16))
        );
        assert_eq!(map.key(&["users", "Bob@acme.com", "roles"]), None);
        assert_eq!(map.keys_of(&["users"]).len(), 1);
    }

    #[test]
    fn stops_at_a_depth_no_desired_file_reaches() {
        let deep = format!("a: {}1", "[".repeat(10_000));
        let map = SourceMap::build(&deep);
        assert_eq!(map.key(&["a"]), Some(at(1, 1)));
        let depth = map.values.keys().map(Vec::len).max().unwrap();
        assert!(depth < MAX_DEPTH, "{depth}");
    }

    #[test]
    fn a_byte_order_mark_takes_no_column() {
        let map = SourceMap::build("\u{feff}version: 1\n");
        assert_eq!(map.key(&["version"]), Some(at(1, 1)));
    }
}
