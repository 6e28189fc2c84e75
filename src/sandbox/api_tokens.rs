//! The account's API tokens and what the API Tokens API can do to them, without HTTP:
//! the record kept in the `--state` file (secret included), the checks of a create
//! body, and the operations list, show, create, delete and reset. Like the rest of the
//! state, a token's resource types are held in the canonical (old) names; the
//! operations take the vocabulary a client speaks. There is no operation that changes
//! a token's resources: the service has none either.
//!
//! Tokens and `ApiToken` entries of the accesses list are linked by id only as far as
//! deleting goes: removing a token (deleted or reset) removes every `ApiToken` access
//! whose `specifier.id` is its id, and deleting such an access removes the token.
//!
//! The secrets of these tokens do not authenticate against the sandbox: it accepts its
//! one configured token only.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::state::{
    id_of, invalid, writable_level, OperationError, SandboxState, SpecifierType, ValidationErrors,
    NO_PERMISSIONS_SELECTED,
};
use super::timestamp::Timestamp;
use super::vocabulary::Vocabulary;

/// The resource types a token can hold, in the canonical (old) names:
/// `Vocabulary::token_resource_types` spells them in either vocabulary.
pub(crate) const TOKEN_RESOURCE_TYPES: [&str; 4] =
    ["account", "project", "inbox", "sending_domain"];
/// The service's answer to an `expires_at` in the past or more than five years ahead;
/// the sandbox gives it for one it cannot read, too.
pub(crate) const EXPIRATION_NOT_IN_THE_FUTURE: &str = "Expiration date must be in the future";
/// A token made by a reset cannot be reset again.
pub(crate) const ALREADY_RESET: &str = "Only a token that has not been reset already can be reset";
/// The SDKs' documentation: a token past its expiry cannot be reset.
pub(crate) const EXPIRED_CANNOT_BE_RESET: &str = "An expired token cannot be reset";
/// `created_by` of a token the sandbox creates. The service puts the calling token's
/// name there (a recorded create says `"SDK Dev Account Token"`); the sandbox's one
/// token has no name, so it goes by this one.
pub(crate) const CREATED_BY: &str = "mailtrap-access sandbox";
/// An omitted `expires_at` is the server's default, one year from now.
const DEFAULT_LIFETIME_YEARS: i64 = 1;
/// The furthest `expires_at` the service accepts.
const MAX_LIFETIME_YEARS: i64 = 5;

/// One API token as the state file holds it: the served fields, the secret, and where
/// it came from. `last_4_digits` may be left out, and is then the secret's last four
/// characters.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiTokenRecord {
    pub id: u64,
    pub name: String,
    pub created_by: String,
    /// ISO 8601, or `null` for a token that never expires.
    pub expires_at: Option<String>,
    pub resources: Vec<TokenResource>,
    /// The secret: served by create and reset only, never by a read.
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_4_digits: Option<String>,
    /// The id of the token whose reset made this one; such a token cannot be reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_from: Option<u64>,
}

/// The secret is left out, so a state printed in a test failure or a log shows none.
impl fmt::Debug for ApiTokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiTokenRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("created_by", &self.created_by)
            .field("expires_at", &self.expires_at)
            .field("resources", &self.resources)
            .field("token", &format_args!("<{} characters>", self.token.len()))
            .field("last_4_digits", &self.last_4_digits)
            .field("reset_from", &self.reset_from)
            .finish()
    }
}

/// One resource a token holds, at admin (100) or viewer (10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResource {
    pub resource_type: String,
    pub resource_id: u64,
    pub access_level: u32,
}

impl ApiTokenRecord {
    /// As served: the seeded value, or the secret's last four characters.
    pub fn last_4_digits(&self) -> String {
        match &self.last_4_digits {
            Some(digits) => digits.clone(),
            None => {
                let count = self.token.chars().count();
                self.token.chars().skip(count.saturating_sub(4)).collect()
            }
        }
    }

