//! `report`: the access review. Every user, invite and API token of the live account,
//! and any access of a specifier kind the tool does not know; for each, every resource
//! of the tree where it has access, its effective level and why (an explicit row, or
//! inherited from the account or the project); then a summary for the reviewer. Its
//! header names the account, the moment and a digest of the live state it was built
//! from, so that a stored report is evidence of what was reviewed. Pure: it is given
//! the live state, the file when there is one, and the moment.

use serde::Serialize;

use crate::config::LoadedFile;
use crate::model::{LevelCode, LiveState, ResourceType};
use crate::policy::{self, Expiry, Subject, SubjectKind, Violation};

/// How far ahead the summary looks for tokens about to expire.
const EXPIRING_WITHIN_DAYS: i64 = 30;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub account_id: u64,
    /// The name of the tree's account node, when it has one.
    pub account_name: Option<String>,
    /// The moment it describes (UTC).
    pub generated_at: jiff::Timestamp,
    /// SHA-256 of the live state it was built from (`saved_plan::live_digest`).
    pub live_state_sha256: String,
    pub subjects: Vec<Reviewed>,
    pub summary: Summary,
}

/// One user, invite or token.
#[derive(Debug, Clone, Serialize)]
pub struct Reviewed {
    pub name: String,
    /// `owner`, `user`, `invite` or `api_token`; `other` for an access of a specifier
    /// kind the tool does not know (its name then ends with that kind in parentheses).
    pub kind: &'static str,
    /// Users only: whether two-factor authentication is on (`null` when not listed).
    pub two_factor: Option<bool>,
    /// Tokens only: when it expires (`never`), else absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub access: Vec<Held>,
}

/// A resource where the subject has access.
#[derive(Debug, Clone, Serialize)]
pub struct Held {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub id: u64,
    pub level: LevelCode,
    /// `explicit row`, `inherited from the account` or `inherited from project "P"`.
    pub why: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Users, and accesses of kinds the tool does not know, holding the account at admin
    /// (`max_account_admins` counts users and invites).
    pub account_admins: Vec<String>,
    pub admins_without_2fa: Vec<String>,
    pub pending_invites: Vec<String>,
    pub tokens_never_expiring: Vec<String>,
    pub tokens_expiring_soon: Vec<String>,
    /// With a file: who is in the account but not in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_in_file: Option<Vec<String>>,
    /// With a file that has policies: what breaks them now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_violations: Option<Vec<Violation>>,
}

/// The review of `live` at `now`, with the file's view when given.
pub fn report(
    account_id: u64,
    live: &LiveState,
    loaded: Option<&LoadedFile>,
    now: jiff::Timestamp,
) -> Report {
    let subjects = policy::subjects_of_live(live);
    let mut summary = Summary::default();
    let mut reviewed = Vec::new();
    for subject in &subjects {
        let kind = match subject.kind {
            SubjectKind::Owner => "owner",
            SubjectKind::User => "user",
            SubjectKind::Invite => "invite",
            SubjectKind::Token => "api_token",
            SubjectKind::Unknown => "other",
        };
        let access = held(subject, live);
        let admin_anywhere = access.iter().any(|held| held.level.0 >= 100);
        let account_admin = access
            .iter()
            .any(|held| held.kind == ResourceType::Account.api_name() && held.level.0 >= 100);
        match subject.kind {
            SubjectKind::User | SubjectKind::Unknown if account_admin => {
                summary.account_admins.push(subject.label.clone())
            }
            SubjectKind::Invite => summary.pending_invites.push(subject.label.clone()),
            _ => {}
        }
        if matches!(subject.kind, SubjectKind::User | SubjectKind::Owner)
            && admin_anywhere
            && subject.two_factor != Some(true)
        {
            summary.admins_without_2fa.push(subject.label.clone());
        }
        let expires_at = match subject.expires {
            Some(Expiry::Never) => {
                summary.tokens_never_expiring.push(subject.label.clone());
                Some("never".to_string())
            }
            Some(Expiry::At(at)) => {
                if at.duration_since(now).as_hours() <= 24 * EXPIRING_WITHIN_DAYS {
                    summary.tokens_expiring_soon.push(subject.label.clone());
                }
                Some(at.to_string())
            }
            // The review is of the live account, where every token has its expiry.
            Some(Expiry::ServiceDefault) | None => None,
        };
        reviewed.push(Reviewed {
            name: subject.label.clone(),
            kind,
            two_factor: subject
                .kind
                .is_user()
                .then_some(subject.two_factor)
                .flatten(),
            expires_at,
            access,
        });
    }
    if let Some(loaded) = loaded {
        let file = &loaded.file;
        let listed = |subject: &Subject| match subject.kind {
            SubjectKind::Token => file.api_tokens.contains_key(&subject.label),
            _ => file
                .users
                .keys()
                .any(|email| email.eq_ignore_ascii_case(&subject.label)),
        };
        // An access of a kind the tool does not know cannot be written in the file.
        summary.not_in_file = Some(
            (subjects.iter())
                .filter(|subject| subject.kind != SubjectKind::Unknown && !listed(subject))
                .map(|subject| subject.label.clone())
                .collect(),
        );
        if !file.policies.is_empty() {
            summary.policy_violations = Some(policy::judge(&file.policies, &subjects, now, true));
        }
    }
    let account_name = (live.resources.iter())
        .find(|r| r.key.kind == ResourceType::Account && r.key.id == account_id)
        .map(|r| r.name.clone());
    Report {
        account_id,
        account_name,
        generated_at: now,
        live_state_sha256: crate::saved_plan::live_digest(live),
        subjects: reviewed,
        summary,
    }
}

/// Every resource of the tree where `subject` has access, with why; rows on resources
/// the tree does not show are listed as explicit rows by id.
fn held(subject: &Subject, live: &LiveState) -> Vec<Held> {
    let mut held = Vec::new();
    for resource in &live.resources {
        let kind = &resource.key.kind;
        if !kind.is_managed() {
            continue; // Shown below as explicit rows, if the subject holds one.
        }
        // The one function policies judge by: explicit rows and inheritance.
        let on = policy::on_of(kind, &resource.path);
        let Some(level) = policy::effective(subject, &on).filter(|level| level.0 > 1) else {
            continue;
        };
        let explicit = (subject.levels.get(&(kind.clone(), resource.path.clone()))).copied();
        let why = if explicit == Some(level) {
            "explicit row".to_string()
        } else {
            format!(
                "inherited from {}",
                policy::inherited_from(subject, kind, &resource.path)
            )
        };
        held.push(Held {
            kind: kind.api_name().to_string(),
            name: resource.path.clone(),
            id: resource.key.id,
            level,
            why,
        });
    }
    for ((kind, name), level) in &subject.levels {
        let in_tree = !name.starts_with("id:");
        let id = (live.resources.iter())
            .find(|r| &r.key.kind == kind && &r.path == name)
            .map(|r| r.key.id)
            .or_else(|| name.strip_prefix("id:").and_then(|id| id.parse().ok()));
        let Some(id) = id.filter(|_| !kind.is_managed() || !in_tree) else {
            continue;
        };
        held.push(Held {
            kind: kind.api_name().to_string(),
            name: name.clone(),
            id,
            level: *level,
            why: if in_tree {
                "explicit row".to_string()
            } else {
                "explicit row (not in the resource tree)".to_string()
            },
        });
    }
    held
}
