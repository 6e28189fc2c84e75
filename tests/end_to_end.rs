//! The real binary against the sandbox over HTTP: plan, apply, plan again, export then
//! plan, asserting output, exit codes, the requests the sandbox received and the state
//! it is left in.

mod common;

use common::*;
use serde_json::json;

fn rows_of(sandbox: &mailtrap_access::sandbox::BlockingSandbox, email: &str) -> serde_json::Value {
    let accesses = sandbox.accesses_json();
    let access = accesses
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["specifier"]["email"] == email)
        .unwrap_or_else(|| panic!("{email} not in the sandbox"));
    let mut rows: Vec<(String, u64, u64)> = access["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["resource_type"].as_str().unwrap().to_string(),
                r["resource_id"].as_u64().unwrap(),
                r["access_level"].as_u64().unwrap(),
            )
        })
        .collect();
    rows.sort();
    json!(rows)
}

#[test]
fn plan_reads_three_times_and_never_writes() {
    let sandbox = demo_sandbox();
    let before = sandbox.state();
    let output = run_against(&sandbox.base_url(), &["plan", "-f", DEMO]);
    assert_exit(&output, 0);
    insta::assert_snapshot!("plan_demo", stdout(&output));
    let requests = sandbox.requests();
    let mut reads: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    reads.sort();
    // The demo file manages a token, so the tokens list is the third read.
    assert_eq!(
        reads,
        [
            "/api/accounts/1111111/account_accesses",
            "/api/accounts/1111111/api_tokens",
            "/api/accounts/1111111/permissions/resources"
        ]
    );
    assert!(requests.iter().all(|r| r.method == "GET"));
    assert_eq!(sandbox.state(), before);
}

#[test]
fn a_file_without_tokens_reads_twice() {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "people.yaml",
        "version: 1\naccount_id: 1111111\nusers:\n  alice@acme.com: {account: admin}\n",
    );
    let output = run_against(&sandbox.base_url(), &["plan", "-f", &file]);
    assert_exit(&output, 0);
    let mut reads: Vec<String> = sandbox.requests().into_iter().map(|r| r.path).collect();
    reads.sort();
    assert_eq!(
        reads,
        [
            "/api/accounts/1111111/account_accesses",
            "/api/accounts/1111111/permissions/resources"
        ]
    );
}

#[test]
fn detailed_exitcode_is_two_with_changes_and_zero_without() {
    let sandbox = demo_sandbox();
    let output = run_against(
        &sandbox.base_url(),
        &["plan", "-f", DEMO, "--detailed-exitcode"],
    );
    assert_exit(&output, 2);
    let dir = tempfile::tempdir().unwrap();
    let exported = dir.path().join("live.yaml");
    assert_exit(
        &run_against(
            &sandbox.base_url(),
            &[
                "export",
                "--account-id",
                "1111111",
                "-o",
                exported.to_str().unwrap(),
            ],
        ),
        0,
    );
    let output = run_against(
        &sandbox.base_url(),
        &[
            "plan",
            "-f",
            exported.to_str().unwrap(),
            "--detailed-exitcode",
        ],
    );
    assert_exit(&output, 0);
    assert_stdout_has(&output, "No changes.");
}

