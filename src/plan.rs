//! The plan: every change `apply` would make, as data. It is computed whole before
//! anything is sent, rendered for review, and executed as is. The request each change
//! becomes (path and exact bulk body) is derived here and nowhere else, so what the plan
//! shows is what apply sends.
//!
//! The types serialize as the JSON format documents them (`plan --format json`, saved
//! plans: see `saved_plan`), and deserialize back into themselves, so a saved plan is
//! this plan and nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{
    printable, Dialect, Level, LevelCode, PathFamily, ResourceKey, SpecifierKind, Vocabulary,
    WantedExpiry,
};

/// All changes for one account, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub account_id: u64,
    /// The paths and names the requests use: those the live state was read in.
    pub dialect: Dialect,
    /// One entry per access that needs a request: a bulk PUT or a DELETE.
    pub changes: BTreeMap<AccessRef, Change>,
    /// One entry per API token that needs requests, by the token's name.
    pub tokens: BTreeMap<String, TokenChange>,
    /// What the plan deliberately does not touch, so that a reviewer sees it.
    pub left_alone: Vec<LeftAlone>,
    pub tokens_left_alone: Vec<TokenLeftAlone>,
    pub warnings: Vec<Warning>,
    /// `--target`: the people and tokens the plan is restricted to; empty for all.
    pub targets: Vec<String>,
    /// The file's policies judged on the account as apply leaves it.
    pub policy_violations: Vec<crate::policy::Violation>,
}

impl Plan {
    /// The tokens this plan makes without an `expires_at`, whose expiry the service
    /// picks: created, or replacing one whose expiry has passed.
    pub fn tokens_with_service_expiry(&self) -> BTreeSet<&str> {
        (self.tokens.iter())
            .filter(|(_, change)| match change {
                TokenChange::CreateToken { to } | TokenChange::ReplaceToken { to, .. } => {
                    to.expires_at.is_none()
                }
                _ => false,
            })
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// A plan with no changes, nothing left alone and no warnings.
    pub fn new(account_id: u64, dialect: Dialect) -> Plan {
        Plan {
            account_id,
            dialect,
            changes: BTreeMap::new(),
            tokens: BTreeMap::new(),
            left_alone: Vec::new(),
            tokens_left_alone: Vec::new(),
            warnings: Vec::new(),
            targets: Vec::new(),
            policy_violations: Vec::new(),
        }
    }

    /// This plan restricted to `targets` (emails, any case, and token names): every
    /// change, left-alone item and warning about anyone else is dropped, so it is
    /// neither shown nor sent.
    pub fn only(mut self, targets: &[String]) -> Plan {
        if targets.is_empty() {
            return self;
        }
        let lowered: Vec<String> = targets.iter().map(|t| t.to_lowercase()).collect();
        // A name is a target as a token's name (exactly), or as an email (any case).
        let aimed = |name: &str| {
            targets.iter().any(|target| target == name)
                || (name.contains('@') && lowered.contains(&name.to_lowercase()))
        };
        self.changes.retain(|access, _| aimed(&access.label));
        self.tokens.retain(|name, _| targets.contains(name));
        self.left_alone.retain(|item| aimed(&item.access.label));
        self.tokens_left_alone
            .retain(|item| targets.contains(&item.name));
        self.warnings
            .retain(|warning| warning.subject().is_some_and(aimed));
        self.targets = targets.to_vec();
        self
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.tokens.is_empty()
    }

    /// The requests of the token changes, in order: each change's requests in the order
    /// they must be sent (a replacement creates the new token before deleting the old).
    pub fn token_requests(&self) -> impl Iterator<Item = (&String, &TokenChange, Vec<Request>)> {
        self.tokens.iter().map(|(name, change)| {
            let requests = change.requests(self.account_id, self.dialect, name);
            (name, change, requests)
        })
    }

    /// Whether apply will receive new secrets: it creates, replaces or resets a token.
    pub fn makes_secrets(&self) -> bool {
        self.tokens.values().any(TokenChange::makes_secret)
    }

    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for change in self.changes.values() {
            match change {
                Change::Permissions { operations } => {
                    for op in operations {
                        match op {
                            RowOp::Create { .. } => summary.create += 1,
                            RowOp::Update { .. } => summary.update += 1,
                            RowOp::Destroy { .. } => summary.destroy += 1,
                        }
                    }
                }
                Change::Remove { .. } => summary.remove += 1,
            }
        }
        for change in self.tokens.values() {
            let count = match change {
                TokenChange::CreateToken { .. } => &mut summary.tokens.create,
                TokenChange::ReplaceToken { .. } => &mut summary.tokens.replace,
                TokenChange::DeleteToken { .. } => &mut summary.tokens.delete,
                TokenChange::ResetToken { .. } => &mut summary.tokens.reset,
                TokenChange::UpdateTokenPermissions { .. } => &mut summary.tokens.update,
            };
            *count += 1;
        }
        summary
    }

