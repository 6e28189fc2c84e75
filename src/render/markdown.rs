//! The plan as Markdown for a pull-request comment (`plan --format markdown`): a hidden
//! marker on the first line (so a CI step finds and updates its own comment), the summary,
//! the safety rails apply will refuse it by (reviewers should learn that on the pull
//! request, not at merge), a prominent warning when anything is destroyed or removed, one
//! table per changed access, and the long detail collapsed. Always under [`MAX_CHARS`]: whole sections are
//! cut, and a note says what was left out.

use std::io::{self, Write};

use crate::plan::{plural, Change, LeftAloneReason, Plan, Request, RowOp, TokenChange, TokenSpec};
use crate::rails::Refusal;

/// The first line of every comment; CI steps search for it.
pub const MARKER: &str = "<!-- mailtrap-access-plan -->";

/// GitHub refuses comments over 65,536 characters; stay well under.
pub const MAX_CHARS: usize = 60_000;

/// Lines of a list in the head (rails, policy violations) before the rest is counted.
const HEAD_LIST_LIMIT: usize = 20;

/// Room kept for the note that says what was cut.
const NOTE_RESERVE: usize = 600;

/// `plan --format markdown`; `refusals` are the rails the plan breaks.
pub fn plan_markdown(plan: &Plan, refusals: &[Refusal], out: &mut impl Write) -> io::Result<()> {
    out.write_all(markdown(plan, refusals, MAX_CHARS).as_bytes())
}

/// The comment, at most `limit` characters (for any limit above [`NOTE_RESERVE`] plus
/// the head's few hundred).
pub fn markdown(plan: &Plan, refusals: &[Refusal], limit: usize) -> String {
    // Sections in document order; `None` once cut.
    let head = head(plan, refusals);
    // Tokens are few; their table is never cut.
    let head = head + &tokens_section(plan).unwrap_or_default();
    let mut warnings = warnings(plan);
    let mut accesses: Vec<Option<String>> = plan
        .changes
        .iter()
        .map(|(access, change)| Some(access_section(&access.to_string(), change)))
        .collect();
    let mut left_alone = left_alone(plan);
    let mut requests = requests(plan);

    let length = |section: &Option<String>| section.as_ref().map_or(0, |s| s.chars().count());
    let mut total = head.chars().count()
        + length(&warnings)
        + accesses.iter().map(length).sum::<usize>()
        + length(&left_alone)
        + length(&requests);
    let mut cut = Vec::new();
    if total > limit {
        // Cut whole sections until the rest and the note fit: the request bodies first,
        // then the left-alone list, then accesses from the last, then the warnings, and
        // the first access last of all. The head always stays.
        let budget = limit.saturating_sub(NOTE_RESERVE);
        if requests.is_some() {
            total -= length(&requests);
            requests = None;
            cut.push(format!(
                "the request bodies of the {} changed {}",
                plan.changes.len(),
                plural(plan.changes.len(), "access", "accesses")
            ));
        }
        if total > budget && left_alone.is_some() {
            total -= length(&left_alone);
            left_alone = None;
            cut.push(format!(
                "the list of {} {} left alone",
                plan.left_alone.len(),
                plural(plan.left_alone.len(), "item", "items")
            ));
        }
        let mut dropped = 0;
        for section in accesses.iter_mut().skip(1).rev() {
            if total <= budget {
                break;
            }
            total -= length(section);
            *section = None;
            dropped += 1;
        }
        if total > budget && warnings.is_some() {
            total -= length(&warnings);
            warnings = None;
            cut.push(format!(
                "the {} {}",
                plan.warnings.len(),
                plural(plan.warnings.len(), "warning", "warnings")
            ));
        }
        if total > budget {
            if let Some(first) = accesses.first_mut() {
                total -= length(first);
                *first = None;
                dropped += 1;
            }
        }
        if dropped > 0 {
            let shown = match accesses.len() - dropped {
                0 => "none is shown".to_string(),
                1 => "the first in alphabetical order is shown".to_string(),
                many => format!("the first {many} in alphabetical order are shown"),
            };
            cut.push(format!(
                "{dropped} of {} changed accesses ({shown})",
                accesses.len()
            ));
        }
    }

    let mut text = head;
    for section in std::iter::once(warnings)
        .chain(accesses)
        .chain([left_alone, requests])
        .flatten()
    {
        text.push_str(&section);
    }
    if !cut.is_empty() {
        text.push_str(&format!(
            "\n> [!NOTE]\n> Shortened to stay under {limit} characters. Left out: {}. \
             Run `mailtrap-access plan` (or `--format json`) for the whole plan.\n",
            cut.join("; ")
        ));
    }
    debug_assert!(cut.is_empty() || total <= limit.saturating_sub(NOTE_RESERVE));
    text
}

