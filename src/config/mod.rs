//! The desired-state file: its Rust types (from which the JSON Schema is generated),
//! loading with positions, and the offline checks `validate` runs. Nothing here knows
//! the live account; turning names into resources is `resolve`'s job.

pub mod policies;
mod present;
mod reading;
pub mod snippet;
pub mod source_map;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{Level, ResourceType, Shape, Vocabulary, WantedExpiry, MANAGED};
pub use policies::Policies;
pub use reading::MAX_FILE_BYTES;
pub use source_map::{Position, SourceMap};

/// The only file format version this tool reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Prefix of a grant key that pins a resource by id instead of by name.
pub const ID_PREFIX: &str = "id:";

/// The desired access of one Mailtrap account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mailtrap-access desired state")]
pub struct DesiredFile {
    /// File format version; always 1.
    pub version: u32,
    /// The Mailtrap account id; `--account-id` or `MAILTRAP_ACCOUNT_ID` override it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present::number"
    )]
    #[schemars(with = "u64")]
    pub account_id: Option<u64>,
    /// Apply refuses a plan that leaves fewer account admins (besides the owner) than
    /// this; 1 when absent. Set 0 to allow an account administered by its owner alone.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present::number"
    )]
    #[schemars(with = "u32")]
    pub min_account_admins: Option<u32>,
    /// What to do with users and invites in the account but not in this file.
    #[serde(
        default,
        skip_serializing_if = "UnmanagedPolicy::is_default",
        deserialize_with = "present::policy"
    )]
    pub unmanaged: UnmanagedPolicy,
    /// Reusable bundles of grants, by role name.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "present::entries"
    )]
    pub roles: BTreeMap<String, Grants>,
    /// Users and pending invites, keyed by email (case-insensitive).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "present::entries"
    )]
    pub users: BTreeMap<String, Grants>,
    /// What to do with API tokens in the account but not in this file.
    #[serde(
        default,
        skip_serializing_if = "UnmanagedPolicy::is_default",
        deserialize_with = "present::policy"
    )]
    pub unmanaged_tokens: UnmanagedPolicy,
    /// API tokens, keyed by token name. They hold `account`, `projects`, inboxes and
    /// sending domains (not billing nor email campaigns), and may say `expires_at`.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "present::entries"
    )]
    pub api_tokens: BTreeMap<String, Grants>,
    /// Accesses never changed nor removed, whatever else the file says: globs (`*`, `?`)
    /// over emails and token names, case-insensitive (`"*@partner.com"`, `"svc-*"`).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "present::patterns"
    )]
    pub ignore: Vec<String>,
    /// How long before an entry's `expires` the plan warns that its access ends: `14d`
    /// when absent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present::days"
    )]
    #[schemars(with = "String")]
    pub expiry_warning: Option<Days>,
    /// What must never happen, and tests of effective access.
    #[serde(default, skip_serializing_if = "Policies::is_empty")]
    pub policies: Policies,
}

/// A number of days, written `14d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Days(pub u32);

impl Days {
    /// The default of `expiry_warning`.
    pub const DEFAULT_EXPIRY_WARNING: Days = Days(14);

    pub fn duration(self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_hours(i64::from(self.0) * 24)
    }
}

impl TryFrom<String> for Days {
    type Error = String;

    fn try_from(text: String) -> Result<Days, String> {
        (text.trim().strip_suffix('d'))
            .and_then(|days| days.parse().ok())
            .filter(|days| *days <= 36_500)
            .map(Days)
            .ok_or_else(|| format!("{text:?} is not a number of days: write e.g. 14d"))
    }
}

impl From<Days> for String {
    fn from(days: Days) -> String {
        format!("{}d", days.0)
    }
}

impl DesiredFile {
    /// Whether plan reads and manages the account's API tokens: the file lists some, or
    /// asks to remove those it does not list.
    pub fn manages_tokens(&self) -> bool {
        !self.api_tokens.is_empty() || self.unmanaged_tokens == UnmanagedPolicy::Remove
    }
}

/// The fate of users and invites (`unmanaged`), or of API tokens (`unmanaged_tokens`),
/// that the file does not list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UnmanagedPolicy {
    /// Leave them exactly as they are.
    #[default]
    Ignore,
    /// Delete them (never the owner's access, the token this tool runs with, nor one
    /// holding rows this tool does not manage).
    Remove,
}

impl UnmanagedPolicy {
    fn is_default(&self) -> bool {
        *self == UnmanagedPolicy::Ignore
    }
}