    /// The requests apply sends, in order: exactly one per changed access.
    pub fn requests(&self) -> impl Iterator<Item = (&AccessRef, Request)> + '_ {
        self.changes.iter().map(|(access, change)| {
            let request = change.request(self.account_id, self.dialect, access.id);
            (access, request)
        })
    }
}

/// Counts for the summary line: rows, accesses, and API tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub destroy: usize,
    pub remove: usize,
    #[serde(default)]
    pub tokens: TokenSummary,
}

/// Token changes by action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSummary {
    pub create: usize,
    pub replace: usize,
    pub delete: usize,
    pub reset: usize,
    pub update: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} to create, {} to update, {} to destroy, {} {} to remove",
            self.create,
            self.update,
            self.destroy,
            self.remove,
            plural(self.remove, "access", "accesses")
        )?;
        let tokens = self.tokens;
        let parts: Vec<String> = [
            (tokens.create, "to create"),
            (tokens.replace, "to replace"),
            (tokens.delete, "to delete"),
            (tokens.reset, "to reset"),
            (tokens.update, "to update in place"),
        ]
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, what)| format!("{count} {what}"))
        .collect();
        if !parts.is_empty() {
            write!(f, "; API tokens: {}", parts.join(", "))?;
        }
        Ok(())
    }
}

/// `one` for a count of 1, else `many`.
pub fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 {
        one
    } else {
        many
    }
}

/// Which access a change is for. Ordered by label, so output is alphabetical.
/// Serialized as `"access_id"` and `"specifier": {"type", "email"}` (people) or
/// `{"type", "name"}` (tokens).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "AccessWire", try_from = "AccessWire")]
pub struct AccessRef {
    /// Email of a user or invite, name of a token.
    pub label: String,
    pub kind: SpecifierKind,
    pub id: u64,
}

impl fmt::Display for AccessRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (label, kind) = (printable(&self.label), printable(self.kind.api_name()));
        write!(f, "{label} ({kind}, access {})", self.id)
    }
}

#[derive(Serialize, Deserialize)]
struct AccessWire {
    access_id: u64,
    specifier: SpecifierWire,
}

#[derive(Serialize, Deserialize)]
struct SpecifierWire {
    #[serde(rename = "type")]
    kind: SpecifierKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

impl From<AccessRef> for AccessWire {
    fn from(access: AccessRef) -> Self {
        let (email, name) = if access.kind.is_person() {
            (Some(access.label), None)
        } else {
            (None, Some(access.label))
        };
        AccessWire {
            access_id: access.id,
            specifier: SpecifierWire {
                kind: access.kind,
                email,
                name,
            },
        }
    }
}

impl TryFrom<AccessWire> for AccessRef {
    type Error = String;

