//! The vocabulary shared by every stage: resource types and keys, access levels, the
//! accesses of an account and its resource tree, as the tool understands them once
//! decoded from the API. Everything the tool does not understand is kept, as `Other`
//! or a raw level code, so that it can be shown and left alone rather than dropped.
//! What the tool knows about each resource type it manages is one table, [`MANAGED`].

use std::collections::BTreeMap;
use std::fmt;

use jiff::civil::Date;
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A kind of resource in a Mailtrap account. Types the tool does not manage (such as
/// `organization`, seen on owners' rows) are read without error and never modified.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceType {
    Account,
    Billing,
    Project,
    Inbox,
    SendingDomain,
    EmailCampaigns,
    Other(String),
}

/// How the desired-state file grants a type: a single level (`account: admin`), or a
/// map of names to levels (`projects: {Backend: admin}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Singleton,
    Named,
}

/// The API's two sets of names: the contract's (`inbox`, `sending_domain`) and those of
/// Mailtrap's 2026 OpenAPI (`sandbox`, `domain`). A server speaks one; its resource
/// tree says which.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Vocabulary {
    #[default]
    Old,
    New,
}

impl fmt::Display for Vocabulary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Vocabulary::Old => "old (inbox, sending_domain)",
            Vocabulary::New => "new (sandbox, domain)",
        })
    }
}

/// Which paths reach the account: `/api/accounts/{id}/...` (the contract), or the
/// token-scoped ones of the 2026 OpenAPI, where the token alone says which account.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum PathFamily {
    #[default]
    Account,
    Token,
}

impl fmt::Display for PathFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathFamily::Account => "account",
            PathFamily::Token => "token",
        })
    }
}

/// How a server speaks: the paths it was read through and the names its tree uses.
/// Writes go the same way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dialect {
    #[serde(rename = "api_paths")]
    pub paths: PathFamily,
    pub vocabulary: Vocabulary,
}

/// Everything the tool knows about one managed resource type.
#[derive(Debug)]
pub struct TypeInfo {
    pub kind: ResourceType,
    /// Its name in the API's rows, tree nodes and bulk bodies, in the old vocabulary and
    /// in the new one (the same for the types that were not renamed).
    pub api_name: &'static str,
    pub new_api_name: &'static str,
    /// Its key in a grant of the desired-state file, and the key in the new vocabulary
    /// (the same for the types that were not renamed).
    pub file_key: &'static str,
    pub new_file_key: &'static str,
    /// What messages call one of them, and several.
    pub noun: &'static str,
    pub plural: &'static str,
    pub shape: Shape,
}

/// The types the tool manages, in the order the file lists them and plans sort them.
/// Adding a type is a row here and a variant above; the compiler finds the rest.
pub const MANAGED: [TypeInfo; 6] = [
    TypeInfo {
        kind: ResourceType::Account,
        api_name: "account",
        new_api_name: "account",
        file_key: "account",
        new_file_key: "account",
        noun: "account",
        plural: "accounts",
        shape: Shape::Singleton,
    },
    TypeInfo {
        kind: ResourceType::Billing,
        api_name: "billing",
        new_api_name: "billing",
        file_key: "billing",
        new_file_key: "billing",
        noun: "billing",
        plural: "billing resources",
        shape: Shape::Singleton,
    },
    TypeInfo {
        kind: ResourceType::Project,
        api_name: "project",
        new_api_name: "project",
        file_key: "projects",
        new_file_key: "projects",
        noun: "project",
        plural: "projects",
        shape: Shape::Named,
    },
    TypeInfo {
        kind: ResourceType::Inbox,
        api_name: "inbox",
        new_api_name: "sandbox",
        file_key: "inboxes",
        new_file_key: "sandboxes",
        noun: "inbox",
        plural: "inboxes",
        shape: Shape::Named,
    },
    TypeInfo {
        kind: ResourceType::SendingDomain,
        api_name: "sending_domain",
        new_api_name: "domain",
        file_key: "sending_domains",
        new_file_key: "domains",
        noun: "sending domain",
        plural: "sending domains",
        shape: Shape::Named,
    },
    TypeInfo {
        kind: ResourceType::EmailCampaigns,
        api_name: "email_campaign_permission_scope",
        new_api_name: "email_campaign_permission_scope",
        file_key: "email_campaigns",
        new_file_key: "email_campaigns",
        noun: "email campaigns scope",
        plural: "email campaigns scopes",
        shape: Shape::Singleton,
    },
];

