//! Turns the names of a desired-state file into resource keys of the live resource
//! tree, and merges roles into each user's and token's grants. An unknown name is an
//! error that suggests the nearest existing names; a name that matches two resources is
//! an error listing both, and so is a token name that two tokens of the account hold.
//! Pure: it sees the live account only as data.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Diagnostic, Grants, LoadedFile, UnmanagedPolicy, ID_PREFIX};
use crate::model::{
    Identity, Level, LiveState, Resource, ResourceKey, ResourceType, Shape, TypeInfo, WantedExpiry,
    MANAGED,
};

/// The explicit rows one listed access should hold: one level per resource.
pub type Rows = BTreeMap<ResourceKey, Level>;

/// The desired state with every name resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub unmanaged: UnmanagedPolicy,
    /// Users and invites.
    pub principals: BTreeMap<Identity, DesiredPrincipal>,
    /// `None` when the file manages no tokens (no `api_tokens`, and
    /// `unmanaged_tokens: ignore`) and none is to be reset.
    pub tokens: Option<DesiredTokens>,
    /// The `ignore` patterns, as written.
    pub ignore: Vec<String>,
    /// How long before an entry's `expires` the plan warns.
    pub expiry_warning: jiff::SignedDuration,
}

/// The API tokens of the file, and the ones to rotate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DesiredTokens {
    pub unmanaged: UnmanagedPolicy,
    pub entries: BTreeMap<String, DesiredToken>,
    /// `--reset-token` names.
    pub resets: BTreeSet<String>,
}

/// One token of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredToken {
    pub rows: Rows,
    /// `None`: whatever it is now (the service's default for a new token).
    pub expires_at: Option<WantedExpiry>,
    /// The tool's side: from then on the token is deleted.
    pub expires: Option<WantedExpiry>,
}

/// One user or token of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredPrincipal {
    /// The key as written in the file.
    pub label: String,
    pub rows: Rows,
    /// From then on its grants are none.
    pub expires: Option<WantedExpiry>,
}

/// Want `level` on `key`; on a resource already granted, the higher level wins (roles
/// and direct grants overlap).
pub fn grant(rows: &mut Rows, key: ResourceKey, level: Level) {
    let held = rows.entry(key).or_insert(level);
    *held = (*held).max(level);
}

/// Resolve every name in `loaded` against the live account's tree, and the token names
/// against its tokens; `resets` are the tokens `--reset-token` names.
pub fn resolve(
    loaded: &LoadedFile,
    live: &LiveState,
    resets: &BTreeSet<String>,
) -> Result<Desired, Vec<Diagnostic>> {
    let resources = &live.resources;
    let mut problems = Vec::new();
    let file = &loaded.file;
    let by_type: ByType = (MANAGED.iter())
        .map(|info| {
            let of_kind = resources.iter().filter(|r| r.key.kind == info.kind);
            (info, OfType::new(of_kind.collect()))
        })
        .collect();

    let mut roles: BTreeMap<&str, Rows> = BTreeMap::new();
    for (name, grants) in &file.roles {
        let mut rows = Rows::new();
        resolve_grants(
            loaded,
            &by_type,
            &["roles", name],
            grants,
            &mut rows,
            &mut problems,
        );
        roles.insert(name, rows);
    }

    let mut principals = BTreeMap::new();
    let mut tokens = BTreeMap::new();
    let sections = [("users", &file.users), ("api_tokens", &file.api_tokens)];
    for (section, entries) in sections {
        for (who, grants) in entries {
            let mut rows = Rows::new();
            // Undefined roles were reported by validation before resolution.
            for role in grants
                .roles
                .iter()
                .filter_map(|role| roles.get(role.as_str()))
            {
                for (key, level) in role {
                    grant(&mut rows, key.clone(), *level);
                }
            }
            resolve_grants(
                loaded,
                &by_type,
                &[section, who],
                grants,
                &mut rows,
                &mut problems,
            );
            if section == "users" {
                let label = who.clone();
                principals.insert(
                    Identity::Person(who.to_lowercase()),
                    DesiredPrincipal {
                        label,
                        rows,
                        expires: grants.expires,
                    },
                );
            } else {
                if rows.is_empty() {
                    problems.push(loaded.diagnostic(
                        &[section, who],
                        format!("API token {who:?} grants nothing: the API refuses a token without permissions; give it a grant or a role"),
                    ));
                }
                let expires_at = grants.expires_at;
                let expires = grants.expires;
                tokens.insert(
                    who.clone(),
                    DesiredToken {
                        rows,
                        expires_at,
                        expires,
                    },
                );
            }
        }
    }
    let live_tokens = live.tokens.as_deref().unwrap_or_default();
    for name in file.api_tokens.keys() {
        let ids: Vec<u64> = (live_tokens.iter())
            .filter(|token| &token.name == name)
            .map(|token| token.id)
            .collect();
        if let [_, _, ..] = ids[..] {
            let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
            problems.push(loaded.diagnostic(
                &["api_tokens", name],
                format!(
                    "API token {name:?} is ambiguous: the account has {} tokens of that name (ids {}); rename or delete all but one in Mailtrap (if an apply stopped in the middle of replacing it, its output named the old token to delete)",
                    ids.len(),
                    ids.join(", ")
                ),
            ));
        }
    }

    if problems.is_empty() {
        let manages_tokens = !file.api_tokens.is_empty()
            || file.unmanaged_tokens == UnmanagedPolicy::Remove
            || !resets.is_empty();
        Ok(Desired {
            unmanaged: file.unmanaged,
            principals,
            tokens: manages_tokens.then(|| DesiredTokens {
                unmanaged: file.unmanaged_tokens,
                entries: tokens,
                resets: resets.clone(),
            }),
            ignore: file.ignore.clone(),
            expiry_warning: (file.expiry_warning)
                .unwrap_or(crate::config::Days::DEFAULT_EXPIRY_WARNING)
                .duration(),
        })
    } else {
        problems.sort_by_key(|problem| problem.position);
        Err(problems)
    }
}

