//! The sandbox's HTTP face: one handler that does, in the service's order, rate limiting,
//! routing, authentication, the account check and the operation, then stamps the
//! rate-limit headers on whatever comes out and records the exchange (the request, never
//! the answer, so no secret a token's create or reset returns is recorded). Both path
//! families are routed to the same operations: the account-scoped paths of the contract
//! and of the API Tokens API, and the token-scoped ones of the 2026 OpenAPI, where the
//! token alone determines the account. Routing is done by hand so that every odd request
//! (wrong method, non-numeric id) gets the service's JSON answer rather than a
//! framework's plain-text rejection. Injected faults (see `faults`) stand in front of
//! all that, as a flaky network or proxy would.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde::Serialize;
use serde_json::{json, Value};

use super::faults::{Connection, Decision};
use super::rate_window::Admission;
use super::state::{AccessFilter, OperationError, NO_PERMISSIONS_SELECTED};
use super::vocabulary::{ServedAccesses, ServedToken, ServedTokens, ServedTree, TokenAnswer};
use super::{InjectedFault, RecordedRequest, Shared};

/// Bodies are tiny permission lists; anything bigger is not a client of this API.
const MAX_BODY_BYTES: usize = 1 << 20;

/// The status recorded for a request whose connection was closed without an answer.
const DROPPED: u16 = 0;

/// nginx's own 502 page, as a proxy in front of the service sends it.
const BAD_GATEWAY_PAGE: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// The API operations, with their path parameters still as written. `account` is the
/// id in an account-scoped path, `None` in a token-scoped one (the token's account).
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    ListAccounts,
    ListAccesses {
        account: Option<&'a str>,
    },
    ListResources {
        account: Option<&'a str>,
    },
    BulkUpdate {
        account: Option<&'a str>,
        access: &'a str,
    },
    DeleteAccess {
        account: Option<&'a str>,
        access: &'a str,
    },
    ListTokens {
        account: Option<&'a str>,
    },
    ShowToken {
        account: Option<&'a str>,
        token: &'a str,
    },
    CreateToken {
        account: Option<&'a str>,
    },
    DeleteToken {
        account: Option<&'a str>,
        token: &'a str,
    },
    ResetToken {
        account: Option<&'a str>,
        token: &'a str,
    },
}

impl<'a> Route<'a> {
    /// Like Rails' router: a known path with another method is simply no route (404).
    fn recognize(method: &Method, path: &'a str) -> Option<Route<'a>> {
        let path = path.strip_suffix('/').unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        // `["", "api", "accounts", ID, rest..]` and `["", "api", rest..]` name the same
        // operation; only the first names its account.
        let (account, rest) = match segments.as_slice() {
            ["", "api", "accounts", account, rest @ ..] if !rest.is_empty() => {
                (Some(*account), rest)
            }
            ["", "api", rest @ ..] => (None, rest),
            _ => return None,
        };
        if account == Some("") {
            return None;
        }
        match (method, account, rest) {
            (&Method::GET, None, ["accounts"]) => Some(Route::ListAccounts),
            (&Method::GET, _, ["account_accesses"]) => Some(Route::ListAccesses { account }),
            (&Method::GET, _, ["permissions", "resources"]) => {
                Some(Route::ListResources { account })
            }
            (&Method::PUT, _, ["account_accesses", access, "permissions", "bulk"]) => {
                Some(Route::BulkUpdate { account, access })
            }
            (&Method::DELETE, _, ["account_accesses", access]) => {
                Some(Route::DeleteAccess { account, access })
            }
            (&Method::GET, _, ["api_tokens"]) => Some(Route::ListTokens { account }),
            (&Method::POST, _, ["api_tokens"]) => Some(Route::CreateToken { account }),
            (&Method::GET, _, ["api_tokens", token]) => Some(Route::ShowToken { account, token }),
            (&Method::DELETE, _, ["api_tokens", token]) => {
                Some(Route::DeleteToken { account, token })
            }
            (&Method::POST, _, ["api_tokens", token, "reset"]) => {
                Some(Route::ResetToken { account, token })
            }
            _ => None,
        }
    }

    fn account(&self) -> Option<&'a str> {
        match self {
            Route::ListAccounts => None,
            Route::ListAccesses { account }
            | Route::ListResources { account }
            | Route::BulkUpdate { account, .. }
            | Route::DeleteAccess { account, .. }
            | Route::ListTokens { account }
            | Route::ShowToken { account, .. }
            | Route::CreateToken { account }
            | Route::DeleteToken { account, .. }
            | Route::ResetToken { account, .. } => *account,
        }
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await;
    let record = |status: u16, applied: bool, fault: Option<InjectedFault>| {
        shared.record(RecordedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            body: body
                .as_ref()
                .ok()
                .filter(|bytes| !bytes.is_empty())
                .and_then(|bytes| serde_json::from_slice(bytes).ok()),
            status,
            applied,
            fault,
        });
    };

