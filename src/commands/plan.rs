//! `plan`: read the live account with a read-only client and show the changes.

use anyhow::Context;

use crate::api::ReadClient;
use crate::cli::PlanArgs;
use crate::config::{ConfigError, LoadedFile};
use crate::model::LiveState;
use crate::plan::Plan;
use crate::{diff, rails, render, resolve};

use super::{connect, load_file, stdout_style, Outcome};

pub async fn run(args: PlanArgs) -> anyhow::Result<Outcome> {
    let loaded = load_file(&args.file.file)?;
    let target = connect(&args.connection, loaded.file.account_id).await?;
    let reader = ReadClient::new(target.endpoint)?;
    let (plan, live) = fetch_and_plan(&reader, &loaded).await?;
    let mut stdout = std::io::stdout().lock();
    render::plan_text(&plan, &mut stdout, stdout_style())?;
    // Reviewers should learn on the pull request, not at merge, that apply will refuse.
    for refusal in rails::check(&plan, &live, &loaded.file, false) {
        eprintln!("warning: apply will refuse this plan without an override: {refusal}");
    }
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        Outcome::ChangesPending
    } else {
        Outcome::Success
    })
}

/// The two reads, name resolution and the diff. Takes only a reader: planning cannot
/// write, whatever its caller holds.
pub(super) async fn fetch_and_plan(
    reader: &ReadClient,
    loaded: &LoadedFile,
) -> anyhow::Result<(Plan, LiveState)> {
    let live = reader
        .live_state()
        .await
        .context("cannot read the live account")?;
    let plan = plan_against(reader.account_id(), loaded, &live)?;
    Ok((plan, live))
}

pub(super) fn plan_against(
    account_id: u64,
    loaded: &LoadedFile,
    live: &LiveState,
) -> anyhow::Result<Plan> {
    let desired = resolve::resolve(loaded, &live.resources).map_err(ConfigError::Invalid)?;
    Ok(diff::plan(account_id, &desired, live))
}