/// The key of the resource of `kind` that a grant names (`name` is `None` for a type
/// granted by a single level), as resolution finds it.
pub fn key_of(
    kind: &ResourceType,
    name: Option<&str>,
    resources: &[Resource],
) -> Result<ResourceKey, String> {
    let Some(info) = kind.info() else {
        return Err(format!("{kind} is not a type this tool manages"));
    };
    let of_kind = OfType::new(resources.iter().filter(|r| &r.key.kind == kind).collect());
    match (info.shape, name) {
        (Shape::Named, Some(name)) => find_named(&of_kind, info, name),
        _ => find_singleton(&of_kind.all, kind),
    }
}

/// `; did you mean "A", "B"?` for the names of `known` nearest `wanted`, or nothing.
pub fn nearest_hint(wanted: &str, known: &[String]) -> String {
    let nearest = nearest_names(wanted, known.iter().map(String::as_str));
    if nearest.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", nearest.join(", "))
    }
}

/// Each `--target` names someone or a token in the file or the account; else an error
/// suggesting the nearest names.
pub fn check_targets(
    loaded: &LoadedFile,
    live: &LiveState,
    targets: &[String],
) -> Result<(), String> {
    let file = &loaded.file;
    let people: Vec<String> = (file.users.keys().map(|email| email.to_lowercase()))
        .chain(live.accesses.iter().filter_map(|access| {
            let label = access.label();
            access.kind.is_person().then(|| label.to_lowercase())
        }))
        .collect();
    let tokens: Vec<String> = (file.api_tokens.keys().cloned())
        .chain(live.tokens.iter().flatten().map(|token| token.name.clone()))
        .collect();
    // Emails in any case, token names exactly, as the plan is then restricted.
    for target in targets {
        if people.contains(&target.to_lowercase()) || tokens.contains(target) {
            continue;
        }
        let known: Vec<String> = people.iter().chain(&tokens).cloned().collect();
        return Err(format!(
            "--target {target:?} is neither a person nor an API token in the file or the account{}",
            nearest_hint(target, &known)
        ));
    }
    Ok(())
}

/// A reset the plan would not make: of a token an `ignore` pattern matches, or of one
/// outside the `--target`s.
pub fn check_scope(
    loaded: &LoadedFile,
    resets: &BTreeSet<String>,
    targets: &[String],
) -> Result<(), String> {
    for name in resets {
        let ignored = (loaded.file.ignore.iter())
            .find(|pattern| crate::config::ignore_pattern(pattern).matches(name));
        if let Some(pattern) = ignored {
            return Err(format!(
                "--reset-token {name:?}: it matches the ignore pattern {pattern:?}, so it is never changed"
            ));
        }
        if !targets.is_empty() && !targets.contains(name) {
            return Err(format!(
                "--reset-token {name:?} is not one of the --target names: add --target {name:?}, or reset it in another run"
            ));
        }
    }
    Ok(())
}

