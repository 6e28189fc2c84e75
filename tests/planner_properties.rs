//! Properties of the planner over random accounts and random desired states:
//! executing a plan yields the desired state, planning again yields nothing, and
//! nothing the tool does not manage (owners, unknown types and levels, people absent
//! from the file, the token in use, tokens sharing a name) is ever touched.

use std::collections::BTreeMap;

use mailtrap_access::api::{decode_accesses, decode_resources};
use mailtrap_access::config::{DesiredFile, UnmanagedPolicy};
use mailtrap_access::model::{
    Access, Dialect, Identity, Level, LevelCode, LiveState, PathFamily, Resource, ResourceKey,
    ResourceType, Row, SpecifierKind, Token, Vocabulary, WantedExpiry,
};
use mailtrap_access::plan::{Change, Request, TokenChange};
use mailtrap_access::planner::{expected_after, plan, Clock};
use mailtrap_access::rails::{self, Overrides, Refusal};
use mailtrap_access::resolve::{Desired, DesiredPrincipal, DesiredToken, DesiredTokens, Rows};
use mailtrap_access::saved_plan::{Fingerprint, PlanDocument, SavedPlan};
use proptest::prelude::*;

const ACCOUNT: u64 = 1111111;
const PEOPLE: [&str; 5] = ["a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io"];
const TOKENS: [&str; 2] = ["deploy", "backup"];

fn keys() -> Vec<ResourceKey> {
    vec![
        ResourceKey::new(ResourceType::Account, ACCOUNT),
        ResourceKey::new(ResourceType::Billing, ACCOUNT),
        ResourceKey::new(ResourceType::EmailCampaigns, ACCOUNT),
        ResourceKey::new(ResourceType::Project, 31),
        ResourceKey::new(ResourceType::Project, 32),
        ResourceKey::new(ResourceType::Inbox, 41),
        ResourceKey::new(ResourceType::Inbox, 42),
        ResourceKey::new(ResourceType::SendingDomain, 51),
    ]
}

fn unmanaged_keys() -> Vec<ResourceKey> {
    vec![
        ResourceKey::new(ResourceType::from_api("organization"), 70),
        ResourceKey::new(
            ResourceType::from_api("email_template_permission_scope"),
            ACCOUNT,
        ),
    ]
}

fn resources() -> Vec<Resource> {
    keys()
        .into_iter()
        .chain(unmanaged_keys())
        .map(|key| Resource {
            name: format!("{key}"),
            path: format!("{key}"),
            key,
        })
        .collect()
}

fn level() -> impl Strategy<Value = Level> {
    prop_oneof![Just(Level::Admin), Just(Level::Viewer)]
}

/// Mostly writable levels, sometimes the ones the tool must leave alone.
fn level_code() -> impl Strategy<Value = LevelCode> {
    prop_oneof![6 => Just(100u32), 6 => Just(10u32), 1 => Just(50u32), 1 => Just(1u32), 1 => Just(1000u32)]
        .prop_map(LevelCode)
}

fn rows() -> impl Strategy<Value = Vec<Row>> {
    let all: Vec<ResourceKey> = keys().into_iter().chain(unmanaged_keys()).collect();
    proptest::sample::subsequence(all.clone(), 0..=all.len()).prop_flat_map(|chosen| {
        let n = chosen.len();
        proptest::collection::vec(level_code(), n).prop_map(move |levels| {
            chosen
                .iter()
                .cloned()
                .zip(levels)
                .map(|(resource, level)| Row { resource, level })
                .collect()
        })
    })
}

fn access() -> impl Strategy<Value = (SpecifierKind, usize, Vec<Row>)> {
    let kind = prop_oneof![
        4 => Just(SpecifierKind::User),
        2 => Just(SpecifierKind::Invite),
        1 => Just(SpecifierKind::ApiToken),
        1 => Just(SpecifierKind::Other("ServiceAccount".into())),
    ];
    (kind, 0..PEOPLE.len(), rows())
}

/// Every plan here is made on 2026-12-02.
fn clock() -> Clock {
    Clock::at("2026-12-02T00:00:00Z".parse().unwrap())
}

