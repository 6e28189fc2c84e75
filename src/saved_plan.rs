//! The plan as one JSON document, `format_version` 1: `plan --format json` prints it,
//! `plan --out FILE` saves it with a [`Fingerprint`], and `apply FILE` reads it back
//! into the same [`Plan`] type. The document is the plan's own serialization (see
//! `plan`) plus what is derived from it for readers: the summary, each change's request,
//! each item's message, the rails apply will refuse it by.
//!
//! A saved plan is never trusted on its own: `apply FILE` re-reads the desired file the
//! fingerprint names (refusing if its SHA-256 differs), plans again against the live
//! account, and sends only if the fresh plan's changes equal the saved ones, operation
//! for operation. So what was reviewed is what is sent, and an edited plan file, or an
//! account that changed in between, sends nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::LoadedFile;
use crate::model::{Dialect, LiveState};
use crate::plan::{
    AccessRef, Change, LeftAlone, Plan, Request, Summary, TokenChange, TokenLeftAlone, Warning,
};
use crate::rails::Refusal;

/// The version of the JSON plan format. Bumped on any change that is not an addition.
pub const FORMAT_VERSION: u32 = 1;

/// The version of this tool, recorded in every saved plan.
const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The whole document.
#[derive(Debug, Serialize, Deserialize)]
pub struct PlanDocument {
    pub format_version: u32,
    pub account_id: u64,
    /// The path family and vocabulary of the requests.
    #[serde(flatten)]
    pub dialect: Dialect,
    /// `--target`: the people and tokens the plan is restricted to; absent for all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// Whether apply would send anything.
    pub changes: bool,
    pub summary: Summary,
    /// One entry per access apply sends a request for, in plan order.
    pub accesses: Vec<AccessChange>,
    /// One entry per API token apply sends requests for, by name; sent after the
    /// accesses, one request at a time.
    #[serde(default)]
    pub tokens: Vec<TokenChangeEntry>,
    pub left_alone: Vec<Described<LeftAlone>>,
    #[serde(default)]
    pub tokens_left_alone: Vec<Described<TokenLeftAlone>>,
    /// The file's policies judged on the account as apply leaves it; `new` ones are
    /// refused by the `policy` rail.
    #[serde(default)]
    pub policy_violations: Vec<crate::policy::Violation>,
    pub warnings: Vec<Described<Warning>>,
    /// The safety rails the plan breaks, checked without overrides: what `apply` will
    /// refuse unless told otherwise. Written for reviewers; apply judges them afresh.
    pub rails: Vec<Rail>,
    /// Only in a saved plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Fingerprint>,
}

/// One changed access, its operations, and exactly the request apply sends for them.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessChange {
    #[serde(flatten)]
    pub access: AccessRef,
    #[serde(flatten)]
    pub change: Change,
    pub request: Request,
}

/// One changed token, its change, and exactly the requests apply sends for it, in order.
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenChangeEntry {
    pub name: String,
    #[serde(flatten)]
    pub change: TokenChange,
    pub requests: Vec<Request>,
}

/// An item with the sentence the text format prints for it: written for readers of
/// the JSON, not read back.
#[derive(Debug, Serialize, Deserialize)]
pub struct Described<T> {
    #[serde(flatten)]
    pub item: T,
    #[serde(default, skip_deserializing)]
    pub message: String,
}

impl<T> Described<T> {
    fn new(item: T, message: impl std::fmt::Display) -> Self {
        Described {
            message: message.to_string(),
            item,
        }
    }
}

/// A rail the plan breaks, with whether `apply --allow-mass-removal` lifts it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Rail {
    #[serde(flatten)]
    pub refusal: Refusal,
    #[serde(default, skip_deserializing)]
    pub overridable: bool,
    #[serde(default, skip_deserializing)]
    pub message: String,
}

/// Where a saved plan came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Always `sha256`.
    pub algorithm: String,
    pub desired_file: FileFingerprint,
    /// Of the account's API tokens as read (ids, names, expiry, rows; no secret is ever
    /// read), when the plan read them: a token reset or re-created in between changes
    /// it, even where the plan would not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_tokens_sha256: Option<String>,
    /// Of the whole live state as read ([`live_digest`]), the same digest an access
    /// review names: evidence of what the plan was made against. Not compared by
    /// apply, which plans again instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_state_sha256: Option<String>,
    /// The version of mailtrap-access that saved the plan: another version may plan
    /// differently, so apply refuses a plan saved by one.
    pub tool_version: String,
}

