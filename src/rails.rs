//! Safety rails, checked on a finished plan before anything is sent: a plan that looks
//! like a mistake (mass removal, an empty file, an account left without an admin), that
//! would break what uses a token (a replacement), or whose new secrets would have
//! nowhere to go, is refused unless the user says otherwise. Pure.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::DesiredFile;
use crate::model::{Access, Level, LevelCode, LiveState, ResourceKey, ResourceType, SpecifierKind};
use crate::plan::{Change, Plan, RowOp, TokenChange};

/// The share of managed rows or accesses above which a removal is "mass".
const MASS_REMOVAL_PERCENT: usize = 25;
/// Below this many rows or accesses, percentages mean little and the rail stays quiet.
const MASS_REMOVAL_MINIMUM: usize = 10;
/// Accounts hold a handful of tokens: from this many, deleting most is a mass removal.
const TOKEN_MASS_REMOVAL_MINIMUM: usize = 4;
/// Account admins other than the owner that a plan may not drop below.
pub const DEFAULT_MIN_ACCOUNT_ADMINS: u32 = 1;

/// A reason to refuse the plan, with the numbers and the way to override it. Serialized
/// as `{"rail": "mass_row_removal", ...numbers}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rail", rename_all = "snake_case")]
pub enum Refusal {
    MassRowRemoval {
        destroyed: usize,
        managed: usize,
    },
    MassAccessRemoval {
        removed: usize,
        accesses: usize,
    },
    MassTokenRemoval {
        deleted: usize,
        tokens: usize,
    },
    EmptyDesiredFile,
    TooFewAccountAdmins {
        before: usize,
        after: usize,
        minimum: u32,
    },
    /// The plan replaces tokens; everything using their old secrets stops working.
    TokenReplacement {
        tokens: Vec<String>,
    },
    /// The plan creates, replaces or resets tokens, and their secrets have nowhere to go.
    NewTokensFileNeeded {
        tokens: Vec<String>,
    },
    /// The account as apply leaves it breaks a policy it does not break now.
    Policy {
        rule: String,
        subject: String,
        message: String,
    },
}

impl Refusal {
    /// The option of `apply` that lifts it, if any.
    pub fn lifted_by(&self) -> Option<&'static str> {
        match self {
            Refusal::MassRowRemoval { .. }
            | Refusal::MassAccessRemoval { .. }
            | Refusal::MassTokenRemoval { .. }
            | Refusal::EmptyDesiredFile => Some("--allow-mass-removal"),
            Refusal::TokenReplacement { .. } => Some("--allow-token-replacement"),
            Refusal::NewTokensFileNeeded { .. } => Some("--new-tokens-file FILE"),
            Refusal::TooFewAccountAdmins { .. } | Refusal::Policy { .. } => None,
        }
    }

    /// Whether an option of `apply` lifts it.
    pub fn overridable(&self) -> bool {
        self.lifted_by().is_some()
    }
}

/// What `apply` was told it may do; `plan` checks with none of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    pub allow_mass_removal: bool,
    pub allow_token_replacement: bool,
    /// `--new-tokens-file` was given.
    pub new_tokens_file: bool,
}

