//! Malformed input corpus: every desired-state file under `tests/corpus/desired/` and
//! every API response under `tests/corpus/responses/` ends in a clear error, exit 1, no
//! panic, and nothing sent. Values the tool merely does not know (a new resource type,
//! level or specifier kind) are not errors: they are read and left alone.

mod common;

use common::*;

/// Apply the demo file against `url`, without retries.
fn apply_demo_once(url: &str) -> std::process::Output {
    let args = [
        "apply",
        "-f",
        "examples/mailtrap-access.yaml",
        "--auto-approve",
        "--retries",
        "0",
    ];
    run_against(url, &args)
}

/// Exit 1 with one `error:` message that names `needle`, no panic, no backtrace.
fn assert_clear_error(output: &std::process::Output, needle: &str, case: &str) {
    assert_eq!(
        output.status.code(),
        Some(1),
        "{case}: {}\n{}",
        stdout(output),
        stderr(output)
    );
    let err = stderr(output);
    assert!(err.starts_with("error: "), "{case}: {err}");
    assert!(err.contains(needle), "{case}: {needle:?} not in {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{case}: {err}"
    );
}

#[test]
fn every_malformed_desired_file_is_refused_before_any_write() {
    let sandbox = demo_sandbox();
    let mut cases: Vec<_> = std::fs::read_dir("tests/corpus/desired")
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 30, "the corpus shrank to {}", cases.len());
    for case in cases {
        let path = case.to_str().unwrap();
        let output = run_against(
            &sandbox.base_url(),
            &[
                "apply",
                "-f",
                path,
                "--auto-approve",
                "--account-id",
                "1111111",
            ],
        );
        // Every message names the file, and with a line wherever the problem has one.
        assert_clear_error(&output, path, path);
    }
    assert!(
        writes(&sandbox.requests()).is_empty(),
        "a malformed file led to a write"
    );
}

/// (file, HTTP status line, a phrase the message must hold)
const RESPONSES: &[(&str, &str, &str)] = &[
    (
        "html-502-page.html",
        "502 Bad Gateway",
        "an HTML page: 502 Bad Gateway",
    ),
    (
        "html-login-page.html",
        "200 OK",
        "an HTML page instead of JSON",
    ),
    ("truncated.json", "200 OK", "truncated JSON"),
    ("object-not-array.json", "200 OK", "expected a sequence"),
    ("null.json", "200 OK", "invalid type: null"),
    ("empty.json", "200 OK", "truncated JSON"),
    (
        "id-not-a-number.json",
        "200 OK",
        "invalid type: string \"abc\", expected u64",
    ),
    ("id-negative.json", "200 OK", "invalid value: integer `-3`"),
    (
        "missing-specifier.json",
        "200 OK",
        "missing field `specifier`",
    ),
    (
        "missing-resources.json",
        "200 OK",
        "missing field `resources`",
    ),
    (
        "user-without-email.json",
        "200 OK",
        "is a User without an email",
    ),
    (
        "level-as-string.json",
        "200 OK",
        "invalid type: string \"admin\", expected u32",
    ),
    (
        "resource-id-float.json",
        "200 OK",
        "floating point `1.5`, expected a resource id",
    ),
    ("resources-not-a-list.json", "200 OK", "expected a sequence"),
    (
        "specifier-type-number.json",
        "200 OK",
        "invalid type: integer `7`, expected a string",
    ),
    (
        "deeply-nested.json",
        "200 OK",
        "invalid type: sequence, expected u64",
    ),
    ("trailing-garbage.json", "200 OK", "trailing characters"),
    ("not-utf8.json", "200 OK", "invalid unicode"),
];

#[test]
fn every_malformed_response_is_a_clear_error_and_nothing_is_sent() {
    for (file, status, phrase) in RESPONSES {
        let body = std::fs::read(format!("tests/corpus/responses/{file}")).unwrap();
        let mut response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        response.extend(body);
        let (url, seen) = canned_server(response);
        let output = apply_demo_once(&url);
        assert_clear_error(&output, phrase, file);
        assert!(
            seen.lock().unwrap().iter().all(|m| m == "GET"),
            "{file}: a write was sent"
        );
    }
    assert!(RESPONSES.len() >= 15);
}

