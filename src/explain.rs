//! `explain`: for one person or API token, every resource where it has or will have
//! access, and why. For each: the level the file wants and each grant it comes from
//! (a role, or a direct grant, at its line: the higher wins), the level the account
//! holds now, the effective level once inheritance is counted, and what the plan does
//! to it. Pure: it is given the loaded file and, unless offline, the live account and
//! the plan made from them.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::config::{Grants, LoadedFile};
use crate::model::{Level, LevelCode, LiveState, ResourceKey, ResourceType, MANAGED};
use crate::plan::{Change, Plan, RowOp, TokenChange};
use crate::{policy, resolve};

/// Everything `explain` says about one subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// As the file writes it, else as the account lists it.
    pub subject: String,
    /// `person` or `api_token`.
    pub kind: &'static str,
    /// Whether the file lists it.
    pub in_file: bool,
    /// `true` when planned against the live account; `false` with `--offline`.
    pub live: bool,
    pub resources: Vec<ResourceExplained>,
    /// What applies to the whole subject: not in the account, left alone, expired.
    pub notes: Vec<String>,
}

/// One resource of the subject's access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceExplained {
    /// The resource type's API name (the old vocabulary), and its name: as the tree
    /// names it, or as the file does offline.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    /// `None` offline, or for a name the account does not have.
    pub id: Option<u64>,
    /// The level the file wants: the highest of `sources`.
    pub desired: Option<Level>,
    pub sources: Vec<Source>,
    /// The explicit level the account holds now.
    pub live: Option<LevelCode>,
    /// The level it will have once the plan is applied, inheritance counted (an
    /// account level reaches every resource; a project level reaches its inboxes).
    pub effective: Option<LevelCode>,
    /// Where the effective level comes from when it is not the explicit row.
    pub inherited_from: Option<String>,
    /// What the plan does to this row.
    pub plan: RowPlan,
}

/// What the plan does to one row of the subject; written as a phrase (`create at
/// admin`, `removed with the whole access`) in both formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowPlan {
    /// The plan does not touch the row.
    Nothing,
    /// Explained with `--offline`: no plan was made.
    UnknownOffline,
    Create(Level),
    Update(Level, Level),
    Destroy,
    RemovedWithTheAccess,
    InTheNewToken,
    InTheReplacementToken,
    NotInTheReplacementToken,
    DeletedWithTheToken,
    KeptByTheReset,
}

impl RowPlan {
    /// Whether the row is gone once the plan is applied.
    fn ends_the_row(self) -> bool {
        matches!(
            self,
            RowPlan::Destroy
                | RowPlan::RemovedWithTheAccess
                | RowPlan::DeletedWithTheToken
                | RowPlan::NotInTheReplacementToken
        )
    }
}

impl Serialize for RowPlan {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for RowPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowPlan::Nothing => f.write_str("none"),
            RowPlan::UnknownOffline => f.write_str("unknown offline"),
            RowPlan::Create(to) => write!(f, "create at {to}"),
            RowPlan::Update(from, to) => write!(f, "update {from} → {to}"),
            RowPlan::Destroy => f.write_str("destroy"),
            RowPlan::RemovedWithTheAccess => f.write_str("removed with the whole access"),
            RowPlan::InTheNewToken => f.write_str("in the new token"),
            RowPlan::InTheReplacementToken => f.write_str("in the replacement token"),
            RowPlan::NotInTheReplacementToken => f.write_str("not in the replacement token"),
            RowPlan::DeletedWithTheToken => f.write_str("deleted with the token"),
            RowPlan::KeptByTheReset => f.write_str("kept (the token is reset)"),
        }
    }
}

/// One grant of the file that asks for a level on the resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// `role backend-dev`, or `direct grant`.
    pub via: String,
    pub level: Level,
    pub line: Option<usize>,
}