#[test]
fn apply_sends_exactly_the_plan_then_plan_shows_no_changes() {
    let sandbox = demo_sandbox();
    let output = run_against(
        &sandbox.base_url(),
        &["apply", "-f", DEMO, "--auto-approve"],
    );
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(
        text.contains(
            "Apply complete: 3 requests sent; read back: the account matches the desired state."
        ),
        "{text}"
    );

    // Three reads, one PUT per changed access with the body the plan showed, three
    // reads back.
    let requests = sandbox.requests();
    let writes = writes(&requests);
    assert_eq!(requests.len(), 9, "{requests:#?}");
    // Sent concurrently, so compared in plan (path) order.
    let mut sent: Vec<(String, String, serde_json::Value)> = writes
        .iter()
        .map(|r| (r.method.clone(), r.path.clone(), r.body.clone().unwrap()))
        .collect();
    sent.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        sent,
        vec![
            (
                "PUT".into(),
                "/api/accounts/1111111/account_accesses/5190003/permissions/bulk".into(),
                json!({"permissions": [
                    {"resource_id": "4400101", "resource_type": "inbox", "access_level": "admin"},
                    {"resource_id": "4400201", "resource_type": "inbox", "_destroy": true}
                ]})
            ),
            (
                "PUT".into(),
                "/api/accounts/1111111/account_accesses/5190004/permissions/bulk".into(),
                json!({"permissions": [{"resource_id": "3301002", "resource_type": "project", "access_level": "admin"}]})
            ),
            (
                "PUT".into(),
                "/api/accounts/1111111/account_accesses/5190007/permissions/bulk".into(),
                json!({"permissions": [{"resource_id": "1111111", "resource_type": "email_campaign_permission_scope", "access_level": "viewer"}]})
            ),
        ]
    );
    assert!(writes.iter().all(|r| r.status == 200));
    // The bodies sent are exactly the bodies the plan showed.
    let shown: Vec<serde_json::Value> = text
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("{\"permissions\""))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let bodies: Vec<serde_json::Value> = sent.iter().map(|(_, _, body)| body.clone()).collect();
    assert_eq!(shown, bodies);

    // The state it is left in.
    assert_eq!(
        rows_of(&sandbox, "bob@acme.com"),
        json!([
            ["billing", 1111111, 10],
            ["inbox", 4400101, 100],
            ["project", 3301001, 100],
            ["sending_domain", 204301, 10]
        ])
    );
    assert_eq!(
        rows_of(&sandbox, "carol@acme.com"),
        json!([["project", 3301002, 100]])
    );
    assert_eq!(
        rows_of(&sandbox, "owner@acme.com"),
        json!([["account", 1111111, 1000], ["organization", 70412, 1000]])
    );
    assert_eq!(
        rows_of(&sandbox, "dave@acme.com"),
        json!([["inbox", 4400101, 50], ["inbox", 4400102, 10]])
    );

    sandbox.clear_requests();
    let again = run_against(
        &sandbox.base_url(),
        &["plan", "-f", DEMO, "--detailed-exitcode"],
    );
    assert_exit(&again, 0);
    assert!(stdout(&again).contains("No changes."));
    assert!(writes_of(&sandbox).is_empty());

    let apply_again = run_against(
        &sandbox.base_url(),
        &["apply", "-f", DEMO, "--auto-approve"],
    );
    assert_exit(&apply_again, 0);
    assert!(
        writes_of(&sandbox).is_empty(),
        "a converged apply sends nothing"
    );
}

#[test]
fn unmanaged_remove_deletes_absent_people_only() {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "remove.yaml",
        "version: 1\naccount_id: 1111111\nunmanaged: remove\nusers:\n  alice@acme.com: {account: admin}\n  bob@acme.com: {projects: {Backend: admin}, inboxes: {\"Frontend/Staging\": viewer}, sending_domains: {acme.com: viewer}, billing: viewer}\n",
    );
    let output = run_against(
        &sandbox.base_url(),
        &["apply", "-f", &file, "--auto-approve"],
    );
    // Five of eleven managed rows would go: a mass removal, refused, nothing sent.
    assert_exit(&output, 1);
    assert_stderr_has(
        &output,
        "mass-removal rail: the plan destroys 5 of 11 managed rows",
    );
    assert!(writes_of(&sandbox).is_empty());
    let output = run_against(
        &sandbox.base_url(),
        &[
            "apply",
            "-f",
            &file,
            "--auto-approve",
            "--allow-mass-removal",
        ],
    );
    assert_exit(&output, 0);
    let mut deleted = writes_of(&sandbox);
    deleted.sort();
    assert_eq!(
        deleted,
        [
            "DELETE /api/accounts/1111111/account_accesses/5190004",
            "DELETE /api/accounts/1111111/account_accesses/5190006",
            "DELETE /api/accounts/1111111/account_accesses/5190007",
            "DELETE /api/accounts/1111111/account_accesses/5190008",
        ]
    );
    let remaining: Vec<String> = sandbox
        .accesses_json()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].to_string())
        .collect();
    // owner, alice, bob, dave (holds a viewer+ row); the API tokens are not accesses.
    assert_eq!(remaining, ["5190001", "5190002", "5190003", "5190005"]);
    assert_eq!(sandbox.state().api_tokens.len(), 2, "a token was deleted");
}

