//! `apply`: plan, show, confirm, send, then read back and verify. The only command that
//! builds a [`WriteClient`]. With a saved plan (`apply PLAN_FILE`), the plan made now
//! must equal the saved one before anything is sent; the rest is the same path.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{bail, Context};

use crate::api::WriteClient;
use crate::cli::ApplyArgs;
use crate::render::progress::Progress;
use crate::render::Style;
use crate::saved_plan::SavedPlan;
use crate::{apply, config, rails, render};

use super::interrupt::Interrupt;
use super::{buffered_stdout, connect, read_and_plan, stdout_style, Outcome};

pub(super) async fn run(args: ApplyArgs) -> anyhow::Result<Outcome> {
    if !args.auto_approve && !std::io::stdin().is_terminal() {
        let saved = args
            .plan
            .as_ref()
            .map(|path| format!(" {}", path.display()));
        bail!(
            "refusing to apply without confirmation: stdin is not a terminal. Review the plan, then run `apply --auto-approve{}`",
            saved.unwrap_or_default()
        );
    }
    let saved = args.plan.as_deref().map(read_saved_plan).transpose()?;
    // A saved plan names the desired file it was made from; `-f` may name it anew.
    let desired = match (&args.file.file, &saved) {
        (None, Some(saved)) => Path::new(&saved.fingerprint.desired_file.path),
        _ => args.file.path(),
    };
    let loaded = config::load(desired)?;
    if let Some(saved) = &saved {
        saved.check_desired(&loaded)?;
    }
    let named = match &saved {
        Some(saved) => Some((saved.plan.account_id, "the saved plan")),
        None => (loaded.file.account_id).map(|account| (account, "the desired file")),
    };
    let target = connect(&args.connection, named).await?;
    let writer = WriteClient::new(target.endpoint)?;
    let reader = writer.reader();
    let style = stdout_style(args.color.color);

    let (plan, live) = read_and_plan(&reader, &loaded).await?;
    if let Some(saved) = &saved {
        saved.check_fresh(&plan)?;
        eprintln!(
            "{}: planning again from {} gives exactly the saved changes.",
            saved.path, loaded.display_path
        );
    }
    let mut stdout = buffered_stdout();
    render::plan_text(&plan, &mut stdout, style)?;
    stdout.flush()?;
    drop(stdout);
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

    println!();
    let mut reporter = Reporter::start(plan.changes.len(), style);
    let concurrency = args.concurrency as usize;
    let interrupt = Interrupt::watch()?;
    let keep_sending = || interrupt.received().is_none();
    let results = apply::execute(&plan, &writer, concurrency, keep_sending, |result| {
        reporter.report(result)
    })
    .await;
    interrupt.sending_done();
    reporter.finish();
    if let Some(signal) = interrupt.received() {
        let mut stdout = buffered_stdout();
        render::apply_interrupted(&plan, &results, signal.name(), &mut stdout, style)?;
        stdout.flush()?;
        return Ok(Outcome::Interrupted(signal.exit_code()));
    }

    let (replanned, _) = read_and_plan(&reader, &loaded)
        .await
        .context("the changes were sent, but reading the account back failed; run plan to check")?;
    let unconfirmed = apply::unconfirmed(&results, &replanned);
    let mut stdout = buffered_stdout();
    render::apply_summary(&results, &unconfirmed, &replanned, &mut stdout, style)?;
    stdout.flush()?;

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

fn read_saved_plan(path: &Path) -> anyhow::Result<SavedPlan> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| {
        format!("cannot read the saved plan {display} (save one with `plan --out {display}`)")
    })?;
    Ok(SavedPlan::parse(&display, &text)?)
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

/// Shows apply as it goes: each result line on stdout as it arrives and, when stderr is a
/// terminal, a `[n/N]` progress line there. Output errors are ignored: a closed stdout
/// must not stop the remaining requests.
struct Reporter {
    progress: Progress,
    style: Style,
}

impl Reporter {
    fn start(total: usize, style: Style) -> Reporter {
        let progress = Progress::new(total, std::io::stderr().is_terminal());
        let _ = progress.draw(&mut std::io::stderr().lock());
        Reporter { progress, style }
    }

    fn report(&mut self, result: &apply::OperationResult) {
        let mut err = std::io::stderr().lock();
        let _ = self.progress.clear(&mut err);
        let mut out = std::io::stdout().lock();
        let _ = render::apply_result(result, &mut out, self.style);
        let _ = out.flush();
        self.progress.advance();
        let _ = self.progress.draw(&mut err);
    }

    fn finish(&self) {
        let _ = self.progress.clear(&mut std::io::stderr().lock());
    }
}
