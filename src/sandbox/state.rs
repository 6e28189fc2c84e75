//! The simulated account and everything the API can do to it, without HTTP: the
//! `--state` file format, the checks a seed must pass, and the three access operations
//! (list with filters, bulk-update rows, delete); the API tokens' operations are in
//! `api_tokens`. The state file is `{"account_id", "resources", "accesses",
//! "api_tokens"}`: `resources` and `accesses` are exactly the bodies of the two GET
//! endpoints (`accesses` may add `ApiToken` entries, which the listing hides), and
//! `api_tokens` (optional, left out when empty) holds the account's API tokens, each
//! `{"id", "name", "created_by", "expires_at", "resources", "token"}` with its secret in
//! `token` (see `ApiTokenRecord`). The state is held in the canonical (old) names,
//! `inbox` and `sending_domain`, whichever vocabulary the seed was written in; the
//! operations take the vocabulary a client speaks.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::api_tokens::{ApiTokenRecord, TOKEN_RESOURCE_TYPES};
use super::timestamp::Timestamp;
use super::vocabulary::{Vocabulary, RENAMED};

/// The resource types of the contract, in the canonical (old) names: the only ones a
/// bulk update may write. Rows of any other type (`organization` on an owner,
/// `email_template_permission_scope`) are read and kept, never written.
/// `Vocabulary::writable_resource_types` spells them in either vocabulary.
pub const WRITABLE_RESOURCE_TYPES: [&str; 6] = [
    "account",
    "billing",
    "project",
    "inbox",
    "sending_domain",
    "email_campaign_permission_scope",
];
pub const OWNER_LEVEL: u32 = 1000;
pub const ADMIN_LEVEL: u32 = 100;
pub const VIEWER_PLUS_LEVEL: u32 = 50;
pub const VIEWER_LEVEL: u32 = 10;
pub const INDETERMINATE_LEVEL: u32 = 1;
/// Every level the service reports on a row; only admin and viewer can be written.
const REPORTED_LEVELS: [u32; 5] = [
    OWNER_LEVEL,
    ADMIN_LEVEL,
    VIEWER_PLUS_LEVEL,
    VIEWER_LEVEL,
    INDETERMINATE_LEVEL,
];
/// The service's own answer to an empty (or absent) `permissions` array.
pub const NO_PERMISSIONS_SELECTED: &str = "No permissions selected. Please choose at least one.";

const DEMO_ACCOUNT_JSON: &str = include_str!("../../examples/sandbox-account.json");

/// The whole simulated account, in the `--state` file format. Types are held in the
/// canonical (old) names once `canonicalize` has run, as `from_json` and
/// `Sandbox::start` make sure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxState {
    pub account_id: u64,
    /// Exactly the body of `GET .../permissions/resources`.
    pub resources: Vec<ResourceNode>,
    /// Exactly the body of `GET .../account_accesses`, plus `ApiToken` entries.
    pub accesses: Vec<AccountAccess>,
    /// The API tokens, secrets included: what `GET .../api_tokens` serves, without them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_tokens: Vec<ApiTokenRecord>,
}

/// One node of the resource tree, `{id, name, type, access_level, resources}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceNode {
    pub id: u64,
    pub name: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    /// The calling token's own level on this resource (not anyone else's).
    pub access_level: u32,
    #[serde(default)]
    pub resources: Vec<ResourceNode>,
    /// Fields the service may add that the sandbox has no use for, returned as seeded.
    #[serde(flatten, serialize_with = "in_service_order")]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SpecifierType {
    User,
    Invite,
    ApiToken,
}

/// One entry of the accesses list, serialized in the service's field order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountAccess {
    pub id: u64,
    pub specifier_type: SpecifierType,
    pub resources: Vec<AccessRow>,
    /// Kept as given: its fields differ per specifier type (an Invite has only id and
    /// email, a User adds name and 2FA, an ApiToken has name, author_name, token, expires_at).
    #[serde(serialize_with = "in_service_order")]
    pub specifier: Map<String, Value>,
    /// `permissions` and anything else the service sends, returned as seeded.
    #[serde(flatten, serialize_with = "in_service_order")]
    pub extra: Map<String, Value>,
}

/// One explicit permission row of an access: `(resource_type, resource_id)` at a level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessRow {
    pub resource_type: String,
    pub resource_id: u64,
    pub access_level: u32,
    #[serde(flatten, serialize_with = "in_service_order")]
    pub extra: Map<String, Value>,
}

/// The key order of the objects the service nests in its entries. `serde_json::Map`
/// sorts keys, so without this a specifier would read `{"email", "id", ...}`; unknown
/// keys follow the known ones, alphabetically.
const SERVICE_KEY_ORDER: [&str; 11] = [
    "id",
    "email",
    "name",
    "two_factor_authentication_enabled",
    "author_name",
    "token",
    "expires_at",
    "can_read",
    "can_update",
    "can_destroy",
    "can_leave",
];

fn in_service_order<S: Serializer>(
    map: &Map<String, Value>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut out = serializer.serialize_map(Some(map.len()))?;
    write_in_service_order(map, &mut out)?;
    out.end()
}

/// The entries of `map`, in the service's key order, into a map being serialized: how
/// flattened extra fields follow the known ones.
pub(super) fn write_in_service_order<M: SerializeMap>(
    map: &Map<String, Value>,
    out: &mut M,
) -> Result<(), M::Error> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    // Stable: keys the order does not know keep the map's alphabetical order.
    entries.sort_by_key(|(key, _)| {
        SERVICE_KEY_ORDER
            .iter()
            .position(|known| known == key)
            .unwrap_or(SERVICE_KEY_ORDER.len())
    });
    for (key, value) in entries {
        out.serialize_entry(key, &InServiceOrder(value))?;
    }
    Ok(())
}

/// A map serialized in the service's key order, for callers outside `serialize_with`.
pub(super) struct InServiceOrderMap<'a>(pub &'a Map<String, Value>);

impl Serialize for InServiceOrderMap<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        in_service_order(self.0, serializer)
    }
}

struct InServiceOrder<'a>(&'a Value);

impl Serialize for InServiceOrder<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => in_service_order(map, serializer),
            Value::Array(items) => serializer.collect_seq(items.iter().map(InServiceOrder)),
            other => other.serialize(serializer),
        }
    }
}

impl AccountAccess {
    /// Owners cannot be changed or removed through the API.
    pub fn is_owner(&self) -> bool {
        self.resources
            .iter()
            .any(|row| row.access_level == OWNER_LEVEL)
    }