    if let Some(target) = shared.redirect_target() {
        let response = redirect(&target, &parts.uri);
        record(
            response.status().as_u16(),
            false,
            Some(InjectedFault::Redirect),
        );
        return response;
    }
    let route = Route::recognize(&parts.method, parts.uri.path());
    let is_write = matches!(
        route,
        Some(
            Route::BulkUpdate { .. }
                | Route::DeleteAccess { .. }
                | Route::CreateToken { .. }
                | Route::DeleteToken { .. }
                | Route::ResetToken { .. }
        )
    );
    // Faults strike the API operations only; anything else is answered as usual.
    let decision = match route {
        Some(_) => shared.next_fault_decision(),
        None => Decision::none(),
    };
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    let response = match decision.fault {
        Some(InjectedFault::DropBefore) => {
            connection.drop_without_answer();
            record(DROPPED, false, decision.fault);
            return empty_response(StatusCode::INTERNAL_SERVER_ERROR);
        }
        Some(InjectedFault::HtmlPage) => bad_gateway_page(),
        Some(InjectedFault::ServerError) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": "Internal Server Error"}),
        ),
        Some(InjectedFault::Burst429) => burst_429(&shared),
        Some(InjectedFault::DropAfter | InjectedFault::Redirect) | None => {
            serve(&shared, &parts, &body)
        }
    };
    // Injected answers are never a success, so a success is the service's own.
    let applied = is_write && response.status().is_success();
    if decision.fault == Some(InjectedFault::DropAfter) {
        connection.drop_without_answer();
        record(DROPPED, applied, decision.fault);
        return empty_response(StatusCode::INTERNAL_SERVER_ERROR);
    }
    record(response.status().as_u16(), applied, decision.fault);
    response
}

/// What the service itself answers: the rate limit, then the operation, with the
/// rate-limit headers on whatever comes out.
fn serve(shared: &Shared, parts: &Parts, body: &Result<Bytes, axum::Error>) -> Response {
    let credential = presented_token(&parts.headers);
    // Unauthenticated requests share one anonymous bucket; a wrong token gets its own,
    // so it can never eat into the real token's budget.
    let admission = shared.admit(credential.unwrap_or(""), Instant::now());
    let mut response = match (admission, body) {
        (Admission::Limited { retry_after_secs }, _) => {
            let mut response = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({"errors": "Rate limit exceeded"}),
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        // An unreadable body (too large, connection cut) is the service's bare 400.
        (Admission::Allowed { .. }, Err(_)) => empty_response(StatusCode::BAD_REQUEST),
        (Admission::Allowed { .. }, Ok(bytes)) => respond(shared, parts, credential, bytes),
    };
    let remaining = match admission {
        Admission::Allowed { remaining } => remaining,
        Admission::Limited { .. } => 0,
    };
    let headers = response.headers_mut();
    headers.insert(
        "x-ratelimit-limit",
        HeaderValue::from(shared.rate_limit.requests),
    );
    headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    response
}

/// A burst's refusal looks like the limiter's, and asks for a one-second wait.
fn burst_429(shared: &Shared) -> Response {
    let mut response = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({"errors": "Rate limit exceeded"}),
    );
    let headers = response.headers_mut();
    headers.insert(RETRY_AFTER, HeaderValue::from(1));
    headers.insert(
        "x-ratelimit-limit",
        HeaderValue::from(shared.rate_limit.requests),
    );
    headers.insert("x-ratelimit-remaining", HeaderValue::from(0));
    response
}

