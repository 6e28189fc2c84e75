//! The planner, without I/O: every fixture under `tests/fixtures/plan/` is a desired
//! file (and optionally `NAME.live.json`, else `account.json`) whose rendered plan, or
//! error, is snapshot-tested. Every semantic rule of the reconciler has a fixture.

use std::path::{Path, PathBuf};

use mailtrap_access::api::{decode_accesses, decode_resources, decode_tokens};
use mailtrap_access::model::LiveState;
use mailtrap_access::plan::Plan;
use mailtrap_access::render::{plan_text, Style};
use mailtrap_access::{config, planner, resolve};

const FIXTURES: &str = "tests/fixtures/plan";

/// The last four characters of the token the tool runs with, in every fixture: a
/// token whose `last_4_digits` are these is the one in use.
const IN_USE_ENDS_WITH: &str = "9999";

/// Every fixture is planned on 2026-12-02.
fn clock() -> planner::Clock {
    planner::Clock::at("2026-12-02T00:00:00Z".parse().unwrap())
}

/// The live state from a sandbox-format state file, decoded by the client's decoders.
/// `account.json` is a sandbox seed, so its listed tokens are dropped as the list
/// endpoint drops them; a case's own `.live.json` holds the listing verbatim (tokens
/// included, to cover a service that does list them). `api_tokens` is the body of
/// the tokens list, secrets included (the decoder must skip them); `last_4_digits`
/// defaults to the secret's last four.
fn live_state(path: &Path, is_seed: bool) -> LiveState {
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    if is_seed {
        state["accesses"]
            .as_array_mut()
            .unwrap()
            .retain(|access| access["specifier_type"] != "ApiToken");
    }
    let tokens = state.get_mut("api_tokens").map(|tokens| {
        for token in tokens.as_array_mut().unwrap() {
            if token.get("last_4_digits").is_none() {
                let secret = token["token"].as_str().unwrap();
                token["last_4_digits"] = secret[secret.len() - 4..].into();
            }
        }
        decode_tokens(tokens.to_string().as_bytes(), IN_USE_ENDS_WITH).unwrap()
    });
    LiveState {
        dialect: Default::default(),
        accesses: decode_accesses(state["accesses"].to_string().as_bytes()).unwrap(),
        resources: decode_resources(state["resources"].to_string().as_bytes()).unwrap(),
        tokens,
    }
}

/// The plan of a fixture with the live state it was computed from, or the error
/// messages a user sees.
fn planned(case: &Path) -> Result<(Plan, LiveState), String> {
    let live_path = case.with_extension("live.json");
    let live = if live_path.exists() {
        live_state(&live_path, false)
    } else {
        live_state(Path::new("tests/fixtures/plan/account.json"), true)
    };
    let name = case.file_name().unwrap().to_string_lossy().to_string();
    let text = std::fs::read_to_string(case).unwrap();
    let loaded = match config::parse(&name, &text) {
        Ok(loaded) => loaded,
        Err(err) => return Err(format!("error:\n{err}\n")),
    };
    // As `plan` does: the tokens are read only when the file manages them.
    let mut live = live;
    if !loaded.file.manages_tokens() {
        live.tokens = None;
    }
    match resolve::resolve(&loaded, &live, &Default::default()) {
        Ok(desired) => Ok((planner::plan(1111111, &desired, &live, &clock()), live)),
        Err(problems) => {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            Err(format!("error:\n{}\n", lines.join("\n")))
        }
    }
}

/// What a user sees for a fixture: the rendered plan, or the error messages.
fn outcome(case: &Path) -> String {
    match planned(case) {
        Ok((plan, _)) => {
            let mut out = Vec::new();
            plan_text(&plan, &mut out, Style::default()).unwrap();
            String::from_utf8(out).unwrap()
        }
        Err(errors) => errors,
    }
}

/// The fixtures that plan (rather than fail), with their plan and live state.
fn plans() -> Vec<(String, Plan, LiveState)> {
    cases()
        .into_iter()
        .filter_map(|case| {
            let name = case.file_stem().unwrap().to_string_lossy().to_string();
            planned(&case).ok().map(|(plan, live)| (name, plan, live))
        })
        .collect()
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    cases.sort();
    cases
}

#[test]
fn every_fixture_renders_as_snapshotted() {
    let cases = cases();
    assert!(cases.len() >= 15, "fixtures went missing: {cases:?}");
    for case in cases {
        let name = case.file_stem().unwrap().to_string_lossy().to_string();
        insta::assert_snapshot!(name, outcome(&case));
    }
}

#[test]
fn no_secret_reaches_the_plan() {
    for case in cases() {
        assert!(
            !outcome(&case).contains("SECRET-SHOULD-NEVER-APPEAR"),
            "{case:?}"
        );
    }
}

#[test]
fn every_fixture_as_json_is_snapshotted() {
    let plans = plans();
    assert!(plans.len() >= 10, "fixtures went missing");
    for (name, plan, _) in plans {
        let mut out = Vec::new();
        mailtrap_access::render::plan_json(&plan, &[], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        // It is JSON, and its requests are exactly the plan's.
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let requests: Vec<serde_json::Value> = plan
            .requests()
            .map(|(_, request)| serde_json::to_value(request).unwrap())
            .collect();
        let shown: Vec<serde_json::Value> = value["accesses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|access| access["request"].clone())
            .collect();
        assert_eq!(shown, requests, "{name}");
        assert_eq!(value["changes"], !plan.is_empty(), "{name}");
        insta::assert_snapshot!(format!("json__{name}"), text);
    }
}

#[test]
fn every_fixture_as_markdown_is_snapshotted() {
    for (name, plan, _) in plans() {
        let mut out = Vec::new();
        mailtrap_access::render::plan_markdown(&plan, &[], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("<!-- mailtrap-access-plan -->\n"),
            "{name}"
        );
        insta::assert_snapshot!(format!("markdown__{name}"), text);
    }
}

#[test]
fn every_fixture_as_diff_is_snapshotted_and_empty_exactly_when_the_plan_is() {
    for (name, plan, live) in plans() {
        let text = mailtrap_access::render::yaml_diff::unified_diff(&plan, &live, "desired.yaml");
        assert_eq!(text.is_empty(), plan.is_empty(), "{name}:\n{text}");
        insta::assert_snapshot!(format!("diff__{name}"), text);
    }
}
