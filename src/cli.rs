//! The command-line surface: every subcommand and flag, parsed with clap. Nothing here
//! does any work; `commands` receives the parsed values.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::model::PathFamily;
use crate::rate::RateLimit;
use crate::sandbox::{parse_rate, Burst429};

/// Manage who may do what in a Mailtrap account as code.
#[derive(Debug, Parser)]
#[command(name = "mailtrap-access", version = env!("MAILTRAP_ACCESS_VERSION"), about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a desired-state file offline: syntax, schema, levels, duplicates, roles.
    Validate(ValidateArgs),
    /// Read the live account and show the changes apply would send. Never writes.
    Plan(PlanArgs),
    /// Plan, confirm, send the changes, then read back and verify.
    Apply(ApplyArgs),
    /// Write the live account as a desired-state file.
    Export(ExportArgs),
    /// For one person or API token: every resource where it has or will have access,
    /// the grants it comes from, the live and effective levels, and what plan would do.
    Explain(ExplainArgs),
    /// Judge the file's policies on the live account as it is now: exit 0 when all hold,
    /// 3 when some rule is violated, 1 on an error.
    Check(CheckArgs),
    /// The access review: every user, invite and token with its effective access and
    /// why, and a summary for the reviewer.
    Report(ReportArgs),
    /// Print the JSON Schema of the desired-state file.
    Schema,
    /// Serve a local simulation of Mailtrap's Account Management API.
    Sandbox(SandboxArgs),
    /// Print a shell completion script: bash, zsh, fish, powershell or elvish.
    Completions(CompletionsArgs),
    /// Write the manual pages, one per command (without --out, the main page on stdout).
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write every page into this directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FileArgs {
    /// The desired-state file [default: mailtrap-access.yaml].
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

impl FileArgs {
    /// The file named with `-f`, else `mailtrap-access.yaml`.
    pub fn path(&self) -> &Path {
        self.file
            .as_deref()
            .unwrap_or(Path::new("mailtrap-access.yaml"))
    }
}

/// Where the live account is and how to reach it. The token is deliberately not a flag:
/// command lines end up in shell history and CI logs.
/// `HOST:PORT`, where `localhost` stands for 127.0.0.1.
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    let literal = match text.rsplit_once(':') {
        Some((host, port)) if host.eq_ignore_ascii_case("localhost") => format!("127.0.0.1:{port}"),
        _ => text.to_string(),
    };
    literal.parse().map_err(|_| {
        format!("invalid address {text:?}: write HOST:PORT, e.g. 127.0.0.1:8025 or localhost:0")
    })
}

#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// Base URL of the Mailtrap API.
    #[arg(
        long,
        env = "MAILTRAP_API_URL",
        hide_env_values = true,
        default_value = "https://mailtrap.io"
    )]
    pub api_url: String,
    /// Account id; must agree with `account_id` in the file, if it has one. Without
    /// either, the only account the token can reach (GET /api/accounts).
    #[arg(long, env = "MAILTRAP_ACCOUNT_ID", hide_env_values = true)]
    pub account_id: Option<u64>,
    /// Which paths reach the account: `account` (/api/accounts/ID/...) or `token`
    /// (/api/..., the account the token belongs to).
    #[arg(long, env = "MAILTRAP_API_PATHS", hide_env_values = true, value_enum, default_value_t = PathFamily::Account)]
    pub api_paths: PathFamily,
    /// Run against an in-process sandbox seeded with the demo account (no token needed).
    #[arg(long)]
    pub sandbox: bool,
    /// Read the API token from this file (a CI secret mount) instead of MAILTRAP_API_TOKEN.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Pace requests under this per-token rate limit.
    #[arg(long, default_value = "150/10s", value_name = "N/Ws")]
    pub rate_limit: RateLimit,
    /// Retries of a request after 429, 5xx, timeouts and connection errors.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub retries: u32,
    /// Time allowed to establish a connection, e.g. 10s or 500ms.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub connect_timeout: Duration,
    /// Time allowed for one whole request, e.g. 60s.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
}

/// `500ms`, `10s`, `2m`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: write e.g. 500ms, 10s or 2m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => {
            return Err(format!(
                "invalid duration {text:?}: the unit must be ms, s or m"
            ))
        }
    };
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(format!("invalid duration {text:?}: it must be positive"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub file: FileArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Exit 2 when the plan has changes (0: none, 1: error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Also save the plan, with a fingerprint of the file and the live state, for `apply PLAN`.
    #[arg(long, value_name = "PLAN_FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub time: TimeArgs,
    #[command(flatten)]
    pub color: ColorArgs,
}

/// `validate`: the file, judged as of a moment (tokens' expiry dates).
#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub file: FileArgs,
    #[command(flatten)]
    pub time: TimeArgs,
}

/// The moment a command judges expiry dates by.
#[derive(Debug, Args)]
pub struct TimeArgs {
    /// Plan as of this moment instead of now: a date (2027-02-01, the start of that day,
    /// UTC) or a UTC date-time (2027-02-01T09:00:00Z). What will the cron do then?
    #[arg(long, value_name = "DATE", value_parser = parse_moment)]
    pub now: Option<jiff::Timestamp>,
    /// Warn about API tokens that expire within this many days (30d).
    #[arg(long, value_name = "DAYS", default_value = "30d", value_parser = parse_days)]
    pub expiry_warning: jiff::SignedDuration,
}

/// What a plan is for beyond the file: tokens to rotate, and a part of the account.
#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// Rotate this API token through the reset call: a new id and secret, the same
    /// permissions (repeatable). Never the token this tool runs with.
    #[arg(long = "reset-token", value_name = "NAME")]
    pub reset_tokens: Vec<String>,
    /// Plan and apply only this person (email) or API token (name), repeatable; the
    /// rest of the account is neither shown as changing nor touched.
    #[arg(long = "target", value_name = "EMAIL_OR_TOKEN_NAME")]
    pub targets: Vec<String>,
}

