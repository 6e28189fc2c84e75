//! The binary in the ways pipelines use it, against the sandbox: the plan formats, colors,
//! saved plans (apply sends exactly what was saved, and refuses when the account changed),
//! exit codes that never say "changes" for an error, GitHub annotations, and apply's
//! progress line on a terminal only.

mod common;

use common::*;
use serde_json::{json, Value};

const DEMO: &str = "examples/mailtrap-access.yaml";

/// A desired file listing nobody under `unmanaged: remove`: against the demo account it
/// breaks the empty-file, mass-removal and admin rails.
const LISTS_NOBODY: &str = "version: 1\naccount_id: 1111111\nunmanaged: remove\n";

/// The writes the sandbox received, by path (apply sends them concurrently).
fn sent(sandbox: &mailtrap_access::sandbox::BlockingSandbox) -> Vec<Value> {
    let mut sent: Vec<Value> = writes(&sandbox.requests())
        .into_iter()
        .map(|r| {
            let mut request = json!({"method": r.method, "path": r.path});
            if let Some(body) = &r.body {
                request["body"] = body.clone();
            }
            request
        })
        .collect();
    sent.sort_by_key(|request| request["path"].to_string());
    sent
}

/// The requests of a JSON plan, by path.
fn requests_of(plan: &Value) -> Vec<Value> {
    let mut requests: Vec<Value> = plan["accesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|access| access["request"].clone())
        .collect();
    requests.sort_by_key(|request| request["path"].to_string());
    requests
}

#[test]
fn json_plan_holds_exactly_the_requests_apply_sends() {
    let sandbox = demo_sandbox();
    let output = run_against(
        &sandbox.base_url(),
        &["plan", "-f", DEMO, "--format", "json"],
    );
    assert_exit(&output, 0);
    let plan: Value = serde_json::from_str(&stdout(&output)).expect("stdout is JSON only");
    assert_eq!(plan["format_version"], 1);
    assert_eq!(plan["changes"], true);
    assert_eq!(
        plan["summary"],
        json!({"create": 2, "update": 1, "destroy": 1, "remove": 0,
            "tokens": {"create": 0, "replace": 0, "delete": 0, "reset": 0, "update": 0}})
    );
    let kinds: Vec<&str> = plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["kind"].as_str().unwrap())
        .collect();
    // The demo file manages a token, so the tokens list is read: one never expires.
    assert_eq!(kinds, ["not_in_account", "token_never_expires"]);

    let apply = run_against(
        &sandbox.base_url(),
        &["apply", "-f", DEMO, "--auto-approve"],
    );
    assert_exit(&apply, 0);
    assert_eq!(sent(&sandbox), requests_of(&plan));
}

#[test]
fn markdown_plan_starts_with_the_marker() {
    let sandbox = demo_sandbox();
    let output = run_against(
        &sandbox.base_url(),
        &["plan", "-f", DEMO, "--format", "markdown"],
    );
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(
        text.starts_with("<!-- mailtrap-access-plan -->\n"),
        "{text}"
    );
    assert!(text.contains("> [!WARNING]"), "{text}");
    assert!(text.contains("| update | project \"Frontend\" | 3301002 | viewer | admin |"));
}