/// `plan` warns of every rail `apply` will refuse, whatever the format: the rails are
/// checked beside the rendering for text and diff, before it for JSON and Markdown,
/// which show them too.
#[test]
fn plan_warns_in_every_format_of_what_apply_will_refuse() {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "remove.yaml",
        "version: 1\naccount_id: 1111111\nunmanaged: remove\nusers:\n  alice@acme.com: {account: admin}\n",
    );
    for format in ["text", "json", "markdown", "diff"] {
        let output = run_against(
            &sandbox.base_url(),
            &["plan", "-f", &file, "--format", format],
        );
        assert_exit(&output, 0);
        let errors = stderr(&output);
        let rails: Vec<&str> = errors
            .lines()
            .filter_map(|line| {
                line.strip_prefix("warning: apply will refuse this plan without an override: ")
            })
            .map(|refusal| refusal.split(": ").next().unwrap())
            .collect();
        assert_eq!(rails, ["mass-removal rail"], "{format}: {errors}");
        assert!(!stdout(&output).is_empty(), "{format}");
        if format == "json" {
            // Programs reading the JSON learn it too, not only a person reading stderr.
            let plan: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
            let rails = plan["rails"].as_array().unwrap();
            assert_eq!(rails.len(), 1, "{rails:?}");
            assert_eq!(rails[0]["rail"], "mass_row_removal");
            assert_eq!(rails[0]["overridable"], true);
        }
    }
    assert!(writes_of(&sandbox).is_empty());
}

#[test]
fn export_then_plan_shows_no_changes_and_holds_no_secret() {
    let sandbox = demo_sandbox();
    let output = run_against(&sandbox.base_url(), &["export", "--account-id", "1111111"]);
    assert_exit(&output, 0);
    let yaml = stdout(&output);
    insta::assert_snapshot!("export_demo", yaml);
    let secrets: Vec<String> = (sandbox.state().api_tokens.iter())
        .map(|token| token.token.clone())
        .collect();
    assert!(
        !secrets.is_empty(),
        "the demo holds API token secrets to look for"
    );
    for secret in secrets {
        assert!(!yaml.contains(&secret));
    }
    assert!(!yaml.contains(TOKEN));
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "exported.yaml", &yaml);
    let plan = run_against(
        &sandbox.base_url(),
        &["plan", "-f", &file, "--detailed-exitcode"],
    );
    assert_exit(&plan, 0);
}

#[test]
fn sandbox_flag_needs_no_token() {
    let output = command(&["plan", "--sandbox", "-f", DEMO])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert!(stdout(&output)
        .contains("Plan: 2 to create, 1 to update, 1 to destroy, 0 accesses to remove."));
}

#[test]
fn apply_without_terminal_or_approval_refuses_and_sends_nothing() {
    let sandbox = demo_sandbox();
    let output = run_against(&sandbox.base_url(), &["apply", "-f", DEMO]);
    assert_exit(&output, 1);
    assert_stderr_has(&output, "--auto-approve");
    assert!(sandbox.requests().is_empty());
}

#[test]
fn validate_accepts_the_examples_and_rejects_with_positions() {
    let output = command(&["validate", "-f", DEMO]).output().unwrap();
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        format!("{DEMO}: valid (7 users, 1 API token, 1 role)\n")
    );
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "bad.yaml",
        "version: 1\nusers:\n  bob@acme.com:\n    projects: {Backend: superuser}\n",
    );
    let output = command(&["validate", "-f", &file]).output().unwrap();
    assert_exit(&output, 1);
    assert_stderr_has(
        &output,
        "bad.yaml:4:25: users.bob@acme.com.projects.Backend: unknown variant `superuser`",
    );
}

