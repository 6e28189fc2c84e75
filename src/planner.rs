//! The heart of the tool: from the desired state and the live state to a plan. A pure
//! function (no I/O, no clock, no randomness), so it is tested directly, by snapshots
//! and by properties.
//!
//! Rules: each access the file lists gets exactly its grants as explicit rows (none once
//! its `expires` has passed); rows of a type or level the tool does not manage are left
//! as they are; the owner is never changed; accesses absent from the file (or whose
//! `expires` has passed) are removed only under `unmanaged: remove`, and never the
//! owner's, or one holding rows the tool does not manage (whose managed rows go
//! instead). An access or token an `ignore` pattern matches is never touched.
//!
//! API tokens are planned from the tokens list: one missing is created; one whose rows
//! or wanted expiry differ is replaced (there is no call that changes a token), unless
//! the account listing shows its access, whose rows are then updated in place; one not
//! in the file is deleted only under `unmanaged_tokens: remove`. The token this tool
//! may be running with, a token whose name another holds, and one holding rows the tool
//! does not manage are never deleted, replaced or reset.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};

use crate::config::UnmanagedPolicy;
use crate::model::{
    Access, Level, LevelCode, LiveState, ResourceKey, Row, SpecifierKind, Token, WantedExpiry,
};
use crate::plan::{
    AccessRef, Change, HeldRow, LeftAlone, LeftAloneReason, Plan, ResourceRef, RowOp, TokenChange,
    TokenLeftAlone, TokenLeftAloneReason, TokenRow, TokenSpec, Warning,
};
use crate::resolve::{Desired, DesiredToken, DesiredTokens, Rows};

/// The moment a plan is made for, given to the planner rather than read by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub now: Timestamp,
    /// Tokens expiring within this of `now` are warned about (`--expiry-warning`).
    pub expiry_warning: SignedDuration,
}

impl Clock {
    /// The default warning window: 30 days.
    pub const DEFAULT_EXPIRY_WARNING: SignedDuration = SignedDuration::from_hours(30 * 24);

    pub fn at(now: Timestamp) -> Clock {
        Clock {
            now,
            expiry_warning: Clock::DEFAULT_EXPIRY_WARNING,
        }
    }
}