#[test]
fn markdown_plan_tells_reviewers_what_apply_will_refuse() {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    // Three rails, none lifted by `plan`.
    let empty = write_file(dir.path(), "empty.yaml", LISTS_NOBODY);
    let output = run_against(
        &sandbox.base_url(),
        &["plan", "-f", &empty, "--format", "markdown"],
    );
    // Planning a plan apply would refuse is not an error: the comment says so.
    assert_exit(&output, 0);
    let text = stdout(&output);
    let caution = text
        .split_once("> [!CAUTION]\n> `apply` will refuse this plan:\n")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("no caution in {text}"));
    for rail in ["empty-file rail", "mass-removal rail", "admin rail"] {
        assert!(
            caution.contains(&format!("> - {rail}: ")),
            "{rail} missing:\n{text}"
        );
    }
    assert!(sent(&sandbox).is_empty());

    let output = run_against(
        &sandbox.base_url(),
        &["plan", "-f", DEMO, "--format", "markdown"],
    );
    assert!(
        !stdout(&output).contains("[!CAUTION]"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn diff_plan_shows_the_yaml_change_and_nothing_when_converged() {
    let sandbox = demo_sandbox();
    let output = run_against(
        &sandbox.base_url(),
        &[
            "plan",
            "-f",
            DEMO,
            "--format",
            "diff",
            "--detailed-exitcode",
        ],
    );
    assert_exit(&output, 2);
    let text = stdout(&output);
    assert!(text.starts_with("--- live account 1111111\n+++ examples/mailtrap-access.yaml"));
    for line in [
        "-      Frontend/Staging: viewer",
        "+      Backend/Staging: admin",
        "-      Frontend: viewer",
        "+      Frontend: admin",
        "+    email_campaigns: viewer",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line:?} missing in:\n{text}"
        );
    }
    // Warnings go to stderr, so stdout stays a diff.
    assert!(stderr(&output).contains("warning: zoe@acme.com is not in the account"));

    let apply = run_against(
        &sandbox.base_url(),
        &["apply", "-f", DEMO, "--auto-approve"],
    );
    assert_exit(&apply, 0);
    let output = run_against(
        &sandbox.base_url(),
        &[
            "plan",
            "-f",
            DEMO,
            "--format",
            "diff",
            "--detailed-exitcode",
        ],
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "");
}