fn quoted(names: &[String]) -> String {
    let quoted: Vec<String> = (names.iter())
        .map(|name| format!("{:?}", crate::model::printable(name)))
        .collect();
    quoted.join(", ")
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::MassRowRemoval { destroyed, managed } => write!(
                f,
                "mass-removal rail: the plan destroys {destroyed} of {managed} managed rows (more than {MASS_REMOVAL_PERCENT}%); pass --allow-mass-removal if that is intended"
            ),
            Refusal::MassAccessRemoval { removed, accesses } => write!(
                f,
                "mass-removal rail: the plan removes {removed} of {accesses} accesses (more than {MASS_REMOVAL_PERCENT}%); pass --allow-mass-removal if that is intended"
            ),
            Refusal::MassTokenRemoval { deleted, tokens } => write!(
                f,
                "mass-removal rail: the plan deletes {deleted} of {tokens} API tokens (more than {MASS_REMOVAL_PERCENT}%); pass --allow-mass-removal if that is intended"
            ),
            Refusal::EmptyDesiredFile => f.write_str(
                "empty-file rail: the desired file lists no users and no API tokens; pass --allow-mass-removal if that is intended",
            ),
            Refusal::TooFewAccountAdmins { before, after, minimum } => write!(
                f,
                "admin rail: the plan leaves {after} account admins besides the owner (now {before}, minimum {minimum}); keep an admin in the file, or set `min_account_admins: 0` in it"
            ),
            Refusal::TokenReplacement { tokens } => write!(
                f,
                "token-replacement rail: the plan replaces API {} {} (a new token is created and the old one deleted), so whatever uses the old {} stops working; pass --allow-token-replacement if that is intended",
                crate::plan::plural(tokens.len(), "token", "tokens"),
                quoted(tokens),
                crate::plan::plural(tokens.len(), "secret", "secrets"),
            ),
            Refusal::Policy { rule, subject, message } => write!(
                f,
                "policy rail: the plan would break policy {rule} for {}: {}; only changing the file lifts this",
                crate::model::printable(subject),
                crate::model::printable(message)
            ),
            Refusal::NewTokensFileNeeded { tokens } => write!(
                f,
                "new-tokens rail: the plan creates, replaces or resets API {} {}, whose new secrets are shown only once; pass --new-tokens-file FILE (a new file, written with mode 0600) to receive them",
                crate::plan::plural(tokens.len(), "token", "tokens"),
                quoted(tokens),
            ),
        }
    }
}

/// Every rail `plan` breaks that `overrides` do not lift. A plan without changes breaks
/// none: apply sends nothing for it, whatever the file or the listing holds.
pub fn check(
    plan: &Plan,
    live: &LiveState,
    file: &DesiredFile,
    overrides: Overrides,
) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    if plan.is_empty() {
        return refusals;
    }
    if !overrides.allow_mass_removal {
        if file.users.is_empty() && file.api_tokens.is_empty() {
            refusals.push(Refusal::EmptyDesiredFile);
        }
        let managed = live
            .accesses
            .iter()
            .flat_map(|access| &access.rows)
            .filter(|row| row.managed_level().is_some())
            .count();
        let accesses = live
            .accesses
            .iter()
            .filter(|access| access.has_identity() && !access.is_owner())
            .count();
        let (mut destroyed, mut removed) = (0, 0);
        for change in plan.changes.values() {
            match change {
                Change::Permissions { operations } => {
                    destroyed += operations
                        .iter()
                        .filter(|op| matches!(op, RowOp::Destroy { .. }))
                        .count();
                }
                Change::Remove { rows } => {
                    removed += 1;
                    destroyed += rows
                        .iter()
                        .filter(|row| {
                            row.resource.key.kind.is_managed() && row.level.managed().is_some()
                        })
                        .count();
                }
            }
        }
        if managed >= MASS_REMOVAL_MINIMUM && destroyed * 100 > managed * MASS_REMOVAL_PERCENT {
            refusals.push(Refusal::MassRowRemoval { destroyed, managed });
        }
        if accesses >= MASS_REMOVAL_MINIMUM && removed * 100 > accesses * MASS_REMOVAL_PERCENT {
            refusals.push(Refusal::MassAccessRemoval { removed, accesses });
        }
        // Tokens on their own: a few of them among many people are still most tokens.
        let tokens = live.tokens.as_ref().map_or(0, Vec::len);
        let deleted = (plan.tokens.values())
            .filter(|change| matches!(change, TokenChange::DeleteToken { .. }))
            .count();
        if tokens >= TOKEN_MASS_REMOVAL_MINIMUM && deleted * 100 > tokens * MASS_REMOVAL_PERCENT {
            refusals.push(Refusal::MassTokenRemoval { deleted, tokens });
        }
    }

    let minimum = file
        .min_account_admins
        .unwrap_or(DEFAULT_MIN_ACCOUNT_ADMINS);
    let changes: HashMap<u64, &Change> = plan
        .changes
        .iter()
        .map(|(target, change)| (target.id, change))
        .collect();
    let (mut before, mut after) = (0, 0);
    for access in live
        .accesses
        .iter()
        .filter(|access| may_count_as_admin(access))
    {
        let now = is_account_admin(access.rows.iter().map(|row| (&row.resource, row.level)));
        before += usize::from(now);
        after += usize::from(match changes.get(&access.id) {
            None => now,
            Some(Change::Remove { .. }) => false,
            Some(Change::Permissions { operations }) => admin_after(access, operations),
        });
    }
    // Refuse the plan that takes the account below the minimum, not an account that was
    // already below it and that the plan leaves as it was.
    if (after as u64) < u64::from(minimum) && after < before {
        refusals.push(Refusal::TooFewAccountAdmins {
            before,
            after,
            minimum,
        });
    }
    let names = |wanted: fn(&TokenChange) -> bool| -> Vec<String> {
        (plan.tokens.iter())
            .filter(|(_, change)| wanted(change))
            .map(|(name, _)| name.clone())
            .collect()
    };
    let replaced = names(|change| matches!(change, TokenChange::ReplaceToken { .. }));
    if !replaced.is_empty() && !overrides.allow_token_replacement {
        refusals.push(Refusal::TokenReplacement { tokens: replaced });
    }
    let secrets = names(TokenChange::makes_secret);
    if !secrets.is_empty() && !overrides.new_tokens_file {
        refusals.push(Refusal::NewTokensFileNeeded { tokens: secrets });
    }
    // A violation the account has now does not block a plan that adds none.
    for violation in plan.policy_violations.iter().filter(|v| v.new) {
        refusals.push(Refusal::Policy {
            rule: violation.rule.clone(),
            subject: violation.subject.clone(),
            message: violation.message.clone(),
        });
    }
    refusals
}