/// Compute the plan that makes `live` match `desired` for account `account_id`, as of
/// `clock`.
pub fn plan(account_id: u64, desired: &Desired, live: &LiveState, clock: &Clock) -> Plan {
    let names = Names(
        (live.resources.iter())
            .map(|resource| (&resource.key, resource.path.as_str()))
            .collect(),
    );
    let name_of = |key: &ResourceKey| names.of(key);
    let mut plan = Plan::new(account_id, live.dialect);
    let ambiguous = live.ambiguous_identities();
    let ignore = Ignore::new(&desired.ignore);
    let empty = Rows::new();
    let mut found = BTreeSet::new();
    for access in &live.accesses {
        let access_ref = AccessRef {
            label: access.label(),
            kind: access.kind.clone(),
            id: access.id,
        };
        let left_alone = |reason| LeftAlone {
            access: access_ref.clone(),
            reason,
        };
        let Some(identity) = access.identity() else {
            // A specifier the tool does not know is never touched, only shown.
            plan.left_alone
                .push(left_alone(LeftAloneReason::UnknownSpecifier));
            continue;
        };
        if let Some(pattern) = ignore.matching(&access.label()) {
            plan.left_alone.push(left_alone(LeftAloneReason::Ignored {
                pattern: pattern.to_string(),
            }));
            continue;
        }
        let entry = desired.principals.get(&identity);
        // An entry whose `expires` has passed grants nothing; under `unmanaged: remove`
        // it is as if it were not in the file.
        let expired = entry.is_some_and(|entry| has_passed(entry.expires, clock));
        let entry = entry.filter(|_| !(expired && desired.unmanaged == UnmanagedPolicy::Remove));
        let entry = entry.map(|wanted| if expired { &empty } else { &wanted.rows });
        match entry {
            Some(_) if ambiguous.contains_key(&identity) => plan
                .left_alone
                .push(left_alone(LeftAloneReason::SameNameDifferentRows)),
            Some(wanted) if access.is_owner() => {
                if !wanted.is_empty() {
                    plan.warnings.push(Warning::OwnerInFile {
                        access: access_ref.clone(),
                    });
                }
                plan.left_alone.push(left_alone(LeftAloneReason::Owner));
            }
            Some(wanted) => {
                let ops = row_ops(access, wanted, &access_ref, &names, &mut plan);
                if !ops.is_empty() {
                    plan.changes
                        .insert(access_ref.clone(), Change::Permissions { operations: ops });
                }
            }
            // A token's access in the listing: tokens are planned from the tokens list.
            None if !access.kind.is_person() => {}
            None if access.is_owner() => plan.left_alone.push(left_alone(LeftAloneReason::Owner)),
            None if desired.unmanaged == UnmanagedPolicy::Ignore => {
                plan.left_alone.push(left_alone(LeftAloneReason::NotInFile))
            }
            // Ended, but holding rows the tool leaves: its managed rows go all the same.
            None if expired && access.rows.iter().any(|row| row.managed_level().is_none()) => {
                let ops = row_ops(access, &empty, &access_ref, &names, &mut plan);
                if !ops.is_empty() {
                    plan.changes
                        .insert(access_ref.clone(), Change::Permissions { operations: ops });
                }
            }
            None if access.rows.iter().any(|row| row.managed_level().is_none()) => plan
                .left_alone
                .push(left_alone(LeftAloneReason::HoldsUnmanagedRows)),
            None => {
                let mut rows: Vec<HeldRow> = access
                    .rows
                    .iter()
                    .map(|row| HeldRow {
                        resource: name_of(&row.resource),
                        level: row.level,
                    })
                    .collect();
                rows.sort();
                plan.changes
                    .insert(access_ref.clone(), Change::Remove { rows });
            }
        }
        found.insert(identity);
    }
    for (identity, wanted) in &desired.principals {
        if let Some(access_ids) = ambiguous.get(identity) {
            plan.warnings.push(Warning::SameNameDifferentRows {
                name: wanted.label.clone(),
                access_ids: access_ids.clone(),
            });
        }
        match wanted.expires {
            Some(on) if has_passed(Some(on), clock) => {
                plan.warnings.push(Warning::AccessExpired {
                    name: wanted.label.clone(),
                    api_token: false,
                    on,
                });
                continue;
            }
            Some(on) => access_ends_warning(
                &wanted.label,
                false,
                on,
                desired.expiry_warning,
                clock,
                &mut plan,
            ),
            None => {}
        }
        if found.contains(identity) {
            continue;
        }
        plan.warnings.push(Warning::NotInAccount {
            email: wanted.label.clone(),
        });
    }
    if live.accesses.is_empty() {
        plan.warnings.push(Warning::EmptyListing);
    }
    if let Some(tokens) = &desired.tokens {
        plan_tokens(tokens, desired, &ignore, live, &names, clock, &mut plan);
    }
    plan.left_alone.sort();
    plan.tokens_left_alone.sort();
    plan.warnings.sort();
    plan
}

/// The `ignore` patterns, compiled once.
struct Ignore<'a>(Vec<(&'a str, wildmatch::WildMatch)>);

impl<'a> Ignore<'a> {
    fn new(patterns: &'a [String]) -> Ignore<'a> {
        Ignore(
            (patterns.iter())
                .map(|pattern| (pattern.as_str(), crate::config::ignore_pattern(pattern)))
                .collect(),
        )
    }

    /// The first pattern that matches `name`.
    fn matching(&self, name: &str) -> Option<&'a str> {
        (self.0.iter())
            .find(|(_, glob)| glob.matches(name))
            .map(|(pattern, _)| *pattern)
    }
}

/// Whether an entry's `expires` has come at the clock's moment.
fn has_passed(expires: Option<WantedExpiry>, clock: &Clock) -> bool {
    expires
        .and_then(|expires| expires.instant())
        .is_some_and(|at| at <= clock.now)
}

