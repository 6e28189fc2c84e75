//! `plan`: read the live account with a read-only client and show the changes.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::api::ReadClient;
use crate::cli::{PlanArgs, PlanFormat};
use crate::config;
use crate::rails::Refusal;
use crate::saved_plan::SavedPlan;
use crate::{rails, render};

use super::planning::fetch_and_plan;
use super::{beside, buffered_stdout, connect, stdout_style, Outcome};

pub async fn run(args: PlanArgs) -> anyhow::Result<Outcome> {
    let loaded = Arc::new(config::load(&args.file.file)?);
    let target = connect(&args.connection, loaded.file.account_id).await?;
    let reader = ReadClient::new(target.endpoint)?;
    let (plan, live) = fetch_and_plan(&reader, &loaded).await?;
    // Checked without overrides: what `apply` will refuse unless told otherwise. On a big
    // account the check takes milliseconds, so unless the saved plan or the format (JSON
    // and Markdown show the rails) needs it first, it runs on a second thread while the
    // plan is rendered.
    let check_rails = || rails::check(&plan, &live, &loaded.file, false);
    let needed_first =
        args.out.is_some() || matches!(args.format, PlanFormat::Markdown | PlanFormat::Json);
    let early_refusals = needed_first.then(check_rails);
    if let (Some(path), Some(refusals)) = (&args.out, &early_refusals) {
        let saved = SavedPlan::new(
            &plan,
            refusals,
            &loaded.display_path,
            loaded.text().as_bytes(),
            &live,
        );
        let mut text = Vec::new();
        render::json::write_json(&saved, &mut text)?;
        write_private(path, &text)
            .with_context(|| format!("cannot save the plan to {}", path.display()))?;
        render::saved::saved_notice(path, &mut std::io::stderr().lock())?;
    }
    let mut stdout = buffered_stdout();
    let mut show = |refusals: &[Refusal]| -> std::io::Result<()> {
        match args.format {
            PlanFormat::Text => {
                render::plan_text(&plan, &mut stdout, stdout_style(args.color.color))
            }
            PlanFormat::Json => render::plan_json(&plan, refusals, &mut stdout),
            PlanFormat::Markdown => render::plan_markdown(&plan, refusals, &mut stdout),
            PlanFormat::Diff => {
                render::plan_diff(
                    &plan,
                    &live,
                    &loaded.display_path,
                    &mut stdout,
                    stdout_style(args.color.color),
                )?;
                render::plan_warnings(&plan, &mut std::io::stderr().lock())
            }
        }
    };
    let refusals = match early_refusals {
        Some(refusals) => {
            show(&refusals)?;
            refusals
        }
        None => {
            let (refusals, shown) = beside(check_rails, || show(&[]));
            shown?;
            refusals
        }
    };
    stdout.flush()?;
    // Reviewers should learn on the pull request, not at merge, that apply will refuse.
    for refusal in &refusals {
        eprintln!("warning: apply will refuse this plan without an override: {refusal}");
    }
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        Outcome::ChangesPending
    } else {
        Outcome::Success
    })
}

/// Write a file only its owner can read (a plan names every person with access).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let mut file = options.open(path)?;
        // `mode` applies only to a new file; an existing one is narrowed too.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)?;
        file.sync_all()
    }
    #[cfg(not(unix))]
    {
        let mut file = options.open(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    }
}
