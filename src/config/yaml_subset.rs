//! A fast path for the YAML that desired-state files are almost always written in:
//! block mappings and sequences, one-line flow collections, plain and simply quoted
//! scalars, comments, all in printable ASCII. A 10,000-user file loads here in a few
//! milliseconds, where serde_yaml takes some 25 (its libyaml parser alone takes 15).
//!
//! Anything outside that subset (anchors, tags, block scalars, escapes, multi-line
//! scalars, tabs, carriage returns, non-ASCII text, a value of an unexpected shape)
//! makes this path give up, and the caller parses with serde_yaml, which also words
//! every error. So this path only has to be right about the files it accepts: when it
//! returns a file, serde_yaml returns the same one. It mirrors serde_yaml's rules for
//! turning scalars into values (an empty value is an empty map or list, `~` and `null`
//! are "none", any scalar reads as a string), and a differential property test holds it
//! to that on generated and mangled files.
//!
//! The text is read as serde asks for it, with no tree in between: each value is
//! parsed where the file's types want it, so a big file costs no node per key.

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::DesiredFile;

/// Parse `text` if it is written in the subset; `None` sends the caller to serde_yaml.
pub fn parse(text: &str) -> Option<DesiredFile> {
    let newlines = printable_lines(text.as_bytes())?;
    let lines = content_lines(text, newlines + 1);
    let first = lines.first()?;
    if first.indent != 0 || first.is_item() {
        return None;
    }
    let mut parser = Parser { lines, next: 0 };
    let file = DesiredFile::deserialize(Value::BlockMap {
        parser: &mut parser,
        indent: 0,
    })
    .ok()?;
    (parser.next == parser.lines.len()).then_some(file)
}

/// The number of newlines, if the text is printable ASCII and newlines only: no tabs,
/// carriage returns, control characters or multi-byte text, whose rules differ in
/// corners this path need not know. Written without an early exit inside a chunk, so
/// that the compiler checks many bytes at once (a tenth of the time of `all`).
fn printable_lines(bytes: &[u8]) -> Option<usize> {
    let mut newlines = 0;
    // 255 bytes, so that a chunk's count fits the byte-wide lanes.
    for chunk in bytes.chunks(255) {
        let (mut count, mut outside) = (0u8, 0u8);
        for &byte in chunk {
            let newline = u8::from(byte == b'\n');
            count += newline;
            outside |= u8::from(byte.wrapping_sub(b' ') > b'~' - b' ') & (newline ^ 1);
        }
        if outside != 0 {
            return None;
        }
        newlines += usize::from(count);
    }
    Some(newlines)
}

/// A line with something on it besides a comment.
struct Line<'a> {
    indent: usize,
    /// The text after the indentation, comment included.
    content: &'a str,
}

impl Line<'_> {
    /// A block sequence entry (`- item`).
    fn is_item(&self) -> bool {
        self.content == "-" || self.content.starts_with("- ")
    }
}

fn content_lines(text: &str, at_most: usize) -> Vec<Line<'_>> {
    let mut lines = Vec::with_capacity(at_most);
    lines.extend(text.split('\n').filter_map(|line| {
        let content = line.trim_start_matches(' ');
        (!content.is_empty() && !content.starts_with('#')).then(|| Line {
            indent: line.len() - content.len(),
            content,
        })
    }));
    lines
}

#[derive(Debug, Clone, Copy)]
struct Scalar<'a> {
    text: &'a str,
    plain: bool,
}

const MAX_BLOCK_INDENT: usize = 64;
const MAX_FLOW_DEPTH: usize = 8;

/// The lines, and how far serde has read them.
struct Parser<'a> {
    lines: Vec<Line<'a>>,
    next: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Line<'a>> {
        self.lines.get(self.next)
    }

    /// What the value of a key written alone on its line, at column `indent`, is: a
    /// deeper block, a sequence at the key's own column, or nothing.
    fn block_value(&mut self, indent: usize) -> Value<'_, 'a> {
        match self.peek() {
            Some(next) if next.indent > indent && next.is_item() => {
                let indent = next.indent;
                Value::BlockSeq {
                    parser: self,
                    indent,
                    indentless: false,
                }
            }
            Some(next) if next.indent > indent => {
                let indent = next.indent;
                Value::BlockMap {
                    parser: self,
                    indent,
                }
            }
            Some(next) if next.indent == indent && next.is_item() => Value::BlockSeq {
                parser: self,
                indent,
                indentless: true,
            },
            _ => Value::Empty,
        }
    }

    /// How many entries of the block collection at column `indent` lie ahead: the keys
    /// of a mapping, or the dashes of a sequence (an indentless one ends at the next
    /// key). The exact size, so that a collection is allocated at its size: a map of
    /// one inbox per user would otherwise take room for four, ten thousand times over.
    fn count_ahead(&self, indent: usize, items: bool, indentless: bool) -> usize {
        self.lines[self.next..]
            .iter()
            .take_while(|line| {
                line.indent > indent || (line.indent == indent && (line.is_item() || !indentless))
            })
            .filter(|line| line.indent == indent && line.is_item() == items)
            .count()
    }
}