#[test]
fn a_huge_listing_with_one_bad_entry_is_a_clear_error() {
    let good =
        r#"{"id":1,"specifier_type":"Invite","specifier":{"id":1,"email":"x@y.z"},"resources":[]}"#;
    let mut body = String::from("[");
    for _ in 0..100_000 {
        body.push_str(good);
        body.push(',');
    }
    body.push_str(r#"{"id":2,"specifier_type":"Invite","specifier":{"id":2},"resources":[]}]"#);
    let (url, _) = canned_server(http_response("200 OK", "application/json", &body));
    let output = run_against(
        &url,
        &[
            "plan",
            "-f",
            "examples/mailtrap-access.yaml",
            "--retries",
            "0",
        ],
    );
    assert_clear_error(
        &output,
        "entry 100000 (access 2) is an Invite without an email",
        "huge",
    );
}

#[test]
fn unknown_values_are_read_and_left_alone() {
    let accesses =
        std::fs::read_to_string("tests/corpus/responses/tolerated-unknown-values.json").unwrap();
    let live = mailtrap_access::api::decode_accesses(accesses.as_bytes()).expect("tolerated");
    assert_eq!(live.len(), 2);
    assert_eq!(
        live[0].rows[0].managed_level(),
        None,
        "an unknown type at an unknown level is not managed"
    );
    assert_eq!(
        live[1].identity(),
        None,
        "an unknown specifier kind is never matched to the file"
    );
}

/// The demo's listing and tree as the service answers them, as JSON to edit.
fn demo_answers_to_edit() -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let (listing, tree, _) = demo_answers();
    (
        serde_json::from_str(&listing).unwrap(),
        serde_json::from_str(&tree).unwrap(),
    )
}

#[test]
fn inconsistent_answers_are_refused_and_nothing_is_sent() {
    type Edit = fn(&mut Vec<serde_json::Value>, &mut Vec<serde_json::Value>);
    /// The tree in the new vocabulary.
    fn rename_inboxes(nodes: &mut [serde_json::Value]) {
        for node in nodes {
            for (old, new) in [("inbox", "sandbox"), ("sending_domain", "domain")] {
                if node["type"] == old {
                    node["type"] = new.into();
                }
            }
            if let Some(children) = node["resources"].as_array_mut() {
                rename_inboxes(children);
            }
        }
    }
    let cases: [(Edit, &str); 4] = [
        (
            |listing, _| {
                let twice = listing[1].clone();
                listing.push(twice)
            },
            "/account_accesses: the response could not be read: access 5190002 is listed twice; the API answered something inconsistent, nothing was changed",
        ),
        (
            |_, tree| {
                let project = tree[0]["resources"][0].clone();
                tree.push(project)
            },
            "/permissions/resources: the response could not be read: project 3301001 is in the resource tree twice",
        ),
        (
            |_, tree| tree[0]["id"] = 999.into(),
            "the tree's account node has id 999, not this account's id 1111111",
        ),
        // The tree speaks the new vocabulary, the listing the old one.
        (
            |_, tree| rename_inboxes(tree),
            "has type \"inbox\", but the resource tree speaks the new (sandbox, domain) vocabulary",
        ),
    ];
    for (edit, phrase) in cases {
        let (mut listing, mut tree) = demo_answers_to_edit();
        edit(&mut listing, &mut tree);
        let (listing, tree) = (
            serde_json::Value::from(listing),
            serde_json::Value::from(tree),
        );
        let (url, seen) = canned_server_by_path(move |path| {
            let body = if path.ends_with("/account_accesses") {
                &listing
            } else {
                &tree
            };
            http_response("200 OK", "application/json", &body.to_string())
        });
        let output = apply_demo_once(&url);
        assert_clear_error(&output, phrase, phrase);
        assert!(
            seen.lock().unwrap().iter().all(|m| m == "GET"),
            "{phrase}: a write was sent"
        );
    }
}