#[test]
fn color_follows_the_flag_and_no_color() {
    let sandbox = demo_sandbox();
    // The helper sets NO_COLOR=1 and gives no terminal.
    let plain = run_against(&sandbox.base_url(), &["plan", "-f", DEMO]);
    assert!(!stdout(&plain).contains('\x1b'));
    let auto = run_against(
        &sandbox.base_url(),
        &["plan", "-f", DEMO, "--color", "auto"],
    );
    assert!(!stdout(&auto).contains('\x1b'));
    let always = run_against(
        &sandbox.base_url(),
        &["plan", "-f", DEMO, "--color", "always"],
    );
    assert!(stdout(&always).contains("\x1b[32m+ inbox \"Backend/Staging\""));
    assert!(stdout(&always).contains("    \x1b[2m{\"permissions\":["));
    assert!(stdout(&always).contains(
        "    \x1b[2mPUT /api/accounts/1111111/account_accesses/5190004/permissions/bulk\x1b[0m\n"
    ));
    // CLICOLOR_FORCE colors even a pipe, as anstream reads it; NO_COLOR still wins.
    let forced = command(&["plan", "-f", DEMO])
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1")
        .env("MAILTRAP_API_URL", sandbox.base_url())
        .env("MAILTRAP_API_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_stdout_has(&forced, "\x1b[32m+ inbox");
    let never = command(&["plan", "-f", DEMO, "--color", "never"])
        .env_remove("NO_COLOR")
        .env("MAILTRAP_API_URL", sandbox.base_url())
        .env("MAILTRAP_API_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(!stdout(&never).contains('\x1b'));
    let apply = run_against(
        &sandbox.base_url(),
        &["apply", "-f", DEMO, "--auto-approve", "--color", "always"],
    );
    assert_exit(&apply, 0);
    assert!(stdout(&apply).contains("\x1b[32m✓\x1b[0m bob@acme.com"));
}

#[test]
fn saved_plan_is_applied_exactly_and_is_private() {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("plan.json");
    let saved = saved.to_str().unwrap();
    let output = run_against(&sandbox.base_url(), &["plan", "-f", DEMO, "--out", saved]);
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("Plan: 2 to create"),
        "the plan still prints"
    );
    assert!(stderr(&output).contains(&format!("Saved the plan to {saved}")));
    let text = std::fs::read_to_string(saved).unwrap();
    assert!(!text.contains(TOKEN));
    let plan: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(plan["fingerprint"]["algorithm"], "sha256");
    assert_eq!(plan["fingerprint"]["desired_file"]["path"], DEMO);
    assert_eq!(
        plan["fingerprint"]["desired_file"]["sha256"],
        mailtrap_access::saved_plan::sha256_hex(&std::fs::read(DEMO).unwrap())
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(saved).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    sandbox.clear_requests();
    let output = run_against(&sandbox.base_url(), &["apply", "--auto-approve", saved]);
    assert_exit(&output, 0);
    assert_stderr_has(
        &output,
        &format!("{saved}: planning again from {DEMO} gives exactly the saved changes."),
    );
    assert_stdout_has(
        &output,
        "Apply complete: 3 requests sent; read back: the account matches the desired state.",
    );
    // Three reads (the demo file manages a token), exactly the saved requests, three
    // reads back.
    assert_eq!(sent(&sandbox), requests_of(&plan));
    assert_eq!(sandbox.requests().len(), 9);

    // The saved plan, now converged against, is stale: refused, nothing sent.
    sandbox.clear_requests();
    let again = run_against(&sandbox.base_url(), &["apply", "--auto-approve", saved]);
    assert_exit(&again, 1);
    assert_stderr_has(&again, "is changed by the saved plan only");
    assert!(sent(&sandbox).is_empty());
}

/// Save the demo plan in `dir`, edit it with `edit`, apply it: refused with a message
/// holding `expected`, nothing sent, the account as it was.
fn tampered_plan_is_refused(edit: impl FnOnce(&mut Value), expected: &str) {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let saved = save_plan(&sandbox.base_url(), DEMO, dir.path());
    let saved = saved.as_str();
    let mut plan: Value = serde_json::from_str(&std::fs::read_to_string(saved).unwrap()).unwrap();
    edit(&mut plan);
    std::fs::write(saved, plan.to_string()).unwrap();
    let before = sandbox.accesses_json();
    sandbox.clear_requests();
    let output = run_against(&sandbox.base_url(), &["apply", "--auto-approve", saved]);
    assert_exit(&output, 1);
    assert_stderr_has(&output, expected);
    assert!(sent(&sandbox).is_empty());
    assert_eq!(sandbox.accesses_json(), before);
}

#[test]
fn an_edited_saved_plan_sends_nothing() {
    // A DELETE of an access the plan never showed, as a new entry (operations and all).
    tampered_plan_is_refused(
        |plan| {
            let accesses = plan["accesses"].as_array_mut().unwrap();
            accesses.push(json!({
                "access_id": 5190002, "specifier": {"type": "User", "email": "alice@acme.com"},
                "action": "remove_access", "operations": [],
                "request": {"method": "DELETE", "path": "/api/accounts/1111111/account_accesses/5190002"}
            }));
            plan["summary"]["remove"] = 1.into();
        },
        "alice@acme.com (User, access 5190002) is changed by the saved plan only",
    );
    // Account admin inside a request body, while the operations reviewers read stay.
    tampered_plan_is_refused(
        |plan| {
            let body = &mut plan["accesses"][0]["request"]["body"]["permissions"];
            body.as_array_mut().unwrap().push(json!(
                {"resource_id": "1111111", "resource_type": "account", "access_level": "admin"}
            ));
        },
        "accesses[0].request: it is not the request its operations make",
    );
    // The same, written consistently in the operations and the request.
    tampered_plan_is_refused(
        |plan| {
            let access = &mut plan["accesses"][0];
            let operation = json!({"operation": "create", "from": null, "to": "admin",
                "resource": {"type": "account", "id": 1111111, "name": "Acme"}});
            access["operations"]
                .as_array_mut()
                .unwrap()
                .insert(0, operation);
            let item = json!({"resource_id": "1111111", "resource_type": "account", "access_level": "admin"});
            let body = access["request"]["body"]["permissions"]
                .as_array_mut()
                .unwrap();
            body.insert(0, item);
            let create = plan["summary"]["create"].as_u64().unwrap();
            plan["summary"]["create"] = (create + 1).into();
        },
        "is changed differently by the two",
    );
    // A request sent twice.
    tampered_plan_is_refused(
        |plan| {
            let first = plan["accesses"][0].clone();
            plan["accesses"].as_array_mut().unwrap().push(first);
        },
        "accesses[3]: the access is listed twice",
    );
}

#[test]
fn a_saved_plan_is_refused_when_its_desired_file_changed() {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let desired = write_file(
        dir.path(),
        "access.yaml",
        &std::fs::read_to_string(DEMO).unwrap(),
    );
    let saved = dir.path().join("plan.json");
    let saved = saved.to_str().unwrap();
    assert_exit(
        &run_against(
            &sandbox.base_url(),
            &["plan", "-f", &desired, "--out", saved],
        ),
        0,
    );
    std::fs::write(
        &desired,
        std::fs::read_to_string(DEMO).unwrap() + "# edited\n",
    )
    .unwrap();
    sandbox.clear_requests();
    let output = run_against(&sandbox.base_url(), &["apply", "--auto-approve", saved]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains(&format!("{saved} was planned from {desired} (SHA-256 "))
            && err.contains(&format!("but {desired} has SHA-256 "))
            && err.contains("nothing was sent"),
        "{err}"
    );
    // -f names the desired file anew: the original text applies.
    let original = write_file(
        dir.path(),
        "original.yaml",
        &std::fs::read_to_string(DEMO).unwrap(),
    );
    let output = run_against(
        &sandbox.base_url(),
        &["apply", "--auto-approve", "-f", &original, saved],
    );
    assert_exit(&output, 0);
    assert_eq!(sent(&sandbox).len(), 3);
}

#[test]
fn saved_plan_is_refused_when_the_account_changed_and_nothing_is_sent() {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let saved = save_plan(&sandbox.base_url(), DEMO, dir.path());
    let saved = saved.as_str();

    // Someone changes carol's access in between.
    let other = write_file(
        dir.path(),
        "carol.yaml",
        "version: 1\naccount_id: 1111111\nusers:\n  carol@acme.com: {projects: {Backend: viewer}}\n",
    );
    assert_exit(
        &run_against(
            &sandbox.base_url(),
            &["apply", "-f", &other, "--auto-approve"],
        ),
        0,
    );
    let before = sandbox.accesses_json();
    sandbox.clear_requests();

    let output = run_against(&sandbox.base_url(), &["apply", "--auto-approve", saved]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("the plan made now differs from")
            && err.contains("nothing was sent")
            && err.contains("carol@acme.com (User, access 5190004) is changed")
            && err.contains("Run plan again"),
        "{err}"
    );
    assert!(!err.contains("bob@acme.com"), "only what changed: {err}");
    assert!(sent(&sandbox).is_empty());
    assert_eq!(sandbox.accesses_json(), before);
}

#[test]
fn saved_plan_usage_errors() {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let saved = save_plan(&sandbox.base_url(), DEMO, dir.path());
    let saved = saved.as_str();
    sandbox.clear_requests();

    // Another account than the plan's.
    let other = run_against(
        &sandbox.base_url(),
        &["apply", "--auto-approve", "--account-id", "2222222", saved],
    );
    assert_exit(&other, 1);
    assert!(
        stderr(&other)
            .contains("--account-id / MAILTRAP_ACCOUNT_ID says account 2222222, but the saved plan says account 1111111"),
        "{}",
        stderr(&other)
    );

    // A desired-state file where a saved plan belongs.
    let yaml = run_against(&sandbox.base_url(), &["apply", "--auto-approve", DEMO]);
    assert_exit(&yaml, 1);
    assert_stderr_has(&yaml, "is not a saved plan");

    // Without a terminal and without --auto-approve: refused before reading anything.
    let unapproved = run_against(&sandbox.base_url(), &["apply", saved]);
    assert_exit(&unapproved, 1);
    assert!(stderr(&unapproved).contains("--auto-approve"));
    assert!(sandbox.requests().is_empty());
}

#[test]
fn errors_never_exit_two_with_detailed_exitcode() {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let unknown = write_file(
        dir.path(),
        "unknown.yaml",
        "version: 1\naccount_id: 1111111\nusers:\n  bob@acme.com: {projects: {Backnd: admin}}\n",
    );
    let broken = write_file(dir.path(), "broken.yaml", "version: [\n");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = format!("http://127.0.0.1:{port}");
    let url = sandbox.base_url();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (url.as_str(), vec!["-f", &unknown]),
        (url.as_str(), vec!["-f", &broken]),
        (url.as_str(), vec!["-f", "missing.yaml"]),
        (unreachable.as_str(), vec!["-f", DEMO, "--retries", "0"]),
        // The plan has changes, but saving it fails: an error, not "changes".
        (
            url.as_str(),
            vec!["-f", DEMO, "--out", "/nonexistent/dir/plan.json"],
        ),
        // A usage error (clap's own code would be 2).
        (url.as_str(), vec!["-f", DEMO, "--format", "yaml"]),
    ];
    for (url, extra) in cases {
        for format in ["text", "json", "markdown", "diff"] {
            let mut args = vec!["plan", "--detailed-exitcode", "--format", format];
            args.extend(&extra);
            let output = run_against(url, &args);
            assert_exit(&output, 1);
        }
    }
    let help = command(&["plan", "--help"]).output().unwrap();
    assert_exit(&help, 0);
}

#[test]
fn github_annotations_only_under_github_actions() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "bad.yaml",
        "version: 1\nusers:\n  bob@acme.com:\n    roles: [dev]\n  Bob@acme.com: {}\n",
    );
    let plain = command(&["validate", "-f", &file]).output().unwrap();
    assert_exit(&plain, 1);
    assert!(!stderr(&plain).contains("::error"));

    let annotated = command(&["validate", "-f", &file])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert_exit(&annotated, 1);
    let err = stderr(&annotated);
    let annotations: Vec<&str> = err.lines().filter(|l| l.starts_with("::error ")).collect();
    assert_eq!(
        annotations,
        [
            format!("::error file={file},line=4,col=13::unknown role \"dev\" for \"bob@acme.com\"; no roles are defined"),
            format!("::error file={file},line=5,col=3::duplicate user \"Bob@acme.com\": already listed as \"bob@acme.com\" on line 3 (emails are case-insensitive)"),
        ]
    );
    // The human lines are still there, and stdout stays clean.
    assert!(err.contains("error: "));
    assert_eq!(stdout(&annotated), "");

    // Errors found against the account (name resolution) too.
    let sandbox = demo_sandbox();
    let names = write_file(
        dir.path(),
        "names.yaml",
        "version: 1\naccount_id: 1111111\nusers:\n  bob@acme.com:\n    projects: {Backnd: admin}\n",
    );
    let output = command(&["plan", "-f", &names, "--format", "markdown"])
        .env("GITHUB_ACTIONS", "true")
        .env("MAILTRAP_API_URL", sandbox.base_url())
        .env("MAILTRAP_API_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert_stderr_has(&output, &format!(
            "::error file={names},line=5,col=16::unknown project \"Backnd\"; did you mean \"Backend\""
        ));
    assert_eq!(stdout(&output), "");

    // Errors outside the file get no annotation.
    let token = command(&["plan", "-f", DEMO])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert_exit(&token, 1);
    assert!(!stderr(&token).contains("::error"));
}