/// A token of the account: a name, rows (sometimes ones the tool does not manage),
/// whether it is the one in use, and its expiry.
fn token() -> impl Strategy<Value = (usize, Vec<Row>, bool, Option<i64>)> {
    let expiry = prop_oneof![Just(None), (1i64..800).prop_map(Some)];
    (
        0..TOKENS.len(),
        rows(),
        proptest::bool::weighted(0.2),
        expiry,
    )
}

fn live() -> impl Strategy<Value = LiveState> {
    let tokens = proptest::option::of(proptest::collection::vec(token(), 0..4));
    (proptest::collection::vec(access(), 0..8), tokens).prop_map(|(entries, tokens)| LiveState {
        tokens: tokens.map(|tokens| {
            (tokens.into_iter().enumerate())
                .map(|(index, (name, rows, in_use, days))| Token {
                    id: 61000 + index as u64,
                    name: TOKENS[name].to_string(),
                    expires_at: days
                        .map(|days| clock().now + jiff::SignedDuration::from_hours(24 * days)),
                    rows,
                    in_use,
                })
                .collect()
        }),
        dialect: Default::default(),
        resources: resources(),
        accesses: entries
            .into_iter()
            .enumerate()
            .map(|(index, (kind, who, rows))| {
                let (email, name) = match kind {
                    SpecifierKind::ApiToken => (None, Some(TOKENS[who % TOKENS.len()].to_string())),
                    // Mixed case: identities are case-insensitive.
                    _ if index % 2 == 0 => (Some(PEOPLE[who].to_uppercase()), None),
                    _ => (Some(PEOPLE[who].to_string()), None),
                };
                Access {
                    id: 5000 + index as u64,
                    // A listed token's access: its token's id, when there is one.
                    specifier_id: Some(61000 + index as u64),
                    two_factor: None,
                    kind,
                    email,
                    name,
                    rows,
                }
            })
            .collect(),
    })
}

fn row_set() -> impl Strategy<Value = Rows> {
    proptest::collection::btree_map(proptest::sample::select(keys()), level(), 0..6)
}

fn desired() -> impl Strategy<Value = Desired> {
    let people =
        proptest::collection::btree_map(proptest::sample::select(PEOPLE.to_vec()), row_set(), 0..5);
    let expiry = prop_oneof![
        Just(None),
        Just(Some(WantedExpiry::Never)),
        (1i64..800).prop_map(|days| Some(WantedExpiry::At(
            clock().now + jiff::SignedDuration::from_hours(24 * days)
        ))),
    ];
    let token_rows =
        proptest::collection::btree_map(proptest::sample::select(token_keys()), level(), 1..4);
    let tokens = proptest::option::of(proptest::collection::btree_map(
        proptest::sample::select(TOKENS.to_vec()),
        (token_rows, expiry),
        0..2,
    ));
    let policy = || prop_oneof![Just(UnmanagedPolicy::Ignore), Just(UnmanagedPolicy::Remove)];
    (people, tokens, policy(), policy()).prop_map(
        |(people, tokens, unmanaged, unmanaged_tokens)| {
            let mut principals = BTreeMap::new();
            for (email, rows) in people {
                principals.insert(
                    Identity::Person(email.to_string()),
                    DesiredPrincipal {
                        label: email.to_string(),
                        rows,
                        expires: None,
                    },
                );
            }
            Desired {
                unmanaged,
                principals,
                tokens: tokens.map(|tokens| DesiredTokens {
                    unmanaged: unmanaged_tokens,
                    entries: (tokens.into_iter())
                        .map(|(name, (rows, expires_at))| {
                            (
                                name.to_string(),
                                DesiredToken {
                                    rows,
                                    expires_at,
                                    expires: None,
                                },
                            )
                        })
                        .collect(),
                    resets: Default::default(),
                }),
                ignore: Vec::new(),
                expiry_warning: jiff::SignedDuration::ZERO,
            }
        },
    )
}

/// What a token can hold: the account, projects, inboxes, sending domains.
fn token_keys() -> Vec<ResourceKey> {
    (keys().into_iter())
        .filter(|key| {
            !matches!(
                key.kind,
                ResourceType::Billing | ResourceType::EmailCampaigns
            )
        })
        .collect()
}