    /// The list endpoint shows users and invites; API tokens exist but are not listed.
    pub fn is_listed(&self) -> bool {
        self.specifier_type != SpecifierType::ApiToken
    }

    fn has_row_on(&self, resources: &HashSet<(&str, u64)>) -> bool {
        self.resources
            .iter()
            .any(|row| resources.contains(&(row.resource_type.as_str(), row.resource_id)))
    }
}

/// A seed that cannot be an account; the message says where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StateError(String);

/// Why an access operation was refused; the HTTP layer turns it into a status and body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperationError {
    #[error("no account access with id {0}")]
    AccessNotFound(u64),
    #[error("no API token with id {0}")]
    TokenNotFound(u64),
    #[error("account access {0} belongs to an owner")]
    OwnerAccess(u64),
    #[error("invalid permissions: {0:?}")]
    Invalid(ValidationErrors),
}

/// The 422 body's `errors` object: field name to messages, in a stable order.
pub type ValidationErrors = BTreeMap<String, Vec<String>>;

/// One validated item of a bulk body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RowChange {
    resource_type: String,
    resource_id: u64,
    /// `None` for `"_destroy": true`.
    level: Option<u32>,
}

/// The `project_ids` / `inbox_ids` / `domain_ids` filters of the list endpoint. An access
/// matches when it has an explicit row on any of the named resources (the union of all
/// three filters); without any filter every listed access matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessFilter {
    active: bool,
    resources: HashSet<(&'static str, u64)>,
}

impl AccessFilter {
    /// Build the filter from decoded query pairs; both `key=1&key=2` and `key[]=1` count.
    /// A value that is not an id activates the filter but matches nothing, as a database
    /// lookup of a non-numeric id would.
    /// The filter names are the old vocabulary's (`inbox_ids`).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> AccessFilter {
        AccessFilter::from_pairs_in(pairs, Vocabulary::Old)
    }

    /// As `from_pairs`, with the inbox filter of `vocabulary` (`inbox_ids` or
    /// `sandbox_ids`). The other vocabulary's name is a parameter like any unknown one,
    /// ignored, as a Rails controller ignores what it does not permit.
    pub fn from_pairs_in<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        vocabulary: Vocabulary,
    ) -> AccessFilter {
        let mut filter = AccessFilter::default();
        for (key, value) in pairs {
            let resource_type = match key.strip_suffix("[]").unwrap_or(key) {
                "project_ids" => "project",
                "domain_ids" => "sending_domain",
                inboxes if inboxes == vocabulary.inbox_filter() => "inbox",
                _ => continue,
            };
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            filter.active = true;
            if let Ok(id) = value.parse::<u64>() {
                filter.resources.insert((resource_type, id));
            }
        }
        filter
    }

    fn matches(&self, access: &AccountAccess) -> bool {
        !self.active || access.has_row_on(&self.resources)
    }
}

impl SandboxState {
    /// The demo account shipped as `examples/sandbox-account.json`.
    pub fn demo() -> SandboxState {
        SandboxState::from_json(DEMO_ACCOUNT_JSON)
            .unwrap_or_else(|err| panic!("the bundled demo account is invalid: {err}"))
    }

