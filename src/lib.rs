//! mailtrap-access: Mailtrap account access as code. The binary's `main` is [`main`];
//! the modules below are public where tests, benchmarks or other crates use them.

pub mod annotations;
pub mod api;
pub mod apply;
pub(crate) mod cli;
pub(crate) mod commands;
pub mod config;
pub mod explain;
pub mod export;
pub mod model;
pub mod plan;
pub mod planner;
pub mod policy;
pub mod rails;
pub mod rate;
pub mod render;
pub mod report;
pub mod resolve;
pub mod sandbox;
pub mod saved_plan;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

/// Parse the command line, run the command, print any error, and give the exit code.
pub fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        // A usage error exits 1, not clap's 2: `plan --detailed-exitcode` says changes with 2.
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(u8::from(err.use_stderr()));
        }
    };
    match commands::run(cli) {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(err) => {
            for line in commands::error_lines(&err) {
                eprintln!("{line}");
            }
            ExitCode::from(1)
        }
    }
}

/// The command line's description (every subcommand and flag), for documentation and
/// tests.
pub fn cli_command() -> clap::Command {
    <cli::Cli as clap::CommandFactory>::command()
}

/// Whether `words` (the program name first) is a command line the binary accepts; for
/// tests of the example pipelines.
pub fn parse_command_line<I, T>(words: I) -> Result<(), clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    cli::Cli::try_parse_from(words).map(drop)
}
