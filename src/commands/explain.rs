//! `explain NAME`: why one person or token has the access it has, from the file alone
//! (`--offline`) or against the live account through a client that cannot write.

use std::io::Write;

use anyhow::Context;

use crate::api::ReadClient;
use crate::cli::{ExplainArgs, ExplainFormat};
use crate::{explain, render};

use super::{buffered_stdout, clock, connect, load_at, read_and_plan, runtime, Outcome, Scope};

pub(super) fn run(args: ExplainArgs) -> anyhow::Result<Outcome> {
    let clock = clock(&args.time);
    let loaded = load_at(args.file.path(), &clock)?;
    let explanation = if args.offline {
        explain::explain(&args.name, &loaded, None, clock.now)
    } else {
        let named = (loaded.file.account_id).map(|account| (account, "the desired file"));
        let (plan, live) = runtime()?.block_on(async {
            let target = connect(&args.connection, named).await?;
            let reader = ReadClient::new(target.endpoint)?;
            let scope = Scope {
                with_tokens: true,
                ..Scope::default()
            };
            read_and_plan(&reader, &loaded, &scope, &clock).await
        })?;
        explain::explain(&args.name, &loaded, Some((&live, &plan)), clock.now)
    }
    .map_err(anyhow::Error::msg)
    .with_context(|| format!("cannot explain {:?}", crate::model::printable(&args.name)))?;
    let mut stdout = buffered_stdout();
    match args.format {
        ExplainFormat::Text => render::explain_text(&explanation, &mut stdout)?,
        ExplainFormat::Json => render::json::write_json(&explanation, &mut stdout)?,
    }
    stdout.flush()?;
    Ok(Outcome::Success)
}