/// What nginx in front of the service sends when the service is not there.
fn bad_gateway_page() -> Response {
    let mut response = Response::new(Body::from(BAD_GATEWAY_PAGE));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

/// `307` to the same path and query under `target`: a client that followed it would
/// resend the method, the body and its headers (the token among them) there.
fn redirect(target: &str, uri: &Uri) -> Response {
    let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let location = format!("{}{path_and_query}", target.trim_end_matches('/'));
    let page =
        format!("<html><body>You are being <a href=\"{location}\">redirected</a>.</body></html>");
    let mut response = Response::new(Body::from(page));
    *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.insert(LOCATION, value);
    }
    response
}

/// The token from `Api-Token: T` or, failing that header, `Authorization: Bearer T`.
fn presented_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get("api-token") {
        return value.to_str().ok().map(str::trim);
    }
    let authorization = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn respond(shared: &Shared, parts: &Parts, credential: Option<&str>, body: &Bytes) -> Response {
    let Some(route) = Route::recognize(&parts.method, parts.uri.path()) else {
        return not_found();
    };
    if credential != Some(shared.token.as_str()) {
        let mut response = json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "Incorrect API token"}),
        );
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Token realm=\"Application\""),
        );
        return response;
    }
    // A token-scoped path names no account: the token's own is meant.
    if let Some(account) = route.account() {
        if account.parse::<u64>().ok() != Some(shared.account_id) {
            return json_response(
                StatusCode::FORBIDDEN,
                &json!({"errors": "Account access forbidden"}),
            );
        }
    }

    let vocabulary = shared.vocabulary;
    match route {
        Route::ListAccounts => json_response(StatusCode::OK, &shared.accounts),
        Route::ListAccesses { .. } => {
            let pairs = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
                .map(|Query(pairs)| pairs)
                .unwrap_or_default();
            let filter = AccessFilter::from_pairs_in(
                pairs
                    .iter()
                    .map(|(key, value)| (key.as_str(), value.as_str())),
                vocabulary,
            );
            let state = shared.read_state();
            json_response(
                StatusCode::OK,
                &ServedAccesses {
                    accesses: &state.listed_accesses(&filter),
                    vocabulary,
                },
            )
        }
        Route::ListResources { .. } => json_response(
            StatusCode::OK,
            &ServedTree {
                nodes: &shared.read_state().resources,
                vocabulary,
            },
        ),
        Route::BulkUpdate { access, .. } => {
            let Ok(access_id) = access.parse::<u64>() else {
                return not_found();
            };
            let mut state = shared.write_state();
            let outcome = state.check_writable(access_id).and_then(|()| {
                let body = bulk_body(&parts.headers, body)?;
                state.bulk_update_in(access_id, &body, vocabulary)
            });
            match outcome {
                Ok(()) => json_response(
                    StatusCode::OK,
                    &json!({"message": "Permissions have been updated!"}),
                ),
                Err(err) => operation_error(err),
            }
        }
        Route::DeleteAccess { access, .. } => {
            let Ok(access_id) = access.parse::<u64>() else {
                return not_found();
            };
            match shared.write_state().delete_access(access_id) {
                Ok(()) => json_response(StatusCode::OK, &json!({"id": access_id})),
                Err(err) => operation_error(err),
            }
        }
        Route::ListTokens { .. } => json_response(
            StatusCode::OK,
            &ServedTokens {
                tokens: &shared.read_state().api_tokens,
                vocabulary,
            },
        ),
        Route::ShowToken { token, .. } => {
            let state = shared.read_state();
            match token.parse::<u64>().ok().and_then(|id| state.api_token(id)) {
                Some(token) => json_response(
                    StatusCode::OK,
                    &ServedToken {
                        token,
                        vocabulary,
                        answer: TokenAnswer::Read,
                    },
                ),
                None => not_found(),
            }
        }
        Route::CreateToken { .. } => {
            let (params, undeclared) = match json_params(&parts.headers, body) {
                Ok(Some(params)) => (params, false),
                Ok(None) => (Value::Null, true),
                Err(err) => return operation_error(err),
            };
            let mut state = shared.write_state();
            match state.create_api_token(&params, vocabulary, shared.mint()) {
                Ok(record) => {
                    shared.token_issued(record.id);
                    json_response(
                        StatusCode::OK,
                        &ServedToken {
                            token: &record,
                            vocabulary,
                            answer: TokenAnswer::Created,
                        },
                    )
                }
                Err(OperationError::Invalid(mut errors)) if undeclared => {
                    errors.insert("content_type".to_owned(), vec![UNDECLARED_JSON.into()]);
                    operation_error(OperationError::Invalid(errors))
                }
                Err(err) => operation_error(err),
            }
        }
        Route::DeleteToken { token, .. } => {
            let Ok(token_id) = token.parse::<u64>() else {
                return not_found();
            };
            match shared.write_state().delete_api_token(token_id) {
                Ok(()) => empty_response(StatusCode::NO_CONTENT),
                Err(err) => operation_error(err),
            }
        }
        Route::ResetToken { token, .. } => {
            let Ok(token_id) = token.parse::<u64>() else {
                return not_found();
            };
            let mut state = shared.write_state();
            if state.api_token(token_id).is_none() {
                return not_found();
            }
            // The body is optional: one not declared as JSON is simply not read.
            let params = match json_params(&parts.headers, body) {
                Ok(params) => params.unwrap_or(Value::Null),
                Err(err) => return operation_error(err),
            };
            match state.reset_api_token(token_id, &params, shared.mint()) {
                Ok(record) => {
                    shared.token_issued(record.id);
                    json_response(
                        StatusCode::OK,
                        &ServedToken {
                            token: &record,
                            vocabulary,
                            answer: TokenAnswer::Reset,
                        },
                    )
                }
                Err(err) => operation_error(err),
            }
        }
    }
}

