//! Saved plans as people see them: the notice after `plan --out`, the plan `apply PLAN`
//! is about to send, and the verdict after its read-back.

use std::io::{self, Write};
use std::path::Path;

use crate::apply::OperationResult;
use crate::plan::AccessRef;
use crate::saved_plan::{SavedPlan, SavedRequest};

use super::Style;

/// After `plan --out PATH` (on stderr: stdout holds the plan itself).
pub fn saved_notice(path: &Path, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "Saved the plan to {0}. Apply exactly these changes with `mailtrap-access apply {0}`; it refuses if the account changes in between.",
        path.display()
    )
}

/// What `apply PLAN` will send: each access's operations and its request, verbatim.
pub fn saved_plan_text(
    saved: &SavedPlan,
    requests: &[SavedRequest],
    path: &str,
    out: &mut impl Write,
    style: Style,
) -> io::Result<()> {
    let plan = &saved.plan;
    writeln!(
        out,
        "{}",
        style.bold(&format!(
            "Saved plan {path} for Mailtrap account {}",
            plan.account_id
        ))
    )?;
    writeln!(
        out,
        "{}",
        style.dim(&format!(
            "planned from {} (sha256 {}); the account is unchanged since",
            saved.fingerprint.desired_file.path, saved.fingerprint.desired_file.sha256
        ))
    )?;
    for (entry, saved_request) in plan.accesses.iter().zip(requests) {
        writeln!(out)?;
        let access = &saved_request.access;
        if entry.action == "remove_access" {
            writeln!(out, "{} {access}: remove access", style.red("-"))?;
        } else {
            writeln!(out, "{} {access}", style.yellow("~"))?;
        }
        for op in &entry.operations {
            let kind = crate::model::ResourceType::from_api(&op.resource.kind);
            let noun = crate::resolve::noun(&kind);
            let resource = match &op.resource.name {
                Some(name) => format!("{noun} {name:?} (id {})", op.resource.id),
                None => format!("{noun} id {}", op.resource.id),
            };
            let level = |level: &Option<crate::render::json::LevelView>| {
                level.as_ref().map(ToString::to_string).unwrap_or_default()
            };
            let line = match op.operation.as_str() {
                "create" => style.green(format!("+ {resource}: {}", level(&op.to))),
                "update" => style.yellow(format!(
                    "~ {resource}: {} → {}",
                    level(&op.from),
                    level(&op.to)
                )),
                "destroy" => style.red(format!("- {resource}: {} (destroy)", level(&op.from))),
                _ => style.red(format!("- {resource}: {}", level(&op.from))),
            };
            writeln!(out, "    {line}")?;
        }
        super::write_request(out, &saved_request.request, style)?;
    }
    writeln!(out)?;
    if requests.is_empty() {
        writeln!(out, "{}", style.green("No changes in the saved plan."))
    } else {
        writeln!(
            out,
            "{}",
            style.bold(&format!("Saved plan: {}.", plan.summary))
        )
    }
}

/// The verdict after the read-back of a saved plan's apply.
pub fn saved_apply_summary(
    results: &[OperationResult],
    unconfirmed: &[&AccessRef],
    out: &mut impl Write,
    style: Style,
) -> io::Result<()> {
    let failed = results.iter().filter(|r| r.outcome.is_err()).count();
    super::write_unconfirmed(unconfirmed, out, style)?;
    let verdict = if failed == 0 && unconfirmed.is_empty() {
        Ok(format!(
            "Apply complete: {} requests sent; read back: every change of the saved plan is in place.",
            results.len()
        ))
    } else {
        Err(format!(
            "Apply incomplete: {failed} of {} requests failed, {} acknowledged but not performed.",
            results.len(),
            unconfirmed.len()
        ))
    };
    super::write_verdict(verdict, out, style)
}