    fn has_expired(&self, now: Timestamp) -> bool {
        self.expires_at
            .as_deref()
            .and_then(Timestamp::parse)
            .is_some_and(|expiry| expiry <= now)
    }
}

/// What a create or a reset takes from outside the state: the clock, a fresh secret,
/// and the lowest id the new token may have (so that no id is handed out twice, even
/// after the token that had it is gone).
#[derive(Debug, Clone)]
pub(crate) struct Mint {
    pub now: Timestamp,
    pub secret: String,
    pub id_floor: u64,
}

impl SandboxState {
    pub fn api_token(&self, token_id: u64) -> Option<&ApiTokenRecord> {
        self.api_tokens.iter().find(|token| token.id == token_id)
    }

    /// `POST .../api_tokens`: check the whole body, then store the new token. Problems
    /// are all reported, each as a `base` message.
    pub(crate) fn create_api_token(
        &mut self,
        body: &Value,
        vocabulary: Vocabulary,
        mint: Mint,
    ) -> Result<ApiTokenRecord, OperationError> {
        let mut messages = Vec::new();
        let name = match body.get("name") {
            Some(Value::String(name)) if !name.trim().is_empty() => Some(name.clone()),
            None | Some(Value::Null | Value::String(_)) => {
                messages.push("Name can't be blank".to_owned());
                None
            }
            Some(_) => {
                messages.push("Name must be a string".to_owned());
                None
            }
        };
        let resources = self.token_resources(body.get("resources"), vocabulary, &mut messages);
        let expires_at = match expiry(body, mint.now) {
            Ok(expires_at) => Some(expires_at),
            Err(message) => {
                messages.push(message.to_owned());
                None
            }
        };
        let (Some(name), Some(expires_at), true) = (name, expires_at, messages.is_empty()) else {
            return Err(base_errors(messages));
        };
        let record = ApiTokenRecord {
            id: self.next_api_token_id(mint.id_floor)?,
            name,
            created_by: CREATED_BY.to_owned(),
            expires_at,
            resources,
            token: mint.secret,
            last_4_digits: None,
            reset_from: None,
        };
        self.api_tokens.push(record.clone());
        Ok(record)
    }

    /// `DELETE .../api_tokens/{id}`, and the `ApiToken` accesses of that token with it.
    pub(crate) fn delete_api_token(&mut self, token_id: u64) -> Result<(), OperationError> {
        let before = self.api_tokens.len();
        self.api_tokens.retain(|token| token.id != token_id);
        if self.api_tokens.len() == before {
            return Err(OperationError::TokenNotFound(token_id));
        }
        self.remove_token_accesses(token_id);
        Ok(())
    }

    /// `POST .../api_tokens/{id}/reset`: a new token (new id, new secret, the same name
    /// and resources, an expiry from `body` as on create) takes the old one's place.
    /// The service keeps the old secret working for a grace period (12 hours, per its
    /// UI documentation) while the old token is no longer shown; the sandbox drops the
    /// old record at once, since no token but its own authenticates against it anyway.
    pub(crate) fn reset_api_token(
        &mut self,
        token_id: u64,
        body: &Value,
        mint: Mint,
    ) -> Result<ApiTokenRecord, OperationError> {
        let index = self
            .api_tokens
            .iter()
            .position(|token| token.id == token_id)
            .ok_or(OperationError::TokenNotFound(token_id))?;
        let old = &self.api_tokens[index];
        if old.reset_from.is_some() {
            return Err(invalid("base", ALREADY_RESET));
        }
        if old.has_expired(mint.now) {
            return Err(invalid("base", EXPIRED_CANNOT_BE_RESET));
        }
        let expires_at = expiry(body, mint.now).map_err(|message| invalid("base", message))?;
        let record = ApiTokenRecord {
            id: self.next_api_token_id(mint.id_floor)?,
            name: old.name.clone(),
            // Not served by the reset itself; reads show the original author.
            created_by: old.created_by.clone(),
            expires_at,
            resources: old.resources.clone(),
            token: mint.secret,
            last_4_digits: None,
            reset_from: Some(token_id),
        };
        self.api_tokens.remove(index);
        self.api_tokens.push(record.clone());
        self.remove_token_accesses(token_id);
        Ok(record)
    }