/// Warn that an entry's access ends within `window`.
fn access_ends_warning(
    name: &str,
    api_token: bool,
    on: WantedExpiry,
    window: SignedDuration,
    clock: &Clock,
    plan: &mut Plan,
) {
    if let Some(days) = days_left_within(on, window, clock) {
        plan.warnings.push(Warning::AccessEndsSoon {
            name: name.to_string(),
            api_token,
            on,
            days,
        });
    }
}

/// Whole days from the clock's moment until `ends`, when that is within `window`.
fn days_left_within(ends: WantedExpiry, window: SignedDuration, clock: &Clock) -> Option<i64> {
    let left = ends.instant()?.duration_since(clock.now);
    (left <= window).then(|| left.as_hours().div_euclid(24))
}

/// The token changes, and what is left alone and warned about on the way.
fn plan_tokens(
    wanted: &DesiredTokens,
    desired: &Desired,
    ignore: &Ignore,
    live: &LiveState,
    names: &Names,
    clock: &Clock,
    plan: &mut Plan,
) {
    let mut by_name: BTreeMap<&str, Vec<&Token>> = BTreeMap::new();
    for token in live.tokens.iter().flatten() {
        by_name.entry(&token.name).or_default().push(token);
    }
    // The listing does not show tokens' accesses today; if it does, their rows can be
    // changed in place, keeping the secret.
    let listed: BTreeMap<u64, &Access> = (live.accesses.iter())
        .filter(|access| access.kind == SpecifierKind::ApiToken)
        .filter_map(|access| Some((access.specifier_id?, access)))
        .collect();
    for (name, held) in &by_name {
        let leave = |plan: &mut Plan, token: &Token, reason| {
            plan.tokens_left_alone.push(TokenLeftAlone {
                name: name.to_string(),
                token_id: token.id,
                reason,
            })
        };
        if let Some(pattern) = ignore.matching(name) {
            for token in held {
                let pattern = pattern.to_string();
                leave(plan, token, TokenLeftAloneReason::Ignored { pattern });
            }
            continue;
        }
        let [token] = held[..] else {
            for token in held {
                leave(plan, token, TokenLeftAloneReason::SameName);
            }
            continue;
        };
        let untouchable = if token.in_use {
            Some(TokenLeftAloneReason::InUse)
        } else if token.holds_unmanaged_rows()
            || token
                .rows
                .iter()
                .any(|row| !names.0.contains_key(&row.resource))
        {
            Some(TokenLeftAloneReason::HoldsUnmanagedRows)
        } else {
            None
        };
        let reset = wanted.resets.contains(*name);
        let entry = wanted.entries.get(*name);
        let expired = entry.filter(|entry| has_passed(entry.expires, clock));
        let change = match (entry, untouchable) {
            // The tool's own end of the token's access: it is deleted.
            (Some(_), Some(why)) if expired.is_some() => {
                leave(plan, token, why);
                continue;
            }
            (Some(_), None) if expired.is_some() => Some(TokenChange::DeleteToken {
                token_id: token.id,
                from: live_spec(token, names),
            }),
            (Some(entry), why) if !differs(token, entry) => match why {
                // `check_resets` refuses to reset such a token before planning.
                Some(why) => {
                    leave(plan, token, why);
                    None
                }
                None => reset.then(|| reset_token(token, names)),
            },
            (Some(_), Some(why)) => {
                plan.warnings.push(Warning::TokenNotChanged {
                    name: name.to_string(),
                    token_id: token.id,
                    why: why.clone(),
                });
                leave(plan, token, why);
                continue;
            }
            (Some(entry), None) => Some(change_token(
                token,
                entry,
                listed.get(&token.id),
                names,
                clock,
                plan,
            )),
            (None, Some(why)) => {
                leave(plan, token, why);
                continue;
            }
            (None, None) if wanted.unmanaged == UnmanagedPolicy::Remove => {
                Some(TokenChange::DeleteToken {
                    token_id: token.id,
                    from: live_spec(token, names),
                })
            }
            (None, None) if reset => Some(reset_token(token, names)),
            (None, None) => {
                leave(plan, token, TokenLeftAloneReason::NotInFile);
                None
            }
        };
        if let Some(TokenChange::ReplaceToken { to, .. }) = &change {
            expiry_warnings(name, to.expires_at, clock, plan);
        }
        if let Some(change) = (change.as_ref()).filter(|_| reset) {
            if !matches!(change, TokenChange::ResetToken { .. }) {
                plan.warnings.push(Warning::TokenNotReset {
                    name: name.to_string(),
                    token_id: token.id,
                    planned: change.action().to_string(),
                });
            }
        }
        if let Some(change) = change {
            plan.tokens.insert(name.to_string(), change);
        }
    }
    // Expiry, as it will be: of every token the plan keeps, and of those it makes.
    for token in live.tokens.iter().flatten() {
        match plan.tokens.get(&token.name) {
            Some(TokenChange::DeleteToken { .. } | TokenChange::ReplaceToken { .. }) => {}
            _ => expiry_warnings(&token.name, Some(live_expiry(token)), clock, plan),
        }
    }
    for (name, entry) in &wanted.entries {
        match entry.expires {
            Some(on) if has_passed(Some(on), clock) => {
                plan.warnings.push(Warning::AccessExpired {
                    name: name.clone(),
                    api_token: true,
                    on,
                });
                continue;
            }
            Some(on) => access_ends_warning(name, true, on, desired.expiry_warning, clock, plan),
            None => {}
        }
        if by_name.contains_key(name.as_str()) {
            continue;
        }
        let to = wanted_spec(entry, None, names, clock);
        expiry_warnings(name, to.expires_at, clock, plan);

        plan.tokens
            .insert(name.clone(), TokenChange::CreateToken { to });
    }
}

