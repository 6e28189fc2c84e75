//! The heart of the tool: from the desired state and the live state to a plan. A pure
//! function (no I/O, no clock, no randomness), so it is tested directly, by snapshots
//! and by properties.
//!
//! Rules: each access the file lists gets exactly its grants as explicit rows; rows of a
//! type or level the tool does not manage are left as they are; the owner is never
//! changed; accesses absent from the file are removed only under `unmanaged: remove`,
//! and never the owner's, a token's, or one holding rows the tool does not manage.

use std::collections::BTreeMap;

use crate::config::UnmanagedPolicy;
use crate::model::{Access, Identity, Level, LiveState, Resource, ResourceKey, Row};
use crate::plan::{
    AccessRef, Change, HeldRow, LeftAlone, LeftAloneReason, Plan, ResourceRef, RowOp, Warning,
};
use crate::resolve::{Desired, RowSet};

/// Compute the plan that makes `live` match `desired` for account `account_id`.
pub fn plan(account_id: u64, desired: &Desired, live: &LiveState) -> Plan {
    let mut planner = Planner::new(account_id, desired, &live.resources);
    for access in &live.accesses {
        planner.add(access);
    }
    planner.finish()
}

/// [`plan`], one access at a time: each access is diffed on its own, so a plan can be
/// built while the listing is still being decoded, and `finish` gives the same plan
/// whatever pace the accesses came at. Still pure: the accesses are its only input.
pub struct Planner<'a> {
    desired: &'a Desired,
    names: BTreeMap<&'a ResourceKey, &'a str>,
    /// Changes go straight into the plan's map: inserting one at a time costs a little
    /// more than sorting them all at the end, but it is done while the listing is still
    /// being decoded, where it costs no time, rather than after.
    plan: Plan,
    /// The file's entries the listing holds, to find those it lacks: the entries' own
    /// keys, kept in a list and sorted once by address, which costs less than a set of
    /// copies built one insertion at a time.
    found: Vec<&'a Identity>,
}

impl<'a> Planner<'a> {
    pub fn new(account_id: u64, desired: &'a Desired, resources: &'a [Resource]) -> Self {
        Planner {
            desired,
            names: resources
                .iter()
                .map(|resource| (&resource.key, resource.path.as_str()))
                .collect(),
            plan: Plan {
                account_id,
                changes: BTreeMap::new(),
                left_alone: Vec::new(),
                warnings: Vec::new(),
            },
            found: Vec::new(),
        }
    }

    /// Diff one access of the listing, in listing order.
    pub fn add(&mut self, access: &Access) {
        let Some(identity) = access.identity() else {
            return; // A specifier the tool does not know is never touched.
        };
        let access_ref = AccessRef {
            label: access.label(),
            kind: access.kind.clone(),
            id: access.id,
        };
        let wanted = self
            .desired
            .principals
            .get_key_value(&identity)
            .map(|(key, wanted)| {
                self.found.push(key);
                wanted
            });
        let names = Names(&self.names);
        let plan = &mut self.plan;
        match wanted {
            Some(wanted) => {
                if access.is_owner() {
                    if !wanted.rows.is_empty() {
                        plan.warnings.push(Warning::OwnerInFile {
                            access: access_ref.clone(),
                        });
                    }
                    plan.left_alone.push(LeftAlone {
                        access: access_ref,
                        reason: LeftAloneReason::Owner,
                    });
                    return;
                }
                let ops = row_ops(access, &wanted.rows, &access_ref, names, plan);
                if !ops.is_empty() {
                    plan.changes.insert(access_ref, Change::Permissions(ops));
                }
            }
            None => {
                if !access.kind.is_person() {
                    return; // Tokens absent from the file are never touched.
                }
                let reason = if access.is_owner() {
                    LeftAloneReason::Owner
                } else if self.desired.unmanaged == UnmanagedPolicy::Ignore {
                    LeftAloneReason::NotInFile
                } else if access.rows.iter().any(|row| row.managed_level().is_none()) {
                    LeftAloneReason::HoldsUnmanagedRows
                } else {
                    let mut rows: Vec<HeldRow> = access
                        .rows
                        .iter()
                        .map(|row| HeldRow {
                            resource: names.of(&row.resource),
                            level: row.level,
                        })
                        .collect();
                    rows.sort();
                    plan.changes.insert(access_ref, Change::Remove { rows });
                    return;
                };
                plan.left_alone.push(LeftAlone {
                    access: access_ref,
                    reason,
                });
            }
        }
    }

    /// The plan, once every access of the listing has been added.
    pub fn finish(self) -> Plan {
        let Planner {
            desired,
            mut plan,
            mut found,
            ..
        } = self;
        let address = |identity: &&Identity| std::ptr::from_ref(*identity);
        found.sort_unstable_by_key(address);
        for (identity, wanted) in &desired.principals {
            if found
                .binary_search_by_key(&address(&identity), address)
                .is_ok()
            {
                continue;
            }
            plan.warnings.push(match identity {
                Identity::Person(_) => Warning::NotInAccount {
                    email: wanted.label.clone(),
                },
                Identity::Token(name) => Warning::TokenNotListed { name: name.clone() },
            });
        }
        plan.left_alone.sort();
        plan.warnings.sort();
        plan
    }
}

