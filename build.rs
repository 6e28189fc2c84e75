//! Stamps the binary with the commit it was built from, for `--version`:
//! `MAILTRAP_ACCESS_VERSION` is `0.1.0 (1a2b3c4d5)`, or `0.1.0` alone when the commit
//! cannot be known (a crates tarball, a Docker build context without `.git`, no `git`
//! installed and no readable ref). Nothing here may fail the build: every problem falls
//! back to the version alone.
//!
//! Cargo reruns this script only for the files it names with `rerun-if-changed`, so it
//! names exactly the files a new commit or a checkout changes: the worktree's `HEAD` and
//! the file holding the branch it points to (the loose ref, or `packed-refs` when the ref
//! is packed). `.git` may be a directory or, in a linked worktree or a submodule, a file
//! whose `gitdir:` line points at the real git directory; branch refs then live in the
//! common directory that the worktree's `commondir` file names.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Set to the commit by a build that has no `.git` but knows it (the Dockerfile's
/// `GIT_COMMIT` build argument): `docker build` does not send `.git` in its context.
const COMMIT_OVERRIDE: &str = "MAILTRAP_ACCESS_COMMIT";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={COMMIT_OVERRIDE}");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());

    let from_env = std::env::var(COMMIT_OVERRIDE)
        .ok()
        .map(|commit| commit.trim().to_owned())
        .filter(|commit| is_hex(commit));
    let commit = from_env.or_else(|| {
        let git = GitDirs::find(&manifest_dir)?;
        let head = std::fs::read_to_string(git.dir.join("HEAD")).ok()?;
        let head = head.trim();
        for watched in git.watched(head) {
            println!("cargo:rerun-if-changed={}", watched.display());
        }
        git_rev_parse(&manifest_dir).or_else(|| git.resolve(head))
    });
    let stamped = match commit {
        Some(commit) => format!("{version} ({})", &commit[..commit.len().min(9)]),
        None => version,
    };
    println!("cargo:rustc-env=MAILTRAP_ACCESS_VERSION={stamped}");
}

/// The git directory of this checkout and the common directory its branches are in
/// (the same directory except in a linked worktree).
pub struct GitDirs {
    pub dir: PathBuf,
    pub common: PathBuf,
}

impl GitDirs {
    /// Only `.git` beside Cargo.toml counts: a crate vendored inside some other
    /// repository must not be stamped with that repository's commit.
    pub fn find(manifest_dir: &Path) -> Option<GitDirs> {
        let dot_git = manifest_dir.join(".git");
        let dir = if dot_git.is_dir() {
            dot_git
        } else {
            let text = std::fs::read_to_string(&dot_git).ok()?;
            let target = text
                .lines()
                .find_map(|line| line.strip_prefix("gitdir:"))?
                .trim();
            manifest_dir.join(target)
        };
        let common = match std::fs::read_to_string(dir.join("commondir")) {
            Ok(text) => dir.join(text.trim()),
            Err(_) => dir.clone(),
        };
        Some(GitDirs { dir, common })
    }

    /// The files whose change means HEAD may now be another commit. A path that does not
    /// exist is left out: cargo would rerun the script on every build for it.
    pub fn watched(&self, head: &str) -> Vec<PathBuf> {
        let mut files = vec![self.dir.join("HEAD")];
        if let Some(name) = head.strip_prefix("ref:").map(str::trim) {
            let loose = self.ref_path(name);
            if loose.is_file() {
                files.push(loose);
            }
            // Watched even when the loose ref exists: `git pack-refs` deletes the loose
            // file (a change cargo sees) and the commit then lives here.
            files.push(self.common.join("packed-refs"));
        }
        files.retain(|file| file.exists());
        files
    }

    /// Where a loose ref is: per-worktree refs in the worktree's own directory, branches
    /// and tags in the common one.
    fn ref_path(&self, name: &str) -> PathBuf {
        let per_worktree = name.starts_with("refs/worktree/") || name.starts_with("refs/bisect/");
        let base = if per_worktree {
            &self.dir
        } else {
            &self.common
        };
        base.join(name)
    }

    /// The commit HEAD names, read from the files, for when `git` itself is not there.
    pub fn resolve(&self, head: &str) -> Option<String> {
        let Some(name) = head.strip_prefix("ref:").map(str::trim) else {
            return is_hex(head).then(|| head.to_owned());
        };
        if let Ok(text) = std::fs::read_to_string(self.ref_path(name)) {
            let commit = text.trim();
            return is_hex(commit).then(|| commit.to_owned());
        }
        let packed = std::fs::read_to_string(self.common.join("packed-refs")).ok()?;
        packed.lines().find_map(|line| {
            let (commit, packed_name) = line.split_once(' ')?;
            (packed_name.trim() == name && is_hex(commit)).then(|| commit.to_owned())
        })
    }
}

/// `git rev-parse HEAD` knows every layout (reftable included); None when git is missing
/// or says no.
fn git_rev_parse(dir: &Path) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--verify", "--quiet", "HEAD"])
        .output()
        .ok()?;
    let commit = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && is_hex(&commit)).then_some(commit)
}

fn is_hex(text: &str) -> bool {
    text.len() >= 7 && text.chars().all(|c| c.is_ascii_hexdigit())
}