    fn try_from(wire: AccessWire) -> Result<Self, String> {
        let SpecifierWire { kind, email, name } = wire.specifier;
        let label = if kind.is_person() { email } else { name };
        Ok(AccessRef {
            label: label.ok_or_else(|| {
                format!(
                    "access {}: a {kind} specifier needs its {}",
                    wire.access_id,
                    if kind.is_person() { "email" } else { "name" }
                )
            })?,
            kind,
            id: wire.access_id,
        })
    }
}

/// A resource as the plan shows it: its key and, when the tree has it, its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceRef {
    #[serde(flatten)]
    pub key: ResourceKey,
    /// `Project/Inbox` for inboxes; None when the resource is not in the tree.
    pub name: Option<String>,
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = self.key.kind.noun();
        match &self.name {
            Some(name) => write!(f, "{noun} {name:?} (id {})", self.key.id),
            None => write!(f, "{noun} id {}", self.key.id),
        }
    }
}

/// What happens to one access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum Change {
    /// Rows to create, update or destroy, sent as one bulk PUT.
    #[serde(rename = "update_permissions")]
    Permissions { operations: Vec<RowOp> },
    /// The whole access is deleted (`unmanaged: remove`); the rows it held, for review.
    #[serde(rename = "remove_access")]
    Remove {
        #[serde(rename = "operations")]
        rows: Vec<HeldRow>,
    },
}

impl Change {
    /// The one request that makes this change, in the server's `dialect`.
    pub fn request(&self, account_id: u64, dialect: Dialect, access_id: u64) -> Request {
        let path = |tail: &str| match dialect.paths {
            PathFamily::Account => {
                format!("/api/accounts/{account_id}/account_accesses/{access_id}{tail}")
            }
            PathFamily::Token => format!("/api/account_accesses/{access_id}{tail}"),
        };
        match self {
            Change::Permissions { operations } => Request::BulkUpdate {
                path: path("/permissions/bulk"),
                body: BulkBody {
                    permissions: (operations.iter())
                        .map(|op| op.bulk_item(dialect.vocabulary))
                        .collect(),
                },
            },
            Change::Remove { .. } => Request::Delete { path: path("") },
        }
    }
}

/// A row an access holds, as shown when the access is removed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "OperationWire", try_from = "OperationWire")]
pub struct HeldRow {
    pub resource: ResourceRef,
    pub level: LevelCode,
}

/// One row operation inside a bulk update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "OperationWire", try_from = "OperationWire")]
pub enum RowOp {
    Create {
        resource: ResourceRef,
        to: Level,
    },
    Update {
        resource: ResourceRef,
        from: Level,
        to: Level,
    },
    Destroy {
        resource: ResourceRef,
        from: Level,
    },
}

impl RowOp {
    pub fn resource(&self) -> &ResourceRef {
        match self {
            RowOp::Create { resource, .. }
            | RowOp::Update { resource, .. }
            | RowOp::Destroy { resource, .. } => resource,
        }
    }

    /// The entry of the bulk body: `resource_id` as a string and the level by name, as
    /// the contract and the official SDKs send them; `_destroy` only ever as `true`.
    fn bulk_item(&self, vocabulary: Vocabulary) -> BulkPermission {
        let key = &self.resource().key;
        let (access_level, destroy) = match self {
            RowOp::Create { to, .. } | RowOp::Update { to, .. } => (Some(*to), None),
            RowOp::Destroy { .. } => (None, Some(true)),
        };
        BulkPermission {
            resource_id: key.id.to_string(),
            resource_type: key.kind.api_name_in(vocabulary).to_string(),
            access_level,
            destroy,
        }
    }
}