    /// The `ApiToken` accesses of a token that is gone go with it.
    fn remove_token_accesses(&mut self, token_id: u64) {
        self.accesses.retain(|access| {
            access.specifier_type != SpecifierType::ApiToken
                || access.specifier.get("id").and_then(Value::as_u64) != Some(token_id)
        });
    }

    /// The highest token id in use or once used (a reset's origin), `ApiToken`
    /// accesses' token ids included.
    pub(crate) fn highest_api_token_id(&self) -> Option<u64> {
        self.api_tokens
            .iter()
            .flat_map(|token| std::iter::once(token.id).chain(token.reset_from))
            .chain(
                self.accesses
                    .iter()
                    .filter(|access| access.specifier_type == SpecifierType::ApiToken)
                    .filter_map(|access| access.specifier.get("id").and_then(Value::as_u64)),
            )
            .max()
    }

    /// Above `highest_api_token_id`, so a new token is never mistaken for another, and
    /// at least `floor`.
    fn next_api_token_id(&self, floor: u64) -> Result<u64, OperationError> {
        match self.highest_api_token_id() {
            None => Ok(floor.max(1)),
            Some(highest) => highest
                .checked_add(1)
                .map(|next| next.max(floor))
                .ok_or_else(|| invalid("base", "the sandbox has no token id left")),
        }
    }

    /// The `resources` of a create body, in canonical names; every problem is added to
    /// `messages`. A pair named twice keeps its first place and its last level, as a
    /// bulk update would leave it.
    fn token_resources(
        &self,
        resources: Option<&Value>,
        vocabulary: Vocabulary,
        messages: &mut Vec<String>,
    ) -> Vec<TokenResource> {
        // Anything but a non-empty array is, to a Rails controller permitting an array of
        // objects, no resources at all.
        let items = match resources {
            Some(Value::Array(items)) if !items.is_empty() => items,
            _ => {
                messages.push(NO_PERMISSIONS_SELECTED.to_owned());
                return Vec::new();
            }
        };
        let allowed = vocabulary.token_resource_types();
        let tree = self.resource_keys();
        let mut chosen: Vec<TokenResource> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let at = format!("resources[{index}]");
            let Some(item) = item.as_object() else {
                messages.push(format!("{at} must be an object"));
                continue;
            };
            let resource_type = match item.get("resource_type") {
                None | Some(Value::Null) => {
                    messages.push(format!("{at}.resource_type can't be blank"));
                    None
                }
                Some(Value::String(name)) if allowed.contains(&name.as_str()) => vocabulary
                    .canonical_name(name)
                    .map(|canonical| (canonical.to_owned(), name.clone())),
                Some(other) => {
                    messages.push(format!(
                        "{at}.resource_type {other} cannot be held by an API token: \
                         use one of {}",
                        allowed.join(", ")
                    ));
                    None
                }
            };
            let resource_id = match item.get("resource_id") {
                None | Some(Value::Null) => {
                    messages.push(format!("{at}.resource_id can't be blank"));
                    None
                }
                Some(value) => {
                    let id = id_of(value);
                    if id.is_none() {
                        messages.push(format!(
                            "{at}.resource_id {value} is not an id (an integer or a string of digits)"
                        ));
                    }
                    id
                }
            };
            let level = match item.get("access_level") {
                None | Some(Value::Null) => {
                    messages.push(format!("{at}.access_level can't be blank"));
                    None
                }
                Some(value) => {
                    let level = writable_level(value);
                    if level.is_none() {
                        messages.push(format!(
                            "{at}.access_level {value} is not a token level: use \"admin\" (100) \
                             or \"viewer\" (10)"
                        ));
                    }
                    level
                }
            };
            let (Some((resource_type, served_type)), Some(resource_id)) =
                (resource_type, resource_id)
            else {
                continue;
            };
            if !tree.contains(&(resource_type.clone(), resource_id)) {
                messages.push(format!(
                    "{at}: {served_type} {resource_id} is not a resource of this account"
                ));
                continue;
            }
            let Some(access_level) = level else { continue };
            match chosen.iter_mut().find(|resource| {
                resource.resource_type == resource_type && resource.resource_id == resource_id
            }) {
                Some(resource) => resource.access_level = access_level,
                None => chosen.push(TokenResource {
                    resource_type,
                    resource_id,
                    access_level,
                }),
            }
        }
        chosen
    }
}

