//! One function per subcommand. This is where I/O meets the pure core: files are read,
//! the API is called, renderers write to stdout, and errors get their context.

mod apply;
mod check;
mod docs;
mod explain;
mod export;
mod interrupt;
mod plan;
mod report;
mod sandbox;

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;

use crate::api::{ApiError, ApiToken, Endpoint, ReadClient, RetryPolicy, Timeouts};
use crate::cli::{Cli, ColorWhen, Command, ConnectionArgs, ScopeArgs, TimeArgs, ValidateArgs};
use crate::config::{self, ConfigError, LoadedFile};
use crate::model::LiveState;
use crate::plan::{plural, Plan};
use crate::planner::Clock;
use crate::render::Style;
use crate::sandbox::{Sandbox, SandboxConfig, SandboxState};
use crate::{planner, resolve};

/// How a successful run ends; errors are exit code 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// `plan --detailed-exitcode` found changes.
    ChangesPending,
    /// Apply stopped sending on a signal; the code is the shell's for that signal.
    Interrupted(u8),
    /// `check` found a policy violated.
    Violations,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::ChangesPending => 2,
            Outcome::Interrupted(code) => code,
            Outcome::Violations => 3,
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Schema => {
            print!("{}", config::json_schema());
            Ok(Outcome::Success)
        }
        Command::Plan(args) => runtime()?.block_on(plan::run(args)),
        Command::Apply(args) => runtime()?.block_on(apply::run(args)),
        Command::Export(args) => runtime()?.block_on(export::run(args)),
        Command::Explain(args) => explain::run(args),
        Command::Check(args) => runtime()?.block_on(check::run(args)),
        Command::Report(args) => runtime()?.block_on(report::run(args)),
        Command::Sandbox(args) => sandbox::run(args).map(|()| Outcome::Success),
        Command::Completions(args) => docs::completions(args.shell).map(|()| Outcome::Success),
        Command::Man(args) => docs::man(args.out.as_deref()).map(|()| Outcome::Success),
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
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// What a plan is asked for beyond the file: the tokens to reset (`--reset-token`)
/// and the people and tokens it is restricted to (`--target`; empty for all).
#[derive(Debug, Clone, Default)]
struct Scope {
    resets: BTreeSet<String>,
    targets: Vec<String>,
    /// Read the tokens list even if the file does not manage tokens.
    with_tokens: bool,
    /// The read-back after apply: the targets were checked before (one it removed is
    /// in the account no more), and the resets are done.
    read_back: bool,
}

impl Scope {
    fn of(args: &ScopeArgs) -> Scope {
        Scope {
            resets: args.reset_tokens.iter().cloned().collect(),
            targets: args.targets.clone(),
            ..Scope::default()
        }
    }
}

/// The steps `plan` and `apply` share: read the live account (two GETs, a third for
/// the tokens when the file manages them or the scope names some, through a client
/// that cannot write), resolve the file's names against it, plan as of `clock`, and
/// keep the scope's targets.
async fn read_and_plan(
    reader: &ReadClient,
    loaded: &LoadedFile,
    scope: &Scope,
    clock: &Clock,
) -> anyhow::Result<(Plan, LiveState)> {
    let policies = &loaded.file.policies;
    let with_tokens = scope.with_tokens
        || !policies.is_empty()
        || loaded.file.manages_tokens()
        || !scope.resets.is_empty()
        || !scope.targets.is_empty();
    let live = reader
        .live_state(with_tokens)
        .await
        .context("cannot read the live account")?;
    if !scope.read_back {
        resolve::check_resets(&live, &scope.resets, clock.now).map_err(anyhow::Error::msg)?;
        resolve::check_targets(loaded, &live, &scope.targets).map_err(anyhow::Error::msg)?;
        resolve::check_scope(loaded, &scope.resets, &scope.targets).map_err(anyhow::Error::msg)?;
    }
    let desired = resolve::resolve(loaded, &live, &scope.resets).map_err(ConfigError::Invalid)?;
    let mut plan = planner::plan(reader.account_id(), &desired, &live, clock).only(&scope.targets);
    if !policies.is_empty() {
        check_policy_names(policies, &live)?;
        let after = planner::expected_after(&plan, &live);
        plan.policy_violations = crate::policy::judge_plan(
            policies,
            &live,
            &after,
            &plan.tokens_with_service_expiry(),
            clock.now,
        );
    }
    Ok((plan, live))
}

