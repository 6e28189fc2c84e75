//! `completions` and `man`: the shell completion scripts and the manual pages, generated
//! from the same clap definition that parses the command line (`Cli::command()`), so they
//! cannot drift from the flags the binary accepts. The release workflow runs both and
//! puts the output in every archive.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// The completion script for `shell`.
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    script
}

/// One manual page per command, subcommands included: `(file name, roff)`, the main page
/// (`mailtrap-access.1`) first.
pub fn man_pages() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    // `help` is clap's own, not a command of this tool; it would only get a page that
    // says "print help".
    let mut command = Cli::command().disable_help_subcommand(true);
    // Building gives each subcommand its display name `mailtrap-access-plan`, which is
    // both its page's title and its file name.
    command.build();
    let mut pages = Vec::new();
    collect_pages(command, &mut pages)?;
    Ok(pages)
}

fn collect_pages(command: clap::Command, pages: &mut Vec<(String, Vec<u8>)>) -> anyhow::Result<()> {
    let subcommands: Vec<clap::Command> = command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .cloned()
        .collect();
    let man = clap_mangen::Man::new(command);
    let mut roff = Vec::new();
    man.render(&mut roff)
        .context("cannot render a manual page")?;
    pages.push((man.get_filename(), roff));
    for sub in subcommands {
        collect_pages(sub, pages)?;
    }
    Ok(())
}

pub fn completions(shell: Shell) -> anyhow::Result<()> {
    write_stdout(&completion_script(shell))
}

/// Without a directory, the main page goes to stdout (`mailtrap-access man | man -l -`);
/// with one, every page is written there and each path is listed on stderr.
pub fn man(out: Option<&Path>) -> anyhow::Result<()> {
    let pages = man_pages()?;
    let Some(dir) = out else {
        let (_, main_page) = pages.first().context("no manual page was generated")?;
        return write_stdout(main_page);
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    for (name, roff) in &pages {
        let path: PathBuf = dir.join(name);
        std::fs::write(&path, roff).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .context("cannot write to stdout")
}