impl ResourceType {
    /// The type a name of either vocabulary stands for.
    pub fn from_api(name: &str) -> ResourceType {
        MANAGED
            .iter()
            .find(|info| info.api_name == name || info.new_api_name == name)
            .map_or_else(
                || ResourceType::Other(name.to_string()),
                |info| info.kind.clone(),
            )
    }

    /// The name this type has in `vocabulary`.
    pub fn api_name_in(&self, vocabulary: Vocabulary) -> &str {
        match (self.info(), vocabulary) {
            (Some(info), Vocabulary::New) => info.new_api_name,
            _ => self.api_name(),
        }
    }

    /// The table's row for a managed type; `None` for one the tool does not manage.
    pub fn info(&self) -> Option<&'static TypeInfo> {
        MANAGED.iter().find(|info| &info.kind == self)
    }

    /// The name the API's contract (the old vocabulary) uses for this type.
    pub fn api_name(&self) -> &str {
        match (self, self.info()) {
            (ResourceType::Other(name), _) => name,
            (_, Some(info)) => info.api_name,
            (_, None) => unreachable!("every type but Other has a row in MANAGED"),
        }
    }

    /// What messages call a resource of this type.
    pub fn noun(&self) -> &str {
        self.info().map_or(self.api_name(), |info| info.noun)
    }

    pub fn is_managed(&self) -> bool {
        self.info().is_some()
    }
}

impl Vocabulary {
    /// The vocabulary a type name belongs to alone; `None` for a name both share (or
    /// one neither knows).
    pub fn of_name(name: &str) -> Option<Vocabulary> {
        let info = MANAGED
            .iter()
            .find(|info| info.api_name == name || info.new_api_name == name)?;
        match (info.api_name == name, info.new_api_name == name) {
            (true, false) => Some(Vocabulary::Old),
            (false, true) => Some(Vocabulary::New),
            _ => None,
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.api_name())
    }
}

/// By its API name, as rows and bulk bodies carry it.
impl Serialize for ResourceType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.api_name())
    }
}

impl<'de> Deserialize<'de> for ResourceType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(ResourceType::from_api(&name))
    }
}

/// A resource's identity: the pair (type, id), never the id alone, because the account,
/// its billing and its campaign scope share one id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceKey {
    #[serde(rename = "type")]
    pub kind: ResourceType,
    pub id: u64,
}

impl ResourceKey {
    pub fn new(kind: ResourceType, id: u64) -> Self {
        ResourceKey { kind, id }
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.id)
    }
}

/// The two levels the API lets anyone write. Ordered so that the higher level wins when
/// roles and direct grants overlap.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Viewer,
    Admin,
}

impl Level {
    /// The numeric code the API reads back for this level.
    pub fn code(self) -> u32 {
        match self {
            Level::Admin => 100,
            Level::Viewer => 10,
        }
    }

    /// The level a read-back code stands for, if it is one the tool manages.
    pub fn from_code(code: u32) -> Option<Level> {
        match code {
            100 => Some(Level::Admin),
            10 => Some(Level::Viewer),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::Admin => "admin",
            Level::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A level code as read back, whatever it is: shown with the names Mailtrap documents,
/// and serialized as `"admin"`/`"viewer"` for the two the tool manages, else as the
/// number (owner 1000, viewer+ 50, indeterminate 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LevelCode(pub u32);

/// The level code of an account owner's rows.
pub const OWNER: LevelCode = LevelCode(1000);

impl LevelCode {
    pub fn managed(self) -> Option<Level> {
        Level::from_code(self.0)
    }
}

impl From<Level> for LevelCode {
    fn from(level: Level) -> Self {
        LevelCode(level.code())
    }
}

impl fmt::Display for LevelCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1000 => f.write_str("owner (1000)"),
            50 => f.write_str("viewer+ (50)"),
            1 => f.write_str("indeterminate (1)"),
            code => match Level::from_code(code) {
                Some(level) => f.write_str(level.name()),
                None => write!(f, "level {code}"),
            },
        }
    }
}

