//! Every bad input and bad answer ends in one clear message, exit code 1, no panic, and
//! no write sent.

mod common;

use common::*;

const DEMO: &str = "examples/mailtrap-access.yaml";

/// Exit 1, the expected phrases on stderr, no panic, no token, nothing on stdout that
/// looks like a plan being applied.
fn assert_clean_failure(output: &std::process::Output, phrases: &[&str]) {
    assert_exit(output, 1);
    let err = stderr(output);
    for phrase in phrases {
        assert!(err.contains(phrase), "missing {phrase:?} in:\n{err}");
    }
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains(TOKEN) && !stdout(output).contains(TOKEN));
}

#[test]
fn missing_token() {
    let output = command(&["plan", "-f", DEMO]).output().unwrap();
    assert_clean_failure(&output, &["MAILTRAP_API_TOKEN is not set"]);
}

#[test]
fn wrong_token_is_401() {
    let sandbox = demo_sandbox();
    let output = command(&["plan", "-f", DEMO])
        .env("MAILTRAP_API_URL", sandbox.base_url())
        .env("MAILTRAP_API_TOKEN", "wrong-token")
        .output()
        .unwrap();
    assert_clean_failure(
        &output,
        &[
            "401 Unauthorized",
            "check MAILTRAP_API_TOKEN",
            "/api/accounts/1111111/",
        ],
    );
    assert!(writes(&sandbox.requests()).is_empty());
}

#[test]
fn another_account_is_403() {
    let sandbox = demo_sandbox();
    // The demo file without its account_id, so that the flag names the account.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(DEMO).unwrap();
    let text: String = text
        .lines()
        .filter(|line| !line.starts_with("account_id:"))
        .map(|line| format!("{line}\n"))
        .collect();
    let file = write_file(dir.path(), "no-account.yaml", &text);
    let output = run_against(
        &sandbox.base_url(),
        &[
            "apply",
            "-f",
            &file,
            "--account-id",
            "2222222",
            "--auto-approve",
        ],
    );
    assert_clean_failure(
        &output,
        &["403 Forbidden", "/api/accounts/2222222/", "admin access"],
    );
    assert!(writes(&sandbox.requests()).is_empty());
}

#[test]
fn unreachable_host() {
    // Bind then drop: a port on which nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = run_against(&format!("http://127.0.0.1:{port}"), &["plan", "-f", DEMO]);
    assert_clean_failure(&output, &["could not connect", "check --api-url"]);
}

