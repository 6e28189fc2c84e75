//! Saved plans: `plan --out FILE` writes the JSON plan plus a fingerprint of what it was
//! computed from; `apply FILE` sends exactly its requests, but only if the live account
//! still has that fingerprint. Pure: hashing, comparing, and turning the saved requests
//! back into [`Request`]s after checking that each is one this tool would send.
//!
//! The fingerprint holds SHA-256 digests of the desired file's bytes and of a canonical
//! serialization of the live state (every access with its rows, and the resource tree,
//! sorted), plus one digest per access so that a refusal can say which accesses changed.
//! The live state never holds a secret (API tokens' values are not decoded), so neither
//! does a saved plan.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{Access, Level, LiveState, ResourceType};
use crate::plan::{AccessRef, BulkBody, BulkPermission, Plan, Request};
use crate::rails::Refusal;
use crate::render::json::{PlanReport, RailView, RequestView, SpecifierView, JSON_FORMAT_VERSION};

/// A saved plan: the `--format json` document with a `fingerprint` added. Its `rails`
/// are the ones checked when it was saved: apply runs only on the live state the plan
/// was computed from, so that verdict is the one apply would reach, and apply enforces
/// it as it does for a fresh plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPlan {
    #[serde(flatten)]
    pub plan: PlanReport,
    pub fingerprint: Fingerprint,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Always `sha256`.
    pub algorithm: String,
    pub desired_file: FileFingerprint,
    pub live_state: LiveFingerprint,
    /// The version of mailtrap-access that saved the plan.
    pub tool_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFingerprint {
    /// As given to `plan -f`.
    pub path: String,
    /// Of the file's bytes.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveFingerprint {
    /// Of the whole live state; apply compares this one.
    pub sha256: String,
    /// Of the resource tree alone.
    pub resources_sha256: String,
    /// Of each access, by id: to say what changed.
    pub accesses: Vec<AccessFingerprint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessFingerprint {
    pub id: u64,
    /// Email or token name, for messages.
    pub label: String,
    pub sha256: String,
}

/// Why a saved plan cannot be applied. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("{path} is not a saved plan: {detail}. Save one with `mailtrap-access plan --out {path}`; to apply a desired-state file, use `apply -f FILE`")]
    NotASavedPlan { path: String, detail: String },
    #[error("{path} has format_version {found}; this mailtrap-access reads version {JSON_FORMAT_VERSION}. Save the plan again with this version")]
    UnsupportedVersion { path: String, found: u32 },
    #[error("{path}: {at}: {why}. The file was changed after it was saved; save the plan again with `plan --out`")]
    Corrupt {
        path: String,
        at: String,
        why: String,
    },
    #[error("{path} was planned for account {planned}, but apply targets account {target}; check --account-id / MAILTRAP_ACCOUNT_ID")]
    AccountMismatch {
        path: String,
        planned: u64,
        target: u64,
    },
    #[error("the account changed since {path} was saved, so its requests may no longer be right; nothing was sent. What changed: {}. Run plan again, review it, and apply the new plan", .changes.join("; "))]
    Stale { path: String, changes: Vec<String> },
}

/// A request of a saved plan, with the access it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedRequest {
    pub access: AccessRef,
    pub request: Request,
}

impl SavedPlan {
    /// The plan to save, fingerprinted with the desired file's bytes and the live state
    /// the plan was computed from, with the rails it breaks (checked without overrides).
    pub fn new(
        plan: &Plan,
        refusals: &[Refusal],
        desired_path: &str,
        desired_bytes: &[u8],
        live: &LiveState,
    ) -> Self {
        SavedPlan {
            plan: PlanReport::new(plan, refusals),
            fingerprint: Fingerprint {
                algorithm: "sha256".to_string(),
                desired_file: FileFingerprint {
                    path: desired_path.to_string(),
                    sha256: sha256_hex(desired_bytes),
                },
                live_state: live_fingerprint(live),
                tool_version: env!("CARGO_PKG_VERSION").to_string(),
            },
        }
    }