/// Whether `token` is other than `entry` wants: its managed rows, or its expiry when
/// the file says one.
fn differs(token: &Token, entry: &DesiredToken) -> bool {
    let held: Rows = (token.rows.iter())
        .filter_map(|row| Some((row.resource.clone(), row.managed_level()?)))
        .collect();
    held != entry.rows || (entry.expires_at).is_some_and(|wanted| !wanted.matches(token.expires_at))
}

/// A token that differs from its entry: its rows updated in place when the listing
/// shows its access and only rows differ, else replaced.
fn change_token(
    token: &Token,
    entry: &DesiredToken,
    listed: Option<&&Access>,
    names: &Names,
    clock: &Clock,
    plan: &mut Plan,
) -> TokenChange {
    let expiry_differs = (entry.expires_at).is_some_and(|wanted| !wanted.matches(token.expires_at));
    // The listed access must show the token's own rows: if the two reads disagree, the
    // bulk call's effect on the token is anyone's guess.
    let agrees = |access: &Access| {
        let mut shown = access.rows.clone();
        let mut held = token.rows.clone();
        shown.sort();
        held.sort();
        shown == held
    };
    if let (Some(access), false) = (listed.filter(|access| agrees(access)), expiry_differs) {
        let access_ref = AccessRef {
            label: token.name.clone(),
            kind: access.kind.clone(),
            id: access.id,
        };
        let operations = row_ops(access, &entry.rows, &access_ref, names, plan);
        if !operations.is_empty() {
            return TokenChange::UpdateTokenPermissions {
                token_id: token.id,
                access_id: access.id,
                operations,
            };
        }
    }
    plan.warnings.push(Warning::TokenReplaced {
        name: token.name.clone(),
        token_id: token.id,
    });
    TokenChange::ReplaceToken {
        token_id: token.id,
        from: live_spec(token, names),
        to: wanted_spec(entry, Some(token), names, clock),
    }
}

fn reset_token(token: &Token, names: &Names) -> TokenChange {
    TokenChange::ResetToken {
        token_id: token.id,
        from: live_spec(token, names),
    }
}

/// How the service reports `token`'s expiry, as the file would write it.
fn live_expiry(token: &Token) -> WantedExpiry {
    token
        .expires_at
        .map_or(WantedExpiry::Never, WantedExpiry::At)
}

