//! `plan`: read the live account with a read-only client and show the changes.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::api::ReadClient;
use crate::cli::{PlanArgs, PlanFormat};
use crate::config::{self, ConfigError, LoadedFile};
use crate::model::LiveState;
use crate::plan::Plan;
use crate::saved_plan::SavedPlan;
use crate::{diff, rails, render, resolve};

use super::{buffered_stdout, connect, stdout_style, Outcome};

pub async fn run(args: PlanArgs) -> anyhow::Result<Outcome> {
    let loaded = config::load(&args.file.file)?;
    let target = connect(&args.connection, loaded.file.account_id).await?;
    let reader = ReadClient::new(target.endpoint)?;
    let (plan, live) = fetch_and_plan(&reader, &loaded).await?;
    // Checked without overrides: what `apply` will refuse unless told otherwise.
    let refusals = rails::check(&plan, &live, &loaded.file, false);
    if let Some(path) = &args.out {
        let saved = SavedPlan::new(
            &plan,
            &refusals,
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
    match args.format {
        PlanFormat::Text => render::plan_text(&plan, &mut stdout, stdout_style(args.color.color))?,
        PlanFormat::Json => render::plan_json(&plan, &mut stdout)?,
        PlanFormat::Markdown => render::plan_markdown(&plan, &refusals, &mut stdout)?,
        PlanFormat::Diff => {
            render::plan_diff(
                &plan,
                &live,
                &loaded.display_path,
                &mut stdout,
                stdout_style(args.color.color),
            )?;
            render::plan_warnings(&plan, &mut std::io::stderr().lock())?;
        }
    }
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

/// The two reads, name resolution and the diff. Takes only a reader: planning cannot
/// write, whatever its caller holds.
pub(super) async fn fetch_and_plan(
    reader: &ReadClient,
    loaded: &LoadedFile,
) -> anyhow::Result<(Plan, LiveState)> {
    // The file's names are resolved while the account listing is still arriving.
    let (live, desired) = reader
        .live_state_with(|resources| resolve::resolve(loaded, resources))
        .await
        .context("cannot read the live account")?;
    let desired = desired.map_err(ConfigError::Invalid)?;
    let plan = diff::plan(reader.account_id(), &desired, &live);
    Ok((plan, live))
}