/// The moment `args` say (`--now`), else the system clock's: the one place a command
/// reads the time.
fn clock(args: &TimeArgs) -> Clock {
    Clock {
        now: args.now.unwrap_or_else(jiff::Timestamp::now),
        expiry_warning: args.expiry_warning,
    }
}

/// Refuse rules that name resources the account does not have.
fn check_policy_names(policies: &config::Policies, live: &LiveState) -> anyhow::Result<()> {
    let problems = crate::policy::unknown_names(policies, live);
    if !problems.is_empty() {
        anyhow::bail!(
            "{}; fix the names in the file's policies",
            problems.join("; ")
        );
    }
    Ok(())
}

/// The file's policies judged on the file alone: each violation at the entry that
/// breaks it, naming the rule's line.
fn policy_problems(loaded: &LoadedFile, now: jiff::Timestamp) -> Vec<config::Diagnostic> {
    let policies = &loaded.file.policies;
    if policies.is_empty() {
        return Vec::new();
    }
    let subjects = crate::policy::subjects_of_file(loaded, now);
    let mut problems: Vec<config::Diagnostic> =
        crate::policy::judge(policies, &subjects, now, false)
            .into_iter()
            .map(|violation| {
                let rule_path: Vec<&str> = std::iter::once("policies")
                    .chain((violation.rule.split(['[', ']'])).filter(|part| !part.is_empty()))
                    .collect();
                let rule_line = (loaded.source().locate(&rule_path))
                    .map_or(String::new(), |at| format!(" at line {}", at.line));
                let entry = (subjects.iter())
                    .find(|s| s.label == violation.subject)
                    .and_then(|s| s.path.as_deref());
                let at: Vec<&str> = match entry {
                    Some(path) => path.iter().map(String::as_str).collect(),
                    None => rule_path,
                };
                loaded.diagnostic(
                    &at,
                    format!(
                        "{} (policy {}{rule_line})",
                        violation.message, violation.rule
                    ),
                )
            })
            .collect();
    problems.sort_by_key(|problem| problem.position);
    problems
}

/// Load the desired file and judge its dates as of `clock`.
fn load_at(path: &Path, clock: &Clock) -> anyhow::Result<LoadedFile> {
    let loaded = config::load(path)?;
    let problems = config::check_expiries(&loaded, clock.now);
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems).into());
    }
    Ok(loaded)
}

fn validate(args: &ValidateArgs) -> anyhow::Result<Outcome> {
    let clock = clock(&args.time);
    let loaded = load_at(args.file.path(), &clock)?;
    for expired in config::expired_entries(&loaded, clock.now) {
        eprintln!("warning: {expired}");
    }
    let problems = policy_problems(&loaded, clock.now);
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems).into());
    }
    let count = |n: usize, one: &str, many: &str| format!("{n} {}", plural(n, one, many));
    let file = &loaded.file;
    println!(
        "{}: valid ({}, {}, {})",
        loaded.display_path,
        count(file.users.len(), "user", "users"),
        count(file.api_tokens.len(), "API token", "API tokens"),
        count(file.roles.len(), "role", "roles")
    );
    Ok(Outcome::Success)
}

/// Stdout for a whole rendering: a big plan is tens of thousands of lines, and the
/// standard handle would make a system call for each one. Callers flush it.
fn buffered_stdout() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock())
}

/// The style of stdout for `--color`: `always` and `never` mean what they say; `auto`
/// asks anstream, which colors a terminal unless `NO_COLOR` is set or `TERM=dumb`, and
/// anything when `CLICOLOR_FORCE` is set.
fn stdout_style(when: ColorWhen) -> Style {
    let color = match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
        }
    };
    Style { color }
}

/// A connection to the account: the endpoint, and the in-process sandbox behind it when
/// `--sandbox` was given (kept alive as long as this value).
struct Target {
    endpoint: Endpoint,
    _sandbox: Option<Sandbox>,
}

