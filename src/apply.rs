//! Executes a plan: the only module that sends writes, and only the requests the plan
//! holds, one per changed access. It carries on past a failed access (accesses are
//! independent), and afterwards compares a fresh plan with what was sent to find any
//! operation the API acknowledged but did not perform.

use futures_util::stream::{self, StreamExt};

use crate::api::{ApiError, WriteClient};
use crate::plan::{AccessRef, Plan, Request};

/// How one request of the plan went.
#[derive(Debug)]
pub struct OperationResult {
    pub access: AccessRef,
    pub request: Request,
    pub outcome: Result<Completion, ApiError>,
}

/// A successful request, or one whose goal was already reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    Done,
    /// DELETE answered 404: the access is already gone, which is what was wanted.
    AlreadyGone,
}

/// Send the requests of `plan`, started in plan order with at most `concurrency` in
/// flight (the client paces them under the rate limit), reporting each result to
/// `progress` as it arrives. Results come back in plan order, whatever order they
/// finished in. Once `keep_sending` says no, no further request is started; those in
/// flight are waited for, and the results hold only the requests sent.
pub async fn execute(
    plan: &Plan,
    writer: &WriteClient,
    concurrency: usize,
    keep_sending: impl Fn() -> bool,
    mut progress: impl FnMut(&OperationResult),
) -> Vec<OperationResult> {
    let sends = plan
        .requests()
        .enumerate()
        .take_while(|_| keep_sending())
        .map(|(index, (access, request))| async move {
            let outcome = send(writer, &request).await;
            let access = access.clone();
            (
                index,
                OperationResult {
                    access,
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
    results.into_iter().flatten().collect()
}

async fn send(writer: &WriteClient, request: &Request) -> Result<Completion, ApiError> {
    match writer.send(request).await {
        Ok(()) => Ok(Completion::Done),
        // The access is already gone, which is what the DELETE wanted.
        Err(ApiError::NotFound { .. }) if matches!(request, Request::DeleteAccess { .. }) => {
            Ok(Completion::AlreadyGone)
        }
        Err(err) => Err(err),
    }
}

/// Accesses whose request the API answered with success, but which a fresh plan still
/// wants to change: the API said yes and did not do it.
pub fn unconfirmed<'a>(results: &'a [OperationResult], replanned: &Plan) -> Vec<&'a AccessRef> {
    results
        .iter()
        .filter(|result| result.outcome.is_ok())
        .filter(|result| {
            replanned
                .changes
                .keys()
                .any(|access| access.id == result.access.id)
        })
        .map(|result| &result.access)
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
            account_id: 1,
            dialect: Default::default(),
            changes: ids
                .iter()
                .map(|id| {
                    let operations = vec![op.clone()];
                    (access(*id), Change::Permissions { operations })
                })
                .collect::<BTreeMap<_, _>>(),
            left_alone: vec![],
            warnings: vec![],
        }
    }

    #[test]
    fn a_success_that_changed_nothing_is_reported() {
        let sent = plan_for(&[1, 2, 3]);
        let results: Vec<OperationResult> = sent
            .requests()
            .map(|(target, request)| OperationResult {
                access: target.clone(),
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
            .map(|a| a.id)
            .collect();
        assert_eq!(unconfirmed, [2]);
    }
}
