//! `mailtrap-access sandbox`: serve the simulated API until interrupted. The first line
//! on stdout is `listening on http://HOST:PORT` (with the real port), so a script or
//! test can start it on port 0 and read where it went; everything else goes to stderr.
//! `--vocabulary` picks the resource type names it speaks; the fault flags make it
//! misbehave on purpose, reproducibly with `--fault-seed`.

use std::io::Write;

use anyhow::Context;

use crate::cli::{FaultArgs, SandboxArgs};
use crate::sandbox::{generate_token, Faults, Sandbox, SandboxConfig, SandboxState};

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
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        anyhow::bail!(
            "--listen {} is not a loopback address: the sandbox is for this machine; pass --allow-remote to serve others",
            args.listen
        );
    }
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
        "account {} with {} accesses; {} vocabulary; rate limit {}; {faults}; stop with Ctrl-C",
        state.account_id(),
        state.accesses.len(),
        args.vocabulary,
        args.rate_limit
    );
    let config = SandboxConfig {
        vocabulary: args.vocabulary,
        rate_limit: args.rate_limit,
        faults,
        ..SandboxConfig::new(state, token)
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
