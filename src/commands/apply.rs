//! `apply`: plan, show, confirm, send, then read back and verify. The only command that
//! builds a [`WriteClient`]. With a saved plan (`apply PLAN_FILE`), the plan made now
//! must equal the saved one before anything is sent; the rest is the same path. New
//! tokens' secrets go to the new-tokens file and nowhere else.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, IsTerminal, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::api::WriteClient;
use crate::apply::NewSecret;
use crate::cli::ApplyArgs;
use crate::plan::TokenChange;
use crate::rails::Overrides;
use crate::render::progress::Progress;
use crate::render::Style;
use crate::saved_plan::SavedPlan;
use crate::{apply, rails, render};

use super::interrupt::Interrupt;
use super::{
    buffered_stdout, clock, connect, load_at, read_and_plan, stdout_style, Outcome, Scope,
};

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
    // A saved plan carries the resets and targets it was made with.
    let scope = match &saved {
        Some(_) if !args.scope.reset_tokens.is_empty() || !args.scope.targets.is_empty() => bail!(
            "--reset-token and --target go with `plan --out`: a saved plan already says which tokens it resets and what it is restricted to"
        ),
        Some(saved) => {
            if !saved.plan.targets.is_empty() {
                let targets: Vec<String> = (saved.plan.targets.iter())
                    .map(|target| crate::model::printable(target).into_owned())
                    .collect();
                eprintln!(
                    "{}: a partial plan, for {} only.",
                    saved.path,
                    targets.join(", ")
                );
            }
            Scope {
                resets: (saved.plan.tokens.iter())
                    .filter(|(_, change)| matches!(change, TokenChange::ResetToken { .. }))
                    .map(|(name, _)| name.clone())
                    .collect(),
                targets: saved.plan.targets.clone(),
                ..Scope::default()
            }
        }
        None => Scope::of(&args.scope),
    };
    let clock = clock(&args.time);
    // A saved plan names the desired file it was made from; `-f` may name it anew.
    let desired = match (&args.file.file, &saved) {
        (None, Some(saved)) => Path::new(&saved.fingerprint.desired_file.path),
        _ => args.file.path(),
    };
    let loaded = load_at(desired, &clock)?;
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

    let (plan, live) = read_and_plan(&reader, &loaded, &scope, &clock).await?;
    if let Some(saved) = &saved {
        saved.check_fresh(&plan, &live)?;
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
    let overrides = Overrides {
        allow_mass_removal: args.allow_mass_removal,
        allow_token_replacement: args.allow_token_replacement,
        new_tokens_file: args.new_tokens_file.is_some(),
    };
    let refusals = rails::check(&plan, &live, &loaded.file, overrides);
    if !refusals.is_empty() {
        let reasons: Vec<String> = refusals.iter().map(ToString::to_string).collect();
        bail!(
            "refusing to apply; nothing was sent:\n{}",
            reasons.join("\n")
        );
    }
    let secrets_to = match &args.new_tokens_file {
        Some(path) if plan.makes_secrets() => Some(check_new_tokens_file(path)?),
        _ => None,
    };
    if !args.auto_approve && !confirmed(plan.account_id)? {
        bail!("apply cancelled; nothing was sent");
    }
    let mut new_tokens = secrets_to
        .map(|path| NewTokensFile::create(path, plan.account_id))
        .transpose()?;

    println!();
    let requests = plan.changes.len()
        + (plan.token_requests())
            .map(|(_, _, requests)| requests.len())
            .sum::<usize>();
    let mut reporter = Reporter::start(requests, style);
    let concurrency = args.concurrency as usize;
    let interrupt = Interrupt::watch()?;
    let keep_sending = || interrupt.received().is_none();
    let keep_secret = |secret: NewSecret| match &mut new_tokens {
        Some(file) => file.keep(&secret),
        None => Err(std::io::Error::other("no --new-tokens-file was given")),
    };
    let executed = apply::execute(
        &plan,
        &writer,
        concurrency,
        keep_sending,
        keep_secret,
        |result| reporter.report(result),
    )
    .await;
    interrupt.sending_done();
    reporter.finish();
    let results = match executed {
        Ok(results) => results,
        Err(not_kept) => {
            let id = not_kept
                .id
                .map_or(String::new(), |id| format!(" (id {id})"));
            let path = new_tokens
                .as_ref()
                .map_or_else(String::new, |file| file.path.display().to_string());
            bail!(
                "API token {:?}{id} was created, but its secret could not be written to {path}: {}; nothing more was sent (a replaced token was not deleted). Free the disk or fix the file, then run `apply --reset-token {:?}` with a new --new-tokens-file to get a secret you can keep",
                crate::model::printable(&not_kept.name),
                not_kept.cause,
                not_kept.name
            );
        }
    };
    if let Some(file) = &new_tokens {
        if file.written > 0 {
            eprintln!(
                "Wrote {} new {} to {}: store {} in your secret manager, then delete the file.",
                file.written,
                crate::plan::plural(file.written, "secret", "secrets"),
                file.path.display(),
                crate::plan::plural(file.written, "it", "them"),
            );
        }
    }
    // Before the read-back, which an unfinished replacement makes ambiguous.
    let unfinished = apply::unfinished_replacements(&plan, &results);
    if !unfinished.is_empty() {
        let mut stdout = buffered_stdout();
        render::apply_unfinished_replacements(&unfinished, &mut stdout, style)?;
        stdout.flush()?;
    }
    if let Some(signal) = interrupt.received() {
        let mut stdout = buffered_stdout();
        render::apply_interrupted(&plan, &results, signal.name(), &mut stdout, style)?;
        stdout.flush()?;
        return Ok(Outcome::Interrupted(signal.exit_code()));
    }

    // Resets were done once; the read-back plans without them, for the same targets.
    let read_back = Scope {
        resets: BTreeSet::new(),
        read_back: true,
        ..scope.clone()
    };
    let (replanned, _) = read_and_plan(&reader, &loaded, &read_back, &clock)
        .await
        .context("the changes were sent, but reading the account back failed; run plan to check")?;
    let unconfirmed = apply::unconfirmed(&results, &replanned);
    let mut stdout = buffered_stdout();
    render::apply_summary(&results, &unconfirmed, &replanned, &mut stdout, style)?;
    stdout.flush()?;

    let failed = results.iter().filter(|result| result.failed()).count();
    if failed > 0 || !unconfirmed.is_empty() || !replanned.is_empty() {
        bail!(
            "apply did not complete: {failed} of {} requests failed, {} acknowledged but not performed, {} changes still pending; fix the cause and run apply again",
            results.len(),
            unconfirmed.len(),
            replanned.changes.len() + replanned.tokens.len()
        );
    }
    Ok(Outcome::Success)
}