#[test]
fn schema_command_matches_the_committed_schema() {
    let output = command(&["schema"]).output().unwrap();
    assert_exit(&output, 0);
    let committed = std::fs::read_to_string("schema/mailtrap-access.schema.json")
        .expect("schema/mailtrap-access.schema.json is committed");
    assert!(
        stdout(&output) == committed,
        "the committed schema is stale: run `cargo run -- schema > schema/mailtrap-access.schema.json`"
    );
}

#[test]
fn apply_waits_out_429_and_converges() {
    // The sandbox allows 3 requests per second; the client believes in 150/10s, so it
    // meets 429s and must wait them out (Retry-After) rather than fail.
    let sandbox = demo_sandbox_limited(3, std::time::Duration::from_secs(1));
    let output = run_against(
        &sandbox.base_url(),
        &["apply", "-f", DEMO, "--auto-approve"],
    );
    assert_exit(&output, 0);
    let requests = sandbox.requests();
    assert!(
        requests.iter().any(|r| r.status == 429),
        "the limit was never hit: {requests:#?}"
    );
    let done: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "PUT" && r.status == 200)
        .collect();
    assert_eq!(done.len(), 3);
}

#[test]
fn pacing_at_the_limit_meets_no_429() {
    let sandbox = demo_sandbox_limited(3, std::time::Duration::from_secs(1));
    let output = run_against(
        &sandbox.base_url(),
        &[
            "apply",
            "-f",
            DEMO,
            "--auto-approve",
            "--rate-limit",
            "3/1s",
        ],
    );
    assert_exit(&output, 0);
    let requests = sandbox.requests();
    assert_eq!(requests.len(), 9);
    assert!(requests.iter().all(|r| r.status == 200), "{requests:#?}");
}

/// For plans without token changes: no secret ever arrives.
fn no_secrets(_: mailtrap_access::apply::NewSecret) -> std::io::Result<()> {
    unreachable!("a plan without token changes receives no secret")
}

fn access_id(subject: &mailtrap_access::apply::Subject) -> u64 {
    match subject {
        mailtrap_access::apply::Subject::Access(access) => access.id,
        other => panic!("{other} is not an access"),
    }
}

#[test]
fn a_delete_answered_404_counts_as_done() {
    use mailtrap_access::apply::{execute, Completion};
    use mailtrap_access::model::SpecifierKind;
    use mailtrap_access::plan::{AccessRef, Change, Plan};

    let sandbox = demo_sandbox();
    let writer = writer(&sandbox.base_url());
    let erin = AccessRef {
        label: "erin@acme.com".into(),
        kind: SpecifierKind::Invite,
        id: 5190007,
    };
    let remove_erin = Plan {
        changes: [(erin, Change::Remove { rows: vec![] })].into(),
        ..Plan::new(1111111, Default::default())
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // The second DELETE meets a 404: the access is gone, which is what was wanted.
    for expected in [Completion::Done, Completion::AlreadyGone] {
        let results = runtime
            .block_on(execute(
                &remove_erin,
                &writer,
                1,
                || true,
                no_secrets,
                |_| {},
            ))
            .unwrap();
        assert_eq!(results[0].outcome.as_ref().unwrap(), &expected);
    }
    let statuses: Vec<u16> = sandbox.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 404]);
}

