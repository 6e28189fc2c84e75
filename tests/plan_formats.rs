//! The plan formats and saved plans without I/O, on plans built directly: the Markdown
//! size limit on generated huge plans, escaping, the destroy warning, and the saved
//! plan's round trip (the requests read back are exactly the plan's).

use std::collections::BTreeMap;

use mailtrap_access::model::{
    Level, LevelCode, LiveState, ResourceKey, ResourceType, SpecifierKind,
};
use mailtrap_access::plan::{
    AccessRef, Change, HeldRow, LeftAlone, LeftAloneReason, Plan, ResourceRef, RowOp, Warning,
};
use mailtrap_access::rails::Refusal;
use mailtrap_access::render::markdown::{markdown, MARKER, MAX_CHARS};
use mailtrap_access::saved_plan::{Fingerprint, PlanDocument, SavedPlan, SavedPlanError};

fn access(index: usize) -> AccessRef {
    AccessRef {
        label: format!("person{index:05}@example.com"),
        kind: SpecifierKind::User,
        id: 6_000_000 + index as u64,
    }
}

fn resource(kind: ResourceType, id: u64, name: &str) -> ResourceRef {
    ResourceRef {
        key: ResourceKey::new(kind, id),
        name: Some(name.to_string()),
    }
}

/// `accesses` accesses, each with a create, an update and a destroy of inboxes with
/// long names; every fourth access removed instead; `left_alone` accesses not in the file.
fn huge_plan(accesses: usize, left_alone: usize) -> Plan {
    let mut changes = BTreeMap::new();
    for index in 0..accesses {
        let change = if index % 4 == 3 {
            Change::Remove {
                rows: vec![HeldRow {
                    resource: resource(ResourceType::Project, 9, "Project nine"),
                    level: LevelCode(10),
                }],
            }
        } else {
            Change::Permissions {
                operations: (0..3)
                    .map(|op| {
                        let inbox = resource(
                            ResourceType::Inbox,
                            100 * index as u64 + op,
                            &format!(
                                "A project with a long name/Inbox number {op} of access {index}"
                            ),
                        );
                        match op {
                            0 => RowOp::Create {
                                resource: inbox,
                                to: Level::Admin,
                            },
                            1 => RowOp::Update {
                                resource: inbox,
                                from: Level::Viewer,
                                to: Level::Admin,
                            },
                            _ => RowOp::Destroy {
                                resource: inbox,
                                from: Level::Viewer,
                            },
                        }
                    })
                    .collect(),
            }
        };
        changes.insert(access(index), change);
    }
    Plan {
        changes,
        left_alone: (0..left_alone)
            .map(|index| LeftAlone {
                access: access(100_000 + index),
                reason: LeftAloneReason::NotInFile,
            })
            .collect(),
        warnings: vec![Warning::NotInAccount {
            email: "zoe@example.com".to_string(),
        }],
        ..Plan::new(1111111, Default::default())
    }
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn a_small_plan_is_whole() {
    let plan = huge_plan(8, 3);
    let text = markdown(&plan, &[], MAX_CHARS);
    assert!(text.starts_with(&format!("{MARKER}\n")));
    assert_eq!(count(&text, "\n#### person"), 8);
    assert!(text.contains("<details><summary>Requests apply will send (8)</summary>"));
    assert!(text.contains("<details><summary>Left alone (3)</summary>"));
    assert!(!text.contains("[!NOTE]"), "{text}");
}

#[test]
fn a_huge_plan_is_cut_to_the_limit_with_a_note_saying_what_is_missing() {
    let plan = huge_plan(2_000, 5_000);
    let text = markdown(&plan, &[], MAX_CHARS);
    let length = text.chars().count();
    assert!(length <= MAX_CHARS, "{length} characters");
    assert!(length > MAX_CHARS / 2, "cut far more than needed: {length}");
    assert!(text.starts_with(&format!("{MARKER}\n")));
    // The head stays: summary and the destroy warning.
    assert!(text.contains(
        "**Plan: 1500 to create, 1500 to update, 1500 to destroy, 500 accesses to remove.**"
    ));
    assert!(text.contains(
        "> [!WARNING]\n> This plan destroys 1500 permission rows and removes 500 accesses."
    ));
    // Whole sections are cut, and the note counts them.
    let shown = count(&text, "\n#### person");
    assert!(shown > 10 && shown < 2_000, "{shown}");
    let omitted = 2_000 - shown;
    assert!(
        text.contains(&format!(
            "{omitted} of 2000 changed accesses (the first {shown} in alphabetical order are shown)"
        )),
        "{}",
        &text[text.len() - 600..]
    );
    assert!(text.contains("the request bodies of the 2000 changed accesses"));
    assert!(text.contains("the list of 5000 items left alone"));
    assert!(!text.contains("<details>"));
    // Every table that is there is complete.
    assert_eq!(
        count(&text, "| **destroy** |") + count(&text, "| **remove** |"),
        shown
    );
    assert!(text.ends_with("for the whole plan.\n"));
}

#[test]
fn any_limit_is_respected() {
    let plan = huge_plan(300, 300);
    for limit in [2_000, 5_000, 10_000, 30_000, 60_000] {
        let text = markdown(&plan, &[], limit);
        assert!(text.chars().count() <= limit, "limit {limit}");
        assert!(text.contains("[!NOTE]"), "limit {limit}");
    }
}

#[test]
fn only_what_does_not_fit_is_cut() {
    // The left-alone list alone is huge; the changes fit once it is gone.
    let plan = huge_plan(5, 20_000);
    let text = markdown(&plan, &[], MAX_CHARS);
    assert!(text.chars().count() <= MAX_CHARS);
    assert_eq!(count(&text, "\n#### person"), 5);
    assert!(text.contains("Left out: the request bodies of the 5 changed accesses; the list of 20000 items left alone."));
}

#[test]
fn the_rails_apply_will_refuse_by_head_the_comment_and_survive_any_cut() {
    let refusals = [
        Refusal::MassAccessRemoval {
            removed: 500,
            accesses: 2_500,
        },
        Refusal::TooFewAccountAdmins {
            before: 2,
            after: 0,
            minimum: 1,
        },
    ];
    let plan = huge_plan(2_000, 5_000);
    for limit in [5_000, MAX_CHARS] {
        let text = markdown(&plan, &refusals, limit);
        assert!(text.chars().count() <= limit, "limit {limit}");
        assert!(
            text.contains("> [!CAUTION]\n> `apply` will refuse this plan:\n"),
            "{text}"
        );
        assert!(
            text.contains("> - mass-removal rail: the plan removes 500 of 2500 accesses"),
            "{text}"
        );
        assert!(
            text.contains("> - admin rail: the plan leaves 0 account admins besides the owner"),
            "{text}"
        );
    }
    assert!(!markdown(&plan, &[], MAX_CHARS).contains("[!CAUTION]"));
}

#[test]
fn no_warning_callout_without_destroy_or_remove() {
    let mut plan = huge_plan(1, 0);
    let Some(Change::Permissions { operations }) = plan.changes.values_mut().next() else {
        unreachable!()
    };
    operations.retain(|op| !matches!(op, RowOp::Destroy { .. }));
    let text = markdown(&plan, &[], MAX_CHARS);
    assert!(!text.contains("[!WARNING]"), "{text}");
    let text = markdown(&huge_plan(1, 0), &[], MAX_CHARS);
    assert!(text.contains("[!WARNING]"), "{text}");
}

#[test]
fn names_from_the_account_cannot_break_the_markdown() {
    let mut changes = BTreeMap::new();
    changes.insert(
        AccessRef {
            label: "evil|<b>x</b>@acme.com".to_string(),
            kind: SpecifierKind::User,
            id: 1,
        },
        Change::Permissions {
            operations: vec![RowOp::Create {
                resource: resource(ResourceType::Project, 2, "a | b\n<script>*x*</script>"),
                to: Level::Viewer,
            }],
        },
    );
    let plan = Plan {
        changes,
        ..Plan::new(9, Default::default())
    };
    let text = markdown(&plan, &[], MAX_CHARS);
    assert!(
        !text.contains("<script>") && !text.contains("<b>"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|line| line.starts_with("| create |"))
        .unwrap();
    assert_eq!(
        row,
        "| create | project \"a \\| b &lt;script&gt;\\*x\\*&lt;/script&gt;\" | 2 |  | viewer |"
    );
    // Five cells: no pipe inside a cell is unescaped.
    assert_eq!(row.replace("\\|", "").matches('|').count(), 6);
}

/// `plan` as `plan --out` saves it, made from a desired file `f.yaml`.
fn saved(plan: &Plan) -> serde_json::Value {
    let fingerprint = Fingerprint::new("f.yaml", "version: 1\n", &LiveState::default());
    serde_json::to_value(PlanDocument::new(plan, &[], Some(fingerprint))).unwrap()
}

#[test]
fn a_saved_plan_reads_back_into_the_same_plan() {
    let plan = huge_plan(12, 2);
    let text = serde_json::to_string_pretty(&saved(&plan)).unwrap();
    let read = SavedPlan::parse("plan.json", &text).unwrap();
    assert_eq!(read.plan, plan);
    assert_eq!(read.fingerprint.desired_file.path, "f.yaml");
    assert!(read.check_fresh(&plan, &LiveState::default()).is_ok());

    // A fresh plan that differs in one operation of one access is refused, naming it.
    let mut fresh = plan.clone();
    let (changed, Change::Permissions { operations }) = fresh.changes.iter_mut().next().unwrap()
    else {
        unreachable!()
    };
    let changed = changed.clone();
    operations.pop();
    let err = read.check_fresh(&fresh, &LiveState::default()).unwrap_err();
    assert!(
        matches!(&err, SavedPlanError::Stale { differences, .. } if differences == &[format!("{changed} is changed differently by the two")]),
        "{err}"
    );
}

#[test]
fn what_is_not_a_saved_plan_is_refused_with_a_way_forward() {
    let cases = [
        ("version: 1\nusers: {}\n", "is not JSON"),
        ("[1, 2]", "not a JSON object"),
        (
            "{\"format_version\": 1, \"account_id\": 1}",
            "`plan --out FILE` saves a plan",
        ),
    ];
    for (text, expected) in cases {
        let err = SavedPlan::parse("x.json", text).unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
        assert!(err.contains("use `apply -f x.json`"), "{err}");
    }
    let plan = huge_plan(1, 0);
    let refused = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut value = saved(&plan);
        edit(&mut value);
        SavedPlan::parse("x.json", &value.to_string())
            .unwrap_err()
            .to_string()
    };
    let err = refused(&|value| value["format_version"] = 2.into());
    assert!(err.contains("format_version 2"), "{err}");
    let err = refused(&|value| value["fingerprint"]["tool_version"] = "0.0.9".into());
    assert!(
        err.contains(&format!(
            "saved by mailtrap-access 0.0.9, but this is {}",
            env!("CARGO_PKG_VERSION")
        )),
        "{err}"
    );
    let err = refused(&|value| {
        value["accesses"][0]["request"]["path"] = "/api/accounts/1111111/account_accesses/1".into()
    });
    assert!(
        err.contains("x.json: accesses[0].request: it is not the request its operations make"),
        "{err}"
    );
    let err = refused(&|value| value["accesses"][0]["operations"][0]["to"] = "owner".into());
    assert!(
        err.contains("x.json: accesses[0]: invalid value: string \"owner\", expected a level"),
        "{err}"
    );
    let err = refused(&|value| value["account_id"] = "abc".into());
    assert!(
        err.contains("x.json: account_id: invalid type: string \"abc\""),
        "{err}"
    );
    let err = refused(&|value| {
        let first = value["accesses"][0].clone();
        value["accesses"].as_array_mut().unwrap().push(first);
    });
    assert!(
        err.contains("accesses[1]: the access is listed twice"),
        "{err}"
    );
}

#[test]
fn the_heads_lists_of_violations_are_capped_and_counted() {
    let mut plan = Plan::new(1111111, Default::default());
    plan.policy_violations = (0..30)
        .map(|n| mailtrap_access::policy::Violation {
            rule: "allowed_email_domains".into(),
            subject: format!("user{n}@elsewhere.io"),
            message: format!("user{n}@elsewhere.io is not in an allowed domain (acme.com)"),
            condition: String::new(),
            new: false,
        })
        .collect();
    let text = markdown(&plan, &[], MAX_CHARS);
    assert_eq!(
        text.matches("> - allowed\\_email\\_domains").count(),
        20,
        "{text}"
    );
    assert!(
        text.contains("> - and 10 more (see `plan --format json`)"),
        "{text}"
    );
}
