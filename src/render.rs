//! Renderers: a plan (or an apply report) in, text on a `Write` out. The only code
//! besides `main.rs` that produces user-facing output; it never touches the network or
//! the file system. The text format is here; the other plan formats (`--format json`,
//! `markdown`, `diff`), saved plans and apply's progress line are in the submodules.

pub mod check;
pub mod json;
pub mod markdown;
pub(crate) mod progress;
pub mod report;
pub mod yaml_diff;

use std::fmt;
use std::io::{self, Write};

use anstyle::AnsiColor;

pub use json::plan_json;
pub use markdown::plan_markdown;
pub use yaml_diff::plan_diff;

use crate::apply::{Completion, OperationResult, Subject};
use crate::model::printable;
use crate::plan::{
    plural, Change, LeftAlone, LeftAloneReason, Plan, Request, RowOp, TokenChange, TokenSpec,
};

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
    if let Some(partial) = partial(plan) {
        writeln!(out, "note: {partial}")?;
    }
    for violation in &plan.policy_violations {
        writeln!(out, "policy: {}", policy_line(violation, Style::default()))?;
    }
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
    if let Some(partial) = partial(plan) {
        writeln!(out, "{}", style.yellow(partial))?;
    }
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
    for (name, change, requests) in plan.token_requests() {
        writeln!(out)?;
        write_token_change(out, name, change, style)?;
        for request in &requests {
            write_request(out, request, style)?;
        }
    }

    if !plan.left_alone.is_empty() || !plan.tokens_left_alone.is_empty() {
        writeln!(out)?;
        writeln!(out, "Left alone:")?;
        write_left_alone(out, &plan.left_alone, style)?;
        for item in &plan.tokens_left_alone {
            writeln!(out, "  {} {item}", style.dim("="))?;
        }
    }
    if !plan.warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "Warnings:")?;
        for warning in &plan.warnings {
            writeln!(out, "  {} {warning}", style.yellow("!"))?;
        }
    }
    if !plan.policy_violations.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Policy violations (as the account will be after apply):"
        )?;
        for violation in &plan.policy_violations {
            writeln!(out, "  {}", policy_line(violation, style))?;
        }
    }
    writeln!(out)?;
    if plan.is_empty() {
        writeln!(
            out,
            "{}",
            style.green(format!("No changes. {}", matches(plan)))
        )
    } else {
        writeln!(out, "{}", style.bold(&format!("Plan: {}.", plan.summary())))
    }
}

/// `The account matches the desired state.`, or for a partial plan, `The targets
/// match...`: nothing is known of the rest.
pub(crate) fn matches(plan: &Plan) -> &'static str {
    if plan.targets.is_empty() {
        "The account matches the desired state."
    } else {
        "The targets match the desired state."
    }
}

/// One violation: new ones (which apply refuses) in red, those the account has now in
/// yellow.
fn policy_line(violation: &crate::policy::Violation, style: Style) -> String {
    let text = format!(
        "{} {}: {}",
        violation.rule,
        printable(&violation.subject),
        printable(&violation.message)
    );
    if violation.new {
        style.red(format!("✗ new: {text}")).to_string()
    } else {
        style.yellow(format!("! already now: {text}")).to_string()
    }
}

/// For a plan restricted by `--target`, the sentence that says so.
pub(crate) fn partial(plan: &Plan) -> Option<String> {
    if plan.targets.is_empty() {
        return None;
    }
    let targets: Vec<String> = (plan.targets.iter())
        .map(|target| format!("{:?}", printable(target)))
        .collect();
    Some(format!(
        "Partial plan (--target): only {}; the rest of the account is neither shown as changing nor touched.",
        targets.join(", ")
    ))
}

fn write_request(out: &mut impl Write, request: &Request, style: Style) -> io::Result<()> {
    writeln!(out, "    {}", style.dim(request.describe()))?;
    if let Some(body) = request.body_json() {
        writeln!(out, "    {}", style.dim(String::from_utf8_lossy(&body)))?;
    }
    Ok(())
}

