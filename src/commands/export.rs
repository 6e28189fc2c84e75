//! `export`: the live account, its API tokens included, as a desired-state file.

use anyhow::Context;

use crate::api::ReadClient;
use crate::cli::ExportArgs;
use crate::export;

use super::{connect, write_private, Outcome};

pub(super) async fn run(args: ExportArgs) -> anyhow::Result<Outcome> {
    let target = connect(&args.connection, None).await?;
    let reader = ReadClient::new(target.endpoint)?;
    let live = reader
        .live_state(true)
        .await
        .context("cannot read the live account")?;
    let mut exported = export::export(reader.account_id(), &live);
    export::drop_past_expiries(&mut exported, jiff::Timestamp::now());
    let yaml = export::to_yaml(&exported);
    match &args.out {
        Some(path) => {
            write_private(path, yaml.as_bytes())?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{yaml}"),
    }
    Ok(Outcome::Success)
}