/// Row operations and held rows as the JSON format writes them: one flat shape with
/// `from` and `to` always present (`null` where there is none).
#[derive(Serialize, Deserialize)]
struct OperationWire {
    operation: OperationName,
    resource: ResourceRef,
    from: Option<LevelCode>,
    to: Option<LevelCode>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum OperationName {
    Create,
    Update,
    Destroy,
    Remove,
}

impl From<RowOp> for OperationWire {
    fn from(op: RowOp) -> Self {
        let (operation, resource, from, to) = match op {
            RowOp::Create { resource, to } => (OperationName::Create, resource, None, Some(to)),
            RowOp::Update { resource, from, to } => {
                (OperationName::Update, resource, Some(from), Some(to))
            }
            RowOp::Destroy { resource, from } => {
                (OperationName::Destroy, resource, Some(from), None)
            }
        };
        OperationWire {
            operation,
            resource,
            from: from.map(LevelCode::from),
            to: to.map(LevelCode::from),
        }
    }
}

impl TryFrom<OperationWire> for RowOp {
    type Error = String;

    fn try_from(wire: OperationWire) -> Result<Self, String> {
        let level = |code: Option<LevelCode>, side: &str| {
            code.and_then(LevelCode::managed)
                .ok_or_else(|| format!("this operation needs `{side}` to be admin or viewer"))
        };
        let none = |code: Option<LevelCode>, side: &str| match code {
            None => Ok(()),
            Some(_) => Err(format!("this operation has no `{side}`")),
        };
        let resource = wire.resource;
        Ok(match wire.operation {
            OperationName::Create => {
                none(wire.from, "from")?;
                RowOp::Create {
                    to: level(wire.to, "to")?,
                    resource,
                }
            }
            OperationName::Update => RowOp::Update {
                from: level(wire.from, "from")?,
                to: level(wire.to, "to")?,
                resource,
            },
            OperationName::Destroy => {
                none(wire.to, "to")?;
                RowOp::Destroy {
                    from: level(wire.from, "from")?,
                    resource,
                }
            }
            OperationName::Remove => {
                return Err("`remove` belongs to a remove_access change".to_string())
            }
        })
    }
}

impl From<HeldRow> for OperationWire {
    fn from(row: HeldRow) -> Self {
        OperationWire {
            operation: OperationName::Remove,
            resource: row.resource,
            from: Some(row.level),
            to: None,
        }
    }
}

impl TryFrom<OperationWire> for HeldRow {
    type Error = String;

    fn try_from(wire: OperationWire) -> Result<Self, String> {
        match (wire.operation, wire.from, wire.to) {
            (OperationName::Remove, Some(level), None) => Ok(HeldRow {
                resource: wire.resource,
                level,
            }),
            _ => Err(
                "a remove_access change lists `remove` operations with a `from` level and no `to`"
                    .to_string(),
            ),
        }
    }
}

/// An HTTP request apply will send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", deny_unknown_fields)]
pub enum Request {
    #[serde(rename = "PUT")]
    BulkUpdate { path: String, body: BulkBody },
    /// Deletes an access or an API token.
    #[serde(rename = "DELETE")]
    Delete { path: String },
    /// Creates or resets an API token; the answer holds the new secret.
    #[serde(rename = "POST")]
    Post { path: String, body: PostBody },
}

impl Request {
    /// `METHOD path`, for messages.
    pub fn describe(&self) -> String {
        match self {
            Request::BulkUpdate { path, .. } => format!("PUT {path}"),
            Request::Delete { path } => format!("DELETE {path}"),
            Request::Post { path, .. } => format!("POST {path}"),
        }
    }

    /// The JSON body, if the request has one.
    pub fn body_json(&self) -> Option<Vec<u8>> {
        let body = match self {
            Request::BulkUpdate { body, .. } => serde_json::to_vec(body),
            Request::Post { body, .. } => serde_json::to_vec(body),
            Request::Delete { .. } => return None,
        };
        Some(body.expect("request bodies always serialize"))
    }
}

/// The body of a POST: creating a token, or resetting one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PostBody {
    CreateToken(CreateTokenBody),
    ResetToken(ResetTokenBody),
}

/// The body of `POST .../api_tokens`: ids as numbers and levels as their codes, as the
/// API Tokens API answers them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenBody {
    pub name: String,
    pub resources: Vec<TokenResource>,
    /// Absent: the service's default; `null`: never expires.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_or_null"
    )]
    pub expires_at: Option<Option<String>>,
}