/// Only users other than the owner count as admins: pending invites cannot administer
/// anything yet.
fn may_count_as_admin(access: &Access) -> bool {
    access.kind == SpecifierKind::User && !access.is_owner()
}

/// Whether rows give admin on the account itself.
fn is_account_admin<'a>(mut rows: impl Iterator<Item = (&'a ResourceKey, LevelCode)>) -> bool {
    rows.any(|(key, level)| key.kind == ResourceType::Account && level == Level::Admin.into())
}

/// Whether `access` is an account admin once `ops` are applied: its rows on resources
/// the ops do not touch, and what the ops create or update. This is what
/// [`crate::diff::expected_after`] computes for one access, without copying the account.
fn admin_after(access: &Access, ops: &[RowOp]) -> bool {
    let touched = |key: &ResourceKey| ops.iter().any(|op| &op.resource().key == key);
    let kept = access
        .rows
        .iter()
        .filter(|row| !touched(&row.resource))
        .map(|row| (&row.resource, row.level));
    let written = ops.iter().filter_map(|op| match op {
        RowOp::Create { resource, to } | RowOp::Update { resource, to, .. } => {
            Some((&resource.key, LevelCode::from(*to)))
        }
        RowOp::Destroy { .. } => None,
    });
    is_account_admin(kept.chain(written))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Grants, UnmanagedPolicy};
    use crate::model::{Access, Identity, Level, ResourceKey, Row};
    use crate::planner;
    use crate::resolve::{Desired, DesiredPrincipal};

    fn user(id: u64, rows: &[(ResourceType, u64, u32)]) -> Access {
        Access {
            id,
            kind: SpecifierKind::User,
            email: Some(format!("user{id}@x.io")),
            name: None,
            specifier_id: None,
            two_factor: None,
            rows: rows
                .iter()
                .map(|(kind, rid, level)| Row {
                    resource: ResourceKey::new(kind.clone(), *rid),
                    level: LevelCode(*level),
                })
                .collect(),
        }
    }

    fn file(users: &[u64], min_account_admins: Option<u32>) -> DesiredFile {
        DesiredFile {
            version: 1,
            account_id: None,
            min_account_admins,
            unmanaged: UnmanagedPolicy::Remove,
            roles: Default::default(),
            users: users
                .iter()
                .map(|id| (format!("user{id}@x.io"), Grants::default()))
                .collect(),
            unmanaged_tokens: UnmanagedPolicy::Ignore,
            api_tokens: Default::default(),
            ignore: Vec::new(),
            expiry_warning: None,
            policies: Default::default(),
        }
    }

    /// A user id and the rows the file gives them.
    type Kept = (u64, Vec<(ResourceType, u64, Level)>);

    /// Everyone in `keep` keeps exactly `rows`; everyone else is absent (removed).
    fn desired(keep: &[Kept]) -> Desired {
        Desired {
            unmanaged: UnmanagedPolicy::Remove,
            principals: keep
                .iter()
                .map(|(id, rows)| {
                    (
                        Identity::Person(format!("user{id}@x.io")),
                        DesiredPrincipal {
                            label: format!("user{id}@x.io"),
                            rows: rows
                                .iter()
                                .map(|(kind, rid, level)| {
                                    (ResourceKey::new(kind.clone(), *rid), *level)
                                })
                                .collect(),
                            expires: None,
                        },
                    )
                })
                .collect(),
            tokens: None,
            ignore: Vec::new(),
            expiry_warning: jiff::SignedDuration::ZERO,
        }
    }

    fn refusals(
        live: &LiveState,
        desired: &Desired,
        file: &DesiredFile,
        allow: bool,
    ) -> Vec<Refusal> {
        let clock = planner::Clock::at(jiff::Timestamp::UNIX_EPOCH);
        let overrides = Overrides {
            allow_mass_removal: allow,
            ..Overrides::default()
        };
        check(
            &planner::plan(1, desired, live, &clock),
            live,
            file,
            overrides,
        )
    }

    fn project_viewers(count: u64) -> LiveState {
        let mut accesses = vec![user(1, &[(ResourceType::Account, 1, 100)])];
        accesses.extend((2..2 + count).map(|id| user(id, &[(ResourceType::Project, 7, 10)])));
        let resource = |kind, id| crate::model::Resource {
            key: ResourceKey::new(kind, id),
            name: format!("{id}"),
            path: format!("{id}"),
        };
        LiveState {
            dialect: Default::default(),
            resources: vec![
                resource(ResourceType::Account, 1),
                resource(ResourceType::Project, 7),
            ],
            accesses,
            tokens: None,
        }
    }

    #[test]
    fn removing_more_than_a_quarter_of_many_accesses_is_refused_unless_allowed() {
        let live = project_viewers(11); // 12 accesses, 12 managed rows
        let keep: Vec<_> = (1..=8)
            .map(|id| {
                let rows = if id == 1 {
                    vec![(ResourceType::Account, 1, Level::Admin)]
                } else {
                    vec![(ResourceType::Project, 7, Level::Viewer)]
                };
                (id, rows)
            })
            .collect();
        let ids: Vec<u64> = keep.iter().map(|(id, _)| *id).collect();
        let found = refusals(&live, &desired(&keep), &file(&ids, None), false);
        assert_eq!(
            found,
            [
                Refusal::MassRowRemoval {
                    destroyed: 4,
                    managed: 12
                },
                Refusal::MassAccessRemoval {
                    removed: 4,
                    accesses: 12
                }
            ]
        );
        assert!(found[1].to_string().contains("removes 4 of 12 accesses"));
        assert!(found[1].to_string().contains("--allow-mass-removal"));
        assert!(refusals(&live, &desired(&keep), &file(&ids, None), true).is_empty());

        // A quarter exactly is not "more than 25%".
        let keep: Vec<_> = keep
            .into_iter()
            .chain([(9, vec![(ResourceType::Project, 7, Level::Viewer)])])
            .collect();
        let ids: Vec<u64> = keep.iter().map(|(id, _)| *id).collect();
        assert!(refusals(&live, &desired(&keep), &file(&ids, None), false).is_empty());
    }

    #[test]
    fn deleting_most_tokens_is_a_mass_removal_whatever_the_number_of_people() {
        use crate::model::Token;
        use crate::resolve::DesiredTokens;
        let mut live = project_viewers(11);
        let token = |id: u64| Token {
            id,
            name: format!("token {id}"),
            expires_at: None,
            rows: vec![Row {
                resource: ResourceKey::new(ResourceType::Project, 7),
                level: LevelCode(10),
            }],
            in_use: false,
        };
        live.tokens = Some((1..=4).map(token).collect());
        let everyone: Vec<u64> = (1..=12).collect();
        let keep: Vec<Kept> = (1..=12)
            .map(|id| {
                let rows = if id == 1 {
                    vec![(ResourceType::Account, 1, Level::Admin)]
                } else {
                    vec![(ResourceType::Project, 7, Level::Viewer)]
                };
                (id, rows)
            })
            .collect();
        let mut wanted = desired(&keep);
        wanted.tokens = Some(DesiredTokens {
            unmanaged: UnmanagedPolicy::Remove,
            ..DesiredTokens::default()
        });
        let found = refusals(&live, &wanted, &file(&everyone, None), false);
        assert_eq!(
            found,
            [Refusal::MassTokenRemoval {
                deleted: 4,
                tokens: 4
            }]
        );
        assert!(refusals(&live, &wanted, &file(&everyone, None), true).is_empty());
    }

    #[test]
    fn small_accounts_do_not_trip_the_percentage() {
        let live = project_viewers(3);
        let keep = vec![(1, vec![(ResourceType::Account, 1, Level::Admin)])];
        assert!(refusals(&live, &desired(&keep), &file(&[1], None), false).is_empty());
    }

    #[test]
    fn an_empty_file_is_refused_unless_allowed_and_only_when_it_changes_something() {
        let live = project_viewers(1);
        let found = refusals(&live, &desired(&[]), &file(&[], Some(0)), false);
        assert_eq!(found, [Refusal::EmptyDesiredFile]);
        assert!(refusals(&live, &desired(&[]), &file(&[], Some(0)), true).is_empty());
        // Nothing to send, nothing to refuse.
        let mut ignore = desired(&[]);
        ignore.unmanaged = UnmanagedPolicy::Ignore;
        assert!(refusals(&live, &ignore, &file(&[], Some(0)), false).is_empty());
    }

    #[test]
    fn the_last_account_admin_is_kept_unless_the_file_allows_none() {
        let live = project_viewers(2);
        // user1 loses account admin and becomes a project viewer.
        let keep = vec![(1, vec![(ResourceType::Project, 7, Level::Viewer)])];
        let found = refusals(&live, &desired(&keep), &file(&[1], None), true);
        assert_eq!(
            found,
            [Refusal::TooFewAccountAdmins {
                before: 1,
                after: 0,
                minimum: 1
            }]
        );
        assert!(found[0].to_string().contains("min_account_admins: 0"));
        assert!(refusals(&live, &desired(&keep), &file(&[1], Some(0)), true).is_empty());
    }

    #[test]
    fn an_account_already_without_admins_is_not_blocked() {
        let mut live = project_viewers(2);
        live.accesses.remove(0);
        let keep = vec![
            (2, vec![(ResourceType::Project, 7, Level::Admin)]),
            (3, vec![]),
        ];
        assert!(refusals(&live, &desired(&keep), &file(&[2, 3], None), false).is_empty());
    }
}