/// `--new-tokens-file` must name a file that does not exist yet, so that secrets of an
/// earlier run are never overwritten; checked before anything is sent.
fn check_new_tokens_file(path: &Path) -> anyhow::Result<PathBuf> {
    if std::fs::symlink_metadata(path).is_ok() {
        bail!(
            "--new-tokens-file {} already exists: refusing to overwrite it (it may hold the secrets of an earlier run); nothing was sent. Store and delete it, or name a new file",
            path.display()
        );
    }
    Ok(path.to_path_buf())
}

/// The new-tokens file: `{"account_id", "tokens": [{"name", "id", "token", "expires_at",
/// "replaced_id"}]}`, created with mode 0600 (and never over an existing file), rewritten
/// whole and flushed to disk as each secret arrives. It only grows, so each rewrite
/// covers the last one.
struct NewTokensFile {
    path: PathBuf,
    file: File,
    account_id: u64,
    tokens: Vec<serde_json::Value>,
    written: usize,
}

impl NewTokensFile {
    fn create(path: PathBuf, account_id: u64) -> anyhow::Result<NewTokensFile> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).with_context(|| {
            format!(
                "cannot create --new-tokens-file {}; nothing was sent",
                path.display()
            )
        })?;
        let mut created = NewTokensFile {
            path,
            file,
            account_id,
            tokens: Vec::new(),
            written: 0,
        };
        created.flush().with_context(|| {
            format!("cannot write {}; nothing was sent", created.path.display())
        })?;
        Ok(created)
    }

    fn keep(&mut self, new: &NewSecret) -> std::io::Result<()> {
        self.tokens.push(serde_json::json!({
            "name": new.name,
            "id": new.created.id,
            "token": new.secret.expose(),
            "expires_at": new.created.expires_at,
            "replaced_id": new.replaced_id,
        }));
        self.flush()?;
        self.written += 1;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let document = serde_json::json!({
            "account_id": self.account_id,
            "tokens": self.tokens,
        });
        let mut text = serde_json::to_vec_pretty(&document).map_err(std::io::Error::other)?;
        text.push(b'\n');
        self.file.rewind()?;
        self.file.write_all(&text)?;
        self.file.sync_data()
    }
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