#[test]
fn results_come_back_in_plan_order_whatever_order_they_finish_in() {
    use mailtrap_access::apply::execute;
    use mailtrap_access::model::SpecifierKind;
    use mailtrap_access::plan::{AccessRef, Change, Plan};
    use mailtrap_access::sandbox::{BlockingSandbox, Faults, SandboxConfig, SandboxState};

    // Each request waits a random 0-400 ms (seeded), so they finish out of order.
    let mut config = SandboxConfig::new(SandboxState::demo(), TOKEN);
    config.faults = Faults {
        latency_jitter: std::time::Duration::from_millis(400),
        seed: 3,
        ..Faults::none()
    };
    let sandbox = BlockingSandbox::start(config, ([127, 0, 0, 1], 0).into()).unwrap();
    let writer = writer(&sandbox.base_url());
    // Removals of accesses that do not exist: each answered 404, counted as done.
    let plan = Plan {
        changes: (1..=8)
            .map(|n| {
                let access = AccessRef {
                    label: format!("gone{n}@acme.com"),
                    kind: SpecifierKind::User,
                    id: 900 + n,
                };
                (access, Change::Remove { rows: vec![] })
            })
            .collect(),
        ..Plan::new(1111111, Default::default())
    };
    let mut finished = Vec::new();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let results = runtime.block_on(execute(
        &plan,
        &writer,
        8,
        || true,
        no_secrets,
        |result| finished.push(access_id(&result.subject)),
    ));
    let planned: Vec<u64> = plan.changes.keys().map(|access| access.id).collect();
    let returned: Vec<u64> = (results.unwrap().iter())
        .map(|result| access_id(&result.subject))
        .collect();
    assert_eq!(returned, planned);
    assert_ne!(finished, planned, "the requests finished in plan order");
    finished.sort();
    assert_eq!(finished, planned, "each result was reported once");
}

#[test]
fn a_failed_read_back_says_the_changes_were_sent() {
    let (listing, tree, tokens) = demo_answers();
    // Answers the three reads, then every write; once a write came, every read fails.
    let wrote = std::sync::atomic::AtomicBool::new(false);
    let (url, seen) = canned_server_by_path(move |path| {
        use std::sync::atomic::Ordering;
        let ok = |body: &str| http_response("200 OK", "application/json", body);
        if path.ends_with("/permissions/bulk") {
            wrote.store(true, Ordering::SeqCst);
            ok(r#"{"message":"Permissions have been updated!"}"#)
        } else if wrote.load(Ordering::SeqCst) {
            http_response("500 Internal Server Error", "application/json", "{}")
        } else if path.ends_with("/account_accesses") {
            ok(&listing)
        } else if path.ends_with("/api_tokens") {
            ok(&tokens)
        } else {
            ok(&tree)
        }
    });
    let output = run_against(
        &url,
        &["apply", "-f", DEMO, "--auto-approve", "--retries", "0"],
    );
    assert_exit(&output, 1);
    let out = stdout(&output);
    assert_eq!(out.matches("✓ ").count(), 3, "{out}");
    let err = stderr(&output);
    assert!(
        err.starts_with(
            "error: the changes were sent, but reading the account back failed; run plan to check"
        ) && err.contains("500"),
        "{err}"
    );
    let methods = seen.lock().unwrap().clone();
    assert_eq!(
        methods.iter().filter(|m| *m == "PUT").count(),
        3,
        "{methods:?}"
    );
}

#[test]
fn an_interrupted_apply_finishes_what_is_in_flight_says_what_was_not_sent_and_reruns() {
    use mailtrap_access::sandbox::{BlockingSandbox, Faults, SandboxConfig, SandboxState};
    use std::io::{BufRead, BufReader};
    // Each request takes 400 ms, one at a time: the signal comes while the second of
    // the plan's three requests is in flight.
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let mut config = SandboxConfig::new(SandboxState::demo(), TOKEN);
        config.faults = Faults {
            latency: std::time::Duration::from_millis(400),
            ..Faults::none()
        };
        let sandbox = BlockingSandbox::start(config, ([127, 0, 0, 1], 0).into()).unwrap();
        let mut child = command(&["apply", "-f", DEMO, "--auto-approve", "--concurrency", "1"])
            .env("MAILTRAP_API_URL", sandbox.base_url())
            .env("MAILTRAP_API_TOKEN", TOKEN)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut out = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            out += &line;
            out.push('\n');
            if line.starts_with("✓ ") {
                break; // the first result: the second request is in flight now
            }
        }
        let killed = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        for line in lines {
            out += &line.unwrap();
            out.push('\n');
        }
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{out}");
        let name = &signal[1..];
        assert!(
            out.contains(&format!("Apply interrupted by SIG{name}: 2 of 3 requests sent (0 failed), 1 not sent; run apply again to finish.")),
            "{out}"
        );
        assert_eq!(
            out.matches("✓ ").count(),
            2,
            "the request in flight was waited for: {out}"
        );
        assert_eq!(out.matches(": not sent").count(), 1, "{out}");
        assert_eq!(writes(&sandbox.requests()).len(), 2);

        // Run again: it finishes the job, and then there is nothing left to do.
        let rerun = run_against(
            &sandbox.base_url(),
            &["apply", "-f", DEMO, "--auto-approve"],
        );
        assert_exit(&rerun, 0);
        let plan = run_against(
            &sandbox.base_url(),
            &["plan", "-f", DEMO, "--detailed-exitcode"],
        );
        assert_exit(&plan, 0);
    }
}

