//! Renderers: a plan (or an apply report) in, text on a `Write` out. The only code
//! besides `main.rs` that produces user-facing output; it never touches the network or
//! the file system. The text format is here; the other plan formats (`--format json`,
//! `markdown`, `diff`), saved plans and apply's progress line are in the submodules.

pub mod json;
pub mod markdown;
pub(crate) mod progress;
pub mod yaml_diff;

use std::fmt;
use std::io::{self, Write};

use anstyle::AnsiColor;

pub use json::plan_json;
pub use markdown::plan_markdown;
pub use yaml_diff::plan_diff;

use crate::apply::{Completion, OperationResult};
use crate::model::printable;
use crate::plan::{plural, AccessRef, Change, LeftAlone, LeftAloneReason, Plan, Request, RowOp};

/// Whether to use colors (see `commands::stdout_style`: `--color`, a terminal,
/// `NO_COLOR`, `CLICOLOR_FORCE`, `TERM=dumb`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// `text` in `style` when colors are on.
    fn paint<T: fmt::Display>(&self, style: anstyle::Style, text: T) -> Painted<T> {
        Painted {
            style: self.color.then_some(style),
            text,
        }
    }
    fn plain<T: fmt::Display>(&self, text: T) -> Painted<T> {
        Painted { style: None, text }
    }
    fn green<T: fmt::Display>(&self, text: T) -> Painted<T> {
        self.paint(AnsiColor::Green.on_default(), text)
    }
    fn yellow<T: fmt::Display>(&self, text: T) -> Painted<T> {
        self.paint(AnsiColor::Yellow.on_default(), text)
    }
    fn red<T: fmt::Display>(&self, text: T) -> Painted<T> {
        self.paint(AnsiColor::Red.on_default(), text)
    }
    fn cyan<T: fmt::Display>(&self, text: T) -> Painted<T> {
        self.paint(AnsiColor::Cyan.on_default(), text)
    }
    fn dim<T: fmt::Display>(&self, text: T) -> Painted<T> {
        self.paint(anstyle::Style::new().dimmed(), text)
    }
    fn bold<T: fmt::Display>(&self, text: T) -> Painted<T> {
        self.paint(anstyle::Style::new().bold(), text)
    }
}

/// Text with a style around it, or none.
struct Painted<T> {
    style: Option<anstyle::Style>,
    text: T,
}

impl<T: fmt::Display> fmt::Display for Painted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.style {
            Some(style) => write!(f, "{style}{}{style:#}", self.text),
            None => self.text.fmt(f),
        }
    }
}

/// The plan's warnings alone, one line each, for formats whose stdout has no room for
/// them (`--format diff` prints them on stderr).
pub fn plan_warnings(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    for warning in &plan.warnings {
        writeln!(out, "warning: {warning}")?;
    }
    Ok(())
}

/// The human-readable plan: per access its operations and the exact request, what is
/// left alone, warnings, and the summary line.
pub fn plan_text(plan: &Plan, out: &mut impl Write, style: Style) -> io::Result<()> {
    writeln!(
        out,
        "{}",
        style.bold(&format!("Plan for Mailtrap account {}", plan.account_id))
    )?;
    for ((access, change), (_, request)) in plan.changes.iter().zip(plan.requests()) {
        writeln!(out)?;
        match change {
            Change::Permissions { operations } => {
                writeln!(out, "{} {access}", style.yellow("~"))?;
                for op in operations {
                    let line = match op {
                        RowOp::Create { resource, to } => {
                            writeln!(
                                out,
                                "    {}",
                                style.green(format_args!("+ {resource}: {to}"))
                            )
                        }
                        RowOp::Update { resource, from, to } => writeln!(
                            out,
                            "    {}",
                            style.yellow(format_args!("~ {resource}: {from} → {to}"))
                        ),
                        RowOp::Destroy { resource, from } => writeln!(
                            out,
                            "    {}",
                            style.red(format_args!("- {resource}: {from} (destroy)"))
                        ),
                    };
                    line?;
                }
            }
            Change::Remove { rows } => {
                writeln!(out, "{} {access}: remove access", style.red("-"))?;
                for row in rows {
                    writeln!(
                        out,
                        "    {}",
                        style.red(format_args!("- {}: {}", row.resource, row.level))
                    )?;
                }
            }
        }
        write_request(out, &request, style)?;
    }

    if !plan.left_alone.is_empty() {
        writeln!(out)?;
        writeln!(out, "Left alone:")?;
        write_left_alone(out, &plan.left_alone, style)?;
    }
    if !plan.warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "Warnings:")?;
        for warning in &plan.warnings {
            writeln!(out, "  {} {warning}", style.yellow("!"))?;
        }
    }
    writeln!(out)?;
    if plan.is_empty() {
        writeln!(
            out,
            "{}",
            style.green("No changes. The account matches the desired state.")
        )
    } else {
        writeln!(out, "{}", style.bold(&format!("Plan: {}.", plan.summary())))
    }
}

fn write_request(out: &mut impl Write, request: &Request, style: Style) -> io::Result<()> {
    match request {
        Request::BulkUpdate { path, body } => {
            let body = serde_json::to_string(body).map_err(io::Error::other)?;
            writeln!(out, "    {}", style.dim(format_args!("PUT {path}")))?;
            writeln!(out, "    {}", style.dim(body))
        }
        Request::DeleteAccess { path } => {
            writeln!(out, "    {}", style.dim(format_args!("DELETE {path}")))
        }
    }
}