/// The body of `POST .../api_tokens/{id}/reset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetTokenBody {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_or_null"
    )]
    pub expires_at: Option<Option<String>>,
}

/// A field that may be absent (outer `None`) or `null` (inner `None`).
fn present_or_null<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenResource {
    /// In the server's vocabulary.
    pub resource_type: String,
    pub resource_id: u64,
    pub access_level: u32,
}

/// The body of `PUT .../permissions/bulk`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    pub permissions: Vec<BulkPermission>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkPermission {
    pub resource_id: String,
    /// In the server's vocabulary.
    pub resource_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_level: Option<Level>,
    #[serde(rename = "_destroy", default, skip_serializing_if = "Option::is_none")]
    pub destroy: Option<bool>,
}

/// A token's rows and expiry, as the plan shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSpec {
    pub resources: Vec<TokenRow>,
    /// `never`, a date or a date-time; absent in a `to`: the service's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<WantedExpiry>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TokenRow {
    pub resource: ResourceRef,
    pub level: LevelCode,
}

/// What happens to one API token. The API has no call that changes a token's rows or
/// expiry, so a token that differs is replaced, unless the account listing shows its
/// access, whose rows the bulk call can change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TokenChange {
    /// Not in the account: created.
    CreateToken { to: TokenSpec },
    /// Its rows or expiry differ: a new token is created, then the old one deleted.
    ReplaceToken {
        token_id: u64,
        from: TokenSpec,
        to: TokenSpec,
    },
    /// In the account, not in the file, and `unmanaged_tokens: remove`.
    DeleteToken { token_id: u64, from: TokenSpec },
    /// `--reset-token`: a new id and secret, the same rows (the old secret works for
    /// the service's grace period).
    ResetToken { token_id: u64, from: TokenSpec },
    /// The account listing shows the token's access: its rows change in place and the
    /// secret is kept.
    UpdateTokenPermissions {
        token_id: u64,
        access_id: u64,
        operations: Vec<RowOp>,
    },
}

impl TokenChange {
    /// The token's id in the account; `None` for one to be created.
    pub fn token_id(&self) -> Option<u64> {
        match self {
            TokenChange::CreateToken { .. } => None,
            TokenChange::ReplaceToken { token_id, .. }
            | TokenChange::DeleteToken { token_id, .. }
            | TokenChange::ResetToken { token_id, .. }
            | TokenChange::UpdateTokenPermissions { token_id, .. } => Some(*token_id),
        }
    }

    /// Its `action` in the JSON format.
    pub fn action(&self) -> &'static str {
        match self {
            TokenChange::CreateToken { .. } => "create_token",
            TokenChange::ReplaceToken { .. } => "replace_token",
            TokenChange::DeleteToken { .. } => "delete_token",
            TokenChange::ResetToken { .. } => "reset_token",
            TokenChange::UpdateTokenPermissions { .. } => "update_token_permissions",
        }
    }

    /// Whether its answer holds a new secret.
    pub fn makes_secret(&self) -> bool {
        matches!(
            self,
            TokenChange::CreateToken { .. }
                | TokenChange::ReplaceToken { .. }
                | TokenChange::ResetToken { .. }
        )
    }

    /// The requests that make this change, in the order they must be sent, in the
    /// server's `dialect`.
    pub fn requests(&self, account_id: u64, dialect: Dialect, name: &str) -> Vec<Request> {
        let tokens = |tail: String| match dialect.paths {
            PathFamily::Account => format!("/api/accounts/{account_id}/api_tokens{tail}"),
            PathFamily::Token => format!("/api/api_tokens{tail}"),
        };
        let create = |to: &TokenSpec| Request::Post {
            path: tokens(String::new()),
            body: PostBody::CreateToken(CreateTokenBody {
                name: name.to_string(),
                resources: (to.resources.iter())
                    .map(|row| TokenResource {
                        resource_type: row
                            .resource
                            .key
                            .kind
                            .api_name_in(dialect.vocabulary)
                            .to_string(),
                        resource_id: row.resource.key.id,
                        access_level: row.level.0,
                    })
                    .collect(),
                expires_at: to.expires_at.map(|expiry| expiry.api_value()),
            }),
        };
        let delete = |id: u64| Request::Delete {
            path: tokens(format!("/{id}")),
        };
        match self {
            TokenChange::CreateToken { to } => vec![create(to)],
            TokenChange::ReplaceToken { token_id, to, .. } => vec![create(to), delete(*token_id)],
            TokenChange::DeleteToken { token_id, .. } => vec![delete(*token_id)],
            TokenChange::ResetToken { token_id, from } => vec![Request::Post {
                path: tokens(format!("/{token_id}/reset")),
                body: PostBody::ResetToken(ResetTokenBody {
                    expires_at: from.expires_at.map(|expiry| expiry.api_value()),
                }),
            }],
            TokenChange::UpdateTokenPermissions {
                access_id,
                operations,
                ..
            } => vec![Change::Permissions {
                operations: operations.clone(),
            }
            .request(account_id, dialect, *access_id)],
        }
    }
}

