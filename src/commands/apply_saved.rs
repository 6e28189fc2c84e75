//! `apply PLAN_FILE`: send exactly the requests of a plan saved by `plan --out`, and only
//! if the live account still has the fingerprint the plan was computed from. Nothing is
//! re-planned: the requests sent are the saved ones, checked to be requests this tool
//! would send. Afterwards the account is read back and each request's effect checked.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{bail, Context};

use crate::api::WriteClient;
use crate::cli::ApplyArgs;
use crate::saved_plan::{self, SavedPlan, SavedPlanError};
use crate::{apply, render};

use super::apply::{confirmed, Reporter};
use super::{buffered_stdout, connect, stdout_style, Outcome};

pub(super) async fn run(args: &ApplyArgs, path: &Path) -> anyhow::Result<Outcome> {
    if !args.auto_approve && !std::io::stdin().is_terminal() {
        bail!(
            "refusing to apply without confirmation: stdin is not a terminal. Review the plan, then run `apply --auto-approve {}`",
            path.display()
        );
    }
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| {
        format!("cannot read the saved plan {display} (save one with `plan --out {display}`)")
    })?;
    let saved = SavedPlan::parse(&display, &text)?;
    let requests = saved.requests(&display)?;

    let target = connect(&args.connection, Some(saved.plan.account_id)).await?;
    if target.endpoint.account_id != saved.plan.account_id {
        return Err(SavedPlanError::AccountMismatch {
            path: display,
            planned: saved.plan.account_id,
            target: target.endpoint.account_id,
        }
        .into());
    }
    let writer = WriteClient::new(target.endpoint)?;
    let reader = writer.reader();
    let style = stdout_style(args.color.color);

    let live = reader
        .live_state()
        .await
        .context("cannot read the live account")?;
    saved.check_live(&display, &live)?;

    let mut stdout = std::io::stdout();
    {
        let mut buffered = buffered_stdout();
        render::saved::saved_plan_text(&saved, &requests, &display, &mut buffered, style)?;
        buffered.flush()?;
    }
    if requests.is_empty() {
        return Ok(Outcome::Success);
    }
    let blocking = saved.blocking_rails(args.allow_mass_removal);
    if !blocking.is_empty() {
        let reasons: Vec<&str> = blocking.iter().map(|rail| rail.message.as_str()).collect();
        bail!(
            "refusing to apply; nothing was sent:\n{}",
            reasons.join("\n")
        );
    }
    if !args.auto_approve && !confirmed(saved.plan.account_id)? {
        bail!("apply cancelled; nothing was sent");
    }

    writeln!(stdout)?;
    let mut reporter = Reporter::start(requests.len(), style);
    let results = apply::execute_requests(
        requests
            .into_iter()
            .map(|saved| (saved.access, saved.request))
            .collect(),
        &writer,
        args.concurrency as usize,
        |result| reporter.report(result),
    )
    .await;
    reporter.finish();

    let after = reader
        .live_state()
        .await
        .context("the changes were sent, but reading the account back failed; run plan to check")?;
    let unconfirmed = saved_plan::unconfirmed(&results, &after);
    let mut buffered = buffered_stdout();
    render::saved::saved_apply_summary(&results, &unconfirmed, &mut buffered, style)?;
    buffered.flush()?;

    let failed = results.iter().filter(|r| r.outcome.is_err()).count();
    if failed > 0 || !unconfirmed.is_empty() {
        bail!(
            "apply did not complete: {failed} of {} requests failed, {} acknowledged but not performed; fix the cause, then run plan and apply again",
            results.len(),
            unconfirmed.len()
        );
    }
    Ok(Outcome::Success)
}
