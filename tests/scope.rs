//! Access over time and at a finer grain, end to end: an entry's `expires` ends its
//! access on the day, `ignore` keeps accesses out of reach, and `--target` plans and
//! sends one person's change alone. Each checks the requests the sandbox received.

mod common;

use common::*;

#[test]
fn an_expired_contractor_loses_their_rows_and_the_next_plan_is_empty() {
    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    let file = demo_replacing(
        dir.path(),
        "  carol@acme.com:\n    projects: {Frontend: admin}\n",
        "  carol@acme.com:\n    projects: {Frontend: admin}\n    expires: 2027-01-31\n",
    );
    // On January 25th the plan warns; on February 1st carol's access is over.
    let before = run_against(&url, &["plan", "-f", &file, "--now", "2027-01-25"]);
    assert_exit(&before, 0);
    assert_stdout_has(
        &before,
        "carol@acme.com's access ends in 6 days (2027-01-31).",
    );
    let validate = command(&["validate", "-f", &file, "--now", "2027-02-01"])
        .output()
        .unwrap();
    assert_exit(&validate, 0);
    assert!(
        stderr(&validate).contains("warning: ")
            && stderr(&validate).contains("\"carol@acme.com\" expired on 2027-01-31"),
        "{}",
        stderr(&validate)
    );
    let apply = run_against(
        &url,
        &[
            "apply",
            "-f",
            &file,
            "--auto-approve",
            "--now",
            "2027-02-01",
        ],
    );
    assert_exit(&apply, 0);
    assert_stdout_has(&apply, "carol@acme.com's access expired on 2027-01-31");
    assert!(
        sandbox.state().rows(5190004).is_empty(),
        "carol's rows are gone"
    );
    let again = run_against(
        &url,
        &[
            "plan",
            "-f",
            &file,
            "--detailed-exitcode",
            "--now",
            "2027-02-01",
        ],
    );
    assert_exit(&again, 0);
}

#[test]
fn ignored_accesses_are_never_written_even_under_unmanaged_remove() {
    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "desired.yaml",
        "version: 1\naccount_id: 1111111\nunmanaged: remove\nignore: [\"*@ACME.COM\"]\nusers: {}\n",
    );
    let plan = run_against(&url, &["plan", "-f", &file, "--detailed-exitcode"]);
    assert_exit(&plan, 0);
    assert_stdout_has(&plan, "= bob@acme.com (User, access 5190003): matches the ignore pattern \"*@ACME.COM\": never changed");
    let apply = run_against(
        &url,
        &[
            "apply",
            "-f",
            &file,
            "--auto-approve",
            "--allow-mass-removal",
        ],
    );
    assert_exit(&apply, 0);
    assert!(writes_of(&sandbox).is_empty(), "{:?}", writes_of(&sandbox));
}

#[test]
fn a_targeted_apply_sends_exactly_the_targets_request() {
    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    let plan = run_against(&url, &["plan", "-f", DEMO, "--target", "Carol@acme.com"]);
    assert_exit(&plan, 0);
    let text = stdout(&plan);
    assert!(
        text.contains("Partial plan (--target): only \"Carol@acme.com\"")
            && text.contains("~ carol@acme.com")
            && !text.contains("~ bob@acme.com"),
        "{text}"
    );
    let json = run_against(
        &url,
        &[
            "plan",
            "-f",
            DEMO,
            "--target",
            "carol@acme.com",
            "--format",
            "json",
        ],
    );
    let document: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(document["targets"], serde_json::json!(["carol@acme.com"]));
    assert_eq!(document["accesses"].as_array().unwrap().len(), 1);

    let unknown = run_against(&url, &["plan", "-f", DEMO, "--target", "carl@acme.com"]);
    assert_exit(&unknown, 1);
    assert_stderr_has(&unknown, "--target \"carl@acme.com\" is neither a person nor an API token in the file or the account; did you mean \"carol@acme.com\"");

    // Saved, applied: carol's one PUT, and the read-back is complete for the target.
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("plan.json").display().to_string();
    let save = run_against(
        &url,
        &[
            "plan",
            "-f",
            DEMO,
            "--target",
            "carol@acme.com",
            "--out",
            &saved,
        ],
    );
    assert_exit(&save, 0);
    let apply = run_against(&url, &["apply", "--auto-approve", &saved]);
    assert_exit(&apply, 0);
    assert_stderr_has(&apply, "a partial plan, for carol@acme.com only");
    assert_eq!(
        writes_of(&sandbox),
        ["PUT /api/accounts/1111111/account_accesses/5190004/permissions/bulk"]
    );
    // The rest is still to do.
    let rest = run_against(&url, &["plan", "-f", DEMO, "--detailed-exitcode"]);
    assert_exit(&rest, 2);
}

