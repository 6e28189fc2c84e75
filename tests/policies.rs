//! Policies end to end: `check` on the live account, `plan` and `apply` judging the
//! account as apply leaves it, and `validate` on the file alone.

mod common;

use common::*;
use mailtrap_access::sandbox::{BlockingSandbox, SandboxConfig, SandboxState};

/// The demo account with a contractor whom someone made account admin by hand.
fn sandbox_with_contractor_admin() -> BlockingSandbox {
    let mut state = serde_json::to_value(SandboxState::demo()).unwrap();
    state["accesses"].as_array_mut().unwrap().push(serde_json::json!({
        "id": 5190077, "specifier_type": "User",
        "resources": [{"resource_type": "account", "resource_id": 1111111, "access_level": 100}],
        "specifier": {"id": 901077, "email": "zed@contractors.acme.com", "name": "Zed", "two_factor_authentication_enabled": true},
        "permissions": {"can_read": true, "can_update": true, "can_destroy": true, "can_leave": false}
    }));
    let state = SandboxState::from_json(&state.to_string()).unwrap();
    BlockingSandbox::start(SandboxConfig::new(state, TOKEN), ([127, 0, 0, 1], 0).into()).unwrap()
}

const DENY_CONTRACTORS: &str = "policies:\n  deny:\n    - who: \"*@contractors.acme.com\"\n      level: admin\n      on: account\n";

#[test]
fn check_catches_a_contractor_made_admin_by_hand_and_plan_shows_it() {
    let sandbox = sandbox_with_contractor_admin();
    let url = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    let file = demo_with(dir.path(), DENY_CONTRACTORS);
    let check = run_against(&url, &["check", "-f", &file]);
    assert_exit(&check, 3);
    assert_stdout_has(
        &check,
        "✗ deny[0] zed@contractors.acme.com: zed@contractors.acme.com holds admin on the account",
    );
    let junit = run_against(&url, &["check", "-f", &file, "--format", "junit"]);
    assert_exit(&junit, 3);
    let xml = stdout(&junit);
    assert!(
        xml.contains("<testcase classname=\"policies\" name=\"deny[0] zed@contractors.acme.com\">")
            && xml.contains("<failure message=")
            && xml.contains("tests=\"1\" failures=\"1\""),
        "{xml}"
    );
    let json = run_against(&url, &["check", "-f", &file, "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(report["violations"][0]["rule"], "deny[0]");

    // plan lists it (the account has it now, so apply is not refused for it).
    let plan = run_against(&url, &["plan", "-f", &file, "--format", "json"]);
    assert_exit(&plan, 0);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&plan)).unwrap();
    let violations = plan["policy_violations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0]["subject"], "zed@contractors.acme.com");
    assert_eq!(violations[0]["new"], false);
    assert!(writes_of(&sandbox).is_empty());

    // Without the violation, check passes.
    let clean = demo_sandbox();
    let ok = run_against(&clean.base_url(), &["check", "-f", &file]);
    assert_exit(&ok, 0);
    assert_stdout_has(&ok, "The rule holds.");
}

#[test]
fn apply_refuses_a_plan_that_adds_a_violation_but_not_one_that_only_lowers_access() {
    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    // The demo makes carol (no two-factor) admin of Frontend: a new violation.
    let file = demo_with(dir.path(), "policies:\n  require_2fa: admin\n");
    let refused = run_against(
        &url,
        &[
            "apply",
            "-f",
            &file,
            "--auto-approve",
            "--allow-mass-removal",
        ],
    );
    assert_exit(&refused, 1);
    assert!(
        stderr(&refused)
            .contains("policy rail: the plan would break policy require_2fa for carol@acme.com"),
        "{}",
        stderr(&refused)
    );
    assert!(writes_of(&sandbox).is_empty());

    // Lowering carol instead: bob and grace keep their old violations, which do not
    // hold the fix up.
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "  carol@acme.com:\n    projects: {Frontend: admin}\n",
        "  carol@acme.com:\n    projects: {Frontend: viewer}\n",
    );
    let lowering = write_file(dir.path(), "lowering.yaml", &text);
    let apply = run_against(&url, &["apply", "-f", &lowering, "--auto-approve"]);
    assert_exit(&apply, 0);
    assert_stdout_has(&apply, "! already now: require_2fa bob@acme.com");
}

#[test]
fn validate_points_at_the_grant_and_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "desired.yaml",
        "version: 1\nusers:\n  zed@contractors.acme.com:\n    account: admin\npolicies:\n  deny:\n    - who: \"*@contractors.acme.com\"\n      level: admin\n      on: account\n",
    );
    let output = command(&["validate", "-f", &file]).output().unwrap();
    assert_exit(&output, 1);
    let errors = stderr(&output);
    assert!(
        errors.contains(&format!(
            "{file}:3:3: zed@contractors.acme.com holds admin on the account"
        )) && errors.contains("(policy deny[0] at line 7)"),
        "{errors}"
    );
}