    /// Parse and check a state document; errors carry the JSON path of the culprit.
    pub fn from_json(text: &str) -> Result<SandboxState, StateError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let state: SandboxState =
            serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
                let path = err.path().to_string();
                let inner = err.into_inner();
                if path == "." {
                    StateError(inner.to_string())
                } else {
                    StateError(format!("{path}: {inner}"))
                }
            })?;
        deserializer
            .end()
            .map_err(|err| StateError(format!("after the state object: {err}")))?;
        let mut state = state;
        state.canonicalize()?;
        state.validate()?;
        Ok(state)
    }

    /// Read a state file; the error names the file.
    pub fn load(path: &Path) -> anyhow::Result<SandboxState> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| anyhow::anyhow!("sandbox state file {}: {err}", path.display()))?;
        SandboxState::from_json(&text)
            .map_err(|err| anyhow::anyhow!("sandbox state file {}: {err}", path.display()))
    }

    pub fn account_id(&self) -> u64 {
        self.account_id
    }

    pub fn access(&self, access_id: u64) -> Option<&AccountAccess> {
        self.accesses.iter().find(|access| access.id == access_id)
    }

    /// `(resource_type, resource_id, access_level)` of every row of one access, in
    /// order; none for an access that is not there. What a test compares after a write.
    /// Types are the canonical (old) names whatever vocabulary the sandbox serves.
    pub fn rows(&self, access_id: u64) -> Vec<(String, u64, u32)> {
        self.access(access_id)
            .map(|access| {
                access
                    .resources
                    .iter()
                    .map(|row| (row.resource_type.clone(), row.resource_id, row.access_level))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every `(type, id)` in the resource tree: the resources a bulk update may name.
    pub fn resource_keys(&self) -> HashSet<(String, u64)> {
        let mut keys = HashSet::new();
        let mut pending: Vec<&ResourceNode> = self.resources.iter().collect();
        while let Some(node) = pending.pop() {
            keys.insert((node.resource_type.clone(), node.id));
            pending.extend(node.resources.iter());
        }
        keys
    }

    /// Rename the new vocabulary's types (`sandbox`, `domain`) to the canonical ones, so a
    /// seed may be written in either vocabulary. A state that spells one kind both ways
    /// is refused, naming both places: it cannot have come from one server.
    pub fn canonicalize(&mut self) -> Result<(), StateError> {
        // For each renamed kind, where its old and its new name were first seen.
        let mut seen: [(Option<String>, Option<String>); RENAMED.len()] = Default::default();
        let mut note = |name: &str, path: &dyn Fn() -> String| {
            for (index, (old, new)) in RENAMED.iter().enumerate() {
                let slot = if name == *old {
                    &mut seen[index].0
                } else if name == *new {
                    &mut seen[index].1
                } else {
                    continue;
                };
                if slot.is_none() {
                    *slot = Some(path());
                }
            }
        };
        let mut pending: Vec<(String, &ResourceNode)> = self
            .resources
            .iter()
            .enumerate()
            .map(|(index, node)| (format!("resources[{index}]"), node))
            .rev()
            .collect();
        while let Some((path, node)) = pending.pop() {
            note(&node.resource_type, &|| format!("{path}.type"));
            for (index, child) in node.resources.iter().enumerate().rev() {
                pending.push((format!("{path}.resources[{index}]"), child));
            }
        }
        for (index, access) in self.accesses.iter().enumerate() {
            for (row_index, row) in access.resources.iter().enumerate() {
                note(&row.resource_type, &|| {
                    format!("accesses[{index}].resources[{row_index}].resource_type")
                });
            }
        }
        for (index, token) in self.api_tokens.iter().enumerate() {
            for (resource_index, resource) in token.resources.iter().enumerate() {
                note(&resource.resource_type, &|| {
                    format!("api_tokens[{index}].resources[{resource_index}].resource_type")
                });
            }
        }
        for ((old, new), (old_at, new_at)) in RENAMED.iter().zip(&seen) {
            if let (Some(old_at), Some(new_at)) = (old_at, new_at) {
                return Err(StateError(format!(
                    "{new_at}: \"{new}\" (the new vocabulary) and \"{old}\" at {old_at} (the old \
                     one) name the same kind: write the state in one vocabulary"
                )));
            }
        }
        let rename = |name: &mut String| {
            if let Some((old, _)) = RENAMED.iter().find(|(_, new)| new == name) {
                *name = (*old).to_owned();
            }
        };
        let mut pending: Vec<&mut ResourceNode> = self.resources.iter_mut().collect();
        while let Some(node) = pending.pop() {
            rename(&mut node.resource_type);
            pending.extend(node.resources.iter_mut());
        }
        for access in &mut self.accesses {
            for row in &mut access.resources {
                rename(&mut row.resource_type);
            }
        }
        for token in &mut self.api_tokens {
            for resource in &mut token.resources {
                rename(&mut resource.resource_type);
            }
        }
        Ok(())
    }

    /// Check what deserialization cannot: unique identities, known levels, and rows that
    /// point into the tree. `Sandbox::start` runs this too, for states built in code.
    pub fn validate(&self) -> Result<(), StateError> {
        if self.account_id == 0 {
            return Err(StateError("account_id: must be a positive integer".into()));
        }
        let mut tree_paths: HashMap<(String, u64), String> = HashMap::new();
        let mut pending: Vec<(String, &ResourceNode)> = self
            .resources
            .iter()
            .enumerate()
            .map(|(index, node)| (format!("resources[{index}]"), node))
            .collect();
        pending.reverse();
        while let Some((path, node)) = pending.pop() {
            if node.resource_type.trim().is_empty() {
                return Err(StateError(format!("{path}.type: must not be empty")));
            }
            if node.resource_type == "account" && node.id != self.account_id {
                return Err(StateError(format!(
                    "{path}: the account node has id {} but account_id is {}",
                    node.id, self.account_id
                )));
            }
            let key = (node.resource_type.clone(), node.id);
            if let Some(first) = tree_paths.get(&key) {
                return Err(StateError(format!(
                    "{path}: duplicate resource {} {} (already at {first})",
                    node.resource_type, node.id
                )));
            }
            tree_paths.insert(key, path.clone());
            for (index, child) in node.resources.iter().enumerate().rev() {
                pending.push((format!("{path}.resources[{index}]"), child));
            }
        }

        let mut access_ids: HashMap<u64, usize> = HashMap::new();
        let mut specifiers: HashMap<(SpecifierType, u64), usize> = HashMap::new();
        for (index, access) in self.accesses.iter().enumerate() {
            let path = format!("accesses[{index}]");
            if let Some(first) = access_ids.insert(access.id, index) {
                return Err(StateError(format!(
                    "{path}.id: duplicate access id {} (also accesses[{first}])",
                    access.id
                )));
            }
            let specifier_id = access
                .specifier
                .get("id")
                .and_then(Value::as_u64)
                .ok_or_else(|| {
                    StateError(format!("{path}.specifier.id: missing or not an integer"))
                })?;
            if access.specifier_type != SpecifierType::ApiToken
                && !access.specifier.get("email").is_some_and(Value::is_string)
            {
                return Err(StateError(format!(
                    "{path}.specifier.email: a {:?} needs an email",
                    access.specifier_type
                )));
            }
            if let Some(first) = specifiers.insert((access.specifier_type, specifier_id), index) {
                return Err(StateError(format!(
                    "{path}.specifier: {:?} {specifier_id} already has access accesses[{first}]",
                    access.specifier_type
                )));
            }
            let mut rows: HashSet<(&str, u64)> = HashSet::new();
            for (row_index, row) in access.resources.iter().enumerate() {
                let row_path = format!("{path}.resources[{row_index}]");
                if !REPORTED_LEVELS.contains(&row.access_level) {
                    return Err(StateError(format!(
                        "{row_path}.access_level: {} is not a level the service reports \
                         (1000, 100, 50, 10, 1)",
                        row.access_level
                    )));
                }
                if row.resource_type.trim().is_empty() {
                    return Err(StateError(format!(
                        "{row_path}.resource_type: must not be empty"
                    )));
                }
                // Rows of types outside the contract (organization, ...) point at things
                // the tree never lists, so only contract types must resolve.
                let key = (row.resource_type.clone(), row.resource_id);
                if WRITABLE_RESOURCE_TYPES.contains(&row.resource_type.as_str())
                    && !tree_paths.contains_key(&key)
                {
                    return Err(StateError(format!(
                        "{row_path}: {} {} is not in the resource tree",
                        row.resource_type, row.resource_id
                    )));
                }
                if !rows.insert((row.resource_type.as_str(), row.resource_id)) {
                    return Err(StateError(format!(
                        "{row_path}: duplicate row for {} {}",
                        row.resource_type, row.resource_id
                    )));
                }
            }
        }
        self.validate_api_tokens(&tree_paths)
    }

    /// Unique ids and secrets, a name, a readable expiry, and resources of the types and
    /// levels a token can hold, in the tree. Messages never quote a secret.
    fn validate_api_tokens(
        &self,
        tree_paths: &HashMap<(String, u64), String>,
    ) -> Result<(), StateError> {
        let mut ids: HashMap<u64, usize> = HashMap::new();
        let mut secrets: HashMap<&str, usize> = HashMap::new();
        for (index, token) in self.api_tokens.iter().enumerate() {
            let path = format!("api_tokens[{index}]");
            if let Some(first) = ids.insert(token.id, index) {
                return Err(StateError(format!(
                    "{path}.id: duplicate token id {} (also api_tokens[{first}])",
                    token.id
                )));
            }
            if token.name.trim().is_empty() {
                return Err(StateError(format!("{path}.name: must not be empty")));
            }
            if token.token.trim().is_empty() {
                return Err(StateError(format!("{path}.token: must not be empty")));
            }
            if let Some(first) = secrets.insert(token.token.as_str(), index) {
                return Err(StateError(format!(
                    "{path}.token: the same secret as api_tokens[{first}]"
                )));
            }
            if let Some(expires_at) = &token.expires_at {
                if Timestamp::parse(expires_at).is_none() {
                    return Err(StateError(format!(
                        "{path}.expires_at: {expires_at:?} is not an ISO 8601 date or date-time"
                    )));
                }
            }
            let mut held: HashSet<(&str, u64)> = HashSet::new();
            for (resource_index, resource) in token.resources.iter().enumerate() {
                let resource_path = format!("{path}.resources[{resource_index}]");
                if !TOKEN_RESOURCE_TYPES.contains(&resource.resource_type.as_str()) {
                    return Err(StateError(format!(
                        "{resource_path}.resource_type: a token cannot hold {:?} (only {})",
                        resource.resource_type,
                        TOKEN_RESOURCE_TYPES.join(", ")
                    )));
                }
                if ![ADMIN_LEVEL, VIEWER_LEVEL].contains(&resource.access_level) {
                    return Err(StateError(format!(
                        "{resource_path}.access_level: {} is not a token level (100 or 10)",
                        resource.access_level
                    )));
                }
                let key = (resource.resource_type.clone(), resource.resource_id);
                if !tree_paths.contains_key(&key) {
                    return Err(StateError(format!(
                        "{resource_path}: {} {} is not in the resource tree",
                        resource.resource_type, resource.resource_id
                    )));
                }
                if !held.insert((resource.resource_type.as_str(), resource.resource_id)) {
                    return Err(StateError(format!(
                        "{resource_path}: duplicate resource {} {}",
                        resource.resource_type, resource.resource_id
                    )));
                }
            }
        }
        Ok(())
    }

    /// What `GET .../account_accesses` returns: users and invites, in seed order.
    pub fn listed_accesses(&self, filter: &AccessFilter) -> Vec<&AccountAccess> {
        self.accesses
            .iter()
            .filter(|access| access.is_listed() && filter.matches(access))
            .collect()
    }

    /// The 404 and 403 checks of both write operations, made before the body is read.
    pub fn check_writable(&self, access_id: u64) -> Result<(), OperationError> {
        match self.access(access_id) {
            None => Err(OperationError::AccessNotFound(access_id)),
            Some(access) if access.is_owner() => Err(OperationError::OwnerAccess(access_id)),
            Some(_) => Ok(()),
        }
    }

    /// `PUT .../permissions/bulk` from a client of the old vocabulary: see `bulk_update_in`.
    pub fn bulk_update(&mut self, access_id: u64, body: &Value) -> Result<(), OperationError> {
        self.bulk_update_in(access_id, body, Vocabulary::Old)
    }

    /// `PUT .../permissions/bulk`: validate every item, then apply all of them or none.
    /// Items apply in order, so a pair named twice ends as its last item says. Types are
    /// read in `vocabulary`; the other vocabulary's names are unknown types (422).
    pub fn bulk_update_in(
        &mut self,
        access_id: u64,
        body: &Value,
        vocabulary: Vocabulary,
    ) -> Result<(), OperationError> {
        self.check_writable(access_id)?;
        let changes = parse_bulk_body(body, &self.resource_keys(), vocabulary)?;
        let access = self
            .accesses
            .iter_mut()
            .find(|access| access.id == access_id)
            .ok_or(OperationError::AccessNotFound(access_id))?;
        for change in changes {
            let existing = access.resources.iter().position(|row| {
                row.resource_type == change.resource_type && row.resource_id == change.resource_id
            });
            match (change.level, existing) {
                (Some(level), Some(position)) => access.resources[position].access_level = level,
                (Some(level), None) => access.resources.push(AccessRow {
                    resource_type: change.resource_type,
                    resource_id: change.resource_id,
                    access_level: level,
                    extra: Map::new(),
                }),
                (None, Some(position)) => {
                    access.resources.remove(position);
                }
                // Destroying a row that is not there leaves nothing to do.
                (None, None) => {}
            }
        }
        Ok(())
    }

    /// `DELETE .../account_accesses/{id}`: the entry disappears (for a user, losing every
    /// permission in the account means no longer being listed); for an `ApiToken`, the
    /// token its `specifier.id` names goes too, as the service removes the specifier.
    pub fn delete_access(&mut self, access_id: u64) -> Result<(), OperationError> {
        self.check_writable(access_id)?;
        let token_id = self
            .access(access_id)
            .filter(|access| access.specifier_type == SpecifierType::ApiToken)
            .and_then(|access| access.specifier.get("id").and_then(Value::as_u64));
        self.accesses.retain(|access| access.id != access_id);
        if let Some(token_id) = token_id {
            self.api_tokens.retain(|token| token.id != token_id);
        }
        Ok(())
    }
}

/// A resource id as clients send it: an integer or a string of digits.
pub(super) fn id_of(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    }
}

pub(super) fn invalid(field: impl Into<String>, message: impl Into<String>) -> OperationError {
    OperationError::Invalid(BTreeMap::from([(field.into(), vec![message.into()])]))
}

/// Turn a bulk body into row changes, or collect every problem found.
fn parse_bulk_body(
    body: &Value,
    tree: &HashSet<(String, u64)>,
    vocabulary: Vocabulary,
) -> Result<Vec<RowChange>, OperationError> {
    let writable = vocabulary.writable_resource_types();
    // A body that is not an object has no `permissions` key, which reads as nothing chosen.
    let items = match body.get("permissions") {
        None | Some(Value::Null) => return Err(invalid("base", NO_PERMISSIONS_SELECTED)),
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(invalid("base", NO_PERMISSIONS_SELECTED))
        }
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("permissions", "must be an array")),
    };
    let mut errors = ValidationErrors::new();
    let mut changes = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let mut complain = |field: &str, message: String| {
            let key = if field.is_empty() {
                format!("permissions[{index}]")
            } else {
                format!("permissions[{index}].{field}")
            };
            errors.entry(key).or_default().push(message);
        };
        let Some(item) = item.as_object() else {
            complain("", "must be an object".into());
            continue;
        };
        let resource_type = match item.get("resource_type") {
            None | Some(Value::Null) => {
                complain("resource_type", "can't be blank".into());
                None
            }
            // As served: the canonical name is looked up, the served one reported.
            Some(Value::String(name)) if writable.contains(&name.as_str()) => vocabulary
                .canonical_name(name)
                .map(|canonical| (canonical.to_owned(), name.clone())),
            Some(other) => {
                complain(
                    "resource_type",
                    format!("{other} is not one of {}", writable.join(", ")),
                );
                None
            }
        };
        let resource_id = match item.get("resource_id") {
            None | Some(Value::Null) => {
                complain("resource_id", "can't be blank".into());
                None
            }
            Some(value) => {
                let id = id_of(value);
                if id.is_none() {
                    complain(
                        "resource_id",
                        format!("{value} is not an id (an integer or a string of digits)"),
                    );
                }
                id
            }
        };
        // `None`: unreadable, so whether a level is needed is unknown too.
        let destroy = match item.get("_destroy") {
            None | Some(Value::Null) => Some(false),
            Some(Value::Bool(flag)) => Some(*flag),
            Some(other) => {
                complain("_destroy", format!("{other} is not a boolean"));
                None
            }
        };
        let level = match (destroy, item.get("access_level")) {
            (Some(true) | None, _) => None,
            (Some(false), None | Some(Value::Null)) => {
                complain("access_level", "can't be blank".into());
                None
            }
            (Some(false), Some(value)) => {
                let level = writable_level(value);
                if level.is_none() {
                    complain(
                        "access_level",
                        format!("{value} is not writable: use \"admin\" (100) or \"viewer\" (10)"),
                    );
                }
                level
            }
        };
        let (Some((resource_type, served_type)), Some(resource_id)) = (resource_type, resource_id)
        else {
            continue;
        };
        if !tree.contains(&(resource_type.clone(), resource_id)) {
            complain(
                "resource_id",
                format!("{served_type} {resource_id} is not a resource of this account"),
            );
            continue;
        }
        if destroy == Some(true) || level.is_some() {
            changes.push(RowChange {
                resource_type,
                resource_id,
                level,
            });
        }
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(OperationError::Invalid(errors))
    }
}