/// Why a body was not read, for a client that forgot its Content-Type.
const UNDECLARED_JSON: &str = "the body is read only when Content-Type is application/json";

/// The bulk body the service would see: with no JSON declared, no `permissions` arrive.
fn bulk_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, OperationError> {
    json_params(headers, body)?.ok_or_else(|| {
        OperationError::Invalid(
            [
                ("base".to_owned(), vec![NO_PERMISSIONS_SELECTED.to_owned()]),
                ("content_type".to_owned(), vec![UNDECLARED_JSON.into()]),
            ]
            .into(),
        )
    })
}

/// The JSON parameters the service would see. Like Rails, it reads a body as JSON only
/// when it is declared as such: `None` otherwise. An empty JSON body is `null`.
fn json_params(headers: &HeaderMap, body: &Bytes) -> Result<Option<Value>, OperationError> {
    let declared_json = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !declared_json {
        return Ok(None);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Some(Value::Null));
    }
    serde_json::from_slice(body).map(Some).map_err(|err| {
        OperationError::Invalid(
            [(
                "base".to_owned(),
                vec![format!("the request body is not valid JSON: {err}")],
            )]
            .into(),
        )
    })
}

fn operation_error(err: OperationError) -> Response {
    match err {
        OperationError::AccessNotFound(_) | OperationError::TokenNotFound(_) => not_found(),
        OperationError::OwnerAccess(_) => json_response(
            StatusCode::FORBIDDEN,
            &json!({"errors": "Access forbidden"}),
        ),
        OperationError::Invalid(errors) => {
            json_response(StatusCode::UNPROCESSABLE_ENTITY, &json!({"errors": errors}))
        }
    }
}

fn not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, &json!({"error": "Not Found"}))
}