/// Grants of one user, token or role. Keys of the maps are resource names, or `id:NNN`
/// to pin a resource by id; inboxes are named `Project/Inbox`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Roles whose grants are merged in; on the same resource the higher level wins.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "present::role_names"
    )]
    pub roles: Vec<String>,
    /// Level on the account itself.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present::level"
    )]
    #[schemars(with = "Level")]
    pub account: Option<Level>,
    /// Level on billing.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present::level"
    )]
    #[schemars(with = "Level")]
    pub billing: Option<Level>,
    /// Level on the email campaigns scope.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present::level"
    )]
    #[schemars(with = "Level")]
    pub email_campaigns: Option<Level>,
    /// Projects by name (or `id:NNN`).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "present::levels"
    )]
    pub projects: BTreeMap<String, Level>,
    /// Inboxes by `Project/Inbox` (or `id:NNN`).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "present::levels"
    )]
    pub inboxes: BTreeMap<String, Level>,
    /// Sending domains by domain name (or `id:NNN`).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "present::levels"
    )]
    pub sending_domains: BTreeMap<String, Level>,
    /// `inboxes` in the API's new vocabulary: sandboxes by `Project/Sandbox` (or
    /// `id:NNN`). Write one of the two.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "present::levels"
    )]
    pub sandboxes: BTreeMap<String, Level>,
    /// `sending_domains` in the API's new vocabulary. Write one of the two.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "present::levels"
    )]
    pub domains: BTreeMap<String, Level>,
    /// Users and API tokens: from this date (`2027-01-31`) or UTC date-time on, the
    /// entry's grants are none: its managed rows are destroyed (with `unmanaged: remove`
    /// its access is removed; a token is deleted). The tool's side of ending access.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present::expiry"
    )]
    #[schemars(with = "String")]
    pub expires: Option<WantedExpiry>,
    /// API tokens only: when the token stops working, a date (`2027-06-30`), a UTC
    /// date-time (`2027-06-30T18:00:00Z`) or `never`. Absent: as it is now (the
    /// service's default for a new token).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present::expiry"
    )]
    #[schemars(with = "String")]
    pub expires_at: Option<WantedExpiry>,
}

/// One grant as written: the key it is under, the resource's name for a named type
/// (`None` for a single level), and the level.
pub type Granted<'g> = (&'static str, Option<&'g str>, Level);

impl Grants {
    /// What is granted on resources of `kind`, under either of its keys.
    pub fn of_type(&self, kind: &ResourceType) -> Vec<Granted<'_>> {
        let Some(info) = kind.info() else {
            return Vec::new(); // The file grants only the types the tool manages.
        };
        let (old, new) = (info.file_key, info.new_file_key);
        fn single(key: &'static str, level: Option<Level>) -> Vec<Granted<'static>> {
            level.map(|level| (key, None, level)).into_iter().collect()
        }
        fn named<'g>(keyed: &[(&'static str, &'g BTreeMap<String, Level>)]) -> Vec<Granted<'g>> {
            (keyed.iter())
                .flat_map(|(key, map)| {
                    map.iter()
                        .map(|(name, level)| (*key, Some(name.as_str()), *level))
                })
                .collect()
        }
        match kind {
            ResourceType::Account => single(old, self.account),
            ResourceType::Billing => single(old, self.billing),
            ResourceType::EmailCampaigns => single(old, self.email_campaigns),
            ResourceType::Project => named(&[(old, &self.projects)]),
            ResourceType::Inbox => named(&[(old, &self.inboxes), (new, &self.sandboxes)]),
            ResourceType::SendingDomain => {
                named(&[(old, &self.sending_domains), (new, &self.domains)])
            }
            ResourceType::Other(_) => Vec::new(),
        }
    }

    /// Grant `level` on a resource of `kind`, named `name` for a named type, under the
    /// key of `vocabulary`.
    pub fn set(&mut self, kind: &ResourceType, name: String, level: Level, vocabulary: Vocabulary) {
        let new = vocabulary == Vocabulary::New;
        let map = match kind {
            ResourceType::Account => return self.account = Some(level),
            ResourceType::Billing => return self.billing = Some(level),
            ResourceType::EmailCampaigns => return self.email_campaigns = Some(level),
            ResourceType::Other(_) => return,
            ResourceType::Project => &mut self.projects,
            ResourceType::Inbox if new => &mut self.sandboxes,
            ResourceType::Inbox => &mut self.inboxes,
            ResourceType::SendingDomain if new => &mut self.domains,
            ResourceType::SendingDomain => &mut self.sending_domains,
        };
        map.insert(name, level);
    }
}

/// One problem in a desired-state file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub position: Option<Position>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(at) => write!(
                f,
                "{}:{}:{}: {}",
                self.file, at.line, at.column, self.message
            ),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Why a desired-state file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The io error is part of the message rather than a source: anyhow's `{:#}` would
    /// print it a second time.
    #[error("cannot read {}: {cause} (name the desired-state file with -f FILE)", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{}", render_diagnostics(.0))]
    Invalid(Vec<Diagnostic>),
}

impl ConfigError {
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Invalid(diagnostics) => diagnostics,
            ConfigError::Read { .. } => &[],
        }
    }
}

fn render_diagnostics(diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics.iter().map(Diagnostic::to_string).collect();
    lines.join("\n")
}

/// A parsed and validated desired-state file, with its text for locating problems.
#[derive(Debug, Clone)]
pub struct LoadedFile {
    pub display_path: String,
    pub file: DesiredFile,
    text: String,
    /// Built on the first problem to locate: a valid file is parsed only once.
    source: std::sync::OnceLock<SourceMap>,
}

