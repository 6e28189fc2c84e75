//! Policies judged on an account: who holds what, effectively, against the rules of
//! the file's `policies:` section. The same judge runs on the file alone (`validate`),
//! on the account as a plan leaves it (`plan`, `apply`) and on the live account
//! (`check`). Pure: it is given the subjects and the moment.
//!
//! Effective access counts Mailtrap's inheritance: an account level reaches every
//! project, inbox and sending domain, and (an assumption, since the real inheritance is
//! unknown) billing and the campaigns scope too; a project level reaches its inboxes; a
//! row of a type the tool does not know (`organization`) is taken to reach the account.
//! Where it is unknown, the higher level is assumed to reach down, so a deny rule never
//! misses a real path. The owner's level (1000) counts as admin everywhere.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::config::policies::{NamedKind, On, Policies, Scope};
use crate::config::{Grants, LoadedFile};
use crate::model::{
    Level, LevelCode, LiveState, ResourceType, SpecifierKind, WantedExpiry, MANAGED,
};

/// When a token stops working, as far as the judge can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Never,
    At(jiff::Timestamp),
    /// A token the plan creates without an `expires_at`: the service picks its expiry.
    ServiceDefault,
}

/// Someone or something holding access, as the judge sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// An email, or a token's name.
    pub label: String,
    pub kind: SubjectKind,
    /// A user's two-factor authentication; `None` when unknown.
    pub two_factor: Option<bool>,
    /// Explicit levels by resource: its type and the name the file uses for it
    /// (`Project/Inbox` for inboxes; `id:NNN` for one the tree does not show).
    pub levels: BTreeMap<(ResourceType, String), LevelCode>,
    /// A token's expiry; `None` when unknown (not a token, or a file entry that does
    /// not say, judged offline).
    pub expires: Option<Expiry>,
    /// Where it is in the file, for `validate`'s messages.
    pub path: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    Owner,
    User,
    Invite,
    Token,
    /// An access of a specifier kind the tool does not know: the plan leaves it alone,
    /// the access review lists it, and no rule names it (no rule can say who it is).
    Unknown,
}

impl SubjectKind {
    pub fn is_person(self) -> bool {
        matches!(
            self,
            SubjectKind::Owner | SubjectKind::User | SubjectKind::Invite
        )
    }

    /// A user of the account (the owner is one), not an invite nor a token.
    pub fn is_user(self) -> bool {
        matches!(self, SubjectKind::User | SubjectKind::Owner)
    }
}

/// A rule that does not hold for a subject.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Violation {
    /// `require_2fa`, `max_account_admins`, `allowed_email_domains`,
    /// `token_max_lifetime`, `deny[N]` or `expect[N]`.
    pub rule: String,
    /// An email, a token's name, or `account`.
    pub subject: String,
    pub message: String,
    /// Which condition of the rule, where one rule judges several for one subject (an
    /// expectation's grants, a token's expiry): a violation of another condition is
    /// another violation.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    /// A violation the account does not have now (in a plan: one apply would add).
    #[serde(default)]
    pub new: bool,
}

/// The subjects of a live account: its users and invites (the owner marked) and, when
/// they were read, its tokens.
pub fn subjects_of_live(live: &LiveState) -> Vec<Subject> {
    let name = |key: &crate::model::ResourceKey| {
        live.resource(key)
            .map_or_else(|| format!("id:{}", key.id), |r| r.path.clone())
    };
    let levels = |rows: &[crate::model::Row]| -> BTreeMap<(ResourceType, String), LevelCode> {
        let mut levels = BTreeMap::new();
        for row in rows {
            let entry = levels
                .entry((row.resource.kind.clone(), name(&row.resource)))
                .or_insert(row.level);
            *entry = (*entry).max(row.level);
        }
        levels
    };
    // An `ApiToken` access is a token of the tokens list, judged from there.
    let people = (live.accesses.iter())
        .filter(|access| access.kind != SpecifierKind::ApiToken)
        .map(|access| Subject {
            label: match &access.kind {
                SpecifierKind::Other(kind) => format!("{} ({kind})", access.label()),
                _ => access.label(),
            },
            kind: match access.kind {
                SpecifierKind::User | SpecifierKind::Invite if access.is_owner() => {
                    SubjectKind::Owner
                }
                SpecifierKind::User => SubjectKind::User,
                SpecifierKind::Invite => SubjectKind::Invite,
                _ => SubjectKind::Unknown,
            },
            two_factor: access.two_factor,
            levels: levels(&access.rows),
            expires: None,
            path: None,
        });
    let tokens = live.tokens.iter().flatten().map(|token| Subject {
        label: token.name.clone(),
        kind: SubjectKind::Token,
        two_factor: None,
        levels: levels(&token.rows),
        expires: Some(token.expires_at.map_or(Expiry::Never, Expiry::At)),
        path: None,
    });
    people.chain(tokens).collect()
}

