//! The release machinery, checked without the network or a Docker engine: the release
//! workflow builds exactly the targets of `release/targets.txt`; `release/package.sh`
//! makes archives that the GitHub Action's own step scripts find, verify and install
//! (served from `file://` in place of the release page); the action refuses a tampered
//! checksum; the Dockerfile's final images are non-root with the tool as entrypoint; the
//! example pipelines use the action and the container image; completions parse and the
//! man pages cover every command; `--version` names the commit, found by the build
//! script in plain checkouts, linked worktrees and packed refs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mailtrap_access::{cli_command, parse_command_line};
use serde_json::Value;

#[allow(dead_code)]
#[path = "../build.rs"]
mod build_script;

const WORKFLOW: &str = ".github/workflows/release.yml";
const ACTION: &str = "action/action.yml";
const TARGETS: &str = "release/targets.txt";
const PACKAGE: &str = "release/package.sh";
const DOCKERFILE: &str = "docker/Dockerfile";
const GITHUB_EXAMPLE: &str = "examples/ci/github-actions.yml";
const GITLAB_EXAMPLE: &str = "examples/ci/gitlab-ci.yml";
const BIN: &str = env!("CARGO_BIN_EXE_mailtrap-access");
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn yaml(path: &str) -> Value {
    serde_saphyr::from_str(&read(path)).unwrap_or_else(|err| panic!("{path} is not YAML: {err}"))
}

fn text<'a>(value: &'a Value, path: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{path}: expected a string, found {value}"))
}

/// One row of `release/targets.txt`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Target {
    os: String,
    arch: String,
    target: String,
    runs_on: String,
    format: String,
}

fn targets() -> Vec<Target> {
    let rows: Vec<Target> = read(TARGETS)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cols.len(), 5, "{TARGETS}: {line:?}");
            Target {
                os: cols[0].into(),
                arch: cols[1].into(),
                target: cols[2].into(),
                runs_on: cols[3].into(),
                format: cols[4].into(),
            }
        })
        .collect();
    rows
}

fn require_tools(tools: &[&str]) {
    for tool in tools {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|out| out.status.success());
        assert!(found, "this test needs `{tool}` on PATH");
    }
}

