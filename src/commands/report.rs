//! `report`: the access review of the live account, read through a client that cannot
//! write, as Markdown, CSV or JSON.

use std::io::Write;

use crate::cli::{ReportArgs, ReportFormat};
use crate::{render, report};

use super::{buffered_stdout, clock, load_at, read_whole_account, write_private, Outcome};

pub(super) async fn run(args: ReportArgs) -> anyhow::Result<Outcome> {
    let clock = clock(&args.time);
    let loaded = args
        .file
        .as_deref()
        .map(|path| load_at(path, &clock))
        .transpose()?;
    let named = (loaded.as_ref())
        .and_then(|loaded| loaded.file.account_id)
        .map(|account| (account, "the desired file"));
    let (reader, live) = read_whole_account(&args.connection, named).await?;
    let review = report::report(reader.account_id(), &live, loaded.as_ref(), clock.now);
    let mut text = Vec::new();
    match args.format {
        ReportFormat::Markdown => render::report::markdown(&review, &mut text)?,
        ReportFormat::Csv => render::report::csv(&review, &mut text)?,
        ReportFormat::Json => render::json::write_json(&review, &mut text)?,
    }
    match &args.out {
        Some(path) => {
            write_private(path, &text)?;
            eprintln!("wrote {}", path.display());
        }
        None => {
            let mut stdout = buffered_stdout();
            stdout.write_all(&text)?;
            stdout.flush()?;
        }
    }
    Ok(Outcome::Success)
}
