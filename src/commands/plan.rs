//! `plan`: read the live account with a read-only client and show the changes. The
//! whole flow: load the file, read the live state, resolve and plan, check the rails,
//! save the plan if asked, render it.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::api::ReadClient;
use crate::cli::{PlanArgs, PlanFormat};
use crate::saved_plan::{Fingerprint, PlanDocument};
use crate::{config, rails, render};

use super::{buffered_stdout, connect, read_and_plan, stdout_style, Outcome};

pub(super) async fn run(args: PlanArgs) -> anyhow::Result<Outcome> {
    let loaded = config::load(args.file.path())?;
    let named = (loaded.file.account_id).map(|account| (account, "the desired file"));
    let target = connect(&args.connection, named).await?;
    let reader = ReadClient::new(target.endpoint)?;
    let (plan, live) = read_and_plan(&reader, &loaded).await?;
    // Checked without overrides: what `apply` will refuse unless told otherwise.
    let refusals = rails::check(&plan, &live, &loaded.file, false);

    if let Some(path) = &args.out {
        let fingerprint = Fingerprint::new(&loaded.display_path, loaded.text());
        let mut text = Vec::new();
        render::json::write_json(
            &PlanDocument::new(&plan, &refusals, Some(fingerprint)),
            &mut text,
        )?;
        write_private(path, &text)
            .with_context(|| format!("cannot save the plan to {}", path.display()))?;
        eprintln!(
            "Saved the plan to {0}. Apply exactly these changes with `mailtrap-access apply {0}`; it refuses if planning again then gives other changes.",
            path.display()
        );
    }

    let mut stdout = buffered_stdout();
    let style = stdout_style(args.color.color);
    match args.format {
        PlanFormat::Text => render::plan_text(&plan, &mut stdout, style)?,
        PlanFormat::Json => render::plan_json(&plan, &refusals, &mut stdout)?,
        PlanFormat::Markdown => render::plan_markdown(&plan, &refusals, &mut stdout)?,
        PlanFormat::Diff => {
            render::plan_diff(&plan, &live, &loaded.display_path, &mut stdout, style)?;
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