impl Fingerprint {
    /// Of the desired file a plan is made from, as given to `-f` and as read, and of
    /// the tokens of `live`.
    pub fn new(desired_path: &str, desired_text: &str, live: &LiveState) -> Self {
        Fingerprint {
            algorithm: "sha256".to_string(),
            desired_file: FileFingerprint {
                path: desired_path.to_string(),
                sha256: sha256_hex(desired_text.as_bytes()),
            },
            api_tokens_sha256: tokens_sha256(live),
            live_state_sha256: Some(live_digest(live)),
            tool_version: TOOL_VERSION.to_string(),
        }
    }
}

/// The live state, canonically: every access (id, kind, name, rows), every resource of
/// the tree (key, name) and every token, one line each in a stable order, hashed. What
/// a report says it was built from.
pub fn live_digest(live: &LiveState) -> String {
    let mut lines: Vec<String> = (live.accesses.iter())
        .map(|access| {
            let mut rows: Vec<String> = (access.rows.iter())
                .map(|row| format!("{} {}", row.resource, row.level.0))
                .collect();
            rows.sort();
            format!(
                "access\t{}\t{}\t{}\t{:?}\t{}",
                access.id,
                access.kind,
                access
                    .two_factor
                    .map_or("-", |on| if on { "2fa" } else { "no-2fa" }),
                access.label(),
                rows.join(",")
            )
        })
        .chain(
            (live.resources.iter())
                .map(|resource| format!("resource\t{}\t{:?}", resource.key, resource.path)),
        )
        .collect();
    lines.sort();
    lines.push(format!(
        "tokens\t{}",
        tokens_sha256(live).unwrap_or_default()
    ));
    sha256_hex(lines.join("\n").as_bytes())
}