#[test]
fn the_demo_flow_in_each_vocabulary_and_path_family() {
    use mailtrap_access::sandbox::{BlockingSandbox, SandboxConfig, SandboxState, Vocabulary};
    for vocabulary in [Vocabulary::Old, Vocabulary::New] {
        for paths in ["account", "token"] {
            let case = format!("{vocabulary} vocabulary, {paths} paths");
            let mut config = SandboxConfig::new(SandboxState::demo(), TOKEN);
            config.vocabulary = vocabulary;
            let sandbox = BlockingSandbox::start(config, ([127, 0, 0, 1], 0).into()).unwrap();
            let url = sandbox.base_url();
            let prefix = match paths {
                "account" => "/api/accounts/1111111",
                _ => "/api",
            };
            let inbox = match vocabulary {
                Vocabulary::Old => "inbox",
                Vocabulary::New => "sandbox",
            };

            let plan = run_against(&url, &["plan", "-f", DEMO, "--api-paths", paths]);
            assert_exit(&plan, 0);
            assert!(
                stdout(&plan).contains(&format!("\"resource_type\":\"{inbox}\"")),
                "{case}: {}",
                stdout(&plan)
            );
            let mut reads: Vec<String> = sandbox.requests().into_iter().map(|r| r.path).collect();
            reads.sort();
            assert_eq!(
                reads,
                [
                    format!("{prefix}/account_accesses"),
                    format!("{prefix}/api_tokens"),
                    format!("{prefix}/permissions/resources")
                ],
                "{case}"
            );
            sandbox.clear_requests();

            let apply = run_against(
                &url,
                &["apply", "-f", DEMO, "--auto-approve", "--api-paths", paths],
            );
            assert_exit(&apply, 0);
            let requests = sandbox.requests();
            assert_eq!(requests.len(), 3 + 3 + 3, "{case}: {requests:#?}");
            for write in writes(&requests) {
                assert!(
                    write
                        .path
                        .starts_with(&format!("{prefix}/account_accesses/")),
                    "{case}: {}",
                    write.path
                );
                assert_eq!(write.status, 200, "{case}: {write:?}");
            }
            let again = run_against(
                &url,
                &[
                    "plan",
                    "-f",
                    DEMO,
                    "--detailed-exitcode",
                    "--api-paths",
                    paths,
                ],
            );
            assert_exit(&again, 0);

            // The export speaks the server's vocabulary, and plans to nothing.
            let dir = tempfile::tempdir().unwrap();
            let exported = dir.path().join("exported.yaml");
            let exported = exported.to_str().unwrap();
            let export = run_against(
                &url,
                &[
                    "export",
                    "--account-id",
                    "1111111",
                    "--api-paths",
                    paths,
                    "-o",
                    exported,
                ],
            );
            assert_exit(&export, 0);
            let text = std::fs::read_to_string(exported).unwrap();
            let (inboxes, other) = match vocabulary {
                Vocabulary::Old => ("inboxes:", "sandboxes:"),
                Vocabulary::New => ("sandboxes:", "inboxes:"),
            };
            assert!(
                text.contains(inboxes) && !text.contains(other),
                "{case}: {text}"
            );
            let round_trip = run_against(
                &url,
                &[
                    "plan",
                    "-f",
                    exported,
                    "--detailed-exitcode",
                    "--api-paths",
                    paths,
                ],
            );
            assert_exit(&round_trip, 0);
        }
    }
}