impl LoadedFile {
    /// The file's text as read (a saved plan fingerprints it).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Where everything is in the file.
    pub fn source(&self) -> &SourceMap {
        self.source.get_or_init(|| SourceMap::build(&self.text))
    }

    /// A diagnostic at the node `path` of this file (its key, or its value).
    /// The path's segments may be borrowed (`&["users", email]`) or owned.
    pub fn diagnostic(&self, path: &[impl AsRef<str>], message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: self.display_path.clone(),
            position: self.source().locate(path),
            message: message.into(),
        }
    }
}

/// Read, parse and validate the file at `path`.
pub fn load(path: &Path) -> Result<LoadedFile, ConfigError> {
    let display_path = path.display().to_string();
    let read_error = |cause| ConfigError::Read {
        path: path.to_path_buf(),
        cause,
    };
    // One byte past the limit tells a file over it, without reading a huge one whole.
    let limit = MAX_FILE_BYTES as u64 + 1;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| {
            // Sized up front: `take` hides the length, and growing would leave a big
            // file's text in a buffer up to twice its size for the whole run.
            let length = file.metadata().map_or(0, |meta| meta.len().min(limit));
            bytes.reserve_exact(length as usize);
            file.take(limit).read_to_end(&mut bytes)
        })
        .map_err(read_error)?;
    if bytes.len() > MAX_FILE_BYTES {
        let size = std::fs::metadata(path).map_or(bytes.len(), |m| m.len() as usize);
        return Err(ConfigError::Invalid(vec![Diagnostic {
            file: display_path,
            position: None,
            message: reading::too_big(size),
        }]));
    }
    let text = reading::utf8(&display_path, bytes).map_err(|d| ConfigError::Invalid(vec![d]))?;
    parse_owned(&display_path, text)
}

/// Parse and validate `text`, reporting errors against `display_path`.
pub fn parse(display_path: &str, text: &str) -> Result<LoadedFile, ConfigError> {
    parse_owned(display_path, text.to_string())
}

