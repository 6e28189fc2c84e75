//! The line a diagnostic points at, with a caret under its column, as rustc shows it:
//! for a person at a terminal. Logs and annotations get the one-line form only.

use std::collections::BTreeMap;

use super::{ConfigError, Position};

/// Characters of a long line shown on each side of the column (a file written as one
/// line of flow YAML can be megabytes wide).
const CONTEXT: usize = 60;

/// The excerpt of `text` at `at`: a gutter line, the line itself, and the caret.
/// None when the line is not in `text`.
pub fn excerpt(text: &str, at: Position) -> Option<Vec<String>> {
    // `lines` leaves the carriage return of a CRLF file on the line.
    let line = text.lines().nth(at.line.checked_sub(1)?)?;
    let line = line.strip_suffix('\r').unwrap_or(line);
    let line = if at.line == 1 {
        line.trim_start_matches('\u{feff}')
    } else {
        line
    };
    let chars: Vec<char> = line.chars().collect();
    let column = at.column.max(1) - 1;
    let start = column.saturating_sub(CONTEXT);
    let end = chars.len().min(column + CONTEXT);
    let mut shown = String::new();
    let mut under = String::new();
    if start > 0 {
        shown.push_str("...");
        under.push_str("   ");
    }
    for (index, &c) in chars.iter().enumerate().take(end).skip(start) {
        // A tab stays a tab on both lines, so the caret lines up however it is shown;
        // other control characters would act on the terminal, so they are replaced.
        let shown_as = if c == '\t' {
            '\t'
        } else if c.is_control() {
            '\u{fffd}'
        } else {
            c
        };
        shown.push(shown_as);
        if index < column {
            under.push(if c == '\t' { '\t' } else { ' ' });
        }
    }
    if end < chars.len() {
        shown.push_str("...");
    }
    let number = at.line.to_string();
    let gutter = " ".repeat(number.len());
    Some(vec![
        format!("{gutter} |"),
        format!("{number} | {shown}"),
        format!("{gutter} | {under}^"),
    ])
}

/// The `error: ` lines for `err` with, after each diagnostic that has a position, the
/// excerpt of its file. `read` gives a file's text by its display path: the files are
/// read again for this, only when errors are shown to a person.
pub fn annotated(err: &ConfigError, read: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut texts: BTreeMap<&str, Option<String>> = BTreeMap::new();
    let mut lines = Vec::new();
    let diagnostics = err.diagnostics();
    if diagnostics.is_empty() {
        return err
            .to_string()
            .lines()
            .map(|line| format!("error: {line}"))
            .collect();
    }
    for diagnostic in diagnostics {
        lines.push(format!("error: {diagnostic}"));
        let Some(at) = diagnostic.position else {
            continue;
        };
        let text = texts
            .entry(&diagnostic.file)
            .or_insert_with(|| read(&diagnostic.file));
        if let Some(excerpt) = text.as_deref().and_then(|text| excerpt(text, at)) {
            lines.extend(excerpt);
        }
    }
    lines
}

/// A file's text for [`annotated`], read from disk; None if it cannot be read.
pub fn read_lossy(path: &str) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Diagnostic;

    fn at(line: usize, column: usize) -> Position {
        Position { line, column }
    }

    #[test]
    fn a_caret_under_the_column() {
        let text = "version: 1\nusers:\n  bob@acme.com:\n    projects: {Backnd: admin}\n";
        assert_eq!(
            excerpt(text, at(4, 16)).unwrap(),
            [
                "  |",
                "4 |     projects: {Backnd: admin}",
                "  |                ^",
            ]
        );
        assert_eq!(excerpt(text, at(9, 1)), None);
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(excerpt(&crlf, at(4, 16)), excerpt(text, at(4, 16)));
        assert_eq!(excerpt(text, at(0, 1)), None);
    }

    #[test]
    fn wide_characters_tabs_and_control_characters_keep_the_caret_in_place() {
        let text = "é\tx: \u{1b}[31m y\n";
        let lines = excerpt(text, at(1, 10)).unwrap();
        assert_eq!(lines[1], "1 | é\tx: \u{fffd}[31m y");
        assert_eq!(lines[2], "  |  \t       ^");
    }

    #[test]
    fn a_long_line_is_cut_around_the_column() {
        let text = format!("{}X{}\n", "a".repeat(500), "b".repeat(500));
        let lines = excerpt(&text, at(1, 501)).unwrap();
        assert_eq!(
            lines[1],
            format!("1 | ...{}X{}...", "a".repeat(60), "b".repeat(59))
        );
        assert_eq!(lines[2], format!("  | {}^", " ".repeat(63)));
    }

    #[test]
    fn each_diagnostic_is_followed_by_its_line() {
        let diagnostic = |line, column, message: &str| Diagnostic {
            file: "f.yaml".to_string(),
            position: Some(at(line, column)),
            message: message.to_string(),
        };
        let err = ConfigError::Invalid(vec![
            diagnostic(1, 10, "one"),
            Diagnostic {
                position: None,
                ..diagnostic(1, 1, "two")
            },
            diagnostic(2, 3, "three"),
        ]);
        let read = |path: &str| (path == "f.yaml").then(|| "version: 2\nusers: {}\n".to_string());
        assert_eq!(
            annotated(&err, read),
            [
                "error: f.yaml:1:10: one",
                "  |",
                "1 | version: 2",
                "  |          ^",
                "error: f.yaml: two",
                "error: f.yaml:2:3: three",
                "  |",
                "2 | users: {}",
                "  |   ^",
            ]
        );
    }
}