/// A token the plan sees and deliberately does not change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TokenLeftAlone {
    pub name: String,
    pub token_id: u64,
    #[serde(flatten)]
    pub reason: TokenLeftAloneReason,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum TokenLeftAloneReason {
    /// It may be the token this tool runs with (its last four digits match, or the
    /// listing does not give them).
    InUse,
    /// In the account, not in the file, and `unmanaged_tokens: ignore`.
    NotInFile,
    /// Another token has the same name: the file cannot say which is meant.
    SameName,
    /// It holds a row of a type or level the tool does not manage, which a new token
    /// made to replace it would lose.
    HoldsUnmanagedRows,
    /// Its name matches an `ignore` pattern.
    Ignored { pattern: String },
}

impl TokenLeftAloneReason {
    /// Why, in a few words.
    fn why(&self) -> String {
        match self {
            TokenLeftAloneReason::InUse => "it may be the token this tool runs with".into(),
            TokenLeftAloneReason::NotInFile => "not in the file".into(),
            TokenLeftAloneReason::SameName => "another token has the same name".into(),
            TokenLeftAloneReason::HoldsUnmanagedRows => {
                "it holds rows this tool does not manage".into()
            }
            TokenLeftAloneReason::Ignored { pattern } => {
                format!("it matches the ignore pattern {:?}", printable(pattern))
            }
        }
    }
}

impl fmt::Display for TokenLeftAlone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = printable(&self.name);
        write!(f, "API token {name:?} (id {}): ", self.token_id)?;
        match &self.reason {
            TokenLeftAloneReason::InUse => f.write_str(
                "it may be the token this tool runs with: never deleted, replaced or reset",
            ),
            TokenLeftAloneReason::NotInFile => {
                f.write_str("not in the file (unmanaged_tokens: ignore)")
            }
            TokenLeftAloneReason::SameName => {
                f.write_str("another token has the same name: neither is changed")
            }
            TokenLeftAloneReason::HoldsUnmanagedRows => f.write_str(
                "it holds rows this tool does not manage, which replacing it would lose",
            ),
            reason @ TokenLeftAloneReason::Ignored { .. } => {
                write!(f, "{}: never changed", reason.why())
            }
        }
    }
}