/// [`parse`], keeping `text` itself (for locating problems) rather than a copy.
fn parse_owned(display_path: &str, text: String) -> Result<LoadedFile, ConfigError> {
    if let Some(problem) = reading::check_text(display_path, &text) {
        return Err(ConfigError::Invalid(vec![problem]));
    }
    let file = reading::parse(&text).map_err(|err| {
        ConfigError::Invalid(vec![reading::diagnostic(display_path, &text, &err)])
    })?;
    let loaded = LoadedFile {
        display_path: display_path.to_string(),
        file,
        text,
        source: std::sync::OnceLock::new(),
    };
    let problems = validate(&loaded);
    if problems.is_empty() {
        Ok(loaded)
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

/// Every offline problem of a parsed file, in document order.
fn validate(loaded: &LoadedFile) -> Vec<Diagnostic> {
    let file = &loaded.file;
    let mut problems = Vec::new();
    if file.version != FORMAT_VERSION {
        problems.push(Diagnostic {
            file: loaded.display_path.clone(),
            position: loaded.source().value(&["version"]),
            message: format!(
                "unsupported version {}: this tool reads version {FORMAT_VERSION}",
                file.version
            ),
        });
    }

    // Two emails equal but for case: one of them changes when lower-cased. Only those
    // few are lower-cased and compared, not every email of a big file.
    let case_collision = {
        let mut lowered = BTreeSet::new();
        file.users
            .keys()
            .filter(|email| changes_when_lowercased(email))
            .any(|email| {
                let lower = email.to_lowercase();
                file.users.contains_key(&lower) || !lowered.insert(lower)
            })
    };
    if case_collision {
        // Only now is the source map needed: it keeps the keys in the order written.
        let mut seen: BTreeMap<String, (String, Position)> = BTreeMap::new();
        for (email, at) in loaded.source().keys_of(&["users"]) {
            match seen.get(&email.to_lowercase()) {
                Some((first, first_at)) => problems.push(Diagnostic {
                    file: loaded.display_path.clone(),
                    position: Some(*at),
                    message: format!(
                        "duplicate user {email:?}: already listed as {first:?} on line {} (emails are case-insensitive)",
                        first_at.line
                    ),
                }),
                None => {
                    seen.insert(email.to_lowercase(), (email.clone(), *at));
                }
            }
        }
    }
    for email in file.users.keys() {
        if !looks_like_email(email) {
            problems.push(loaded.diagnostic(
                &["users", email],
                format!("user {email:?} is not an email address"),
            ));
        }
    }

    let defined: BTreeSet<&str> = file.roles.keys().map(String::as_str).collect();
    for (name, grants) in &file.roles {
        if !grants.roles.is_empty() {
            problems.push(loaded.diagnostic(
                &["roles", name, "roles"],
                format!("role {name:?} lists roles: a role holds grants only, it cannot include other roles"),
            ));
        }
        check_grant_keys(loaded, &["roles", name], grants, &mut problems);
    }
    for (section, entries) in [("users", &file.users), ("api_tokens", &file.api_tokens)] {
        for (who, grants) in entries {
            for (index, role) in grants.roles.iter().enumerate() {
                if !defined.contains(role.as_str()) {
                    let known = if defined.is_empty() {
                        "no roles are defined".to_string()
                    } else {
                        format!("defined roles: {}", join(defined.iter()))
                    };
                    problems.push(loaded.diagnostic(
                        &[section, who, "roles", &index.to_string()],
                        format!("unknown role {role:?} for {who:?}; {known}"),
                    ));
                }
            }
            check_grant_keys(loaded, &[section, who], grants, &mut problems);
        }
    }
    let not_tokens = (file
        .users
        .iter()
        .map(|(who, grants)| ("users", who, grants)))
    .chain(
        file.roles
            .iter()
            .map(|(role, grants)| ("roles", role, grants)),
    );
    for (section, who, _) in not_tokens.filter(|(_, _, grants)| grants.expires_at.is_some()) {
        problems.push(loaded.diagnostic(
            &[section, who, "expires_at"],
            "`expires_at` is the service's expiry of an API token: a user's access ends with `expires`, a role's never".to_string(),
        ));
    }
    for (token, grants) in &file.api_tokens {
        check_token_grants(loaded, token, grants, &mut problems);
    }
    for name in file
        .roles
        .keys()
        .filter(|name| file.roles[*name].expires.is_some())
    {
        problems.push(loaded.diagnostic(
            &["roles", name, "expires"],
            format!("role {name:?} has `expires`: roles do not expire; write it on the users or tokens whose access ends"),
        ));
    }
    for (section, who, grants) in entries(file) {
        if grants.expires == Some(WantedExpiry::Never) {
            problems.push(loaded.diagnostic(
                &[section, who, "expires"],
                "`expires: never` says nothing: leave `expires` out for access that does not end".to_string(),
            ));
        }
    }
    check_ignore(loaded, &mut problems);
    for (index, expectation) in file.policies.expect.iter().enumerate() {
        let at = [
            "policies".to_string(),
            "expect".to_string(),
            index.to_string(),
        ];
        if expectation.user.is_some() == expectation.token.is_some() {
            problems.push(loaded.diagnostic(
                &at,
                "an expectation names either `user:` or `token:`, one of the two".to_string(),
            ));
        }
        if !expectation.can.roles.is_empty() || !expectation.cannot.roles.is_empty() {
            problems.push(loaded.diagnostic(
                &at,
                "`can:` and `cannot:` list grants, not roles".to_string(),
            ));
        }
    }
    for (index, rule) in file.policies.deny.iter().enumerate() {
        if let policies::On::Named(named) = &rule.on {
            if named.len() != 1 {
                let at = [
                    "policies".to_string(),
                    "deny".to_string(),
                    index.to_string(),
                    "on".to_string(),
                ];
                problems.push(loaded.diagnostic(
                    &at,
                    "`on:` names one resource: {project: NAME}, {inbox: P/I} or {sending_domain: D}".to_string(),
                ));
            }
        }
        let who = rule.who.trim();
        let keyword = ["tokens", "invites", "users"]
            .iter()
            .any(|keyword| keyword.eq_ignore_ascii_case(who));
        if !keyword && !who.contains(['@', '*', '?']) {
            let at = [
                "policies".to_string(),
                "deny".to_string(),
                index.to_string(),
                "who".to_string(),
            ];
            problems.push(loaded.diagnostic(
                &at,
                format!("`who: {who:?}` matches nobody: write an email glob (with @ or *), or tokens, invites or users"),
            ));
        }
    }
    problems.sort_by_key(|problem| problem.position);
    problems
}

/// The users and tokens of the file, with their section.
fn entries(file: &DesiredFile) -> impl Iterator<Item = (&'static str, &String, &Grants)> {
    (file
        .users
        .iter()
        .map(|(who, grants)| ("users", who, grants)))
    .chain(
        file.api_tokens
            .iter()
            .map(|(name, grants)| ("api_tokens", name, grants)),
    )
}

/// An `ignore` pattern, compiled: `*` any run of characters, `?` one, any case.
pub fn ignore_pattern(pattern: &str) -> wildmatch::WildMatch {
    wildmatch::WildMatch::new_case_insensitive(pattern.trim())
}

/// An entry that an `ignore` pattern matches would be managed and never touched at once.
fn check_ignore(loaded: &LoadedFile, problems: &mut Vec<Diagnostic>) {
    let file = &loaded.file;
    for (index, pattern) in file.ignore.iter().enumerate() {
        let at = ["ignore".to_string(), index.to_string()];
        if pattern.trim().is_empty() {
            problems.push(loaded.diagnostic(
                &at,
                "an empty ignore pattern: write a glob such as \"*@partner.com\"".to_string(),
            ));
            continue;
        }
        let glob = ignore_pattern(pattern);
        let line = (loaded.source().locate(&at))
            .map_or(String::new(), |at| format!(" (line {})", at.line));
        for (section, who, _) in entries(file).filter(|(_, who, _)| glob.matches(who)) {
            problems.push(loaded.diagnostic(
                &[section, who],
                format!("{who:?} matches the ignore pattern {pattern:?}{line}: an ignored access is never changed, so it cannot be listed; remove one of the two"),
            ));
        }
    }
}

/// Entries whose `expires` has passed at `now`: not an error (plan ends their access),
/// but worth a warning from `validate`.
pub fn expired_entries(loaded: &LoadedFile, now: jiff::Timestamp) -> Vec<Diagnostic> {
    entries(&loaded.file)
        .filter_map(|(section, who, grants)| {
            let expires = grants.expires?;
            let at = expires.instant()?;
            (at <= now).then(|| {
                loaded.diagnostic(
                    &[section, who, "expires"],
                    format!("{who:?} expired on {expires}: plan ends its access"),
                )
            })
        })
        .collect()
}

/// The types an API token cannot hold, directly or through a role: billing and the
/// email campaigns scope (the API Tokens API takes account, projects, inboxes and
/// sending domains only).
fn check_token_grants(
    loaded: &LoadedFile,
    token: &str,
    grants: &Grants,
    problems: &mut Vec<Diagnostic>,
) {
    let refused = |grants: &Grants| -> Vec<&'static str> {
        [ResourceType::Billing, ResourceType::EmailCampaigns]
            .iter()
            .flat_map(|kind| grants.of_type(kind))
            .map(|(key, _, _)| key)
            .collect()
    };
    for key in refused(grants) {
        problems.push(loaded.diagnostic(
            &["api_tokens", token, key],
            format!("API token {token:?}: a token cannot hold `{key}`; tokens hold account, projects, inboxes/sandboxes and sending domains only"),
        ));
    }
    for (index, role) in grants.roles.iter().enumerate() {
        let Some(role_grants) = loaded.file.roles.get(role) else {
            continue; // Reported as an unknown role.
        };
        for key in refused(role_grants) {
            let line = (loaded.source().locate(&["roles", role, key]))
                .map_or(String::new(), |at| format!(" (line {})", at.line));
            problems.push(loaded.diagnostic(
                &["api_tokens", token, "roles", &index.to_string()],
                format!("API token {token:?}: role {role:?} grants `{key}`{line}, which a token cannot hold; give the token a role without it"),
            ));
        }
    }
}

/// How far ahead the API lets a token's expiry be.
const MAX_TOKEN_LIFETIME_YEARS: i16 = 5;

/// The tokens' `expires_at` judged at `now`: in the past, or more than five years
/// ahead, the API refuses it. Separate from loading, which reads no clock.
pub fn check_expiries(loaded: &LoadedFile, now: jiff::Timestamp) -> Vec<Diagnostic> {
    let utc = jiff::tz::Offset::UTC;
    let latest = (utc.to_datetime(now))
        .checked_add(jiff::Span::new().years(MAX_TOKEN_LIFETIME_YEARS))
        .and_then(|later| utc.to_timestamp(later))
        .unwrap_or(jiff::Timestamp::MAX);
    let mut problems = Vec::new();
    for (token, grants) in &loaded.file.api_tokens {
        let Some(wanted) = grants.expires_at else {
            continue;
        };
        // A token whose access has ended on the tool's side is deleted: its own
        // expiry no longer matters.
        if (grants.expires.and_then(|ends| ends.instant())).is_some_and(|at| at <= now) {
            continue;
        }
        let Some(at) = wanted.instant() else {
            continue; // never
        };
        let problem = if at <= now {
            format!("API token {token:?} would expire on {wanted}, which is in the past (now {}); the API refuses it: write a later date, or never", crate::model::utc_date(now))
        } else if at > latest {
            format!("API token {token:?} would expire on {wanted}, more than {MAX_TOKEN_LIFETIME_YEARS} years ahead; the API refuses it: write an earlier date, or never")
        } else {
            continue;
        };
        problems.push(loaded.diagnostic(&["api_tokens", token, "expires_at"], problem));
    }
    problems
}

fn check_grant_keys(
    loaded: &LoadedFile,
    at: &[&str],
    grants: &Grants,
    problems: &mut Vec<Diagnostic>,
) {
    let path = |key: &str, name: Option<&str>| -> Vec<String> {
        (at.iter().copied().chain([key]).chain(name))
            .map(str::to_string)
            .collect()
    };
    let diagnostic = |path: Vec<String>, message: String| loaded.diagnostic(&path, message);
    for info in MANAGED.iter().filter(|info| info.shape == Shape::Named) {
        let granted = grants.of_type(&info.kind);
        // One grant under both of its keys: the two vocabularies' names for one thing.
        let mut keys: Vec<&str> = granted.iter().map(|(key, _, _)| *key).collect();
        keys.dedup();
        if let [first, second] = keys[..] {
            let first_at = diagnostic(path(first, None), String::new()).position;
            let line = first_at.map_or(String::new(), |at| format!(" (line {})", at.line));
            problems.push(diagnostic(
                path(second, None),
                format!("`{second}` and `{first}`{line} are the same grant in the API's two vocabularies: write one of them"),
            ));
        }
        for (key, name, _) in granted {
            let Some(name) = name else { continue };
            let problem = if let Some(id) = name.strip_prefix(ID_PREFIX) {
                id.trim()
                    .parse::<u64>()
                    .is_err()
                    .then(|| format!("{name:?} is not a resource id: write id:NNN with a number"))
            } else if name.trim().is_empty() {
                Some(format!("empty name in {key}"))
            } else if info.kind == ResourceType::Inbox && !name.contains('/') {
                Some(format!(
                    "{} {name:?} must be written Project/{} (or id:NNN): their names repeat across projects",
                    info.noun,
                    if key == "sandboxes" { "Sandbox" } else { "Inbox" }
                ))
            } else {
                None
            };
            if let Some(message) = problem {
                problems.push(diagnostic(path(key, Some(name)), message));
            }
        }
    }
}

fn changes_when_lowercased(text: &str) -> bool {
    if text.is_ascii() {
        text.bytes().any(|b| b.is_ascii_uppercase())
    } else {
        text.chars().any(|c| c.to_lowercase().ne([c]))
    }
}

fn looks_like_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !text.contains(char::is_whitespace)
        }
        None => false,
    }
}

