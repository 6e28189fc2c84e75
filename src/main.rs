//! Entry point: parse arguments, run the command, map the outcome to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = <mailtrap_access::cli::Cli as clap::Parser>::parse();
    match mailtrap_access::commands::run(cli) {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(err) => {
            for line in mailtrap_access::commands::describe_error(&err).lines() {
                eprintln!("error: {line}");
            }
            ExitCode::from(1)
        }
    }
}