/// Something the plan sees and deliberately does not change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LeftAlone {
    #[serde(flatten)]
    pub access: AccessRef,
    #[serde(flatten)]
    pub reason: LeftAloneReason,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum LeftAloneReason {
    /// The account owner's access is never changed.
    Owner,
    /// A row of a type or level the tool does not manage.
    UnmanagedRow {
        resource: ResourceRef,
        level: LevelCode,
    },
    /// In the account, not in the file, and `unmanaged: ignore`.
    NotInFile,
    /// Not in the file under `unmanaged: remove`, but it holds rows the tool does not
    /// manage, so deleting the access would destroy them.
    HoldsUnmanagedRows,
    /// A row on a resource the resource tree does not show (deleted, or one this token
    /// does not administer): the file cannot name it, and a bulk call on it would fail.
    NotInTree {
        resource: ResourceRef,
        level: LevelCode,
    },
    /// Its email or name is also another access's, holding other rows: one entry of the
    /// file cannot say which rows each should have.
    SameNameDifferentRows,
    /// Held by a kind of specifier the tool does not know (not a user, invite or token),
    /// or by a token without a name: nothing in the file can name it.
    UnknownSpecifier,
    /// Its email or name matches an `ignore` pattern: never changed nor removed.
    Ignored { pattern: String },
}

impl fmt::Display for LeftAloneReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeftAloneReason::Owner => f.write_str("account owner: never changed"),
            LeftAloneReason::UnmanagedRow { resource, level } => {
                write!(f, "{resource} at {level}: not managed by this tool")
            }
            LeftAloneReason::NotInFile => f.write_str("not in the file (unmanaged: ignore)"),
            LeftAloneReason::HoldsUnmanagedRows => {
                f.write_str("not in the file, but kept: it holds rows this tool does not manage")
            }
            LeftAloneReason::NotInTree { resource, level } => write!(
                f,
                "{resource} at {level}: not in the resource tree this token sees"
            ),
            LeftAloneReason::SameNameDifferentRows => f.write_str(
                "another access has the same email or name and other rows: neither is changed",
            ),
            LeftAloneReason::UnknownSpecifier => {
                f.write_str("a kind of access this tool does not manage: never changed")
            }
            LeftAloneReason::Ignored { pattern } => write!(
                f,
                "matches the ignore pattern {:?}: never changed",
                printable(pattern)
            ),
        }
    }
}

/// `bob@acme.com`, or `API token "CI deploy"`, for messages.
fn subject_name(name: &str, api_token: bool) -> String {
    if api_token {
        format!("API token {:?}", printable(name))
    } else {
        printable(name).into_owned()
    }
}

impl Warning {
    /// The person or token it is about (an email or a token's name), if it is about one.
    fn subject(&self) -> Option<&str> {
        match self {
            Warning::NotInAccount { email } => Some(email),
            Warning::EmptyListing => None,
            Warning::SameNameDifferentRows { name, .. }
            | Warning::TokenNotChanged { name, .. }
            | Warning::TokenReplaced { name, .. }
            | Warning::TokenExpiresSoon { name, .. }
            | Warning::TokenNeverExpires { name }
            | Warning::TokenNotReset { name, .. }
            | Warning::AccessExpired { name, .. }
            | Warning::AccessEndsSoon { name, .. } => Some(name),
            Warning::OwnerInFile { access } | Warning::LevelNotManaged { access, .. } => {
                Some(&access.label)
            }
        }
    }
}

