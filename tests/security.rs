//! The token never appears in any output of any command, success or failure; it can come
//! from a file; error pages that echo it are scrubbed. (Redirects, which would carry it
//! elsewhere, are in `faults.rs`.)

mod common;

use std::process::Output;

use common::*;

const DEMO: &str = "examples/mailtrap-access.yaml";

fn assert_no_token(output: &Output, what: &str) {
    for (stream, text) in [("stdout", stdout(output)), ("stderr", stderr(output))] {
        assert!(
            !text.contains(TOKEN),
            "{what}: the token appears on {stream}:\n{text}"
        );
    }
}

#[test]
fn no_command_prints_the_token() {
    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    let exported = dir.path().join("exported.yaml");
    let bad = write_file(
        dir.path(),
        "bad.yaml",
        "version: 1\nusers:\n  bob@acme.com: {projects: {Nope: admin}}\n",
    );
    let runs: Vec<(&str, Vec<&str>)> = vec![
        ("validate", vec!["validate", "-f", DEMO]),
        ("plan", vec!["plan", "-f", DEMO, "--detailed-exitcode"]),
        (
            "plan with an unknown name",
            vec!["plan", "-f", &bad, "--account-id", "1111111"],
        ),
        (
            "plan for another account",
            vec!["plan", "-f", DEMO, "--account-id", "42"],
        ),
        ("apply refused", vec!["apply", "-f", DEMO]),
        ("apply", vec!["apply", "-f", DEMO, "--auto-approve"]),
        (
            "export",
            vec![
                "export",
                "--account-id",
                "1111111",
                "-o",
                exported.to_str().unwrap(),
            ],
        ),
        (
            "export to stdout",
            vec!["export", "--account-id", "1111111"],
        ),
        ("schema", vec!["schema"]),
        ("help", vec!["--help"]),
    ];
    for (what, args) in runs {
        assert_no_token(&run_against(&url, &args), what);
    }
    assert!(!std::fs::read_to_string(&exported).unwrap().contains(TOKEN));

    // A rejected token is not echoed either.
    let output = command(&["plan", "-f", DEMO])
        .env("MAILTRAP_API_URL", &url)
        .env("MAILTRAP_API_TOKEN", format!("{TOKEN}-wrong"))
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert_no_token(&output, "plan with a wrong token");
}

#[test]
fn an_error_page_echoing_the_token_is_scrubbed() {
    let body = format!("upstream said: bad token {TOKEN} for you");
    let (url, _) = canned_server(http_response(
        "500 Internal Server Error",
        "text/plain",
        &body,
    ));
    let output = run_against(&url, &["plan", "-f", DEMO, "--retries", "0"]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("bad token <redacted> for you"),
        "{}",
        stderr(&output)
    );
    assert_no_token(&output, "echoing error page");
}

#[test]
fn token_file_is_read_and_checked() {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let token_file = write_file(dir.path(), "token", &format!("{TOKEN}\n"));
    let output = command(&["plan", "-f", DEMO, "--token-file", &token_file])
        .env("MAILTRAP_API_URL", sandbox.base_url())
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert_no_token(&output, "plan with --token-file");

    let output = command(&["plan", "-f", DEMO, "--token-file", "/nonexistent/token"])
        .env("MAILTRAP_API_URL", sandbox.base_url())
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(stderr(&output).contains("cannot read the token file /nonexistent/token"));

    let empty = write_file(dir.path(), "empty", "\n");
    let output = command(&["plan", "-f", DEMO, "--token-file", &empty])
        .env("MAILTRAP_API_URL", sandbox.base_url())
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("holds no usable token"),
        "{}",
        stderr(&output)
    );
    assert!(
        sandbox.requests().len() == 2,
        "only the successful plan reached the sandbox"
    );
}

#[test]
fn the_token_is_not_a_command_line_option() {
    let output = command(&["plan", "-f", DEMO, "--token", TOKEN])
        .output()
        .unwrap();
    assert_exit(&output, 1); // a usage error; never 2, which `--detailed-exitcode` uses for changes
    assert!(stderr(&output).contains("unexpected argument '--token'"));
}