/// Who is explained: a person (email, any case) or a token (name).
enum Subject<'a> {
    Person(&'a str),
    Token(&'a str),
}

/// Explain `name` from `loaded` as of `now`, against `live` and `plan` when given
/// (both, or neither for `--offline`). An error names what it is not, with the nearest
/// names.
pub fn explain(
    name: &str,
    loaded: &LoadedFile,
    online: Option<(&LiveState, &Plan)>,
    now: jiff::Timestamp,
) -> Result<Explanation, String> {
    let file = &loaded.file;
    let live = online.map(|(live, _)| live);
    let person = (file.users.keys()).find(|email| email.eq_ignore_ascii_case(name));
    let token = file.api_tokens.keys().find(|token| *token == name);
    let in_account_as_person = live.is_some_and(|live| {
        (live.accesses.iter()).any(|a| a.kind.is_person() && a.label().eq_ignore_ascii_case(name))
    });
    let in_account_as_token =
        live.is_some_and(|live| live.tokens.iter().flatten().any(|t| t.name == name));
    let subject = match (person, token) {
        (Some(email), _) => Subject::Person(email),
        (None, Some(token)) => Subject::Token(token),
        _ if in_account_as_person => Subject::Person(name),
        _ if in_account_as_token => Subject::Token(name),
        _ => {
            let where_ = if live.is_some() {
                "the file or the account"
            } else {
                "the file (with --offline, only the file is read)"
            };
            return Err(format!(
                "{name:?} is neither a person nor an API token in {where_}{}",
                resolve::nearest_hint(name, &known_names(loaded, live))
            ));
        }
    };
    let (section, label, kind) = match subject {
        Subject::Person(email) => ("users", email, "person"),
        Subject::Token(token) => ("api_tokens", token, "api_token"),
    };
    let grants = match section {
        "users" => file.users.get(label),
        _ => file.api_tokens.get(label),
    };
    let mut rows: BTreeMap<(ResourceType, String), ResourceExplained> = BTreeMap::new();
    let mut notes = Vec::new();
    let ended = (grants.and_then(|grants| grants.expires))
        .filter(|ends| ends.instant().is_some_and(|at| at <= now));
    if let Some(ends) = ended {
        notes.push(format!(
            "its access expired on {ends} (`expires`): it wants nothing from then on"
        ));
    }
    if let Some(grants) = grants.filter(|_| ended.is_none()) {
        for (via, at, source_grants) in sources(loaded, section, label, grants) {
            for info in &MANAGED {
                for (key, granted_name, level) in source_grants.of_type(&info.kind) {
                    let mut path: Vec<&str> = at.clone();
                    path.push(key);
                    path.extend(granted_name);
                    let line = loaded.source().locate(&path).map(|at| at.line);
                    let found =
                        live.map(|live| resolve::key_of(&info.kind, granted_name, &live.resources));
                    let (name, id) = match (&found, granted_name) {
                        (Some(Ok(key)), _) => (display_name(live, key), Some(key.id)),
                        (_, Some(written)) => (written.to_string(), None),
                        (_, None) => (info.noun.to_string(), None),
                    };
                    if let Some(Err(problem)) = &found {
                        notes.push(problem.clone());
                    }
                    let entry = rows
                        .entry((info.kind.clone(), name.clone()))
                        .or_insert_with(|| blank(&info.kind, name, id));
                    entry.desired = entry.desired.max(Some(level));
                    entry.sources.push(Source {
                        via: via.clone(),
                        level,
                        line,
                    });
                }
            }
        }
        if let Some(expires) = grants.expires {
            notes.push(format!(
                "its access ends on {expires} (`expires`); from then on its grants are none"
            ));
        }
    } else if grants.is_none() {
        notes.push("not in the file: the plan leaves it alone unless `unmanaged: remove` (or `unmanaged_tokens: remove`) says to remove it".to_string());
    }

    if let Some((live, plan)) = online {
        let held = live_rows(live, &subject);
        if held.is_none() {
            notes.push(match subject {
                Subject::Person(_) => {
                    "not in the account: the API cannot create users; invite them in Mailtrap first"
                        .to_string()
                }
                Subject::Token(_) => "not in the account: plan creates the token".to_string(),
            });
        }
        for (key, level) in held.iter().flatten() {
            let name = display_name(Some(live), key);
            let entry = rows
                .entry((key.kind.clone(), name.clone()))
                .or_insert_with(|| blank(&key.kind, name, Some(key.id)));
            entry.live = Some(*level);
        }
        for entry in rows.values_mut() {
            entry.plan = planned(plan, &subject, entry);
        }
        notes.extend(left_alone(plan, &subject));
    } else {
        for entry in rows.values_mut() {
            entry.plan = RowPlan::UnknownOffline;
        }
    }
    inherit(&mut rows, online.is_some());
    Ok(Explanation {
        subject: label.to_string(),
        kind,
        in_file: grants.is_some(),
        live: online.is_some(),
        resources: rows.into_values().collect(),
        notes,
    })
}

/// Every name `explain` could be given.
fn known_names(loaded: &LoadedFile, live: Option<&LiveState>) -> Vec<String> {
    let file = &loaded.file;
    let mut names: Vec<String> = (file.users.keys().cloned())
        .chain(file.api_tokens.keys().cloned())
        .collect();
    if let Some(live) = live {
        names.extend(
            live.accesses
                .iter()
                .filter(|a| a.kind.is_person())
                .map(|a| a.label()),
        );
        names.extend(live.tokens.iter().flatten().map(|t| t.name.clone()));
    }
    names
}

/// The grants that make up an entry: each role it lists, then its direct grants, each
/// with what it is called and the path of its node in the file.
fn sources<'a>(
    loaded: &'a LoadedFile,
    section: &'a str,
    label: &'a str,
    grants: &'a Grants,
) -> Vec<(String, Vec<&'a str>, &'a Grants)> {
    let mut found: Vec<(String, Vec<&str>, &Grants)> = (grants.roles.iter())
        .filter_map(|role| {
            let role_grants = loaded.file.roles.get(role)?;
            Some((
                format!("role {role}"),
                vec!["roles", role.as_str()],
                role_grants,
            ))
        })
        .collect();
    found.push(("direct grant".to_string(), vec![section, label], grants));
    found
}

