//! `mailtrap-access sandbox`: serve the simulated API until interrupted. The first line
//! on stdout is `listening on http://HOST:PORT` (with the real port), so a script or
//! test can start it on port 0 and read where it went; everything else goes to stderr.
//! The fault flags make it misbehave on purpose, reproducibly with `--fault-seed`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::cli::parse_duration;
use crate::rate::RateLimit;
use crate::sandbox::{
    generate_token, parse_rate, Burst429, Faults, Sandbox, SandboxConfig, SandboxState,
};

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
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Faults to inject into the four API operations. Off unless given.
#[derive(Debug, Default, clap::Args)]
#[command(next_help_heading = "Fault injection")]
pub struct FaultArgs {
    /// Fraction of requests answered 500 {"error":"Internal Server Error"}, nothing changed.
    #[arg(long, value_name = "F", value_parser = parse_rate)]
    pub fail_rate: Option<f64>,
    /// Wait this long before answering each request, e.g. 50ms.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub latency: Option<Duration>,
    /// Add a random extra wait of up to this long to each request.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub latency_jitter: Option<Duration>,
    /// Refuse N requests in a row out of every M with 429 and Retry-After: 1, e.g. 3/10.
    #[arg(long = "burst-429", value_name = "N/M")]
    pub burst_429: Option<Burst429>,
    /// Fraction of requests whose connection is closed without an answer, half of them
    /// before the change is applied and half after.
    #[arg(long, value_name = "F", value_parser = parse_rate,
          conflicts_with_all = ["drop_before_rate", "drop_after_rate"])]
    pub drop_rate: Option<f64>,
    /// Fraction of requests dropped (no answer) before the change is applied.
    #[arg(long, value_name = "F", value_parser = parse_rate)]
    pub drop_before_rate: Option<f64>,
    /// Fraction of requests dropped (no answer) after the change was applied.
    #[arg(long, value_name = "F", value_parser = parse_rate)]
    pub drop_after_rate: Option<f64>,
    /// Fraction of requests answered by a proxy's 502 Bad Gateway HTML page.
    #[arg(long, value_name = "F", value_parser = parse_rate)]
    pub html_rate: Option<f64>,
    /// Answer every request with a 307 redirect to this base URL (same path and query).
    #[arg(long, value_name = "URL")]
    pub redirect_to: Option<String>,
    /// Seed of the fault decisions; random (and printed) when absent.
    #[arg(long, value_name = "N")]
    pub fault_seed: Option<u64>,
}

impl FaultArgs {
    pub fn faults(&self) -> anyhow::Result<Faults> {
        let (drop_before, drop_after) = match self.drop_rate {
            Some(rate) => (rate / 2.0, rate / 2.0),
            None => (
                self.drop_before_rate.unwrap_or(0.0),
                self.drop_after_rate.unwrap_or(0.0),
            ),
        };
        let faults = Faults {
            seed: self.fault_seed.unwrap_or_else(rand::random),
            failure_rate: self.fail_rate.unwrap_or(0.0),
            latency: self.latency.unwrap_or_default(),
            latency_jitter: self.latency_jitter.unwrap_or_default(),
            burst_429: self.burst_429,
            drop_before_rate: drop_before,
            drop_after_rate: drop_after,
            html_rate: self.html_rate.unwrap_or(0.0),
            redirect_to: self.redirect_to.clone(),
        };
        faults.validate().map_err(anyhow::Error::msg)?;
        Ok(faults)
    }
}

pub fn run(args: SandboxArgs) -> anyhow::Result<()> {
    let faults = args.faults.faults()?;
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
        "account {} with {} accesses; rate limit {}; {faults}; stop with Ctrl-C",
        state.account_id(),
        state.accesses.len(),
        args.rate_limit
    );
    let config = SandboxConfig {
        state,
        token,
        rate_limit: args.rate_limit,
        faults,
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
