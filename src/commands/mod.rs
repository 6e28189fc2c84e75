//! One function per subcommand. This is where I/O meets the pure core: files are read,
//! the API is called, renderers write to stdout, and errors get their context.

mod apply;
mod apply_saved;
mod export;
mod plan;
mod planning;

pub use planning::fetch_and_plan;
pub mod sandbox;

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;

use crate::api::{ApiError, ApiToken, Endpoint, RetryPolicy, Timeouts};
use crate::cli::{Cli, ColorWhen, Command, ConnectionArgs};
use crate::config::{self, LoadedFile};
use crate::render::Style;
use crate::sandbox::{Sandbox, SandboxConfig, SandboxState};

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
        Command::Validate(args) => validate(&args.file),
        Command::Schema => {
            print!("{}", config::json_schema());
            Ok(Outcome::Success)
        }
        Command::Plan(args) => runtime()?.block_on(plan::run(args)),
        Command::Apply(args) => runtime()?.block_on(apply::run(args)),
        Command::Export(args) => runtime()?.block_on(export::run(args)),
        Command::Sandbox(args) => sandbox::run(args).map(|()| Outcome::Success),
    }
}

/// The message for an error: its chain of contexts, outermost first.
pub fn describe_error(err: &anyhow::Error) -> String {
    format!("{err:#}")
}

/// Everything to print on stderr for an error: `error: ` lines and, when running in
/// GitHub Actions (`GITHUB_ACTIONS=true`), a `::error file=,line=,col=::` annotation for
/// each problem in the desired-state file (the runner reads workflow commands on stderr
/// too, which keeps stdout clean for `--format markdown > plan.md`).
///
/// On a terminal, a file error with nothing around it also shows each line it points at,
/// with a caret under the column.
pub fn error_lines(err: &anyhow::Error) -> Vec<String> {
    let file_error = err
        .downcast_ref::<config::ConfigError>()
        .filter(|_| err.chain().count() == 1);
    let mut lines: Vec<String> = match file_error {
        Some(file_error) if std::io::IsTerminal::is_terminal(&std::io::stderr()) => {
            config::snippet::annotated(file_error, config::snippet::read_lossy)
        }
        _ => describe_error(err)
            .lines()
            .map(|line| format!("error: {line}"))
            .collect(),
    };
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|value| value == "true") {
        lines.extend(crate::annotations::github_annotations(err));
    }
    lines
}

/// One thread is plenty: the work is waiting on the network, and concurrency comes from
/// requests in flight, not from threads.
/// `side` on a second thread while `main` runs on this one: two independent pieces of
/// work on a big plan take the time of the longer one, not of both.
pub fn beside<A: Send, B>(side: impl FnOnce() -> A + Send, main: impl FnOnce() -> B) -> (A, B) {
    std::thread::scope(|scope| {
        let side = scope.spawn(side);
        let main = main();
        let side = side
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (side, main)
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn validate(path: &Path) -> anyhow::Result<Outcome> {
    let loaded = config::load(path)?;
    println!(
        "{}: valid ({} users, {} API tokens, {} roles)",
        loaded.display_path,
        loaded.file.users.len(),
        loaded.file.api_tokens.len(),
        loaded.file.roles.len()
    );
    Ok(Outcome::Success)
}

/// Stdout for a whole rendering: a big plan is tens of thousands of lines, and the
/// standard handle would make a system call for each one. Callers flush it.
fn buffered_stdout() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock())
}

/// The style of stdout for `--color`.
fn stdout_style(when: ColorWhen) -> Style {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    Style {
        color: color_enabled(when, std::io::stdout().is_terminal(), no_color),
    }
}

/// `always` and `never` mean what they say; `auto` colors only a terminal, and only when
/// `NO_COLOR` is unset (or empty, as no-color.org specifies).
pub fn color_enabled(when: ColorWhen, is_terminal: bool, no_color: bool) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => is_terminal && !no_color,
    }
}

fn load_file(path: &Path) -> anyhow::Result<LoadedFile> {
    Ok(config::load(path)?)
}

/// A connection to the account: the endpoint, and the in-process sandbox behind it when
/// `--sandbox` was given (kept alive as long as this value).
struct Target {
    endpoint: Endpoint,
    _sandbox: Option<Sandbox>,
}

async fn connect(args: &ConnectionArgs, file_account: Option<u64>) -> anyhow::Result<Target> {
    let endpoint = |base_url: String, account_id: u64, token: ApiToken| Endpoint {
        base_url,
        account_id,
        token,
        timeouts: Timeouts {
            connect: args.connect_timeout,
            total: args.timeout,
        },
        rate_limit: args.rate_limit,
        retry: RetryPolicy {
            max_retries: args.retries,
            ..RetryPolicy::default()
        },
    };
    if args.sandbox {
        let state = SandboxState::demo();
        let account_id = args
            .account_id
            .or(file_account)
            .unwrap_or(state.account_id());
        let token = crate::sandbox::generate_token();
        let sandbox = Sandbox::start(
            SandboxConfig::new(state, token.clone()),
            ([127, 0, 0, 1], 0).into(),
        )
        .await
        .context("cannot start the in-process sandbox")?;
        return Ok(Target {
            endpoint: endpoint(sandbox.base_url(), account_id, ApiToken::new(token)?),
            _sandbox: Some(sandbox),
        });
    }
    let account_id = args.account_id.or(file_account).context(
        "no account id: set account_id in the file, or pass --account-id / MAILTRAP_ACCOUNT_ID",
    )?;
    let token = read_token(args.token_file.as_deref())?;
    crate::api::check_base_url(&args.api_url)?;
    Ok(Target {
        endpoint: endpoint(args.api_url.clone(), account_id, token),
        _sandbox: None,
    })
}

/// The token from `--token-file`, else from `MAILTRAP_API_TOKEN`; never from a flag's
/// value, which would end up in shell history and CI logs.
fn read_token(token_file: Option<&Path>) -> anyhow::Result<ApiToken> {
    if let Some(path) = token_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the token file {}", path.display()))?;
        return ApiToken::new(text)
            .with_context(|| format!("the token file {} holds no usable token", path.display()));
    }
    match std::env::var("MAILTRAP_API_TOKEN") {
        Ok(token) if !token.trim().is_empty() => Ok(ApiToken::new(token)?),
        _ => Err(ApiError::MissingToken.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn color_follows_the_flag_the_terminal_and_no_color() {
        assert!(color_enabled(ColorWhen::Auto, true, false));
        assert!(!color_enabled(ColorWhen::Auto, false, false));
        assert!(!color_enabled(ColorWhen::Auto, true, true));
        assert!(color_enabled(ColorWhen::Always, false, true));
        assert!(!color_enabled(ColorWhen::Never, true, false));
    }
}
