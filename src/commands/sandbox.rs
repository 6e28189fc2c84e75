//! `mailtrap-access sandbox`: serve the simulated API until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::rate::RateLimit;

#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8025")]
    pub listen: SocketAddr,
    /// Seed state: {"account_id": N, "resources": [...], "accesses": [...]}.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// The only API token accepted; generated and printed on stderr when absent.
    #[arg(long, env = "MAILTRAP_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Requests allowed per token and window.
    #[arg(long, default_value = "150/10s")]
    pub rate_limit: RateLimit,
}

pub fn run(_args: SandboxArgs) -> anyhow::Result<()> {
    anyhow::bail!("the sandbox is not built yet")
}
