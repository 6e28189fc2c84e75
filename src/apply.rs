//! Executes a plan: the only module that sends writes, and only the requests the plan
//! holds, one per changed access. It carries on past a failed access (accesses are
//! independent), and afterwards compares a fresh plan with what was sent to find any
//! operation the API acknowledged but did not perform.

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

/// Send every request of `plan`, in plan order, reporting each result to `progress` as
/// it arrives.
pub async fn execute(
    plan: &Plan,
    writer: &WriteClient,
    progress: impl FnMut(&OperationResult),
) -> Vec<OperationResult> {
    let requests = plan
        .requests()
        .map(|(access, request)| (access.clone(), request));
    execute_requests(requests, writer, progress).await
}

/// Send `requests` in order (those of a plan, or of a saved plan), reporting each result
/// to `progress` as it arrives.
pub async fn execute_requests(
    requests: impl IntoIterator<Item = (AccessRef, Request)>,
    writer: &WriteClient,
    mut progress: impl FnMut(&OperationResult),
) -> Vec<OperationResult> {
    let mut results = Vec::new();
    for (access, request) in requests {
        let outcome = match writer.send(&request).await {
            Ok(()) => Ok(Completion::Done),
            Err(ApiError::NotFound { .. }) if matches!(request, Request::DeleteAccess { .. }) => {
                Ok(Completion::AlreadyGone)
            }
            Err(err) => Err(err),
        };
        let result = OperationResult {
            access,
            request,
            outcome,
        };
        progress(&result);
        results.push(result);
    }
    results
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