/// The `expires_at` of a create or reset body, in the service's form: omitted is the
/// default lifetime, `null` never expires, anything else must be an instant after
/// `now` and at most five years ahead.
fn expiry(body: &Value, now: Timestamp) -> Result<Option<String>, &'static str> {
    match body.get("expires_at") {
        None => Ok(Some(now.plus_years(DEFAULT_LIFETIME_YEARS).to_string())),
        Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => match Timestamp::parse(text) {
            Some(instant) if instant > now && instant <= now.plus_years(MAX_LIFETIME_YEARS) => {
                Ok(Some(instant.to_string()))
            }
            _ => Err(EXPIRATION_NOT_IN_THE_FUTURE),
        },
        Some(_) => Err(EXPIRATION_NOT_IN_THE_FUTURE),
    }
}

fn base_errors(messages: Vec<String>) -> OperationError {
    OperationError::Invalid(ValidationErrors::from([("base".to_owned(), messages)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CI_DEPLOY: u64 = 61001;
    const LEGACY_IMPORT: u64 = 61002;

    /// 2026-07-01T00:00:00Z.
    fn now() -> Timestamp {
        Timestamp::parse("2026-07-01T00:00:00Z").unwrap()
    }

    fn mint(secret: &str) -> Mint {
        Mint {
            now: now(),
            secret: secret.to_owned(),
            id_floor: 0,
        }
    }

    fn base_of(result: Result<ApiTokenRecord, OperationError>) -> Vec<String> {
        match result {
            Err(OperationError::Invalid(mut errors)) => {
                assert_eq!(errors.len(), 1, "{errors:?}");
                errors.remove("base").expect("base messages")
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn backend_viewer() -> Value {
        json!({"name": "deploy", "resources": [
            {"resource_type": "project", "resource_id": "3301001", "access_level": "viewer"}
        ]})
    }

    #[test]
    fn the_demo_holds_two_tokens_and_no_token_access() {
        let demo = SandboxState::demo();
        let ci = demo.api_token(CI_DEPLOY).unwrap();
        assert_eq!(ci.name, "CI deploy");
        assert_eq!(ci.created_by, "Alice Admin");
        assert_eq!(ci.expires_at.as_deref(), Some("2027-06-30T23:59:59.000Z"));
        assert_eq!(
            ci.resources,
            vec![TokenResource {
                resource_type: "project".into(),
                resource_id: 3301001,
                access_level: 10
            }]
        );
        assert_eq!(ci.last_4_digits(), "2e8c");
        let legacy = demo.api_token(LEGACY_IMPORT).unwrap();
        assert_eq!(legacy.expires_at, None);
        assert_eq!(legacy.resources[0].resource_type, "account");
        assert!(demo
            .accesses
            .iter()
            .all(|access| access.specifier_type != SpecifierType::ApiToken));
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let demo = SandboxState::demo();
        let shown = format!("{demo:?}");
        for token in &demo.api_tokens {
            assert!(!shown.contains(&token.token), "{shown}");
        }
        assert!(shown.contains("CI deploy"));
    }

    #[test]
    fn create_stores_a_token_with_the_default_expiry_and_normalized_names() {
        let mut state = SandboxState::demo();
        let body = json!({"name": "deploy", "resources": [
            {"resource_type": "project", "resource_id": "3301001", "access_level": "viewer"},
            {"resource_type": "sandbox", "resource_id": 4400101, "access_level": 100},
            {"resource_type": "domain", "resource_id": "204301", "access_level": "admin"},
            {"resource_type": "project", "resource_id": 3301001, "access_level": "admin"},
        ]});
        let record = state
            .create_api_token(&body, Vocabulary::New, mint("abcd1234"))
            .unwrap();
        assert_eq!(record.id, LEGACY_IMPORT + 1);
        assert_eq!(record.created_by, CREATED_BY);
        assert_eq!(
            record.expires_at.as_deref(),
            Some("2027-07-01T00:00:00.000Z")
        );
        assert_eq!(record.last_4_digits(), "1234");
        assert_eq!(
            record
                .resources
                .iter()
                .map(|r| (r.resource_type.as_str(), r.resource_id, r.access_level))
                .collect::<Vec<_>>(),
            vec![
                ("project", 3301001, 100),
                ("inbox", 4400101, 100),
                ("sending_domain", 204301, 100),
            ]
        );
        assert_eq!(state.api_token(record.id), Some(&record));
        assert_eq!(state.api_tokens.len(), 3);
    }

    #[test]
    fn create_takes_null_and_explicit_expiries() {
        let mut state = SandboxState::demo();
        let mut body = backend_viewer();
        body["expires_at"] = Value::Null;
        let never = state
            .create_api_token(&body, Vocabulary::Old, mint("s1"))
            .unwrap();
        assert_eq!(never.expires_at, None);
        for (given, stored) in [
            ("2026-07-02", "2026-07-02T00:00:00.000Z"),
            ("2031-07-01T00:00:00Z", "2031-07-01T00:00:00.000Z"),
            ("2028-01-01T12:00:00+02:00", "2028-01-01T10:00:00.000Z"),
        ] {
            body["expires_at"] = json!(given);
            let record = state
                .create_api_token(&body, Vocabulary::Old, mint("s2"))
                .unwrap();
            assert_eq!(record.expires_at.as_deref(), Some(stored), "{given}");
        }
        for refused in [
            json!("2026-07-01T00:00:00Z"),
            json!("2026-06-30"),
            json!("2031-07-01T00:00:00.001Z"),
            json!("2040-01-01"),
            json!("next year"),
            json!(""),
            json!(1_800_000_000),
            json!({"date": "2027-01-01"}),
        ] {
            body["expires_at"] = refused.clone();
            assert_eq!(
                base_of(state.create_api_token(&body, Vocabulary::Old, mint("s3"))),
                vec![EXPIRATION_NOT_IN_THE_FUTURE],
                "{refused}"
            );
        }
    }

    #[test]
    fn create_reports_every_problem_and_stores_nothing() {
        let mut state = SandboxState::demo();
        let before = state.clone();
        for body in [
            json!({"name": "x", "resources": []}),
            json!({"name": "x"}),
            json!({"name": "x", "resources": null}),
            json!({"name": "x", "resources": {"resource_type": "account"}}),
        ] {
            assert_eq!(
                base_of(state.create_api_token(&body, Vocabulary::Old, mint("s"))),
                vec![NO_PERMISSIONS_SELECTED],
                "{body}"
            );
        }
        for body in [json!(null), json!([1]), json!({})] {
            assert_eq!(
                base_of(state.create_api_token(&body, Vocabulary::Old, mint("s"))),
                vec!["Name can't be blank", NO_PERMISSIONS_SELECTED],
                "{body}"
            );
        }
        let body = json!({"name": 7, "expires_at": "2000-01-01", "resources": [
            {"resource_type": "billing", "resource_id": "1111111", "access_level": "viewer"},
            {"resource_type": "email_campaign_permission_scope", "resource_id": 1111111, "access_level": 10},
            {"resource_type": "project", "resource_id": "999", "access_level": "viewer"},
            {"resource_type": "project", "resource_id": "3301001", "access_level": 50},
            {"resource_type": "inbox", "resource_id": "x", "access_level": "owner"},
            {"resource_id": 3301001},
            "project",
        ]});
        assert_eq!(
            base_of(state.create_api_token(&body, Vocabulary::Old, mint("s"))),
            vec![
                "Name must be a string",
                "resources[0].resource_type \"billing\" cannot be held by an API token: use one \
                 of account, project, inbox, sending_domain",
                "resources[1].resource_type \"email_campaign_permission_scope\" cannot be held \
                 by an API token: use one of account, project, inbox, sending_domain",
                "resources[2]: project 999 is not a resource of this account",
                "resources[3].access_level 50 is not a token level: use \"admin\" (100) or \
                 \"viewer\" (10)",
                "resources[4].resource_id \"x\" is not an id (an integer or a string of digits)",
                "resources[4].access_level \"owner\" is not a token level: use \"admin\" (100) \
                 or \"viewer\" (10)",
                "resources[5].resource_type can't be blank",
                "resources[5].access_level can't be blank",
                "resources[6] must be an object",
                EXPIRATION_NOT_IN_THE_FUTURE,
            ]
        );
        assert_eq!(state, before);
    }

    #[test]
    fn create_reads_the_other_vocabularys_names_as_unknown_types() {
        let mut state = SandboxState::demo();
        for (name, vocabulary) in [
            ("sandbox", Vocabulary::Old),
            ("domain", Vocabulary::Old),
            ("inbox", Vocabulary::New),
            ("sending_domain", Vocabulary::New),
        ] {
            let body = json!({"name": "x", "resources": [
                {"resource_type": name, "resource_id": "4400101", "access_level": "viewer"}
            ]});
            let messages = base_of(state.create_api_token(&body, vocabulary, mint("s")));
            assert_eq!(messages.len(), 1, "{messages:?}");
            assert!(
                messages[0].contains("cannot be held by an API token")
                    && messages[0].ends_with(&vocabulary.token_resource_types().join(", ")),
                "{messages:?}"
            );
        }
        // A resource that is not there is reported in the client's own names.
        let body = json!({"name": "x", "resources": [
            {"resource_type": "sandbox", "resource_id": 1, "access_level": "viewer"}
        ]});
        assert_eq!(
            base_of(state.create_api_token(&body, Vocabulary::New, mint("s"))),
            vec!["resources[0]: sandbox 1 is not a resource of this account"]
        );
    }

    #[test]
    fn ids_are_never_handed_out_twice() {
        let mut state = SandboxState::demo();
        let first = state
            .create_api_token(&backend_viewer(), Vocabulary::Old, mint("s1"))
            .unwrap();
        state.delete_api_token(first.id).unwrap();
        // The state alone would give the same id again; the floor the server keeps does not.
        let second = state
            .create_api_token(
                &backend_viewer(),
                Vocabulary::Old,
                Mint {
                    id_floor: first.id + 1,
                    ..mint("s2")
                },
            )
            .unwrap();
        assert_eq!(second.id, first.id + 1);
        // An ApiToken access naming a token id that is not a token keeps that id taken.
        let mut state = SandboxState::demo();
        let mut access = state.accesses[6].clone();
        access.id = 5190099;
        access.specifier_type = SpecifierType::ApiToken;
        access.specifier = json!({"id": 70000, "name": "old"})
            .as_object()
            .unwrap()
            .clone();
        state.accesses.push(access);
        let record = state
            .create_api_token(&backend_viewer(), Vocabulary::Old, mint("s3"))
            .unwrap();
        assert_eq!(record.id, 70001);
    }

    #[test]
    fn reset_replaces_the_token_once() {
        let mut state = SandboxState::demo();
        let new = state
            .reset_api_token(CI_DEPLOY, &json!(null), mint("fresh-secret"))
            .unwrap();
        assert!(state.api_token(CI_DEPLOY).is_none());
        assert_eq!(new.id, LEGACY_IMPORT + 1);
        assert_eq!(new.name, "CI deploy");
        assert_eq!(new.created_by, "Alice Admin");
        assert_eq!(new.token, "fresh-secret");
        assert_eq!(new.reset_from, Some(CI_DEPLOY));
        assert_eq!(new.expires_at.as_deref(), Some("2027-07-01T00:00:00.000Z"));
        assert_eq!(
            new.resources,
            SandboxState::demo().api_token(CI_DEPLOY).unwrap().resources
        );
        assert_eq!(state.api_tokens.last(), Some(&new));
        assert_eq!(
            base_of(state.reset_api_token(new.id, &json!({}), mint("again"))),
            vec![ALREADY_RESET]
        );
        assert_eq!(
            state.reset_api_token(CI_DEPLOY, &json!({}), mint("again")),
            Err(OperationError::TokenNotFound(CI_DEPLOY))
        );
        let never = state
            .reset_api_token(LEGACY_IMPORT, &json!({"expires_at": null}), mint("s"))
            .unwrap();
        assert_eq!(never.expires_at, None);
    }

    #[test]
    fn reset_refuses_a_bad_expiry_and_an_expired_token() {
        let mut state = SandboxState::demo();
        let before = state.clone();
        assert_eq!(
            base_of(state.reset_api_token(
                CI_DEPLOY,
                &json!({"expires_at": "2020-01-01"}),
                mint("s")
            )),
            vec![EXPIRATION_NOT_IN_THE_FUTURE]
        );
        let later = Mint {
            now: Timestamp::parse("2027-07-01").unwrap(),
            ..mint("s")
        };
        assert_eq!(
            base_of(state.reset_api_token(CI_DEPLOY, &json!({}), later)),
            vec![EXPIRED_CANNOT_BE_RESET]
        );
        assert_eq!(state, before);
    }

    #[test]
    fn removing_a_token_removes_its_token_accesses_and_the_other_way_round() {
        let with_accesses = || {
            let mut state = SandboxState::demo();
            for (access_id, token_id) in [(5190009, CI_DEPLOY), (5190010, LEGACY_IMPORT)] {
                let mut access = state.accesses[6].clone();
                access.id = access_id;
                access.specifier_type = SpecifierType::ApiToken;
                access.specifier = json!({"id": token_id, "name": "t"})
                    .as_object()
                    .unwrap()
                    .clone();
                state.accesses.push(access);
            }
            state.validate().unwrap();
            state
        };
        let mut state = with_accesses();
        state.delete_api_token(CI_DEPLOY).unwrap();
        assert!(state.access(5190009).is_none());
        assert!(state.access(5190010).is_some());
        assert_eq!(
            state.delete_api_token(CI_DEPLOY),
            Err(OperationError::TokenNotFound(CI_DEPLOY))
        );

        let mut state = with_accesses();
        state
            .reset_api_token(LEGACY_IMPORT, &json!({}), mint("s"))
            .unwrap();
        assert!(state.access(5190010).is_none());
        assert!(state.access(5190009).is_some());

        let mut state = with_accesses();
        state.delete_access(5190009).unwrap();
        assert!(state.api_token(CI_DEPLOY).is_none());
        assert!(state.api_token(LEGACY_IMPORT).is_some());
        // Deleting a user or an invite touches no token.
        state.delete_access(5190007).unwrap();
        assert_eq!(state.api_tokens.len(), 1);
    }
}