/// Something a reviewer must know; nothing is sent because of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    /// A user in the file who is neither a user nor an invite of the account.
    NotInAccount { email: String },
    /// A token the file would change that is left alone (in use, or holding rows the
    /// tool does not manage): the file's entry for it is not applied.
    TokenNotChanged {
        name: String,
        token_id: u64,
        why: TokenLeftAloneReason,
    },
    /// A token is replaced: whatever uses its secret stops working.
    TokenReplaced { name: String, token_id: u64 },
    /// A token expires within the warning window.
    TokenExpiresSoon {
        name: String,
        expires_at: jiff::Timestamp,
        days: i64,
    },
    /// A token that never expires, in the account or created by the plan.
    TokenNeverExpires { name: String },
    /// An entry's `expires` has passed: its grants are none from then on.
    AccessExpired {
        name: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        api_token: bool,
        on: WantedExpiry,
    },
    /// An entry's `expires` comes within the file's `expiry_warning`.
    AccessEndsSoon {
        name: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        api_token: bool,
        on: WantedExpiry,
        days: i64,
    },
    /// `--reset-token` named a token the plan changes otherwise: one change per token.
    TokenNotReset {
        name: String,
        token_id: u64,
        planned: String,
    },
    /// The account listing is empty: usually a wrong account id or a token of another
    /// account. Nothing can be sent for an empty listing.
    EmptyListing,
    /// Several accesses share an email (any case) or a token name and hold different
    /// rows; the file's entry for it is not applied to any of them.
    SameNameDifferentRows { name: String, access_ids: Vec<u64> },
    /// The owner is listed with grants; they are not applied.
    OwnerInFile {
        #[serde(flatten)]
        access: AccessRef,
    },
    /// The file wants a level on a resource where the access holds a level the tool
    /// does not manage (viewer+, indeterminate): the row is left as it is.
    LevelNotManaged {
        #[serde(flatten)]
        access: AccessRef,
        resource: ResourceRef,
        current: LevelCode,
        wanted: Level,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::NotInAccount { email } => write!(
                f,
                "{} is not in the account: the API cannot create users; invite them in Mailtrap first. Nothing is sent for them.",
                printable(email)
            ),
            Warning::TokenNotChanged { name, token_id, why } => write!(
                f,
                "API token {:?} (id {token_id}) differs from the file, but is left alone ({}); the file's entry for it is not applied.",
                printable(name),
                why.why()
            ),
            Warning::TokenReplaced { name, token_id } => write!(
                f,
                "API token {:?} (id {token_id}) is replaced: a new token is created and the old one deleted, so everything using the old secret stops working until it is given the new one.",
                printable(name)
            ),
            Warning::TokenExpiresSoon { name, expires_at, days } if *days < 0 => write!(
                f,
                "API token {:?} expired {} {} ago ({expires_at}).",
                printable(name),
                days.unsigned_abs(),
                plural(usize::try_from(days.unsigned_abs()).unwrap_or(0), "day", "days")
            ),
            Warning::TokenExpiresSoon { name, expires_at, days } => write!(
                f,
                "API token {:?} expires in {days} {} ({expires_at}).",
                printable(name),
                plural(usize::try_from(*days).unwrap_or(0), "day", "days")
            ),
            Warning::TokenNeverExpires { name } => write!(
                f,
                "API token {:?} never expires.",
                printable(name)
            ),
            Warning::AccessExpired { name, api_token, on } => write!(
                f,
                "{}'s access expired on {on}: from then on its grants are none.",
                subject_name(name, *api_token)
            ),
            Warning::AccessEndsSoon { name, api_token, on, days } => write!(
                f,
                "{}'s access ends in {days} {} ({on}).",
                subject_name(name, *api_token),
                plural(usize::try_from(*days).unwrap_or(0), "day", "days")
            ),
            Warning::TokenNotReset { name, token_id, planned } => write!(
                f,
                "--reset-token {:?}: token {token_id} is not reset, because the plan already changes it ({planned}); reset it in a later run if it still needs a new secret.",
                printable(name)
            ),
            Warning::EmptyListing => f.write_str(
                "the account listing is empty, which usually means a wrong account id or a token of another account; nothing is sent.",
            ),
            Warning::SameNameDifferentRows { name, access_ids } => write!(
                f,
                "{} names {} accesses ({}) that hold different rows: none of them is changed. Make their rows equal in Mailtrap, or remove all but one.",
                printable(name),
                access_ids.len(),
                access_ids.iter().map(|id| format!("access {id}")).collect::<Vec<_>>().join(", ")
            ),
            Warning::OwnerInFile { access } => write!(
                f,
                "{access} is the account owner: the owner's access is never changed; its grants in the file are ignored."
            ),
            Warning::LevelNotManaged {
                access,
                resource,
                current,
                wanted,
            } => write!(
                f,
                "{access}: {resource} is at {current}, which this tool does not manage; the file's {wanted} is not applied."
            ),
        }
    }
}
