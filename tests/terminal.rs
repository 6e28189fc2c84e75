//! apply on a terminal: it asks, and only `yes` goes ahead. The terminal is a pty made
//! by util-linux `script`, which forwards our piped answer to it.

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