/// Users other than the owner holding admin on the account, counted on a whole state:
/// the reference the admin rail, which counts without building that state, must agree with.
fn account_admins(state: &LiveState) -> usize {
    state
        .accesses
        .iter()
        .filter(|access| access.kind == SpecifierKind::User && !access.is_owner())
        .filter(|access| {
            access.rows.iter().any(|row| {
                row.resource.kind == ResourceType::Account && row.level == LevelCode(100)
            })
        })
        .count()
}

fn file_with_minimum(min_account_admins: u32) -> DesiredFile {
    DesiredFile {
        version: 1,
        account_id: Some(ACCOUNT),
        min_account_admins: Some(min_account_admins),
        unmanaged: UnmanagedPolicy::Ignore,
        roles: Default::default(),
        users: PEOPLE
            .iter()
            .map(|email| (email.to_string(), Default::default()))
            .collect(),
        unmanaged_tokens: UnmanagedPolicy::Ignore,
        api_tokens: Default::default(),
        ignore: Vec::new(),
        expiry_warning: None,
        policies: Default::default(),
    }
}

fn is_managed_row(row: &Row) -> bool {
    row.managed_level().is_some()
}

/// `live` as the two GET bodies of a server speaking `vocabulary`.
fn as_served(live: &LiveState, vocabulary: Vocabulary) -> (String, String) {
    let tree: Vec<serde_json::Value> = (live.resources.iter())
        .map(|r| {
            serde_json::json!({"id": r.key.id, "name": r.name, "resources": [],
                "type": r.key.kind.api_name_in(vocabulary)})
        })
        .collect();
    let listing: Vec<serde_json::Value> = (live.accesses.iter())
        .map(|a| {
            let rows: Vec<serde_json::Value> = (a.rows.iter())
                .map(|row| {
                    serde_json::json!({"resource_type": row.resource.kind.api_name_in(vocabulary),
                        "resource_id": row.resource.id, "access_level": row.level.0})
                })
                .collect();
            serde_json::json!({"id": a.id, "specifier_type": a.kind.api_name(),
                "specifier": {"id": a.specifier_id, "email": a.email, "name": a.name}, "resources": rows})
        })
        .collect();
    (
        serde_json::Value::from(listing).to_string(),
        serde_json::Value::from(tree).to_string(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn both_vocabularies_plan_the_same_operations_and_write_their_own_names(
        live in live(),
        desired in desired(),
    ) {
        let mut plans = Vec::new();
        for vocabulary in [Vocabulary::Old, Vocabulary::New] {
            let (listing, tree) = as_served(&live, vocabulary);
            let read = LiveState {
                accesses: decode_accesses(listing.as_bytes()).unwrap(),
                resources: decode_resources(tree.as_bytes()).unwrap(),
                tokens: None,
                dialect: Dialect { paths: PathFamily::Account, vocabulary },
            };
            let planned = plan(ACCOUNT, &desired, &read, &clock());
            for (_, request) in planned.requests() {
                if let Request::BulkUpdate { body, .. } = request {
                    for item in &body.permissions {
                        let kind = ResourceType::from_api(&item.resource_type);
                        prop_assert_eq!(&item.resource_type, kind.api_name_in(vocabulary));
                    }
                }
            }
            plans.push(planned);
        }
        prop_assert_eq!(&plans[0].changes, &plans[1].changes);
        prop_assert_eq!(&plans[0].left_alone, &plans[1].left_alone);
        prop_assert_eq!(&plans[0].warnings, &plans[1].warnings);
    }

    #[test]
    fn executing_the_plan_converges(live in live(), desired in desired()) {
        let first = plan(ACCOUNT, &desired, &live, &clock());
        let after = expected_after(&first, &live);
        let second = plan(ACCOUNT, &desired, &after, &clock());
        prop_assert!(second.is_empty(), "planning again found {:?} {:?}", second.changes, second.tokens);

        for access in &after.accesses {
            let before = live.accesses.iter().find(|a| a.id == access.id).unwrap();
            let unmanaged_before: Vec<&Row> = before.rows.iter().filter(|r| !is_managed_row(r)).collect();
            let mut unmanaged_after: Vec<&Row> = access.rows.iter().filter(|r| !is_managed_row(r)).collect();
            let mut unmanaged_before_sorted = unmanaged_before.clone();
            unmanaged_before_sorted.sort();
            unmanaged_after.sort();
            prop_assert_eq!(unmanaged_before_sorted, unmanaged_after, "unmanaged rows changed on {}", access.id);

            // A name several accesses hold with different rows is left alone.
            let ambiguous = live.ambiguous_identities();
            let wanted = (access.identity())
                .filter(|identity| !ambiguous.contains_key(identity))
                .and_then(|identity| desired.principals.get(&identity));
            match wanted {
                Some(wanted) if !before.is_owner() => {
                    // Exactly the desired rows, except where an unmanaged row holds the resource.
                    let held: Vec<&ResourceKey> = unmanaged_before.iter().map(|r| &r.resource).collect();
                    let expected: BTreeMap<&ResourceKey, LevelCode> = wanted
                        .rows
                        .iter()
                        .filter(|(key, _)| !held.contains(key))
                        .map(|(key, level)| (key, LevelCode::from(*level)))
                        .collect();
                    let actual: BTreeMap<&ResourceKey, LevelCode> = access
                        .rows
                        .iter()
                        .filter(|r| is_managed_row(r))
                        .map(|r| (&r.resource, r.level))
                        .collect();
                    prop_assert_eq!(expected, actual);
                }
                _ => prop_assert_eq!(&before.rows, &access.rows, "untouchable access {} changed", access.id),
            }
        }
    }

    #[test]
    fn only_absent_people_without_unmanaged_rows_are_removed(live in live(), desired in desired()) {
        let planned = plan(ACCOUNT, &desired, &live, &clock());
        for (target, change) in &planned.changes {
            let access = live.accesses.iter().find(|a| a.id == target.id).unwrap();
            match change {
                Change::Remove { .. } => {
                    prop_assert_eq!(desired.unmanaged, UnmanagedPolicy::Remove);
                    prop_assert!(access.kind.is_person());
                    prop_assert!(!access.is_owner());
                    prop_assert!(access.rows.iter().all(is_managed_row));
                    prop_assert!(!desired.principals.contains_key(&access.identity().unwrap()));
                }
                Change::Permissions { operations } => {
                    prop_assert!(!operations.is_empty());
                    prop_assert!(!access.is_owner());
                    prop_assert!(desired.principals.contains_key(&access.identity().unwrap()));
                }
            }
        }
        // Each changed access is exactly one request, and a bulk body is never empty.
        for (_, request) in planned.requests() {
            if let Request::BulkUpdate { body, .. } = request {
                prop_assert!(!body.permissions.is_empty());
            }
        }
        prop_assert_eq!(planned.requests().count(), planned.changes.len());
    }

    #[test]
    fn the_admin_rail_counts_what_executing_the_plan_leaves(
        live in live(),
        desired in desired(),
        minimum in 0u32..4,
    ) {
        let planned = plan(ACCOUNT, &desired, &live, &clock());
        let before = account_admins(&live);
        let after = account_admins(&expected_after(&planned, &live));
        let everything = Overrides {
            allow_mass_removal: true,
            allow_token_replacement: true,
            new_tokens_file: true,
        };
        let refused: Vec<Refusal> = rails::check(&planned, &live, &file_with_minimum(minimum), everything);
        let expected = if (after as u64) < u64::from(minimum) && after < before {
            vec![Refusal::TooFewAccountAdmins { before, after, minimum }]
        } else {
            Vec::new()
        };
        prop_assert_eq!(refused, expected);
    }

    #[test]
    fn the_plan_does_not_depend_on_the_order_of_the_listing(live in live(), desired in desired()) {
        let mut reversed = live.clone();
        reversed.accesses.reverse();
        if let Some(tokens) = &mut reversed.tokens {
            tokens.reverse();
        }
        prop_assert_eq!(plan(ACCOUNT, &desired, &live, &clock()), plan(ACCOUNT, &desired, &reversed, &clock()));
    }

    #[test]
    fn a_saved_plan_reads_back_as_the_plan(live in live(), desired in desired()) {
        let planned = plan(ACCOUNT, &desired, &live, &clock());
        let refusals = rails::check(&planned, &live, &file_with_minimum(1), Overrides::default());
        let document = PlanDocument::new(&planned, &refusals, Some(Fingerprint::new("f.yaml", "", &live)));
        let text = serde_json::to_string(&document).unwrap();
        let read = SavedPlan::parse("plan.json", &text).map_err(|err| err.to_string());
        prop_assert_eq!(read.map(|saved| saved.plan), Ok(planned));
    }

    #[test]
    fn only_tokens_the_tool_may_touch_are_changed(live in live(), desired in desired()) {
        let planned = plan(ACCOUNT, &desired, &live, &clock());
        let tokens = live.tokens.clone().unwrap_or_default();
        for (name, change) in &planned.tokens {
            let wanted = desired.tokens.as_ref().unwrap();
            let held: Vec<&Token> = tokens.iter().filter(|token| &token.name == name).collect();
            match change {
                TokenChange::CreateToken { to } => {
                    prop_assert!(held.is_empty());
                    prop_assert_eq!(to.resources.len(), wanted.entries[name].rows.len());
                }
                TokenChange::DeleteToken { .. } => {
                    prop_assert_eq!(wanted.unmanaged, UnmanagedPolicy::Remove);
                    prop_assert!(!wanted.entries.contains_key(name));
                }
                TokenChange::ReplaceToken { .. } | TokenChange::UpdateTokenPermissions { .. } => {
                    prop_assert!(wanted.entries.contains_key(name));
                }
                TokenChange::ResetToken { .. } => prop_assert!(false, "no reset was asked for"),
            }
            if let Some(id) = change.token_id() {
                // Exactly one token has the name, it is not the one in use, and it
                // holds no row a new token would lose.
                prop_assert_eq!(held.len(), 1);
                prop_assert_eq!(held[0].id, id);
                prop_assert!(!held[0].in_use);
                prop_assert!(!held[0].holds_unmanaged_rows());
            }
            // Every token request goes to the token or its listed access.
            for request in change.requests(ACCOUNT, Dialect::default(), name) {
                let path = request.describe();
                prop_assert!(path.contains("/api_tokens") || path.contains("/account_accesses/"), "{}", path);
            }
        }
        if desired.tokens.is_none() {
            prop_assert!(planned.tokens.is_empty());
            prop_assert!(planned.tokens_left_alone.is_empty());
        }
    }

    #[test]
    fn the_policy_rail_refuses_exactly_the_plans_that_add_a_violation(
        live in live(),
        desired in desired(),
    ) {
        use mailtrap_access::config::policies::{DenyRule, On, Policies, Scope};
        let policies = Policies {
            max_account_admins: Some(1),
            deny: vec![
                DenyRule { who: "*@x.io".into(), level: Level::Admin, on: On::Scope(Scope::Billing) },
                DenyRule { who: "tokens".into(), level: Level::Viewer, on: On::Scope(Scope::Any) },
            ],
            ..Policies::default()
        };
        let mut planned = plan(ACCOUNT, &desired, &live, &clock());
        let after = expected_after(&planned, &live);
        planned.policy_violations = mailtrap_access::policy::judge_plan(
            &policies,
            &live,
            &after,
            &planned.tokens_with_service_expiry(),
            clock().now,
        );
        let before = mailtrap_access::policy::judge(
            &policies,
            &mailtrap_access::policy::subjects_of_live(&live),
            clock().now,
            true,
        );
        let everything = Overrides {
            allow_mass_removal: true,
            allow_token_replacement: true,
            new_tokens_file: true,
        };
        let refused: Vec<(String, String)> = (rails::check(&planned, &live, &file_with_minimum(0), everything).into_iter())
            .filter_map(|refusal| match refusal {
                Refusal::Policy { rule, subject, .. } => Some((rule, subject)),
                _ => None,
            })
            .collect();
        // Judged on the whole state: what the account will break and does not now. One
        // email in two cases is one person, who may break a rule now under either.
        let added: Vec<(String, String)> = (planned.policy_violations.iter())
            .filter(|v| !before.iter().any(|b| b.rule == v.rule && b.subject.to_lowercase() == v.subject.to_lowercase()))
            .map(|v| (v.rule.clone(), v.subject.clone()))
            .collect();
        if planned.is_empty() {
            prop_assert!(refused.is_empty());
        } else {
            prop_assert_eq!(refused, added);
        }
    }
}