#[test]
fn explain_says_where_each_level_comes_from() {
    let offline = command(&["explain", "bob@acme.com", "-f", DEMO, "--offline"])
        .output()
        .unwrap();
    assert_exit(&offline, 0);
    insta::assert_snapshot!("explain_offline", stdout(&offline));

    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    let live = run_against(&url, &["explain", "Bob@Acme.com", "-f", DEMO]);
    assert_exit(&live, 0);
    insta::assert_snapshot!("explain_live", stdout(&live));
    let token = run_against(
        &url,
        &["explain", "CI deploy", "-f", DEMO, "--format", "json"],
    );
    assert_exit(&token, 0);
    insta::assert_snapshot!("explain_token_json", stdout(&token));
    // Someone the file does not list, who is in the account: their live rows, left alone.
    let frank = run_against(&url, &["explain", "frank@acme.com", "-f", DEMO]);
    assert_exit(&frank, 0);
    assert_stdout_has(&frank, "left alone: not in the file (unmanaged: ignore)");
    assert!(writes_of(&sandbox).is_empty(), "explain never writes");

    let unknown = run_against(&url, &["explain", "bobb@acme.com", "-f", DEMO]);
    assert_exit(&unknown, 1);
    assert_stderr_has(&unknown, "\"bobb@acme.com\" is neither a person nor an API token in the file or the account; did you mean \"bob@acme.com\"");
}

#[test]
fn explain_counts_what_an_account_or_project_level_reaches() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "desired.yaml",
        "version: 1\nusers:\n  ann@acme.com:\n    account: viewer\n    projects: {Backend: admin, Frontend: viewer}\n    inboxes: {\"Backend/Staging\": viewer, \"Frontend/Staging\": viewer}\n    sending_domains: {acme.com: viewer}\n",
    );
    let output = command(&[
        "explain",
        "ann@acme.com",
        "-f",
        &file,
        "--offline",
        "--format",
        "json",
    ])
    .output()
    .unwrap();
    assert_exit(&output, 0);
    let explained: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let effective: Vec<(String, String, String)> =
        (explained["resources"].as_array().unwrap().iter())
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_string(),
                    r["effective"].as_str().unwrap().to_string(),
                    r["inherited_from"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
    let row = |name: &str, level: &str, from: &str| {
        (name.to_string(), level.to_string(), from.to_string())
    };
    assert_eq!(
        effective,
        [
            row("account", "viewer", ""),
            row("Backend", "admin", ""),
            row("Frontend", "viewer", ""),
            row("Backend/Staging", "admin", "project \"Backend\""),
            row("Frontend/Staging", "viewer", ""),
            row("acme.com", "viewer", ""),
        ]
    );
}

#[test]
fn a_target_the_apply_removes_does_not_fail_the_read_back() {
    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "desired.yaml",
        "version: 1\naccount_id: 1111111\nunmanaged: remove\nusers:\n  alice@acme.com: {account: admin}\n",
    );
    let apply = run_against(
        &url,
        &[
            "apply",
            "-f",
            &file,
            "--auto-approve",
            "--target",
            "frank@acme.com",
        ],
    );
    assert_exit(&apply, 0);
    assert_stdout_has(&apply, "read back: the targets match the desired state.");
    assert_eq!(
        writes_of(&sandbox),
        ["DELETE /api/accounts/1111111/account_accesses/5190008"]
    );
    // Token names are matched exactly, emails in any case.
    let token = run_against(&url, &["plan", "-f", DEMO, "--target", "ci deploy"]);
    assert_exit(&token, 1);
    assert_stderr_has(&token, "did you mean \"CI deploy\"");
    // A reset outside the targets, or of an ignored token, is refused, not dropped.
    let outside = run_against(
        &url,
        &[
            "plan",
            "-f",
            DEMO,
            "--target",
            "carol@acme.com",
            "--reset-token",
            "Legacy import",
        ],
    );
    assert_exit(&outside, 1);
    assert_stderr_has(&outside, "is not one of the --target names");
    let ignored = demo_with(dir.path(), "ignore: [\"legacy*\"]\n");
    let refused = run_against(
        &url,
        &["plan", "-f", &ignored, "--reset-token", "Legacy import"],
    );
    assert_exit(&refused, 1);
    assert_stderr_has(&refused, "matches the ignore pattern \"legacy*\"");
}
