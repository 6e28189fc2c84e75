//! A stateful simulation of Mailtrap's Account Management API on loopback: the
//! account-scoped operations of the contract and their token-scoped twins of 2026,
//! the API Tokens API in both path families, `GET /api/accounts`, their error bodies,
//! token auth and the per-token rate limit, in either vocabulary of resource types,
//! faithful to the real service rather than convenient for a client. This file owns the
//! server's lifecycle and the library API (`Sandbox`, `BlockingSandbox`); `state` owns
//! the account and its access operations, `api_tokens` the tokens' operations,
//! `timestamp` their expiry dates, `http` the wire, `vocabulary` the names served,
//! `rate_window` the limit, `faults` what can be made to go wrong on purpose.

mod api_tokens;
mod faults;
mod http;
mod rate_window;
mod state;
mod timestamp;
mod vocabulary;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::Rng;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::rate::RateLimit;
use rate_window::{Admission, SlidingWindowLimiter};

pub use api_tokens::{ApiTokenRecord, TokenResource};
pub use faults::{parse_rate, Burst429, Faults, InjectedFault};

pub use state::{
    AccessFilter, AccessRow, AccountAccess, OperationError, ResourceNode, SandboxState,
    SpecifierType, StateError, ValidationErrors, ADMIN_LEVEL, INDETERMINATE_LEVEL, OWNER_LEVEL,
    VIEWER_LEVEL, VIEWER_PLUS_LEVEL, WRITABLE_RESOURCE_TYPES,
};
pub use vocabulary::Vocabulary;

/// How long `shutdown` lets in-flight requests finish before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// The request log keeps the most recent entries only, so a long-running sandbox does
/// not grow without bound.
const MAX_RECORDED_REQUESTS: usize = 100_000;

/// What a sandbox serves: the account, the one accepted token, the rate limit, the
/// faults it injects (none by default), the vocabulary it speaks and the accounts
/// `GET /api/accounts` lists.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The account, in either vocabulary (it is stored in the canonical one).
    pub state: SandboxState,
    pub token: String,
    pub rate_limit: RateLimit,
    pub faults: Faults,
    /// The names served on both path families: in the tree, the listing's rows, the
    /// bulk body and the inbox filter.
    pub vocabulary: Vocabulary,
    /// What `GET /api/accounts` lists, as `(id, name)` pairs, each with
    /// `access_levels: [100]`. `None`: the sandbox's own account only, named after the
    /// tree's `account` node. `Some` lets a test show a token that reaches several
    /// accounts, or none; it changes nothing else: every other path still serves the
    /// one account of `state`, and names any other account 403.
    pub accounts_listed: Option<Vec<(u64, String)>>,
}

impl SandboxConfig {
    /// `state` behind `token`, at Mailtrap's documented rate limit, with no faults, in
    /// the old vocabulary, listing its own account only.
    pub fn new(state: SandboxState, token: impl Into<String>) -> SandboxConfig {
        SandboxConfig {
            state,
            token: token.into(),
            rate_limit: RateLimit::default(),
            faults: Faults::none(),
            vocabulary: Vocabulary::Old,
            accounts_listed: None,
        }
    }
}

/// One entry of `GET /api/accounts`: `{"id", "name", "access_levels"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct ListedAccount {
    id: u64,
    name: String,
    access_levels: Vec<u32>,
}

impl ListedAccount {
    /// The account of `state`, named after its tree's `account` node, at the token's own
    /// level on that node (admin when the tree has none).
    fn own(state: &SandboxState) -> ListedAccount {
        let node = state
            .resources
            .iter()
            .find(|node| node.resource_type == "account" && node.id == state.account_id);
        ListedAccount {
            id: state.account_id,
            name: node.map_or_else(
                || format!("Account {}", state.account_id),
                |node| node.name.clone(),
            ),
            access_levels: vec![node.map_or(ADMIN_LEVEL, |node| node.access_level)],
        }
    }
}

/// One request as the sandbox received it, with the status it answered. Never a
/// response body, so no secret a create or reset answers with is kept here; the
/// request's token header is not kept either.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The body parsed as JSON; `None` when empty or not JSON.
    pub body: Option<serde_json::Value>,
    /// The status sent; 0 when the connection was closed without an answer.
    pub status: u16,
    /// Whether the sandbox carried out the change of this request (a bulk update, a
    /// delete, a token's create or reset it performed), whatever the client got to
    /// see. Always false for reads.
    pub applied: bool,
    /// The fault injected into this request, if any.
    pub fault: Option<InjectedFault>,
}

