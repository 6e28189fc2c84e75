//! `mailtrap-access sandbox`: serve the simulated API until interrupted. The first line
//! on stdout is `listening on http://HOST:PORT` (with the real port), so a script or
//! test can start it on port 0 and read where it went; everything else goes to stderr.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

use crate::rate::RateLimit;
use crate::sandbox::{generate_token, Sandbox, SandboxConfig, SandboxState};

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

pub fn run(args: SandboxArgs) -> anyhow::Result<()> {
    let state = match &args.state {
        Some(path) => SandboxState::load(path)?,
        None => SandboxState::demo(),
    };
    let token = match args.token {
        Some(token) if token.trim().is_empty() => {
            anyhow::bail!("--token (or MAILTRAP_API_TOKEN) must not be empty")
        }
        Some(token) => token,
        None => {
            let token = generate_token();
            eprintln!("generated API token: {token}");
            token
        }
    };
    let summary = format!(
        "account {} with {} accesses; rate limit {}; stop with Ctrl-C",
        state.account_id(),
        state.accesses.len(),
        args.rate_limit
    );
    let config = SandboxConfig {
        state,
        token,
        rate_limit: args.rate_limit,
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let sandbox = Sandbox::start(config, args.listen).await?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", sandbox.base_url())?;
        // Whoever started us is waiting for that line, possibly through a pipe.
        stdout.flush()?;
        drop(stdout);
        eprintln!("{summary}");
        wait_for_interrupt().await?;
        sandbox.shutdown().await;
        Ok(())
    })
}

/// Ctrl-C, or SIGTERM where there is such a thing.
async fn wait_for_interrupt() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted.context("cannot listen for Ctrl-C")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")?;
    Ok(())
}