/// A value where serde asks for one: a scalar already read, or a collection read as
/// serde walks it, from the lines (block) or from the rest of a line (flow).
enum Value<'p, 'a> {
    /// Nothing after a key: YAML's empty plain scalar.
    Empty,
    Scalar(Scalar<'a>),
    /// A block mapping whose keys sit at column `indent`.
    BlockMap {
        parser: &'p mut Parser<'a>,
        indent: usize,
    },
    /// A block sequence whose dashes sit at column `indent`. An indentless one (at
    /// its key's column) ends at the next key; an indented one must not meet a key.
    BlockSeq {
        parser: &'p mut Parser<'a>,
        indent: usize,
        indentless: bool,
    },
    /// `[a, "b"]` on one line; `rest` starts after the bracket and is moved past the
    /// closing one.
    FlowSeq {
        rest: &'p mut &'a str,
        depth: usize,
    },
    /// `{a: b, "c": d}` on one line, read the same way.
    FlowMap {
        rest: &'p mut &'a str,
        depth: usize,
    },
}

/// Where a scalar stands, which decides the characters that end it.
#[derive(Clone, Copy, PartialEq)]
enum Context {
    Block,
    Flow,
}

/// A mapping key and what follows its colon (trimmed; empty when nothing but a comment).
fn key(content: &str) -> Option<(Scalar<'_>, &str)> {
    let (key, rest) = if content.starts_with(['"', '\'']) {
        let (key, rest) = quoted(content)?;
        (key, rest.strip_prefix(':')?)
    } else {
        let end = plain_end(content, Context::Block);
        let rest = content[end..].strip_prefix(':')?;
        let text = content[..end].trim_end_matches(' ');
        (plain(text)?, rest)
    };
    if !rest.is_empty() && !rest.starts_with(' ') {
        return None;
    }
    let rest = rest.trim_start_matches(' ');
    Some((key, if rest.starts_with('#') { "" } else { rest }))
}

/// A value written on the line of its key or dash (`text`, not empty, is the whole
/// rest of the line), read by `seed`.
fn inline_value<'de, T: DeserializeSeed<'de>>(text: &'de str, seed: T) -> Result<T::Value, GiveUp> {
    let (value, rest) = match text.as_bytes()[0] {
        b'[' | b'{' | b'"' | b'\'' => {
            let mut rest = text;
            let value = seed.deserialize(flow_value(&mut rest, 0)?)?;
            (value, rest)
        }
        _ => {
            let end = plain_end(text, Context::Block);
            if text[end..].starts_with(':') {
                return Err(GiveUp); // `a: b: c`, or a colon ending the value
            }
            let value = text[..end].trim_end_matches(' ');
            let scalar = plain(value).ok_or(GiveUp)?;
            (
                seed.deserialize(Value::Scalar(scalar))?,
                &text[value.len()..],
            )
        }
    };
    if line_end(rest) {
        Ok(value)
    } else {
        Err(GiveUp)
    }
}

/// Whether `rest` holds nothing but spaces and a comment set off by a space.
fn line_end(rest: &str) -> bool {
    let trimmed = rest.trim_start_matches(' ');
    trimmed.is_empty() || (trimmed.starts_with('#') && trimmed.len() < rest.len())
}

/// A scalar or a nested collection inside a flow collection (or starting an inline
/// value), at `rest`; a scalar moves `rest` past itself, a collection as it is read.
fn flow_value<'p, 'a>(rest: &'p mut &'a str, depth: usize) -> Result<Value<'p, 'a>, GiveUp> {
    // Deep nesting is no desired-state file's shape; the bound keeps the stack small.
    if depth > MAX_FLOW_DEPTH {
        return Err(GiveUp);
    }
    match rest.as_bytes().first().ok_or(GiveUp)? {
        b'[' => {
            *rest = &rest[1..];
            Ok(Value::FlowSeq {
                rest,
                depth: depth + 1,
            })
        }
        b'{' => {
            *rest = &rest[1..];
            Ok(Value::FlowMap {
                rest,
                depth: depth + 1,
            })
        }
        _ => {
            let (scalar, after) = flow_scalar(rest).ok_or(GiveUp)?;
            *rest = after;
            Ok(Value::Scalar(scalar))
        }
    }
}

/// How many entries the flow collection whose text starts at `text` (after its opening
/// bracket) holds: its commas outside quotes and nested collections, plus one. Only a
/// hint for allocation; the reading itself decides.
fn flow_count(text: &str) -> usize {
    let mut depth = 0;
    let mut quote = None;
    let mut commas = 0;
    for byte in text.bytes() {
        match (quote, byte) {
            (Some(open), _) if byte == open => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(byte),
            (None, b'[' | b'{') => depth += 1,
            (None, b']' | b'}') if depth == 0 => break,
            (None, b']' | b'}') => depth -= 1,
            (None, b',') if depth == 0 => commas += 1,
            _ => {}
        }
    }
    let empty = text.trim_start_matches(' ').starts_with([']', '}']);
    if empty {
        0
    } else {
        commas + 1
    }
}

/// A scalar inside a flow collection, and the text after it.
fn flow_scalar(text: &str) -> Option<(Scalar<'_>, &str)> {
    if text.starts_with(['"', '\'']) {
        return quoted(text);
    }
    let value = text[..plain_end(text, Context::Flow)].trim_end_matches(' ');
    Some((plain(value)?, &text[value.len()..]))
}
/// A quoted scalar closed on the same line, without escapes; and the text after it.
fn quoted(text: &str) -> Option<(Scalar<'_>, &str)> {
    let quote = text.as_bytes()[0];
    let close = 1 + text[1..].bytes().position(|b| b == quote)?;
    let inner = &text[1..close];
    let rest = &text[close + 1..];
    // `\` escapes in double quotes, `''` in single ones: left to serde_yaml.
    if (quote == b'"' && inner.contains('\\')) || (quote == b'\'' && rest.starts_with('\'')) {
        return None;
    }
    Some((
        Scalar {
            text: inner,
            plain: false,
        },
        rest,
    ))
}

/// Where a plain scalar starting at `text` stops: at a character outside the few this
/// path accepts, or at a colon followed by a space or the line's end. The caller
/// decides whether what stopped it is allowed there.
fn plain_end(text: &str, context: Context) -> usize {
    let bytes = text.as_bytes();
    for (at, &b) in bytes.iter().enumerate() {
        let accepted = b.is_ascii_alphanumeric()
            || matches!(b, b' ' | b'_' | b'.' | b'@' | b'+' | b'/' | b'-' | b'~')
            || (b == b',' && context == Context::Block)
            // A colon inside a plain scalar (`id:42`) only in block context, and only
            // when no space follows (a space would make it a key's colon).
            || (b == b':'
                && context == Context::Block
                && bytes.get(at + 1).is_some_and(|next| *next != b' '));
        if !accepted {
            return at;
        }
    }
    bytes.len()
}

/// A plain scalar, if it starts the way this path accepts (a letter, digit, `_` or
/// `~`: no indicator such as `-`, `&`, `*`, `!`, `|`, `>`, `%`, `@`, `?`).
fn plain(text: &str) -> Option<Scalar<'_>> {
    let first = *text.as_bytes().first()?;
    let accepted = first.is_ascii_alphanumeric() || matches!(first, b'_' | b'~');
    accepted.then_some(Scalar { text, plain: true })
}