#[test]
fn report_reviews_every_subject_in_each_format() {
    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    let file = demo_with(dir.path(), DENY_CONTRACTORS);
    for format in ["markdown", "csv", "json"] {
        let output = run_against(
            &url,
            &[
                "report",
                "-f",
                &file,
                "--format",
                format,
                "--now",
                "2026-12-02",
            ],
        );
        assert_exit(&output, 0);
        insta::assert_snapshot!(format!("report_{format}"), stdout(&output));
    }
    // Written with -o, the file is the owner's alone; and nothing was written to the
    // account.
    let out = dir.path().join("review.md").display().to_string();
    let written = run_against(&url, &["report", "-o", &out, "--now", "2026-12-02"]);
    assert_exit(&written, 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(writes_of(&sandbox).is_empty());
    for secret in sandbox.state().api_tokens.iter().map(|t| t.token.clone()) {
        assert!(!std::fs::read_to_string(&out).unwrap().contains(&secret));
    }
}

#[test]
fn validate_refuses_a_deny_that_matches_nobody_and_skips_whom_the_file_cannot_see() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "desired.yaml",
        "version: 1\npolicies:\n  deny:\n    - who: people\n      level: admin\n      on: account\n",
    );
    let output = command(&["validate", "-f", &file]).output().unwrap();
    assert_exit(&output, 1);
    assert_stderr_has(
        &output,
        &format!("{file}:4:7: `who: \"people\"` matches nobody"),
    );
    // An expectation about someone the file does not list is for the live account.
    let file = write_file(
        dir.path(),
        "owner.yaml",
        "version: 1\npolicies:\n  expect:\n    - user: owner@acme.com\n      can: {account: admin}\n",
    );
    let output = command(&["validate", "-f", &file]).output().unwrap();
    assert_exit(&output, 0);
}

#[test]
fn a_rule_naming_a_resource_the_account_lacks_is_an_error_with_the_nearest_name() {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let file = demo_with(
        dir.path(),
        "policies:\n  deny:\n    - who: \"*@acme.com\"\n      level: admin\n      on: {project: Backnd}\n",
    );
    for command in ["check", "plan"] {
        let output = run_against(&sandbox.base_url(), &[command, "-f", &file]);
        assert_exit(&output, 1);
        assert!(
            stderr(&output).contains("policy deny[0] names project \"Backnd\", which the account does not have; did you mean \"Backend\"?"),
            "{command}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn a_deny_rule_names_one_resource() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "desired.yaml",
        "version: 1\npolicies:\n  deny:\n    - who: tokens\n      level: admin\n      on: {project: Backend, inbox: Backend/Staging}\n",
    );
    let output = command(&["validate", "-f", &file]).output().unwrap();
    assert_exit(&output, 1);
    assert_stderr_has(&output, "`on:` names one resource");
}

#[test]
fn every_format_shows_the_violations_and_a_saved_plan_names_the_reviews_digest() {
    let sandbox = sandbox_with_contractor_admin();
    let url = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    let file = demo_with(dir.path(), DENY_CONTRACTORS);
    let diff = run_against(&url, &["plan", "-f", &file, "--format", "diff"]);
    assert_exit(&diff, 0);
    assert_stderr_has(
        &diff,
        "policy: ! already now: deny[0] zed@contractors.acme.com",
    );
    let markdown = run_against(&url, &["plan", "-f", &file, "--format", "markdown"]);
    assert_stdout_has(&markdown, "> - deny\\[0\\] zed@contractors.acme.com: zed@contractors.acme.com holds admin on the account");
    let check = run_against(&url, &["check", "-f", &file, "--format", "markdown"]);
    assert_exit(&check, 3);
    assert_stdout_has(
        &check,
        "| deny\\[0\\] | zed@contractors.acme.com | **violated**:",
    );
    // The saved plan and the review of the same account name the same digest.
    let saved = save_plan(&url, &file, dir.path());
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(saved).unwrap()).unwrap();
    let review = run_against(&url, &["report", "--format", "json"]);
    let review: serde_json::Value = serde_json::from_str(&stdout(&review)).unwrap();
    assert_eq!(
        saved["fingerprint"]["live_state_sha256"],
        review["live_state_sha256"]
    );
    assert!(review["live_state_sha256"].as_str().unwrap().len() == 64);
}

