//! One function per subcommand. This is where I/O meets the pure core: files are read,
//! the API is called, renderers write to stdout, and errors get their context.

pub mod sandbox;

use crate::cli::{Cli, Command};

/// How a successful run ends; errors are exit code 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// `plan --detailed-exitcode` found changes.
    ChangesPending,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::ChangesPending => 2,
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Sandbox(args) => sandbox::run(args).map(|()| Outcome::Success),
        _ => anyhow::bail!("not implemented yet"),
    }
}

/// The one-line (or few-line) message for an error: its chain of contexts.
pub fn describe_error(err: &anyhow::Error) -> String {
    format!("{err:#}")
}