fn live_spec(token: &Token, names: &Names) -> TokenSpec {
    let mut resources: Vec<TokenRow> = (token.rows.iter())
        .map(|row| TokenRow {
            resource: names.of(&row.resource),
            level: row.level,
        })
        .collect();
    resources.sort();
    TokenSpec {
        resources,
        expires_at: Some(live_expiry(token)),
    }
}

/// What `entry` asks for; with no expiry of its own, a replacement keeps `replacing`'s,
/// unless that has passed (the API refuses a past expiry: the service's default then).
fn wanted_spec(
    entry: &DesiredToken,
    replacing: Option<&Token>,
    names: &Names,
    clock: &Clock,
) -> TokenSpec {
    let kept = replacing
        .map(live_expiry)
        .filter(|expiry| expiry.instant().is_none_or(|at| at > clock.now));
    TokenSpec {
        resources: (entry.rows.iter())
            .map(|(key, level)| TokenRow {
                resource: names.of(key),
                level: (*level).into(),
            })
            .collect(),
        expires_at: entry.expires_at.or(kept),
    }
}

/// Warn about a token that never expires, or expires within the clock's window.
fn expiry_warnings(name: &str, expiry: Option<WantedExpiry>, clock: &Clock, plan: &mut Plan) {
    let name = name.to_string();
    match expiry {
        Some(WantedExpiry::Never) => plan.warnings.push(Warning::TokenNeverExpires { name }),
        Some(expiry) => {
            let (Some(at), Some(days)) = (
                expiry.instant(),
                days_left_within(expiry, clock.expiry_warning, clock),
            ) else {
                return;
            };
            plan.warnings.push(Warning::TokenExpiresSoon {
                name,
                expires_at: at,
                days,
            });
        }
        None => {}
    }
}

/// The tree's resources by key, with the name the plan shows for each.
struct Names<'a>(BTreeMap<&'a ResourceKey, &'a str>);

impl Names<'_> {
    fn of(&self, key: &ResourceKey) -> ResourceRef {
        ResourceRef {
            key: key.clone(),
            name: self.0.get(key).map(|name| name.to_string()),
        }
    }
}

/// The row operations that give `access` exactly the rows `wanted`, leaving alone (and
/// recording in `plan`) every row of a type or level the tool does not manage.
fn row_ops(
    access: &Access,
    wanted: &BTreeMap<ResourceKey, Level>,
    access_ref: &AccessRef,
    names: &Names,
    plan: &mut Plan,
) -> Vec<RowOp> {
    let name_of = |key: &ResourceKey| names.of(key);
    // Read into maps: of a row listed twice, the last one read is what the account holds.
    let mut held: BTreeMap<&ResourceKey, Level> = BTreeMap::new();
    let mut unmanaged: BTreeMap<&ResourceKey, LevelCode> = BTreeMap::new();
    let mut not_in_tree: BTreeMap<&ResourceKey, LevelCode> = BTreeMap::new();
    for row in &access.rows {
        let in_tree = names.0.contains_key(&row.resource);
        match row.managed_level() {
            Some(level) if in_tree => {
                held.insert(&row.resource, level);
            }
            Some(_) => {
                not_in_tree.insert(&row.resource, row.level);
            }
            None => {
                unmanaged.insert(&row.resource, row.level);
            }
        }
    }
    let mut ops = Vec::new();
    for (key, &to) in wanted {
        if let Some(&current) = unmanaged.get(key) {
            plan.warnings.push(Warning::LevelNotManaged {
                access: access_ref.clone(),
                resource: name_of(key),
                current,
                wanted: to,
            });
            continue;
        }
        match held.get(key) {
            Some(&from) if from == to => {}
            Some(&from) => ops.push(RowOp::Update {
                resource: name_of(key),
                from,
                to,
            }),
            None => ops.push(RowOp::Create {
                resource: name_of(key),
                to,
            }),
        }
    }
    for (key, &from) in &held {
        if !wanted.contains_key(*key) {
            ops.push(RowOp::Destroy {
                resource: name_of(key),
                from,
            });
        }
    }
    ops.sort_by(|a, b| a.resource().cmp(b.resource()));
    let unmanaged = (unmanaged.into_iter()).map(|(key, level)| LeftAloneReason::UnmanagedRow {
        resource: name_of(key),
        level,
    });
    let outside = (not_in_tree.into_iter()).map(|(key, level)| LeftAloneReason::NotInTree {
        resource: name_of(key),
        level,
    });
    for reason in unmanaged.chain(outside) {
        plan.left_alone.push(LeftAlone {
            access: access_ref.clone(),
            reason,
        });
    }
    ops
}

