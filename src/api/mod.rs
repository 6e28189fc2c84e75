//! The HTTP client for Mailtrap's Account Management API. Reading and writing are
//! separate types: planning is handed a [`ReadClient`], which has no method that writes;
//! only the apply step builds a [`WriteClient`]. Every failure becomes an [`ApiError`]
//! that says which request failed and what to do, and never contains the token.

mod pacing;
mod retry;
mod wire;

pub use retry::RetryPolicy;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};

use crate::model::{Access, LiveState, Resource};
use crate::plan::{BulkBody, Request};
use crate::rate::RateLimit;

/// The API token. It has no `Display`, and its `Debug` is redacted, so it cannot end up
/// in output by accident.
#[derive(Clone)]
pub struct ApiToken(String);

impl ApiToken {
    pub fn new(token: impl Into<String>) -> Result<ApiToken, ApiError> {
        let token = token.into().trim().to_string();
        if token.is_empty() {
            return Err(ApiError::MissingToken);
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::Config(
                "the API token contains spaces or non-printable characters; check MAILTRAP_API_TOKEN".to_string(),
            ));
        }
        Ok(ApiToken(token))
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// Why a request failed. Callers branch on the kind (for instance a 404 on DELETE).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("MAILTRAP_API_TOKEN is not set: export an API token with admin access to the account (or use --sandbox)")]
    MissingToken,
    #[error("{0}")]
    Config(String),
    #[error("{request}: 401 Unauthorized: the API token was rejected; check MAILTRAP_API_TOKEN")]
    Unauthorized { request: String },
    #[error("{request}: 403 Forbidden ({detail}): the token needs admin access to this account; check the account id")]
    Forbidden { request: String, detail: String },
    #[error("{request}: 404 Not Found: check the account id and --api-url")]
    NotFound { request: String },
    #[error("{request}: 422 Unprocessable ({detail}): the API rejected the change")]
    Validation { request: String, detail: String },
    #[error("{request}: 429 Too Many Requests: rate limit exceeded{}; wait and run again", retry_hint(.retry_after))]
    RateLimited {
        request: String,
        retry_after: Option<Duration>,
    },
    #[error("{request}: {status} from the server ({detail}); Mailtrap may be having trouble, run again later")]
    Server {
        request: String,
        status: u16,
        detail: String,
    },
    #[error("{request}: unexpected {status} ({detail})")]
    Unexpected {
        request: String,
        status: u16,
        detail: String,
    },
    #[error("{request}: the response could not be read: {detail}")]
    Decode { request: String, detail: String },
    #[error("{request}: timed out; check the network or raise the timeout")]
    Timeout { request: String },
    #[error("{request}: could not connect ({detail}); check --api-url and the network")]
    Connect { request: String, detail: String },
    #[error("{request}: stopped unexpectedly; run apply again to finish")]
    Aborted { request: String },
}

fn retry_hint(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!(" (retry after {}s)", wait.as_secs()),
        None => String::new(),
    }
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Unauthorized { .. } => Some(401),
            ApiError::Forbidden { .. } => Some(403),
            ApiError::NotFound { .. } => Some(404),
            ApiError::Validation { .. } => Some(422),
            ApiError::RateLimited { .. } => Some(429),
            ApiError::Server { status, .. } | ApiError::Unexpected { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Timeouts for every request.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            total: Duration::from_secs(60),
        }
    }
}

/// Where the API is and who we are to it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub base_url: String,
    pub account_id: u64,
    pub token: ApiToken,
    pub timeouts: Timeouts,
    pub rate_limit: RateLimit,
    pub retry: RetryPolicy,
}

struct Transport {
    http: reqwest::Client,
    base: Url,
    account_id: u64,
    token: ApiToken,
    pacer: pacing::Pacer,
    retry: RetryPolicy,
}

/// Checks the base URL: HTTPS unless the host is loopback, no credentials in it.
pub fn check_base_url(text: &str) -> Result<Url, ApiError> {
    let bad = |why: &str| ApiError::Config(format!("invalid API URL {text:?}: {why}"));
    let url = Url::parse(text.trim()).map_err(|err| bad(&err.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::Config(
            "the API URL must not carry credentials: give the token in MAILTRAP_API_TOKEN"
                .to_string(),
        ));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => return Err(bad("it has no host")),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(bad(
                "HTTPS is required except for loopback addresses (the token travels in a header)",
            ))
        }
        other => return Err(bad(&format!("unsupported scheme {other}"))),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it must not have a query or fragment"));
    }
    Ok(url)
}