/// A date (the start of that day, UTC) or a date-time.
pub fn parse_moment(text: &str) -> Result<jiff::Timestamp, String> {
    match crate::model::WantedExpiry::parse(text) {
        Ok(moment) => moment
            .instant()
            .ok_or_else(|| "write a date or a date-time, not never".to_string()),
        Err(_) => Err(format!(
            "invalid moment {text:?}: write a date (2027-02-01) or a UTC date-time (2027-02-01T09:00:00Z)"
        )),
    }
}

/// `30d` (or a bare number of days).
pub fn parse_days(text: &str) -> Result<jiff::SignedDuration, String> {
    let text = text.trim();
    let days: i64 = (text.strip_suffix('d').unwrap_or(text))
        .parse()
        .ok()
        .filter(|days| (0..=36_500).contains(days))
        .ok_or_else(|| format!("invalid number of days {text:?}: write e.g. 30d"))?;
    Ok(jiff::SignedDuration::from_hours(days * 24))
}

/// How `plan` writes the plan on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// For people on a terminal (colored there).
    Text,
    /// Versioned, for programs (`format_version` 1; see the README).
    Json,
    /// For a pull-request comment: summary, one table per access, under 60,000 characters.
    Markdown,
    /// A unified diff of the account as YAML: live, then as it will be after apply.
    Diff,
}

/// When to color output.
#[derive(Debug, Args)]
pub struct ColorArgs {
    /// Color: auto (a terminal, and NO_COLOR unset), always, never.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved by `plan --out`: apply it only if planning again now, from the same
    /// desired file (the one it records, or -f FILE), gives exactly its changes.
    #[arg(value_name = "PLAN_FILE")]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub file: FileArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Apply even when more than 25% of managed rows, accesses or tokens would go, or
    /// when the desired file is empty.
    #[arg(long)]
    pub allow_mass_removal: bool,
    /// Allow a plan that replaces API tokens (creates a new one, then deletes the old):
    /// everything using an old secret stops working until it is given the new one.
    #[arg(long)]
    pub allow_token_replacement: bool,
    /// Where new tokens' secrets go: a file that must not exist yet, created with mode
    /// 0600. Needed when the plan creates, replaces or resets a token.
    #[arg(long, value_name = "FILE")]
    pub new_tokens_file: Option<PathBuf>,
    /// Requests in flight at once (the rate limit still applies).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub time: TimeArgs,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A desired-state file, to add who is not in it and its policy violations.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub format: ReportFormat,
    /// Write to this file (mode 0600) instead of stdout.
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub time: TimeArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Markdown,
    /// One row per subject and resource, for spreadsheets.
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub file: FileArgs,
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub time: TimeArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    Markdown,
    /// JUnit XML: one test case per rule and subject.
    Junit,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// An email (any case) or an API token's name.
    #[arg(value_name = "EMAIL_OR_TOKEN_NAME")]
    pub name: String,
    #[command(flatten)]
    pub file: FileArgs,
    /// Read the file alone: no request is sent, names are not resolved.
    #[arg(long)]
    pub offline: bool,
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub time: TimeArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of stdout.
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on (HOST:PORT; `localhost` is 127.0.0.1); port 0 picks a free
    /// port. Loopback only, unless --allow-remote.
    #[arg(long, default_value = "127.0.0.1:8025", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// Listen on an address other machines can reach (the sandbox accepts its token from
    /// anyone who can connect).
    #[arg(long)]
    pub allow_remote: bool,
    /// Seed state: {"account_id": N, "resources": [...], "accesses": [...]}.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// The only API token accepted; generated and printed on stderr when absent.
    #[arg(long, env = "MAILTRAP_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Requests allowed per token and window.
    #[arg(long, default_value = "150/10s")]
    pub rate_limit: RateLimit,
    /// The resource type names served on every path: old (inbox, sending_domain, filter
    /// inbox_ids) or new (sandbox, domain, filter sandbox_ids).
    #[arg(long, value_enum, default_value_t = crate::sandbox::Vocabulary::Old)]
    pub vocabulary: crate::sandbox::Vocabulary,
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Faults to inject into the four API operations. Off unless given.
#[derive(Debug, Default, Args)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        for bad in ["", "0s", "-1s", "10h", "abc"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