fn blank(kind: &ResourceType, name: String, id: Option<u64>) -> ResourceExplained {
    ResourceExplained {
        kind: kind.api_name().to_string(),
        name,
        id,
        desired: None,
        sources: Vec::new(),
        live: None,
        effective: None,
        inherited_from: None,
        plan: RowPlan::Nothing,
    }
}

/// The name the tree gives `key`, else its type and id.
fn display_name(live: Option<&LiveState>, key: &ResourceKey) -> String {
    (live.and_then(|live| live.resource(key))).map_or_else(
        || format!("id {}", key.id),
        |resource| resource.path.clone(),
    )
}

/// The rows the subject holds in the account now, or `None` when it is not there.
fn live_rows(live: &LiveState, subject: &Subject) -> Option<Vec<(ResourceKey, LevelCode)>> {
    match subject {
        Subject::Person(email) => {
            let accesses: Vec<_> = (live.accesses.iter())
                .filter(|a| a.kind.is_person() && a.label().eq_ignore_ascii_case(email))
                .collect();
            (!accesses.is_empty()).then(|| {
                (accesses.iter())
                    .flat_map(|a| a.rows.iter().map(|r| (r.resource.clone(), r.level)))
                    .collect()
            })
        }
        Subject::Token(name) => {
            let token = live.tokens.iter().flatten().find(|t| &t.name == name)?;
            Some(
                (token.rows.iter())
                    .map(|r| (r.resource.clone(), r.level))
                    .collect(),
            )
        }
    }
}