impl Transport {
    fn new(endpoint: Endpoint) -> Result<Transport, ApiError> {
        let base = check_base_url(&endpoint.base_url)?;
        let http = reqwest::Client::builder()
            .connect_timeout(endpoint.timeouts.connect)
            .timeout(endpoint.timeouts.total)
            // A redirect would carry the token header to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("mailtrap-access/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| ApiError::Config(format!("cannot build the HTTP client: {err}")))?;
        Ok(Transport {
            http,
            base,
            account_id: endpoint.account_id,
            token: endpoint.token,
            pacer: pacing::Pacer::new(endpoint.rate_limit),
            retry: endpoint.retry,
        })
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let prefix = self.base.path().trim_end_matches('/');
        url.set_path(&format!("{prefix}{path}"));
        url
    }

    /// Scrub the token from text that came from elsewhere (an error page could echo it).
    fn redact(&self, text: &str) -> String {
        text.replace(&self.token.0, "<redacted>")
    }

    /// Send one request, paced under the rate limit, retried while the failure is
    /// transient and retries remain.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&BulkBody>,
    ) -> Result<Vec<u8>, ApiError> {
        let mut retry = 0;
        loop {
            self.pacer.acquire().await;
            let error = match self.send_once(method.clone(), path, body).await {
                Ok(bytes) => return Ok(bytes),
                Err(error) => error,
            };
            retry += 1;
            match self.retry.delay(retry, &error, rand::random::<f64>()) {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return Err(error),
            }
        }
    }

    async fn send_once(
        &self,
        method: Method,
        path: &str,
        body: Option<&BulkBody>,
    ) -> Result<Vec<u8>, ApiError> {
        let request = format!("{method} {path}");
        let mut builder = self
            .http
            .request(method, self.url(path))
            .header("Api-Token", &self.token.0)
            .header("Accept", "application/json");
        if let Some(body) = body {
            builder = builder.json(body);
        }
        let response = builder
            .send()
            .await
            .map_err(|err| self.transport_error(request.clone(), &err))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let bytes = read_body(response)
            .await
            .map_err(|err| self.transport_error(request.clone(), &err))?;
        if status.is_success() {
            return Ok(bytes);
        }
        let detail = self.redact(&error_detail(&bytes));
        Err(match status {
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized { request },
            StatusCode::FORBIDDEN => ApiError::Forbidden { request, detail },
            StatusCode::NOT_FOUND => ApiError::NotFound { request },
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::Validation { request, detail },
            StatusCode::TOO_MANY_REQUESTS => ApiError::RateLimited { request, retry_after },
            status if status.is_server_error() => ApiError::Server {
                request,
                status: status.as_u16(),
                detail,
            },
            status if status.is_redirection() => ApiError::Unexpected {
                request,
                status: status.as_u16(),
                detail: format!(
                    "a redirect to {}, not followed because it would carry the token; check --api-url",
                    location.map(|l| self.redact(&l)).unwrap_or_else(|| "nowhere".to_string())
                ),
            },
            status => ApiError::Unexpected {
                request,
                status: status.as_u16(),
                detail,
            },
        })
    }

    fn transport_error(&self, request: String, err: &reqwest::Error) -> ApiError {
        if err.is_timeout() {
            return ApiError::Timeout { request };
        }
        // The innermost cause says the most (connection refused, DNS failure, TLS).
        let mut detail = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            detail = cause.to_string();
            source = cause.source();
        }
        ApiError::Connect {
            request: format!("{request} at {}", self.base),
            detail: self.redact(&detail),
        }
    }

    async fn get(&self, path: &str) -> Result<Vec<u8>, ApiError> {
        self.send(Method::GET, path, None).await
    }
}

/// The most a body's announced length may reserve up front; a bigger body still reads
/// in full, growing as it comes.
const MAX_RESERVED_BODY: u64 = 64 * 1024 * 1024;

/// The whole body, copied chunk by chunk into one buffer of the announced size. Letting
/// the client collect the chunks and join them holds a big listing twice (15 MB for
/// 10,000 users), since the chunks stay alive until the join is done.
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let announced = response
        .content_length()
        .unwrap_or(0)
        .min(MAX_RESERVED_BODY);
    let mut body = Vec::with_capacity(announced as usize);
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Decode the body of `GET .../account_accesses`. Pure, for tests and fuzzing.
pub fn decode_accesses(bytes: &[u8]) -> Result<Vec<Access>, String> {
    let mut accesses = Vec::new();
    decode_accesses_each(bytes, |access| accesses.push(access))?;
    Ok(accesses)
}