/// Connect as [`connect`] does, and read the whole live account, API tokens included:
/// what `check`, `report` and `export` start from.
async fn read_whole_account(
    args: &ConnectionArgs,
    named: Option<(u64, &str)>,
) -> anyhow::Result<(ReadClient, LiveState)> {
    let target = connect(args, named).await?;
    let reader = ReadClient::new(target.endpoint)?;
    let live = reader
        .live_state(true)
        .await
        .context("cannot read the live account")?;
    Ok((reader, live))
}

/// Connect to the account `--account-id` / `MAILTRAP_ACCOUNT_ID` names, or else the one
/// `named` gives with what names it (the desired file, a saved plan); when both name one,
/// they must agree: a flag or a variable left over from another job must not retarget
/// a file at another account.
async fn connect(args: &ConnectionArgs, named: Option<(u64, &str)>) -> anyhow::Result<Target> {
    if let (Some(flag), Some((account, what))) = (args.account_id, named) {
        if flag != account {
            anyhow::bail!(
                "--account-id / MAILTRAP_ACCOUNT_ID says account {flag}, but {what} says account {account}; nothing was read or sent. Make them agree, or leave the flag out"
            );
        }
    }
    let file_account = named.map(|(account, _)| account);
    let endpoint = |base_url: String, account_id: u64, token: ApiToken| Endpoint {
        base_url,
        account_id,
        paths: args.api_paths,
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
    let token = read_token(args.token_file.as_deref())?;
    crate::api::check_base_url(&args.api_url)?;
    let account_id = match args.account_id.or(file_account) {
        Some(account_id) => account_id,
        None => {
            let probe = ReadClient::new(endpoint(args.api_url.clone(), 0, token.clone()))?;
            discover_account(&probe).await?
        }
    };
    Ok(Target {
        endpoint: endpoint(args.api_url.clone(), account_id, token),
        _sandbox: None,
    })
}

/// The account when nothing names one: the only one the token can reach, said on stderr.
async fn discover_account(probe: &ReadClient) -> anyhow::Result<u64> {
    let accounts = probe
        .accounts()
        .await
        .context("no account id was given (set `account_id:` in the file or pass --account-id), and listing the token's accounts to find it failed")?;
    match accounts.as_slice() {
        [one] => {
            eprintln!(
                "Using account {} ({}), the only one this token can reach.",
                one.id,
                crate::model::printable(&one.name)
            );
            Ok(one.id)
        }
        [] => anyhow::bail!(
            "no account id was given, and the token can reach no account (GET /api/accounts is empty): check the token"
        ),
        many => {
            let listed: Vec<String> = many
                .iter()
                .map(|account| format!("  {}  {}", account.id, crate::model::printable(&account.name)))
                .collect();
            anyhow::bail!(
                "no account id was given, and the token can reach {} accounts; choose one with `account_id:` in the file or --account-id:\n  id  name\n{}",
                many.len(),
                listed.join("\n")
            )
        }
    }
}

/// The token from `--token-file`, else from `MAILTRAP_API_TOKEN`; never from a flag's
/// value, which would end up in shell history and CI logs.
fn read_token(token_file: Option<&Path>) -> anyhow::Result<ApiToken> {
    if let Some(path) = token_file {
        // Not echoed unless it is a file: someone may have passed the token itself.
        if !path.is_file() {
            anyhow::bail!(
                "--token-file takes the path of a file that holds the token, and no such file exists (the value given is not shown, in case it is the token itself)"
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the token file {}", path.display()))?;
        if text.trim().is_empty() {
            anyhow::bail!(
                "the token file {} is empty: put the API token in it",
                path.display()
            );
        }
        return ApiToken::new(text)
            .with_context(|| format!("the token file {} holds no usable token", path.display()));
    }
    match std::env::var("MAILTRAP_API_TOKEN") {
        Ok(token) if !token.trim().is_empty() => Ok(ApiToken::new(token)?),
        _ => Err(ApiError::MissingToken.into()),
    }
}

/// Refuse to write to `path` through a symbolic link, which could point anywhere.
fn refuse_link(path: &Path) -> anyhow::Result<()> {
    if std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink()) {
        anyhow::bail!(
            "{} is a symbolic link: refusing to write through it; name the file itself",
            path.display()
        );
    }
    Ok(())
}

/// Write a file only its owner can read (a plan or an export names every person with
/// access), never through a symbolic link, which could point anywhere.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    refuse_link(path)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        // `mode` applies only to a new file; an existing one is narrowed too.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