#[test]
fn a_saved_plan_applied_through_the_other_path_family_is_refused() {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let saved = save_plan(&sandbox.base_url(), DEMO, dir.path());
    let saved = saved.as_str();
    sandbox.clear_requests();
    let output = run_against(
        &sandbox.base_url(),
        &["apply", "--auto-approve", "--api-paths", "token", saved],
    );
    assert_exit(&output, 1);
    assert_stderr_has(&output, "was planned with --api-paths account in the old (inbox, sending_domain) vocabulary, but the account is now read with --api-paths token");
    assert!(writes(&sandbox.requests()).is_empty());

    // A family that is neither: a usage error naming the two.
    let output = run_against(
        &sandbox.base_url(),
        &["plan", "-f", DEMO, "--api-paths", "v2"],
    );
    assert_exit(&output, 1);
    assert_stderr_has(&output, "[possible values: account, token]");
}

#[test]
fn what_a_file_cannot_tell_apart_is_exported_with_a_note_and_left_alone_by_plan() {
    use mailtrap_access::sandbox::{BlockingSandbox, SandboxConfig, SandboxState};
    // carol has a pending invite too, in another case, holding other rows.
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("examples/sandbox-account.json").unwrap())
            .unwrap();
    state["accesses"].as_array_mut().unwrap().push(json!({
        "id": 5190077, "specifier_type": "Invite",
        "specifier": {"id": 82077, "email": "Carol@Acme.com"},
        "resources": [{"resource_type": "project", "resource_id": 3301001, "access_level": 100}]
    }));
    // The owner also holds admin on a project: exported without grants, never changed.
    for access in state["accesses"].as_array_mut().unwrap() {
        if access["id"] == 5190001 {
            let rows = access["resources"].as_array_mut().unwrap();
            rows.push(
                json!({"resource_type": "project", "resource_id": 3301002, "access_level": 100}),
            );
        }
    }
    let state = SandboxState::from_json(&state.to_string()).unwrap();
    let sandbox =
        BlockingSandbox::start(SandboxConfig::new(state, TOKEN), ([127, 0, 0, 1], 0).into())
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let exported = dir.path().join("exported.yaml");
    let exported = exported.to_str().unwrap();
    let export = run_against(
        &sandbox.base_url(),
        &["export", "--account-id", "1111111", "-o", exported],
    );
    assert_exit(&export, 0);
    let text = std::fs::read_to_string(exported).unwrap();
    assert!(
        text.contains("# carol@acme.com: 2 accesses hold different rows under this name; plan changes none of them until they agree"),
        "{text}"
    );
    assert!(
        text.contains("# owner@acme.com: the account owner, never changed; listed without grants")
            && text.contains("  owner@acme.com: {}"),
        "{text}"
    );
    let plan = run_against(
        &sandbox.base_url(),
        &["plan", "-f", exported, "--detailed-exitcode"],
    );
    assert_exit(&plan, 0);
    assert_stdout_has(&plan, "carol@acme.com names 2 accesses (access 5190004, access 5190077) that hold different rows: none of them is changed");
    // The same file applied changes nothing either.
    sandbox.clear_requests();
    let apply = run_against(
        &sandbox.base_url(),
        &["apply", "-f", exported, "--auto-approve"],
    );
    assert_exit(&apply, 0);
    assert!(writes(&sandbox.requests()).is_empty());
}
