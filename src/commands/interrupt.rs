//! Ctrl-C and SIGTERM while apply sends. The first signal asks apply to stop sending:
//! the requests in flight are waited for and reported, the rest are not started, and
//! apply says what was and was not sent, then exits 130 (SIGINT) or 143 (SIGTERM). A
//! second signal, or one after the sending is over, ends the process at once with that
//! code, as it would have ended without a handler.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use anyhow::Context;

/// A signal that stops apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signal {
    Interrupt = 1,
    Terminate = 2,
}

impl Signal {
    pub(super) fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// 128 + the signal's number, as a shell reports a process it ended.
    pub(super) fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

/// Watches for the signals from its creation to the end of the process.
pub(super) struct Interrupt {
    received: Arc<AtomicU8>,
    sending: Arc<AtomicBool>,
}

impl Interrupt {
    /// Start watching, in the current runtime, while requests are being sent.
    pub(super) fn watch() -> anyhow::Result<Interrupt> {
        let received = Arc::new(AtomicU8::new(0));
        let sending = Arc::new(AtomicBool::new(true));
        #[cfg(unix)]
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("cannot listen for SIGTERM")?;
        let (flag, still_sending) = (Arc::clone(&received), Arc::clone(&sending));
        tokio::spawn(async move {
            loop {
                #[cfg(unix)]
                let signal = tokio::select! {
                    result = tokio::signal::ctrl_c() => match result {
                        Ok(()) => Signal::Interrupt,
                        Err(_) => return,
                    },
                    _ = terminate.recv() => Signal::Terminate,
                };
                #[cfg(not(unix))]
                let signal = match tokio::signal::ctrl_c().await {
                    Ok(()) => Signal::Interrupt,
                    Err(_) => return,
                };
                let first = flag
                    .compare_exchange(0, signal as u8, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok();
                if !first || !still_sending.load(Ordering::SeqCst) {
                    std::process::exit(i32::from(signal.exit_code()));
                }
            }
        });
        Ok(Interrupt { received, sending })
    }

    /// The signal received, if any.
    pub(super) fn received(&self) -> Option<Signal> {
        match self.received.load(Ordering::SeqCst) {
            1 => Some(Signal::Interrupt),
            2 => Some(Signal::Terminate),
            _ => None,
        }
    }

    /// The sending is over: from now on a signal ends the process at once.
    pub(super) fn sending_done(&self) {
        self.sending.store(false, Ordering::SeqCst);
    }
}