impl Serialize for LevelCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.managed() {
            Some(level) => level.serialize(serializer),
            None => serializer.serialize_u32(self.0),
        }
    }
}

impl<'de> Deserialize<'de> for LevelCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Written;
        impl serde::de::Visitor<'_> for Written {
            type Value = LevelCode;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a level: \"admin\", \"viewer\" or a level code such as 50")
            }
            fn visit_u64<E: serde::de::Error>(self, code: u64) -> Result<LevelCode, E> {
                u32::try_from(code)
                    .map(LevelCode)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(code), &self))
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<LevelCode, E> {
                match name {
                    "admin" => Ok(Level::Admin.into()),
                    "viewer" => Ok(Level::Viewer.into()),
                    other => Err(E::invalid_value(serde::de::Unexpected::Str(other), &self)),
                }
            }
        }
        deserializer.deserialize_any(Written)
    }
}

/// What holds an access: a person (user or pending invite) or an API token.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpecifierKind {
    User,
    Invite,
    ApiToken,
    Other(String),
}

impl SpecifierKind {
    pub fn from_api(name: &str) -> SpecifierKind {
        match name {
            "User" => SpecifierKind::User,
            "Invite" => SpecifierKind::Invite,
            "ApiToken" => SpecifierKind::ApiToken,
            other => SpecifierKind::Other(other.to_string()),
        }
    }

    pub fn api_name(&self) -> &str {
        match self {
            SpecifierKind::User => "User",
            SpecifierKind::Invite => "Invite",
            SpecifierKind::ApiToken => "ApiToken",
            SpecifierKind::Other(name) => name,
        }
    }

    /// Users and pending invites are both "that person", identified by email.
    pub fn is_person(&self) -> bool {
        matches!(self, SpecifierKind::User | SpecifierKind::Invite)
    }
}

impl fmt::Display for SpecifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.api_name())
    }
}

impl Serialize for SpecifierKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.api_name())
    }
}

impl<'de> Deserialize<'de> for SpecifierKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(SpecifierKind::from_api(&name))
    }
}

/// One explicit permission row of an access, exactly as read back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row {
    pub resource: ResourceKey,
    pub level: LevelCode,
}

impl Row {
    /// A row the tool may create, change or destroy: a known type at a writable level.
    pub fn managed_level(&self) -> Option<Level> {
        if self.resource.kind.is_managed() {
            self.level.managed()
        } else {
            None
        }
    }
}

/// One access of the account. Secrets the API returns (an API token's `token`) are
/// never decoded into this type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub id: u64,
    pub kind: SpecifierKind,
    /// Users and invites: their email as the API gave it.
    pub email: Option<String>,
    /// API tokens (and users): their name.
    pub name: Option<String>,
    /// The specifier's own id: for an API token, the id the API Tokens API knows it by.
    pub specifier_id: Option<u64>,
    /// A user's `two_factor_authentication_enabled`; `None` when the listing does not
    /// say (invites, tokens).
    pub two_factor: Option<bool>,
    pub rows: Vec<Row>,
}

impl Access {
    pub fn is_owner(&self) -> bool {
        self.rows.iter().any(|row| row.level == OWNER)
    }

    /// Whether [`Access::identity`] is some, without building it (which lower-cases).
    pub fn has_identity(&self) -> bool {
        match self.kind {
            SpecifierKind::User | SpecifierKind::Invite => self.email.is_some(),
            SpecifierKind::ApiToken => self.name.is_some(),
            SpecifierKind::Other(_) => false,
        }
    }

