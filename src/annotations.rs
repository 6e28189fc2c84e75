//! GitHub Actions annotations: problems in the desired-state file as
//! `::error file=F,line=L,col=C::message` workflow commands, so that they appear on the
//! changed line of the pull request. Pure formatting; the caller decides when (only under
//! `GITHUB_ACTIONS=true`) and prints.
//!
//! Escaping follows GitHub's workflow command rules: in the message `%`, `\r` and `\n`
//! become `%25`, `%0D` and `%0A`; in property values `:` and `,` also become `%3A` and
//! `%2C`. So a message can never end the command early or start another one.

use crate::config::{ConfigError, Diagnostic};

/// One `::error` line per diagnostic of every file error in `err`'s chain (validation and
/// name resolution); none for other errors, which have no place in a file.
pub fn github_annotations(err: &anyhow::Error) -> Vec<String> {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<ConfigError>())
        .flat_map(ConfigError::diagnostics)
        .map(error_command)
        .collect()
}

/// The workflow command for one diagnostic.
pub fn error_command(diagnostic: &Diagnostic) -> String {
    let mut properties = format!("file={}", escape_property(&diagnostic.file));
    if let Some(at) = diagnostic.position {
        properties.push_str(&format!(",line={},col={}", at.line, at.column));
    }
    format!("::error {properties}::{}", escape_data(&diagnostic.message))
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Position;

    fn diagnostic(file: &str, position: Option<Position>, message: &str) -> Diagnostic {
        Diagnostic {
            file: file.to_string(),
            position,
            message: message.to_string(),
        }
    }

    #[test]
    fn positions_become_line_and_col() {
        let line = error_command(&diagnostic(
            "access/mailtrap-access.yaml",
            Some(Position {
                line: 5,
                column: 16,
            }),
            "unknown project \"Backnd\"; did you mean \"Backend\"?",
        ));
        assert_eq!(
            line,
            "::error file=access/mailtrap-access.yaml,line=5,col=16::unknown project \"Backnd\"; did you mean \"Backend\"?"
        );
    }

    #[test]
    fn no_position_means_file_only() {
        let line = error_command(&diagnostic("f.yaml", None, "not UTF-8 text"));
        assert_eq!(line, "::error file=f.yaml::not UTF-8 text");
    }

    #[test]
    fn escapes_per_workflow_command_rules() {
        let line = error_command(&diagnostic(
            "dir,x/a:b%.yaml",
            Some(Position { line: 1, column: 2 }),
            "100% wrong\r\n::warning::injected, a: b",
        ));
        assert_eq!(
            line,
            "::error file=dir%2Cx/a%3Ab%25.yaml,line=1,col=2::100%25 wrong%0D%0A::warning::injected, a: b"
        );
        assert_eq!(line.lines().count(), 1);
    }

    #[test]
    fn only_file_errors_are_annotated() {
        let invalid = ConfigError::Invalid(vec![
            diagnostic("f.yaml", Some(Position { line: 3, column: 1 }), "one"),
            diagnostic("f.yaml", Some(Position { line: 4, column: 1 }), "two"),
        ]);
        let err = anyhow::Error::from(invalid).context("while planning");
        assert_eq!(
            github_annotations(&err),
            [
                "::error file=f.yaml,line=3,col=1::one",
                "::error file=f.yaml,line=4,col=1::two"
            ]
        );
        assert!(github_annotations(&anyhow::anyhow!("401 Unauthorized")).is_empty());
    }
}
