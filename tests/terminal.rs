//! On a terminal: apply asks, and only `yes` goes ahead; a file error shows the line it
//! points at. The terminal is a pty made by util-linux `script`, which forwards our
//! piped answer to it.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

/// Run apply on a pty with `answer` typed at the prompt; returns (exit code, output).
fn apply_on_a_terminal(url: &str, answer: &str) -> Option<(i32, String)> {
    let binary = env!("CARGO_BIN_EXE_mailtrap-access");
    let mut child = Command::new("script")
        .args([
            "-qec",
            &format!("{binary} apply -f examples/mailtrap-access.yaml"),
            "/dev/null",
        ])
        .env("MAILTRAP_API_URL", url)
        .env("MAILTRAP_API_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    Some((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ))
}

#[test]
fn only_yes_goes_ahead() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let sandbox = demo_sandbox();
    let (code, text) = apply_on_a_terminal(&sandbox.base_url(), "y\n").unwrap();
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("Only 'yes' will be accepted"), "{text}");
    assert!(text.contains("apply cancelled; nothing was sent"), "{text}");
    assert!(writes(&sandbox.requests()).is_empty());

    let (code, text) = apply_on_a_terminal(&sandbox.base_url(), "yes\n").unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Apply complete: 3 requests sent"), "{text}");
    assert_eq!(writes(&sandbox.requests()).len(), 3);
}

/// `validate -f FILE` with stderr on a pty; returns (exit code, what the terminal shows).
fn validate_on_a_terminal(file: &str) -> Option<(i32, String)> {
    let binary = env!("CARGO_BIN_EXE_mailtrap-access");
    let output = Command::new("script")
        .args(["-qec", &format!("{binary} validate -f {file}"), "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    Some((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n"),
    ))
}

#[test]
fn a_file_error_on_a_terminal_shows_the_line_with_a_caret() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "roles.yaml",
        "version: 1\nusers:\n  bob@acme.com:\n    roles: [dev, ghost]\n",
    );
    let first = format!(
        "error: {file}:4:13: unknown role \"dev\" for \"bob@acme.com\"; no roles are defined"
    );
    let (code, text) = validate_on_a_terminal(&file).unwrap();
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
