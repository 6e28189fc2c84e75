//! The committed JSON Schema, as an editor uses it: it accepts the example file and the
//! README's desired-state blocks, and refuses the shapes `validate` refuses for their
//! shape alone (so an editor flags them before a run does).

mod common;

use boon::{Compiler, Schemas};
use common::{command, stderr};

const SCHEMA: &str = "schema/mailtrap-access.schema.json";

/// The schema compiled, and a check of one YAML text against it.
fn checker() -> impl Fn(&str) -> Result<(), String> {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).unwrap();
    let mut schemas = Schemas::new();
    let mut compiler = Compiler::new();
    compiler.add_resource(SCHEMA, schema).unwrap();
    let index = compiler.compile(SCHEMA, &mut schemas).unwrap();
    move |yaml: &str| {
        let value: serde_json::Value = serde_saphyr::from_str(yaml).map_err(|e| e.to_string())?;
        schemas
            .validate(&value, index)
            .map_err(|e| format!("{e:#}"))
    }
}

/// The README's YAML blocks that are desired-state files or their `policies:` section
/// (given a `version` line to make a file).
fn readme_files() -> Vec<String> {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let blocks: Vec<&str> = readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .collect();
    let files: Vec<String> = (blocks.iter())
        .filter_map(|block| {
            if block.lines().any(|line| line == "version: 1") {
                Some(block.to_string())
            } else if block.starts_with("policies:") {
                Some(format!("version: 1\n{block}"))
            } else {
                None // A CI step, not a desired-state file.
            }
        })
        .collect();
    assert!(files.len() >= 2, "the README's file blocks went missing");
    files
}

#[test]
fn the_example_and_the_readme_blocks_are_valid() {
    let check = checker();
    let example = std::fs::read_to_string("examples/mailtrap-access.yaml").unwrap();
    check(&example).unwrap_or_else(|e| panic!("examples/mailtrap-access.yaml: {e}"));
    for file in readme_files() {
        check(&file).unwrap_or_else(|e| panic!("{e}\n{file}"));
    }
}

#[test]
fn shapes_validate_refuses_are_refused_by_the_schema_too() {
    let check = checker();
    let deny = |on: &str| {
        format!("version: 1\npolicies:\n  deny:\n    - who: tokens\n      level: admin\n      on: {on}\n")
    };
    let expect = |who: &str| {
        format!("version: 1\npolicies:\n  expect:\n    - {who}\n      can: {{account: viewer}}\n")
    };
    let validate = |text: &str| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desired.yaml");
        std::fs::write(&path, text).unwrap();
        let output = command(&["validate", "-f", path.to_str().unwrap()])
            .output()
            .unwrap();
        (output.status.code(), stderr(&output))
    };
    for good in [
        deny("billing"),
        deny("{project: Backend}"),
        expect("user: bob@acme.com"),
        // A key written as null is no key, to serde as to the schema.
        expect("user: bob@acme.com\n      token: null"),
    ] {
        check(&good).unwrap_or_else(|e| panic!("{e}\n{good}"));
        assert_eq!(validate(&good).0, Some(0), "{good}");
    }
    for (bad, why, said) in [
        (
            deny("{project: Backend, inbox: Backend/Staging}"),
            "`on:` names two resources",
            "`on:` names one resource",
        ),
        (
            deny("{}"),
            "`on:` names nothing",
            "`on:` names one resource",
        ),
        (
            expect("user: bob@acme.com\n      token: CI"),
            "an expectation names a user and a token",
            "names either `user:` or `token:`",
        ),
        (
            expect("user: null"),
            "an expectation names nobody",
            "names either `user:` or `token:`",
        ),
        (
            "version: 1\nuserz: {}\n".to_string(),
            "an unknown key",
            "unknown field `userz`",
        ),
    ] {
        assert!(
            check(&bad).is_err(),
            "the schema accepts a file where {why}:\n{bad}"
        );
        let (code, errors) = validate(&bad);
        assert_eq!(code, Some(1), "validate accepts a file where {why}");
        assert!(errors.contains(said), "{why}: {errors}");
    }
}
