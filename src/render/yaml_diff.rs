//! The plan as a unified diff of YAML (`plan --format diff`), for reviewers who think in
//! the file. Both sides go through the exporter (`export::export` + `export::to_yaml`), so
//! names, ordering and layout are the same:
//!
//! - `live`: the account as it is, exported;
//! - `desired`: the account as it will be once apply has run, that is the live state with
//!   the plan applied to it ([`planner::expected_after`]), exported the same way.
//!
//! So the diff shows exactly what the plan changes, and it is empty exactly when the plan
//! is: people in the file but not in the account, rows this tool does not manage and the
//! owner look the same on both sides, as they will after apply (the plan's warnings say
//! why). Two changes the export cannot show: one to the access of a person holding both
//! a user and an invite access that is not the one shown, and a token reset (a new
//! secret, the same permissions); for a plan of only those, a comment says so, so the
//! diff is still never empty when the plan is not.

use std::io::{self, Write};

use similar::TextDiff;

use crate::model::LiveState;
use crate::plan::Plan;
use crate::{export, planner};

use super::Style;

/// `plan --format diff`. `desired_name` names the desired file in the `+++` header.
pub fn plan_diff(
    plan: &Plan,
    live: &LiveState,
    desired_name: &str,
    out: &mut impl Write,
    style: Style,
) -> io::Result<()> {
    let text = unified_diff(plan, live, desired_name);
    for line in text.lines() {
        let line = if line.starts_with("+++") || line.starts_with("---") {
            style.bold(line)
        } else if line.starts_with('+') {
            style.green(line)
        } else if line.starts_with('-') {
            style.red(line)
        } else if line.starts_with("@@") {
            style.cyan(line)
        } else {
            style.plain(line)
        };
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// The diff as plain text; empty when the plan is.
pub fn unified_diff(plan: &Plan, live: &LiveState, desired_name: &str) -> String {
    let before = export::to_yaml(&export::export(plan.account_id, live));
    let mut after = export::export(plan.account_id, &planner::expected_after(plan, live));
    // Written as the file writes it: without an expiry, the service will pick one.
    for name in plan.tokens_with_service_expiry() {
        if let Some(grants) = after.file.api_tokens.get_mut(name) {
            grants.expires_at = None;
        }
    }
    let after = export::to_yaml(&after);
    let live_name = format!("live account {}", plan.account_id);
    let desired_name = format!("{desired_name} (as the account will be after apply)");
    let mut text = TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header(&live_name, &desired_name)
        .to_string();
    if text.is_empty() && !plan.is_empty() {
        let changed: Vec<String> = (plan.changes.keys().map(ToString::to_string))
            .chain(plan.tokens.keys().map(|name| format!("API token {name:?}")))
            .collect();
        text = format!(
            "--- {live_name}\n+++ {desired_name}\n# The plan changes {} in a way this YAML view cannot show (a person with both a user and an invite access, or a token reset: a new secret, the same permissions); see `plan --format text`.\n",
            changed.join(", ")
        );
    }
    text
}
