//! On a terminal: apply asks, and only `yes` goes ahead; a file error shows the line it
//! points at. The terminal is a pty made by util-linux `script`, which forwards our
//! piped answer to it.

mod common;

use common::*;

/// Apply the demo on a terminal with `answer` typed at the prompt.
fn apply_on_a_terminal(url: &str, answer: &str) -> Option<(i32, String)> {
    let env = [
        ("MAILTRAP_API_URL", url),
        ("MAILTRAP_API_TOKEN", TOKEN),
        ("NO_COLOR", "1"),
    ];
    on_a_terminal(
        &["apply", "-f", "examples/mailtrap-access.yaml"],
        &env,
        answer,
    )
}

#[test]
fn only_yes_goes_ahead() {
    let sandbox = demo_sandbox();
    let Some((code, text)) = apply_on_a_terminal(&sandbox.base_url(), "y\n") else {
        return;
    };
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("Only 'yes' will be accepted"), "{text}");
    assert!(text.contains("apply cancelled; nothing was sent"), "{text}");
    assert!(writes(&sandbox.requests()).is_empty());

    let (code, text) = apply_on_a_terminal(&sandbox.base_url(), "yes\n").unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Apply complete: 3 requests sent"), "{text}");
    assert_eq!(writes(&sandbox.requests()).len(), 3);
}

#[test]
fn a_file_error_on_a_terminal_shows_the_line_with_a_caret() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "roles.yaml",
        "version: 1\nusers:\n  bob@acme.com:\n    roles: [dev, ghost]\n",
    );
    let first = format!(
        "error: {file}:4:13: unknown role \"dev\" for \"bob@acme.com\"; no roles are defined"
    );
    let Some((code, text)) = on_a_terminal(&["validate", "-f", &file], &[("NO_COLOR", "1")], "")
    else {
        return;
    };
    assert_eq!(code, 1, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..4],
        [
            first.as_str(),
            "  |",
            "4 |     roles: [dev, ghost]",
            format!("  | {}^", " ".repeat(12)).as_str(),
        ],
        "{text}"
    );
    let second = first
        .replace(":4:13: ", ":4:18: ")
        .replace("\"dev\"", "\"ghost\"");
    assert_eq!(lines[4], second, "{text}");
    assert_eq!(lines[7], format!("  | {}^", " ".repeat(17)), "{text}");

    // Off a terminal the same error is one line per problem, as before.
    let output = command(&["validate", "-f", &file]).output().unwrap();
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(err.starts_with(&first), "{err}");
}

#[test]
fn a_terminal_is_colored_unless_term_is_dumb() {
    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    let env = |term| {
        [
            ("MAILTRAP_API_URL", url.as_str()),
            ("MAILTRAP_API_TOKEN", TOKEN),
            ("TERM", term),
        ]
    };
    let plan = ["plan", "-f", "examples/mailtrap-access.yaml"];
    let Some((code, colored)) = on_a_terminal(&plan, &env("xterm"), "") else {
        return;
    };
    assert_eq!(code, 0, "{colored}");
    assert!(colored.contains("\x1b[32m+ inbox"), "{colored:?}");
    let (code, dumb) = on_a_terminal(&plan, &env("dumb"), "").unwrap();
    assert_eq!(code, 0, "{dumb}");
    assert!(!dumb.contains('\x1b'), "{dumb:?}");
    assert!(dumb.contains("+ inbox"), "{dumb}");
}