/// The two writable levels, by name, number or numeric string.
pub(super) fn writable_level(value: &Value) -> Option<u32> {
    let level = match value {
        Value::String(text) => match text.trim() {
            "admin" => ADMIN_LEVEL,
            "viewer" => VIEWER_LEVEL,
            digits => digits.parse().ok()?,
        },
        Value::Number(number) => u32::try_from(number.as_u64()?).ok()?,
        _ => return None,
    };
    [ADMIN_LEVEL, VIEWER_LEVEL]
        .contains(&level)
        .then_some(level)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BOB: u64 = 5190003;
    const OWNER: u64 = 5190001;

    /// An `ApiToken` entry of the accesses list for token `token_id`, as the service
    /// keeps one (the listing never shows it).
    fn token_access(access_id: u64, token_id: u64) -> AccountAccess {
        serde_json::from_value(json!({
            "id": access_id,
            "specifier_type": "ApiToken",
            "resources": [{"resource_type": "project", "resource_id": 3301001, "access_level": 10}],
            "specifier": {"id": token_id, "name": "CI deploy", "author_name": "Alice Admin",
                          "token": "4f1c9a7e2b3d8f6a0c5e9b1d7a3f2e8c",
                          "expires_at": "2027-06-30T23:59:59.000Z"},
            "permissions": {"can_read": false, "can_update": true, "can_destroy": true, "can_leave": false}
        }))
        .unwrap()
    }

    fn errors_of(result: Result<(), OperationError>) -> ValidationErrors {
        match result {
            Err(OperationError::Invalid(errors)) => errors,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn demo_account_is_valid_and_round_trips() {
        let demo = SandboxState::demo();
        assert_eq!(demo.account_id(), 1111111);
        let text = serde_json::to_string(&demo).unwrap();
        assert_eq!(SandboxState::from_json(&text).unwrap(), demo);
        // The account, its billing and its campaign scope share one id.
        let keys = demo.resource_keys();
        for kind in ["account", "billing", "email_campaign_permission_scope"] {
            assert!(keys.contains(&(kind.to_string(), 1111111)), "{kind}");
        }
    }

    #[test]
    fn serializes_entries_in_the_service_shape() {
        let demo = SandboxState::demo();
        let erin = serde_json::to_value(demo.access(5190007).unwrap()).unwrap();
        assert_eq!(
            erin,
            json!({"id":5190007,"specifier_type":"Invite",
                   "resources":[{"resource_type":"account","resource_id":1111111,"access_level":10}],
                   "specifier":{"id":82001,"email":"erin@acme.com"},
                   "permissions":{"can_read":false,"can_update":true,"can_destroy":true,"can_leave":false}})
        );
    }

    #[test]
    fn keeps_the_service_key_order() {
        let demo = SandboxState::demo();
        let text = serde_json::to_string(demo.access(5190001).unwrap()).unwrap();
        assert_eq!(
            text,
            r#"{"id":5190001,"specifier_type":"User","resources":[{"resource_type":"account","resource_id":1111111,"access_level":1000},{"resource_type":"organization","resource_id":70412,"access_level":1000}],"specifier":{"id":901001,"email":"owner@acme.com","name":"Olivia Owner","two_factor_authentication_enabled":true},"permissions":{"can_read":true,"can_update":false,"can_destroy":false,"can_leave":false}}"#
        );
        let mut with_token = demo.clone();
        with_token.accesses.push(token_access(5190009, 61001));
        let token = serde_json::to_string(with_token.access(5190009).unwrap()).unwrap();
        assert!(
            token.contains(r#""specifier":{"id":61001,"name":"CI deploy","author_name""#),
            "{token}"
        );
        let record = serde_json::to_string(&demo.api_tokens[1]).unwrap();
        assert_eq!(
            record,
            r#"{"id":61002,"name":"Legacy import","created_by":"Olivia Owner","expires_at":null,"resources":[{"resource_type":"account","resource_id":1111111,"access_level":10}],"token":"9d3b7f1e5a2c8046e1b9d7f3a5c2e084"}"#
        );
        let frontend = serde_json::to_string(&demo.resources[0].resources[1]).unwrap();
        assert_eq!(
            frontend,
            r#"{"id":3301002,"name":"Frontend","type":"project","access_level":100,"resources":[{"id":4400201,"name":"Staging","type":"inbox","access_level":100,"resources":[]}]}"#
        );
    }

    #[test]
    fn type_errors_name_their_json_path() {
        let mut doc = serde_json::to_value(SandboxState::demo()).unwrap();
        doc["accesses"][3]["resources"][0]["access_level"] = json!("admin");
        let err = SandboxState::from_json(&doc.to_string()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("accesses[3].resources[0].access_level: invalid type: string"),
            "{err}"
        );
    }

    #[test]
    fn semantic_errors_are_reported() {
        let base = serde_json::to_value(SandboxState::demo()).unwrap();
        type Mutation = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (
                Box::new(|doc| doc["accesses"][2]["id"] = json!(5190002)),
                "accesses[2].id: duplicate access id 5190002 (also accesses[1])",
            ),
            (
                Box::new(|doc| doc["accesses"][3]["resources"][0]["resource_id"] = json!(999)),
                "accesses[3].resources[0]: project 999 is not in the resource tree",
            ),
            (
                Box::new(|doc| doc["accesses"][3]["resources"][0]["access_level"] = json!(20)),
                "accesses[3].resources[0].access_level: 20 is not a level",
            ),
            (
                Box::new(|doc| doc["accesses"][6]["specifier"] = json!({"id": 1})),
                "accesses[6].specifier.email: a Invite needs an email",
            ),
            (
                Box::new(|doc| doc["accesses"][2]["specifier"]["id"] = json!(901002)),
                "accesses[2].specifier: User 901002 already has access accesses[1]",
            ),
            (
                Box::new(|doc| doc["accesses"][2]["specifier_type"] = json!("Robot")),
                "accesses[2].specifier_type: unknown variant `Robot`",
            ),
            (
                Box::new(|doc| doc["account_id"] = json!(42)),
                "resources[0]: the account node has id 1111111 but account_id is 42",
            ),
            (
                Box::new(|doc| {
                    let copy = doc["resources"][0]["resources"][0].clone();
                    doc["resources"][0]["resources"]
                        .as_array_mut()
                        .unwrap()
                        .push(copy);
                }),
                "resources[0].resources[6]: duplicate resource project 3301001 \
                 (already at resources[0].resources[0])",
            ),
        ];
        for (mutate, expected) in cases {
            let mut doc = base.clone();
            mutate(&mut doc);
            let err = SandboxState::from_json(&doc.to_string()).unwrap_err();
            assert!(err.to_string().starts_with(expected), "{err} / {expected}");
        }
        assert!(SandboxState::from_json("{} x").is_err());
        assert!(SandboxState::from_json("").is_err());
    }

    #[test]
    fn api_token_seeds_are_checked() {
        let base = serde_json::to_value(SandboxState::demo()).unwrap();
        type Mutation = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (
                Box::new(|doc| doc["api_tokens"][1]["id"] = json!(61001)),
                "api_tokens[1].id: duplicate token id 61001 (also api_tokens[0])",
            ),
            (
                Box::new(|doc| doc["api_tokens"][1]["token"] = doc["api_tokens"][0]["token"].clone()),
                "api_tokens[1].token: the same secret as api_tokens[0]",
            ),
            (
                Box::new(|doc| doc["api_tokens"][0]["token"] = json!(" ")),
                "api_tokens[0].token: must not be empty",
            ),
            (
                Box::new(|doc| doc["api_tokens"][0]["name"] = json!("")),
                "api_tokens[0].name: must not be empty",
            ),
            (
                Box::new(|doc| doc["api_tokens"][0]["expires_at"] = json!("June 2027")),
                "api_tokens[0].expires_at: \"June 2027\" is not an ISO 8601 date or date-time",
            ),
            (
                Box::new(|doc| doc["api_tokens"][0]["resources"][0]["resource_type"] = json!("billing")),
                "api_tokens[0].resources[0].resource_type: a token cannot hold \"billing\" \
                 (only account, project, inbox, sending_domain)",
            ),
            (
                Box::new(|doc| {
                    doc["api_tokens"][0]["resources"][0] = json!({"resource_type": "email_campaign_permission_scope",
                                                                 "resource_id": 1111111, "access_level": 10});
                }),
                "api_tokens[0].resources[0].resource_type: a token cannot hold \"email_campaign_permission_scope\"",
            ),
            (
                Box::new(|doc| doc["api_tokens"][0]["resources"][0]["resource_id"] = json!(999)),
                "api_tokens[0].resources[0]: project 999 is not in the resource tree",
            ),
            (
                Box::new(|doc| doc["api_tokens"][0]["resources"][0]["access_level"] = json!(50)),
                "api_tokens[0].resources[0].access_level: 50 is not a token level (100 or 10)",
            ),
            (
                Box::new(|doc| doc["api_tokens"][0]["resources"][0]["access_level"] = json!(1000)),
                "api_tokens[0].resources[0].access_level: 1000 is not a token level",
            ),
            (
                Box::new(|doc| {
                    let copy = doc["api_tokens"][0]["resources"][0].clone();
                    doc["api_tokens"][0]["resources"].as_array_mut().unwrap().push(copy);
                }),
                "api_tokens[0].resources[1]: duplicate resource project 3301001",
            ),
            (
                Box::new(|doc| doc["api_tokens"][0]["resources"][0]["access_level"] = json!("viewer")),
                "api_tokens[0].resources[0].access_level: invalid type: string",
            ),
            (
                Box::new(|doc| {
                    doc["api_tokens"][0].as_object_mut().unwrap().remove("token");
                }),
                "api_tokens[0]: missing field `token`",
            ),
        ];
        for (mutate, expected) in cases {
            let mut doc = base.clone();
            mutate(&mut doc);
            let err = SandboxState::from_json(&doc.to_string()).unwrap_err();
            assert!(err.to_string().starts_with(expected), "{err} / {expected}");
            for token in &SandboxState::demo().api_tokens {
                assert!(!err.to_string().contains(&token.token), "{err}");
            }
        }
    }

    #[test]
    fn api_token_seeds_may_be_written_in_either_vocabulary_and_omitted() {
        let mut doc = demo_in_new_names();
        doc["api_tokens"][1]["resources"]
            .as_array_mut()
            .unwrap()
            .extend([
                json!({"resource_type": "sandbox", "resource_id": 4400101, "access_level": 100}),
                json!({"resource_type": "domain", "resource_id": 204301, "access_level": 10}),
            ]);
        let state = SandboxState::from_json(&doc.to_string()).unwrap();
        let kinds: Vec<&str> = state.api_tokens[1]
            .resources
            .iter()
            .map(|resource| resource.resource_type.as_str())
            .collect();
        assert_eq!(kinds, ["account", "inbox", "sending_domain"]);
        // A token's inbox named the old way beside sandboxes in the tree: refused.
        doc["api_tokens"][1]["resources"][1]["resource_type"] = json!("inbox");
        let err = SandboxState::from_json(&doc.to_string()).unwrap_err();
        assert!(
            err.to_string()
                .contains("\"inbox\" at api_tokens[1].resources[1].resource_type (the old one)"),
            "{err}"
        );
        // Without tokens the key may be absent, and is left out when written.
        let mut doc = serde_json::to_value(SandboxState::demo()).unwrap();
        doc.as_object_mut().unwrap().remove("api_tokens");
        let state = SandboxState::from_json(&doc.to_string()).unwrap();
        assert!(state.api_tokens.is_empty());
        assert!(!serde_json::to_string(&state)
            .unwrap()
            .contains("api_tokens"));
        // A last_4_digits and a reset_from in the seed are kept, and served as given.
        let mut doc = serde_json::to_value(SandboxState::demo()).unwrap();
        doc["api_tokens"][0]["last_4_digits"] = json!("abcd");
        doc["api_tokens"][0]["reset_from"] = json!(60001);
        let state = SandboxState::from_json(&doc.to_string()).unwrap();
        assert_eq!(state.api_tokens[0].last_4_digits(), "abcd");
        assert_eq!(state.api_tokens[0].reset_from, Some(60001));
        assert_eq!(serde_json::to_value(&state).unwrap(), doc);
    }

    #[test]
    fn rows_of_unmanaged_types_need_not_be_in_the_tree() {
        let demo = SandboxState::demo();
        assert!(demo
            .access(OWNER)
            .unwrap()
            .resources
            .iter()
            .any(|row| row.resource_type == "organization"));
        assert!(demo.validate().is_ok());
    }

    #[test]
    fn filters_take_the_union_of_explicit_rows() {
        let demo = SandboxState::demo();
        let ids = |pairs: &[(&str, &str)]| -> Vec<u64> {
            demo.listed_accesses(&AccessFilter::from_pairs(pairs.iter().copied()))
                .iter()
                .map(|access| access.id)
                .collect()
        };
        assert_eq!(ids(&[]).len(), 8, "every user and invite, no token");
        assert_eq!(ids(&[("project_ids", "3301001")]), vec![BOB]);
        assert_eq!(
            ids(&[("project_ids[]", "3301002"), ("inbox_ids", "4400101")]),
            vec![5190004, 5190005, 5190008]
        );
        assert_eq!(ids(&[("domain_ids", "204302")]), vec![5190008]);
        assert!(ids(&[("project_ids", "abc")]).is_empty());
        assert_eq!(ids(&[("project_ids", ""), ("unrelated", "1")]).len(), 8);
    }

    #[test]
    fn bulk_upserts_destroys_and_normalizes() {
        let mut state = SandboxState::demo();
        let body = json!({"permissions": [
            {"resource_type": "project", "resource_id": "3301001", "access_level": "viewer"},
            {"resource_type": "inbox", "resource_id": 4400101, "access_level": 100},
            {"resource_type": "sending_domain", "resource_id": "204301", "_destroy": true},
            {"resource_type": "billing", "resource_id": "1111111", "access_level": "100", "_destroy": false},
        ]});
        state.bulk_update(BOB, &body).unwrap();
        assert_eq!(
            state.rows(BOB),
            vec![
                ("project".into(), 3301001, 10),
                ("inbox".into(), 4400201, 10),
                ("billing".into(), 1111111, 100),
                ("inbox".into(), 4400101, 100),
            ]
        );
    }

    #[test]
    fn bulk_is_all_or_nothing_and_reports_every_problem() {
        let mut state = SandboxState::demo();
        let before = state.clone();
        let body = json!({"permissions": [
            {"resource_type": "project", "resource_id": "3301001", "access_level": "viewer"},
            {"resource_type": "project", "resource_id": "999", "access_level": "viewer"},
            {"resource_type": "organization", "resource_id": "70412", "access_level": "admin"},
            {"resource_type": "inbox", "resource_id": "x1", "access_level": 50},
            {"resource_type": "inbox", "resource_id": "4400101", "access_level": "viewer", "_destroy": "yes"},
            "not an object",
        ]});
        let errors = errors_of(state.bulk_update(BOB, &body));
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            vec![
                "permissions[1].resource_id",
                "permissions[2].resource_type",
                "permissions[3].access_level",
                "permissions[3].resource_id",
                "permissions[4]._destroy",
                "permissions[5]",
            ]
        );
        assert_eq!(state, before);
    }

    #[test]
    fn bulk_refuses_empty_and_shapeless_bodies() {
        let mut state = SandboxState::demo();
        for body in [
            json!({"permissions": []}),
            json!({}),
            json!([1]),
            json!(null),
        ] {
            assert_eq!(
                errors_of(state.bulk_update(BOB, &body)),
                BTreeMap::from([("base".into(), vec![NO_PERMISSIONS_SELECTED.into()])])
            );
        }
        let errors = errors_of(state.bulk_update(BOB, &json!({"permissions": {"a": 1}})));
        assert!(errors.contains_key("permissions"));
    }

    #[test]
    fn owners_and_unknown_accesses_are_refused_first() {
        let mut state = SandboxState::demo();
        assert_eq!(
            state.bulk_update(OWNER, &json!({})),
            Err(OperationError::OwnerAccess(OWNER))
        );
        assert_eq!(
            state.bulk_update(1, &json!({})),
            Err(OperationError::AccessNotFound(1))
        );
        assert_eq!(
            state.delete_access(OWNER),
            Err(OperationError::OwnerAccess(OWNER))
        );
        assert_eq!(
            state.delete_access(1),
            Err(OperationError::AccessNotFound(1))
        );
    }

    #[test]
    fn delete_removes_the_entry_of_any_kind() {
        let mut state = SandboxState::demo();
        state.accesses.push(token_access(5190009, 61001));
        for id in [BOB, 5190007, 5190009] {
            state.delete_access(id).unwrap();
            assert!(state.access(id).is_none());
        }
        assert_eq!(state.accesses.len(), 6);
        // The token the ApiToken access stood for went with it.
        assert!(state.api_token(61001).is_none());
        assert!(state.api_token(61002).is_some());
    }

    /// The demo as a new-vocabulary server would have given it.
    fn demo_in_new_names() -> Value {
        let text = serde_json::to_string(&SandboxState::demo())
            .unwrap()
            .replace(r#""inbox""#, r#""sandbox""#)
            .replace(r#""sending_domain""#, r#""domain""#);
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn a_seed_in_the_new_vocabulary_is_stored_canonical() {
        let doc = demo_in_new_names();
        assert_eq!(
            doc["accesses"][2]["resources"][1]["resource_type"],
            "sandbox"
        );
        let state = SandboxState::from_json(&doc.to_string()).unwrap();
        assert_eq!(state, SandboxState::demo());
    }

    #[test]
    fn a_seed_naming_one_kind_both_ways_is_refused_naming_both_places() {
        let mut doc = demo_in_new_names();
        // Bob's sandbox row written the old way, as a mixed-up file would have it.
        doc["accesses"][2]["resources"][1]["resource_type"] = json!("inbox");
        let err = SandboxState::from_json(&doc.to_string()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "resources[0].resources[0].resources[0].type: \"sandbox\" (the new vocabulary) \
             and \"inbox\" at accesses[2].resources[1].resource_type (the old one) name the \
             same kind: write the state in one vocabulary"
        );
        let mut doc = serde_json::to_value(SandboxState::demo()).unwrap();
        doc["resources"][0]["resources"][3]["type"] = json!("domain");
        let err = SandboxState::from_json(&doc.to_string()).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "resources[0].resources[3].type: \"domain\" (the new vocabulary) and \
                 \"sending_domain\" at resources[0].resources[2].type"
            ),
            "{err}"
        );
        // Each kind on its own: inboxes the old way and domains the new is one name per kind.
        let mut doc = serde_json::to_value(SandboxState::demo()).unwrap();
        let text = doc
            .to_string()
            .replace(r#""sending_domain""#, r#""domain""#);
        doc = serde_json::from_str(&text).unwrap();
        assert_eq!(
            SandboxState::from_json(&doc.to_string()).unwrap(),
            SandboxState::demo()
        );
    }

    #[test]
    fn each_vocabulary_writes_its_own_names_only() {
        let mut state = SandboxState::demo();
        let new_names = json!({"permissions": [
            {"resource_type": "sandbox", "resource_id": "4400101", "access_level": "admin"},
            {"resource_type": "domain", "resource_id": "204301", "_destroy": true},
        ]});
        let old_names = json!({"permissions": [
            {"resource_type": "inbox", "resource_id": "4400101", "access_level": "admin"},
            {"resource_type": "sending_domain", "resource_id": "204301", "_destroy": true},
        ]});
        let before = state.clone();
        for (body, vocabulary) in [(&new_names, Vocabulary::Old), (&old_names, Vocabulary::New)] {
            let errors = errors_of(state.bulk_update_in(BOB, body, vocabulary));
            assert_eq!(
                errors.keys().collect::<Vec<_>>(),
                vec![
                    "permissions[0].resource_type",
                    "permissions[1].resource_type"
                ],
                "{vocabulary}"
            );
            let expected = vocabulary.writable_resource_types().join(", ");
            assert!(errors["permissions[0].resource_type"][0].ends_with(&expected));
            assert_eq!(state, before);
        }
        state
            .bulk_update_in(BOB, &new_names, Vocabulary::New)
            .unwrap();
        assert_eq!(
            state.rows(BOB),
            vec![
                ("project".into(), 3301001, 100),
                ("inbox".into(), 4400201, 10),
                ("billing".into(), 1111111, 10),
                ("inbox".into(), 4400101, 100),
            ]
        );
        // A resource that is not there is reported in the client's own names.
        let errors = errors_of(state.bulk_update_in(
            BOB,
            &json!({"permissions": [{"resource_type": "sandbox", "resource_id": "1", "access_level": "admin"}]}),
            Vocabulary::New,
        ));
        assert_eq!(
            errors["permissions[0].resource_id"],
            vec!["sandbox 1 is not a resource of this account".to_owned()]
        );
    }

    #[test]
    fn the_email_template_scope_is_read_in_both_vocabularies_and_never_written() {
        let mut doc = serde_json::to_value(SandboxState::demo()).unwrap();
        doc["resources"][0]["resources"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": 1111111, "name": "Email Templates",
                         "type": "email_template_permission_scope", "access_level": 100}));
        doc["accesses"][1]["resources"]
            .as_array_mut()
            .unwrap()
            .push(json!({"resource_type": "email_template_permission_scope",
                         "resource_id": 1111111, "access_level": 100}));
        let mut state = SandboxState::from_json(&doc.to_string()).unwrap();
        let before = state.clone();
        let body = json!({"permissions": [{"resource_type": "email_template_permission_scope",
                                           "resource_id": "1111111", "access_level": "viewer"}]});
        for vocabulary in [Vocabulary::Old, Vocabulary::New] {
            let errors = errors_of(state.bulk_update_in(BOB, &body, vocabulary));
            assert!(errors.contains_key("permissions[0].resource_type"));
            assert_eq!(state, before);
        }
    }

    #[test]
    fn the_inbox_filter_is_named_by_the_vocabulary() {
        let demo = SandboxState::demo();
        let ids = |pairs: &[(&str, &str)], vocabulary| -> Vec<u64> {
            demo.listed_accesses(&AccessFilter::from_pairs_in(
                pairs.iter().copied(),
                vocabulary,
            ))
            .iter()
            .map(|access| access.id)
            .collect()
        };
        let backend_staging = [("sandbox_ids[]", "4400101")];
        assert_eq!(ids(&backend_staging, Vocabulary::New), vec![5190005]);
        // The other vocabulary's name is an unknown parameter: no filter at all.
        assert_eq!(ids(&backend_staging, Vocabulary::Old).len(), 8);
        assert_eq!(ids(&[("inbox_ids", "4400101")], Vocabulary::New).len(), 8);
        assert_eq!(
            ids(&[("inbox_ids", "4400101")], Vocabulary::Old),
            vec![5190005]
        );
        assert_eq!(
            ids(&[("domain_ids", "204302")], Vocabulary::New),
            vec![5190008]
        );
    }

    #[test]
    fn writable_levels() {
        for (value, level) in [
            (json!("admin"), Some(100)),
            (json!("viewer"), Some(10)),
            (json!(100), Some(100)),
            (json!("10"), Some(10)),
            (json!(50), None),
            (json!(1000), None),
            (json!("owner"), None),
            (json!(10.5), None),
            (json!(true), None),
        ] {
            assert_eq!(writable_level(&value), level, "{value}");
        }
    }
}