    /// The key under which the desired-state file names this access: the lower-cased
    /// email of a person, or the name of an API token.
    pub fn identity(&self) -> Option<Identity> {
        match self.kind {
            SpecifierKind::User | SpecifierKind::Invite => self
                .email
                .as_deref()
                .map(|email| Identity::Person(email.to_lowercase())),
            SpecifierKind::ApiToken => self.name.clone().map(Identity::Token),
            SpecifierKind::Other(_) => None,
        }
    }

    /// How the access is named to a human: email, token name, or its id.
    pub fn label(&self) -> String {
        self.email
            .clone()
            .or_else(|| self.name.clone())
            .unwrap_or_else(|| format!("access {}", self.id))
    }
}

/// Who an entry of the desired-state file stands for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Identity {
    /// A lower-cased email.
    Person(String),
    /// An API token's name.
    Token(String),
}

/// A node of the account's resource tree, flattened: its key, name and the name a
/// desired-state file uses for it (`Project/Inbox` for inboxes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub key: ResourceKey,
    pub name: String,
    /// The name under which the file refers to it; for inboxes `Project/Inbox`.
    pub path: String,
}

/// An API token of the account, as the API Tokens API lists it. Its secret is never
/// part of a read, nor of this type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: u64,
    pub name: String,
    /// `None`: it never expires.
    pub expires_at: Option<Timestamp>,
    pub rows: Vec<Row>,
    /// Whether it may be the token this tool runs with: its `last_4_digits` are the
    /// last four characters of that token, or the listing does not give them. Such a
    /// token is never deleted, replaced or reset (and a matching file entry changes
    /// nothing, so it is left alone too).
    pub in_use: bool,
}

impl Token {
    /// Whether it holds a row of a type or level the tool does not manage: a new token
    /// made to replace it would lose that row.
    pub fn holds_unmanaged_rows(&self) -> bool {
        self.rows.iter().any(|row| row.managed_level().is_none())
    }
}

/// Everything the reads return, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LiveState {
    pub resources: Vec<Resource>,
    pub accesses: Vec<Access>,
    /// The API tokens, when they were read (the file manages tokens); `None` otherwise.
    pub tokens: Option<Vec<Token>>,
    /// How the server spoke in those reads.
    pub dialect: Dialect,
}

impl LiveState {
    pub fn resource(&self, key: &ResourceKey) -> Option<&Resource> {
        self.resources.iter().find(|resource| &resource.key == key)
    }

    /// Names the file cannot tell apart that the account holds differently: an email
    /// (any case) or a token name held by several accesses whose managed rows differ.
    /// One entry in the file would give them all the same rows, so neither the plan nor
    /// an export can say which rows are meant. With the ids of those accesses.
    pub fn ambiguous_identities(&self) -> BTreeMap<Identity, Vec<u64>> {
        let mut held: BTreeMap<Identity, Vec<&Access>> = BTreeMap::new();
        for access in &self.accesses {
            if let Some(identity) = access.identity() {
                held.entry(identity).or_default().push(access);
            }
        }
        // Rows are compared only where a name is held more than once: almost never.
        fn managed_rows<'a>(access: &&'a Access) -> Vec<(&'a ResourceKey, Level)> {
            let mut rows: Vec<(&ResourceKey, Level)> = (access.rows.iter())
                .filter_map(|row| Some((&row.resource, row.managed_level()?)))
                .collect();
            rows.sort();
            rows
        }
        held.into_iter()
            .filter(|(_, accesses)| {
                let mut rows = accesses.iter().map(managed_rows);
                let first = rows.next();
                rows.any(|other| Some(other) != first)
            })
            .map(|(identity, accesses)| {
                let mut ids: Vec<u64> = accesses.iter().map(|access| access.id).collect();
                ids.sort_unstable();
                (identity, ids)
            })
            .collect()
    }
}

/// When a token should stop working, as the desired-state file says it: `never`, a date
/// (that day, UTC) or a date-time in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WantedExpiry {
    Never,
    On(Date),
    At(Timestamp),
}

