//! Turns the names of a desired-state file into resource keys of the live resource
//! tree, and merges roles into each user's and token's grants. An unknown name is an
//! error that suggests the nearest existing names; a name that matches two resources is
//! an error listing both. Pure: it sees the tree only as data.

use std::collections::{BTreeMap, HashMap};

use crate::config::{Diagnostic, Grants, LoadedFile, UnmanagedPolicy, ID_PREFIX};
use crate::model::{Identity, Level, Resource, ResourceKey, ResourceType};

/// The explicit rows one listed access should hold: one level per resource, sorted by
/// resource. A sorted list rather than a map: ten thousand people with twenty rows each
/// are compared against the account in one merge pass. A wanted row is always on a
/// type the tool manages, so it is stored in 16 bytes rather than a key's 32: the rows
/// are resolved while the account listing arrives, and are held beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowSet(Vec<WantedRow>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WantedRow {
    /// [`ResourceType::managed_code`]: codes sort as the types do.
    kind: u8,
    id: u64,
    level: Level,
}

impl WantedRow {
    fn key(&self) -> ResourceKey {
        ResourceKey::new(ResourceType::from_managed_code(self.kind), self.id)
    }

    fn cmp_key(&self, kind: u8, id: u64) -> std::cmp::Ordering {
        (self.kind, self.id).cmp(&(kind, id))
    }
}

impl RowSet {
    pub fn new() -> RowSet {
        RowSet::default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Rows in resource order.
    pub fn iter(&self) -> impl Iterator<Item = (ResourceKey, Level)> + '_ {
        self.0.iter().map(|row| (row.key(), row.level))
    }

    /// Want `level` on `key`; on a resource already granted, the higher level wins (roles
    /// and direct grants overlap).
    ///
    /// # Panics
    /// On a type the tool does not manage: resolving a file never yields one.
    pub fn grant(&mut self, key: ResourceKey, level: Level) {
        let kind = key
            .kind
            .managed_code()
            .expect("a wanted row is on a managed type");
        match self.0.binary_search_by(|held| held.cmp_key(kind, key.id)) {
            Ok(at) => self.0[at].level = self.0[at].level.max(level),
            Err(at) => self.0.insert(
                at,
                WantedRow {
                    kind,
                    id: key.id,
                    level,
                },
            ),
        }
    }

    fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }
}

/// Grants each row in turn: the higher level wins on a repeated resource.
impl FromIterator<(ResourceKey, Level)> for RowSet {
    fn from_iter<I: IntoIterator<Item = (ResourceKey, Level)>>(rows: I) -> RowSet {
        let mut set = RowSet::new();
        for (key, level) in rows {
            set.grant(key, level);
        }
        set
    }
}

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
    let index = ResourceIndex::new(resources);

    let mut roles: BTreeMap<&str, RowSet> = BTreeMap::new();
    for (name, grants) in &file.roles {
        let mut rows = RowSet::new();
        resolve_grants(
            loaded,
            &index,
            &["roles", name],
            grants,
            &mut rows,
            &mut problems,
        );
        roles.insert(name, rows);
    }

    let mut principals = Vec::with_capacity(file.users.len() + file.api_tokens.len());
    let sections = [("users", &file.users), ("api_tokens", &file.api_tokens)];
    for (section, entries) in sections {
        for (who, grants) in entries {
            // Undefined roles were reported by validation before resolution.
            let mut granted = grants
                .roles
                .iter()
                .filter_map(|role| roles.get(role.as_str()));
            // Most people hold a role or two: start from a copy of the first one's rows,
            // which is much cheaper than merging them in one by one.
            let mut rows = granted.next().cloned().unwrap_or_default();
            for role_rows in granted {
                for (key, level) in role_rows.iter() {
                    rows.grant(key.clone(), level);
                }
            }
            resolve_grants(
                loaded,
                &index,
                &[section, who],
                grants,
                &mut rows,
                &mut problems,
            );
            // A grant added to a copied role doubled the list's capacity; ten thousand
            // people would carry that slack through the whole plan.
            rows.shrink_to_fit();
            let identity = if section == "users" {
                Identity::Person(who.to_lowercase())
            } else {
                Identity::Token(who.clone())
            };
            principals.push((
                identity,
                DesiredPrincipal {
                    label: who.clone(),
                    rows,
                },
            ));
        }
    }

    if problems.is_empty() {
        Ok(Desired {
            unmanaged: file.unmanaged,
            // Built from a sorted run in one pass rather than by inserting one by one.
            principals: principals.into_iter().collect(),
        })
    } else {
        problems.sort_by_key(|problem| problem.position);
        Err(problems)
    }
}