/// Serialized straight from the typed state, so entries keep the service's key order.
fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"null".to_vec());
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn empty_response(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_every_operation_in_both_path_families() {
        let (get, put, delete, post) = (&Method::GET, &Method::PUT, &Method::DELETE, &Method::POST);
        let cases = [
            (get, "/api/accounts", Route::ListAccounts),
            (get, "/api/accounts/", Route::ListAccounts),
            (
                get,
                "/api/accounts/7/account_accesses",
                Route::ListAccesses { account: Some("7") },
            ),
            (
                get,
                "/api/account_accesses",
                Route::ListAccesses { account: None },
            ),
            (
                get,
                "/api/accounts/7/permissions/resources/",
                Route::ListResources { account: Some("7") },
            ),
            (
                get,
                "/api/permissions/resources",
                Route::ListResources { account: None },
            ),
            (
                put,
                "/api/accounts/7/account_accesses/9/permissions/bulk",
                Route::BulkUpdate {
                    account: Some("7"),
                    access: "9",
                },
            ),
            (
                put,
                "/api/account_accesses/9/permissions/bulk",
                Route::BulkUpdate {
                    account: None,
                    access: "9",
                },
            ),
            (
                delete,
                "/api/accounts/7/account_accesses/9",
                Route::DeleteAccess {
                    account: Some("7"),
                    access: "9",
                },
            ),
            (
                delete,
                "/api/account_accesses/9",
                Route::DeleteAccess {
                    account: None,
                    access: "9",
                },
            ),
            (
                get,
                "/api/accounts/7/api_tokens",
                Route::ListTokens { account: Some("7") },
            ),
            (get, "/api/api_tokens/", Route::ListTokens { account: None }),
            (
                post,
                "/api/accounts/7/api_tokens",
                Route::CreateToken { account: Some("7") },
            ),
            (
                post,
                "/api/api_tokens",
                Route::CreateToken { account: None },
            ),
            (
                get,
                "/api/accounts/7/api_tokens/5",
                Route::ShowToken {
                    account: Some("7"),
                    token: "5",
                },
            ),
            (
                get,
                "/api/api_tokens/x",
                Route::ShowToken {
                    account: None,
                    token: "x",
                },
            ),
            (
                delete,
                "/api/accounts/7/api_tokens/5",
                Route::DeleteToken {
                    account: Some("7"),
                    token: "5",
                },
            ),
            (
                delete,
                "/api/api_tokens/5",
                Route::DeleteToken {
                    account: None,
                    token: "5",
                },
            ),
            (
                post,
                "/api/accounts/7/api_tokens/5/reset",
                Route::ResetToken {
                    account: Some("7"),
                    token: "5",
                },
            ),
            (
                post,
                "/api/api_tokens/5/reset/",
                Route::ResetToken {
                    account: None,
                    token: "5",
                },
            ),
        ];
        for (method, path, route) in cases {
            assert_eq!(
                Route::recognize(method, path),
                Some(route),
                "{method} {path}"
            );
        }
        for (method, path) in [
            (&Method::POST, "/api/accounts/7/account_accesses"),
            (&Method::POST, "/api/account_accesses"),
            (&Method::GET, "/api/accounts/7/account_accesses/9"),
            (&Method::GET, "/api/account_accesses/9"),
            (
                &Method::PATCH,
                "/api/accounts/7/account_accesses/9/permissions/bulk",
            ),
            (&Method::DELETE, "/api/accounts"),
            (&Method::GET, "/api/accounts/7"),
            (&Method::PUT, "/api/api_tokens/5"),
            (&Method::PATCH, "/api/accounts/7/api_tokens/5"),
            (&Method::DELETE, "/api/api_tokens"),
            (&Method::POST, "/api/api_tokens/5"),
            (&Method::GET, "/api/api_tokens/5/reset"),
            (&Method::DELETE, "/api/accounts/7/api_tokens/5/reset"),
            (&Method::POST, "/api/api_tokens/5/reset/again"),
            (&Method::GET, "/api/accounts//account_accesses"),
            (&Method::GET, "/api/accounts/7/accounts"),
            (&Method::GET, "/api/accounts/7/api/account_accesses"),
            (&Method::GET, "/account_accesses"),
            (&Method::GET, "/api"),
            (&Method::GET, "/"),
        ] {
            assert_eq!(Route::recognize(method, path), None, "{method} {path}");
        }
    }

    #[test]
    fn reads_both_auth_header_styles() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented_token(&headers), None);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(presented_token(&headers), Some("abc"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(presented_token(&headers), None);
        headers.insert("api-token", HeaderValue::from_static("xyz"));
        assert_eq!(presented_token(&headers), Some("xyz"));
    }
}
