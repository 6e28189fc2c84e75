//! Renderers: a plan (or an apply report) in, text on a `Write` out. The only code
//! besides `main.rs` that produces user-facing output; it never touches the network or
//! the file system. The text format is here; the other plan formats (`--format json`,
//! `markdown`, `diff`), saved plans and apply's progress line are in the submodules.

pub mod diff;
pub mod json;
pub mod markdown;
pub mod progress;
pub mod saved;

use std::fmt;
use std::io::{self, Write};

pub use diff::plan_diff;
pub use json::plan_json;
pub use markdown::plan_markdown;

use crate::apply::{Completion, OperationResult};
use crate::model::level_code_name;
use crate::plan::{AccessRef, Change, LeftAlone, LeftAloneReason, Plan, Request, RowOp};

/// Whether to use ANSI colors (a terminal, and the user did not opt out).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// `text`, in color when colors are on. Written straight into the output: a plan
    /// for ten thousand people has fifty thousand lines, each built once.
    fn paint<T: fmt::Display>(&self, code: &'static str, text: T) -> Painted<T> {
        Painted {
            code: self.color.then_some(code),
            text,
        }
    }
    fn plain<T: fmt::Display>(&self, text: T) -> Painted<T> {
        Painted { code: None, text }
    }
    fn green<T: fmt::Display>(&self, text: T) -> Painted<T> {
        self.paint("32", text)
    }
    fn yellow<T: fmt::Display>(&self, text: T) -> Painted<T> {
        self.paint("33", text)
    }
    fn red<T: fmt::Display>(&self, text: T) -> Painted<T> {
        self.paint("31", text)
    }
    fn dim<T: fmt::Display>(&self, text: T) -> Painted<T> {
        self.paint(DIM, text)
    }

    /// What `write` writes, in color when colors are on: for output serialized straight
    /// into `out` rather than formatted.
    fn paint_with<W: Write>(
        &self,
        code: &str,
        out: &mut W,
        write: impl FnOnce(&mut W) -> io::Result<()>,
    ) -> io::Result<()> {
        if !self.color {
            return write(out);
        }
        write!(out, "\x1b[{code}m")?;
        write(out)?;
        write!(out, "{RESET}")
    }
    fn bold<T: fmt::Display>(&self, text: T) -> Painted<T> {
        self.paint("1", text)
    }
    fn cyan<T: fmt::Display>(&self, text: T) -> Painted<T> {
        self.paint("36", text)
    }
}

const DIM: &str = "2";
const RESET: &str = "\x1b[0m";

/// Text with an ANSI color code around it, or none.
struct Painted<T> {
    code: Option<&'static str>,
    text: T,
}

impl<T: fmt::Display> fmt::Display for Painted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "\x1b[{code}m{}{RESET}", self.text),
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
            Change::Permissions(ops) => {
                writeln!(out, "{} {access}", style.yellow("~"))?;
                for op in ops {
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
                        style.red(&format!(
                            "- {}: {}",
                            row.resource,
                            level_code_name(row.level)
                        ))
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
            // Written piece by piece: this line and the body are most of a big plan.
            out.write_all(b"    ")?;
            style.paint_with(DIM, out, |out| {
                out.write_all(b"PUT ")?;
                out.write_all(path.as_bytes())
            })?;
            out.write_all(b"\n")?;
            // The body exactly as apply serializes it, straight into the output.
            write!(out, "    ")?;
            style.paint_with(DIM, out, |out| {
                serde_json::to_writer(&mut *out, body).map_err(io::Error::other)
            })?;
            writeln!(out)
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
            not_in_file.push(item.access.label.as_str());
        } else {
            writeln!(out, "  {} {}: {}", style.dim("="), item.access, item.reason)?;
        }
    }
    if !not_in_file.is_empty() {
        let noun = if not_in_file.len() == 1 {
            "access"
        } else {
            "accesses"
        };
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
        Request::BulkUpdate { body, .. } => format!("{} row changes", body.permissions.len()),
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

/// Accesses the API acknowledged but did not change, one line each, after a blank line.
fn write_unconfirmed(
    unconfirmed: &[&AccessRef],
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
    Ok(())
}

/// The verdict after the read-back.
pub fn apply_summary(
    results: &[OperationResult],
    unconfirmed: &[&AccessRef],
    replanned: &Plan,
    out: &mut impl Write,
    style: Style,
) -> io::Result<()> {
    let failed = results
        .iter()
        .filter(|result| result.outcome.is_err())
        .count();
    write_unconfirmed(unconfirmed, out, style)?;
    let verdict = if failed == 0 && unconfirmed.is_empty() && replanned.is_empty() {
        Ok(format!(
            "Apply complete: {} requests sent; read back: the account matches the desired state.",
            results.len()
        ))
    } else {
        Err(format!(
            "Apply incomplete: {failed} of {} requests failed; read back: {}.",
            results.len(),
            replanned.summary()
        ))
    };
    write_verdict(verdict, out, style)
}

/// The last line of an apply: green when it completed, red when it did not.
fn write_verdict(
    verdict: Result<String, String>,
    out: &mut impl Write,
    style: Style,
) -> io::Result<()> {
    match verdict {
        Ok(line) => writeln!(out, "{}", style.green(&line)),
        Err(line) => writeln!(out, "{}", style.red(&line)),
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
                "Apply incomplete: 1 of 1 requests failed; read back: 0 to create, 0 to update, 0 to destroy, 0 accesses to remove.\n"
            ),
            "{text}"
        );
        assert_eq!(
            summary(&[result(Ok(Completion::Done))]),
            "\nApply complete: 1 requests sent; read back: the account matches the desired state.\n"
        );
    }
}
