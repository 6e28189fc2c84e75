//! The command-line surface: every subcommand and flag, parsed with clap. Nothing here
//! does any work; `commands` receives the parsed values.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands::sandbox::SandboxArgs;

/// Manage who may do what in a Mailtrap account as code.
#[derive(Debug, Parser)]
#[command(name = "mailtrap-access", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a desired-state file offline: syntax, schema, levels, duplicates, roles.
    Validate(FileArgs),
    /// Read the live account and show the changes apply would send. Never writes.
    Plan(PlanArgs),
    /// Plan, confirm, send the changes, then read back and verify.
    Apply(ApplyArgs),
    /// Write the live account as a desired-state file.
    Export(ExportArgs),
    /// Print the JSON Schema of the desired-state file.
    Schema,
    /// Serve a local simulation of Mailtrap's Account Management API.
    Sandbox(SandboxArgs),
}

#[derive(Debug, Args)]
pub struct FileArgs {
    /// The desired-state file.
    #[arg(short = 'f', long = "file", default_value = "mailtrap-access.yaml")]
    pub file: PathBuf,
}

/// Where the live account is and how to reach it. The token is deliberately not a flag:
/// command lines end up in shell history and CI logs.
#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// Base URL of the Mailtrap API.
    #[arg(long, env = "MAILTRAP_API_URL", default_value = "https://mailtrap.io")]
    pub api_url: String,
    /// Account id; overrides `account_id` in the file.
    #[arg(long, env = "MAILTRAP_ACCOUNT_ID")]
    pub account_id: Option<u64>,
    /// Run against an in-process sandbox seeded with the demo account (no token needed).
    #[arg(long)]
    pub sandbox: bool,
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
    pub color: ColorArgs,
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
    /// A plan saved by `plan --out`: send exactly its requests, if the account has not
    /// changed since (instead of planning from -f FILE).
    #[arg(value_name = "PLAN_FILE", conflicts_with = "file")]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub file: FileArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of stdout.
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}