/// The resource tree indexed for lookups by type and by name: a big file names
/// resources tens of thousands of times.
struct ResourceIndex<'a> {
    by_kind: HashMap<&'a ResourceType, Vec<&'a Resource>>,
    by_name: HashMap<&'a ResourceType, HashMap<&'a str, Vec<&'a Resource>>>,
}

impl<'a> ResourceIndex<'a> {
    fn new(resources: &'a [Resource]) -> Self {
        let mut index = ResourceIndex {
            by_kind: HashMap::new(),
            by_name: HashMap::new(),
        };
        // In tree order, so that messages listing several resources keep that order.
        for resource in resources {
            index
                .by_kind
                .entry(&resource.key.kind)
                .or_default()
                .push(resource);
            index
                .by_name
                .entry(&resource.key.kind)
                .or_default()
                .entry(resource.path.as_str())
                .or_default()
                .push(resource);
        }
        index
    }

    fn of_kind(&self, kind: &ResourceType) -> &[&'a Resource] {
        self.by_kind.get(kind).map_or(&[], Vec::as_slice)
    }

    fn named(&self, kind: &ResourceType, name: &str) -> &[&'a Resource] {
        self.by_name
            .get(kind)
            .and_then(|names| names.get(name))
            .map_or(&[], Vec::as_slice)
    }
}

/// Merge the grants written directly under `at` into `rows`, reporting names that do
/// not resolve.
fn resolve_grants(
    loaded: &LoadedFile,
    index: &ResourceIndex,
    at: &[&str],
    grants: &Grants,
    rows: &mut RowSet,
    problems: &mut Vec<Diagnostic>,
) {
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
        match find_singleton(index, &kind) {
            Ok(key) => rows.grant(key, level),
            Err(message) => problems.push(loaded.diagnostic(&child_path(at, &[field]), message)),
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
            match find_named(index, &kind, name) {
                Ok(key) => rows.grant(key, *level),
                Err(message) => {
                    problems.push(loaded.diagnostic(&child_path(at, &[field, name]), message))
                }
            }
        }
    }
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

fn find_singleton(index: &ResourceIndex, kind: &ResourceType) -> Result<ResourceKey, String> {
    match index.of_kind(kind) {
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
    index: &ResourceIndex,
    kind: &ResourceType,
    name: &str,
) -> Result<ResourceKey, String> {
    if let Some(id) = name.strip_prefix(ID_PREFIX) {
        let id: u64 = id
            .trim()
            .parse()
            .map_err(|_| format!("{name:?} is not a resource id: write id:NNN with a number"))?;
        return index
            .of_kind(kind)
            .iter()
            .find(|r| r.key.id == id)
            .map(|r| r.key.clone())
            .ok_or_else(|| format!("no {} with id {id} in the account", noun(kind)));
    }
    match index.named(kind, name) {
        [one] => Ok(one.key.clone()),
        [] => {
            let nearest = nearest_names(name, index.of_kind(kind).iter().map(|r| r.path.as_str()));
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
    fn wanted_rows_take_16_bytes() {
        assert_eq!(std::mem::size_of::<WantedRow>(), 16);
    }

    #[test]
    fn a_row_set_is_sorted_and_the_higher_level_wins() {
        let inbox = |id| ResourceKey::new(ResourceType::Inbox, id);
        let rows: RowSet = [
            (inbox(3), Level::Admin),
            (inbox(1), Level::Viewer),
            (inbox(3), Level::Viewer),
            (inbox(2), Level::Viewer),
            (inbox(1), Level::Admin),
        ]
        .into_iter()
        .collect();
        let listed: Vec<(ResourceKey, Level)> = rows.iter().collect();
        assert_eq!(
            listed,
            vec![
                (inbox(1), Level::Admin),
                (inbox(2), Level::Viewer),
                (inbox(3), Level::Admin)
            ]
        );
    }

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