/// [`decode_accesses`], handing each access to `on_access` as soon as it is decoded, in
/// listing order. The errors are the same and come in the same order: a body that does
/// not decode says so even if an earlier entry also broke a rule of the model, and once
/// an entry has broken one, no later access is handed over.
pub fn decode_accesses_each(bytes: &[u8], mut on_access: impl FnMut(Access)) -> Result<(), String> {
    let mut index = 0;
    let mut first_problem = None;
    decode_with(
        bytes,
        wire::EachAccess(|entry| {
            match wire::access(index, entry) {
                Ok(access) if first_problem.is_none() => on_access(access),
                Ok(_) => {}
                Err(problem) => {
                    first_problem.get_or_insert(problem);
                }
            }
            index += 1;
        }),
    )?;
    first_problem.map_or(Ok(()), Err)
}

/// Decode the body of `GET .../permissions/resources`, flattened. Pure.
pub fn decode_resources(bytes: &[u8]) -> Result<Vec<Resource>, String> {
    Ok(wire::resources(decode_with(
        bytes,
        std::marker::PhantomData::<Vec<wire::ResourceNodeWire>>,
    )?))
}

fn decode_with<'de, S: serde::de::DeserializeSeed<'de>>(
    bytes: &'de [u8],
    seed: S,
) -> Result<S::Value, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    seed.deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value))
        .map_err(|err| {
            let what = if looks_like_html(bytes) {
                "an HTML page instead of JSON".to_string()
            } else if err.is_eof() {
                format!("truncated JSON ({err})")
            } else {
                err.to_string()
            };
            format!(
                "{what}; the API answered something this tool does not understand, nothing was changed"
            )
        })
}

fn looks_like_html(bytes: &[u8]) -> bool {
    let start: Vec<u8> = bytes
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(15)
        .map(u8::to_ascii_lowercase)
        .collect();
    start.starts_with(b"<!doctype") || start.starts_with(b"<html") || start.starts_with(b"<")
}

/// A short account of an error body: the API's `error`/`errors`, an HTML page's title,
/// or the start of whatever else came back.
fn error_detail(bytes: &[u8]) -> String {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return "empty body".to_string();
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
        if let Some(message) = value.get("error").or_else(|| value.get("errors")) {
            return match message {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
        }
    }
    let text = String::from_utf8_lossy(bytes);
    if looks_like_html(bytes) {
        let lower = text.to_lowercase();
        if let (Some(start), Some(end)) = (lower.find("<title>"), lower.find("</title>")) {
            if start + 7 <= end {
                return format!("an HTML page: {}", text[start + 7..end].trim());
            }
        }
        return "an HTML page".to_string();
    }
    let clean: String = text.chars().filter(|c| !c.is_control()).take(120).collect();
    clean
}

/// `Retry-After` in seconds or as an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The read half of the API: the two GETs a plan needs, and nothing that writes.
#[derive(Clone)]
pub struct ReadClient {
    transport: Arc<Transport>,
}

impl ReadClient {
    pub fn new(endpoint: Endpoint) -> Result<ReadClient, ApiError> {
        Ok(ReadClient {
            transport: Arc::new(Transport::new(endpoint)?),
        })
    }

    pub fn account_id(&self) -> u64 {
        self.transport.account_id
    }

    /// Both reads, concurrently, decoded: the account's accesses and its resource tree.
    pub async fn live_state(&self) -> Result<LiveState, ApiError> {
        let (listing, resources, ()) = self.read_with(|_| ()).await?;
        Ok(LiveState {
            accesses: listing.decode()?,
            resources,
        })
    }

    /// Both reads, running `on_resources` on the resource tree as soon as it is in,
    /// while the far longer access listing is still on its way (a plan resolves the
    /// file's names in that wait). The listing comes back undecoded, for its reader to
    /// decode at its own pace. Errors come in the order [`live_state`] gives them: the
    /// listing's first, then the tree's.
    ///
    /// [`live_state`]: ReadClient::live_state
    pub async fn read_with<T>(
        &self,
        on_resources: impl FnOnce(&[Resource]) -> T,
    ) -> Result<(Listing, Vec<Resource>, T), ApiError> {
        let account = self.transport.account_id;
        let accesses_path = format!("/api/accounts/{account}/account_accesses");
        let resources_path = format!("/api/accounts/{account}/permissions/resources");
        let resources = async {
            let body = self.transport.get(&resources_path).await?;
            let resources = decode_resources(&body).map_err(|detail| ApiError::Decode {
                request: format!("GET {resources_path}"),
                detail,
            })?;
            let result = on_resources(&resources);
            Ok::<_, ApiError>((resources, result))
        };
        let (body, resources) = tokio::join!(self.transport.get(&accesses_path), resources);
        let listing = Listing::new(format!("GET {accesses_path}"), body?);
        match resources {
            Ok((resources, result)) => Ok((listing, resources, result)),
            Err(err) => {
                listing.check()?;
                Err(err)
            }
        }
    }
}

/// The body of the account listing, read but not yet decoded.
pub struct Listing {
    request: String,
    body: Vec<u8>,
}

