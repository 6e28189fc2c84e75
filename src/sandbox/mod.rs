//! A stateful simulation of Mailtrap's Account Management API on loopback: the four
//! account-scoped operations, their error bodies, token auth and the per-token rate
//! limit, faithful to the real service rather than convenient for a client. This file
//! owns the server's lifecycle and the library API (`Sandbox`, `BlockingSandbox`);
//! `state` owns the account and its operations, `http` the wire, `rate_window` the limit.

mod http;
mod rate_window;
mod state;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::Rng;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::rate::RateLimit;
use rate_window::{Admission, SlidingWindowLimiter};

pub use state::{
    AccessFilter, AccessRow, AccountAccess, OperationError, ResourceNode, SandboxState,
    SpecifierType, StateError, ValidationErrors, ADMIN_LEVEL, INDETERMINATE_LEVEL, OWNER_LEVEL,
    VIEWER_LEVEL, VIEWER_PLUS_LEVEL, WRITABLE_RESOURCE_TYPES,
};

/// How long `shutdown` lets in-flight requests finish before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// The request log keeps the most recent entries only, so a long-running sandbox does
/// not grow without bound.
const MAX_RECORDED_REQUESTS: usize = 100_000;

/// What a sandbox serves: the account, the one accepted token, and the rate limit.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub state: SandboxState,
    pub token: String,
    pub rate_limit: RateLimit,
}

impl SandboxConfig {
    /// `state` behind `token`, at Mailtrap's documented rate limit.
    pub fn new(state: SandboxState, token: impl Into<String>) -> SandboxConfig {
        SandboxConfig {
            state,
            token: token.into(),
            rate_limit: RateLimit::default(),
        }
    }
}

/// One request as the sandbox received it, with the status it answered.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The body parsed as JSON; `None` when empty or not JSON.
    pub body: Option<serde_json::Value>,
    pub status: u16,
}

/// A random token shaped like Mailtrap's (32 hex digits).
pub fn generate_token() -> String {
    let mut rng = rand::rng();
    (0..16)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// Everything the request handler shares. Each lock is held only for one short,
/// synchronous step, so one request's change to the account is atomic.
pub(crate) struct Shared {
    token: String,
    account_id: u64,
    rate_limit: RateLimit,
    state: Mutex<SandboxState>,
    limiter: Mutex<SlidingWindowLimiter>,
    requests: Mutex<VecDeque<RecordedRequest>>,
}

/// A panic elsewhere must not take the simulation down with a poisoned lock: the data
/// behind each lock is only ever replaced whole, so it is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn lock_state(&self) -> MutexGuard<'_, SandboxState> {
        lock(&self.state)
    }

    fn admit(&self, key: &str, now: Instant) -> Admission {
        lock(&self.limiter).admit(key, now)
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
    pub async fn start(config: SandboxConfig, listen: SocketAddr) -> anyhow::Result<Sandbox> {
        config.state.validate().context("sandbox state")?;
        if config.token.trim().is_empty() {
            anyhow::bail!("the sandbox token must not be empty");
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener
            .local_addr()
            .context("cannot read the bound address")?;
        let shared = Arc::new(Shared {
            token: config.token,
            account_id: config.state.account_id,
            rate_limit: config.rate_limit,
            state: Mutex::new(config.state),
            limiter: Mutex::new(SlidingWindowLimiter::new(config.rate_limit)),
            requests: Mutex::new(VecDeque::new()),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let app = http::router(Arc::clone(&shared));
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

    /// A snapshot of the account as it is now.
    pub fn state(&self) -> SandboxState {
        self.shared.lock_state().clone()
    }

    /// Every access now in the account, `ApiToken` entries included, as the list shape.
    pub fn accesses_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.shared.lock_state().accesses).unwrap_or(serde_json::Value::Null)
    }

    /// Every request received so far, in the order they were answered (the newest
    /// 100,000 at most).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).iter().cloned().collect()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
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

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.sandbox.requests()
    }

    pub fn clear_requests(&self) {
        self.sandbox.clear_requests()
    }

    /// Stop the server gracefully and wait for it.
    pub fn shutdown(self) {
        let BlockingSandbox { sandbox, runtime } = self;
        if let Some(runtime) = &runtime.0 {
            runtime.block_on(sandbox.shutdown());
        }
    }
}