/// A random token shaped like Mailtrap's (32 hex digits).
pub fn generate_token() -> String {
    let mut rng = rand::rng();
    (0..16)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// Everything the request handler shares. Each lock is held only for one short,
/// synchronous step, so one request's change to the account is atomic. The account is
/// behind a read-write lock: as in the service, whose reads are database queries, two
/// reads do not wait for each other (the resource tree is not held up while a
/// 15 MB listing is serialized), and a write waits for the reads in progress.
pub(crate) struct Shared {
    token: String,
    account_id: u64,
    rate_limit: RateLimit,
    vocabulary: Vocabulary,
    /// The body of `GET /api/accounts`, fixed at start.
    accounts: Vec<ListedAccount>,
    state: RwLock<SandboxState>,
    limiter: Mutex<SlidingWindowLimiter>,
    requests: Mutex<VecDeque<RecordedRequest>>,
    faults: Mutex<Faults>,
    /// API requests met since the faults were last set: the index of each decision.
    fault_index: AtomicU64,
    /// The lowest id the next API token may have: above every id handed out, so a
    /// deleted token's id is never given again. Changed under the state's write lock.
    token_id_floor: AtomicU64,
}

/// A panic elsewhere must not take the simulation down with a poisoned lock: the data
/// behind each lock is only ever replaced whole, so it is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// `config.state` must be canonical already (`Sandbox::start` sees to it).
    fn new(config: SandboxConfig) -> Shared {
        let accounts = match config.accounts_listed {
            None => vec![ListedAccount::own(&config.state)],
            Some(listed) => listed
                .into_iter()
                .map(|(id, name)| ListedAccount {
                    id,
                    name,
                    access_levels: vec![ADMIN_LEVEL],
                })
                .collect(),
        };
        // The seed's ids were handed out before the sandbox started.
        let token_id_floor = config
            .state
            .highest_api_token_id()
            .map_or(0, |highest| highest.saturating_add(1));
        Shared {
            token: config.token,
            account_id: config.state.account_id,
            rate_limit: config.rate_limit,
            vocabulary: config.vocabulary,
            accounts,
            state: RwLock::new(config.state),
            limiter: Mutex::new(SlidingWindowLimiter::new(config.rate_limit)),
            requests: Mutex::new(VecDeque::new()),
            faults: Mutex::new(config.faults),
            fault_index: AtomicU64::new(0),
            token_id_floor: AtomicU64::new(token_id_floor),
        }
    }

    /// What a token create or reset needs now: the time, a new secret, the id floor.
    fn mint(&self) -> api_tokens::Mint {
        api_tokens::Mint {
            now: timestamp::Timestamp::now(),
            secret: generate_token(),
            id_floor: self.token_id_floor.load(Ordering::SeqCst),
        }
    }

    /// Keep `issued` from ever being handed out again.
    fn token_issued(&self, issued: u64) {
        self.token_id_floor
            .fetch_max(issued.saturating_add(1), Ordering::SeqCst);
    }

    fn read_state(&self) -> RwLockReadGuard<'_, SandboxState> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, SandboxState> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn admit(&self, key: &str, now: Instant) -> Admission {
        lock(&self.limiter).admit(key, now)
    }

    /// Number the next API request and decide what faults it meets.
    fn next_fault_decision(&self) -> faults::Decision {
        let faults = lock(&self.faults);
        faults.decide(self.fault_index.fetch_add(1, Ordering::SeqCst))
    }

    fn redirect_target(&self) -> Option<String> {
        lock(&self.faults).redirect_to.clone()
    }

    fn record(&self, request: RecordedRequest) {
        let mut requests = lock(&self.requests);
        if requests.len() >= MAX_RECORDED_REQUESTS {
            requests.pop_front();
        }
        requests.push_back(request);
    }
}