    /// Read a saved plan, checking its version; `path` is for messages.
    pub fn parse(path: &str, text: &str) -> Result<SavedPlan, SavedPlanError> {
        let not_saved = |detail: String| SavedPlanError::NotASavedPlan {
            path: path.to_string(),
            detail,
        };
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|err| not_saved(format!("it is not JSON ({err})")))?;
        let Some(object) = value.as_object() else {
            return Err(not_saved("it is not a JSON object".to_string()));
        };
        if !object.contains_key("format_version") {
            return Err(not_saved("it has no format_version".to_string()));
        }
        if !object.contains_key("fingerprint") {
            return Err(not_saved(
                "it has no fingerprint (`plan --format json` prints a report; `plan --out FILE` saves a plan)".to_string(),
            ));
        }
        match object["format_version"].as_u64() {
            Some(version) if version == u64::from(JSON_FORMAT_VERSION) => {}
            other => {
                return Err(SavedPlanError::UnsupportedVersion {
                    path: path.to_string(),
                    found: other.and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
                })
            }
        }
        serde_path_to_error::deserialize(value).map_err(|err| SavedPlanError::Corrupt {
            path: path.to_string(),
            at: err.path().to_string(),
            why: err.inner().to_string(),
        })
    }

    /// The saved requests, each checked to be one this tool sends for this plan's account
    /// (a bulk PUT of admin/viewer/_destroy rows of a managed type, or a DELETE of the
    /// access), in the saved order.
    pub fn requests(&self, path: &str) -> Result<Vec<SavedRequest>, SavedPlanError> {
        let account = self.plan.account_id;
        self.plan
            .accesses
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                let corrupt = |why: String| SavedPlanError::Corrupt {
                    path: path.to_string(),
                    at: format!("accesses[{index}].request"),
                    why,
                };
                let request =
                    to_request(account, entry.access_id, &entry.request).map_err(corrupt)?;
                Ok(SavedRequest {
                    access: access_ref(entry.access_id, &entry.specifier),
                    request,
                })
            })
            .collect()
    }

    /// The rails that stop this plan, given whether mass removal is allowed.
    pub fn blocking_rails(&self, allow_mass_removal: bool) -> Vec<&RailView> {
        self.plan
            .rails
            .iter()
            .filter(|rail| !(rail.overridable && allow_mass_removal))
            .collect()
    }

    /// Refuse unless `live` is the state the plan was computed from.
    pub fn check_live(&self, path: &str, live: &LiveState) -> Result<(), SavedPlanError> {
        let now = live_fingerprint(live);
        let saved = &self.fingerprint.live_state;
        if now.sha256 == saved.sha256 {
            return Ok(());
        }
        let mut changes = differences(saved, &now);
        if changes.is_empty() {
            changes.push("the live state's fingerprint differs".to_string());
        }
        Err(SavedPlanError::Stale {
            path: path.to_string(),
            changes,
        })
    }
}

fn access_ref(id: u64, specifier: &SpecifierView) -> AccessRef {
    AccessRef {
        label: specifier.label().to_string(),
        kind: specifier.kind(),
        id,
    }
}