/// Accesses not in the file are listed on one line; everything else one line each.
fn write_left_alone(out: &mut impl Write, items: &[LeftAlone], style: Style) -> io::Result<()> {
    let mut not_in_file = Vec::new();
    for item in items {
        if item.reason == LeftAloneReason::NotInFile {
            not_in_file.push(printable(&item.access.label));
        } else {
            writeln!(out, "  {} {}: {}", style.dim("="), item.access, item.reason)?;
        }
    }
    if !not_in_file.is_empty() {
        let noun = plural(not_in_file.len(), "access", "accesses");
        writeln!(
            out,
            "  {} {} {noun} not in the file (unmanaged: ignore): {}",
            style.dim("="),
            not_in_file.len(),
            not_in_file.join(", ")
        )?;
    }
    Ok(())
}

/// One line per request sent, as its result arrives.
pub fn apply_result(
    result: &OperationResult,
    out: &mut impl Write,
    style: Style,
) -> io::Result<()> {
    let what = match &result.request {
        Request::BulkUpdate { body, .. } => {
            let rows = body.permissions.len();
            format!("{rows} {}", plural(rows, "row changed", "rows changed"))
        }
        Request::DeleteAccess { .. } => "access removed".to_string(),
    };
    match &result.outcome {
        Ok(Completion::Done) => writeln!(out, "{} {}: {what}", style.green("✓"), result.access),
        Ok(Completion::AlreadyGone) => writeln!(
            out,
            "{} {}: already removed (404 on DELETE)",
            style.green("✓"),
            result.access
        ),
        Err(err) => writeln!(out, "{} {}: {err}", style.red("✗"), result.access),
    }
}

/// What an apply stopped by `signal` did and did not send: the accesses not sent, one
/// line each, then a last line saying so.
pub fn apply_interrupted(
    plan: &Plan,
    results: &[OperationResult],
    signal: &str,
    out: &mut impl Write,
    style: Style,
) -> io::Result<()> {
    writeln!(out)?;
    let sent: std::collections::BTreeSet<&AccessRef> =
        results.iter().map(|result| &result.access).collect();
    let not_sent: Vec<&AccessRef> = (plan.changes.keys())
        .filter(|access| !sent.contains(access))
        .collect();
    for access in &not_sent {
        writeln!(out, "{} {access}: not sent", style.yellow("-"))?;
    }
    let failed = results
        .iter()
        .filter(|result| result.outcome.is_err())
        .count();
    let line = format!(
        "Apply interrupted by {signal}: {} of {} {} sent ({failed} failed), {} not sent; run apply again to finish.",
        results.len(),
        plan.changes.len(),
        plural(plan.changes.len(), "request", "requests"),
        not_sent.len()
    );
    writeln!(out, "{}", style.red(line))
}

/// The verdict after the read-back: first each access the API acknowledged but did not
/// change, then a last line, green when apply completed, red when it did not.
pub fn apply_summary(
    results: &[OperationResult],
    unconfirmed: &[&AccessRef],
    replanned: &Plan,
    out: &mut impl Write,
    style: Style,
) -> io::Result<()> {
    writeln!(out)?;
    for access in unconfirmed {
        writeln!(
            out,
            "{} {access}: the API answered success, but reading back shows the change was not made",
            style.red("✗")
        )?;
    }
    let failed = results
        .iter()
        .filter(|result| result.outcome.is_err())
        .count();
    let requests = plural(results.len(), "request", "requests");
    if failed == 0 && unconfirmed.is_empty() && replanned.is_empty() {
        let line = format!(
            "Apply complete: {} {requests} sent; read back: the account matches the desired state.",
            results.len()
        );
        writeln!(out, "{}", style.green(line))
    } else {
        let line = format!(
            "Apply incomplete: {failed} of {} {requests} failed; read back: {}.",
            results.len(),
            replanned.summary()
        );
        writeln!(out, "{}", style.red(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiError;
    use crate::apply::{Completion, OperationResult};

    use crate::model::SpecifierKind;

    fn result(outcome: Result<Completion, ApiError>) -> OperationResult {
        OperationResult {
            access: AccessRef {
                label: "bob@acme.com".to_string(),
                kind: SpecifierKind::User,
                id: 4001,
            },
            request: Request::DeleteAccess {
                path: "/api/accounts/1111111/account_accesses/4001".to_string(),
            },
            outcome,
        }
    }

    fn summary(results: &[OperationResult]) -> String {
        let converged = Plan {
            account_id: 1111111,
            dialect: Default::default(),
            changes: Default::default(),
            left_alone: Vec::new(),
            warnings: Vec::new(),
        };
        let mut out = Vec::new();
        apply_summary(results, &[], &converged, &mut out, Style::default()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_last_line_says_whether_apply_completed() {
        let failed = result(Err(ApiError::Server {
            request: "DELETE /api/accounts/1111111/account_accesses/4001".to_string(),
            status: 500,
            detail: "Internal Server Error".to_string(),
        }));
        let text = summary(&[failed]);
        assert!(
            text.ends_with(
                "Apply incomplete: 1 of 1 request failed; read back: 0 to create, 0 to update, 0 to destroy, 0 accesses to remove.\n"
            ),
            "{text}"
        );
        assert_eq!(
            summary(&[result(Ok(Completion::Done))]),
            "\nApply complete: 1 request sent; read back: the account matches the desired state.\n"
        );
    }
}
