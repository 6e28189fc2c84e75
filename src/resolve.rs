//! Turns the names of a desired-state file into resource keys of the live resource
//! tree, and merges roles into each user's and token's grants. An unknown name is an
//! error that suggests the nearest existing names; a name that matches two resources is
//! an error listing both. Pure: it sees the tree only as data.

use std::collections::BTreeMap;

use crate::config::{Diagnostic, Grants, LoadedFile, UnmanagedPolicy, ID_PREFIX};
use crate::model::{Identity, Level, Resource, ResourceKey, ResourceType};

/// The explicit rows each listed access should hold, keyed by resource.
pub type RowSet = BTreeMap<ResourceKey, Level>;

/// The desired state with every name resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub unmanaged: UnmanagedPolicy,
    pub principals: BTreeMap<Identity, DesiredPrincipal>,
}

/// One user or token of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredPrincipal {
    /// The key as written in the file.
    pub label: String,
    pub rows: RowSet,
}

/// Resolve every name in `loaded` against `resources`.
pub fn resolve(loaded: &LoadedFile, resources: &[Resource]) -> Result<Desired, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let file = &loaded.file;

    let mut roles: BTreeMap<&str, RowSet> = BTreeMap::new();
    for (name, grants) in &file.roles {
        let rows = resolve_grants(loaded, resources, &["roles", name], grants, &mut problems);
        roles.insert(name, rows);
    }

    let mut principals = BTreeMap::new();
    let sections = [("users", &file.users), ("api_tokens", &file.api_tokens)];
    for (section, entries) in sections {
        for (who, grants) in entries {
            let mut rows =
                resolve_grants(loaded, resources, &[section, who], grants, &mut problems);
            for role in &grants.roles {
                // Undefined roles were reported by validation before resolution.
                for (key, level) in roles.get(role.as_str()).into_iter().flatten() {
                    merge(&mut rows, key.clone(), *level);
                }
            }
            let identity = if section == "users" {
                Identity::Person(who.to_lowercase())
            } else {
                Identity::Token(who.clone())
            };
            principals.insert(
                identity,
                DesiredPrincipal {
                    label: who.clone(),
                    rows,
                },
            );
        }
    }

    if problems.is_empty() {
        Ok(Desired {
            unmanaged: file.unmanaged,
            principals,
        })
    } else {
        problems.sort_by_key(|problem| problem.position);
        Err(problems)
    }
}

/// On the same resource the higher level wins.
fn merge(rows: &mut RowSet, key: ResourceKey, level: Level) {
    let entry = rows.entry(key).or_insert(level);
    *entry = (*entry).max(level);
}

fn resolve_grants(
    loaded: &LoadedFile,
    resources: &[Resource],
    at: &[&str],
    grants: &Grants,
    problems: &mut Vec<Diagnostic>,
) -> RowSet {
    let mut rows = RowSet::new();
    let singletons = [
        ("account", ResourceType::Account, grants.account),
        ("billing", ResourceType::Billing, grants.billing),
        (
            "email_campaigns",
            ResourceType::EmailCampaigns,
            grants.email_campaigns,
        ),
    ];
    for (field, kind, level) in singletons {
        let Some(level) = level else { continue };
        let path = child_path(at, &[field]);
        match find_singleton(resources, &kind) {
            Ok(key) => merge(&mut rows, key, level),
            Err(message) => problems.push(loaded.diagnostic(&path, message)),
        }
    }
    let named = [
        ("projects", ResourceType::Project, &grants.projects),
        ("inboxes", ResourceType::Inbox, &grants.inboxes),
        (
            "sending_domains",
            ResourceType::SendingDomain,
            &grants.sending_domains,
        ),
    ];
    for (field, kind, entries) in named {
        for (name, level) in entries {
            let path = child_path(at, &[field, name]);
            match find_named(resources, &kind, name) {
                Ok(key) => merge(&mut rows, key, *level),
                Err(message) => problems.push(loaded.diagnostic(&path, message)),
            }
        }
    }
    rows
}

fn child_path<'a>(at: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    at.iter().chain(more).copied().collect()
}

/// What the file calls a resource type, for messages.
pub fn noun(kind: &ResourceType) -> &str {
    match kind {
        ResourceType::Account => "account",
        ResourceType::Billing => "billing",
        ResourceType::Project => "project",
        ResourceType::Inbox => "inbox",
        ResourceType::SendingDomain => "sending domain",
        ResourceType::EmailCampaigns => "email campaigns scope",
        ResourceType::Other(name) => name,
    }
}

fn find_singleton(resources: &[Resource], kind: &ResourceType) -> Result<ResourceKey, String> {
    let found: Vec<&Resource> = resources.iter().filter(|r| &r.key.kind == kind).collect();
    match found.as_slice() {
        [one] => Ok(one.key.clone()),
        [] => Err(format!(
            "the account has no {} resource that this token administers",
            noun(kind)
        )),
        many => Err(format!(
            "the resource tree holds {} {} resources ({}); this tool expects one",
            many.len(),
            noun(kind),
            describe(many)
        )),
    }
}

fn find_named(
    resources: &[Resource],
    kind: &ResourceType,
    name: &str,
) -> Result<ResourceKey, String> {
    let candidates: Vec<&Resource> = resources.iter().filter(|r| &r.key.kind == kind).collect();
    if let Some(id) = name.strip_prefix(ID_PREFIX) {
        let id: u64 = id
            .trim()
            .parse()
            .map_err(|_| format!("{name:?} is not a resource id: write id:NNN with a number"))?;
        return candidates
            .iter()
            .find(|r| r.key.id == id)
            .map(|r| r.key.clone())
            .ok_or_else(|| format!("no {} with id {id} in the account", noun(kind)));
    }
    let matches: Vec<&Resource> = candidates
        .iter()
        .copied()
        .filter(|r| r.path == name)
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.key.clone()),
        [] => {
            let nearest = nearest_names(name, candidates.iter().map(|r| r.path.as_str()));
            let hint = if nearest.is_empty() {
                format!("the account has no {}s", noun(kind))
            } else {
                format!("did you mean {}?", nearest.join(", "))
            };
            Err(format!("unknown {} {name:?}; {hint}", noun(kind)))
        }
        many => Err(format!(
            "{} {name:?} is ambiguous: it matches {}; pin one with id:NNN",
            noun(kind),
            describe(many)
        )),
    }
}

fn describe(resources: &[&Resource]) -> String {
    let parts: Vec<String> = resources
        .iter()
        .map(|r| format!("{:?} (id {})", r.path, r.key.id))
        .collect();
    parts.join(" and ")
}

/// Up to three existing names closest to `wanted`, quoted, nearest first.
fn nearest_names<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let wanted_lower = wanted.to_lowercase();
    let mut scored: Vec<(usize, &str)> = names
        .map(|name| (edit_distance(&wanted_lower, &name.to_lowercase()), name))
        .collect();
    scored.sort();
    scored.dedup();
    scored
        .into_iter()
        .take(3)
        .map(|(_, name)| format!("{name:?}"))
        .collect()
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("backend", "backend"), 0);
        assert_eq!(edit_distance("backnd", "backend"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn nearest_names_ranks_by_distance() {
        let names = ["Backend", "Frontend", "Marketing", "Back"];
        assert_eq!(
            nearest_names("Backnd", names.into_iter()),
            vec!["\"Backend\"", "\"Back\"", "\"Frontend\""]
        );
    }
}
