//! `apply`: plan, show, confirm, send, then read back and verify. The only command that
//! builds a [`WriteClient`].

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context};

use crate::api::WriteClient;
use crate::cli::ApplyArgs;
use crate::render::progress::Progress;
use crate::render::Style;
use crate::{apply, rails, render};

use super::planning::fetch_and_plan;
use super::{buffered_stdout, connect, load_file, stdout_style, Outcome};

pub async fn run(args: ApplyArgs) -> anyhow::Result<Outcome> {
    if let Some(saved) = &args.plan {
        return super::apply_saved::run(&args, saved).await;
    }
    let loaded = std::sync::Arc::new(load_file(&args.file.file)?);
    let interactive = std::io::stdin().is_terminal();
    if !args.auto_approve && !interactive {
        bail!(
            "refusing to apply without confirmation: stdin is not a terminal. Review the plan, then run `apply --auto-approve`"
        );
    }
    let target = connect(&args.connection, loaded.file.account_id).await?;
    let writer = WriteClient::new(target.endpoint)?;
    let reader = writer.reader();
    let style = stdout_style(args.color.color);

    let (plan, live) = fetch_and_plan(&reader, &loaded).await?;
    let mut stdout = std::io::stdout();
    {
        let mut buffered = buffered_stdout();
        render::plan_text(&plan, &mut buffered, style)?;
        buffered.flush()?;
    }
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
    let mut reporter = Reporter::start(plan.changes.len(), style);
    let concurrency = args.concurrency as usize;
    let results = apply::execute(&plan, &writer, concurrency, |result| {
        reporter.report(result)
    })
    .await;
    reporter.finish();

    let (replanned, _) = fetch_and_plan(&reader, &loaded)
        .await
        .context("the changes were sent, but reading the account back failed; run plan to check")?;
    let unconfirmed = apply::unconfirmed(&results, &replanned);
    let mut buffered = buffered_stdout();
    render::apply_summary(&results, &unconfirmed, &replanned, &mut buffered, style)?;
    buffered.flush()?;

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
pub(super) fn confirmed(account_id: u64) -> anyhow::Result<bool> {
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

/// Shows apply as it goes: each result line on stdout as it arrives and, when stderr is a
/// terminal, a `[n/N]` progress line there. Output errors are ignored: a closed stdout
/// must not stop the remaining requests.
pub(super) struct Reporter {
    progress: Progress,
    style: Style,
}

impl Reporter {
    pub(super) fn start(total: usize, style: Style) -> Reporter {
        let progress = Progress::new(total, std::io::stderr().is_terminal());
        let _ = progress.draw(&mut std::io::stderr().lock());
        Reporter { progress, style }
    }

    pub(super) fn report(&mut self, result: &apply::OperationResult) {
        let mut err = std::io::stderr().lock();
        let _ = self.progress.clear(&mut err);
        let mut out = std::io::stdout().lock();
        let _ = render::apply_result(result, &mut out, self.style);
        let _ = out.flush();
        self.progress.advance();
        let _ = self.progress.draw(&mut err);
    }

    pub(super) fn finish(&self) {
        let _ = self.progress.clear(&mut std::io::stderr().lock());
    }
}