fn head(plan: &Plan, refusals: &[Refusal]) -> String {
    let mut text = format!(
        "{MARKER}\n### mailtrap-access plan for account {}\n\n",
        plan.account_id
    );
    if let Some(partial) = super::partial(plan) {
        text.push_str(&format!("> [!NOTE]\n> {}\n\n", inline(&partial)));
    }
    let summary = plan.summary();
    if plan.is_empty() {
        text.push_str(&format!("**No changes.** {}\n", super::matches(plan)));
    } else {
        text.push_str(&format!("**Plan: {summary}.**\n"));
    }
    if summary.destroy > 0 || summary.remove > 0 {
        let mut what = Vec::new();
        if summary.destroy > 0 {
            what.push(format!(
                "destroys {} permission {}",
                summary.destroy,
                plural(summary.destroy, "row", "rows")
            ));
        }
        if summary.remove > 0 {
            what.push(format!(
                "removes {} {}",
                summary.remove,
                plural(summary.remove, "access", "accesses")
            ));
        }
        text.push_str(&format!(
            "\n> [!WARNING]\n> This plan {}. Check below that this is intended before merging.\n",
            what.join(" and ")
        ));
    }
    let tokens = summary.tokens;
    if tokens.replace > 0 || tokens.delete > 0 {
        let mut what = Vec::new();
        if tokens.replace > 0 {
            what.push(format!(
                "replaces {} API {} (whatever uses the old {} stops working)",
                tokens.replace,
                plural(tokens.replace, "token", "tokens"),
                plural(tokens.replace, "secret", "secrets"),
            ));
        }
        if tokens.delete > 0 {
            what.push(format!(
                "deletes {} API {}",
                tokens.delete,
                plural(tokens.delete, "token", "tokens")
            ));
        }
        text.push_str(&format!(
            "\n> [!WARNING]\n> This plan {}. Check the tokens below before merging.\n",
            what.join(" and ")
        ));
    }
    // The head is never cut, so its lists are: a few lines each, then a count.
    let listed = |text: &mut String, lines: Vec<String>| {
        for line in lines.iter().take(HEAD_LIST_LIMIT) {
            text.push_str(&format!("> - {line}\n"));
        }
        if lines.len() > HEAD_LIST_LIMIT {
            text.push_str(&format!(
                "> - and {} more (see `plan --format json`)\n",
                lines.len() - HEAD_LIST_LIMIT
            ));
        }
    };
    if !refusals.is_empty() {
        text.push_str("\n> [!CAUTION]\n> `apply` will refuse this plan:\n");
        let lines = refusals.iter().map(|r| inline(&r.to_string())).collect();
        listed(&mut text, lines);
    }
    let standing: Vec<String> = (plan.policy_violations.iter())
        .filter(|v| !v.new)
        .map(|v| {
            let (rule, subject) = (inline(&v.rule), inline(&v.subject));
            format!("{rule} {subject}: {}", inline(&v.message))
        })
        .collect();
    if !standing.is_empty() {
        text.push_str(
            "\n> [!CAUTION]\n> Policy violations the account has now, and keeps after this plan:\n",
        );
        listed(&mut text, standing);
    }
    text
}

fn warnings(plan: &Plan) -> Option<String> {
    if plan.warnings.is_empty() {
        return None;
    }
    let mut text = String::from("\n#### Warnings\n\n");
    for warning in &plan.warnings {
        text.push_str(&format!("- {}\n", inline(&warning.to_string())));
    }
    Some(text)
}

/// One table of every token change: what happens, the rows and the expiry it leaves.
fn tokens_section(plan: &Plan) -> Option<String> {
    if plan.tokens.is_empty() {
        return None;
    }
    let mut text = String::from(
        "\n#### API tokens\n\n| action | token | id | permissions | expires |\n| --- | --- | --- | --- | --- |\n",
    );
    let rows = |spec: &TokenSpec| -> String {
        let rows: Vec<String> = (spec.resources.iter())
            .map(|row| inline(&format!("{}: {}", row.resource, row.level)))
            .collect();
        rows.join("<br>")
    };
    let expiry = |spec: &TokenSpec| {
        spec.expires_at
            .map_or("the service's default".to_string(), |e| e.to_string())
    };
    for (name, change) in &plan.tokens {
        let id = change.token_id().map_or(String::new(), |id| id.to_string());
        let (action, permissions, expires) = match change {
            TokenChange::CreateToken { to } => ("create".to_string(), rows(to), expiry(to)),
            TokenChange::ReplaceToken { from, to, .. } => (
                "**replace**".to_string(),
                format!("{} → {}", rows(from), rows(to)),
                format!("{} → {}", expiry(from), expiry(to)),
            ),
            TokenChange::DeleteToken { from, .. } => {
                ("**delete**".to_string(), rows(from), expiry(from))
            }
            TokenChange::ResetToken { from, .. } => ("reset".to_string(), rows(from), expiry(from)),
            TokenChange::UpdateTokenPermissions { operations, .. } => {
                let ops: Vec<String> = (operations.iter())
                    .map(|op| {
                        inline(&match op {
                            RowOp::Create { resource, to } => format!("+ {resource}: {to}"),
                            RowOp::Update { resource, from, to } => {
                                format!("{resource}: {from} → {to}")
                            }
                            RowOp::Destroy { resource, from } => format!("- {resource}: {from}"),
                        })
                    })
                    .collect();
                (
                    "update in place".to_string(),
                    ops.join("<br>"),
                    String::new(),
                )
            }
        };
        text.push_str(&format!(
            "| {action} | {} | {id} | {permissions} | {expires} |\n",
            cell(name)
        ));
    }
    Some(text)
}

