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

use crate::model::{
    Access, Dialect, LiveState, PathFamily, Resource, ResourceType, Token, Vocabulary,
};
use crate::plan::Request;
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

impl ApiToken {
    /// Its last four characters: what the tokens list shows of it as `last_4_digits`.
    fn last_four(&self) -> &str {
        let start = (self.0.char_indices().rev().nth(3)).map_or(0, |(at, _)| at);
        &self.0[start..]
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// A new token's secret, as a create or reset answers it. Like [`ApiToken`], it has no
/// `Display` and a redacted `Debug`; [`Secret::expose`] is for the one place that
/// writes it (the new-tokens file).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// What a create or reset answered: the new token, and its secret when the answer held
/// one. Whatever else is wrong with the answer, the token exists once the API said 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedToken {
    pub id: Option<u64>,
    pub expires_at: Option<String>,
    pub secret: Option<Secret>,
}

/// Read a create or reset answer, leniently: the secret is taken out first, so that no
/// message about the rest can contain it. Pure.
pub fn created_token(bytes: &[u8]) -> CreatedToken {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    let secret = match value.get_mut("token").map(serde_json::Value::take) {
        Some(serde_json::Value::String(secret)) if !secret.trim().is_empty() => {
            Some(Secret(secret))
        }
        _ => None,
    };
    CreatedToken {
        id: value.get("id").and_then(serde_json::Value::as_u64),
        expires_at: (value.get("expires_at"))
            .and_then(serde_json::Value::as_str)
            .map(|text| crate::model::printable(text).into_owned()),
        secret,
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
    #[error("{request}: 422 Unprocessable ({detail}): {}", refused(.request))]
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
    #[error("{request}: the connection was closed before an answer came ({detail}); run again")]
    NoAnswer { request: String, detail: String },
    #[error("{request}: the answer was cut off ({detail}): the connection broke before the whole body arrived; run again")]
    CutOff { request: String, detail: String },
}

/// What a 422 means: a rejected change for a write, a refused read otherwise.
fn refused(request: &str) -> &'static str {
    if request.starts_with("GET ") {
        "the API refused to answer this read; check the account id and --api-url"
    } else {
        "the API rejected the change"
    }
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
    pub paths: PathFamily,
    pub token: ApiToken,
    pub timeouts: Timeouts,
    pub rate_limit: RateLimit,
    pub retry: RetryPolicy,
}

struct Transport {
    http: reqwest::Client,
    base: Url,
    account_id: u64,
    paths: PathFamily,
    token: ApiToken,
    pacer: pacing::Pacer,
    retry: RetryPolicy,
}

/// Checks the base URL: HTTPS unless the host is loopback, no credentials in it.
pub fn check_base_url(text: &str) -> Result<Url, ApiError> {
    // A URL with credentials, a query or a fragment may carry a secret: it is refused
    // without being echoed.
    let secretive = |what: &str| {
        ApiError::Config(format!(
            "the API URL (--api-url / MAILTRAP_API_URL) must not carry {what}: give the base URL alone, and the token in MAILTRAP_API_TOKEN or --token-file"
        ))
    };
    let Ok(url) = Url::parse(text.trim()) else {
        if text.contains('@') || text.contains('?') || text.contains('#') {
            return Err(secretive("credentials, a query or a fragment"));
        }
        return Err(ApiError::Config(format!(
            "invalid API URL {text:?}: write it as https://HOST"
        )));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(secretive("credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(secretive("a query or a fragment"));
    }
    let bad = |why: &str| ApiError::Config(format!("invalid API URL {text:?}: {why}"));
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
            paths: endpoint.paths,
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
        redact(text, &self.token.0)
    }

    /// Send one request, paced under the rate limit, retried while the failure is
    /// transient and retries remain.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Vec<u8>, ApiError> {
        let mut retry = 0;
        loop {
            self.pacer.acquire().await;
            let error = match self.send_once(method.clone(), path, body).await {
                Ok(bytes) => return Ok(bytes),
                Err(error) => error,
            };
            retry += 1;
            let idempotent = method != Method::POST;
            match self
                .retry
                .delay(retry, &error, idempotent, rand::random::<f64>())
            {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return Err(error),
            }
        }
    }

    async fn send_once(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Vec<u8>, ApiError> {
        let request = format!("{method} {path}");
        let mut builder = self
            .http
            .request(method, self.url(path))
            .header("Api-Token", &self.token.0)
            .header("Accept", "application/json");
        if let Some(body) = body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        let response = builder
            .send()
            .await
            .map_err(|err| self.transport_error(request.clone(), &err, false))?;
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
        let bytes = match read_body(response).await {
            Ok(bytes) => bytes,
            Err(BodyError::Read(err)) => return Err(self.transport_error(request, &err, true)),
            Err(BodyError::TooLarge(bytes)) => {
                return Err(ApiError::Decode {
                    request,
                    detail: format!(
                        "the answer is {} MiB or more, over the limit of {} MiB; check --api-url: no account's answer is that big",
                        bytes >> 20,
                        MAX_BODY_BYTES >> 20
                    ),
                })
            }
        };
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

    /// A request that got no whole answer: it timed out, could not connect, was closed
    /// before an answer came, or (`reading_body`) broke off in the middle of one.
    fn transport_error(
        &self,
        request: String,
        err: &reqwest::Error,
        reading_body: bool,
    ) -> ApiError {
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
        let request = format!("{request} at {}", self.base);
        let detail = self.redact(&detail);
        if reading_body {
            ApiError::CutOff { request, detail }
        } else if err.is_connect() {
            ApiError::Connect { request, detail }
        } else {
            ApiError::NoAnswer { request, detail }
        }
    }

    async fn get(&self, path: &str) -> Result<Vec<u8>, ApiError> {
        self.send(Method::GET, path, None).await
    }
}

/// `text` with `token` replaced by `<redacted>`. A token of 16 characters or more is
/// replaced wherever it appears; a shorter one only as a whole word (not next to a
/// letter, digit, `-` or `_`), so that it does not blank out pieces of ordinary words.
fn redact(text: &str, token: &str) -> String {
    if token.len() >= 16 {
        return text.replace(token, "<redacted>");
    }
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(token) {
        let (before, after) = (&rest[..at], &rest[at + token.len()..]);
        let whole = !before.chars().next_back().is_some_and(is_word)
            && !after.chars().next().is_some_and(is_word);
        out.push_str(before);
        out.push_str(if whole { "<redacted>" } else { token });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Decode the body of `GET .../account_accesses`. Pure, for tests and fuzzing.
pub fn decode_accesses(bytes: &[u8]) -> Result<Vec<Access>, String> {
    decode_listing(bytes).map(|(accesses, _)| accesses)
}

/// The largest answer read. The listing of 10,000 people with 20 rows each is 15 MB;
/// a server that sends (or announces) more than this many times that is refused before
/// it exhausts the memory.
pub const MAX_BODY_BYTES: u64 = 256 << 20;

/// Why a body was not read.
enum BodyError {
    Read(reqwest::Error),
    /// Over [`MAX_BODY_BYTES`]: the length announced, or at least the bytes received.
    TooLarge(u64),
}

/// The body, read chunk by chunk into one buffer: a big listing is held once, not once
/// as the chunks and again as their copy. The announced length sizes the buffer only up
/// to a bound, since a server may announce any length.
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    const LARGEST_PRESIZED: u64 = 64 << 20;
    let announced = response.content_length().unwrap_or(0);
    if announced > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge(announced));
    }
    let mut body = Vec::with_capacity(announced.min(LARGEST_PRESIZED) as usize);
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        let received = (body.len() + chunk.len()) as u64;
        if received > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge(received));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Decode the body of `GET .../permissions/resources`, flattened. Pure.
pub fn decode_resources(bytes: &[u8]) -> Result<Vec<Resource>, String> {
    decode_tree(bytes).map(|(resources, _)| resources)
}

fn decode_listing(bytes: &[u8]) -> Result<(Vec<Access>, wire::VocabularyNames), String> {
    let wire::Listing { accesses, names } = decode_with(bytes)?;
    Ok((accesses, names))
}

/// Decode the body of `GET .../api_tokens`; `in_use_ends_with` is the last four
/// characters of the token in use. Pure.
pub fn decode_tokens(bytes: &[u8], in_use_ends_with: &str) -> Result<Vec<Token>, String> {
    decode_token_list(bytes, in_use_ends_with).map(|(tokens, _)| tokens)
}

fn decode_token_list(
    bytes: &[u8],
    in_use_ends_with: &str,
) -> Result<(Vec<Token>, wire::VocabularyNames), String> {
    let entries: Vec<wire::TokenWire> = decode_with(bytes)?;
    let mut names = wire::VocabularyNames::new();
    let tokens = (entries.into_iter())
        .map(|entry| wire::token(entry, in_use_ends_with, &mut names))
        .collect::<Result<_, _>>()?;
    Ok((tokens, names))
}

fn decode_tree(bytes: &[u8]) -> Result<(Vec<Resource>, wire::VocabularyNames), String> {
    let mut names = wire::VocabularyNames::new();
    let resources = wire::resources(decode_with(bytes)?, &mut names);
    Ok((resources, names))
}

/// The vocabulary the tree speaks (the old one when its nodes do not tell), checked
/// against the tree itself and the rows of another read (the listing, the tokens):
/// neither may use the other one's names.
fn vocabulary(
    tree: &wire::VocabularyNames,
    listing: &wire::VocabularyNames,
) -> (Result<Vocabulary, String>, Result<(), String>) {
    let inconsistent = |what: String| {
        format!("{what}; the API answered something inconsistent, nothing was changed")
    };
    let spoken = match (tree.get(&Vocabulary::Old), tree.get(&Vocabulary::New)) {
        (Some(old), Some(new)) => {
            let what =
                format!("the resource tree mixes the old and the new type names: {old} and {new}");
            return (Err(inconsistent(what)), Ok(()));
        }
        (None, Some(_)) => Vocabulary::New,
        _ => Vocabulary::Old,
    };
    let told = !tree.is_empty();
    let other = listing
        .iter()
        .find(|(vocabulary, _)| **vocabulary != spoken);
    let listing = match other {
        Some((_, row)) if told => Err(inconsistent(format!(
            "{row}, but the resource tree speaks the {spoken} vocabulary"
        ))),
        _ => Ok(()),
    };
    (Ok(spoken), listing)
}

fn decode_with<'de, T: serde::Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|err| {
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

/// What the two answers hold that a consistent account cannot, for the listing and for
/// the tree: an access listed twice (it would get two requests), a resource listed twice
/// under one type, an account node that is not this account (rows on it would be
/// destroyed and recreated on the wrong id). Pure.
pub fn inconsistencies(account_id: u64, live: &LiveState) -> (Option<String>, Option<String>) {
    let refuse = |what: String| {
        Some(format!(
            "{what}; the API answered something inconsistent, nothing was changed"
        ))
    };
    let mut ids = std::collections::BTreeSet::new();
    let listing = live
        .accesses
        .iter()
        .find(|access| !ids.insert(access.id))
        .and_then(|access| refuse(format!("access {} is listed twice", access.id)));
    let mut keys = std::collections::BTreeSet::new();
    let tree = if let Some(twice) = live.resources.iter().find(|r| !keys.insert(&r.key)) {
        refuse(format!(
            "{} {} is in the resource tree twice",
            twice.key.kind.noun(),
            twice.key.id
        ))
    } else if let Some(other) = live
        .resources
        .iter()
        .find(|r| r.key.kind == ResourceType::Account && r.key.id != account_id)
    {
        refuse(format!(
            "the tree's account node has id {}, not this account's id {account_id}",
            other.key.id
        ))
    } else {
        None
    };
    (listing, tree)
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
    crate::model::printable(&raw_error_detail(bytes)).into_owned()
}

fn raw_error_detail(bytes: &[u8]) -> String {
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
        // Any other JSON is not echoed: an answer about a token may hold its secret.
        return match value {
            serde_json::Value::Object(fields) if !fields.is_empty() => {
                let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
                format!("a JSON body with fields {}", keys.join(", "))
            }
            _ => "a JSON body without an error message".to_string(),
        };
    }
    let text = String::from_utf8_lossy(bytes);
    if looks_like_html(bytes) {
        // ASCII lower-casing keeps every byte where it was, so offsets fit `text`.
        let lower = text.to_ascii_lowercase();
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

/// The read half of the API: the GETs a plan needs, and nothing that writes.
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

    /// The reads, concurrently, decoded: the account's accesses, its resource tree and
    /// the vocabulary the tree speaks, and with `with_tokens` its API tokens (a third
    /// GET). A listing that fails is reported before a tree that fails, and both before
    /// the tokens.
    pub async fn live_state(&self, with_tokens: bool) -> Result<LiveState, ApiError> {
        let account = self.transport.account_id;
        let prefix = match self.transport.paths {
            PathFamily::Account => format!("/api/accounts/{account}"),
            PathFamily::Token => "/api".to_string(),
        };
        let accesses_path = format!("{prefix}/account_accesses");
        let resources_path = format!("{prefix}/permissions/resources");
        let tokens_path = format!("{prefix}/api_tokens");
        let tokens_read = async {
            match with_tokens {
                true => Some(self.transport.get(&tokens_path).await),
                false => None,
            }
        };
        let (accesses, resources, tokens) = tokio::join!(
            self.transport.get(&accesses_path),
            self.transport.get(&resources_path),
            tokens_read
        );
        let decode_error = |path: &str, detail| ApiError::Decode {
            request: format!("GET {path}"),
            detail,
        };
        let (accesses, listing_names) =
            decode_listing(&accesses?).map_err(|detail| decode_error(&accesses_path, detail))?;
        let (resources, tree_names) =
            decode_tree(&resources?).map_err(|detail| decode_error(&resources_path, detail))?;
        let (spoken, listing_agrees) = vocabulary(&tree_names, &listing_names);
        listing_agrees.map_err(|detail| decode_error(&accesses_path, detail))?;
        let spoken = spoken.map_err(|detail| decode_error(&resources_path, detail))?;
        let mut live = LiveState {
            accesses,
            resources,
            tokens: None,
            dialect: Dialect {
                paths: self.transport.paths,
                vocabulary: spoken,
            },
        };
        let (listing, tree) = inconsistencies(account, &live);
        if let Some(detail) = listing {
            return Err(decode_error(&accesses_path, detail));
        }
        if let Some(detail) = tree {
            return Err(decode_error(&resources_path, detail));
        }
        if let Some(body) = tokens {
            let (tokens, token_names) = decode_token_list(&body?, self.transport.token.last_four())
                .map_err(|detail| decode_error(&tokens_path, detail))?;
            let (_, tokens_agree) = vocabulary(&tree_names, &token_names);
            tokens_agree.map_err(|detail| decode_error(&tokens_path, detail))?;
            live.tokens = Some(tokens);
            if let Some(detail) = token_inconsistencies(&live) {
                return Err(decode_error(&tokens_path, detail));
            }
        }
        Ok(live)
    }
}

/// A token listed twice has two sets of requests planned for it.
fn token_inconsistencies(live: &LiveState) -> Option<String> {
    let mut ids = std::collections::BTreeSet::new();
    let twice = live
        .tokens
        .iter()
        .flatten()
        .find(|token| !ids.insert(token.id))?;
    Some(format!(
        "token {} is listed twice; the API answered something inconsistent, nothing was changed",
        twice.id
    ))
}

/// An account the token can reach, as `GET /api/accounts` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct AccountSummary {
    pub id: u64,
    #[serde(default)]
    pub name: String,
}

impl ReadClient {
    /// `GET /api/accounts`: every account the token can reach. The client's own account
    /// id plays no part in it.
    pub async fn accounts(&self) -> Result<Vec<AccountSummary>, ApiError> {
        let path = "/api/accounts";
        let body = self.transport.get(path).await?;
        decode_with(&body).map_err(|detail| ApiError::Decode {
            request: format!("GET {path}"),
            detail,
        })
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

    /// Send one request of a plan. For a POST (a token created or reset), what the
    /// answer says of the new token, its secret included.
    pub async fn send(&self, request: &Request) -> Result<Option<CreatedToken>, ApiError> {
        let body = request.body_json();
        let (method, path) = match request {
            Request::BulkUpdate { path, .. } => (Method::PUT, path),
            Request::Delete { path } => (Method::DELETE, path),
            Request::Post { path, .. } => (Method::POST, path),
        };
        let answer = self.transport.send(method, path, body.as_deref()).await?;
        Ok(matches!(request, Request::Post { .. }).then(|| created_token(&answer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_id_is_a_number_or_a_number_in_a_string() {
        let listing = |id: &str| {
            format!(
                r#"[{{"id":1,"specifier_type":"User","specifier":{{"email":"a@x.io"}},"resources":[{{"resource_type":"inbox","resource_id":{id},"access_level":10}}]}}]"#
            )
        };
        for id in ["4400101", r#""4400101""#] {
            let accesses = decode_accesses(listing(id).as_bytes()).unwrap();
            assert_eq!(accesses[0].rows[0].resource.id, 4400101, "{id}");
        }
        for (id, said) in [
            (r#""44a""#, r#"resource_id "44a" is not a number"#),
            ("-1", "invalid type: integer `-1`, expected a resource id"),
            ("null", "invalid type: null, expected a resource id"),
        ] {
            let err = decode_accesses(listing(id).as_bytes()).unwrap_err();
            assert!(err.contains(said), "{id}: {err}");
        }
    }

    #[test]
    fn only_the_token_itself_is_redacted_not_words_holding_it() {
        assert_eq!(
            redact("Token T rejected (T); try Tomorrow", "T"),
            "Token <redacted> rejected (<redacted>); try Tomorrow"
        );
        let short = "tok-3f9a1c";
        assert_eq!(
            redact(&format!("api_token={short}&x=1 {short}"), short),
            "api_token=<redacted>&x=1 <redacted>"
        );
        let long = "3f9a1c77e2d04b5a9c1e";
        assert_eq!(redact(&format!("x{long}y"), long), "x<redacted>y");
    }

    #[test]
    fn a_token_listed_twice_is_inconsistent() {
        let body = br#"[{"id":7,"name":"CI","last_4_digits":"abcd","expires_at":null,"resources":[]},
                       {"id":7,"name":"CI","last_4_digits":"abcd","expires_at":null,"resources":[]}]"#;
        let live = LiveState {
            tokens: Some(decode_tokens(body, "zzzz").unwrap()),
            ..LiveState::default()
        };
        assert_eq!(
            token_inconsistencies(&live).as_deref(),
            Some("token 7 is listed twice; the API answered something inconsistent, nothing was changed")
        );
        // Without its last four digits, a token may be the one in use.
        let unsure = decode_tokens(br#"[{"id":8,"name":"X","resources":[]}]"#, "zzzz").unwrap();
        assert!(unsure[0].in_use);
    }

    #[test]
    fn an_error_body_is_summed_up_without_echoing_other_json() {
        let secret = "d533a1b2c3d4e5f6a7b8c9d0e1f2a3b4";
        let answer = format!(r#"{{"id":7,"token":"{secret}"}}"#);
        let detail = error_detail(answer.as_bytes());
        assert_eq!(detail, "a JSON body with fields id, token");
        assert_eq!(
            error_detail(br#"{"errors":{"base":["No permissions selected."]}}"#),
            r#"{"base":["No permissions selected."]}"#
        );
        assert_eq!(error_detail(b"{}"), "a JSON body without an error message");
    }

    #[test]
    fn a_created_tokens_secret_is_taken_out_of_the_answer() {
        let created = created_token(
            br#"{"id":62001,"name":"CI","token":"d533","expires_at":"2027-06-30T00:00:00Z"}"#,
        );
        assert_eq!(created.id, Some(62001));
        assert_eq!(created.secret.as_ref().map(Secret::expose), Some("d533"));
        assert!(!format!("{created:?}").contains("d533"));
        // Whatever else is wrong, a 200 means the token exists: no panic, no secret.
        for body in [
            &b"not json"[..],
            b"[]",
            br#"{"token":7}"#,
            br#"{"token":" "}"#,
        ] {
            assert_eq!(created_token(body).secret, None);
        }
    }

    #[test]
    fn the_tokens_last_four_are_its_last_four_characters() {
        assert_eq!(ApiToken::new("abcdef123").unwrap().last_four(), "f123");
        assert_eq!(ApiToken::new("ab").unwrap().last_four(), "ab");
    }

    #[test]
    fn the_tree_says_the_vocabulary_and_the_listing_must_agree() {
        let tree = |nodes: &str| decode_tree(nodes.as_bytes()).unwrap().1;
        let listing = |rows: &str| {
            let body = format!(
                r#"[{{"id":7,"specifier_type":"User","specifier":{{"email":"a@x.io"}},"resources":[{rows}]}}]"#
            );
            decode_listing(body.as_bytes()).unwrap().1
        };
        let new_tree = tree(r#"[{"id":4,"name":"S","type":"sandbox","resources":[]}]"#);
        let old_row = listing(r#"{"resource_type":"inbox","resource_id":4,"access_level":10}"#);
        let new_row = listing(r#"{"resource_type":"sandbox","resource_id":4,"access_level":10}"#);
        let (spoken, agrees) = vocabulary(&new_tree, &new_row);
        assert_eq!((spoken, agrees), (Ok(Vocabulary::New), Ok(())));
        let (_, agrees) = vocabulary(&new_tree, &old_row);
        assert!(agrees.unwrap_err().starts_with(
            "a row of access 7 has type \"inbox\", but the resource tree speaks the new (sandbox, domain) vocabulary"
        ));
        let mixed = tree(
            r#"[{"id":4,"name":"S","type":"sandbox","resources":[]},{"id":5,"name":"D","type":"sending_domain","resources":[]}]"#,
        );
        let (spoken, _) = vocabulary(&mixed, &old_row);
        assert!(spoken
            .unwrap_err()
            .contains("sending_domain 5 \"D\" and sandbox 4 \"S\""));
        // A tree without inboxes or domains does not tell: the old names, and any rows.
        let untold = tree(r#"[{"id":1,"name":"P","type":"project","resources":[]}]"#);
        assert_eq!(vocabulary(&untold, &new_row), (Ok(Vocabulary::Old), Ok(())));
    }

    #[test]
    fn the_token_never_formats() {
        let endpoint = Endpoint {
            base_url: "https://mailtrap.io".into(),
            account_id: 1,
            paths: PathFamily::Account,
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