/// A saved request back as a [`Request`], refusing anything this tool would not send.
fn to_request(account: u64, access_id: u64, view: &RequestView) -> Result<Request, String> {
    let access_path = format!("/api/accounts/{account}/account_accesses/{access_id}");
    match view.method.as_str() {
        "DELETE" => {
            if view.path != access_path {
                return Err(format!(
                    "DELETE path {:?} is not {access_path:?}",
                    view.path
                ));
            }
            if view.body.is_some() {
                return Err("a DELETE carries no body".to_string());
            }
            Ok(Request::DeleteAccess {
                path: view.path.clone(),
            })
        }
        "PUT" => {
            let bulk_path = format!("{access_path}/permissions/bulk");
            if view.path != bulk_path {
                return Err(format!("PUT path {:?} is not {bulk_path:?}", view.path));
            }
            let Some(body) = &view.body else {
                return Err("a bulk PUT needs its body".to_string());
            };
            if body.permissions.is_empty() {
                return Err("the bulk body has no permissions".to_string());
            }
            let permissions = body
                .permissions
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    let at = format!("body.permissions[{index}]");
                    if item.resource_id.is_empty()
                        || !item.resource_id.bytes().all(|b| b.is_ascii_digit())
                    {
                        return Err(format!(
                            "{at}: resource_id {:?} is not a number",
                            item.resource_id
                        ));
                    }
                    if !ResourceType::from_api(&item.resource_type).is_managed() {
                        return Err(format!(
                            "{at}: resource_type {:?} is not one this tool writes",
                            item.resource_type
                        ));
                    }
                    let access_level = match (&item.access_level, item.destroy) {
                        (Some(level), None) => Some(
                            [Level::Admin, Level::Viewer]
                                .into_iter()
                                .find(|known| known.name() == level)
                                .ok_or_else(|| {
                                    format!("{at}: access_level {level:?} is not admin or viewer")
                                })?
                                .name(),
                        ),
                        (None, Some(true)) => None,
                        _ => {
                            return Err(format!(
                                "{at}: needs either access_level or \"_destroy\": true"
                            ))
                        }
                    };
                    Ok(BulkPermission {
                        resource_id: item.resource_id.clone(),
                        resource_type: item.resource_type.clone().into(),
                        access_level,
                        destroy: item.destroy,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(Request::BulkUpdate {
                path: view.path.clone(),
                body: BulkBody { permissions },
            })
        }
        other => Err(format!("method {other:?} is not PUT or DELETE")),
    }
}

/// What differs between two fingerprints, for the refusal message: at most 20 lines.
fn differences(saved: &LiveFingerprint, now: &LiveFingerprint) -> Vec<String> {
    let mut changes = Vec::new();
    if saved.resources_sha256 != now.resources_sha256 {
        changes.push(
            "the resource tree changed (projects, inboxes, sending domains or their names)"
                .to_string(),
        );
    }
    let before: BTreeMap<u64, &AccessFingerprint> =
        saved.accesses.iter().map(|a| (a.id, a)).collect();
    let after: BTreeMap<u64, &AccessFingerprint> = now.accesses.iter().map(|a| (a.id, a)).collect();
    for (id, old) in &before {
        match after.get(id) {
            None => changes.push(format!("access {id} ({}) is gone", old.label)),
            Some(new) if new.sha256 != old.sha256 => {
                changes.push(format!("access {id} ({}) changed", new.label))
            }
            Some(_) => {}
        }
    }
    for (id, new) in &after {
        if !before.contains_key(id) {
            changes.push(format!("access {id} ({}) is new", new.label));
        }
    }
    const SHOWN: usize = 20;
    if changes.len() > SHOWN {
        let more = changes.len() - SHOWN;
        changes.truncate(SHOWN);
        changes.push(format!("and {more} more"));
    }
    changes
}

/// The fingerprint of a live state: digests of its canonical serialization.
pub fn live_fingerprint(live: &LiveState) -> LiveFingerprint {
    let mut resources: Vec<CanonicalResource> = live
        .resources
        .iter()
        .map(|resource| CanonicalResource {
            kind: resource.key.kind.api_name(),
            id: resource.key.id,
            name: &resource.name,
            path: &resource.path,
        })
        .collect();
    resources.sort();
    let mut accesses: Vec<CanonicalAccess> = live.accesses.iter().map(canonical_access).collect();
    accesses.sort();
    LiveFingerprint {
        sha256: digest(&(&resources, &accesses)),
        resources_sha256: digest(&resources),
        accesses: accesses
            .iter()
            .map(|access| AccessFingerprint {
                id: access.id,
                label: access.label.clone(),
                sha256: digest(access),
            })
            .collect(),
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct CanonicalResource<'a> {
    kind: &'a str,
    id: u64,
    name: &'a str,
    path: &'a str,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct CanonicalAccess<'a> {
    id: u64,
    kind: &'a str,
    email: Option<&'a str>,
    name: Option<&'a str>,
    #[serde(skip)]
    label: String,
    /// (type, id, level), sorted.
    rows: Vec<(&'a str, u64, u32)>,
}

fn canonical_access(access: &Access) -> CanonicalAccess<'_> {
    let mut rows: Vec<(&str, u64, u32)> = access
        .rows
        .iter()
        .map(|row| (row.resource.kind.api_name(), row.resource.id, row.level))
        .collect();
    rows.sort();
    CanonicalAccess {
        id: access.id,
        kind: access.kind.api_name(),
        email: access.email.as_deref(),
        name: access.name.as_deref(),
        label: access.label(),
        rows,
    }
}

/// The digest of a canonical shape's JSON serialization.
fn digest(value: &impl Serialize) -> String {
    sha256_hex(&serde_json::to_vec(value).expect("canonical state always serializes"))
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Accesses whose saved request the API answered with success, but whose effect the
/// read-back does not show: each bulk row at its level (or gone, for `_destroy`), each
/// deleted access gone.
pub fn unconfirmed<'a>(
    results: &'a [crate::apply::OperationResult],
    after: &LiveState,
) -> Vec<&'a AccessRef> {
    results
        .iter()
        .filter(|result| result.outcome.is_ok())
        .filter(|result| !took_effect(result.access.id, &result.request, after))
        .map(|result| &result.access)
        .collect()
}

fn took_effect(access_id: u64, request: &Request, after: &LiveState) -> bool {
    let access = after.accesses.iter().find(|access| access.id == access_id);
    match (request, access) {
        (Request::DeleteAccess { .. }, access) => access.is_none(),
        (Request::BulkUpdate { .. }, None) => false,
        (Request::BulkUpdate { body, .. }, Some(access)) => {
            body.permissions.iter().all(|permission| {
                let kind = ResourceType::from_api(&permission.resource_type);
                let row = access.rows.iter().find(|row| {
                    row.resource.kind == kind
                        && row.resource.id.to_string() == permission.resource_id
                });
                match (permission.access_level, row) {
                    (None, row) => row.is_none(),
                    (Some(level), Some(row)) => {
                        Level::from_code(row.level).is_some_and(|held| held.name() == level)
                    }
                    (Some(_), None) => false,
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ResourceKey, Row, SpecifierKind};

    fn live() -> LiveState {
        LiveState {
            resources: vec![crate::model::Resource {
                key: ResourceKey::new(ResourceType::Project, 7),
                name: "Backend".into(),
                path: "Backend".into(),
            }],
            accesses: vec![
                Access {
                    id: 2,
                    kind: SpecifierKind::User,
                    email: Some("b@x.com".into()),
                    name: None,
                    rows: vec![
                        Row {
                            resource: ResourceKey::new(ResourceType::Project, 7),
                            level: 100,
                        },
                        Row {
                            resource: ResourceKey::new(ResourceType::Account, 1),
                            level: 10,
                        },
                    ],
                },
                Access {
                    id: 1,
                    kind: SpecifierKind::Invite,
                    email: Some("a@x.com".into()),
                    name: None,
                    rows: vec![],
                },
            ],
        }
    }

    #[test]
    fn the_fingerprint_ignores_order_and_sees_every_change() {
        let base = live_fingerprint(&live());
        let mut reordered = live();
        reordered.accesses.reverse();
        reordered.accesses[0].rows.reverse();
        assert_eq!(live_fingerprint(&reordered), base);

        let mut changed = live();
        changed.accesses[0].rows[0].level = 10;
        let now = live_fingerprint(&changed);
        assert_ne!(now.sha256, base.sha256);
        assert_eq!(differences(&base, &now), ["access 2 (b@x.com) changed"]);

        let mut renamed = live();
        renamed.resources[0].path = "Back".into();
        renamed.accesses.pop();
        let now = live_fingerprint(&renamed);
        assert_eq!(
            differences(&base, &now),
            [
                "the resource tree changed (projects, inboxes, sending domains or their names)",
                "access 1 (a@x.com) is gone"
            ]
        );
    }

    #[test]
    fn sha256_is_the_standard_one() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    fn put(body: serde_json::Value) -> RequestView {
        serde_json::from_value(serde_json::json!({
            "method": "PUT",
            "path": "/api/accounts/9/account_accesses/5/permissions/bulk",
            "body": body,
        }))
        .unwrap()
    }

    #[test]
    fn only_requests_this_tool_sends_are_accepted() {
        let good = put(serde_json::json!({"permissions": [
            {"resource_id": "7", "resource_type": "project", "access_level": "admin"},
            {"resource_id": "8", "resource_type": "inbox", "_destroy": true}
        ]}));
        assert!(to_request(9, 5, &good).is_ok());
        let bad = [
            (
                put(serde_json::json!({"permissions": []})),
                "no permissions",
            ),
            (
                put(
                    serde_json::json!({"permissions": [{"resource_id": "7", "resource_type": "project", "access_level": "owner"}]}),
                ),
                "not admin or viewer",
            ),
            (
                put(
                    serde_json::json!({"permissions": [{"resource_id": "7", "resource_type": "organization", "access_level": "admin"}]}),
                ),
                "not one this tool writes",
            ),
            (
                put(
                    serde_json::json!({"permissions": [{"resource_id": "7", "resource_type": "project", "_destroy": false}]}),
                ),
                "either access_level",
            ),
            (
                put(
                    serde_json::json!({"permissions": [{"resource_id": "x7", "resource_type": "project", "access_level": "admin"}]}),
                ),
                "not a number",
            ),
        ];
        for (view, expected) in bad {
            let err = to_request(9, 5, &view).unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
        let elsewhere = to_request(8, 5, &good).unwrap_err();
        assert!(elsewhere.contains("is not"), "{elsewhere}");
        let delete: RequestView = serde_json::from_value(serde_json::json!({
            "method": "DELETE", "path": "/api/accounts/9/account_accesses/6"
        }))
        .unwrap();
        assert!(to_request(9, 5, &delete).is_err());
        assert!(to_request(9, 6, &delete).is_ok());
    }
}
