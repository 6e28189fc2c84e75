//! API tokens as code, end to end: the real binary against the sandbox's API Tokens
//! API. Each test checks what was sent (the request log), what the account holds after
//! (the sandbox's state), the new-tokens file, and that no secret reached any output.

mod common;

use std::path::Path;
use std::process::Output;

use common::*;
use mailtrap_access::sandbox::{
    ApiTokenRecord, BlockingSandbox, SandboxConfig, SandboxState, TokenResource,
};
use serde_json::Value;

/// Every secret the account holds or held, as the sandbox knows them.
fn secrets(sandbox: &BlockingSandbox, also: &[String]) -> Vec<String> {
    (sandbox.state().api_tokens.iter())
        .map(|token| token.token.clone())
        .chain(also.iter().cloned())
        .collect()
}

/// No secret of `secrets`, nor the tool's own token, in any output.
fn assert_no_secret(outputs: &[&Output], secrets: &[String]) {
    for output in outputs {
        let text = format!("{}{}", stdout(output), stderr(output));
        assert!(!text.contains(TOKEN), "the tool's token leaked: {text}");
        for secret in secrets {
            assert!(!text.contains(secret.as_str()), "a secret leaked: {text}");
        }
    }
}

/// Every write the sandbox received, as `METHOD path status`.
fn answered_writes(sandbox: &BlockingSandbox) -> Vec<String> {
    (sandbox.requests().into_iter())
        .filter(|request| request.method != "GET")
        .map(|request| format!("{} {} {}", request.method, request.path, request.status))
        .collect()
}