/// A bash script with exactly `env` (plus PATH and HOME), as a runner gives a step.
fn bash(script: &str, env: &BTreeMap<String, String>, cwd: &Path) -> Output {
    let mut command = Command::new("bash");
    command
        .args(["-c", script])
        .current_dir(cwd)
        .env_clear()
        .envs(env);
    for inherited in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(inherited) {
            command.env(inherited, value);
        }
    }
    command.output().expect("bash runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

// ---------------------------------------------------------------------------------------
// The target list and the release workflow

#[test]
fn the_target_list_covers_the_platforms_the_issue_names() {
    let rows = targets();
    let names: BTreeSet<&str> = rows.iter().map(|row| row.target.as_str()).collect();
    let wanted = BTreeSet::from([
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ]);
    assert_eq!(names, wanted);
    let platforms: BTreeSet<(&str, &str)> = rows
        .iter()
        .map(|row| (row.os.as_str(), row.arch.as_str()))
        .collect();
    assert_eq!(platforms.len(), rows.len(), "two targets for one runner");
    for row in &rows {
        assert!(
            ["Linux", "macOS", "Windows"].contains(&row.os.as_str()),
            "{row:?}: runner.os is Linux, macOS or Windows"
        );
        assert!(
            ["X64", "ARM64"].contains(&row.arch.as_str()),
            "{row:?}: runner.arch"
        );
        let expected_format = if row.os == "Windows" { "zip" } else { "tar.gz" };
        assert_eq!(row.format, expected_format, "{row:?}");
    }
}

#[test]
fn the_matrix_script_prints_the_target_list() {
    require_tools(&["bash", "awk"]);
    let output = bash("release/matrix.sh", &BTreeMap::new(), root());
    assert!(output.status.success(), "{}", stderr(&output));
    let matrix: Value =
        serde_json::from_str(stdout(&output).trim()).expect("matrix.sh prints JSON");
    let include = matrix["include"].as_array().expect("an include list");
    let printed: Vec<(String, String, String)> = include
        .iter()
        .map(|row| {
            let field = |name: &str| text(&row[name], "matrix").to_owned();
            (field("target"), field("runs-on"), field("archive"))
        })
        .collect();
    let listed: Vec<(String, String, String)> = targets()
        .into_iter()
        .map(|row| (row.target, row.runs_on, row.format))
        .collect();
    assert_eq!(printed, listed);
}

#[test]
fn the_release_workflow_builds_the_target_list_and_publishes_everything() {
    let workflow = yaml(WORKFLOW);
    assert_eq!(workflow["on"]["push"]["tags"], serde_json::json!(["v*"]));
    let jobs = &workflow["jobs"];
    let runs = |job: &str| -> String {
        jobs[job]["steps"]
            .as_array()
            .unwrap_or_else(|| panic!("{WORKFLOW}: job {job} has no steps"))
            .iter()
            .filter_map(|step| step["run"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    // The matrix is the target list, not a second copy of it.
    assert!(runs("targets").contains("release/matrix.sh"));
    assert_eq!(
        jobs["build"]["strategy"]["matrix"],
        "${{ fromJSON(needs.targets.outputs.matrix) }}"
    );
    assert_eq!(jobs["build"]["runs-on"], "${{ matrix.runs-on }}");
    assert_eq!(jobs["build"]["env"]["TARGET"], "${{ matrix.target }}");
    let build = runs("build");
    assert!(build.contains("--locked --target \"$TARGET\""), "{build}");
    assert!(build.contains("musl-tools") || runs("build").contains("musl"));
    // The archives come from the script the action's test below runs against.
    assert!(runs("package").contains("release/package.sh \"$VERSION\" bin dist"));
    let release = runs("release");
    assert!(release.contains("gh release create") && release.contains("dist/*"));
    assert_eq!(jobs["release"]["permissions"]["contents"], "write");
    // The version is checked against Cargo.toml and the action's default before anything
    // is built.
    let version_check = runs("targets");
    assert!(version_check.contains("Cargo.toml") && version_check.contains(ACTION));

    let pushes: Vec<&Value> = jobs["image"]["steps"]
        .as_array()
        .expect("image steps")
        .iter()
        .filter(|step| {
            step["uses"]
                .as_str()
                .is_some_and(|uses| uses.starts_with("docker/build-push-action@"))
        })
        .collect();
    let targets: BTreeSet<&str> = pushes
        .iter()
        .map(|step| text(&step["with"]["target"], "target"))
        .collect();
    assert_eq!(targets, BTreeSet::from(["ci", "runtime"]));
    for step in pushes {
        assert_eq!(step["with"]["file"], DOCKERFILE);
        assert_eq!(step["with"]["context"], ".");
        assert_eq!(step["with"]["push"], true);
        let tags = text(&step["with"]["tags"], "tags");
        assert!(
            tags.contains(":${{ env.VERSION }}"),
            "the image is tagged with the version: {tags}"
        );
    }
    assert!(runs("image").contains("ghcr.io/"));
    assert_eq!(jobs["image"]["permissions"]["packages"], "write");
}

/// `run` scripts of the workflow and the action, with the step's `shell`.
fn run_scripts(path: &str) -> Vec<(String, String)> {
    let document = yaml(path);
    let mut found = Vec::new();
    let mut visit = |steps: &Value| {
        for step in steps.as_array().into_iter().flatten() {
            if let Some(run) = step["run"].as_str() {
                let name = step["id"]
                    .as_str()
                    .or(step["name"].as_str())
                    .unwrap_or("a step");
                found.push((name.to_owned(), run.to_owned()));
            }
        }
    };
    if let Some(jobs) = document["jobs"].as_object() {
        for job in jobs.values() {
            visit(&job["steps"]);
        }
    }
    visit(&document["runs"]["steps"]);
    assert!(!found.is_empty(), "{path}: no run steps");
    found
}

#[test]
fn run_scripts_are_valid_bash_and_take_values_through_env_only() {
    require_tools(&["bash"]);
    for path in [WORKFLOW, ACTION] {
        for (step, script) in run_scripts(path) {
            // An expression inside a script is pasted in as code: a crafted input or ref
            // name would run as shell.
            assert!(
                !script.contains("${{"),
                "{path}, {step}: a ${{{{ }}}} expression inside `run`"
            );
            let checked = Command::new("bash")
                .args(["-n", "-c", &script])
                .output()
                .expect("bash runs");
            assert!(
                checked.status.success(),
                "{path}, {step}: {}",
                stderr(&checked)
            );
        }
    }
    for script in ["release/matrix.sh", PACKAGE] {
        let checked = Command::new("bash")
            .arg("-n")
            .arg(root().join(script))
            .output()
            .expect("bash runs");
        assert!(checked.status.success(), "{script}: {}", stderr(&checked));
    }
}

// ---------------------------------------------------------------------------------------
// `mailtrap-access` command lines in the release scripts go through the CLI's parser

/// The argument lists of the `mailtrap-access` commands in a script of simple commands:
/// one per line or `&&`/`||`/`|`/`;` piece, or inside `$(...)`; leading `NAME=value`
/// assignments skipped, quotes removed, the words from a redirection on dropped.
fn mailtrap_commands(script: &str) -> Vec<Vec<String>> {
    let script = script.replace("\\\n", " ").replace("$(", "\n");
    let mut commands = Vec::new();
    for piece in script.split(['\n', ';', '|', '&']) {
        let words: Vec<String> = piece
            .split_whitespace()
            .map(|word| word.trim_end_matches(')').replace(['"', '\''], ""))
            .skip_while(|word| word.contains('=') && !word.starts_with('-'))
            .take_while(|word| !word.contains('>') && !word.starts_with('#'))
            .collect();
        if words.first().is_some_and(|word| word == "mailtrap-access") {
            commands.push(words);
        }
    }
    commands
}

fn accepted(words: &[String]) -> Result<(), String> {
    match parse_command_line(words) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == clap::error::ErrorKind::DisplayVersion => Ok(()),
        Err(err) => Err(err.to_string()),
    }
}

#[test]
fn the_packaging_script_runs_only_command_lines_the_cli_accepts() {
    let commands = mailtrap_commands(&read(PACKAGE));
    let lines: BTreeSet<String> = commands.iter().map(|words| words.join(" ")).collect();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        assert!(
            lines.contains(&format!("mailtrap-access completions {shell}")),
            "{PACKAGE}: no completions for {shell} in {lines:#?}"
        );
    }
    assert!(
        lines.contains("mailtrap-access man --out $docs/man"),
        "{lines:#?}"
    );
    assert!(lines.contains("mailtrap-access --version"), "{lines:#?}");
    let mut all = commands;
    for path in [WORKFLOW, ACTION] {
        for (_, script) in run_scripts(path) {
            all.extend(mailtrap_commands(&script));
        }
    }
    for words in &all {
        if let Err(err) = accepted(words) {
            panic!("`{}` is refused by the CLI:\n{err}", words.join(" "));
        }
    }
}

#[test]
fn the_command_extraction_finds_bad_command_lines() {
    let script = "x=$(mailtrap-access --version)\nA=1 mailtrap-access completions bash > \"$out\" && \\\n  mailtrap-access man --outt dir\necho mailtrap-access plan\n";
    let commands = mailtrap_commands(script);
    let lines: Vec<String> = commands.iter().map(|words| words.join(" ")).collect();
    assert_eq!(
        lines,
        [
            "mailtrap-access --version",
            "mailtrap-access completions bash",
            "mailtrap-access man --outt dir",
        ]
    );
    let verdicts: Vec<bool> = commands
        .iter()
        .map(|words| accepted(words).is_ok())
        .collect();
    assert_eq!(verdicts, [true, true, false]);
}

// ---------------------------------------------------------------------------------------
// The action, run step by step against what the packaging script makes

struct ActionStep {
    id: String,
    env: BTreeMap<String, String>,
    run: String,
}

fn action_steps() -> Vec<ActionStep> {
    let action = yaml(ACTION);
    assert_eq!(action["runs"]["using"], "composite");
    action["runs"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|step| step["run"].is_string())
        .map(|step| {
            assert_eq!(step["shell"], "bash", "{step}");
            ActionStep {
                id: text(&step["id"], "id").to_owned(),
                env: step["env"]
                    .as_object()
                    .map(|env| {
                        env.iter()
                            .map(|(k, v)| (k.clone(), text(v, k).to_owned()))
                            .collect()
                    })
                    .unwrap_or_default(),
                run: text(&step["run"], "run").to_owned(),
            }
        })
        .collect()
}

fn action_default(input: &str) -> String {
    text(&yaml(ACTION)["inputs"][input]["default"], input).to_owned()
}

/// What the runner would pass: `env:` expressions evaluated from the inputs and earlier
/// steps' outputs (any other expression fails the test), plus the runner's variables.
struct ActionRun {
    inputs: BTreeMap<String, String>,
    runner: BTreeMap<String, String>,
    outputs: BTreeMap<String, BTreeMap<String, String>>,
    scratch: PathBuf,
}

impl ActionRun {
    fn new(scratch: &Path, server: &Path, os: &str, arch: &str, action_path: &Path) -> ActionRun {
        let runner = BTreeMap::from([
            ("RUNNER_OS".to_owned(), os.to_owned()),
            ("RUNNER_ARCH".to_owned(), arch.to_owned()),
            (
                "RUNNER_TOOL_CACHE".to_owned(),
                scratch.join("tool-cache").display().to_string(),
            ),
            (
                "GITHUB_ACTION_PATH".to_owned(),
                action_path.display().to_string(),
            ),
            (
                "GITHUB_SERVER_URL".to_owned(),
                format!("file://{}", server.display()),
            ),
        ]);
        let inputs = ["version", "repository"]
            .into_iter()
            .map(|name| (name.to_owned(), action_default(name)))
            .collect();
        ActionRun {
            inputs,
            runner,
            outputs: BTreeMap::new(),
            scratch: scratch.to_owned(),
        }
    }

    fn evaluate(&self, expression: &str) -> String {
        let inner = expression
            .strip_prefix("${{")
            .and_then(|rest| rest.strip_suffix("}}"))
            .map(str::trim)
            .unwrap_or_else(|| panic!("env value {expression:?} is not one expression"));
        if let Some(name) = inner.strip_prefix("inputs.") {
            return self.inputs[name].clone();
        }
        let parts: Vec<&str> = inner.split('.').collect();
        match parts.as_slice() {
            ["steps", id, "outputs", name] => self.outputs[*id]
                .get(*name)
                .unwrap_or_else(|| panic!("step {id} set no output {name}"))
                .clone(),
            _ => panic!("unexpected expression {inner:?}"),
        }
    }

    fn step(&mut self, step: &ActionStep) -> Output {
        let output_file = self.scratch.join(format!("output-{}", step.id));
        let path_file = self.scratch.join("github-path");
        let mut env = self.runner.clone();
        for (name, value) in &step.env {
            env.insert(name.clone(), self.evaluate(value));
        }
        env.insert("GITHUB_OUTPUT".into(), output_file.display().to_string());
        env.insert("GITHUB_PATH".into(), path_file.display().to_string());
        let output = bash(&step.run, &env, &self.scratch);
        let written = std::fs::read_to_string(&output_file).unwrap_or_default();
        let outputs = written
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        self.outputs.insert(step.id.clone(), outputs);
        output
    }

    /// Every step in order (the cache step is a miss); the first failure is returned.
    fn all(&mut self) -> Result<String, String> {
        let mut log = String::new();
        for step in action_steps() {
            let output = self.step(&step);
            log.push_str(&stdout(&output));
            if !output.status.success() {
                return Err(format!(
                    "step {}: {}{}",
                    step.id,
                    stdout(&output),
                    stderr(&output)
                ));
            }
        }
        Ok(log)
    }
}

/// A release of fake binaries (each says which target it is), packaged by
/// `release/package.sh` and laid out as `file://…/OWNER/NAME/releases/download/vX/`.
fn fake_release(scratch: &Path) -> PathBuf {
    let bins = scratch.join("bins");
    for row in targets() {
        let dir = bins.join(&row.target);
        std::fs::create_dir_all(&dir).unwrap();
        let exe = if row.target.contains("-windows-") {
            "mailtrap-access.exe"
        } else {
            "mailtrap-access"
        };
        std::fs::write(
            dir.join(exe),
            format!(
                "#!/bin/sh\necho \"fake mailtrap-access for {}\"\n",
                row.target
            ),
        )
        .unwrap();
    }
    let download = scratch.join(format!(
        "server/your-org/mailtrap-access/releases/download/v{VERSION}"
    ));
    let env = BTreeMap::from([("MAILTRAP_ACCESS_DOCS_BIN".to_owned(), BIN.to_owned())]);
    let output = bash(
        &format!(
            "release/package.sh {VERSION} '{}' '{}'",
            bins.display(),
            download.display()
        ),
        &env,
        root(),
    );
    assert!(output.status.success(), "package.sh: {}", stderr(&output));
    download
}

#[test]
fn the_action_installs_the_archive_package_sh_made_for_every_runner() {
    require_tools(&["bash", "awk", "curl", "tar", "zip", "unzip", "sha256sum"]);
    let scratch = tempfile::tempdir().unwrap();
    let download = fake_release(scratch.path());
    let sums = std::fs::read_to_string(download.join("SHA256SUMS")).unwrap();
    assert_eq!(sums.lines().count(), targets().len(), "{sums}");

    for row in targets() {
        let runner = scratch.path().join(format!("runner-{}", row.target));
        std::fs::create_dir_all(&runner).unwrap();
        let server = scratch.path().join("server");
        let mut run = ActionRun::new(&runner, &server, &row.os, &row.arch, &root().join("action"));
        run.inputs
            .insert("repository".into(), "your-org/mailtrap-access".into());
        let log = run.all().unwrap_or_else(|err| panic!("{row:?}: {err}"));

        assert!(
            log.contains(&format!("fake mailtrap-access for {}", row.target)),
            "{row:?}: the action ran another binary: {log}"
        );
        let resolved = &run.outputs["resolve"];
        assert_eq!(resolved["target"], row.target);
        assert_eq!(resolved["version"], VERSION);
        let bin_dir = PathBuf::from(&resolved["bin-dir"]);
        let on_path = std::fs::read_to_string(runner.join("github-path")).unwrap();
        assert_eq!(on_path.trim(), bin_dir.display().to_string());
        // The archive brought the docs along; the download itself was cleaned away.
        for doc in [
            "README.md",
            "LICENSE",
            "completions/mailtrap-access.bash",
            "completions/_mailtrap-access",
            "man/mailtrap-access.1",
            "man/mailtrap-access-plan.1",
        ] {
            assert!(bin_dir.join(doc).is_file(), "{row:?}: no {doc}");
        }
        let cached: Vec<String> = std::fs::read_dir(&resolved["dir"])
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            cached,
            [format!("mailtrap-access-{VERSION}-{}", row.target)]
        );
    }
}

#[test]
fn the_action_refuses_a_checksum_that_does_not_match() {
    require_tools(&["bash", "awk", "curl", "tar", "zip", "sha256sum"]);
    let scratch = tempfile::tempdir().unwrap();
    let download = fake_release(scratch.path());
    let sums_path = download.join("SHA256SUMS");
    let sums = std::fs::read_to_string(&sums_path).unwrap();
    let linux = targets()
        .into_iter()
        .find(|row| row.os == "Linux" && row.arch == "X64")
        .expect("a Linux X64 target");
    let tampered: String = sums
        .lines()
        .map(|line| {
            if line.contains(&linux.target) {
                format!("{}{}\n", "0".repeat(64), &line[64..])
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    std::fs::write(&sums_path, tampered).unwrap();
    // The action's steps for Linux, against the release served from `server`.
    let install = || {
        let mut run = ActionRun::new(
            scratch.path(),
            &scratch.path().join("server"),
            &linux.os,
            &linux.arch,
            &root().join("action"),
        );
        run.inputs
            .insert("repository".into(), "your-org/mailtrap-access".into());
        run.all()
    };
    let err = install().expect_err("a wrong checksum must stop the install");
    assert!(err.starts_with("step download"), "{err}");
    assert!(!scratch.path().join("github-path").exists(), "{err}");

    // A release whose SHA256SUMS omits the archive is refused too.
    std::fs::write(&sums_path, "").unwrap();
    let err = install().expect_err("no checksum line must stop the install");
    assert!(err.contains("lists no"), "{err}");
}

#[test]
fn the_action_refuses_unknown_platforms_and_versions_and_finds_its_repository() {
    require_tools(&["bash", "awk"]);
    let resolve = action_steps()
        .into_iter()
        .find(|step| step.id == "resolve")
        .expect("a resolve step");
    let scratch = tempfile::tempdir().unwrap();
    // Laid out as the runner checks out `uses: acme/mailtrap-access/action@v0.1.0`.
    let checkout = scratch.path().join("_actions/acme/mailtrap-access/v0.1.0");
    std::fs::create_dir_all(checkout.join("release")).unwrap();
    std::fs::create_dir_all(checkout.join("action")).unwrap();
    std::fs::copy(root().join(TARGETS), checkout.join(TARGETS)).unwrap();

    let mut run = ActionRun::new(
        scratch.path(),
        &scratch.path().join("server"),
        "macOS",
        "ARM64",
        &checkout.join("action"),
    );
    let output = run.step(&resolve);
    assert!(output.status.success(), "{}", stdout(&output));
    let resolved = &run.outputs["resolve"];
    assert_eq!(
        resolved["url"],
        format!(
            "file://{}/acme/mailtrap-access/releases/download/v{VERSION}",
            scratch.path().join("server").display()
        )
    );
    assert_eq!(
        resolved["archive"],
        format!("mailtrap-access-{VERSION}-aarch64-apple-darwin.tar.gz")
    );

    let mut run = ActionRun::new(
        scratch.path(),
        &scratch.path().join("server"),
        "Linux",
        "ARM",
        &checkout.join("action"),
    );
    let output = run.step(&resolve);
    assert!(!output.status.success());
    assert!(stdout(&output).contains("no release binary for Linux ARM"));

    for bad in ["latest", "0.1", "1.0.0; rm -rf /"] {
        let mut run = ActionRun::new(
            scratch.path(),
            &scratch.path().join("server"),
            "Linux",
            "X64",
            &checkout.join("action"),
        );
        run.inputs.insert("version".into(), bad.into());
        let output = run.step(&resolve);
        assert!(!output.status.success(), "{bad}");
        assert!(
            stdout(&output).contains("is not a release version"),
            "{bad}"
        );
    }
    // A leading v is the tag's spelling of the same version.
    let mut run = ActionRun::new(
        scratch.path(),
        &scratch.path().join("server"),
        "Linux",
        "X64",
        &checkout.join("action"),
    );
    run.inputs.insert("version".into(), format!("v{VERSION}"));
    assert!(run.step(&resolve).status.success());
    assert_eq!(run.outputs["resolve"]["version"], VERSION);
}

#[test]
fn the_action_installs_this_release_by_default() {
    // `uses: …/action@vX` must install X: the release workflow refuses a tag for which
    // this default was not bumped, and this test catches it before the tag.
    assert_eq!(action_default("version"), VERSION);
    let action = yaml(ACTION);
    let uses: Vec<&str> = action["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|step| step["uses"].as_str())
        .collect();
    assert_eq!(uses, ["actions/cache@v4"]);
}

// ---------------------------------------------------------------------------------------
// The container image and the example pipelines

/// The instructions of each stage of a Dockerfile: (FROM line, [(INSTRUCTION, rest)]).
fn dockerfile_stages(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let joined = text.replace("\\\n", " ");
    let mut stages: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in joined.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (instruction, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let instruction = instruction.to_ascii_uppercase();
        if instruction == "FROM" {
            stages.push((rest.trim().to_owned(), Vec::new()));
        } else if let Some((_, body)) = stages.last_mut() {
            body.push((instruction, rest.trim().to_owned()));
        }
    }
    stages
}

#[test]
fn the_dockerfile_builds_a_static_binary_and_ships_it_alone_as_non_root() {
    let stages = dockerfile_stages(&read(DOCKERFILE));
    assert!(stages.len() >= 2, "a multi-stage build: {stages:?}");
    let (build_from, build) = &stages[0];
    assert!(
        build_from.starts_with("rust:") && build_from.contains("alpine"),
        "{build_from}"
    );
    assert!(
        build
            .iter()
            .any(|(i, rest)| i == "RUN" && rest.contains("cargo build --release --locked")),
        "{build:?}"
    );
    let by_name = |name: &str| {
        stages
            .iter()
            .find(|(from, _)| from.ends_with(&format!(" AS {name}")))
            .unwrap_or_else(|| panic!("no stage {name}"))
    };
    // The last stage is what a plain `docker build` makes.
    assert_eq!(stages.last().unwrap().0, by_name("runtime").0);
    let (runtime_from, runtime) = by_name("runtime");
    assert!(
        runtime_from.starts_with("gcr.io/distroless/static") && runtime_from.contains(":nonroot"),
        "{runtime_from}"
    );
    let copies: Vec<&String> = runtime
        .iter()
        .filter(|(i, _)| i == "COPY" || i == "ADD" || i == "RUN")
        .map(|(_, rest)| rest)
        .collect();
    assert_eq!(
        copies,
        ["--from=build /usr/local/bin/mailtrap-access /usr/local/bin/mailtrap-access"],
        "the runtime image gets the binary and nothing else"
    );
    for name in ["runtime", "ci"] {
        let (_, body) = by_name(name);
        let user = body
            .iter()
            .rev()
            .find(|(i, _)| i == "USER")
            .map(|(_, rest)| rest.as_str())
            .unwrap_or_else(|| panic!("{name}: no USER"));
        let uid = user.split(':').next().unwrap();
        assert!(
            uid.parse::<u32>().is_ok_and(|uid| uid != 0),
            "{name}: USER {user} is not a non-root uid"
        );
        let entrypoint: Vec<&String> = body
            .iter()
            .filter(|(i, _)| i == "ENTRYPOINT")
            .map(|(_, rest)| rest)
            .collect();
        assert_eq!(entrypoint, [r#"["mailtrap-access"]"#], "{name}");
    }
    // The build context is the repository; target/ (gigabytes) and .git stay out.
    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(|line| line.trim().trim_end_matches('/').to_owned())
        .collect();
    for must in ["target", ".git"] {
        assert!(
            ignored.iter().any(|line| line == must),
            "{must} not in .dockerignore"
        );
    }
    for kept in [
        "src",
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "benches",
        "examples",
    ] {
        assert!(
            !ignored.iter().any(|line| line == kept),
            "{kept} is needed by the build"
        );
    }
}

#[test]
fn the_example_pipelines_install_with_the_action_and_the_image() {
    let github = yaml(GITHUB_EXAMPLE);
    let mut pinned = BTreeSet::new();
    for (name, job) in github["jobs"].as_object().expect("jobs") {
        let uses: Vec<&str> = job["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|step| step["uses"].as_str())
            .filter(|uses| uses.contains("mailtrap-access/action@"))
            .collect();
        assert_eq!(
            uses.len(),
            1,
            "{GITHUB_EXAMPLE}: job {name} installs once: {uses:?}"
        );
        pinned.insert(
            uses[0]
                .rsplit_once("@v")
                .expect("a version tag")
                .1
                .to_owned(),
        );
    }
    let gitlab = yaml(GITLAB_EXAMPLE);
    let image = &gitlab["default"]["image"];
    let name = text(&image["name"], "image name");
    assert_eq!(image["entrypoint"], serde_json::json!([""]));
    let tag = name
        .strip_prefix("ghcr.io/your-org/mailtrap-access:")
        .and_then(|tag| tag.strip_suffix("-ci"))
        .unwrap_or_else(|| panic!("{GITLAB_EXAMPLE}: image {name} is not the release's -ci image"));
    pinned.insert(tag.to_owned());
    assert_eq!(
        pinned.len(),
        1,
        "the examples pin different releases: {pinned:?}"
    );
    for path in [GITHUB_EXAMPLE, GITLAB_EXAMPLE] {
        let text = read(path);
        assert!(
            !text.contains("cargo install"),
            "{path} still builds the tool"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Completions, man pages, --version

fn subcommand_names() -> Vec<String> {
    cli_command()
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect()
}

#[test]
fn completions_are_generated_for_every_shell_and_bash_parses_its_own() {
    use clap::ValueEnum;
    use clap_complete::Shell;
    let names = subcommand_names();
    assert!(names.contains(&"completions".to_owned()) && names.contains(&"man".to_owned()));
    for shell in Shell::value_variants() {
        let output = Command::new(BIN)
            .args(["completions", &shell.to_string()])
            .output()
            .unwrap();
        assert!(output.status.success(), "{shell}: {}", stderr(&output));
        let script = String::from_utf8(output.stdout).expect("UTF-8");
        for name in &names {
            assert!(script.contains(name.as_str()), "{shell}: no {name}");
        }
        assert!(
            script.contains("detailed-exitcode"),
            "{shell}: flags are completed"
        );
    }
    require_tools(&["bash"]);
    // Through the binary, as a user installs it.
    let output = Command::new(BIN)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mailtrap-access.bash");
    std::fs::write(&file, &output.stdout).unwrap();
    let checked = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(checked.status.success(), "{}", stderr(&checked));
    // Sourced for real, it registers the completion function.
    let sourced = Command::new("bash")
        .arg("-c")
        .arg(format!(
            ". '{}' && complete -p mailtrap-access",
            file.display()
        ))
        .output()
        .unwrap();
    assert!(sourced.status.success(), "{}", stderr(&sourced));
    assert!(stdout(&sourced).contains("mailtrap-access"));

    let refused = Command::new(BIN)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
}

#[test]
fn man_pages_are_written_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let output = Command::new(BIN)
        .args(["man", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let written: BTreeSet<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut expected: BTreeSet<String> = subcommand_names()
        .iter()
        .map(|name| format!("mailtrap-access-{name}.1"))
        .collect();
    expected.insert("mailtrap-access.1".into());
    assert_eq!(written, expected);
    for name in subcommand_names() {
        let page = std::fs::read_to_string(out.join(format!("mailtrap-access-{name}.1"))).unwrap();
        assert!(
            page.starts_with(".ie") && page.contains(&format!(".TH mailtrap-access-{name} 1")),
            "{name}: {page}"
        );
        let about = cli_command()
            .find_subcommand(&name)
            .and_then(|sub| sub.get_about().map(|about| about.to_string()))
            .unwrap_or_default();
        let first_words: String = about
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            page.contains(&first_words),
            "{name}: no {first_words:?} in its page"
        );
    }
    // Without --out, the main page is on stdout.
    let output = Command::new(BIN).arg("man").output().unwrap();
    assert!(output.status.success());
    assert!(stdout(&output).contains(".TH mailtrap-access 1"));
    assert!(stdout(&output).contains("completions"));
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let output = Command::new(BIN).arg("--version").output().unwrap();
    assert!(output.status.success());
    let printed = stdout(&output);
    assert!(
        printed.starts_with(&format!("mailtrap-access {VERSION}")),
        "{printed}"
    );
    // cargo reruns the build script when HEAD moves, so the binary under test is of this
    // very commit; without git (a tarball) the version stands alone.
    let head = Command::new("git")
        .arg("-C")
        .arg(root())
        .args(["rev-parse", "--verify", "--quiet", "HEAD"])
        .output();
    match head {
        Ok(head) if head.status.success() && root().join(".git").exists() => {
            let commit = stdout(&head);
            assert_eq!(
                printed.trim(),
                format!("mailtrap-access {VERSION} ({})", &commit[..9])
            );
        }
        _ => assert_eq!(printed.trim(), format!("mailtrap-access {VERSION}")),
    }
}

// ---------------------------------------------------------------------------------------
// The build script's reading of .git

const COMMIT_A: &str = "1111111111111111111111111111111111111111";
const COMMIT_B: &str = "2222222222222222222222222222222222222222";

#[test]
fn the_build_script_follows_a_linked_worktree_to_its_branch() {
    let scratch = tempfile::tempdir().unwrap();
    let common = scratch.path().join("main/.git");
    let worktree_git = common.join("worktrees/wt");
    let checkout = scratch.path().join("wt");
    std::fs::create_dir_all(common.join("refs/heads")).unwrap();
    std::fs::create_dir_all(&worktree_git).unwrap();
    std::fs::create_dir_all(&checkout).unwrap();
    std::fs::write(
        checkout.join(".git"),
        format!("gitdir: {}\n", worktree_git.display()),
    )
    .unwrap();
    std::fs::write(worktree_git.join("commondir"), "../..\n").unwrap();
    std::fs::write(worktree_git.join("HEAD"), "ref: refs/heads/release\n").unwrap();
    std::fs::write(common.join("refs/heads/release"), format!("{COMMIT_A}\n")).unwrap();
    std::fs::write(
        common.join("packed-refs"),
        format!("# pack-refs with: peeled\n{COMMIT_B} refs/heads/release\n"),
    )
    .unwrap();

    let git = build_script::GitDirs::find(&checkout).expect("a .git file is followed");
    let head = "ref: refs/heads/release";
    // The loose ref wins over the packed one, as in git.
    assert_eq!(git.resolve(head).as_deref(), Some(COMMIT_A));
    let watched: Vec<PathBuf> = git
        .watched(head)
        .into_iter()
        .map(|path| path.canonicalize().unwrap())
        .collect();
    let expect = |path: PathBuf| path.canonicalize().unwrap();
    assert_eq!(
        watched,
        [
            expect(worktree_git.join("HEAD")),
            expect(common.join("refs/heads/release")),
            expect(common.join("packed-refs")),
        ]
    );

    // Packed: the loose file is gone, packed-refs has the commit and is watched.
    std::fs::remove_file(common.join("refs/heads/release")).unwrap();
    assert_eq!(git.resolve(head).as_deref(), Some(COMMIT_B));
    assert_eq!(git.watched(head).len(), 2);
}

#[test]
fn the_build_script_reads_plain_and_detached_checkouts_and_gives_up_quietly() {
    let scratch = tempfile::tempdir().unwrap();
    let checkout = scratch.path();
    assert!(
        build_script::GitDirs::find(checkout).is_none(),
        "no .git: the version alone"
    );
    std::fs::create_dir_all(checkout.join(".git")).unwrap();
    let git = build_script::GitDirs::find(checkout).expect("a .git directory");
    assert_eq!(git.dir, git.common);
    assert_eq!(
        git.resolve(COMMIT_A).as_deref(),
        Some(COMMIT_A),
        "detached HEAD"
    );
    assert_eq!(git.resolve("ref: refs/heads/gone"), None);
    assert_eq!(git.resolve("garbage"), None);
    // Nothing exists to watch, and a missing path would rerun the script on every build.
    assert!(git.watched("ref: refs/heads/gone").is_empty());
}

#[test]
fn the_readme_names_the_rust_version_cargo_toml_requires() {
    let manifest = read("Cargo.toml");
    let required = (manifest.lines())
        .find_map(|line| line.strip_prefix("rust-version = "))
        .expect("Cargo.toml sets rust-version")
        .trim_matches('"');
    let readme = read("README.md");
    assert!(
        readme.contains(&format!("**From source** (Rust {required} or later")),
        "the README's install section does not say Rust {required}"
    );
}