impl WantedExpiry {
    /// `never`, `2027-06-30`, or `2027-06-30T12:00:00Z` (an offset other than `Z` is
    /// converted to UTC).
    pub fn parse(text: &str) -> Result<WantedExpiry, String> {
        let text = text.trim();
        if text == "never" {
            return Ok(WantedExpiry::Never);
        }
        if let Ok(date) = text.parse::<Date>() {
            return Ok(WantedExpiry::On(date));
        }
        text.parse::<Timestamp>()
            .map(WantedExpiry::At)
            .map_err(|_| {
                format!("{text:?} is not an expiry: write a date (2027-06-30), a UTC date-time (2027-06-30T18:00:00Z) or never")
            })
    }

    /// The moment it stands for (a date: the start of that day, UTC); `None` for never.
    pub fn instant(&self) -> Option<Timestamp> {
        match self {
            WantedExpiry::Never => None,
            WantedExpiry::On(date) => Some(
                jiff::tz::Offset::UTC
                    .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
                    .unwrap_or(Timestamp::MAX),
            ),
            WantedExpiry::At(at) => Some(*at),
        }
    }

    /// Whether a token expiring at `live` (`None`: never) is what this asks for: a
    /// date-time asks for that second; a date for that day in any time zone (from 14
    /// hours before it starts in UTC to 14 hours after it ends), because how the service
    /// turns a date into a moment is unknown, and a date it stores as, say, midnight in
    /// UTC+2 must not read as another day and have the token replaced on every run.
    pub fn matches(&self, live: Option<Timestamp>) -> bool {
        const ZONES: jiff::SignedDuration = jiff::SignedDuration::from_hours(14);
        const DAY: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);
        match (self, live) {
            (WantedExpiry::Never, None) => true,
            (WantedExpiry::On(_), Some(live)) => {
                let start = self.instant().unwrap_or(Timestamp::MAX);
                let from = start.checked_sub(ZONES).unwrap_or(Timestamp::MIN);
                let until = (start.checked_add(DAY + ZONES)).unwrap_or(Timestamp::MAX);
                from <= live && live < until
            }
            (WantedExpiry::At(at), Some(live)) => at.as_second() == live.as_second(),
            _ => false,
        }
    }

    /// What `expires_at` is in a create or reset body: `None` is JSON `null` (never).
    pub fn api_value(&self) -> Option<String> {
        match self {
            WantedExpiry::Never => None,
            _ => Some(self.to_string()),
        }
    }
}

/// The UTC calendar day of `at`.
pub fn utc_date(at: Timestamp) -> Date {
    jiff::tz::Offset::UTC.to_datetime(at).date()
}

impl fmt::Display for WantedExpiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WantedExpiry::Never => f.write_str("never"),
            WantedExpiry::On(date) => write!(f, "{date}"),
            WantedExpiry::At(at) => write!(f, "{at}"),
        }
    }
}