/// The tokens of `live`, one line each in id order, hashed.
fn tokens_sha256(live: &LiveState) -> Option<String> {
    let mut tokens: Vec<&crate::model::Token> = live.tokens.as_ref()?.iter().collect();
    tokens.sort_by_key(|token| token.id);
    let mut text = String::new();
    for token in tokens {
        let mut rows: Vec<String> = (token.rows.iter())
            .map(|row| format!("{} {}", row.resource, row.level.0))
            .collect();
        rows.sort();
        text.push_str(&format!(
            "{}\t{:?}\t{:?}\t{}\n",
            token.id,
            token.name,
            token.expires_at.map(|at| at.to_string()),
            rows.join(",")
        ));
    }
    Some(sha256_hex(text.as_bytes()))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFingerprint {
    /// As given to `plan -f`.
    pub path: String,
    /// Of the file's text.
    pub sha256: String,
}

impl PlanDocument {
    /// The document for `plan`, with the rails it breaks (checked without overrides),
    /// and a fingerprint of the desired file when it is to be saved.
    pub fn new(plan: &Plan, refusals: &[Refusal], fingerprint: Option<Fingerprint>) -> Self {
        PlanDocument {
            format_version: FORMAT_VERSION,
            account_id: plan.account_id,
            dialect: plan.dialect,
            targets: plan.targets.clone(),
            changes: !plan.is_empty(),
            summary: plan.summary(),
            accesses: plan
                .changes
                .iter()
                .zip(plan.requests())
                .map(|((access, change), (_, request))| AccessChange {
                    access: access.clone(),
                    change: change.clone(),
                    request,
                })
                .collect(),
            tokens: (plan.token_requests())
                .map(|(name, change, requests)| TokenChangeEntry {
                    name: name.clone(),
                    change: change.clone(),
                    requests,
                })
                .collect(),
            left_alone: (plan.left_alone.iter())
                .map(|item| Described::new(item.clone(), &item.reason))
                .collect(),
            tokens_left_alone: (plan.tokens_left_alone.iter())
                .map(|item| Described::new(item.clone(), item))
                .collect(),
            policy_violations: plan.policy_violations.clone(),
            warnings: (plan.warnings.iter())
                .map(|warning| Described::new(warning.clone(), warning))
                .collect(),
            rails: refusals
                .iter()
                .map(|refusal| Rail {
                    refusal: refusal.clone(),
                    overridable: refusal.overridable(),
                    message: refusal.to_string(),
                })
                .collect(),
            fingerprint,
        }
    }

    /// The plan this document holds, checking what a plan never holds: a request that
    /// is not the one its operations make, an access twice, a summary that does not
    /// count the operations.
    fn into_plan(self) -> Result<Plan, (String, String)> {
        let mut plan = Plan {
            account_id: self.account_id,
            dialect: self.dialect,
            changes: BTreeMap::new(),
            tokens: BTreeMap::new(),
            left_alone: self.left_alone.into_iter().map(|item| item.item).collect(),
            tokens_left_alone: (self.tokens_left_alone.into_iter())
                .map(|item| item.item)
                .collect(),
            warnings: self.warnings.into_iter().map(|item| item.item).collect(),
            targets: self.targets,
            policy_violations: self.policy_violations,
        };
        for (index, entry) in self.accesses.into_iter().enumerate() {
            let at = |field: &str| format!("accesses[{index}]{field}");
            let made = entry
                .change
                .request(plan.account_id, plan.dialect, entry.access.id);
            if entry.request != made {
                return Err((
                    at(".request"),
                    "it is not the request its operations make".to_string(),
                ));
            }
            if plan.changes.insert(entry.access, entry.change).is_some() {
                return Err((at(""), "the access is listed twice".to_string()));
            }
        }
        for (index, entry) in self.tokens.into_iter().enumerate() {
            let at = |field: &str| format!("tokens[{index}]{field}");
            let made = entry
                .change
                .requests(plan.account_id, plan.dialect, &entry.name);
            if entry.requests != made {
                return Err((
                    at(".requests"),
                    "they are not the requests its change makes".to_string(),
                ));
            }
            if plan.tokens.insert(entry.name, entry.change).is_some() {
                return Err((at(""), "the token is listed twice".to_string()));
            }
        }
        if self.summary != plan.summary() || self.changes == plan.is_empty() {
            return Err((
                "summary".to_string(),
                "it does not count the operations listed".to_string(),
            ));
        }
        Ok(plan)
    }
}

/// A plan read back from `plan --out`, with where it came from.
#[derive(Debug)]
pub struct SavedPlan {
    pub path: String,
    pub plan: Plan,
    pub fingerprint: Fingerprint,
}

/// Why a saved plan cannot be applied. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("{path} is not a saved plan: {detail}. To apply a desired-state file, use `apply -f {path}`; to save a plan for apply, use `plan --out plan.json`")]
    NotASavedPlan { path: String, detail: String },
    #[error("{path} has format_version {found}; this mailtrap-access reads version {FORMAT_VERSION}. Save the plan again with this version")]
    UnsupportedVersion { path: String, found: String },
    #[error("{path} was saved by mailtrap-access {saved}, but this is {TOOL_VERSION}, which may plan differently; run plan --out again with this version")]
    ToolVersion { path: String, saved: String },
    #[error("{path}: {at}: {why}. The file was changed after it was saved; save the plan again with `plan --out`")]
    Corrupt {
        path: String,
        at: String,
        why: String,
    },
    #[error("{path} was planned from {planned_from} (SHA-256 {saved}), but {desired} has SHA-256 {now}; nothing was sent. Apply it with the desired file it was planned from, or run plan again")]
    DesiredFileChanged {
        path: String,
        planned_from: String,
        desired: String,
        saved: String,
        now: String,
    },
    #[error("{path} was planned with --api-paths {} in the {} vocabulary, but the account is now read with --api-paths {} in the {} vocabulary; nothing was sent. Apply it as it was planned, or run plan again", .saved.paths, .saved.vocabulary, .now.paths, .now.vocabulary)]
    OtherDialect {
        path: String,
        saved: Dialect,
        now: Dialect,
    },
    #[error("the plan made now differs from {path}, so what was reviewed is not what would be sent; nothing was sent. What differs: {}. Run plan again, review it, and apply the new plan", .differences.join("; "))]
    Stale {
        path: String,
        differences: Vec<String>,
    },
}