impl Listing {
    /// The body `request` answered with.
    pub(crate) fn new(request: String, body: Vec<u8>) -> Listing {
        Listing { request, body }
    }

    /// Every access, in listing order.
    pub fn decode(&self) -> Result<Vec<Access>, ApiError> {
        decode_accesses(&self.body).map_err(|detail| self.error(detail))
    }

    /// Every access, handed to `on_access` as soon as it is decoded: see
    /// [`decode_accesses_each`].
    pub fn decode_each(&self, on_access: impl FnMut(Access)) -> Result<(), ApiError> {
        decode_accesses_each(&self.body, on_access).map_err(|detail| self.error(detail))
    }

    /// The error decoding would give, if any: a caller that fails for another reason
    /// reports a listing it does not understand first.
    pub fn check(&self) -> Result<(), ApiError> {
        self.decode_each(drop)
    }

    fn error(&self, detail: String) -> ApiError {
        ApiError::Decode {
            request: self.request.clone(),
            detail,
        }
    }
}

/// The write half: only the apply step holds one.
#[derive(Clone)]
pub struct WriteClient {
    transport: Arc<Transport>,
}

impl WriteClient {
    pub fn new(endpoint: Endpoint) -> Result<WriteClient, ApiError> {
        Ok(WriteClient {
            transport: Arc::new(Transport::new(endpoint)?),
        })
    }

    /// A reader sharing this client's connection, for the reads around apply.
    pub fn reader(&self) -> ReadClient {
        ReadClient {
            transport: Arc::clone(&self.transport),
        }
    }

    /// Send one request of a plan.
    pub async fn send(&self, request: &Request) -> Result<(), ApiError> {
        match request {
            Request::BulkUpdate { path, body } => {
                self.transport.send(Method::PUT, path, Some(body)).await?;
            }
            Request::DeleteAccess { path } => {
                self.transport.send(Method::DELETE, path, None).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoded_rows_hold_no_slack() {
        // Twenty rows grow a list to a capacity of 32; held for ten thousand accesses
        // beside the body, that slack is megabytes at the peak.
        let row = r#"{"resource_type":"inbox","resource_id":4,"access_level":10}"#;
        let rows = vec![row; 20].join(",");
        let body = format!(
            r#"[{{"id":1,"specifier_type":"User","specifier":{{"email":"a@x.io"}},"resources":[{rows}]}}]"#
        );
        let accesses = decode_accesses(body.as_bytes()).unwrap();
        assert_eq!(accesses[0].rows.len(), 20);
        assert_eq!(accesses[0].rows.capacity(), 20);
    }

    #[test]
    fn accesses_are_handed_over_in_order_until_one_breaks_a_rule() {
        let entry = |id: u64, email: &str| {
            format!(
                r#"{{"id":{id},"specifier_type":"User","specifier":{{"email":"{email}"}},"resources":[]}}"#
            )
        };
        let body = format!(
            "[{},{},{}]",
            entry(1, "a@x.io"),
            entry(2, ""),
            entry(3, "c@x.io")
        );
        let mut handed = Vec::new();
        let result = decode_accesses_each(body.as_bytes(), |access| handed.push(access.id));
        assert_eq!(handed, [1]);
        assert_eq!(
            result.unwrap_err(),
            "entry 1 (access 2) is a User without an email"
        );
        // A body that does not decode says so, whatever an earlier entry broke.
        let broken = format!("[{},{},{{\"id\":", entry(1, "a@x.io"), entry(2, ""));
        let message = decode_accesses_each(broken.as_bytes(), drop).unwrap_err();
        assert!(message.starts_with("truncated JSON"), "{message}");
    }

    #[test]
    fn the_token_never_formats() {
        let endpoint = Endpoint {
            base_url: "https://mailtrap.io".into(),
            account_id: 1,
            token: ApiToken::new("s3cr3t-token").unwrap(),
            timeouts: Timeouts::default(),
            rate_limit: RateLimit::default(),
            retry: RetryPolicy::default(),
        };
        assert!(!format!("{endpoint:?}").contains("s3cr3t"));
    }

    #[test]
    fn base_urls() {
        assert!(check_base_url("https://mailtrap.io").is_ok());
        assert!(check_base_url("http://127.0.0.1:8025").is_ok());
        assert!(check_base_url("http://[::1]:8025").is_ok());
        assert!(check_base_url("http://localhost:8025").is_ok());
        for bad in [
            "http://mailtrap.io",
            "ftp://x",
            "https://u:p@mailtrap.io",
            "https://mailtrap.io/?a=1",
            "nonsense",
        ] {
            assert!(check_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        let later = std::time::SystemTime::now() + Duration::from_secs(30);
        let wait = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(
            wait <= Duration::from_secs(30) && wait >= Duration::from_secs(28),
            "{wait:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