impl Serialize for WantedExpiry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for WantedExpiry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        WantedExpiry::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `text` with every control character written as an escape (`\u{1b}`): for strings
/// from the API or the file shown to people, so that a name holding `ESC[8m` cannot hide
/// text, nor `ESC[1A` overwrite the line above.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_managed_type_reads_back_from_its_api_name() {
        for info in &MANAGED {
            assert_eq!(ResourceType::from_api(info.api_name), info.kind);
            assert_eq!(info.kind.api_name(), info.api_name);
            assert_eq!(info.kind.noun(), info.noun);
        }
        let unknown = ResourceType::from_api("organization");
        assert_eq!(unknown, ResourceType::Other("organization".into()));
        assert!(!unknown.is_managed());
        assert_eq!(unknown.api_name(), "organization");
    }

    #[test]
    fn both_vocabularies_name_the_same_types() {
        for (old, new) in [("inbox", "sandbox"), ("sending_domain", "domain")] {
            let kind = ResourceType::from_api(old);
            assert_eq!(ResourceType::from_api(new), kind);
            assert_eq!(kind.api_name_in(Vocabulary::Old), old);
            assert_eq!(kind.api_name_in(Vocabulary::New), new);
            assert_eq!(Vocabulary::of_name(old), Some(Vocabulary::Old));
            assert_eq!(Vocabulary::of_name(new), Some(Vocabulary::New));
        }
        assert_eq!(Vocabulary::of_name("project"), None);
        assert_eq!(Vocabulary::of_name("organization"), None);
        assert_eq!(
            ResourceType::Project.api_name_in(Vocabulary::New),
            "project"
        );
    }

    #[test]
    fn the_table_lists_types_in_their_sort_order() {
        // Plans sort rows by type; the file and messages list types in table order.
        assert!(MANAGED.windows(2).all(|pair| pair[0].kind < pair[1].kind));
    }

    #[test]
    fn names_held_by_several_accesses_with_other_rows_are_ambiguous() {
        let access = |id, kind, email: Option<&str>, name: Option<&str>, level| Access {
            id,
            kind,
            email: email.map(str::to_string),
            name: name.map(str::to_string),
            specifier_id: None,
            two_factor: None,
            rows: vec![Row {
                resource: ResourceKey::new(ResourceType::Project, 7),
                level: LevelCode(level),
            }],
        };
        let live = LiveState {
            accesses: vec![
                access(1, SpecifierKind::ApiToken, None, Some("ci"), 100),
                access(2, SpecifierKind::ApiToken, None, Some("ci"), 10),
                // Same email in another case, same rows: one entry describes both.
                access(3, SpecifierKind::User, Some("Bob@x.io"), None, 10),
                access(4, SpecifierKind::Invite, Some("bob@x.io"), None, 10),
                access(5, SpecifierKind::User, Some("eve@x.io"), None, 10),
            ],
            ..LiveState::default()
        };
        let ambiguous = live.ambiguous_identities();
        assert_eq!(
            ambiguous.into_iter().collect::<Vec<_>>(),
            [(Identity::Token("ci".into()), vec![1, 2])]
        );
    }

    #[test]
    fn control_characters_are_written_as_escapes() {
        assert_eq!(printable("bob@acme.com"), "bob@acme.com");
        assert_eq!(
            printable("a\u{1b}[8mb\r\n\u{9b}"),
            "a\\u{1b}[8mb\\u{d}\\u{a}\\u{9b}"
        );
    }

    #[test]
    fn an_expiry_date_matches_that_day_in_any_time_zone_and_a_date_time_its_second() {
        let at = |text: &str| Some(text.parse::<Timestamp>().unwrap());
        let date = WantedExpiry::parse("2027-06-30").unwrap();
        for same_day in [
            "2027-06-30T00:00:00Z",
            "2027-06-30T23:59:59.000Z",
            "2027-06-29T22:00:00Z", // midnight in UTC+2
            "2027-07-01T04:59:59Z", // the end of the day in UTC-5
        ] {
            assert!(date.matches(at(same_day)), "{same_day}");
        }
        for other in ["2027-06-29T09:00:00Z", "2027-07-01T14:00:00Z"] {
            assert!(!date.matches(at(other)), "{other}");
        }
        assert!(!date.matches(None));
        let second = WantedExpiry::parse("2027-06-30T12:00:00Z").unwrap();
        assert!(second.matches(at("2027-06-30T12:00:00.000Z")));
        assert!(!second.matches(at("2027-06-30T12:00:01Z")));
        // As export writes a service's end of day, and reads it back: the same.
        let end_of_day = WantedExpiry::parse("2027-06-30T23:59:59.999Z").unwrap();
        assert!(end_of_day.matches(at("2027-06-30T23:59:59.999Z")));
        assert_eq!(end_of_day.to_string(), "2027-06-30T23:59:59.999Z");
        assert!(WantedExpiry::parse("never").unwrap().matches(None));
        assert!(WantedExpiry::parse("tomorrow").is_err());
    }

    #[test]
    fn level_codes_serialize_by_name_when_managed() {
        let json = serde_json::to_string(&[LevelCode(100), LevelCode(10), LevelCode(50)]).unwrap();
        assert_eq!(json, r#"["admin","viewer",50]"#);
        let back: Vec<LevelCode> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, [LevelCode(100), LevelCode(10), LevelCode(50)]);
        assert_eq!(LevelCode(1000).to_string(), "owner (1000)");
        assert_eq!(LevelCode(7).to_string(), "level 7");
    }
}