#[test]
fn an_answer_cut_off_or_never_given_is_not_called_unreachable() {
    // Announces 1,000 bytes, sends 20, closes.
    let short = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n[{\"id\": 1, \"specifie".to_vec();
    let (url, _) = canned_server(short);
    let output = run_against(&url, &["plan", "-f", DEMO, "--retries", "0"]);
    assert_clean_failure(&output, &["the answer was cut off", "run again"]);
    assert!(
        !stderr(&output).contains("could not connect"),
        "{}",
        stderr(&output)
    );
    // Closes the connection without a word.
    let (url, _) = canned_server(Vec::new());
    let output = run_against(&url, &["plan", "-f", DEMO, "--retries", "0"]);
    assert_clean_failure(
        &output,
        &["the connection was closed before an answer came"],
    );
    assert!(
        !stderr(&output).contains("could not connect"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_answer_over_the_size_limit_is_refused_whether_announced_or_streamed() {
    // A length no memory holds, announced for a body of a few bytes.
    let lying = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9000000000000000000\r\nConnection: close\r\n\r\n[]".to_vec();
    let (url, _) = canned_server(lying);
    let output = run_against(&url, &["plan", "-f", DEMO, "--retries", "0"]);
    assert_clean_failure(&output, &["over the limit of 256 MiB"]);

    // The listing with no length announced, in chunks that never end; the other reads
    // answered as the demo's.
    let (_, tree, tokens) = demo_answers();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (tree, tokens) = (tree.clone(), tokens.clone());
            std::thread::spawn(move || {
                let mut head = [0u8; 8192];
                let n = stream.read(&mut head).unwrap_or(0);
                let head = String::from_utf8_lossy(&head[..n]);
                let path = head.split_whitespace().nth(1).unwrap_or("");
                if !path.ends_with("/account_accesses") {
                    let body = if path.ends_with("/api_tokens") {
                        &tokens
                    } else {
                        &tree
                    };
                    let _ = stream.write_all(&http_response("200 OK", "application/json", body));
                    return;
                }
                let start = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                let mut chunk = format!("{:x}\r\n", 64 << 10).into_bytes();
                chunk.extend(std::iter::repeat_n(b' ', 64 << 10));
                chunk.extend_from_slice(b"\r\n");
                let _ = stream.write_all(start);
                while stream.write_all(&chunk).is_ok() {}
            });
        }
    });
    let output = run_against(&url, &["plan", "-f", DEMO, "--retries", "0"]);
    assert_clean_failure(&output, &["MiB or more, over the limit of 256 MiB"]);
}

#[test]
fn a_chunked_answer_is_read_whole() {
    let (listing, tree, tokens) = demo_answers();
    let chunked = |body: &str| {
        // Split into chunks of 100 bytes, as a streaming server sends a big listing.
        let mut bytes = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
        for piece in body.as_bytes().chunks(100) {
            bytes.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            bytes.extend_from_slice(piece);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"0\r\n\r\n");
        bytes
    };
    let (url, _) = canned_server_by_path(move |path| {
        if path.ends_with("/account_accesses") {
            chunked(&listing)
        } else if path.ends_with("/api_tokens") {
            chunked(&tokens)
        } else {
            chunked(&tree)
        }
    });
    let sandbox = demo_sandbox();
    let from_chunks = run_against(&url, &["plan", "-f", DEMO]);
    let from_sandbox = run_against(&sandbox.base_url(), &["plan", "-f", DEMO]);
    assert_exit(&from_chunks, 0);
    assert_eq!(stdout(&from_chunks), stdout(&from_sandbox));
}

#[test]
fn a_422_on_a_read_is_not_called_a_rejected_change() {
    let (url, _) = canned_server(http_response(
        "422 Unprocessable Entity",
        "application/json",
        r#"{"errors":"bad filter"}"#,
    ));
    let output = run_against(&url, &["plan", "-f", DEMO, "--retries", "0"]);
    assert_clean_failure(
        &output,
        &["422 Unprocessable (bad filter): the API refused to answer this read"],
    );
    assert!(
        !stderr(&output).contains("rejected the change"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused_before_sending() {
    let output = run_against("http://example.com", &["plan", "-f", DEMO]);
    assert_clean_failure(&output, &["HTTPS is required"]);
}

#[test]
fn credentials_in_the_url_are_refused() {
    let output = run_against("https://user:pass@mailtrap.io", &["plan", "-f", DEMO]);
    assert_clean_failure(&output, &["must not carry credentials"]);
}

#[test]
fn without_an_account_id_the_tokens_only_account_is_used() {
    use mailtrap_access::sandbox::{BlockingSandbox, SandboxConfig, SandboxState};
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "f.yaml", "version: 1\nusers: {}\n");
    let sandbox_listing = |accounts: Option<Vec<(u64, String)>>| {
        let mut config = SandboxConfig::new(SandboxState::demo(), TOKEN);
        config.accounts_listed = accounts;
        BlockingSandbox::start(config, ([127, 0, 0, 1], 0).into()).unwrap()
    };
    let paths = |sandbox: &BlockingSandbox| -> Vec<String> {
        sandbox.requests().into_iter().map(|r| r.path).collect()
    };

    // One account: used, and named on stderr; discovery is exactly one more request.
    let one = sandbox_listing(None);
    let output = run_against(&one.base_url(), &["plan", "-f", &file]);
    assert_exit(&output, 0);
    assert!(
        stderr(&output)
            .contains("Using account 1111111 (Acme Inc.), the only one this token can reach."),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).starts_with("Plan for Mailtrap account 1111111"));
    let mut seen = paths(&one);
    seen.sort();
    assert_eq!(
        seen,
        [
            "/api/accounts",
            "/api/accounts/1111111/account_accesses",
            "/api/accounts/1111111/permissions/resources"
        ]
    );
    // export writes the account it found.
    let export = run_against(&one.base_url(), &["export"]);
    assert_exit(&export, 0);
    assert_stdout_has(&export, "account_id: 1111111");

    // Several: each listed, with how to choose, and nothing else read.
    let several = sandbox_listing(Some(vec![
        (1111111, "Acme".into()),
        (2222222, "Acme EU".into()),
    ]));
    let output = run_against(&several.base_url(), &["plan", "-f", &file]);
    assert_clean_failure(
        &output,
        &[
            "the token can reach 2 accounts",
            "`account_id:` in the file or --account-id",
            "1111111  Acme",
            "2222222  Acme EU",
        ],
    );
    assert_eq!(paths(&several), ["/api/accounts"]);

    // None.
    let none = sandbox_listing(Some(vec![]));
    let output = run_against(&none.base_url(), &["plan", "-f", &file]);
    assert_clean_failure(&output, &["the token can reach no account"]);
    assert_eq!(paths(&none), ["/api/accounts"]);

    // Not a list.
    let (url, _) = canned_server(http_response("200 OK", "application/json", r#"{"id": 1}"#));
    let output = run_against(&url, &["plan", "-f", &file, "--retries", "0"]);
    assert_clean_failure(&output, &["GET /api/accounts", "expected a sequence"]);
}

#[test]
fn unknown_names_point_at_the_line_and_send_nothing() {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "names.yaml",
        "version: 1\naccount_id: 1111111\nusers:\n  bob@acme.com:\n    projects: {Backnd: admin}\n",
    );
    let output = run_against(
        &sandbox.base_url(),
        &["apply", "-f", &file, "--auto-approve"],
    );
    assert_clean_failure(
        &output,
        &["names.yaml:5:16: unknown project \"Backnd\"; did you mean \"Backend\""],
    );
    assert!(writes(&sandbox.requests()).is_empty());
}

/// Names are resolved while the listing is still arriving; when the listing then fails,
/// that failure is the error, as it was when resolve ran after both reads. So too when
/// the listing arrives but does not decode, whether the names or the tree fail.
#[test]
fn a_failed_listing_is_reported_before_unknown_names_or_a_failed_tree() {
    let account: serde_json::Value =
        serde_json::from_str(include_str!("../examples/sandbox-account.json")).unwrap();
    let tree = account["resources"].to_string();
    /// A canned answer to one request.
    type Answer = fn() -> Vec<u8>;
    let bad_gateway: Answer = || {
        http_response(
            "502 Bad Gateway",
            "text/html",
            "<html><title>502 Bad Gateway</title></html>",
        )
    };
    let truncated: fn() -> Vec<u8> =
        || http_response("200 OK", "application/json", r#"[{"id": 1,"#);
    // (listing, tree, what the error says, what it must not mention)
    let cases: [(Answer, bool, &str, &str); 3] = [
        (bad_gateway, true, "502 from the server", "Backnd"),
        (
            truncated,
            true,
            "account_accesses: the response could not be read: truncated JSON",
            "Backnd",
        ),
        (
            truncated,
            false,
            "account_accesses: the response could not be read: truncated JSON",
            "permissions/resources",
        ),
    ];
    for (listing, tree_answers, expected, unmentioned) in cases {
        let tree = tree.clone();
        let (url, seen) = canned_server_by_path(move |path| {
            if !path.ends_with("/permissions/resources") {
                listing()
            } else if tree_answers {
                http_response("200 OK", "application/json", &tree)
            } else {
                bad_gateway()
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let file = write_file(
            dir.path(),
            "names.yaml",
            "version: 1\naccount_id: 1111111\nusers:\n  bob@acme.com:\n    projects: {Backnd: admin}\n",
        );
        let output = run_against(&url, &["plan", "-f", &file, "--retries", "0"]);
        assert_clean_failure(&output, &[expected]);
        assert!(
            !stderr(&output).contains(unmentioned),
            "{}",
            stderr(&output)
        );
        assert_eq!(*seen.lock().unwrap(), ["GET", "GET"]);
    }
}

#[test]
fn malformed_yaml_points_at_the_line_and_reads_nothing() {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "broken.yaml",
        "version: 1\nusers:\n  bob@acme.com: {projects: [\n",
    );
    let output = run_against(&sandbox.base_url(), &["plan", "-f", &file]);
    assert_clean_failure(&output, &["broken.yaml:"]);
    assert!(sandbox.requests().is_empty());
}

#[test]
fn missing_file() {
    let output = command(&["validate", "-f", "does-not-exist.yaml"])
        .output()
        .unwrap();
    assert_clean_failure(&output, &["cannot read does-not-exist.yaml", "-f FILE"]);
    // The io error is said once, not again by the error chain.
    let err = stderr(&output);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn rate_limited_is_429() {
    let sandbox = demo_sandbox_limited(1, std::time::Duration::from_secs(60));
    let output = run_against(&sandbox.base_url(), &["plan", "-f", DEMO, "--retries", "0"]);
    assert_clean_failure(
        &output,
        &["429 Too Many Requests", "rate limit", "retry after"],
    );
    assert!(writes(&sandbox.requests()).is_empty());
}

/// Error shapes only a real service (or a proxy in front of it) produces.
#[test]
fn canned_answers_each_give_one_clear_message() {
    let cases: Vec<(Vec<u8>, Vec<&str>)> = vec![
        (
            http_response(
                "502 Bad Gateway",
                "text/html",
                "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            ),
            vec![
                "502 from the server",
                "an HTML page: 502 Bad Gateway",
                "run again later",
            ],
        ),
        (
            http_response(
                "200 OK",
                "text/html",
                "<!DOCTYPE html><html><body>Login</body></html>",
            ),
            vec!["an HTML page instead of JSON", "nothing was changed"],
        ),
        (
            http_response(
                "200 OK",
                "application/json",
                "[{\"id\": 5190001, \"specifier_type\": \"User\", \"reso",
            ),
            vec!["truncated JSON"],
        ),
        (
            http_response("200 OK", "application/json", "{\"unexpected\": true}"),
            vec!["invalid type: map, expected a sequence"],
        ),
        (
            http_response(
                "404 Not Found",
                "application/json",
                "{\"error\":\"Not Found\"}",
            ),
            vec!["404 Not Found", "check the account id"],
        ),
        (
            http_response(
                "422 Unprocessable Entity",
                "application/json",
                "{\"errors\":{\"base\":[\"nope\"]}}",
            ),
            vec!["422 Unprocessable", "nope"],
        ),
        (
            http_response("503 Service Unavailable", "text/plain", ""),
            vec!["503 from the server", "empty body"],
        ),
        (
            http_response(
                "301 Moved Permanently\r\nLocation: http://127.0.0.1:1/elsewhere",
                "text/plain",
                "",
            ),
            vec!["unexpected 301", "not followed"],
        ),
    ];
    for (response, phrases) in cases {
        let (url, seen) = canned_server(response);
        let output = run_against(
            &url,
            &["apply", "-f", DEMO, "--auto-approve", "--retries", "0"],
        );
        assert_clean_failure(&output, &phrases);
        assert!(
            seen.lock().unwrap().iter().all(|method| method == "GET"),
            "{phrases:?}"
        );
    }
}

#[test]
fn transient_errors_are_retried_a_bounded_number_of_times() {
    let (url, seen) = canned_server(http_response(
        "503 Service Unavailable",
        "text/plain",
        "busy",
    ));
    let output = run_against(&url, &["plan", "-f", DEMO, "--retries", "2"]);
    assert_clean_failure(&output, &["503 from the server"]);
    // Three reads (the demo file manages a token), each tried once and retried twice.
    assert_eq!(seen.lock().unwrap().len(), 9);
}

#[test]
fn errors_that_cannot_heal_are_not_retried() {
    let (url, seen) = canned_server(http_response(
        "401 Unauthorized",
        "application/json",
        "{\"error\":\"Incorrect API token\"}",
    ));
    let output = run_against(&url, &["plan", "-f", DEMO, "--retries", "3"]);
    assert_clean_failure(&output, &["401 Unauthorized"]);
    assert_eq!(
        seen.lock().unwrap().len(),
        3,
        "each of the three reads once"
    );
}

#[test]
fn the_sandbox_listens_on_loopback_only_unless_told_otherwise() {
    use std::io::{BufRead, BufReader};
    // `localhost` is loopback: served, and the banner gives the address.
    let mut child = command(&[
        "sandbox",
        "--listen",
        "localhost:0",
        "--token",
        "secret-token",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        banner.starts_with("listening on http://127.0.0.1:"),
        "{banner}"
    );
    // Every interface is refused without --allow-remote, and says how.
    let output = command(&[
        "sandbox",
        "--listen",
        "0.0.0.0:0",
        "--token",
        "secret-token",
    ])
    .output()
    .unwrap();
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("is not a loopback address")
            && stderr(&output).contains("--allow-remote"),
        "{}",
        stderr(&output)
    );
}