fn read_json(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn new_tokens_path(dir: &Path) -> String {
    dir.join("new-tokens.json").display().to_string()
}

/// `apply -f FILE --auto-approve --new-tokens-file NEW_TOKENS`, then `extra`.
fn apply_making_tokens(url: &str, file: &str, new_tokens: &str, extra: &[&str]) -> Output {
    let args = [
        "apply",
        "-f",
        file,
        "--auto-approve",
        "--new-tokens-file",
        new_tokens,
    ];
    run_against(url, &[&args[..], extra].concat())
}

#[test]
fn a_created_tokens_secret_goes_to_the_new_tokens_file_and_nowhere_else() {
    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    let file = demo_with(
        dir.path(),
        "  Exporter:\n    account: viewer\n    sending_domains: {acme.com: viewer}\n",
    );
    let plan = run_against(&url, &["plan", "-f", &file]);
    assert_exit(&plan, 0);
    assert_stdout_has(&plan, "+ API token \"Exporter\": create");
    assert!(
        stderr(&plan).contains(
            "new-tokens rail: the plan creates, replaces or resets API token \"Exporter\""
        ),
        "plan says apply needs --new-tokens-file: {}",
        stderr(&plan)
    );

    // Without somewhere to put the secret, nothing is sent.
    let refused = run_against(&url, &["apply", "-f", &file, "--auto-approve"]);
    assert_exit(&refused, 1);
    assert_stderr_has(&refused, "pass --new-tokens-file FILE");
    // Nor when the file already exists: it may hold an earlier run's secrets.
    let existing = write_file(dir.path(), "earlier.json", "keep me\n");
    let refused_existing = apply_making_tokens(&url, &file, &existing, &[]);
    assert_exit(&refused_existing, 1);
    assert_stderr_has(&refused_existing, "already exists");
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me\n");
    assert!(
        answered_writes(&sandbox).is_empty(),
        "{:?}",
        answered_writes(&sandbox)
    );

    let new_tokens = new_tokens_path(dir.path());
    let apply = apply_making_tokens(&url, &file, &new_tokens, &[]);
    assert_exit(&apply, 0);
    let state = sandbox.state();
    let exporter = state
        .api_tokens
        .iter()
        .find(|t| t.name == "Exporter")
        .unwrap();
    assert_eq!(
        exporter.resources,
        [
            TokenResource {
                resource_type: "account".into(),
                resource_id: 1111111,
                access_level: 10
            },
            TokenResource {
                resource_type: "sending_domain".into(),
                resource_id: 204301,
                access_level: 10
            },
        ]
    );
    let written = read_json(&new_tokens);
    assert_eq!(written["account_id"], 1111111);
    assert_eq!(written["tokens"].as_array().unwrap().len(), 1);
    let entry = &written["tokens"][0];
    assert_eq!(entry["name"], "Exporter");
    assert_eq!(entry["id"], exporter.id);
    assert_eq!(entry["token"], exporter.token.as_str());
    assert_eq!(entry["replaced_id"], Value::Null);
    assert!(
        entry["expires_at"].is_string(),
        "the service's default expiry: {entry}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&new_tokens).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_stderr_has(&apply, "Wrote 1 new secret to");

    // Converged: the next plan sees the token and changes nothing.
    let again = run_against(&url, &["plan", "-f", &file, "--detailed-exitcode"]);
    assert_exit(&again, 0);
    let json = run_against(&url, &["plan", "-f", &file, "--format", "json"]);
    let markdown = run_against(&url, &["plan", "-f", &file, "--format", "markdown"]);
    assert_no_secret(
        &[
            &plan,
            &refused,
            &refused_existing,
            &apply,
            &again,
            &json,
            &markdown,
        ],
        &secrets(&sandbox, &[]),
    );
    // The request log holds no secret either.
    let log = format!("{:?}", sandbox.requests());
    assert!(!log.contains(&exporter.token), "{log}");
}

#[test]
fn a_replacement_needs_its_flag_and_creates_before_it_deletes() {
    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    let file = demo_replacing(
        dir.path(),
        "  CI deploy:\n    projects: {Backend: viewer}\n",
        "  CI deploy:\n    projects: {Backend: admin}\n",
    );
    let old_secret = (sandbox.state().api_tokens.iter())
        .find(|t| t.id == 61001)
        .unwrap()
        .token
        .clone();
    let new_tokens = new_tokens_path(dir.path());
    let refused = apply_making_tokens(&url, &file, &new_tokens, &[]);
    assert_exit(&refused, 1);
    assert!(
        stderr(&refused)
            .contains("token-replacement rail: the plan replaces API token \"CI deploy\""),
        "{}",
        stderr(&refused)
    );
    assert!(answered_writes(&sandbox).is_empty());
    assert!(
        !Path::new(&new_tokens).exists(),
        "refused before the file was made"
    );

    sandbox.clear_requests();
    let apply = apply_making_tokens(&url, &file, &new_tokens, &["--allow-token-replacement"]);
    assert_exit(&apply, 0);
    let token_writes: Vec<String> = (answered_writes(&sandbox).into_iter())
        .filter(|write| write.contains("/api_tokens"))
        .collect();
    assert_eq!(
        token_writes,
        [
            "POST /api/accounts/1111111/api_tokens 200",
            "DELETE /api/accounts/1111111/api_tokens/61001 204",
        ]
    );
    let state = sandbox.state();
    let replacement = state
        .api_tokens
        .iter()
        .find(|t| t.name == "CI deploy")
        .unwrap();
    assert_ne!(replacement.id, 61001);
    assert_eq!(replacement.resources[0].access_level, 100);
    // The old token's expiry is kept, as the file did not ask for another.
    let old_expiry = "2027-06-30T23:59:59";
    assert!(
        replacement
            .expires_at
            .as_deref()
            .unwrap()
            .starts_with(old_expiry),
        "{replacement:?}"
    );
    let entry = &read_json(&new_tokens)["tokens"][0];
    assert_eq!(entry["replaced_id"], 61001);
    assert_eq!(entry["token"], replacement.token.as_str());
    let again = run_against(&url, &["plan", "-f", &file, "--detailed-exitcode"]);
    assert_exit(&again, 0);
    assert_no_secret(
        &[&refused, &apply, &again],
        &secrets(&sandbox, &[old_secret]),
    );
}

/// The demo account plus a token whose secret is the one the tool runs with.
fn sandbox_with_token_in_use() -> BlockingSandbox {
    let mut state = SandboxState::demo();
    state.api_tokens.push(ApiTokenRecord {
        id: 61050,
        name: "mailtrap-access CI".into(),
        created_by: "Alice Admin".into(),
        expires_at: None,
        resources: vec![TokenResource {
            resource_type: "account".into(),
            resource_id: 1111111,
            access_level: 100,
        }],
        token: TOKEN.into(),
        last_4_digits: None,
        reset_from: None,
    });
    BlockingSandbox::start(SandboxConfig::new(state, TOKEN), ([127, 0, 0, 1], 0).into()).unwrap()
}

#[test]
fn unmanaged_tokens_remove_deletes_absent_tokens_but_never_the_one_in_use() {
    let sandbox = sandbox_with_token_in_use();
    let url = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    let file = demo_with(dir.path(), "unmanaged_tokens: remove\n");
    let plan = run_against(&url, &["plan", "-f", &file]);
    assert_exit(&plan, 0);
    let text = stdout(&plan);
    assert!(
        text.contains("- API token \"Legacy import\" (id 61002): delete"),
        "{text}"
    );
    assert!(
        text.contains("= API token \"mailtrap-access CI\" (id 61050): it may be the token this tool runs with"),
        "{text}"
    );
    let apply = run_against(&url, &["apply", "-f", &file, "--auto-approve"]);
    assert_exit(&apply, 0);
    let token_writes: Vec<String> = (answered_writes(&sandbox).into_iter())
        .filter(|write| write.contains("/api_tokens"))
        .collect();
    assert_eq!(
        token_writes,
        ["DELETE /api/accounts/1111111/api_tokens/61002 204"]
    );
    let mut left: Vec<u64> = sandbox.state().api_tokens.iter().map(|t| t.id).collect();
    left.sort();
    assert_eq!(left, [61001, 61050]);
    assert_no_secret(&[&plan, &apply], &secrets(&sandbox, &[]));

    // The file asking to change the token in use: left alone, with a warning.
    let file = demo_with(dir.path(), "  mailtrap-access CI:\n    account: viewer\n");
    let plan = run_against(&url, &["plan", "-f", &file, "--detailed-exitcode"]);
    assert_exit(&plan, 0);
    assert_stdout_has(
        &plan,
        "API token \"mailtrap-access CI\" (id 61050) differs from the file, but is left alone",
    );
}

#[test]
fn reset_token_rotates_through_the_reset_call_and_never_the_token_in_use() {
    let sandbox = sandbox_with_token_in_use();
    let url = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    let old_secret = (sandbox.state().api_tokens.iter())
        .find(|t| t.id == 61002)
        .unwrap()
        .token
        .clone();
    for (name, phrase) in [
        (
            "mailtrap-access CI",
            "may be the token this tool runs with, which is never reset",
        ),
        (
            "Legacy imprt",
            "the account has no API token of that name; did you mean \"Legacy import\"?",
        ),
    ] {
        let refused = run_against(
            &url,
            &["apply", "-f", DEMO, "--auto-approve", "--reset-token", name],
        );
        assert_exit(&refused, 1);
        assert_stderr_has(&refused, phrase);
    }
    assert!(answered_writes(&sandbox).is_empty());

    let new_tokens = new_tokens_path(dir.path());
    let plan = run_against(
        &url,
        &["plan", "-f", DEMO, "--reset-token", "Legacy import"],
    );
    assert_stdout_has(&plan, "~ API token \"Legacy import\" (id 61002): reset");
    let apply = apply_making_tokens(&url, DEMO, &new_tokens, &["--reset-token", "Legacy import"]);
    assert_exit(&apply, 0);
    let token_writes: Vec<String> = (answered_writes(&sandbox).into_iter())
        .filter(|write| write.contains("/api_tokens"))
        .collect();
    assert_eq!(
        token_writes,
        ["POST /api/accounts/1111111/api_tokens/61002/reset 200"]
    );
    let state = sandbox.state();
    let rotated = state
        .api_tokens
        .iter()
        .find(|t| t.name == "Legacy import")
        .unwrap();
    assert_ne!(rotated.id, 61002);
    assert_eq!(rotated.expires_at, None, "the reset kept `never`");
    let entry = &read_json(&new_tokens)["tokens"][0];
    assert_eq!(entry["id"], rotated.id);
    assert_eq!(entry["replaced_id"], 61002);
    assert_eq!(entry["token"], rotated.token.as_str());
    assert_no_secret(&[&plan, &apply], &secrets(&sandbox, &[old_secret]));
}

#[test]
fn a_create_the_api_refuses_is_reported_and_the_rest_goes_on() {
    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    // Planned as of 2020, the expiry is in the future; the service, on today's clock,
    // refuses it with a 422.
    let file = demo_with(
        dir.path(),
        "  Exporter:\n    account: viewer\n    expires_at: 2024-01-31\n",
    );
    let new_tokens = new_tokens_path(dir.path());
    let apply = apply_making_tokens(&url, &file, &new_tokens, &["--now", "2020-01-01"]);
    assert_exit(&apply, 1);
    let out = stdout(&apply);
    assert!(
        out.contains(
            "✗ API token \"Exporter\": POST /api/accounts/1111111/api_tokens: 422 Unprocessable"
        ) && out.contains("Expiration date must be in the future"),
        "{out}"
    );
    // The people's changes went through all the same.
    assert_eq!(out.matches("✓ ").count(), 3, "{out}");
    assert!(sandbox
        .state()
        .api_tokens
        .iter()
        .all(|t| t.name != "Exporter"));
    // Today, the file is refused before anything is read.
    let validate = command(&["validate", "-f", &file]).output().unwrap();
    assert_exit(&validate, 1);
    assert_stderr_has(&validate, "which is in the past");
}

#[test]
fn a_create_answered_without_its_secret_says_how_to_recover() {
    // The three reads of an account without tokens, then a 200 without `token`.
    let (listing, tree, _) = demo_answers();
    // The second request to the tokens path is the POST (the server sees paths only).
    let tokens_calls = std::sync::atomic::AtomicUsize::new(0);
    let (url, seen) = canned_server_by_path(move |path| {
        let ok = |body: &str| http_response("200 OK", "application/json", body);
        if path.ends_with("/account_accesses") {
            ok(&listing)
        } else if path.ends_with("/permissions/resources") {
            ok(&tree)
        } else if tokens_calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            ok(r#"{"id":62001,"name":"Exporter","resources":[],"expires_at":null}"#)
        } else {
            ok("[]")
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "desired.yaml",
        "version: 1\naccount_id: 1111111\napi_tokens:\n  Exporter: {account: viewer}\n",
    );
    let new_tokens = new_tokens_path(dir.path());
    let apply = apply_making_tokens(&url, &file, &new_tokens, &["--retries", "0"]);
    assert_exit(&apply, 1);
    let out = stdout(&apply);
    assert!(
        out.contains(
            "✗ API token \"Exporter\": token created (id 62001), but the answer held no secret"
        ) && out.contains("run `apply --reset-token \"Exporter\"` to get a new one"),
        "{out}"
    );
    assert!(seen.lock().unwrap().iter().any(|method| method == "POST"));
    assert_eq!(read_json(&new_tokens)["tokens"], serde_json::json!([]));
}

#[test]
fn a_connection_dropped_after_a_create_creates_nothing_twice() {
    use mailtrap_access::apply::{execute, Completion, NewSecret};
    use mailtrap_access::sandbox::Faults;

    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    let file = demo_with(dir.path(), "  Exporter:\n    account: viewer\n");
    let saved = save_plan(&url, &file, dir.path());
    let plan = mailtrap_access::saved_plan::SavedPlan::parse(
        &saved,
        &std::fs::read_to_string(&saved).unwrap(),
    )
    .unwrap()
    .plan;
    // Every request is carried out, and its connection closed before the answer.
    sandbox
        .set_faults(Faults {
            drop_after_rate: 1.0,
            ..Faults::none()
        })
        .unwrap();
    let writer = writer(&url);
    let mut kept = 0;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let results = runtime
        .block_on(execute(
            &plan,
            &writer,
            4,
            || true,
            |_: NewSecret| {
                kept += 1;
                Ok(())
            },
            |_| {},
        ))
        .unwrap();
    let token_result = results
        .iter()
        .find(|r| r.request.describe().starts_with("POST"))
        .unwrap();
    assert!(
        !matches!(token_result.outcome, Ok(Completion::TokenCreated { .. })),
        "{token_result:?}"
    );
    assert_eq!(kept, 0);
    let posts = (sandbox.requests().iter())
        .filter(|request| request.method == "POST")
        .count();
    assert_eq!(posts, 1, "a POST whose answer was lost is not sent again");
    sandbox.set_faults(Faults::none()).unwrap();
    // The token exists; the next plan sees it and creates nothing.
    let again = run_against(&url, &["plan", "-f", &file, "--detailed-exitcode"]);
    assert_exit(&again, 0);
    let named = (sandbox.state().api_tokens.iter())
        .filter(|t| t.name == "Exporter")
        .count();
    assert_eq!(named, 1);
}

#[test]
fn a_token_delete_answered_404_counts_as_done() {
    use mailtrap_access::apply::{execute, Completion};
    use mailtrap_access::plan::{Plan, TokenChange, TokenSpec};

    let sandbox = demo_sandbox();
    let gone = TokenChange::DeleteToken {
        token_id: 69999,
        from: TokenSpec {
            resources: vec![],
            expires_at: None,
        },
    };
    let plan = Plan {
        tokens: [("Gone".to_string(), gone)].into(),
        ..Plan::new(1111111, Default::default())
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let results = runtime
        .block_on(execute(
            &plan,
            &writer(&sandbox.base_url()),
            1,
            || true,
            |_| Ok(()),
            |_| {},
        ))
        .unwrap();
    assert_eq!(
        results[0].outcome.as_ref().unwrap(),
        &Completion::AlreadyGone
    );
    assert_eq!(
        answered_writes(&sandbox),
        ["DELETE /api/accounts/1111111/api_tokens/69999 404"]
    );
}

#[test]
fn export_writes_tokens_with_their_expiry_and_plan_on_it_is_empty() {
    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    let export = run_against(&url, &["export", "--account-id", "1111111"]);
    assert_exit(&export, 0);
    let yaml = stdout(&export);
    assert!(yaml.contains("api_tokens:\n  CI deploy:\n    projects:\n      Backend: viewer\n    expires_at: \"2027-06-30T23:59:59Z\"\n"), "{yaml}");
    assert!(
        yaml.contains("  Legacy import:\n    account: viewer\n    expires_at: never\n"),
        "{yaml}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "exported.yaml", &yaml);
    let plan = run_against(&url, &["plan", "-f", &file, "--detailed-exitcode"]);
    assert_exit(&plan, 0);
    assert_no_secret(&[&export, &plan], &secrets(&sandbox, &[]));
}

#[test]
fn a_saved_plan_carries_its_token_changes_and_resets() {
    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    let file = demo_with(dir.path(), "  Exporter:\n    account: viewer\n");
    let saved = dir.path().join("plan.json").display().to_string();
    let plan = run_against(
        &url,
        &[
            "plan",
            "-f",
            &file,
            "--out",
            &saved,
            "--reset-token",
            "Legacy import",
        ],
    );
    assert_exit(&plan, 0);
    let document = read_json(&saved);
    let actions: Vec<&str> = (document["tokens"].as_array().unwrap().iter())
        .map(|token| token["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create_token", "reset_token"]);
    assert!(document["fingerprint"]["api_tokens_sha256"].is_string());

    // `--reset-token` belongs to the plan, not to applying it.
    let refused = run_against(
        &url,
        &[
            "apply",
            "--auto-approve",
            &saved,
            "--reset-token",
            "CI deploy",
        ],
    );
    assert_exit(&refused, 1);
    assert!(stderr(&refused).contains("a saved plan already says which tokens it resets"));

    let new_tokens = new_tokens_path(dir.path());
    let apply = run_against(
        &url,
        &[
            "apply",
            "--auto-approve",
            &saved,
            "--new-tokens-file",
            &new_tokens,
        ],
    );
    assert_exit(&apply, 0);
    let names: Vec<String> = (read_json(&new_tokens)["tokens"].as_array().unwrap().iter())
        .map(|token| token["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["Exporter", "Legacy import"]);
    let saved_text = std::fs::read_to_string(&saved).unwrap();
    assert_no_secret(&[&plan, &refused, &apply], &secrets(&sandbox, &[]));
    for secret in secrets(&sandbox, &[]) {
        assert!(!saved_text.contains(&secret));
    }

    // Applied, the account's tokens changed: the saved plan is stale and sends nothing.
    sandbox.clear_requests();
    let again = run_against(
        &url,
        &[
            "apply",
            "--auto-approve",
            &saved,
            "--new-tokens-file",
            &dir.path().join("again.json").display().to_string(),
        ],
    );
    assert_exit(&again, 1);
    assert_stderr_has(
        &again,
        "the account's API tokens changed since the plan was saved",
    );
    assert!(answered_writes(&sandbox).is_empty());
}

#[test]
fn a_replacement_whose_delete_fails_names_the_old_token_to_delete() {
    // The three reads, the create (200 with its secret), then a DELETE that fails.
    let (listing, tree, tokens) = demo_answers();
    let secret = "9c1e77e2d04b5a9c1e3f9a1c77e2d04b";
    let tokens_calls = std::sync::atomic::AtomicUsize::new(0);
    let (url, _) = canned_server_by_path(move |path| {
        let ok = |body: &str| http_response("200 OK", "application/json", body);
        if path.ends_with("/account_accesses") {
            ok(&listing)
        } else if path.ends_with("/permissions/resources") {
            ok(&tree)
        } else if path.ends_with("/api_tokens/61001") {
            http_response(
                "500 Internal Server Error",
                "application/json",
                r#"{"error":"boom"}"#,
            )
        } else if tokens_calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            ok(&format!(
                r#"{{"id":62001,"name":"CI deploy","expires_at":null,"resources":[],"token":"{secret}"}}"#
            ))
        } else {
            ok(&tokens)
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "desired.yaml",
        "version: 1\naccount_id: 1111111\napi_tokens:\n  CI deploy: {projects: {Backend: admin}}\n",
    );
    let new_tokens = new_tokens_path(dir.path());
    let apply = apply_making_tokens(
        &url,
        &file,
        &new_tokens,
        &["--allow-token-replacement", "--retries", "0"],
    );
    assert_exit(&apply, 1);
    let out = stdout(&apply);
    assert!(
        out.contains("✓ API token \"CI deploy\": token created (id 62001)"),
        "{out}"
    );
    assert!(
        out.contains("the new token was created, but the old token 61001 was not deleted")
            && out.contains("delete token 61001 in Mailtrap once everything uses the new secret"),
        "{out}"
    );
    // The secret was kept before the delete was tried, and shown nowhere.
    assert_eq!(read_json(&new_tokens)["tokens"][0]["token"], secret);
    assert_no_secret(&[&apply], &[secret.to_string()]);
}

#[test]
fn the_expiry_warning_window_and_a_reset_the_plan_cannot_make_alone() {
    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    // CI deploy expires on 2027-06-30: five days ahead, inside 30 days, outside 2.
    let within = run_against(&url, &["plan", "-f", DEMO, "--now", "2027-06-25"]);
    assert_stdout_has(&within, "API token \"CI deploy\" expires in 5 days");
    let narrow = run_against(
        &url,
        &[
            "plan",
            "-f",
            DEMO,
            "--now",
            "2027-06-25",
            "--expiry-warning",
            "2d",
        ],
    );
    assert_exit(&narrow, 0);
    assert!(
        !stdout(&narrow).contains("expires in"),
        "{}",
        stdout(&narrow)
    );

    // A reset of a token the plan replaces is not made: one change per token, said.
    let dir = tempfile::tempdir().unwrap();
    let file = demo_replacing(
        dir.path(),
        "  CI deploy:\n    projects: {Backend: viewer}\n",
        "  CI deploy:\n    projects: {Backend: admin}\n",
    );
    let plan = run_against(&url, &["plan", "-f", &file, "--reset-token", "CI deploy"]);
    assert_exit(&plan, 0);
    let out = stdout(&plan);
    assert!(
        out.contains("-/+ API token \"CI deploy\" (id 61001): replace")
            && out.contains("--reset-token \"CI deploy\": token 61001 is not reset, because the plan already changes it (replace_token)"),
        "{out}"
    );
}