/// What the live state becomes once `plan` is executed as the API documents it: the
/// model the property tests and the diff format compare against.
pub fn expected_after(plan: &Plan, live: &LiveState) -> LiveState {
    let by_id: BTreeMap<u64, &Change> = plan
        .changes
        .iter()
        .map(|(target, change)| (target.id, change))
        .collect();
    let mut after = live.clone();
    after
        .accesses
        .retain(|access| !matches!(by_id.get(&access.id), Some(Change::Remove { .. })));
    for access in &mut after.accesses {
        let Some(Change::Permissions { operations }) = by_id.get(&access.id) else {
            continue;
        };
        for op in operations {
            let key = &op.resource().key;
            access.rows.retain(|row| &row.resource != key);
            match op {
                RowOp::Create { to, .. } | RowOp::Update { to, .. } => access.rows.push(Row {
                    resource: key.clone(),
                    level: (*to).into(),
                }),
                RowOp::Destroy { .. } => {}
            }
        }
        access.rows.sort();
    }
    if !plan.tokens.is_empty() {
        let tokens = after.tokens.get_or_insert_default();
        for (name, change) in &plan.tokens {
            let rows = |spec: &TokenSpec| -> Vec<Row> {
                (spec.resources.iter())
                    .map(|row| Row {
                        resource: row.resource.key.clone(),
                        level: row.level,
                    })
                    .collect()
            };
            let expiry = |spec: &TokenSpec, old: Option<Timestamp>| match spec.expires_at {
                Some(wanted) => wanted.instant(),
                None => old,
            };
            match change {
                TokenChange::CreateToken { to } => tokens.push(Token {
                    // Its id is the service's to give; none is known before apply.
                    id: 0,
                    name: name.clone(),
                    expires_at: expiry(to, None),
                    rows: rows(to),
                    in_use: false,
                }),
                TokenChange::ReplaceToken { token_id, to, .. } => {
                    for token in tokens.iter_mut().filter(|t| t.id == *token_id) {
                        token.expires_at = expiry(to, token.expires_at);
                        token.rows = rows(to);
                    }
                }
                TokenChange::DeleteToken { token_id, .. } => {
                    tokens.retain(|token| token.id != *token_id)
                }
                TokenChange::UpdateTokenPermissions {
                    token_id,
                    operations,
                    ..
                } => {
                    for token in tokens.iter_mut().filter(|t| t.id == *token_id) {
                        for op in operations {
                            let key = &op.resource().key;
                            token.rows.retain(|row| &row.resource != key);
                            if let RowOp::Create { to, .. } | RowOp::Update { to, .. } = op {
                                token.rows.push(Row {
                                    resource: key.clone(),
                                    level: (*to).into(),
                                });
                            }
                        }
                        token.rows.sort();
                    }
                }
                TokenChange::ResetToken { .. } => {}
            }
        }
    }
    after
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Identity, Resource, ResourceType, SpecifierKind};
    use crate::plan::RowOp;
    use crate::resolve::DesiredPrincipal;

    #[test]
    fn a_row_on_a_resource_the_tree_does_not_show_is_left_alone_not_destroyed() {
        let (shown, hidden) = (
            ResourceKey::new(ResourceType::Project, 1),
            ResourceKey::new(ResourceType::Project, 2),
        );
        let live = LiveState {
            resources: vec![Resource {
                key: shown.clone(),
                name: "Shown".into(),
                path: "Shown".into(),
            }],
            accesses: vec![Access {
                id: 9,
                kind: SpecifierKind::User,
                email: Some("bob@x.io".into()),
                name: None,
                specifier_id: None,
                two_factor: None,
                rows: vec![
                    Row {
                        resource: shown.clone(),
                        level: LevelCode(10),
                    },
                    Row {
                        resource: hidden.clone(),
                        level: LevelCode(100),
                    },
                ],
            }],
            tokens: None,
            dialect: Default::default(),
        };
        // The file gives bob nothing: his visible row goes, the hidden one stays.
        let desired = Desired {
            unmanaged: UnmanagedPolicy::Ignore,
            principals: [(
                Identity::Person("bob@x.io".into()),
                DesiredPrincipal {
                    label: "bob@x.io".into(),
                    rows: Default::default(),
                    expires: None,
                },
            )]
            .into(),
            tokens: None,
            ignore: Vec::new(),
            expiry_warning: jiff::SignedDuration::ZERO,
        };
        let planned = plan(1, &desired, &live, &Clock::at(Timestamp::UNIX_EPOCH));
        let Some(Change::Permissions { operations }) = planned.changes.values().next() else {
            panic!("{planned:?}")
        };
        assert_eq!(operations.len(), 1);
        assert_eq!(operations[0].resource().key, shown);
        assert_eq!(planned.left_alone.len(), 1);
        assert!(matches!(
            &planned.left_alone[0].reason,
            LeftAloneReason::NotInTree { resource, level } if resource.key == hidden && *level == LevelCode(100)
        ));
    }

    #[test]
    fn an_expiry_ends_access_at_its_moment_and_is_warned_of_within_the_window() {
        let project = ResourceKey::new(ResourceType::Project, 1);
        let live = LiveState {
            resources: vec![Resource {
                key: project.clone(),
                name: "P".into(),
                path: "P".into(),
            }],
            accesses: vec![Access {
                id: 9,
                kind: SpecifierKind::User,
                email: Some("bob@x.io".into()),
                name: None,
                specifier_id: None,
                two_factor: None,
                rows: vec![Row {
                    resource: project.clone(),
                    level: LevelCode(10),
                }],
            }],
            ..LiveState::default()
        };
        let ends = WantedExpiry::parse("2027-01-31").unwrap();
        let desired = Desired {
            unmanaged: UnmanagedPolicy::Ignore,
            principals: [(
                Identity::Person("bob@x.io".into()),
                DesiredPrincipal {
                    label: "bob@x.io".into(),
                    rows: [(project.clone(), Level::Viewer)].into(),
                    expires: Some(ends),
                },
            )]
            .into(),
            tokens: None,
            ignore: Vec::new(),
            expiry_warning: SignedDuration::from_hours(14 * 24),
        };
        let end = ends.instant().unwrap();
        let at = |offset: SignedDuration| plan(1, &desired, &live, &Clock::at(end - offset));
        let second = SignedDuration::from_secs(1);
        let window = desired.expiry_warning;

        // Before the window: nothing to say. At its edge and inside: a warning.
        let early = at(window + second);
        assert!(early.is_empty() && early.warnings.is_empty(), "{early:?}");
        for offset in [window, second] {
            let soon = at(offset);
            assert!(soon.is_empty());
            assert!(
                matches!(&soon.warnings[..], [Warning::AccessEndsSoon { on, .. }] if *on == ends),
                "{:?}",
                soon.warnings
            );
        }
        assert_eq!(
            at(window).warnings[0].to_string(),
            "bob@x.io's access ends in 14 days (2027-01-31)."
        );
        // At the moment itself, the access is over: its row is destroyed.
        let ended = at(SignedDuration::ZERO);
        let Some(Change::Permissions { operations }) = ended.changes.values().next() else {
            panic!("{ended:?}")
        };
        assert!(matches!(&operations[..], [RowOp::Destroy { .. }]));
        assert!(matches!(
            &ended.warnings[..],
            [Warning::AccessExpired { .. }]
        ));
    }
}
