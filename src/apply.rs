//! Executes a plan: the only module that sends writes, and only the requests the plan
//! holds. Access changes are independent, so they go concurrently and carry on past a
//! failure. Token changes then go one request at a time: each new secret is handed to
//! `keep_secret` (which writes it to the new-tokens file) before the next request, and
//! a replaced token is deleted only once its successor's secret is kept. Afterwards a
//! fresh plan finds any operation the API acknowledged but did not perform.

use std::fmt;

use futures_util::stream::{self, StreamExt};

use crate::api::{ApiError, CreatedToken, Secret, WriteClient};
use crate::model::printable;
use crate::plan::{AccessRef, Plan, Request, TokenChange};

/// What a request is for: an access, or an API token (by name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    Access(AccessRef),
    Token(String),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Access(access) => access.fmt(f),
            Subject::Token(name) => write!(f, "API token {:?}", printable(name)),
        }
    }
}

/// How one request of the plan went.
#[derive(Debug)]
pub struct OperationResult {
    pub subject: Subject,
    pub request: Request,
    pub outcome: Result<Completion, ApiError>,
}

impl OperationResult {
    /// Whether it did not reach its goal: an error, or a token whose secret nobody got.
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Err(_) | Ok(Completion::SecretMissing { .. }))
    }
}

/// A successful request, or one whose goal was already reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    Done,
    /// DELETE answered 404: the access or token is already gone, which was the goal.
    AlreadyGone,
    /// A token was created (or reset) and its secret kept.
    TokenCreated {
        id: Option<u64>,
    },
    /// A token was created (or reset), but the answer held no secret: the token exists
    /// and nobody has its secret. `replacing` is the token a replacement keeps, as its
    /// delete is not sent.
    SecretMissing {
        id: Option<u64>,
        replacing: Option<u64>,
    },
}

/// A secret to keep, with what the new-tokens file says about it.
#[derive(Debug)]
pub struct NewSecret<'a> {
    pub name: &'a str,
    pub created: &'a CreatedToken,
    pub secret: &'a Secret,
    /// The token it replaces (a replacement, or a reset's old id).
    pub replaced_id: Option<u64>,
}

/// Send the requests of `plan`: first the access changes, started in plan order with at
/// most `concurrency` in flight (the client paces them under the rate limit), then the
/// token changes one request at a time. Each result goes to `progress` as it arrives;
/// results come back in that order (accesses in plan order, whatever order they
/// finished in). Once `keep_sending` says no, no further request is started; those in
/// flight are waited for, and the results hold only the requests sent. A secret that
/// `keep_secret` fails to keep stops everything after it.
pub async fn execute(
    plan: &Plan,
    writer: &WriteClient,
    concurrency: usize,
    keep_sending: impl Fn() -> bool,
    mut keep_secret: impl FnMut(NewSecret) -> std::io::Result<()>,
    mut progress: impl FnMut(&OperationResult),
) -> Result<Vec<OperationResult>, SecretNotKept> {
    let sends = plan
        .requests()
        .enumerate()
        .take_while(|_| keep_sending())
        .map(|(index, (access, request))| async move {
            let outcome = send(writer, &request).await.map(|_| Completion::Done);
            let outcome = match outcome {
                Err(ApiError::NotFound { .. }) if matches!(request, Request::Delete { .. }) => {
                    Ok(Completion::AlreadyGone)
                }
                other => other,
            };
            let subject = Subject::Access(access.clone());
            (
                index,
                OperationResult {
                    subject,
                    request,
                    outcome,
                },
            )
        });
    let mut finished = stream::iter(sends).buffer_unordered(concurrency.max(1));
    let mut results: Vec<Option<OperationResult>> = std::iter::repeat_with(|| None)
        .take(plan.changes.len())
        .collect();
    while let Some((index, result)) = finished.next().await {
        progress(&result);
        results[index] = Some(result);
    }
    // Every request started ends with a result; the others were not sent.
    let mut results: Vec<OperationResult> = results.into_iter().flatten().collect();

    for (name, change, requests) in plan.token_requests() {
        let replaced_id = match change {
            TokenChange::ReplaceToken { token_id, .. }
            | TokenChange::ResetToken { token_id, .. } => Some(*token_id),
            _ => None,
        };
        for request in requests {
            if !keep_sending() {
                return Ok(results);
            }
            let answer = send(writer, &request).await;
            let mut secret_kept = true;
            let outcome = match answer {
                Ok(Some(created)) => match &created.secret {
                    Some(secret) => {
                        let new = NewSecret {
                            name,
                            created: &created,
                            secret,
                            replaced_id,
                        };
                        if let Err(cause) = keep_secret(new) {
                            return Err(SecretNotKept {
                                name: name.clone(),
                                id: created.id,
                                cause,
                                results,
                            });
                        }
                        Ok(Completion::TokenCreated { id: created.id })
                    }
                    None => {
                        secret_kept = false;
                        let replacing = match change {
                            TokenChange::ReplaceToken { token_id, .. } => Some(*token_id),
                            _ => None,
                        };
                        Ok(Completion::SecretMissing {
                            id: created.id,
                            replacing,
                        })
                    }
                },
                Ok(None) => Ok(Completion::Done),
                Err(ApiError::NotFound { .. }) if matches!(request, Request::Delete { .. }) => {
                    Ok(Completion::AlreadyGone)
                }
                Err(err) => Err(err),
            };
            let failed = outcome.is_err();
            let result = OperationResult {
                subject: Subject::Token(name.clone()),
                request,
                outcome,
            };
            progress(&result);
            results.push(result);
            // The rest of this change (a replacement's delete) waits for a kept secret:
            // the old token stays, working, until its successor can be used.
            if failed || !secret_kept {
                break;
            }
        }
    }
    Ok(results)
}