/// What the plan does to this row of the subject.
fn planned(plan: &Plan, subject: &Subject, entry: &ResourceExplained) -> RowPlan {
    let same = |key: &ResourceKey| Some(key.id) == entry.id && key.kind.api_name() == entry.kind;
    match subject {
        Subject::Person(email) => {
            let change = (plan.changes.iter())
                .find(|(access, _)| access.label.eq_ignore_ascii_case(email))
                .map(|(_, change)| change);
            match change {
                Some(Change::Remove { .. }) => RowPlan::RemovedWithTheAccess,
                Some(Change::Permissions { operations }) => (operations.iter())
                    .find(|op| same(&op.resource().key))
                    .map_or(RowPlan::Nothing, of_op),
                None => RowPlan::Nothing,
            }
        }
        Subject::Token(name) => match plan.tokens.get(*name) {
            Some(TokenChange::CreateToken { .. }) => RowPlan::InTheNewToken,
            Some(TokenChange::ReplaceToken { to, .. }) => {
                if to.resources.iter().any(|row| same(&row.resource.key)) {
                    RowPlan::InTheReplacementToken
                } else {
                    RowPlan::NotInTheReplacementToken
                }
            }
            Some(TokenChange::DeleteToken { .. }) => RowPlan::DeletedWithTheToken,
            Some(TokenChange::ResetToken { .. }) => RowPlan::KeptByTheReset,
            Some(TokenChange::UpdateTokenPermissions { operations, .. }) => (operations.iter())
                .find(|op| same(&op.resource().key))
                .map_or(RowPlan::Nothing, of_op),
            None => RowPlan::Nothing,
        },
    }
}

fn of_op(op: &RowOp) -> RowPlan {
    match *op {
        RowOp::Create { to, .. } => RowPlan::Create(to),
        RowOp::Update { from, to, .. } => RowPlan::Update(from, to),
        RowOp::Destroy { .. } => RowPlan::Destroy,
    }
}

/// Why the plan leaves the subject alone, if it does.
fn left_alone(plan: &Plan, subject: &Subject) -> Vec<String> {
    match subject {
        Subject::Person(email) => (plan.left_alone.iter())
            .filter(|item| item.access.label.eq_ignore_ascii_case(email))
            .map(|item| format!("left alone: {}", item.reason))
            .collect(),
        Subject::Token(name) => (plan.tokens_left_alone.iter())
            .filter(|item| &item.name == name)
            .map(|item| format!("left alone: {item}"))
            .collect(),
    }
}

/// Fill in each row's effective level: its own level once the plan is applied (the
/// file's where the plan changes it, else what the account holds), or a higher one
/// inherited from the account row or, for an inbox, from its project's row.
fn inherit(rows: &mut BTreeMap<(ResourceType, String), ResourceExplained>, online: bool) {
    let own = |entry: &ResourceExplained| -> Option<LevelCode> {
        match entry.plan {
            plan if plan.ends_the_row() => None,
            _ if entry.desired.is_some() && (entry.plan != RowPlan::Nothing || !online) => {
                entry.desired.map(LevelCode::from)
            }
            _ if online => entry.live,
            _ => entry.desired.map(LevelCode::from),
        }
    };
    // The subject as the plan leaves it, judged by the function policies judge by.
    let after = policy::Subject {
        label: String::new(),
        kind: policy::SubjectKind::User,
        two_factor: None,
        levels: (rows.iter())
            .filter_map(|(key, entry)| Some((key.clone(), own(entry)?)))
            .collect(),
        expires: None,
        path: None,
    };
    for ((kind, name), entry) in rows.iter_mut() {
        let effective =
            policy::effective(&after, &policy::on_of(kind, name)).filter(|level| level.0 > 1);
        entry.inherited_from = (effective.is_some() && effective != own(entry))
            .then(|| policy::inherited_from(&after, kind, name));
        entry.effective = effective;
    }
}
