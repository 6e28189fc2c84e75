//! The heart of the tool: from the desired state and the live state to a plan. A pure
//! function (no I/O, no clock, no randomness), so it is tested directly, by snapshots
//! and by properties.
//!
//! Rules: each access the file lists gets exactly its grants as explicit rows; rows of a
//! type or level the tool does not manage are left as they are; the owner is never
//! changed; accesses absent from the file are removed only under `unmanaged: remove`,
//! and never the owner's, a token's, or one holding rows the tool does not manage.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::UnmanagedPolicy;
use crate::model::{Access, Identity, Level, LevelCode, LiveState, ResourceKey, Row};
use crate::plan::{
    AccessRef, Change, HeldRow, LeftAlone, LeftAloneReason, Plan, ResourceRef, RowOp, Warning,
};
use crate::resolve::Desired;

/// Compute the plan that makes `live` match `desired` for account `account_id`.
pub fn plan(account_id: u64, desired: &Desired, live: &LiveState) -> Plan {
    let names = Names(
        (live.resources.iter())
            .map(|resource| (&resource.key, resource.path.as_str()))
            .collect(),
    );
    let name_of = |key: &ResourceKey| names.of(key);
    let mut plan = Plan {
        account_id,
        dialect: live.dialect,
        changes: BTreeMap::new(),
        left_alone: Vec::new(),
        warnings: Vec::new(),
    };
    let ambiguous = live.ambiguous_identities();
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
        match desired.principals.get(&identity) {
            Some(_) if ambiguous.contains_key(&identity) => plan
                .left_alone
                .push(left_alone(LeftAloneReason::SameNameDifferentRows)),
            Some(wanted) if access.is_owner() => {
                if !wanted.rows.is_empty() {
                    plan.warnings.push(Warning::OwnerInFile {
                        access: access_ref.clone(),
                    });
                }
                plan.left_alone.push(left_alone(LeftAloneReason::Owner));
            }
            Some(wanted) => {
                let ops = row_ops(access, &wanted.rows, &access_ref, &names, &mut plan);
                if !ops.is_empty() {
                    plan.changes
                        .insert(access_ref.clone(), Change::Permissions { operations: ops });
                }
            }
            // Tokens absent from the file are never touched.
            None if !access.kind.is_person() => {}
            None if access.is_owner() => plan.left_alone.push(left_alone(LeftAloneReason::Owner)),
            None if desired.unmanaged == UnmanagedPolicy::Ignore => {
                plan.left_alone.push(left_alone(LeftAloneReason::NotInFile))
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
        if found.contains(identity) {
            continue;
        }
        plan.warnings.push(match identity {
            Identity::Person(_) => Warning::NotInAccount {
                email: wanted.label.clone(),
            },
            Identity::Token(name) => Warning::TokenNotListed { name: name.clone() },
        });
    }
    if live.accesses.is_empty() {
        plan.warnings.push(Warning::EmptyListing);
    }
    plan.left_alone.sort();
    plan.warnings.sort();
    plan
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
    after
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Identity, Resource, ResourceType, SpecifierKind};
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
                },
            )]
            .into(),
        };
        let planned = plan(1, &desired, &live);
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
}