impl SavedPlan {
    /// Read a saved plan; `path` is for messages.
    pub fn parse(path: &str, text: &str) -> Result<SavedPlan, SavedPlanError> {
        let not_saved = |detail: &str| SavedPlanError::NotASavedPlan {
            path: path.to_string(),
            detail: detail.to_string(),
        };
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|err| not_saved(&format!("it is not JSON ({err})")))?;
        let Some(object) = value.as_object() else {
            return Err(not_saved("it is not a JSON object"));
        };
        let Some(version) = object.get("format_version") else {
            return Err(not_saved("it has no format_version"));
        };
        let Some(fingerprint) = object.get("fingerprint") else {
            return Err(not_saved(
                "it has no fingerprint (`plan --format json` prints a report; `plan --out FILE` saves a plan)",
            ));
        };
        if version.as_u64() != Some(u64::from(FORMAT_VERSION)) {
            return Err(SavedPlanError::UnsupportedVersion {
                path: path.to_string(),
                found: version.to_string(),
            });
        }
        // Before the rest: another version's plan may not read as this version's.
        let saved_by = fingerprint.get("tool_version").and_then(|v| v.as_str());
        if saved_by != Some(TOOL_VERSION) {
            return Err(SavedPlanError::ToolVersion {
                path: path.to_string(),
                saved: saved_by.map_or("an unknown version".to_string(), str::to_string),
            });
        }
        let corrupt = |(at, why): (String, String)| SavedPlanError::Corrupt {
            path: path.to_string(),
            at,
            why,
        };
        let document: PlanDocument = serde_path_to_error::deserialize(value)
            .map_err(|err| corrupt((err.path().to_string(), err.inner().to_string())))?;
        let fingerprint = document
            .fingerprint
            .clone()
            .ok_or_else(|| corrupt(("fingerprint".to_string(), "it is missing".to_string())))?;
        Ok(SavedPlan {
            path: path.to_string(),
            plan: document.into_plan().map_err(corrupt)?,
            fingerprint,
        })
    }

    /// Refuse unless `loaded` is the desired file the plan was made from.
    pub fn check_desired(&self, loaded: &LoadedFile) -> Result<(), SavedPlanError> {
        let now = sha256_hex(loaded.text().as_bytes());
        if now == self.fingerprint.desired_file.sha256 {
            return Ok(());
        }
        Err(SavedPlanError::DesiredFileChanged {
            path: self.path.clone(),
            planned_from: self.fingerprint.desired_file.path.clone(),
            desired: loaded.display_path.clone(),
            saved: self.fingerprint.desired_file.sha256.clone(),
            now,
        })
    }

    /// Refuse unless `fresh`, planned now from the same file against `live`, makes
    /// exactly the saved changes, from the same tokens. What is only shown (left
    /// alone, warnings) may differ: it sends nothing.
    pub fn check_fresh(&self, fresh: &Plan, live: &LiveState) -> Result<(), SavedPlanError> {
        if fresh.dialect != self.plan.dialect {
            return Err(SavedPlanError::OtherDialect {
                path: self.path.clone(),
                saved: self.plan.dialect,
                now: fresh.dialect,
            });
        }
        let tokens_now = tokens_sha256(live);
        if self.fingerprint.api_tokens_sha256.is_some()
            && tokens_now != self.fingerprint.api_tokens_sha256
        {
            return Err(SavedPlanError::Stale {
                path: self.path.clone(),
                differences: vec![
                    "the account's API tokens changed since the plan was saved".to_string()
                ],
            });
        }
        if fresh.changes == self.plan.changes && fresh.tokens == self.plan.tokens {
            return Ok(());
        }
        let saved = &self.plan.changes;
        let accesses: BTreeSet<&AccessRef> = saved.keys().chain(fresh.changes.keys()).collect();
        let mut differences: Vec<String> = accesses
            .into_iter()
            .filter_map(
                |access| match (saved.get(access), fresh.changes.get(access)) {
                    (Some(_), None) => Some(format!("{access} is changed by the saved plan only")),
                    (None, Some(_)) => {
                        Some(format!("{access} is changed by the plan made now only"))
                    }
                    (Some(a), Some(b)) if a != b => {
                        Some(format!("{access} is changed differently by the two"))
                    }
                    _ => None,
                },
            )
            .collect();
        let names: BTreeSet<&String> = (self.plan.tokens.keys())
            .chain(fresh.tokens.keys())
            .collect();
        for name in names {
            if self.plan.tokens.get(name) != fresh.tokens.get(name) {
                differences.push(format!(
                    "API token {:?} is changed differently by the two",
                    crate::model::printable(name)
                ));
            }
        }
        const SHOWN: usize = 20;
        if differences.len() > SHOWN {
            let more = differences.len() - SHOWN;
            differences.truncate(SHOWN);
            differences.push(format!("and {more} more"));
        }
        Err(SavedPlanError::Stale {
            path: self.path.clone(),
            differences,
        })
    }
}

/// Whether `bytes` look like a saved plan (a JSON object with a format version and a
/// fingerprint), whatever its version: what `plan --out` may overwrite.
pub fn looks_saved(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|value| {
        value.get("format_version").is_some() && value.get("fingerprint").is_some()
    })
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_the_standard_one() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