/// The resources' names by key, for the plan to show beside each id.
#[derive(Clone, Copy)]
struct Names<'m, 'a>(&'m BTreeMap<&'a ResourceKey, &'a str>);

impl Names<'_, '_> {
    fn of(self, key: &ResourceKey) -> ResourceRef {
        ResourceRef {
            key: key.clone(),
            name: self.0.get(key).map(|name| name.to_string()),
        }
    }
}

/// The row operations that give `access` exactly the rows `wanted`, leaving alone (and
/// recording in `plan`) every row of a type or level the tool does not manage.
///
/// One merge pass over two sorted lists: big accounts hold hundreds of thousands of
/// rows, and building maps per access cost more than everything else in `plan`.
fn row_ops(
    access: &Access,
    wanted: &RowSet,
    access_ref: &AccessRef,
    names: Names,
    plan: &mut Plan,
) -> Vec<RowOp> {
    let mut managed: Vec<(&ResourceKey, Level)> = Vec::with_capacity(access.rows.len());
    let mut unmanaged: Vec<(&ResourceKey, u32)> = Vec::new();
    for row in &access.rows {
        match row.managed_level() {
            Some(level) => managed.push((&row.resource, level)),
            None => unmanaged.push((&row.resource, row.level)),
        }
    }
    sorted_last_wins(&mut managed);
    sorted_last_wins(&mut unmanaged);

    let mut ops = Vec::new();
    let mut held = managed.into_iter().peekable();
    for (key, to) in wanted.iter() {
        let key = &key;
        // Held rows before this key are not wanted at all.
        while let Some((held_key, from)) = held.next_if(|(held_key, _)| *held_key < key) {
            ops.push(RowOp::Destroy {
                resource: names.of(held_key),
                from,
            });
        }
        let current = held
            .next_if(|(held_key, _)| *held_key == key)
            .map(|(_, from)| from);
        if let Ok(found) = unmanaged.binary_search_by(|(other, _)| (*other).cmp(key)) {
            plan.warnings.push(Warning::LevelNotManaged {
                access: access_ref.clone(),
                resource: names.of(key),
                current: unmanaged[found].1,
                wanted: to,
            });
            continue;
        }
        match current {
            Some(from) if from == to => {}
            Some(from) => ops.push(RowOp::Update {
                resource: names.of(key),
                from,
                to,
            }),
            None => ops.push(RowOp::Create {
                resource: names.of(key),
                to,
            }),
        }
    }
    for (held_key, from) in held {
        ops.push(RowOp::Destroy {
            resource: names.of(held_key),
            from,
        });
    }
    // Most accesses change a row or two; a plan may hold ten thousand of them.
    ops.shrink_to_fit();

    for (key, level) in unmanaged {
        plan.left_alone.push(LeftAlone {
            access: access_ref.clone(),
            reason: LeftAloneReason::UnmanagedRow {
                resource: names.of(key),
                level,
            },
        });
    }
    ops
}

/// Sort rows by resource and keep one per resource: the last one read, as a map would.
fn sorted_last_wins<V>(rows: &mut Vec<(&ResourceKey, V)>) {
    if rows.is_sorted_by(|a, b| a.0 < b.0) {
        return; // Already sorted without repeats, as a listing often is.
    }
    // A stable sort keeps repeats in reading order; reversing makes the last one first,
    // which is the one `dedup_by` keeps.
    rows.reverse();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    rows.dedup_by(|later, first| later.0 == first.0);
}

/// What the live state becomes once `plan` is executed as the API documents it: the
/// model the property tests and apply's read-back check compare against.
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
        let Some(Change::Permissions(ops)) = by_id.get(&access.id) else {
            continue;
        };
        for op in ops {
            let key = &op.resource().key;
            access.rows.retain(|row| &row.resource != key);
            match op {
                RowOp::Create { to, .. } | RowOp::Update { to, .. } => access.rows.push(Row {
                    resource: key.clone(),
                    level: to.code(),
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
    use crate::model::ResourceType;

    #[test]
    fn rows_read_twice_keep_the_last_reading_as_a_map_would() {
        let (a, b) = (
            ResourceKey::new(ResourceType::Inbox, 2),
            ResourceKey::new(ResourceType::Inbox, 1),
        );
        let mut rows = vec![(&a, 10), (&b, 100), (&a, 100), (&b, 10), (&a, 1)];
        sorted_last_wins(&mut rows);
        assert_eq!(rows, vec![(&b, 10), (&a, 1)]);
        let mut sorted = vec![(&b, 100), (&a, 10)];
        sorted_last_wins(&mut sorted);
        assert_eq!(sorted, vec![(&b, 100), (&a, 10)]);
    }
}
