//! A stateful simulation of Mailtrap's Account Management API on loopback.
//! (Interface stub; the implementation lands from the sandbox branch.)

use std::net::SocketAddr;

use crate::rate::RateLimit;

#[derive(Debug, Clone)]
pub struct SandboxState;

impl SandboxState {
    pub fn demo() -> SandboxState {
        SandboxState
    }
    pub fn account_id(&self) -> u64 {
        1111111
    }
}

pub struct SandboxConfig {
    pub state: SandboxState,
    pub token: String,
    pub rate_limit: RateLimit,
}

pub struct Sandbox;

impl Sandbox {
    pub async fn start(_config: SandboxConfig, _listen: SocketAddr) -> anyhow::Result<Sandbox> {
        anyhow::bail!("sandbox not built yet")
    }
    pub fn base_url(&self) -> String {
        String::new()
    }
    pub fn token(&self) -> &str {
        ""
    }
    pub async fn shutdown(self) {}
}
