//! `check`: the file's policies on the live account as it is now, read through a client
//! that cannot write. Exit 3 when a rule is violated.

use std::io::Write;

use crate::cli::{CheckArgs, CheckFormat};
use crate::{policy, render};

use super::{buffered_stdout, clock, load_at, read_whole_account, Outcome};

pub(super) async fn run(args: CheckArgs) -> anyhow::Result<Outcome> {
    let clock = clock(&args.time);
    let loaded = load_at(args.file.path(), &clock)?;
    let policies = &loaded.file.policies;
    if policies.is_empty() {
        // No rule, none broken: a scheduled job need not know whether the file has any.
        eprintln!(
            "{} has no `policies:` section: there is nothing to check.",
            loaded.display_path
        );
        return Ok(Outcome::Success);
    }
    let named = (loaded.file.account_id).map(|account| (account, "the desired file"));
    let (reader, live) = read_whole_account(&args.connection, named).await?;
    super::check_policy_names(policies, &live)?;
    let violations = policy::judge(policies, &policy::subjects_of_live(&live), clock.now, true);
    let report = render::check::Checked {
        account_id: reader.account_id(),
        rules: policy::rule_names(policies),
        violations,
    };
    let mut stdout = buffered_stdout();
    match args.format {
        CheckFormat::Text => render::check::text(&report, &mut stdout)?,
        CheckFormat::Json => render::json::write_json(&report, &mut stdout)?,
        CheckFormat::Markdown => render::check::markdown(&report, &mut stdout)?,
        CheckFormat::Junit => render::check::junit(&report, &mut stdout)?,
    }
    stdout.flush()?;
    Ok(if report.violations.is_empty() {
        Outcome::Success
    } else {
        Outcome::Violations
    })
}