/// The subjects the file alone describes, as of `now` (an entry whose `expires` has
/// passed holds nothing): its users and tokens with their grants and roles merged, by
/// the names the file writes.
pub fn subjects_of_file(loaded: &LoadedFile, now: jiff::Timestamp) -> Vec<Subject> {
    let file = &loaded.file;
    let sections = [
        ("users", &file.users, SubjectKind::User),
        ("api_tokens", &file.api_tokens, SubjectKind::Token),
    ];
    let mut subjects = Vec::new();
    for (section, entries, kind) in sections {
        for (label, grants) in entries {
            let ended =
                (grants.expires.and_then(|ends| ends.instant())).is_some_and(|at| at <= now);
            let mut levels: BTreeMap<(ResourceType, String), LevelCode> = BTreeMap::new();
            if !ended {
                let roles = (grants.roles.iter()).filter_map(|role| file.roles.get(role));
                for source in roles.chain([grants]) {
                    for (kind, name, level) in granted(source) {
                        let level = LevelCode::from(level);
                        let entry = levels.entry((kind, name)).or_insert(level);
                        *entry = (*entry).max(level);
                    }
                }
            }
            let expires = match (kind, grants.expires_at) {
                (SubjectKind::Token, Some(WantedExpiry::Never)) => Some(Expiry::Never),
                (SubjectKind::Token, Some(expiry)) => expiry.instant().map(Expiry::At),
                _ => None,
            };
            subjects.push(Subject {
                label: label.clone(),
                kind,
                two_factor: None,
                levels,
                expires,
                path: Some(vec![section.to_string(), label.clone()]),
            });
        }
    }
    subjects
}

/// Every grant of `grants`, by type and the name written (the type's noun for the
/// types granted by one level).
fn granted(grants: &Grants) -> Vec<(ResourceType, String, Level)> {
    (MANAGED.iter())
        .flat_map(|info| {
            (grants.of_type(&info.kind).into_iter()).map(|(_, name, level)| {
                let name = name.map_or_else(|| info.noun.to_string(), str::to_string);
                (info.kind.clone(), name, level)
            })
        })
        .collect()
}

/// The subject's effective level on `on`: its explicit level there, or a higher one
/// inherited from the account or, for an inbox, from its project.
pub fn effective(subject: &Subject, on: &On) -> Option<LevelCode> {
    let of_kind = |kind: ResourceType| {
        (subject.levels.iter())
            .filter(move |((k, _), _)| *k == kind)
            .map(|(_, level)| *level)
    };
    // Domains are names in any case; other names as written.
    let named = |kind: ResourceType, name: &str| {
        (subject.levels.iter())
            .filter(|((k, n), _)| {
                *k == kind
                    && (n == name
                        || (kind == ResourceType::SendingDomain && n.eq_ignore_ascii_case(name)))
            })
            .map(|(_, level)| *level)
            .max()
    };
    // A row of a type the tool does not know may reach as far as the account.
    let unknown = (subject.levels.iter())
        .filter(|((kind, _), _)| !kind.is_managed())
        .map(|(_, level)| *level);
    let account = of_kind(ResourceType::Account).chain(unknown).max();
    let own = match on {
        On::Scope(Scope::Account) => None,
        On::Scope(Scope::Billing) => of_kind(ResourceType::Billing).max(),
        On::Scope(Scope::EmailCampaigns) => of_kind(ResourceType::EmailCampaigns).max(),
        On::Scope(Scope::Any) => subject.levels.values().copied().max(),
        On::Named(named_on) => (named_on.iter())
            .filter_map(|(kind, name)| match kind {
                NamedKind::Project => named(ResourceType::Project, name),
                NamedKind::Inbox | NamedKind::Sandbox => {
                    let project = (projects_of_inbox(name))
                        .filter_map(|project| named(ResourceType::Project, project))
                        .max();
                    named(ResourceType::Inbox, name).max(project)
                }
                NamedKind::SendingDomain | NamedKind::Domain => {
                    named(ResourceType::SendingDomain, name)
                }
            })
            .max(),
    };
    own.max(account)
}