#[test]
fn no_progress_line_without_a_terminal() {
    let sandbox = demo_sandbox();
    let output = run_against(
        &sandbox.base_url(),
        &["apply", "-f", DEMO, "--auto-approve"],
    );
    assert_exit(&output, 0);
    let err = stderr(&output);
    assert!(!err.contains("[1/3]") && !err.contains('\r'), "{err:?}");
}

/// On a terminal (a pseudo-terminal made by util-linux `script`), apply shows `[n/N]`.
#[test]
fn progress_line_on_a_terminal() {
    let sandbox = demo_sandbox();
    let env = [
        ("MAILTRAP_API_URL", sandbox.base_url()),
        ("MAILTRAP_API_TOKEN", TOKEN.to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let args = ["apply", "-f", DEMO, "--auto-approve", "--color", "never"];
    let Some((code, screen)) = on_a_terminal(&args, &env, "") else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    for step in [
        "[0/3] requests sent, 3 to go",
        "[1/3] request sent, 2 to go",
        "[3/3] requests sent, 0 to go",
    ] {
        assert!(screen.contains(step), "{step:?} missing in {screen:?}");
    }
    // The line is cleared before each result line, and at the end.
    assert!(screen.contains("\r\x1b[2K✓ bob@acme.com"), "{screen:?}");
    assert!(screen.contains("Apply complete"), "{screen:?}");
}

#[test]
fn saved_plan_keeps_the_safety_rails() {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    // The empty-file and mass-removal rails (which --allow-mass-removal lifts) and,
    // unless allowed, the admin rail (which it does not).
    let empty = write_file(dir.path(), "empty.yaml", LISTS_NOBODY);
    let empty_no_admins = write_file(
        dir.path(),
        "empty-no-admins.yaml",
        "version: 1\naccount_id: 1111111\nunmanaged: remove\nmin_account_admins: 0\n",
    );
    let save = |file: &str, name: &str| {
        let path = dir.path().join(name).to_str().unwrap().to_string();
        assert_exit(
            &run_against(&sandbox.base_url(), &["plan", "-f", file, "--out", &path]),
            0,
        );
        let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        (path, saved)
    };
    let (admins, saved) = save(&empty, "admins.json");
    let rails: Vec<(&str, bool)> = saved["rails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rail| {
            (
                rail["rail"].as_str().unwrap(),
                rail["overridable"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rails,
        [
            ("empty_desired_file", true),
            ("mass_row_removal", true),
            ("too_few_account_admins", false)
        ]
    );
    let (overridable, _) = save(&empty_no_admins, "overridable.json");
    sandbox.clear_requests();

    let refused = run_against(
        &sandbox.base_url(),
        &["apply", "--auto-approve", "--allow-mass-removal", &admins],
    );
    assert_exit(&refused, 1);
    assert_stderr_has(&refused, "admin rail");
    let refused = run_against(
        &sandbox.base_url(),
        &["apply", "--auto-approve", &overridable],
    );
    assert_exit(&refused, 1);
    assert!(
        stderr(&refused).contains("refusing to apply; nothing was sent")
            && stderr(&refused).contains("empty-file rail"),
        "{}",
        stderr(&refused)
    );
    assert!(sent(&sandbox).is_empty());

    let allowed = run_against(
        &sandbox.base_url(),
        &[
            "apply",
            "--auto-approve",
            "--allow-mass-removal",
            &overridable,
        ],
    );
    assert_exit(&allowed, 0);
    assert!(sent(&sandbox)
        .iter()
        .all(|request| request["method"] == "DELETE"));
    assert!(!sent(&sandbox).is_empty());
}

#[test]
fn a_plan_without_changes_breaks_no_rail_in_plan_or_apply() {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    // No users and nothing removed: nothing to send, so no rail to refuse by.
    let empty = write_file(
        dir.path(),
        "empty.yaml",
        "version: 1\naccount_id: 1111111\n",
    );
    let plan = run_against(
        &sandbox.base_url(),
        &["plan", "-f", &empty, "--format", "json"],
    );
    assert_exit(&plan, 0);
    let document: Value = serde_json::from_str(&stdout(&plan)).unwrap();
    assert_eq!(document["rails"], json!([]));
    assert!(
        !stderr(&plan).contains("apply will refuse"),
        "{}",
        stderr(&plan)
    );
    let apply = run_against(
        &sandbox.base_url(),
        &["apply", "-f", &empty, "--auto-approve"],
    );
    assert_exit(&apply, 0);
    assert_stdout_has(&apply, "No changes.");
}

#[test]
fn an_account_id_that_disagrees_with_the_file_is_refused() {
    let sandbox = demo_sandbox();
    for args in [
        &["plan", "-f", DEMO, "--account-id", "2222222"][..],
        &[
            "apply",
            "-f",
            DEMO,
            "--auto-approve",
            "--account-id",
            "2222222",
        ],
    ] {
        let output = run_against(&sandbox.base_url(), args);
        assert_exit(&output, 1);
        assert_stderr_has(&output, "--account-id / MAILTRAP_ACCOUNT_ID says account 2222222, but the desired file says account 1111111");
    }
    assert!(sandbox.requests().is_empty());
    let agreeing = run_against(
        &sandbox.base_url(),
        &["plan", "-f", DEMO, "--account-id", "1111111"],
    );
    assert_exit(&agreeing, 0);
}

#[test]
fn plan_out_never_overwrites_what_is_not_a_saved_plan() {
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let demo = std::fs::read_to_string(DEMO).unwrap();
    let desired = write_file(dir.path(), "mailtrap-access.yaml", &demo);
    let notes = write_file(dir.path(), "notes.txt", "keep me\n");
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&notes, &link).unwrap();
    let link = link.to_str().unwrap();
    let cases = [
        (desired.as_str(), "is the desired-state file"),
        (notes.as_str(), "exists and is not a saved plan"),
        (link, "is a symbolic link"),
    ];
    for (out, expected) in cases {
        let output = run_against(&sandbox.base_url(), &["plan", "-f", &desired, "--out", out]);
        assert_exit(&output, 1);
        assert!(
            stderr(&output).contains(expected),
            "{out}: {}",
            stderr(&output)
        );
    }
    assert_eq!(std::fs::read_to_string(&desired).unwrap(), demo);
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "keep me\n");

    // A saved plan is replaced by the next one.
    let saved = dir.path().join("plan.json");
    let saved = saved.to_str().unwrap();
    for _ in 0..2 {
        let output = run_against(
            &sandbox.base_url(),
            &["plan", "-f", &desired, "--out", saved],
        );
        assert_exit(&output, 0);
    }
    // The Terraform habit: a desired file where a saved plan belongs points at -f, and
    // never suggests saving a plan over the desired file.
    let output = run_against(&sandbox.base_url(), &["apply", "--auto-approve", &desired]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(err.contains(&format!("use `apply -f {desired}`")), "{err}");
    assert!(!err.contains(&format!("--out {desired}")), "{err}");
}

#[test]
fn export_writes_a_private_file_and_not_through_a_link() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = demo_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exported.yaml");
    let out = out.to_str().unwrap();
    let output = run_against(
        &sandbox.base_url(),
        &["export", "--account-id", "1111111", "-o", out],
    );
    assert_exit(&output, 0);
    let mode = std::fs::metadata(out).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let link = dir.path().join("link.yaml");
    std::os::unix::fs::symlink(out, &link).unwrap();
    let output = run_against(
        &sandbox.base_url(),
        &[
            "export",
            "--account-id",
            "1111111",
            "-o",
            link.to_str().unwrap(),
        ],
    );
    assert_exit(&output, 1);
    assert_stderr_has(&output, "is a symbolic link");
}
