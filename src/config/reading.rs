//! Reading a desired-state file's text with serde-saphyr: the limits that make hostile
//! YAML (alias bombs, deep nesting, huge files) end in an error quickly, the text checks
//! made before parsing (size, encoding, nothing in it), and the wording of serde-saphyr's
//! errors as diagnostics with the file's name, line and column.

use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Error, MessageFormatter, UserMessageFormatter};

use super::source_map::{NodeAt, Position, SourceMap};
use super::{DesiredFile, Diagnostic};

/// The largest file read, checked before parsing. A real file of 10,000 people with 20
/// explicit grants each is 7 MB; this leaves room for several times that.
pub const MAX_FILE_BYTES: usize = 32 << 20;

/// How deep collections may nest. A desired file needs 4 (the file, `users`, one user,
/// `projects`); the limit leaves room for odd layouts without letting a document nested
/// 100,000 deep cost time or stack.
const MAX_DEPTH: usize = 32;

/// Parser events and nodes in one file. The 7 MB file of 10,000 people × 20 grants has
/// 460,000 events and 440,000 nodes; twice that is allowed. A file that holds or expands
/// to more is refused as soon as it passes the limit, before its values cost more
/// memory and time (and before a problem in each of them is reported and located).
const MAX_EVENTS: usize = 2_000_000;
pub(super) const MAX_NODES: usize = 1_000_000;

/// Events replayed from aliases over the whole file. Enough for each of 10,000 people
/// to alias a shared block of 10 grants (roles are the better way to share grants);
/// replaying is the slow part of reading an alias, and this much takes about 0.2 s, so
/// one big block aliased by thousands of entries (a billion-laughs file) is refused
/// that soon.
const MAX_REPLAYED_EVENTS: usize = 250_000;

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_events: MAX_EVENTS,
            max_nodes: MAX_NODES,
            max_total_scalar_bytes: MAX_FILE_BYTES,
            // The ratio rule would refuse ten thousand people aliasing one small
            // block; the replay limit below bounds the work an alias causes instead.
            enforce_alias_anchor_ratio: false,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_REPLAYED_EVENTS,
        },
        // The caller renders its own excerpt, for every diagnostic alike.
        with_snippet: false,
    }
}

#[cfg(test)]
pub fn options_for_tests() -> serde_saphyr::Options {
    options()
}

/// Parse `text` (already checked by [`check_text`]) into the file's types.
pub fn parse(text: &str) -> Result<DesiredFile, Error> {
    serde_saphyr::from_str_with_options(text, options())
}

/// A problem with the text as a whole, found before parsing.
pub fn check_text(display_path: &str, text: &str) -> Option<Diagnostic> {
    let message = if text.len() > MAX_FILE_BYTES {
        too_big(text.len())
    } else if !has_content(text) {
        "the file is empty: it needs at least `version: 1`".to_string()
    } else {
        return None;
    };
    Some(Diagnostic {
        file: display_path.to_string(),
        position: None,
        message,
    })
}

/// The message for a file of `bytes`, over [`MAX_FILE_BYTES`].
pub fn too_big(bytes: usize) -> String {
    format!(
        "the file is {:.1} MiB, over the limit of {} MiB for a desired-state file",
        bytes as f64 / f64::from(1 << 20),
        MAX_FILE_BYTES >> 20
    )
}

/// Whether anything but blank lines, comments and a byte order mark is written.
fn has_content(text: &str) -> bool {
    text.trim_start_matches('\u{feff}').lines().any(|line| {
        let line = line.trim();
        !line.is_empty() && !line.starts_with('#')
    })
}

/// `bytes` as text, or where the first byte that is not UTF-8 sits.
pub fn utf8(display_path: &str, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    String::from_utf8(bytes).map_err(|err| {
        let valid = &err.as_bytes()[..err.utf8_error().valid_up_to()];
        // Valid by construction; the fallback is never taken.
        let before = std::str::from_utf8(valid).unwrap_or_default();
        let line_start = before.rfind('\n').map_or(0, |at| at + 1);
        let position = Position {
            line: before.matches('\n').count() + 1,
            column: before[line_start..]
                .trim_start_matches('\u{feff}')
                .chars()
                .count()
                + 1,
        };
        Diagnostic {
            file: display_path.to_string(),
            position: Some(position),
            message: "not UTF-8 text: save the file as UTF-8".to_string(),
        }
    })
}

