//! `apply`: plan, show, confirm, send, then read back and verify. The only command that
//! builds a [`WriteClient`].

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context};

use crate::api::WriteClient;
use crate::cli::ApplyArgs;
use crate::{apply, rails, render};

use super::plan::fetch_and_plan;
use super::{connect, load_file, stdout_style, Outcome};

pub async fn run(args: ApplyArgs) -> anyhow::Result<Outcome> {
    let loaded = load_file(&args.file.file)?;
    let interactive = std::io::stdin().is_terminal();
    if !args.auto_approve && !interactive {
        bail!(
            "refusing to apply without confirmation: stdin is not a terminal. Review the plan, then run `apply --auto-approve`"
        );
    }
    let target = connect(&args.connection, loaded.file.account_id).await?;
    let writer = WriteClient::new(target.endpoint)?;
    let reader = writer.reader();
    let style = stdout_style();

    let (plan, live) = fetch_and_plan(&reader, &loaded).await?;
    let mut stdout = std::io::stdout();
    render::plan_text(&plan, &mut stdout.lock(), style)?;
    if plan.is_empty() {
        return Ok(Outcome::Success);
    }
    let refusals = rails::check(&plan, &live, &loaded.file, args.allow_mass_removal);
    if !refusals.is_empty() {
        let reasons: Vec<String> = refusals.iter().map(ToString::to_string).collect();
        bail!(
            "refusing to apply; nothing was sent:\n{}",
            reasons.join("\n")
        );
    }
    if !args.auto_approve && !confirmed(plan.account_id)? {
        bail!("apply cancelled; nothing was sent");
    }

    writeln!(stdout)?;
    let concurrency = args.concurrency as usize;
    let results = apply::execute(&plan, &writer, concurrency, |result| {
        // A closed stdout must not stop the remaining requests.
        let _ = render::apply_result(result, &mut std::io::stdout().lock(), style);
    })
    .await;

    let (replanned, _) = fetch_and_plan(&reader, &loaded)
        .await
        .context("the changes were sent, but reading the account back failed; run plan to check")?;
    let unconfirmed = apply::unconfirmed(&results, &replanned);
    render::apply_summary(
        &results,
        &unconfirmed,
        &replanned,
        &mut stdout.lock(),
        style,
    )?;

    let failed = results
        .iter()
        .filter(|result| result.outcome.is_err())
        .count();
    if failed > 0 || !unconfirmed.is_empty() || !replanned.is_empty() {
        bail!(
            "apply did not complete: {failed} of {} requests failed, {} acknowledged but not performed, {} changes still pending; fix the cause and run apply again",
            results.len(),
            unconfirmed.len(),
            replanned.changes.len()
        );
    }
    Ok(Outcome::Success)
}

/// Ask on the terminal; only `yes` goes ahead.
fn confirmed(account_id: u64) -> anyhow::Result<bool> {
    let mut stdout = std::io::stdout();
    write!(
        stdout,
        "\nApply these changes to Mailtrap account {account_id}? Only 'yes' will be accepted: "
    )?;
    stdout.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