#[test]
fn the_review_lists_an_access_of_a_kind_the_tool_does_not_know() {
    let (listing, tree, tokens) = demo_answers();
    let mut listing: Vec<serde_json::Value> = serde_json::from_str(&listing).unwrap();
    listing.push(serde_json::json!({
        "id": 5190099,
        "specifier_type": "ServiceAccount",
        "specifier": {"id": 9, "name": "billing-bot"},
        "resources": [{"resource_type": "account", "resource_id": 1111111, "access_level": 100}],
    }));
    let listing = serde_json::Value::from(listing).to_string();
    let (url, seen) = canned_server_by_path(move |path| {
        let body = if path.ends_with("/account_accesses") {
            &listing
        } else if path.ends_with("/api_tokens") {
            &tokens
        } else {
            &tree
        };
        http_response("200 OK", "application/json", body)
    });
    let output = run_against(&url, &["report", "--format", "json", "--now", "2026-12-02"]);
    assert_exit(&output, 0);
    let review: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let subjects = review["subjects"].as_array().unwrap();
    let other = (subjects.iter())
        .find(|subject| subject["kind"] == "other")
        .expect("the access of an unknown kind is reviewed");
    assert_eq!(other["name"], "billing-bot (ServiceAccount)");
    // An account admin: it reaches billing too, and the summary names it.
    let held: Vec<&str> = (other["access"].as_array().unwrap().iter())
        .map(|held| held["type"].as_str().unwrap())
        .collect();
    assert!(
        held.contains(&"account") && held.contains(&"billing"),
        "{held:?}"
    );
    let admins = review["summary"]["account_admins"].as_array().unwrap();
    assert!(
        admins.contains(&"billing-bot (ServiceAccount)".into()),
        "{admins:?}"
    );
    // With a file whose rules would catch any person: no rule names it, and it is not
    // "not in the file" (the file cannot list it).
    let dir = tempfile::tempdir().unwrap();
    let file = demo_with(
        dir.path(),
        "policies:\n  allowed_email_domains: [elsewhere.example]\n  deny:\n    - who: \"*\"\n      level: viewer\n      on: billing\n",
    );
    let output = run_against(
        &url,
        &[
            "report",
            "-f",
            &file,
            "--format",
            "json",
            "--now",
            "2026-12-02",
        ],
    );
    assert_exit(&output, 0);
    let review: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let summary = &review["summary"];
    let violations = summary["policy_violations"].as_array().unwrap();
    assert!(!violations.is_empty(), "the rules catch the people");
    assert!(
        !violations
            .iter()
            .any(|v| v["subject"].as_str().unwrap().contains("billing-bot")),
        "{violations:?}"
    );
    assert!(
        !(summary["not_in_file"].as_array().unwrap().iter())
            .any(|name| name.as_str().unwrap().contains("billing-bot")),
        "{summary}"
    );
    assert!(seen.lock().unwrap().iter().all(|method| method == "GET"));
}

#[test]
fn a_token_created_without_an_expiry_breaks_a_lifetime_rule_until_it_states_one() {
    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    let with_token = |entry: &str| {
        let text = std::fs::read_to_string(DEMO).unwrap().replace(
            "api_tokens:\n",
            &format!("api_tokens:\n  Release bot:\n    projects: {{Backend: viewer}}\n{entry}"),
        );
        let name = format!("desired-{}.yaml", entry.len());
        write_file(
            dir.path(),
            &name,
            &format!("{text}policies:\n  token_max_lifetime: 365d\n"),
        )
    };
    let unstated = with_token("");
    let plan = run_against(
        &url,
        &[
            "plan",
            "-f",
            &unstated,
            "--format",
            "json",
            "--now",
            "2026-12-02",
        ],
    );
    assert_exit(&plan, 0);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&plan)).unwrap();
    let violation = (plan["policy_violations"].as_array().unwrap().iter())
        .find(|v| v["subject"] == "Release bot")
        .expect("the new token is judged");
    assert_eq!(violation["new"], true);
    assert!(
        violation["message"]
            .as_str()
            .unwrap()
            .contains("is created without an `expires_at`, so the service picks when it expires"),
        "{violation}"
    );
    let new_tokens = dir.path().join("new-tokens.json");
    let refused = run_against(
        &url,
        &[
            "apply",
            "-f",
            &unstated,
            "--auto-approve",
            "--allow-mass-removal",
            "--new-tokens-file",
            new_tokens.to_str().unwrap(),
            "--now",
            "2026-12-02",
        ],
    );
    assert_exit(&refused, 1);
    assert_stderr_has(&refused, "break policy token_max_lifetime for Release bot");
    assert!(writes_of(&sandbox).is_empty());

    // Stated within the lifetime, the token breaks nothing.
    let stated = with_token("    expires_at: 2027-06-30\n");
    let plan = run_against(
        &url,
        &[
            "plan",
            "-f",
            &stated,
            "--format",
            "json",
            "--now",
            "2026-12-02",
        ],
    );
    let plan: serde_json::Value = serde_json::from_str(&stdout(&plan)).unwrap();
    assert!(
        !(plan["policy_violations"].as_array().unwrap().iter())
            .any(|v| v["subject"] == "Release bot"),
        "{plan}"
    );
}