/// The only error: "not in the subset, ask serde_yaml".
#[derive(Debug)]
struct GiveUp;

impl std::fmt::Display for GiveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("outside the YAML subset of the fast path")
    }
}

impl std::error::Error for GiveUp {}

impl de::Error for GiveUp {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        GiveUp
    }
}

impl<'a> Scalar<'a> {
    /// serde_yaml's reading of a plain `~`, `null`, `Null` or `NULL`.
    fn is_null(&self) -> bool {
        self.plain && matches!(self.text, "~" | "null" | "Null" | "NULL")
    }

    /// A plain decimal integer, as serde_yaml reads one (no sign, no leading zero).
    fn unsigned(&self) -> Option<u64> {
        let digits = self.text.as_bytes();
        let decimal = !digits.is_empty()
            && digits.iter().all(u8::is_ascii_digit)
            && (digits[0] != b'0' || digits.len() == 1);
        if self.plain && decimal {
            self.text.parse().ok()
        } else {
            None
        }
    }
}

// The Deserializer serves exactly the calls the file's types make, with serde_yaml's
// meaning for each; every other call gives up. A collection must be read to its end:
// a visitor that stopped early would leave text unread, so that gives up too.
impl<'de> de::Deserializer<'de> for Value<'_, 'de> {
    type Error = GiveUp;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, GiveUp> {
        Err(GiveUp)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        match self {
            Value::Scalar(scalar) => visitor.visit_borrowed_str(scalar.text),
            Value::Empty => visitor.visit_borrowed_str(""),
            _ => Err(GiveUp),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        self.deserialize_str(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        match self {
            Value::Scalar(scalar) => visitor.visit_u64(scalar.unsigned().ok_or(GiveUp)?),
            _ => Err(GiveUp),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        match self {
            Value::Empty => visitor.visit_none(),
            Value::Scalar(scalar) if scalar.is_null() => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        match self {
            Value::BlockSeq {
                parser,
                indent,
                indentless,
            } => {
                let mut items = BlockItems {
                    parser,
                    indent,
                    indentless,
                    ended: false,
                };
                let value = visitor.visit_seq(&mut items)?;
                items.ended.then_some(value).ok_or(GiveUp)
            }
            Value::FlowSeq { rest, depth } => {
                let mut items = Flow::new(rest, depth);
                let value = visitor.visit_seq(&mut items)?;
                (items.at == FlowAt::End).then_some(value).ok_or(GiveUp)
            }
            Value::Empty => visitor.visit_seq(Nothing),
            _ => Err(GiveUp),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        match self {
            // A desired file nests four levels deep; the bound keeps the stack small.
            Value::BlockMap { indent, .. } if indent > MAX_BLOCK_INDENT => Err(GiveUp),
            Value::BlockMap { parser, indent } => {
                let mut entries = BlockEntries {
                    parser,
                    indent,
                    value: None,
                    ended: false,
                };
                let value = visitor.visit_map(&mut entries)?;
                entries.ended.then_some(value).ok_or(GiveUp)
            }
            Value::FlowMap { rest, depth } => {
                let mut entries = Flow::new(rest, depth);
                let value = visitor.visit_map(&mut entries)?;
                (entries.at == FlowAt::End).then_some(value).ok_or(GiveUp)
            }
            Value::Empty => visitor.visit_map(Nothing),
            _ => Err(GiveUp),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GiveUp> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GiveUp> {
        match self {
            Value::Scalar(scalar) => {
                visitor.visit_enum(IntoDeserializer::<GiveUp>::into_deserializer(scalar.text))
            }
            _ => Err(GiveUp),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u128 f32 f64 char bytes byte_buf unit
        unit_struct newtype_struct tuple tuple_struct ignored_any
    }
}

/// The entries of a block sequence, one line each.
struct BlockItems<'p, 'a> {
    parser: &'p mut Parser<'a>,
    indent: usize,
    indentless: bool,
    ended: bool,
}

impl<'de> SeqAccess<'de> for BlockItems<'_, 'de> {
    type Error = GiveUp;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, GiveUp> {
        let content = match self.parser.peek() {
            Some(line) if line.indent > self.indent => return Err(GiveUp),
            Some(line) if line.indent == self.indent && line.is_item() => line.content,
            Some(line) if line.indent == self.indent && !self.indentless => return Err(GiveUp),
            _ => {
                self.ended = true;
                return Ok(None);
            }
        };
        let item = content[1..].trim_start_matches(' ');
        if item.is_empty() {
            return Err(GiveUp);
        }
        self.parser.next += 1;
        let value = inline_value(item, seed)?;
        if self
            .parser
            .peek()
            .is_some_and(|next| next.indent > self.indent)
        {
            return Err(GiveUp);
        }
        Ok(Some(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.parser.count_ahead(self.indent, true, self.indentless))
    }
}

/// The entries of a block mapping, a key per line.
struct BlockEntries<'p, 'a> {
    parser: &'p mut Parser<'a>,
    indent: usize,
    /// What followed the colon of the key just read.
    value: Option<&'a str>,
    ended: bool,
}

impl<'de> MapAccess<'de> for BlockEntries<'_, 'de> {
    type Error = GiveUp;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, GiveUp> {
        let content = match self.parser.peek() {
            Some(line) if line.indent < self.indent => None,
            Some(line) if line.indent > self.indent || line.is_item() => return Err(GiveUp),
            line => line.map(|line| line.content),
        };
        let Some(content) = content else {
            self.ended = true;
            return Ok(None);
        };
        let (key, rest) = key(content).ok_or(GiveUp)?;
        self.parser.next += 1;
        self.value = Some(rest);
        seed.deserialize(Value::Scalar(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GiveUp> {
        let rest = self.value.take().ok_or(GiveUp)?;
        if rest.is_empty() {
            return seed.deserialize(self.parser.block_value(self.indent));
        }
        let value = inline_value(rest, seed)?;
        // A deeper line after a value on the key's line would continue it.
        if self
            .parser
            .peek()
            .is_some_and(|next| next.indent > self.indent)
        {
            return Err(GiveUp);
        }
        Ok(value)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.parser.count_ahead(self.indent, false, false))
    }
}

/// Where the reading of a flow collection stands.
#[derive(Clone, Copy, PartialEq)]
enum FlowAt {
    /// Just after the opening bracket.
    Start,
    /// After an entry: a comma or the closing bracket comes next.
    Entry,
    /// After the closing bracket.
    End,
}

/// The entries of a one-line flow collection, `[...]` read as a sequence, `{...}` as a
/// mapping: `rest` starts after the opening bracket and is moved as they are read.
struct Flow<'p, 'a> {
    rest: &'p mut &'a str,
    depth: usize,
    at: FlowAt,
}

impl<'p, 'a> Flow<'p, 'a> {
    fn new(rest: &'p mut &'a str, depth: usize) -> Self {
        Flow {
            rest,
            depth,
            at: FlowAt::Start,
        }
    }

    /// Moves `rest` to the next entry, past the comma before it; false, past the
    /// bracket, when the collection ends there.
    fn next(&mut self, close: char) -> Result<bool, GiveUp> {
        let trimmed = self.rest.trim_start_matches(' ');
        let next = match self.at {
            FlowAt::End => return Ok(false),
            _ if trimmed.starts_with(close) => {
                *self.rest = &trimmed[1..];
                self.at = FlowAt::End;
                return Ok(false);
            }
            FlowAt::Start => trimmed,
            FlowAt::Entry => trimmed
                .strip_prefix(',')
                .ok_or(GiveUp)?
                .trim_start_matches(' '),
        };
        *self.rest = next;
        self.at = FlowAt::Entry;
        Ok(true)
    }

    /// The count of entries, before the first is read.
    fn size_hint(&self) -> Option<usize> {
        (self.at == FlowAt::Start).then(|| flow_count(self.rest))
    }
}

impl<'de> SeqAccess<'de> for Flow<'_, 'de> {
    type Error = GiveUp;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, GiveUp> {
        if !self.next(']')? {
            return Ok(None);
        }
        seed.deserialize(flow_value(self.rest, self.depth)?)
            .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Flow::size_hint(self)
    }
}

impl<'de> MapAccess<'de> for Flow<'_, 'de> {
    type Error = GiveUp;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, GiveUp> {
        if !self.next('}')? {
            return Ok(None);
        }
        let (key, after) = flow_scalar(self.rest).ok_or(GiveUp)?;
        *self.rest = after
            .strip_prefix(": ")
            .ok_or(GiveUp)?
            .trim_start_matches(' ');
        seed.deserialize(Value::Scalar(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GiveUp> {
        seed.deserialize(flow_value(self.rest, self.depth)?)
    }

    fn size_hint(&self) -> Option<usize> {
        Flow::size_hint(self)
    }
}

/// The empty sequence or mapping that an empty value reads as.
struct Nothing;

impl<'de> SeqAccess<'de> for Nothing {
    type Error = GiveUp;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        _seed: T,
    ) -> Result<Option<T::Value>, GiveUp> {
        Ok(None)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(0)
    }
}

impl<'de> MapAccess<'de> for Nothing {
    type Error = GiveUp;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        _seed: K,
    ) -> Result<Option<K::Value>, GiveUp> {
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, _seed: V) -> Result<V::Value, GiveUp> {
        Err(GiveUp)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(0)
    }
}

#[cfg(test)]
mod tests {
    //! The fast path is held to serde_yaml: on every file it accepts, it must read what
    //! serde_yaml reads. Files come from a generator driven by a tape of choices (0 is
    //! always the plainest), so proptest shrinks a failure to a short, plain file.

    use super::*;
    use proptest::prelude::*;

    /// Tokens for keys and names, tricky ones included: YAML-typed words, indicators,
    /// colons, comment marks, quotes, escapes, tabs, non-ASCII, spaces at the ends.
    const NAMES: &[&str] = &[
        "alice@acme.com",
        "Bob.Smith+ops@acme.io",
        "ops",
        "Backend",
        "Backend/Staging",
        "Project 0/Inbox 1",
        "id:42",
        "id: 42",
        "a  b",
        "123",
        "0x1F",
        "012",
        "null",
        "~",
        "Null",
        "yes",
        "true",
        "a#b",
        "a # b",
        "-a",
        "a:b",
        "a: b",
        "@x",
        "é",
        "t\tab",
        "it's",
        "it''s",
        "back\\slash",
        "",
        " lead",
        "trail ",
        "[x]",
        "{x}",
        "a,b",
        "&a",
        "*a",
        "!t",
        "|",
        ">",
        "%x",
        "?",
        "version",
        "roles",
        "users",
        "x\"y",
    ];
    const LEVELS: &[&str] = &[
        "viewer",
        "admin",
        "Admin",
        "owner",
        "null",
        "~",
        "",
        "10",
        "\"admin\"",
        "'viewer'",
        "viewer # c",
        "admin#c",
        "[admin]",
        "{a: b}",
        "admin: x",
        "Null",
        "NULL",
        "\"null\"",
    ];
    const NUMBERS: &[&str] = &[
        "1",
        "2",
        "1111111",
        "0",
        "01",
        "\"1\"",
        "+1",
        "1.0",
        "",
        "0x1",
        "-1",
        "~",
        "99999999999999999999",
        "1 # c",
        "4294967296",
    ];
    const POLICIES: &[&str] = &[
        "ignore",
        "remove",
        "Remove",
        "\"remove\"",
        "",
        "null",
        "'ignore'",
    ];
    const SPICE: &[&str] = &["", "# note", "", "   # indented note", "", "  ", ""];

    struct Tape<'t> {
        choices: &'t [u32],
        at: usize,
    }

    impl Tape<'_> {
        fn pick(&mut self, n: usize) -> usize {
            let choice = self.choices.get(self.at).copied().unwrap_or(0);
            self.at += 1;
            choice as usize % n
        }

        fn one<'v>(&mut self, values: &[&'v str]) -> &'v str {
            values[self.pick(values.len())]
        }

        /// Mostly one of the first `usual` values, now and then any: files are mostly
        /// written plainly, and a file with one odd spot is the interesting case.
        fn mostly<'v>(&mut self, values: &[&'v str], usual: usize) -> &'v str {
            if self.pick(6) == 0 {
                self.one(values)
            } else {
                self.one(&values[..usual])
            }
        }

        /// A name as written: plain, double-quoted or single-quoted.
        fn name(&mut self) -> String {
            let name = self.mostly(NAMES, 6);
            match self.pick(4) {
                0 | 1 => name.to_string(),
                2 => format!("\"{name}\""),
                _ => format!("'{name}'"),
            }
        }

        fn spice(&mut self, out: &mut String) {
            let line = self.one(SPICE);
            if !line.is_empty() {
                out.push_str(line);
                out.push('\n');
            }
        }
    }

    fn generate(choices: &[u32]) -> String {
        let mut tape = Tape { choices, at: 0 };
        let step = 1 + tape.pick(4);
        let mut out = String::new();
        let mut keys = vec![
            "version",
            "account_id",
            "min_account_admins",
            "unmanaged",
            "roles",
            "users",
            "api_tokens",
            "bogus",
        ];
        // An unknown key is rare: it sends the whole file to serde_yaml.
        if tape.pick(8) > 0 {
            keys.pop();
        }
        let count = 1 + tape.pick(keys.len() - 1);
        for _ in 0..count {
            tape.spice(&mut out);
            let key = keys.remove(tape.pick(keys.len()));
            match key {
                "version" | "account_id" | "min_account_admins" | "bogus" => {
                    let value = if key == "version" && tape.pick(3) > 0 {
                        "1"
                    } else {
                        tape.mostly(NUMBERS, 3)
                    };
                    out.push_str(&format!("{key}: {value}\n"));
                }
                "unmanaged" => out.push_str(&format!("unmanaged: {}\n", tape.mostly(POLICIES, 2))),
                _ => entries(&mut tape, key, step, &mut out),
            }
        }
        mutate(&mut tape, out)
    }

    fn entries(tape: &mut Tape, key: &str, step: usize, out: &mut String) {
        match tape.pick(6) {
            0..=2 => {
                out.push_str(&format!("{key}:\n"));
                for _ in 0..tape.pick(4) {
                    tape.spice(out);
                    let name = tape.name();
                    out.push_str(&format!("{}{name}:", " ".repeat(step)));
                    grants(tape, step, step * 2, out);
                }
            }
            3 => out.push_str(&format!("{key}: {{}}\n")),
            4 => out.push_str(&format!("{key}:\n")),
            _ => out.push_str(&format!("{key}: {{{}: {{}}}}\n", tape.name())),
        }
    }

    fn grants(tape: &mut Tape, step: usize, indent: usize, out: &mut String) {
        match tape.pick(5) {
            0..=2 => {}
            3 => {
                out.push_str(" {}\n");
                return;
            }
            _ => {
                out.push_str(&format!(
                    " {}\n",
                    tape.one(&[
                        "null",
                        "~",
                        "",
                        "# nothing",
                        "[]",
                        "x",
                        "Null",
                        "NULL",
                        "nULL",
                        "'~'"
                    ])
                ));
                return;
            }
        }
        out.push('\n');
        let pad = " ".repeat(indent);
        let mut fields = vec![
            "roles",
            "account",
            "billing",
            "email_campaigns",
            "projects",
            "inboxes",
            "sending_domains",
            "other",
        ];
        if tape.pick(8) > 0 {
            fields.pop();
        }
        for _ in 0..tape.pick(5) {
            tape.spice(out);
            let field = fields.remove(tape.pick(fields.len()));
            match field {
                "roles" => match tape.pick(4) {
                    0 => {
                        let names: Vec<String> = (0..tape.pick(3)).map(|_| tape.name()).collect();
                        out.push_str(&format!("{pad}roles: [{}]\n", names.join(", ")));
                    }
                    choice => {
                        // Indented (1, 2) or indentless (3) block sequence.
                        out.push_str(&format!("{pad}roles:\n"));
                        let dash = if choice == 3 {
                            pad.clone()
                        } else {
                            " ".repeat(indent + step)
                        };
                        for _ in 0..tape.pick(3) {
                            let name = tape.name();
                            out.push_str(&format!("{dash}- {name}\n"));
                        }
                    }
                },
                "account" | "billing" | "email_campaigns" | "other" => {
                    out.push_str(&format!("{pad}{field}: {}\n", tape.mostly(LEVELS, 2)));
                }
                _ => {
                    if tape.pick(2) == 0 {
                        let pairs: Vec<String> = (0..tape.pick(3))
                            .map(|_| format!("{}: {}", tape.name(), tape.mostly(LEVELS, 2)))
                            .collect();
                        out.push_str(&format!("{pad}{field}: {{{}}}\n", pairs.join(", ")));
                    } else {
                        out.push_str(&format!("{pad}{field}:\n"));
                        for _ in 0..tape.pick(3) {
                            let name = tape.name();
                            let level = tape.mostly(LEVELS, 2);
                            out.push_str(&format!(
                                "{}{name}: {level}\n",
                                " ".repeat(indent + step)
                            ));
                        }
                    }
                }
            }
        }
    }

    /// A few character edits, rarer than not: near-valid files reach deepest.
    fn mutate(tape: &mut Tape, text: String) -> String {
        let edits = [0, 0, 0, 1, 2][tape.pick(5)];
        edit(tape, text, edits)
    }

    fn edit(tape: &mut Tape, text: String, edits: usize) -> String {
        let mut bytes = text.into_bytes();
        for _ in 0..edits {
            let edits = b" :-#\"'[]{},\n\t&*!|>?x0";
            let byte = edits[tape.pick(edits.len())];
            let at = tape.pick(bytes.len() + 1);
            match tape.pick(3) {
                0 => bytes.insert(at, byte),
                1 if at < bytes.len() => bytes[at] = byte,
                _ if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => {}
            }
        }
        String::from_utf8(bytes).unwrap_or_default()
    }

    fn serde_yaml_reads(text: &str) -> Option<DesiredFile> {
        serde_yaml::from_str(text).ok()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn an_accepted_file_reads_as_serde_yaml_reads_it(
            choices in proptest::collection::vec(any::<u32>(), 0..300)
        ) {
            let text = generate(&choices);
            if let Some(fast) = parse(&text) {
                prop_assert_eq!(serde_yaml_reads(&text), Some(fast), "{}", text);
            }
        }
    }

    const EXAMPLE: &str = include_str!("../../examples/mailtrap-access.yaml");

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn an_accepted_edit_of_the_example_reads_as_serde_yaml_reads_it(
            choices in proptest::collection::vec(any::<u32>(), 1..40)
        ) {
            let mut tape = Tape { choices: &choices, at: 0 };
            let edits = 1 + tape.pick(4);
            let text = edit(&mut tape, EXAMPLE.to_string(), edits);
            if let Some(fast) = parse(&text) {
                prop_assert_eq!(serde_yaml_reads(&text), Some(fast), "{}", text);
            }
        }
    }

    /// The first property proves something only if the generator reaches both sides:
    /// files the fast path takes, and files it leaves to serde_yaml.
    #[test]
    fn the_generator_reaches_both_paths_and_valid_files() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(6);
        let (mut fast, mut fallback, mut valid_fast, mut missed) = (0, 0, 0, 0);
        for _ in 0..2000 {
            let choices: Vec<u32> = (0..300).map(|_| rng.random()).collect();
            let text = generate(&choices);
            match parse(&text) {
                Some(file) => {
                    fast += 1;
                    valid_fast += usize::from(!file.users.is_empty() || !file.roles.is_empty());
                    assert_eq!(serde_yaml_reads(&text), Some(file), "{text}");
                }
                None => {
                    fallback += 1;
                    if serde_yaml_reads(&text).is_some() {
                        missed += 1;
                        if std::env::var_os("SHOW_MISSED").is_some() {
                            eprintln!("----\n{text}");
                        }
                    }
                }
            }
        }
        eprintln!("fast {fast} (with entries {valid_fast}), fallback {fallback} (valid for serde_yaml {missed})");
        assert!(
            fast > 200 && fallback > 200 && valid_fast > 50,
            "{fast} {fallback} {valid_fast}"
        );
    }

    #[test]
    fn the_example_and_the_benchmark_shape_take_the_fast_path() {
        let bench_shape = "version: 1\naccount_id: 1111111\nroles:\n  span-0:\n    inboxes:\n      \"Project 0/Inbox 1\": viewer\nusers:\n  user0@bench.io:\n    account: admin\n    roles: [span-0]\n    inboxes: {\"Project 0/Inbox 0\": admin}\n";
        for text in [EXAMPLE, bench_shape] {
            let fast = parse(text).expect("written in the subset");
            assert_eq!(serde_yaml_reads(text), Some(fast));
        }
    }

    #[test]
    fn the_malformed_corpus_and_the_fixtures_read_alike_or_go_to_serde_yaml() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        let mut files = 0;
        for dir in ["corpus/desired", "fixtures/plan"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue; // the corpus holds a file that is not UTF-8
                };
                files += 1;
                if let Some(fast) = parse(&text) {
                    assert_eq!(serde_yaml_reads(&text), Some(fast), "{}", path.display());
                }
            }
        }
        assert!(files > 40, "{files}");
    }

    /// The byte scan works on 255-byte chunks: a byte outside the subset must be
    /// caught wherever it falls, at either edge of a chunk or in the short last one.
    #[test]
    fn a_byte_outside_printable_ascii_is_caught_in_any_chunk() {
        let text = "key: value\n".repeat(60); // 660 bytes: two whole chunks and a part
        assert_eq!(printable_lines(text.as_bytes()), Some(60));
        for at in [0, 254, 255, 509, 510, 659] {
            for outside in [b'\t', b'\r', 0x7f, 0xc3, 0] {
                let mut bytes = text.clone().into_bytes();
                bytes[at] = outside;
                assert_eq!(printable_lines(&bytes), None, "{outside:#x} at {at}");
            }
        }
    }

    /// Block collections are allocated at their size from a count of the lines ahead;
    /// flow ones from a count of their top-level commas. Both are hints, but a wrong
    /// one would go unnoticed but for the memory it costs.
    #[test]
    fn collections_are_counted_before_they_are_read() {
        let text = "a:\n  b: 1\n  c:\n    d: 2\n  # note\n  e: [x]\nf:\n- 1\n- 2\ng: 3\n";
        let lines = content_lines(text, 0);
        let at = |line: usize| Parser {
            lines: content_lines(text, 0),
            next: line,
        };
        assert_eq!(lines.len(), 9); // the comment line is not one
        assert_eq!(at(0).count_ahead(0, false, false), 3); // a, f, g, not f's items
        assert_eq!(at(1).count_ahead(2, false, false), 3); // b, c, e
        assert_eq!(at(3).count_ahead(4, false, false), 1); // d
        assert_eq!(at(6).count_ahead(0, true, true), 2); // f's items, up to g
        for (flow, count) in [
            ("]", 0),
            ("  }", 0),
            ("x]", 1),
            ("x, y, z] # a, b", 3),
            ("\"a, b\", 'c, d', [e, f], {g: h, i: j}]", 4),
            ("a: b, c: d}", 2),
        ] {
            assert_eq!(flow_count(flow), count, "{flow}");
        }
    }

    /// The counts reach serde as size hints: a list is allocated at its length, in flow
    /// style, in an indentless block and in an indented one (without them a one-role
    /// list takes room for four).
    #[test]
    fn lists_are_allocated_at_their_length() {
        let text = "version: 1\nusers:\n  a@x.io:\n    roles: [r1, r2, r3]\n  b@x.io:\n    roles:\n    - r1\n    - r2\n    - r3\n    - r4\n    - r5\n    account: admin\n  c@x.io:\n    roles:\n      - r1\n";
        let file = parse(text).expect("written in the subset");
        let sizes: Vec<(usize, usize)> = file
            .users
            .values()
            .map(|grants| (grants.roles.len(), grants.roles.capacity()))
            .collect();
        assert_eq!(sizes, [(3, 3), (5, 5), (1, 1)]);
    }

    #[test]
    fn what_the_subset_leaves_to_serde_yaml() {
        for text in [
            "version: 1\nusers: &u {}\n",                // anchor
            "version: 1\n---\nversion: 1\n",             // two documents
            "version: 1\nusers:\n  \"a\\u0040b\": {}\n", // escape
            "version: 1\nusers:\n\tbob@x.io: {}\n",      // tab
            "version: 1\r\n",                            // carriage return
            "version: 1\nusers:\n  zoë@x.io: {}\n",      // non-ASCII
            "version: 1\nusers:\n  bob@x.io:\n    account: admin\n     billing: viewer\n", // bad indent
            "version: 1\nunmanaged: remove\n  extra\n", // continuation line
            "version: 1\nusers:\n  'o''brien@x.io': {}\n", // quote escape
            "version: 1\nusers:\n  bob@x.io:\n    roles:\n    - a\n    account: admin\n  - b\n", // dash out of place
        ] {
            assert!(parse(text).is_none(), "{text}");
        }
    }
}
