//! `export`: the live account, its API tokens included, as a desired-state file.

use crate::cli::ExportArgs;
use crate::export;

use super::{read_whole_account, write_private, Outcome};

pub(super) async fn run(args: ExportArgs) -> anyhow::Result<Outcome> {
    let (reader, live) = read_whole_account(&args.connection, None).await?;
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