/// A running sandbox server. Dropping it stops the server; `shutdown` also waits for it.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Bind `listen` (port 0 picks a free one) and serve in the current tokio runtime.
    pub async fn start(mut config: SandboxConfig, listen: SocketAddr) -> anyhow::Result<Sandbox> {
        // A state built in code may be in the new vocabulary; it is stored canonical.
        config.state.canonicalize().context("sandbox state")?;
        config.state.validate().context("sandbox state")?;
        if config.token.trim().is_empty() {
            anyhow::bail!("the sandbox token must not be empty");
        }
        config
            .faults
            .validate()
            .map_err(|err| anyhow::anyhow!("sandbox faults: {err}"))?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener
            .local_addr()
            .context("cannot read the bound address")?;
        let shared = Arc::new(Shared::new(config));
        let (stop, stopped) = oneshot::channel::<()>();
        let app = http::router(Arc::clone(&shared))
            .into_make_service_with_connect_info::<faults::Connection>();
        let listener = faults::DroppableListener(listener);
        let server = tokio::spawn(async move {
            let serving = axum::serve(listener, app).with_graceful_shutdown(async {
                // A dropped sender means the same as an explicit stop.
                let _ = stopped.await;
            });
            if let Err(err) = serving.await {
                eprintln!("sandbox server error: {err}");
            }
        });
        Ok(Sandbox {
            addr,
            shared,
            stop: Some(stop),
            server: Some(server),
        })
    }

    /// Start on `127.0.0.1:0` in a runtime of its own, for synchronous code.
    pub fn start_blocking(config: SandboxConfig) -> anyhow::Result<BlockingSandbox> {
        BlockingSandbox::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    /// `http://HOST:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// A snapshot of the account as it is now, in the canonical (old) names whatever
    /// vocabulary is served: `state().rows(id)` reads `inbox`, never `sandbox`. It holds
    /// every API token's secret (`api_tokens[..].token`), which the API serves only
    /// once: a test finds a token's secret here, to search outputs for it.
    pub fn state(&self) -> SandboxState {
        self.shared.read_state().clone()
    }

    /// Every access now in the account, `ApiToken` entries included, as the list shape
    /// and in the vocabulary served: what the listing would show if it showed tokens.
    pub fn accesses_json(&self) -> serde_json::Value {
        let state = self.shared.read_state();
        serde_json::to_value(vocabulary::ServedAccesses {
            accesses: &state.accesses,
            vocabulary: self.shared.vocabulary,
        })
        .unwrap_or(serde_json::Value::Null)
    }

    /// The vocabulary this sandbox speaks.
    pub fn vocabulary(&self) -> Vocabulary {
        self.shared.vocabulary
    }

    /// Every request received so far, in the order they were answered (the newest
    /// 100,000 at most).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).iter().cloned().collect()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// The faults injected now.
    pub fn faults(&self) -> Faults {
        lock(&self.shared.faults).clone()
    }

    /// Inject `faults` from the next request on (`Faults::none()` to stop), counting
    /// requests from 0 again, so the seeded sequence of decisions restarts.
    pub fn set_faults(&self, faults: Faults) -> anyhow::Result<()> {
        faults
            .validate()
            .map_err(|err| anyhow::anyhow!("sandbox faults: {err}"))?;
        let mut current = lock(&self.shared.faults);
        *current = faults;
        self.shared.fault_index.store(0, Ordering::SeqCst);
        Ok(())
    }

    /// Stop accepting, let in-flight requests finish (briefly), and wait for the server.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, server).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Nobody can wait here, so cut the server off: the port is free right away.
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// A sandbox with its own tokio runtime (worker threads in the background), for tests
/// and tools that are not async. Create and drop it outside any async context.
pub struct BlockingSandbox {
    // Field order matters: the server stops before its runtime goes away.
    sandbox: Sandbox,
    runtime: OwnedRuntime,
}

/// A runtime that shuts down without blocking, so dropping it is safe anywhere.
struct OwnedRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl BlockingSandbox {
    pub fn start(config: SandboxConfig, listen: SocketAddr) -> anyhow::Result<BlockingSandbox> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("mailtrap-sandbox")
            .enable_all()
            .build()
            .context("cannot start the sandbox runtime")?;
        let sandbox = runtime.block_on(Sandbox::start(config, listen))?;
        Ok(BlockingSandbox {
            sandbox,
            runtime: OwnedRuntime(Some(runtime)),
        })
    }

    pub fn base_url(&self) -> String {
        self.sandbox.base_url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.sandbox.addr()
    }

    pub fn token(&self) -> &str {
        self.sandbox.token()
    }

    pub fn state(&self) -> SandboxState {
        self.sandbox.state()
    }

    pub fn accesses_json(&self) -> serde_json::Value {
        self.sandbox.accesses_json()
    }

    pub fn vocabulary(&self) -> Vocabulary {
        self.sandbox.vocabulary()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.sandbox.requests()
    }

    pub fn clear_requests(&self) {
        self.sandbox.clear_requests()
    }

    pub fn faults(&self) -> Faults {
        self.sandbox.faults()
    }

    pub fn set_faults(&self, faults: Faults) -> anyhow::Result<()> {
        self.sandbox.set_faults(faults)
    }

    /// Stop the server gracefully and wait for it.
    pub fn shutdown(self) {
        let BlockingSandbox { sandbox, runtime } = self;
        if let Some(runtime) = &runtime.0 {
            runtime.block_on(sandbox.shutdown());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// While one request reads the account (a big listing being serialized), another
    /// may read it too, but a write waits until the read is done.
    #[test]
    fn reads_share_the_account_and_a_write_waits_for_them() {
        let shared = Shared::new(SandboxConfig::new(SandboxState::demo(), "token"));
        let listing = shared.read_state();
        assert!(shared.state.try_read().is_ok());
        assert!(shared.state.try_write().is_err());
        drop(listing);
        assert!(shared.state.try_write().is_ok());
    }
}
