//! Entry point: parse arguments, run the command, map the outcome to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match <mailtrap_access::cli::Cli as clap::Parser>::try_parse() {
        Ok(cli) => cli,
        // A usage error exits 1, not clap's 2: `plan --detailed-exitcode` says changes with 2.
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(u8::from(err.use_stderr()));
        }
    };
    match mailtrap_access::commands::run(cli) {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(err) => {
            for line in mailtrap_access::commands::error_lines(&err) {
                eprintln!("{line}");
            }
            ExitCode::from(1)
        }
    }
}
