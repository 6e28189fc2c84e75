//! `plan`: read the live account with a read-only client and show the changes. The
//! whole flow: load the file, read the live state, resolve and plan, check the rails,
//! save the plan if asked, render it.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};

use crate::api::ReadClient;
use crate::cli::{PlanArgs, PlanFormat};
use crate::rails::Overrides;
use crate::saved_plan::{Fingerprint, PlanDocument};
use crate::{rails, render};

use super::{
    buffered_stdout, clock, connect, load_at, read_and_plan, refuse_link, stdout_style,
    write_private, Outcome, Scope,
};

pub(super) async fn run(args: PlanArgs) -> anyhow::Result<Outcome> {
    let clock = clock(&args.time);
    let loaded = load_at(args.file.path(), &clock)?;
    let named = (loaded.file.account_id).map(|account| (account, "the desired file"));
    let target = connect(&args.connection, named).await?;
    let reader = ReadClient::new(target.endpoint)?;
    let (plan, live) = read_and_plan(&reader, &loaded, &Scope::of(&args.scope), &clock).await?;
    // Checked without overrides: what `apply` will refuse unless told otherwise.
    let refusals = rails::check(&plan, &live, &loaded.file, Overrides::default());

    if let Some(path) = &args.out {
        check_plan_out(path, args.file.path())?;
        let fingerprint = Fingerprint::new(&loaded.display_path, loaded.text(), &live);
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

/// `--out` may only replace a saved plan: never the desired file (`apply FILE.yaml` out
/// of habit, then `plan --out FILE.yaml`), nor anything else that is there.
fn check_plan_out(out: &Path, desired: &Path) -> anyhow::Result<()> {
    let same = match (out.canonicalize(), desired.canonicalize()) {
        (Ok(out), Ok(desired)) => out == desired,
        _ => out == desired,
    };
    if same {
        bail!(
            "--out {} is the desired-state file: the plan would overwrite it. Save the plan elsewhere, e.g. --out plan.json",
            out.display()
        );
    }
    refuse_link(out)?;
    let Ok(existing) = std::fs::read(out) else {
        return Ok(()); // Nothing there yet.
    };
    if !crate::saved_plan::looks_saved(&existing) {
        bail!(
            "--out {} exists and is not a saved plan: refusing to overwrite it. Remove it, or save the plan elsewhere",
            out.display()
        );
    }
    Ok(())
}