/// One token change: `+` create, `-/+` replace, `-` delete, `~` reset or update, with
/// its rows and expiry.
fn write_token_change(
    out: &mut impl Write,
    name: &str,
    change: &TokenChange,
    style: Style,
) -> io::Result<()> {
    let name = printable(name);
    let id = change
        .token_id()
        .map_or(String::new(), |id| format!(" (id {id})"));
    let rows = |out: &mut dyn Write, spec: &TokenSpec, sign: &str| -> io::Result<()> {
        for row in &spec.resources {
            writeln!(out, "    {sign} {}: {}", row.resource, row.level)?;
        }
        let expiry = spec
            .expires_at
            .map_or("the service's default".to_string(), |e| e.to_string());
        writeln!(out, "    {sign} expires: {expiry}")
    };
    match change {
        TokenChange::CreateToken { to } => {
            writeln!(out, "{} API token {name:?}: create", style.green("+"))?;
            let mut text = Vec::new();
            rows(&mut text, to, "+")?;
            write!(out, "{}", style.green(String::from_utf8_lossy(&text)))
        }
        TokenChange::ReplaceToken { from, to, .. } => {
            writeln!(
                out,
                "{} API token {name:?}{id}: replace (a new token and secret; the old one is deleted)",
                style.red("-/+")
            )?;
            let (mut old, mut new) = (Vec::new(), Vec::new());
            rows(&mut old, from, "-")?;
            rows(&mut new, to, "+")?;
            write!(out, "{}", style.red(String::from_utf8_lossy(&old)))?;
            write!(out, "{}", style.green(String::from_utf8_lossy(&new)))
        }
        TokenChange::DeleteToken { from, .. } => {
            writeln!(out, "{} API token {name:?}{id}: delete", style.red("-"))?;
            let mut text = Vec::new();
            rows(&mut text, from, "-")?;
            write!(out, "{}", style.red(String::from_utf8_lossy(&text)))
        }
        TokenChange::ResetToken { .. } => writeln!(
            out,
            "{} API token {name:?}{id}: reset (a new id and secret, the same permissions)",
            style.yellow("~")
        ),
        TokenChange::UpdateTokenPermissions { operations, .. } => {
            writeln!(
                out,
                "{} API token {name:?}{id}: update its permissions in place (the secret is kept)",
                style.yellow("~")
            )?;
            for op in operations {
                let line = match op {
                    RowOp::Create { resource, to } => style.green(format!("+ {resource}: {to}")),
                    RowOp::Update { resource, from, to } => {
                        style.yellow(format!("~ {resource}: {from} → {to}"))
                    }
                    RowOp::Destroy { resource, from } => {
                        style.red(format!("- {resource}: {from} (destroy)"))
                    }
                };
                writeln!(out, "    {line}")?;
            }
            Ok(())
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

/// `explain` as text: one block per resource, then the notes.
pub fn explain_text(
    explanation: &crate::explain::Explanation,
    out: &mut impl Write,
) -> io::Result<()> {
    let kind = if explanation.kind == "person" {
        ""
    } else {
        "API token "
    };
    let against = if explanation.live {
        "the file and the live account"
    } else {
        "the file alone (--offline)"
    };
    writeln!(
        out,
        "{kind}{:?}, from {against}:",
        printable(&explanation.subject)
    )?;
    if explanation.resources.is_empty() {
        writeln!(out, "  no access, now or planned")?;
    }
    let level =
        |code: Option<crate::model::LevelCode>| code.map_or("none".to_string(), |c| c.to_string());
    for resource in &explanation.resources {
        let id = resource
            .id
            .map_or(String::new(), |id| format!(" (id {id})"));
        let noun = crate::model::ResourceType::from_api(&resource.kind);
        writeln!(out)?;
        if resource.name == noun.noun() {
            // A type granted by one level, named offline by its type alone.
            writeln!(out, "  {}{id}", noun.noun())?;
        } else {
            writeln!(out, "  {} {:?}{id}", noun.noun(), printable(&resource.name))?;
        }
        match resource.desired {
            Some(desired) => writeln!(out, "    wanted:    {desired}")?,
            None => writeln!(out, "    wanted:    none (not in the file's grants)")?,
        }
        for source in &resource.sources {
            let line = source
                .line
                .map_or(String::new(), |line| format!(" at line {line}"));
            writeln!(out, "      {} {}{line}", source.level, source.via)?;
        }
        if resource.sources.len() > 1 {
            writeln!(out, "      the higher of them wins")?;
        }
        if explanation.live {
            writeln!(out, "    live:      {}", level(resource.live))?;
        }
        let inherited = (resource.inherited_from.as_ref())
            .map_or(String::new(), |from| format!(", inherited from {from}"));
        writeln!(
            out,
            "    effective: {}{inherited}",
            level(resource.effective)
        )?;
        writeln!(out, "    plan:      {}", resource.plan)?;
    }
    if !explanation.notes.is_empty() {
        writeln!(out)?;
        for note in &explanation.notes {
            writeln!(out, "  note: {}", printable(note))?;
        }
    }
    Ok(())
}

/// One line per request sent, as its result arrives.
pub fn apply_result(
    result: &OperationResult,
    out: &mut impl Write,
    style: Style,
) -> io::Result<()> {
    let what = match (&result.request, &result.subject) {
        (Request::BulkUpdate { body, .. }, _) => {
            let rows = body.permissions.len();
            format!("{rows} {}", plural(rows, "row changed", "rows changed"))
        }
        (Request::Delete { .. }, Subject::Access(_)) => "access removed".to_string(),
        (Request::Delete { .. }, Subject::Token(_)) => "token deleted".to_string(),
        (Request::Post { path, .. }, _) if path.ends_with("/reset") => "token reset".to_string(),
        (Request::Post { .. }, _) => "token created".to_string(),
    };
    let subject = &result.subject;
    match &result.outcome {
        Ok(Completion::Done) => writeln!(out, "{} {subject}: {what}", style.green("✓")),
        Ok(Completion::AlreadyGone) => writeln!(
            out,
            "{} {subject}: already gone (404 on DELETE)",
            style.green("✓"),
        ),
        Ok(Completion::TokenCreated { id }) => writeln!(
            out,
            "{} {subject}: {what}{}; its secret is in the new-tokens file",
            style.green("✓"),
            id.map_or(String::new(), |id| format!(" (id {id})"))
        ),
        Ok(Completion::SecretMissing { id, replacing }) => {
            let name = token_name(subject);
            let id_text = id.map_or(String::new(), |id| format!(" (id {id})"));
            let recover = match (replacing, id) {
                (Some(old), Some(id)) => format!("the old token {old} is kept and still works; delete the new token {id} in Mailtrap, then run apply again"),
                (Some(old), None) => format!("the old token {old} is kept and still works; delete the new one in Mailtrap, then run apply again"),
                (None, _) => format!("run `apply --reset-token {name:?}` to get a new one"),
            };
            writeln!(
                out,
                "{} {subject}: {what}{id_text}, but the answer held no secret: the token exists and nobody has its secret; {recover}",
                style.red("✗"),
            )
        }
        // A POST whose answer was lost may have been carried out: it is not retried, and
        // the token may exist without anyone holding its secret.
        Err(err) if matches!(result.request, Request::Post { .. }) && !refused(err) => writeln!(
            out,
            "{} {subject}: {err}. The token may have been made all the same, and nobody has its secret: run plan; if it shows the token as it should be, run `apply --reset-token {:?}`, and if it shows two tokens of that name, delete the newer one in Mailtrap",
            style.red("✗"),
            token_name(subject)
        ),
        Err(err) => writeln!(out, "{} {subject}: {err}", style.red("✗")),
    }
}

/// An API token's name as the user wrote it, for a command to copy.
fn token_name(subject: &Subject) -> String {
    match subject {
        Subject::Token(name) => printable(name).into_owned(),
        Subject::Access(access) => printable(&access.label).into_owned(),
    }
}

/// Whether the API answered that it did not do it (as opposed to no answer, or a
/// server error that may have come after the work was done).
fn refused(err: &crate::api::ApiError) -> bool {
    matches!(err, crate::api::ApiError::Connect { .. })
        || matches!(err.status(), Some(status) if status < 500)
}

/// Replacements that stopped after creating the new token: the old one is still there,
/// and with it two tokens of one name, which no plan changes.
pub fn apply_unfinished_replacements(
    unfinished: &[(&String, u64)],
    out: &mut impl Write,
    style: Style,
) -> io::Result<()> {
    for (name, old) in unfinished {
        writeln!(
            out,
            "{} API token {:?}: the new token was created, but the old token {old} was not deleted. The account now has two tokens of that name, which plan leaves alone: delete token {old} in Mailtrap once everything uses the new secret.",
            style.red("!"),
            printable(name)
        )?;
    }
    Ok(())
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
    let sent: std::collections::BTreeSet<&Subject> =
        results.iter().map(|result| &result.subject).collect();
    let planned: Vec<Subject> = (plan.changes.keys().cloned().map(Subject::Access))
        .chain(plan.tokens.keys().cloned().map(Subject::Token))
        .collect();
    let not_sent: Vec<&Subject> = (planned.iter())
        .filter(|subject| !sent.contains(subject))
        .collect();
    for subject in &not_sent {
        writeln!(out, "{} {subject}: not sent", style.yellow("-"))?;
    }
    let failed = results.iter().filter(|result| result.failed()).count();
    let total = plan.changes.len()
        + (plan.token_requests())
            .map(|(_, _, requests)| requests.len())
            .sum::<usize>();
    let line = format!(
        "Apply interrupted by {signal}: {} of {total} {} sent ({failed} failed), {} not sent; run apply again to finish.",
        results.len(),
        plural(total, "request", "requests"),
        not_sent.len()
    );
    writeln!(out, "{}", style.red(line))
}

/// The verdict after the read-back: first each access the API acknowledged but did not
/// change, then a last line, green when apply completed, red when it did not.
pub fn apply_summary(
    results: &[OperationResult],
    unconfirmed: &[&Subject],
    replanned: &Plan,
    out: &mut impl Write,
    style: Style,
) -> io::Result<()> {
    writeln!(out)?;
    for subject in unconfirmed {
        writeln!(
            out,
            "{} {subject}: the API answered success, but reading back shows the change was not made",
            style.red("✗")
        )?;
    }
    let failed = results.iter().filter(|result| result.failed()).count();
    let requests = plural(results.len(), "request", "requests");
    if failed == 0 && unconfirmed.is_empty() && replanned.is_empty() {
        let line = format!(
            "Apply complete: {} {requests} sent; read back: {}",
            results.len(),
            matches(replanned).to_lowercase()
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
            subject: Subject::Access(crate::plan::AccessRef {
                label: "bob@acme.com".to_string(),
                kind: SpecifierKind::User,
                id: 4001,
            }),
            request: Request::Delete {
                path: "/api/accounts/1111111/account_accesses/4001".to_string(),
            },
            outcome,
        }
    }

    fn summary(results: &[OperationResult]) -> String {
        let converged = Plan::new(1111111, Default::default());
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