/// The projects an inbox named `Project/Inbox` may be in: every part of the name before
/// a `/`. Project and inbox names may hold a `/` themselves, so `Team/Backend/Staging`
/// is `Staging` of `Team/Backend` or `Backend/Staging` of `Team`; a level on either
/// project is counted, since access must not be judged lower than it may be.
fn projects_of_inbox(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices('/').map(|(at, _)| &name[..at])
}

/// Whether `held` is `level` or more (the owner's 1000 counts as admin; viewer+ as
/// viewer; an indeterminate 1 as nothing).
fn reaches(held: Option<LevelCode>, level: Level) -> bool {
    held.is_some_and(|held| held.0 >= level.code())
}

/// Every violation of `policies` by `subjects` at `now`. `live` says whether the
/// subjects are a live account: `require_2fa` needs it, and only then is someone an
/// expectation names and nobody holds a violation (the file alone cannot tell).
pub fn judge(
    policies: &Policies,
    subjects: &[Subject],
    now: jiff::Timestamp,
    live: bool,
) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut violation = |rule: &str, subject: &str, message: String, condition: &str| {
        found.push(Violation {
            rule: rule.to_string(),
            subject: subject.to_string(),
            message,
            condition: condition.to_string(),
            new: false,
        })
    };
    if let Some(level) = policies.require_2fa.filter(|_| live) {
        for subject in subjects.iter().filter(|s| s.kind.is_user()) {
            let held = subject.levels.values().copied().max();
            if reaches(held, level) && subject.two_factor != Some(true) {
                let state = match subject.two_factor {
                    Some(false) => "off",
                    _ => "not known to be on",
                };
                let message = format!(
                    "{} holds {level} or more, and two-factor authentication is {state}",
                    subject.label
                );
                violation("require_2fa", &subject.label, message, "");
            }
        }
    }
    if let Some(maximum) = policies.max_account_admins {
        // Invites count: accepted, they are admins. Each admin is a subject, so that a
        // plan adding one adds a violation.
        let admins: Vec<&str> = (subjects.iter())
            .filter(|s| matches!(s.kind, SubjectKind::User | SubjectKind::Invite))
            .filter(|s| reaches(effective(s, &On::Scope(Scope::Account)), Level::Admin))
            .map(|s| s.label.as_str())
            .collect();
        if admins.len() > maximum as usize {
            for admin in &admins {
                let message = format!(
                    "{admin} is one of {} account admins besides the owner ({}), more than {maximum}",
                    admins.len(),
                    admins.join(", ")
                );
                violation("max_account_admins", admin, message, "");
            }
        }
    }
    if !policies.allowed_email_domains.is_empty() {
        let allowed: Vec<String> = (policies.allowed_email_domains.iter())
            .map(|domain| domain.trim().trim_start_matches('@').to_lowercase())
            .collect();
        for subject in subjects.iter().filter(|s| s.kind.is_person()) {
            let domain = (subject.label.rsplit_once('@')).map(|(_, domain)| domain.to_lowercase());
            if !domain.is_some_and(|domain| allowed.contains(&domain)) {
                let message = format!(
                    "{} is not in an allowed domain ({})",
                    subject.label,
                    allowed.join(", ")
                );
                violation("allowed_email_domains", &subject.label, message, "");
            }
        }
    }
    if let Some(lifetime) = policies.token_max_lifetime {
        let latest = now
            .checked_add(lifetime.duration())
            .unwrap_or(jiff::Timestamp::MAX);
        for subject in subjects.iter().filter(|s| s.kind == SubjectKind::Token) {
            let problem = match subject.expires {
                Some(Expiry::Never) => Some(("never", "never expires".to_string())),
                Some(Expiry::ServiceDefault) => Some((
                    "unstated",
                    "is created without an `expires_at`, so the service picks when it expires: write one".to_string(),
                )),
                Some(Expiry::At(at)) if at > latest => Some((
                    "too late",
                    format!(
                        "expires on {}, later than {} days from now",
                        crate::model::utc_date(at),
                        lifetime.0
                    ),
                )),
                _ => None,
            };
            if let Some((condition, problem)) = problem {
                let message = format!("API token {:?} {problem}", subject.label);
                violation("token_max_lifetime", &subject.label, message, condition);
            }
        }
    }
    for (index, rule) in policies.deny.iter().enumerate() {
        let glob = crate::config::ignore_pattern(&rule.who);
        let who = rule.who.trim().to_lowercase();
        let matches = |subject: &Subject| match who.as_str() {
            "tokens" => subject.kind == SubjectKind::Token,
            "invites" => subject.kind == SubjectKind::Invite,
            "users" => subject.kind.is_user(),
            _ => subject.kind.is_person() && glob.matches(&subject.label),
        };
        for subject in subjects.iter().filter(|s| matches(s)) {
            let held = effective(subject, &rule.on);
            if reaches(held, rule.level) {
                let message = format!(
                    "{} holds {} on {}, and `{}` may not hold {} or more there",
                    subject.label,
                    held.map_or("nothing".to_string(), |l| l.to_string()),
                    describe(&rule.on),
                    rule.who,
                    rule.level
                );
                violation(&format!("deny[{index}]"), &subject.label, message, "");
            }
        }
    }
    for (index, expectation) in policies.expect.iter().enumerate() {
        let rule = format!("expect[{index}]");
        let (label, kind) = match (&expectation.user, &expectation.token) {
            (Some(user), _) => (user.as_str(), "user"),
            (None, Some(token)) => (token.as_str(), "token"),
            (None, None) => continue, // refused by validation
        };
        let subject = (subjects.iter()).find(|s| {
            if kind == "user" {
                s.kind.is_person() && s.label.to_lowercase() == label.to_lowercase()
            } else {
                s.kind == SubjectKind::Token && s.label == label
            }
        });
        let Some(subject) = subject else {
            // The file alone cannot tell who outside it is in the account.
            if live {
                let message = format!("expected {kind} {label:?} is not there");
                violation(&rule, label, message, "");
            }
            continue;
        };
        for (want, grants) in [(true, &expectation.can), (false, &expectation.cannot)] {
            for (kind, name, level) in granted(grants) {
                let on = on_of(&kind, &name);
                let held = effective(subject, &on);
                if reaches(held, level) != want {
                    let verb = if want { "hold" } else { "not hold" };
                    let message = format!(
                        "{label} should {verb} {level} or more on {}, and holds {}",
                        describe(&on),
                        held.map_or("nothing".to_string(), |l| l.to_string())
                    );
                    let condition = format!("{verb} {level} on {}", describe(&on));
                    violation(&rule, label, message, &condition);
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The resources the rules name that the live account does not have: a rule about a
/// misspelt project would hold for everyone, unnoticed. Each with the nearest names.
pub fn unknown_names(policies: &Policies, live: &LiveState) -> Vec<String> {
    let mut named: Vec<(String, ResourceType, String)> = Vec::new();
    for (index, rule) in policies.deny.iter().enumerate() {
        if let On::Named(resources) = &rule.on {
            for (kind, name) in resources {
                let kind = match kind {
                    NamedKind::Project => ResourceType::Project,
                    NamedKind::Inbox | NamedKind::Sandbox => ResourceType::Inbox,
                    NamedKind::SendingDomain | NamedKind::Domain => ResourceType::SendingDomain,
                };
                named.push((format!("deny[{index}]"), kind, name.clone()));
            }
        }
    }
    for (index, expectation) in policies.expect.iter().enumerate() {
        for grants in [&expectation.can, &expectation.cannot] {
            for (kind, name, _) in granted(grants) {
                if kind
                    .info()
                    .is_some_and(|info| info.shape == crate::model::Shape::Named)
                {
                    named.push((format!("expect[{index}]"), kind, name));
                }
            }
        }
    }
    let mut problems = Vec::new();
    for (rule, kind, name) in named {
        let of_kind: Vec<String> = (live.resources.iter())
            .filter(|r| r.key.kind == kind)
            .map(|r| r.path.clone())
            .collect();
        let found = of_kind.iter().any(|path| {
            path == &name
                || (kind == ResourceType::SendingDomain && path.eq_ignore_ascii_case(&name))
        });
        if !found {
            problems.push(format!(
                "policy {rule} names {} {name:?}, which the account does not have{}",
                kind.noun(),
                crate::resolve::nearest_hint(&name, &of_kind)
            ));
        }
    }
    problems
}

/// Where the effective level on a resource comes from when it is not its explicit
/// row: `the account` (or a row of a type the tool does not know), or `project "P"`.
pub fn inherited_from(subject: &Subject, kind: &ResourceType, name: &str) -> String {
    let project = (*kind == ResourceType::Inbox)
        .then(|| {
            (projects_of_inbox(name))
                .filter_map(|project| {
                    let level = subject
                        .levels
                        .get(&(ResourceType::Project, project.to_string()))?;
                    Some((project, *level))
                })
                .max_by_key(|(_, level)| *level)
        })
        .flatten();
    let account = effective(subject, &On::Scope(Scope::Account));
    match project {
        Some((project, level)) if account.is_none_or(|account| level > account) => {
            format!("project {project:?}")
        }
        _ => "the account".to_string(),
    }
}

/// What a grant of `kind` on `name` is about, as a rule would say it.
pub fn on_of(kind: &ResourceType, name: &str) -> On {
    let named = |kind| On::Named([(kind, name.to_string())].into());
    match kind {
        ResourceType::Account => On::Scope(Scope::Account),
        ResourceType::Billing => On::Scope(Scope::Billing),
        ResourceType::EmailCampaigns => On::Scope(Scope::EmailCampaigns),
        ResourceType::Project => named(NamedKind::Project),
        ResourceType::Inbox => named(NamedKind::Inbox),
        ResourceType::SendingDomain => named(NamedKind::SendingDomain),
        ResourceType::Other(_) => On::Scope(Scope::Any),
    }
}

fn describe(on: &On) -> String {
    match on {
        On::Scope(Scope::Account) => "the account".to_string(),
        On::Scope(Scope::Billing) => "billing".to_string(),
        On::Scope(Scope::EmailCampaigns) => "the email campaigns scope".to_string(),
        On::Scope(Scope::Any) => "any resource".to_string(),
        On::Named(named) => {
            let parts: Vec<String> = (named.iter())
                .map(|(kind, name)| format!("{} {name:?}", kind_noun(*kind)))
                .collect();
            parts.join(", ")
        }
    }
}

fn kind_noun(kind: NamedKind) -> &'static str {
    match kind {
        NamedKind::Project => "project",
        NamedKind::Inbox | NamedKind::Sandbox => "inbox",
        NamedKind::SendingDomain | NamedKind::Domain => "sending domain",
    }
}

/// The name of every rule `policies` holds, as violations name them.
pub fn rule_names(policies: &Policies) -> Vec<String> {
    let mut names = Vec::new();
    if policies.require_2fa.is_some() {
        names.push("require_2fa".to_string());
    }
    if policies.max_account_admins.is_some() {
        names.push("max_account_admins".to_string());
    }
    if !policies.allowed_email_domains.is_empty() {
        names.push("allowed_email_domains".to_string());
    }
    if policies.token_max_lifetime.is_some() {
        names.push("token_max_lifetime".to_string());
    }
    names.extend((0..policies.deny.len()).map(|index| format!("deny[{index}]")));
    names.extend((0..policies.expect.len()).map(|index| format!("expect[{index}]")));
    names
}

/// `judge` on the account after and before a plan: the violations after, each marked
/// `new` when the account does not have it now. `service_expiry` names the tokens the
/// plan creates without an `expires_at`, whose expiry the service will pick.
pub fn judge_plan(
    policies: &Policies,
    before: &LiveState,
    after: &LiveState,
    service_expiry: &BTreeSet<&str>,
    now: jiff::Timestamp,
) -> Vec<Violation> {
    let now_violations = judge(policies, &subjects_of_live(before), now, true);
    let mut after_subjects = subjects_of_live(after);
    for token in (after_subjects.iter_mut())
        .filter(|s| s.kind == SubjectKind::Token && service_expiry.contains(s.label.as_str()))
    {
        token.expires = Some(Expiry::ServiceDefault);
    }
    let mut after = judge(policies, &after_subjects, now, true);
    for violation in &mut after {
        violation.new = !(now_violations.iter()).any(|old| {
            old.rule == violation.rule
                && old.subject.to_lowercase() == violation.subject.to_lowercase()
                && old.condition == violation.condition
        });
    }
    after
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::policies::{DenyRule, Expectation};

    fn subject(label: &str, kind: SubjectKind, levels: &[(ResourceType, &str, u32)]) -> Subject {
        Subject {
            label: label.into(),
            kind,
            two_factor: Some(false),
            levels: (levels.iter())
                .map(|(kind, name, level)| ((kind.clone(), name.to_string()), LevelCode(*level)))
                .collect(),
            expires: None,
            path: None,
        }
    }

    fn named(kind: NamedKind, name: &str) -> On {
        On::Named([(kind, name.to_string())].into())
    }

    #[test]
    fn an_account_level_reaches_everything_and_a_project_level_its_inboxes() {
        let admin = subject(
            "a@x.io",
            SubjectKind::User,
            &[(ResourceType::Account, "A", 100)],
        );
        for on in [
            On::Scope(Scope::Billing),
            On::Scope(Scope::EmailCampaigns),
            named(NamedKind::Project, "Backend"),
            named(NamedKind::Inbox, "Backend/Staging"),
            named(NamedKind::SendingDomain, "acme.com"),
            On::Scope(Scope::Any),
        ] {
            assert_eq!(effective(&admin, &on), Some(LevelCode(100)), "{on:?}");
        }
        let project = subject(
            "p@x.io",
            SubjectKind::User,
            &[
                (ResourceType::Project, "Backend", 100),
                (ResourceType::Inbox, "Backend/Staging", 10),
            ],
        );
        assert_eq!(
            effective(&project, &named(NamedKind::Inbox, "Backend/Staging")),
            Some(LevelCode(100))
        );
        assert_eq!(
            effective(&project, &named(NamedKind::Sandbox, "Backend/Other")),
            Some(LevelCode(100))
        );
        assert_eq!(
            effective(&project, &named(NamedKind::Inbox, "Frontend/Staging")),
            None
        );
        assert_eq!(effective(&project, &On::Scope(Scope::Billing)), None);
        // Names holding a `/`: the level of the project the inbox may be in is counted.
        let slashed = subject(
            "s@x.io",
            SubjectKind::User,
            &[(ResourceType::Project, "Team/Backend", 100)],
        );
        assert_eq!(
            effective(&slashed, &named(NamedKind::Inbox, "Team/Backend/Staging")),
            Some(LevelCode(100))
        );
        assert_eq!(
            inherited_from(&slashed, &ResourceType::Inbox, "Team/Backend/Staging"),
            "project \"Team/Backend\""
        );
        assert_eq!(
            effective(&slashed, &named(NamedKind::Inbox, "Team/Frontend/Staging")),
            None
        );
        // The owner's 1000 is admin and more; viewer+ (50) is viewer, indeterminate (1) nothing.
        assert!(reaches(Some(LevelCode(1000)), Level::Admin));
        assert!(
            reaches(Some(LevelCode(50)), Level::Viewer)
                && !reaches(Some(LevelCode(50)), Level::Admin)
        );
        assert!(!reaches(Some(LevelCode(1)), Level::Viewer));
    }

    #[test]
    fn each_rule_names_what_breaks_it() {
        let now: jiff::Timestamp = "2026-12-02T00:00:00Z".parse().unwrap();
        let mut token = subject(
            "CI",
            SubjectKind::Token,
            &[(ResourceType::Account, "A", 10)],
        );
        token.expires = Some(Expiry::Never);
        let mut secure = subject(
            "ok@acme.com",
            SubjectKind::User,
            &[(ResourceType::Account, "A", 100)],
        );
        secure.two_factor = Some(true);
        let subjects = [
            subject(
                "c@contractors.acme.com",
                SubjectKind::User,
                &[(ResourceType::Account, "A", 100)],
            ),
            subject(
                "v@acme.com",
                SubjectKind::Invite,
                &[(ResourceType::Project, "Backend", 10)],
            ),
            secure,
            token,
        ];
        let policies = Policies {
            require_2fa: Some(Level::Admin),
            max_account_admins: Some(1),
            allowed_email_domains: vec!["acme.com".into()],
            token_max_lifetime: Some(crate::config::Days(365)),
            deny: vec![
                DenyRule {
                    who: "*@CONTRACTORS.acme.com".into(),
                    level: Level::Admin,
                    on: On::Scope(Scope::Account),
                },
                DenyRule {
                    who: "tokens".into(),
                    level: Level::Viewer,
                    on: On::Scope(Scope::Billing),
                },
            ],
            expect: vec![Expectation {
                user: Some("v@acme.com".into()),
                token: None,
                can: Grants {
                    projects: [("Backend".to_string(), Level::Admin)].into(),
                    ..Grants::default()
                },
                cannot: Grants::default(),
            }],
        };
        let found: Vec<(String, String)> = (judge(&policies, &subjects, now, true).into_iter())
            .map(|v| (v.rule, v.subject))
            .collect();
        let pair = |rule: &str, subject: &str| (rule.to_string(), subject.to_string());
        assert_eq!(
            found,
            [
                pair("allowed_email_domains", "c@contractors.acme.com"),
                pair("deny[0]", "c@contractors.acme.com"),
                pair("deny[1]", "CI"),
                pair("expect[0]", "v@acme.com"),
                pair("max_account_admins", "c@contractors.acme.com"),
                pair("max_account_admins", "ok@acme.com"),
                pair("require_2fa", "c@contractors.acme.com"),
                pair("token_max_lifetime", "CI"),
            ]
        );
        // Offline, two-factor is unknown and not judged.
        assert!(judge(&policies, &subjects, now, false)
            .iter()
            .all(|v| v.rule != "require_2fa"));
    }

    #[test]
    fn a_row_of_an_unknown_type_reaches_the_account_and_keywords_take_any_case() {
        let now: jiff::Timestamp = "2026-12-02T00:00:00Z".parse().unwrap();
        let org = subject(
            "z@contractors.acme.com",
            SubjectKind::User,
            &[(ResourceType::from_api("organization"), "id:70412", 100)],
        );
        assert_eq!(
            effective(&org, &On::Scope(Scope::Billing)),
            Some(LevelCode(100))
        );
        let mut token = subject(
            "CI",
            SubjectKind::Token,
            &[(ResourceType::Account, "A", 10)],
        );
        token.expires = Some(Expiry::At(now));
        let policies = Policies {
            deny: vec![
                DenyRule {
                    who: "*@contractors.acme.com".into(),
                    level: Level::Admin,
                    on: On::Scope(Scope::Account),
                },
                DenyRule {
                    who: "Tokens".into(),
                    level: Level::Viewer,
                    on: On::Scope(Scope::Billing),
                },
                DenyRule {
                    who: "*".into(),
                    level: Level::Viewer,
                    on: named(NamedKind::Domain, "ACME.com"),
                },
            ],
            ..Policies::default()
        };
        let found: Vec<(String, String)> = (judge(&policies, &[org, token], now, true).into_iter())
            .map(|v| (v.rule, v.subject))
            .collect();
        assert_eq!(
            found,
            [
                ("deny[0]".to_string(), "z@contractors.acme.com".to_string()),
                ("deny[1]".to_string(), "CI".to_string()),
                ("deny[2]".to_string(), "z@contractors.acme.com".to_string()),
            ]
        );
    }
}