fn access_section(access: &str, change: &Change) -> String {
    let mut text = format!("\n#### {}\n\n", inline(access));
    text.push_str("| operation | resource | id | from | to |\n| --- | --- | --- | --- | --- |\n");
    let row = |operation: &str, resource: &crate::plan::ResourceRef, from: &str, to: &str| {
        let name = match &resource.name {
            Some(name) => format!("{} {}", resource.key.kind.noun(), cell(name)),
            None => resource.key.kind.noun().to_string(),
        };
        format!(
            "| {operation} | {name} | {} | {from} | {to} |\n",
            resource.key.id
        )
    };
    match change {
        Change::Permissions { operations } => {
            for op in operations {
                text.push_str(&match op {
                    RowOp::Create { resource, to } => row("create", resource, "", to.name()),
                    RowOp::Update { resource, from, to } => {
                        row("update", resource, from.name(), to.name())
                    }
                    RowOp::Destroy { resource, from } => {
                        row("**destroy**", resource, from.name(), "")
                    }
                });
            }
        }
        Change::Remove { rows } => {
            for held in rows {
                text.push_str(&row(
                    "**remove**",
                    &held.resource,
                    &inline(&held.level.to_string()),
                    "",
                ));
            }
            if rows.is_empty() {
                text.push_str("| **remove** | the whole access (it holds no rows) | | | |\n");
            }
        }
    }
    text
}

fn left_alone(plan: &Plan) -> Option<String> {
    if plan.left_alone.is_empty() && plan.tokens_left_alone.is_empty() {
        return None;
    }
    let mut text = format!(
        "\n<details><summary>Left alone ({})</summary>\n\n",
        plan.left_alone.len() + plan.tokens_left_alone.len()
    );
    for item in &plan.tokens_left_alone {
        text.push_str(&format!("- {}\n", inline(&item.to_string())));
    }
    let mut not_in_file = Vec::new();
    for item in &plan.left_alone {
        if item.reason == LeftAloneReason::NotInFile {
            not_in_file.push(inline(&item.access.label));
        } else {
            text.push_str(&format!(
                "- {}: {}\n",
                inline(&item.access.to_string()),
                inline(&item.reason.to_string())
            ));
        }
    }
    if !not_in_file.is_empty() {
        text.push_str(&format!(
            "- {} {} not in the file (unmanaged: ignore): {}\n",
            not_in_file.len(),
            plural(not_in_file.len(), "access", "accesses"),
            not_in_file.join(", ")
        ));
    }
    text.push_str("\n</details>\n");
    Some(text)
}

fn requests(plan: &Plan) -> Option<String> {
    if plan.is_empty() {
        return None;
    }
    let requests: Vec<Request> = (plan.requests().map(|(_, request)| request))
        .chain(plan.token_requests().flat_map(|(_, _, requests)| requests))
        .collect();
    let mut text = format!(
        "\n<details><summary>Requests apply will send ({})</summary>\n\n```\n",
        requests.len()
    );
    for request in &requests {
        text.push_str(&request.describe());
        text.push('\n');
        if let Some(body) = request.body_json() {
            // A backtick can only be inside a JSON string, where its escape means the
            // same; written as is, three of them in a token name would end the block.
            text.push_str(&String::from_utf8_lossy(&body).replace('`', "\\u0060"));
            text.push('\n');
        }
    }
    text.push_str("```\n\n</details>\n");
    Some(text)
}

/// Text from the account or the file, made inert in Markdown: no HTML, no emphasis, no
/// links, no line breaks.
pub(crate) fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => out.extend(c.escape_unicode()),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A table cell: inline text, quoted as the text format quotes names.
fn cell(text: &str) -> String {
    format!("\"{}\"", inline(text))
}