/// A new secret arrived and could not be written: apply stops at once, before any
/// further request (a replacement's old token is not deleted).
#[derive(Debug)]
pub struct SecretNotKept {
    pub name: String,
    pub id: Option<u64>,
    pub cause: std::io::Error,
    /// The requests sent before it.
    pub results: Vec<OperationResult>,
}

async fn send(writer: &WriteClient, request: &Request) -> Result<Option<CreatedToken>, ApiError> {
    writer.send(request).await
}

/// Replacements that created the new token but did not delete the old one (the delete
/// failed, was not reached, or the new secret never came): the token's name and the old
/// token's id. The next plan finds two tokens of that name and changes neither.
pub fn unfinished_replacements<'a>(
    plan: &'a Plan,
    results: &[OperationResult],
) -> Vec<(&'a String, u64)> {
    (plan.tokens.iter())
        .filter_map(|(name, change)| match change {
            TokenChange::ReplaceToken { token_id, .. } => Some((name, *token_id)),
            _ => None,
        })
        .filter(|(name, _)| {
            let of_it = || {
                (results.iter()).filter(|r| matches!(&r.subject, Subject::Token(n) if n == *name))
            };
            let created = of_it().any(|r| {
                matches!(r.request, Request::Post { .. })
                    && matches!(
                        r.outcome,
                        Ok(Completion::TokenCreated { .. } | Completion::SecretMissing { .. })
                    )
            });
            let deleted =
                of_it().any(|r| matches!(r.request, Request::Delete { .. }) && r.outcome.is_ok());
            created && !deleted
        })
        .collect()
}

/// Requests the API answered with success, but whose change a fresh plan still wants
/// to make: the API said yes and did not do it.
pub fn unconfirmed<'a>(results: &'a [OperationResult], replanned: &Plan) -> Vec<&'a Subject> {
    results
        .iter()
        .filter(|result| !result.failed())
        .filter(|result| match &result.subject {
            Subject::Access(sent) => replanned.changes.keys().any(|access| access.id == sent.id),
            Subject::Token(name) => replanned.tokens.contains_key(name),
        })
        .map(|result| &result.subject)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{Level, ResourceKey, ResourceType, SpecifierKind};
    use crate::plan::{Change, ResourceRef, RowOp};

    fn access(id: u64) -> AccessRef {
        AccessRef {
            label: format!("user{id}@x.io"),
            kind: SpecifierKind::User,
            id,
        }
    }

    fn plan_for(ids: &[u64]) -> Plan {
        let op = RowOp::Create {
            resource: ResourceRef {
                key: ResourceKey::new(ResourceType::Project, 7),
                name: None,
            },
            to: Level::Viewer,
        };
        Plan {
            changes: ids
                .iter()
                .map(|id| {
                    let operations = vec![op.clone()];
                    (access(*id), Change::Permissions { operations })
                })
                .collect::<BTreeMap<_, _>>(),
            ..Plan::new(1, Default::default())
        }
    }

    #[test]
    fn a_success_that_changed_nothing_is_reported() {
        let sent = plan_for(&[1, 2, 3]);
        let results: Vec<OperationResult> = sent
            .requests()
            .map(|(target, request)| OperationResult {
                subject: Subject::Access(target.clone()),
                outcome: if target.id == 3 {
                    Err(ApiError::Timeout {
                        request: request.describe(),
                    })
                } else {
                    Ok(Completion::Done)
                },
                request,
            })
            .collect();
        // Read back: access 2 still needs its change although the API said 200; access 3
        // failed and is reported as a failure, not as unconfirmed.
        let replanned = plan_for(&[2, 3]);
        let unconfirmed: Vec<u64> = unconfirmed(&results, &replanned)
            .iter()
            .map(|subject| match subject {
                Subject::Access(access) => access.id,
                Subject::Token(_) => unreachable!("no token was sent"),
            })
            .collect();
        assert_eq!(unconfirmed, [2]);
    }
}