/// serde-saphyr's error as a diagnostic: its position, and a message that names the
/// node it is about.
pub fn diagnostic(display_path: &str, text: &str, err: &Error) -> Diagnostic {
    let position = err
        .location()
        .filter(|at| at.line() > 0)
        .map(|at| Position {
            line: usize::try_from(at.line()).unwrap_or(usize::MAX),
            column: usize::try_from(at.column()).unwrap_or(usize::MAX),
        });
    let inner = innermost(err);
    let message = match limit_message(inner) {
        Some(message) => message,
        None => {
            let message = worded(inner)
                .unwrap_or_else(|| sanitized(&UserMessageFormatter.format_message(inner)));
            match position {
                // Indexed only as far as the error: the rest may be anything.
                Some(at) => in_context(&SourceMap::build_until(text, Some(at)), at, inner, message),
                None => message,
            }
        }
    };
    Diagnostic {
        file: display_path.to_string(),
        position,
        message,
    }
}

/// The error itself, without the wrappers that add an excerpt or an alias's location.
fn innermost(mut err: &Error) -> &Error {
    loop {
        err = match err {
            Error::WithSnippet { error, .. } | Error::AliasError { error, .. } => error,
            other => return other,
        }
    }
}

/// The message for an error at `at`: a key written twice names both lines; any other
/// is prefixed with the path of the node, as `users.bob@acme.com.projects.Backend`.
fn in_context(source: &SourceMap, at: Position, err: &Error, message: String) -> String {
    let node = source.node_at(at);
    if let (Error::DuplicateMappingKey { .. }, Some(NodeAt::Key { keys, index, .. })) = (err, &node)
    {
        let (key, _) = &keys[*index];
        if let Some((_, first)) = keys[..*index].iter().find(|(other, _)| other == key) {
            return format!(
                "{key:?} is written twice in this mapping (first on line {})",
                first.line
            );
        }
    }
    let path = match node {
        Some(NodeAt::Key { mapping, .. }) => mapping,
        Some(NodeAt::Value(path)) => path,
        None => return message,
    };
    if path.is_empty() {
        message
    } else {
        format!("{}: {message}", path.join("."))
    }
}

/// Plainer words than the parser's for the mistakes a person makes most.
fn worded(err: &Error) -> Option<String> {
    let message = match err {
        Error::Unexpected { expected, .. } => match *expected {
            "mapping start" => "expected a mapping here (`key: value` lines, or `{...}`)",
            "sequence start" => "expected a list here (`- item` lines, or `[...]`)",
            "string scalar" => "expected a name here (plain or quoted text)",
            _ => return None,
        },
        Error::ExternallyTaggedEnumExpectedScalarOrMapping { .. } => {
            "expected a single word here, not a list or a mapping"
        }
        Error::InvalidScalar { ty, .. } if ty.starts_with('u') => {
            "expected a whole number here, 0 or more and in range"
        }
        Error::MultipleDocuments { .. } => {
            "a second YAML document (after `---`): a desired-state file holds one"
        }
        _ => return None,
    };
    Some(message.to_string())
}

/// The message for an error that a limit against hostile input raised.
fn limit_message(err: &Error) -> Option<String> {
    let aliases =
        "aliases expand to more than the file may hold: write the shared grants once, as a role";
    let message = match err {
        Error::Budget { breach, .. } => match breach {
            BudgetBreach::Depth { .. } => {
                format!("nested more than {MAX_DEPTH} levels deep; a desired-state file needs 4")
            }
            BudgetBreach::Events { .. } | BudgetBreach::Nodes { .. } => format!(
                "more than {} million nodes (with aliases expanded): too big for a desired-state file",
                MAX_NODES / 1_000_000
            ),
            BudgetBreach::ScalarBytes { .. } => format!(
                "more than {} MiB of text (with aliases expanded)",
                MAX_FILE_BYTES >> 20
            ),
            BudgetBreach::Aliases { .. }
            | BudgetBreach::Anchors { .. }
            | BudgetBreach::RecordedAnchorEvents { .. }
            | BudgetBreach::RecordedAnchorBytes { .. } => aliases.to_string(),
            other => format!("the file is too large or too complex to read ({other:?})"),
        },
        Error::AliasReplayLimitExceeded { .. }
        | Error::AliasExpansionLimitExceeded { .. }
        | Error::AliasReplayStackDepthExceeded { .. }
        | Error::AliasReplayCounterOverflow { .. } => aliases.to_string(),
        _ => return None,
    };
    Some(message)
}

/// `text` with control characters escaped: a message quotes the file, and is printed
/// on a terminal.
fn sanitized(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