fn join<'a>(items: impl Iterator<Item = &'a &'a str>) -> String {
    items.copied().collect::<Vec<_>>().join(", ")
}

/// The JSON Schema of the desired-state file, generated from the types above.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(DesiredFile);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema always serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        match parse("f.yaml", text) {
            Ok(_) => Vec::new(),
            Err(err) => err.diagnostics().iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn the_new_vocabularys_keys_are_read_and_not_beside_the_old_ones() {
        let new = "version: 1\nusers:\n  bob@acme.com:\n    sandboxes: {\"Backend/Staging\": admin}\n    domains: {acme.com: viewer}\n";
        let loaded = parse("f.yaml", new).unwrap();
        let bob = &loaded.file.users["bob@acme.com"];
        assert_eq!(
            bob.of_type(&ResourceType::Inbox),
            [("sandboxes", Some("Backend/Staging"), Level::Admin)]
        );
        assert_eq!(
            bob.of_type(&ResourceType::SendingDomain),
            [("domains", Some("acme.com"), Level::Viewer)]
        );
        let both = "version: 1\nusers:\n  bob@acme.com:\n    inboxes: {\"Backend/Staging\": admin}\n    sandboxes: {\"Backend/Other\": viewer}\n";
        assert_eq!(
            problems(both),
            ["f.yaml:5:5: `sandboxes` and `inboxes` (line 4) are the same grant in the API's two vocabularies: write one of them"]
        );
        let bare = "version: 1\nusers:\n  bob@acme.com:\n    sandboxes: {Staging: admin}\n";
        assert_eq!(
            problems(bare),
            ["f.yaml:4:17: inbox \"Staging\" must be written Project/Sandbox (or id:NNN): their names repeat across projects"]
        );
    }

    #[test]
    fn a_tokens_expiry_must_be_ahead_and_within_five_years() {
        let now: jiff::Timestamp = "2026-12-02T10:00:00Z".parse().unwrap();
        let at = |expiry: &str| {
            let text = format!(
                "version: 1\napi_tokens:\n  CI:\n    account: viewer\n    expires_at: {expiry}\n"
            );
            let loaded = parse("f.yaml", &text).unwrap();
            let problems: Vec<String> = (check_expiries(&loaded, now).iter())
                .map(ToString::to_string)
                .collect();
            problems
        };
        assert!(at("never").is_empty());
        assert!(at("2026-12-03").is_empty());
        assert!(at("2031-12-01T00:00:00Z").is_empty());
        assert_eq!(
            at("2026-12-02"),
            ["f.yaml:5:5: API token \"CI\" would expire on 2026-12-02, which is in the past (now 2026-12-02); the API refuses it: write a later date, or never"]
        );
        assert_eq!(
            at("2032-01-01"),
            ["f.yaml:5:5: API token \"CI\" would expire on 2032-01-01, more than 5 years ahead; the API refuses it: write an earlier date, or never"]
        );
    }

    #[test]
    fn emails_equal_but_for_case_are_duplicates_whichever_is_lower_case() {
        let head = "version: 1\nusers:\n";
        let both_mixed = format!("{head}  Bob@acme.com: {{}}\n  BOB@acme.com: {{}}\n");
        assert_eq!(
            problems(&both_mixed),
            ["f.yaml:4:3: duplicate user \"BOB@acme.com\": already listed as \"Bob@acme.com\" on line 3 (emails are case-insensitive)"]
        );
        let one_lower = format!("{head}  BOB@acme.com: {{}}\n  bob@acme.com: {{}}\n");
        assert_eq!(problems(&one_lower).len(), 1, "{:?}", problems(&one_lower));
        let distinct = format!(
            "{head}  Bob@acme.com: {{}}\n  alice@acme.com: {{}}\n  ALICE@other.com: {{}}\n"
        );
        assert!(problems(&distinct).is_empty(), "{:?}", problems(&distinct));
    }

    #[test]
    fn a_key_written_twice_is_an_error_naming_both_lines() {
        let head = "version: 1\nusers:\n  bob@acme.com:\n";
        let cases = [
            (
                "    projects:\n      Backend: admin\n      Backend: viewer\n",
                "f.yaml:6:7: \"Backend\" is written twice in this mapping (first on line 5)",
            ),
            (
                "    roles: [dev]\n    account: admin\n    roles: [ops]\n",
                "f.yaml:6:5: \"roles\" is written twice in this mapping (first on line 4)",
            ),
            (
                "    projects: {Backend: admin, Backend: viewer}\n",
                "f.yaml:4:32: \"Backend\" is written twice in this mapping (first on line 4)",
            ),
            (
                "    account: admin\n  alice@acme.com: {}\n  bob@acme.com: {}\n",
                "f.yaml:6:3: \"bob@acme.com\" is written twice in this mapping (first on line 3)",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(problems(&format!("{head}{body}")), [expected], "{body}");
        }
        assert_eq!(
            problems("version: 1\nversion: 1\n"),
            ["f.yaml:2:1: \"version\" is written twice in this mapping (first on line 1)"]
        );
    }

    #[test]
    fn an_empty_value_is_an_error_at_its_key() {
        let cases = [
            ("users:\n", "f.yaml:2:6: users: nothing after it: write `{}` for none"),
            ("roles:\n", "f.yaml:2:6: roles: nothing after it: write `{}` for none"),
            ("api_tokens:\n", "f.yaml:2:11: api_tokens: nothing after it: write `{}` for none"),
            (
                "users:\n  bob@acme.com:\n",
                "f.yaml:3:3: users: \"bob@acme.com\" has nothing after it: write `bob@acme.com: {}` to give it no grants",
            ),
            (
                "users:\n  bob@acme.com:\n    account:\n",
                "f.yaml:4:12: users.bob@acme.com.account: the level is missing: write admin or viewer",
            ),
            (
                "users:\n  bob@acme.com: {billing: , account: admin}\n",
                "f.yaml:3:25: users.bob@acme.com.billing: the level is missing: write admin or viewer",
            ),
            (
                "users:\n  bob@acme.com:\n    projects:\n    account: admin\n",
                "f.yaml:4:13: users.bob@acme.com.projects: nothing after it: write names with their levels, or `{}` for none",
            ),
            (
                "users:\n  bob@acme.com:\n    projects:\n      Backend:\n",
                "f.yaml:5:7: users.bob@acme.com.projects: the level of \"Backend\" is missing: write admin or viewer",
            ),
            (
                "api_tokens:\n  CI:\n    roles:\n",
                "f.yaml:4:10: api_tokens.CI.roles: nothing after it: write a list of roles, or `[]` for none",
            ),
            (
                "roles:\n  dev:\n    sending_domains:\n",
                "f.yaml:4:20: roles.dev.sending_domains: nothing after it: write names with their levels, or `{}` for none",
            ),
            (
                "account_id:\n",
                "f.yaml:2:11: account_id: nothing after it: write a number, or leave the line out",
            ),
            (
                "unmanaged: ~\n",
                "f.yaml:2:12: unmanaged: nothing after it: write ignore or remove, or leave the line out",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(
                problems(&format!("version: 1\n{body}")),
                [expected],
                "{body}"
            );
        }
    }

    #[test]
    fn empty_braces_and_brackets_still_say_none() {
        let text = "version: 1\nroles: {}\napi_tokens: {}\nusers:\n  bob@acme.com: {roles: [], projects: {}}\n  al@acme.com: {}\n";
        let loaded = parse("f.yaml", text).unwrap();
        assert_eq!(loaded.file.users.len(), 2);
        assert_eq!(loaded.file.users["bob@acme.com"], Grants::default());
    }

    #[test]
    fn a_byte_order_mark_reads_as_nothing() {
        let loaded = parse("f.yaml", "\u{feff}version: 1\nusers:\n  bob@acme.com: {}\n").unwrap();
        assert_eq!(loaded.file.users.len(), 1);
        assert_eq!(
            problems("\u{feff}version: 2\n"),
            ["f.yaml:1:10: unsupported version 2: this tool reads version 1"]
        );
    }

    #[test]
    fn text_that_is_not_utf8_is_located_by_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.yaml");
        std::fs::write(
            &path,
            b"version: 1\nusers:\n  b\xc3\xa9\xffb@acme.com: {}\n",
        )
        .unwrap();
        let err = load(&path).unwrap_err();
        let position = err.diagnostics()[0].position;
        assert_eq!(position, Some(Position { line: 3, column: 5 }));
        assert!(err
            .to_string()
            .ends_with(":3:5: not UTF-8 text: save the file as UTF-8"));
    }

    #[test]
    fn a_missing_file_says_why_once() {
        let err = load(Path::new("/nonexistent/f.yaml")).unwrap_err();
        let chain = format!("{:#}", anyhow::Error::from(err));
        assert_eq!(chain.matches("No such file").count(), 1, "{chain}");
        assert!(
            chain.starts_with("cannot read /nonexistent/f.yaml: "),
            "{chain}"
        );
    }

    #[test]
    fn a_file_over_the_limit_is_refused_before_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        let file = std::fs::File::create(&path).unwrap();
        // Sparse: no 33 MiB are written, and the loader stops reading past the limit.
        file.set_len(33 << 20).unwrap();
        let message = load(&path).unwrap_err().to_string();
        assert!(
            message.ends_with(
                "big.yaml: the file is 33.0 MiB, over the limit of 32 MiB for a desired-state file"
            ),
            "{message}"
        );
        let text = format!("version: 1\n{}", " ".repeat(MAX_FILE_BYTES));
        assert!(problems(&text)[0].contains("over the limit of 32 MiB"));
    }

    /// Parse `text`, which must fail, within `seconds` (generous: a debug build on a
    /// busy machine); returns the one message.
    fn refused_quickly(text: &str, seconds: u64) -> String {
        let started = std::time::Instant::now();
        let problems = problems(text);
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_secs(seconds),
            "took {took:?}"
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        problems.into_iter().next().unwrap()
    }

    /// Build a hostile input, bounded in time itself.
    fn generated(build: impl FnOnce() -> String) -> String {
        let started = std::time::Instant::now();
        let text = build();
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        text
    }

    #[test]
    fn a_billion_laughs_is_refused() {
        let text = generated(|| {
            let mut text =
                "version: 1\nroles:\n  r0: &a0 {projects: {a: admin, b: admin}}\n".to_string();
            for level in 1..10 {
                let previous = format!("*a{}", level - 1);
                let items = [previous.as_str(); 10].join(", ");
                text.push_str(&format!("  r{level}: &a{level} [{items}]\n"));
            }
            text
        });
        // The types refuse a list of roles where grants are: the shape is wrong before
        // the expansion is large. The same file typed loosely is refused by the budget.
        assert!(refused_quickly(&text, 10).starts_with("f.yaml:"));
        let loose: Result<serde_json::Value, _> =
            serde_saphyr::from_str_with_options(&text, reading::options_for_tests());
        let err = loose.unwrap_err();
        let message = reading::diagnostic("f.yaml", &text, &err).message;
        assert!(
            message.starts_with("aliases expand to more than"),
            "{message}"
        );
    }

    #[test]
    fn one_big_map_aliased_from_thousands_of_users_is_refused() {
        let text = generated(|| {
            let mut text = String::from("version: 1\nusers:\n  u0@x.io: &grants\n    projects:\n");
            for project in 0..6_000 {
                text.push_str(&format!("      p{project}: admin\n"));
            }
            for user in 1..6_000 {
                text.push_str(&format!("  u{user}@x.io: *grants\n"));
            }
            text
        });
        let message = refused_quickly(&text, 10);
        assert!(message.contains(": aliases expand to more than the file may hold: write the shared grants once, as a role"), "{message}");
    }

    #[test]
    fn nesting_100000_deep_is_refused() {
        let flow = generated(|| format!("version: 1\nusers: {}", "[".repeat(100_000)));
        let message = refused_quickly(&flow, 10);
        assert!(message.starts_with("f.yaml:2:"), "{message}");
        let block = generated(|| format!("version: 1\nusers:\n  {}x\n", "- ".repeat(100_000)));
        assert!(refused_quickly(&block, 10).starts_with("f.yaml:3:"));
        // The file's types refuse a list there before it is deep; typed loosely, the
        // same text is refused by the depth limit.
        let loose: Result<serde_json::Value, _> =
            serde_saphyr::from_str_with_options(&block, reading::options_for_tests());
        let message = reading::diagnostic("f.yaml", &block, &loose.unwrap_err()).message;
        assert_eq!(
            message,
            "nested more than 32 levels deep; a desired-state file needs 4"
        );
    }

    #[test]
    fn more_nodes_than_any_real_file_is_refused() {
        let text = generated(|| format!("[{}0]\n", "0,".repeat(reading::MAX_NODES)));
        let started = std::time::Instant::now();
        let err = serde_saphyr::from_str_with_options::<serde::de::IgnoredAny>(
            &text,
            reading::options_for_tests(),
        )
        .unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        let message = reading::diagnostic("f.yaml", &text, &err).message;
        assert_eq!(
            message,
            "more than 1 million nodes (with aliases expanded): too big for a desired-state file"
        );
    }

    #[test]
    fn a_big_real_file_is_within_the_limits() {
        let text = generated(|| {
            let mut text = String::from("version: 1\nusers:\n");
            for user in 0..10_000 {
                text.push_str(&format!("  user{user}@acme.com:\n    projects:\n"));
                for project in 0..20 {
                    text.push_str(&format!("      Project {project}: viewer\n"));
                }
            }
            text
        });
        let loaded = parse("f.yaml", &text).unwrap();
        assert_eq!(loaded.file.users.len(), 10_000);
        assert_eq!(loaded.file.users["user9999@acme.com"].projects.len(), 20);
    }
}
