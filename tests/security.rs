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
    assert_stderr_has(&output, "bad token <redacted> for you");
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

    // The token itself given where its file belongs: refused without being echoed.
    let output = command(&["plan", "-f", DEMO, "--token-file", TOKEN])
        .env("MAILTRAP_API_URL", sandbox.base_url())
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert_no_token(&output, "--token-file given the token");
    assert_stderr_has(
        &output,
        "--token-file takes the path of a file that holds the token",
    );

    let empty = write_file(dir.path(), "empty", "\n");
    let output = command(&["plan", "-f", DEMO, "--token-file", &empty])
        .env("MAILTRAP_API_URL", sandbox.base_url())
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert_stderr_has(&output, &format!("the token file {empty} is empty"));
    assert!(
        sandbox.requests().len() == 3,
        "only the successful plan (three reads) reached the sandbox"
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

#[test]
fn a_token_in_the_api_url_is_never_echoed() {
    for url in [
        format!("https://mailtrap.io/?api_token={TOKEN}"),
        format!("https://ci:{TOKEN}@mailtrap.io"),
        format!("https://mailtrap.io/#{TOKEN}"),
        format!("not a url ?{TOKEN}"),
    ] {
        let output = run_against(&url, &["plan", "-f", DEMO]);
        assert_exit(&output, 1);
        assert_no_token(&output, &url);
        assert!(
            stderr(&output).contains("must not carry"),
            "{url}: {}",
            stderr(&output)
        );
    }
    // Nor does --help show what the environment holds.
    for args in [
        &["plan", "--help"][..],
        &["apply", "--help"],
        &["export", "--help"],
    ] {
        let output = command(args)
            .env(
                "MAILTRAP_API_URL",
                format!("https://ci:{TOKEN}@mailtrap.io"),
            )
            .env("MAILTRAP_ACCOUNT_ID", "1111111")
            .output()
            .unwrap();
        assert_exit(&output, 0);
        assert_no_token(&output, &args.join(" "));
        assert!(!stdout(&output).contains("1111111"), "{}", stdout(&output));
    }
}

#[test]
fn terminal_escapes_from_the_account_are_never_printed_raw() {
    use mailtrap_access::sandbox::{BlockingSandbox, SandboxConfig, SandboxState};
    // erin's email hides text; frank's moves the cursor up and clears the line.
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("examples/sandbox-account.json").unwrap())
            .unwrap();
    for access in state["accesses"].as_array_mut().unwrap() {
        let email = &mut access["specifier"]["email"];
        if email == "erin@acme.com" {
            *email = "erin\u{1b}[8m@acme.com".into();
        } else if email == "frank@acme.com" {
            *email = "frank\u{1b}[1A\u{1b}[2K\u{9b}2J@acme.com".into();
        }
    }
    let state = SandboxState::from_json(&state.to_string()).unwrap();
    let sandbox =
        BlockingSandbox::start(SandboxConfig::new(state, TOKEN), ([127, 0, 0, 1], 0).into())
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // erin gets a change (shown with her email); frank is left alone (listed by email).
    let file = write_file(
        dir.path(),
        "access.yaml",
        "version: 1\naccount_id: 1111111\nusers:\n  alice@acme.com: {account: admin}\n  \"erin\\e[8m@acme.com\": {projects: {Backend: viewer}}\n",
    );
    let runs: [&[&str]; 5] = [
        &["plan", "-f", &file, "--color", "never"],
        &["plan", "-f", &file, "--format", "markdown"],
        &["plan", "-f", &file, "--format", "diff", "--color", "never"],
        &["export", "--account-id", "1111111"],
        &["apply", "-f", &file, "--auto-approve", "--color", "never"],
    ];
    for args in runs {
        let output = run_against(&sandbox.base_url(), args);
        let both = stdout(&output) + &stderr(&output);
        assert!(
            !both.contains('\u{1b}') && !both.contains('\u{9b}'),
            "{args:?}: {both:?}"
        );
        assert!(
            both.contains("u{1b}") || both.contains("\\e[8m") || both.contains("\\x1b"),
            "{args:?} shows erin escaped: {both}"
        );
    }
    // What apply sent was for erin's real access.
    let sent = writes(&sandbox.requests()).len();
    assert_eq!(sent, 1, "{:#?}", sandbox.requests());
}