/// `--reset-token` names a token of the account that the tool may rotate: exactly one
/// token holds the name, it is not the one this tool runs with, it holds only rows the
/// tool manages, and it has not expired (the API resets no expired token) as of `now`.
pub fn check_resets(
    live: &LiveState,
    resets: &BTreeSet<String>,
    now: jiff::Timestamp,
) -> Result<(), String> {
    let tokens = live.tokens.as_deref().unwrap_or_default();
    for name in resets {
        let held: Vec<&crate::model::Token> =
            tokens.iter().filter(|token| &token.name == name).collect();
        match held[..] {
            [] => {
                let nearest = nearest_names(name, tokens.iter().map(|t| t.name.as_str()));
                let hint = if nearest.is_empty() {
                    String::new()
                } else {
                    format!("; did you mean {}?", nearest.join(", "))
                };
                return Err(format!(
                    "--reset-token {name:?}: the account has no API token of that name{hint}"
                ));
            }
            [token] if token.in_use => {
                return Err(format!(
                    "--reset-token {name:?}: token {} may be the token this tool runs with, which is never reset from here; reset it in Mailtrap",
                    token.id
                ))
            }
            [token]
                if token.holds_unmanaged_rows()
                    || token.rows.iter().any(|row| live.resource(&row.resource).is_none()) =>
            {
                return Err(format!(
                    "--reset-token {name:?}: token {} holds rows this tool does not manage, so it leaves the token alone; reset it in Mailtrap",
                    token.id
                ))
            }
            [token] if token.expires_at.is_some_and(|at| at <= now) => {
                return Err(format!(
                    "--reset-token {name:?}: token {} has expired, and the API resets no expired token; give the file an entry for a new one instead",
                    token.id
                ))
            }
            [_] => {}
            _ => {
                let ids: Vec<String> = held.iter().map(|token| token.id.to_string()).collect();
                return Err(format!(
                    "--reset-token {name:?}: {} tokens of the account have that name (ids {}); rename all but one in Mailtrap",
                    held.len(),
                    ids.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// The tree's resources of one type, in tree order and by the name a file gives them:
/// a file of 10,000 people names a resource 200,000 times.
struct OfType<'a> {
    all: Vec<&'a Resource>,
    by_path: BTreeMap<&'a str, Vec<&'a Resource>>,
}

impl<'a> OfType<'a> {
    fn new(all: Vec<&'a Resource>) -> OfType<'a> {
        let mut by_path: BTreeMap<&str, Vec<&Resource>> = BTreeMap::new();
        for resource in &all {
            by_path
                .entry(resource.path.as_str())
                .or_default()
                .push(resource);
        }
        OfType { all, by_path }
    }
}

/// The tree's resources of each managed type.
type ByType<'a> = Vec<(&'static TypeInfo, OfType<'a>)>;

/// Merge the grants written directly under `at` into `rows`, reporting names that do
/// not resolve, and two names of one grant that are the same resource (`Backend` beside
/// the `id:NNN` of Backend): one of them would silently win.
fn resolve_grants(
    loaded: &LoadedFile,
    by_type: &ByType,
    at: &[&str],
    grants: &Grants,
    rows: &mut Rows,
    problems: &mut Vec<Diagnostic>,
) {
    // The node of a grant, built only to locate a problem.
    fn node<'a>(at: &[&'a str], file_key: &'a str, name: Option<&'a str>) -> Vec<&'a str> {
        (at.iter().copied()).chain([file_key]).chain(name).collect()
    }
    let path_of = |file_key, name| node(at, file_key, name);
    for (info, of_kind) in by_type {
        let mut named_here: BTreeMap<ResourceKey, (&str, Option<&str>)> = BTreeMap::new();
        for (file_key, name, level) in grants.of_type(&info.kind) {
            let found = match (info.shape, name) {
                (Shape::Named, Some(name)) => find_named(of_kind, info, name),
                _ => find_singleton(&of_kind.all, &info.kind),
            };
            match found {
                Ok(key) => {
                    if let Some(&(first_key, first_name)) = named_here.get(&key) {
                        let first_at = loaded.source().locate(&path_of(first_key, first_name));
                        let line =
                            first_at.map_or(String::new(), |at| format!(" on line {}", at.line));
                        let (first_name, this) =
                            (first_name.unwrap_or(first_key), name.unwrap_or(""));
                        problems.push(loaded.diagnostic(
                            &path_of(file_key, name),
                            format!(
                                "{this:?} and {first_name:?}{line} are the same {} (id {}): grant it once",
                                info.noun, key.id
                            ),
                        ));
                    } else {
                        named_here.insert(key.clone(), (file_key, name));
                    }
                    grant(rows, key, level)
                }
                Err(message) => problems.push(loaded.diagnostic(&path_of(file_key, name), message)),
            }
        }
    }
}

fn find_singleton(of_kind: &[&Resource], kind: &ResourceType) -> Result<ResourceKey, String> {
    match of_kind {
        [one] => Ok(one.key.clone()),
        [] => Err(format!(
            "the account has no {} resource that this token administers",
            kind.noun()
        )),
        many => Err(format!(
            "the resource tree holds {} {} resources ({}); this tool expects one",
            many.len(),
            kind.noun(),
            describe(many)
        )),
    }
}

fn find_named(of_kind: &OfType, info: &TypeInfo, name: &str) -> Result<ResourceKey, String> {
    let noun = info.noun;
    if let Some(id) = name.strip_prefix(ID_PREFIX) {
        let id: u64 = id
            .trim()
            .parse()
            .map_err(|_| format!("{name:?} is not a resource id: write id:NNN with a number"))?;
        return (of_kind.all.iter())
            .find(|r| r.key.id == id)
            .map(|r| r.key.clone())
            .ok_or_else(|| format!("no {noun} with id {id} in the account"));
    }
    match of_kind.by_path.get(name).map_or(&[][..], Vec::as_slice) {
        [one] => Ok(one.key.clone()),
        [] => {
            let nearest = nearest_names(name, of_kind.by_path.keys().copied());
            let hint = if nearest.is_empty() && of_kind.all.is_empty() {
                format!("the account has no {}", info.plural)
            } else if nearest.is_empty() {
                format!("no {noun} has a name close to it")
            } else {
                format!("did you mean {}?", nearest.join(", "))
            };
            Err(format!("unknown {noun} {name:?}; {hint}"))
        }
        many => Err(format!(
            "{noun} {name:?} is ambiguous: it matches {}; pin one with id:NNN",
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

/// Up to three existing names close to `wanted`, quoted, nearest first, compared
/// case-insensitively by their shared letter pairs (Sørensen–Dice), which ranks a typo
/// and a swapped `Project/Inbox` alike as close; names sharing less than half their
/// pairs are not suggested at all.
fn nearest_names<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let wanted = wanted.to_lowercase();
    let mut scored: Vec<(f64, &str)> = names
        .map(|name| (strsim::sorensen_dice(&wanted, &name.to_lowercase()), name))
        .filter(|(similarity, _)| *similarity >= 0.5)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(3)
        .map(|(_, name)| format!("{name:?}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Vocabulary;

    #[test]
    fn the_higher_level_wins() {
        let inbox = |id| ResourceKey::new(ResourceType::Inbox, id);
        let mut rows = Rows::new();
        for (id, level) in [
            (3, Level::Admin),
            (1, Level::Viewer),
            (3, Level::Viewer),
            (1, Level::Admin),
        ] {
            grant(&mut rows, inbox(id), level);
        }
        assert_eq!(
            rows,
            Rows::from([(inbox(1), Level::Admin), (inbox(3), Level::Admin)])
        );
    }

    #[test]
    fn nearest_names_ranks_case_first_and_skips_the_far_ones() {
        let names = ["A", "A/B", "yes", "Backend", "Frontend", "Back"];
        assert_eq!(
            nearest_names("backend", names.into_iter()),
            ["\"Backend\"", "\"Back\""]
        );
        assert!(nearest_names("Backnd", names.into_iter()).contains(&"\"Backend\"".to_string()));
        assert!(nearest_names("Marketing", names.into_iter()).is_empty());
        let inboxes = ["Backend/Staging", "Frontend/Staging", "Backend/Production"];
        assert_eq!(
            nearest_names("Staging/Backend", inboxes.into_iter())[0],
            "\"Backend/Staging\""
        );
    }

    #[test]
    fn a_resource_named_twice_in_one_grant_is_an_error_naming_both_lines() {
        let live = LiveState {
            resources: vec![Resource {
                key: ResourceKey::new(ResourceType::Project, 201),
                name: "Backend".into(),
                path: "Backend".into(),
            }],
            ..LiveState::default()
        };
        let text = "version: 1\nusers:\n  bob@acme.com:\n    projects:\n      Backend: admin\n      id:201: viewer\n";
        let loaded = crate::config::parse("f.yaml", text).unwrap();
        let problems: Vec<String> = resolve(&loaded, &live, &Default::default())
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            problems,
            ["f.yaml:6:7: \"id:201\" and \"Backend\" on line 5 are the same project (id 201): grant it once"]
        );
        // In two grants (a role and a direct grant) the same resource is no mistake.
        let text = "version: 1\nroles:\n  dev: {projects: {Backend: viewer}}\nusers:\n  bob@acme.com: {roles: [dev], projects: {id:201: admin}}\n";
        let loaded = crate::config::parse("f.yaml", text).unwrap();
        assert!(resolve(&loaded, &live, &Default::default()).is_ok());
    }

    #[test]
    fn only_a_token_the_tool_may_touch_is_reset() {
        use crate::model::{LevelCode, Row, Token};
        let now: jiff::Timestamp = "2026-12-02T00:00:00Z".parse().unwrap();
        let project = ResourceKey::new(ResourceType::Project, 201);
        let token = |id, name: &str| Token {
            id,
            name: name.into(),
            expires_at: None,
            rows: vec![Row {
                resource: project.clone(),
                level: LevelCode(10),
            }],
            in_use: false,
        };
        let mut in_use = token(2, "in use");
        in_use.in_use = true;
        let mut expired = token(3, "expired");
        expired.expires_at = Some("2026-11-01T00:00:00Z".parse().unwrap());
        let mut unmanaged = token(4, "viewer plus");
        unmanaged.rows[0].level = LevelCode(50);
        let live = LiveState {
            resources: vec![Resource {
                key: project.clone(),
                name: "Backend".into(),
                path: "Backend".into(),
            }],
            tokens: Some(vec![
                token(1, "deploy"),
                in_use,
                expired,
                unmanaged,
                token(5, "twice"),
                token(6, "twice"),
            ]),
            ..LiveState::default()
        };
        let reset = |name: &str| check_resets(&live, &BTreeSet::from([name.to_string()]), now);
        assert_eq!(reset("deploy"), Ok(()));
        for (name, phrase) in [
            ("in use", "may be the token this tool runs with"),
            ("expired", "has expired"),
            ("viewer plus", "holds rows this tool does not manage"),
            ("twice", "2 tokens of the account have that name (ids 5, 6)"),
            (
                "deplyo",
                "no API token of that name; did you mean \"deploy\"?",
            ),
        ] {
            let err = reset(name).unwrap_err();
            assert!(err.contains(phrase), "{name}: {err}");
        }
    }

    #[test]
    fn a_name_in_a_type_the_account_lacks_says_so_in_the_plural() {
        let inbox = ResourceType::Inbox.info().unwrap();
        let err = find_named(&OfType::new(Vec::new()), inbox, "Backend/Staging").unwrap_err();
        assert_eq!(
            err,
            "unknown inbox \"Backend/Staging\"; the account has no inboxes"
        );
    }

    #[test]
    fn grants_of_every_managed_type_are_read_and_written_back_in_either_vocabulary() {
        for vocabulary in [Vocabulary::Old, Vocabulary::New] {
            let mut grants = Grants::default();
            for info in &MANAGED {
                grants.set(
                    &info.kind,
                    format!("{} name", info.noun),
                    Level::Admin,
                    vocabulary,
                );
            }
            for info in &MANAGED {
                let key = match vocabulary {
                    Vocabulary::Old => info.file_key,
                    Vocabulary::New => info.new_file_key,
                };
                let name = match info.shape {
                    Shape::Singleton => None,
                    Shape::Named => Some(format!("{} name", info.noun)),
                };
                let read: Vec<(&str, Option<String>, Level)> = (grants.of_type(&info.kind))
                    .into_iter()
                    .map(|(key, name, level)| (key, name.map(str::to_string), level))
                    .collect();
                assert_eq!(read, [(key, name, Level::Admin)], "{}", info.api_name);
            }
        }
    }
}
