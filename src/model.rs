//! The vocabulary shared by every stage: resource types and keys, access levels, the
//! accesses of an account and its resource tree, as the tool understands them once
//! decoded from the API. Everything the tool does not understand is kept, as `Other`
//! or a raw level code, so that it can be shown and left alone rather than dropped.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
    /// Behind a thin pointer: keys are held by the hundred thousand, and this keeps a
    /// key at 24 bytes instead of 40 (a `String` or a `Box<str>` would need a tag word).
    #[allow(clippy::box_collection)]
    Other(Box<String>),
}

impl ResourceType {
    pub fn from_api(name: &str) -> ResourceType {
        match name {
            "account" => ResourceType::Account,
            "billing" => ResourceType::Billing,
            "project" => ResourceType::Project,
            "inbox" => ResourceType::Inbox,
            "sending_domain" => ResourceType::SendingDomain,
            "email_campaign_permission_scope" => ResourceType::EmailCampaigns,
            other => ResourceType::Other(Box::new(other.to_string())),
        }
    }

    /// The name the API uses for this type, in rows and bulk bodies.
    pub fn api_name(&self) -> &str {
        match self {
            ResourceType::Other(name) => name,
            known => known
                .known_api_name()
                .expect("every type but Other has a fixed name"),
        }
    }

    /// [`Self::api_name`], owned, but copied only for a type this tool does not know:
    /// a bulk body of ten thousand accesses names a type in each of its rows.
    pub fn to_api_name(&self) -> std::borrow::Cow<'static, str> {
        match self.known_api_name() {
            Some(name) => name.into(),
            None => self.api_name().to_owned().into(),
        }
    }

    fn known_api_name(&self) -> Option<&'static str> {
        Some(match self {
            ResourceType::Account => "account",
            ResourceType::Billing => "billing",
            ResourceType::Project => "project",
            ResourceType::Inbox => "inbox",
            ResourceType::SendingDomain => "sending_domain",
            ResourceType::EmailCampaigns => "email_campaign_permission_scope",
            ResourceType::Other(_) => return None,
        })
    }

    /// The types a desired-state file can grant, in declaration order.
    pub const MANAGED: [ResourceType; 6] = [
        ResourceType::Account,
        ResourceType::Billing,
        ResourceType::Project,
        ResourceType::Inbox,
        ResourceType::SendingDomain,
        ResourceType::EmailCampaigns,
    ];

    /// A managed type as one byte, its place in [`ResourceType::MANAGED`]: codes sort
    /// as the types do, so rows keyed by code sort as rows keyed by type.
    pub fn managed_code(&self) -> Option<u8> {
        let at = ResourceType::MANAGED.iter().position(|kind| kind == self)?;
        Some(at as u8)
    }

    /// # Panics
    /// On a code [`ResourceType::managed_code`] never gives.
    pub fn from_managed_code(code: u8) -> ResourceType {
        ResourceType::MANAGED[usize::from(code)].clone()
    }

    pub fn is_managed(&self) -> bool {
        !matches!(self, ResourceType::Other(_))
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.api_name())
    }
}

/// A resource's identity: the pair (type, id), never the id alone, because the account,
/// its billing and its campaign scope share one id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceKey {
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

/// A level code as read back, with the names Mailtrap documents for it.
pub fn level_code_name(code: u32) -> String {
    match code {
        1000 => "owner (1000)".to_string(),
        100 => "admin".to_string(),
        50 => "viewer+ (50)".to_string(),
        10 => "viewer".to_string(),
        1 => "indeterminate (1)".to_string(),
        other => format!("level {other}"),
    }
}

/// The level code of an account owner's rows.
pub const OWNER_LEVEL: u32 = 1000;

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

/// One explicit permission row of an access, exactly as read back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row {
    pub resource: ResourceKey,
    pub level: u32,
}

impl Row {
    /// A row the tool may create, change or destroy: a known type at a writable level.
    pub fn managed_level(&self) -> Option<Level> {
        if self.resource.kind.is_managed() {
            Level::from_code(self.level)
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
    pub rows: Vec<Row>,
}

impl Access {
    pub fn is_owner(&self) -> bool {
        self.rows.iter().any(|row| row.level == OWNER_LEVEL)
    }

    /// Whether [`Access::identity`] is some, without building it.
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

/// Everything the two reads return, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LiveState {
    pub resources: Vec<Resource>,
    pub accesses: Vec<Access>,
}

impl LiveState {
    pub fn resource(&self, key: &ResourceKey) -> Option<&Resource> {
        self.resources.iter().find(|resource| &resource.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_names_read_back_and_only_unknown_ones_are_copied() {
        let unknown = ResourceType::from_api("organization");
        for kind in ResourceType::MANAGED.iter().chain([&unknown]) {
            let name = kind.to_api_name();
            assert_eq!(name, kind.api_name());
            assert_eq!(&ResourceType::from_api(&name), kind);
            let copied = matches!(name, std::borrow::Cow::Owned(_));
            assert_eq!(copied, kind == &unknown, "{kind:?}");
        }
    }

    #[test]
    fn managed_codes_round_trip_and_sort_as_the_types_do() {
        for a in &ResourceType::MANAGED {
            let code = a.managed_code().unwrap();
            assert_eq!(&ResourceType::from_managed_code(code), a);
            for b in &ResourceType::MANAGED {
                assert_eq!(
                    code.cmp(&b.managed_code().unwrap()),
                    a.cmp(b),
                    "{a:?} {b:?}"
                );
            }
        }
        assert_eq!(ResourceType::from_api("organization").managed_code(), None);
    }

    #[test]
    fn has_identity_agrees_with_identity() {
        for kind in ["User", "Invite", "ApiToken", "Robot"] {
            for (email, name) in [(None, None), (Some("A@x.io"), None), (None, Some("ci"))] {
                let access = Access {
                    id: 1,
                    kind: SpecifierKind::from_api(kind),
                    email: email.map(str::to_string),
                    name: name.map(str::to_string),
                    rows: Vec::new(),
                };
                assert_eq!(
                    access.has_identity(),
                    access.identity().is_some(),
                    "{access:?}"
                );
            }
        }
    }

    #[test]
    fn keys_and_rows_stay_small() {
        // A big account holds hundreds of thousands of rows, each decoded, resolved and
        // compared: their size is the tool's memory footprint.
        assert_eq!(std::mem::size_of::<ResourceKey>(), 24);
        assert_eq!(std::mem::size_of::<Row>(), 32);
    }
}
