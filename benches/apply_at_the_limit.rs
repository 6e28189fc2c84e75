//! How close plan and apply sit to the limits the API sets. Run with
//! `cargo bench --bench apply_at_the_limit` (`BENCH_QUICK=1` for small sizes only,
//! `BENCH_LOCAL_ONLY=1` for the plan and validate figures only, `BENCH_DUMP=DIR` to
//! write the big account and its desired file for profiling, and run nothing).
//!
//! For each account size it generates an account in the sandbox (in-process, on
//! loopback), runs the real binary, counts the requests the sandbox received and times
//! the run, then prints: size, requests sent, the lower bound on requests, time, the
//! lower bound on time, and their ratio. The time bound of a rate-limited run is
//! (requests - L) x W / L for a limit of L per W: the first L requests fit in the first
//! window, every further one waits for a slot.

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use mailtrap_access::rate::RateLimit;
use mailtrap_access::sandbox::{BlockingSandbox, SandboxConfig, SandboxState};

const TOKEN: &str = "bench-token";
const ACCOUNT: u64 = 1111111;
const PROJECTS: usize = 10;
const INBOXES_PER_PROJECT: usize = 4;

/// An account of `users` users with `rows` viewer rows each, on a tree of 10 projects
/// with 4 inboxes each.
fn account(users: usize, rows: usize) -> SandboxState {
    SandboxState::from_json(&account_json(users, rows)).expect("the generated account is valid")
}

/// The seed state of [`account`], as the sandbox's `--state` file reads it.
fn account_json(users: usize, rows: usize) -> String {
    let mut projects = Vec::new();
    for p in 0..PROJECTS {
        let inboxes: Vec<String> = (0..INBOXES_PER_PROJECT)
            .map(|i| {
                format!(
                    r#"{{"id":{},"name":"Inbox {i}","type":"inbox","access_level":100,"resources":[]}}"#,
                    inbox_id(p * INBOXES_PER_PROJECT + i)
                )
            })
            .collect();
        projects.push(format!(
            r#"{{"id":{},"name":"Project {p}","type":"project","access_level":100,"resources":[{}]}}"#,
            3_000_000 + p,
            inboxes.join(",")
        ));
    }
    let mut accesses = Vec::with_capacity(users + 1);
    accesses.push(format!(
        r#"{{"id":1,"specifier_type":"User","resources":[{{"resource_type":"account","resource_id":{ACCOUNT},"access_level":1000}}],"specifier":{{"id":1,"email":"owner@bench.io","name":"Owner","two_factor_authentication_enabled":true}}}}"#
    ));
    for u in 0..users {
        let mut row_list: Vec<String> = (0..rows)
            .map(|r| {
                format!(
                    r#"{{"resource_type":"inbox","resource_id":{},"access_level":10}}"#,
                    inbox_id((u + r) % (PROJECTS * INBOXES_PER_PROJECT))
                )
            })
            .collect();
        if u == 0 {
            // Someone must stay account admin, or the last-admin rail would object.
            row_list.push(format!(
                r#"{{"resource_type":"account","resource_id":{ACCOUNT},"access_level":100}}"#
            ));
        }
        accesses.push(format!(
            r#"{{"id":{},"specifier_type":"User","resources":[{}],"specifier":{{"id":{},"email":"{}","name":"User {u}","two_factor_authentication_enabled":false}}}}"#,
            10_000_000 + u,
            row_list.join(","),
            100 + u,
            email(u)
        ));
    }
    format!(
        r#"{{"account_id":{ACCOUNT},"resources":[{{"id":{ACCOUNT},"name":"Bench","type":"account","access_level":100,"resources":[{}]}}],"accesses":[{}]}}"#,
        projects.join(","),
        accesses.join(",")
    )
}

fn inbox_id(n: usize) -> usize {
    4_000_000 + n
}

fn email(u: usize) -> String {
    format!("user{u}@bench.io")
}

fn inbox_name(n: usize) -> String {
    format!(
        "Project {}/Inbox {}",
        n / INBOXES_PER_PROJECT,
        n % INBOXES_PER_PROJECT
    )
}

/// The desired file: the same rows, except that each user's first inbox becomes admin,
/// so every user needs exactly one bulk PUT. Written as a team would: users sharing a
/// set of inboxes share two roles (the first and second half of the set; 40 of each),
/// plus one direct grant each.
fn desired(users: usize, rows: usize) -> String {
    assert!(rows >= 3, "each role needs at least one inbox");
    let spans = PROJECTS * INBOXES_PER_PROJECT;
    let half = rows / 2;
    let mut text = format!("version: 1\naccount_id: {ACCOUNT}\nroles:\n");
    for start in 0..spans.min(users) {
        for (role, range) in [("a", 1..=half), ("b", half + 1..=rows - 1)] {
            let _ = writeln!(text, "  span-{role}-{start}:\n    inboxes:");
            for r in range {
                let _ = writeln!(
                    text,
                    "      \"{}\": viewer",
                    inbox_name((start + r) % spans)
                );
            }
        }
    }
    text.push_str("users:\n");
    for u in 0..users {
        let _ = writeln!(text, "  {}:", email(u));
        if u == 0 {
            text.push_str("    account: admin\n");
        }
        let span = u % spans;
        let _ = writeln!(text, "    roles: [span-a-{span}, span-b-{span}]");
        let _ = writeln!(
            text,
            "    inboxes: {{\"{}\": admin}}",
            inbox_name(u % spans)
        );
    }
    text
}

fn start(state: SandboxState, rate_limit: RateLimit) -> BlockingSandbox {
    let mut config = SandboxConfig::new(state, TOKEN);
    config.rate_limit = rate_limit;
    BlockingSandbox::start(config, ([127, 0, 0, 1], 0).into()).expect("sandbox starts")
}

/// Run the binary; returns its wall time.
fn run(sandbox: &BlockingSandbox, args: &[&str]) -> Duration {
    let begin = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_mailtrap-access"))
        .args(args)
        .env("MAILTRAP_API_URL", sandbox.base_url())
        .env("MAILTRAP_API_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs");
    let elapsed = begin.elapsed();
    assert!(
        output.status.code() == Some(0) || output.status.code() == Some(2),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

/// Peak resident memory of the binary running `args`, in bytes, read by GNU time
/// (`getrusage` on children would count the forked copy of this big process too).
fn peak_rss(sandbox: &BlockingSandbox, args: &[&str]) -> Option<u64> {
    let output = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_mailtrap-access"))
        .args(args)
        .env("MAILTRAP_API_URL", sandbox.base_url())
        .env("MAILTRAP_API_TOKEN", TOKEN)
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let kilobytes: u64 = stderr.lines().last()?.trim().parse().ok()?;
    Some(kilobytes * 1024)
}

struct Row {
    case: String,
    requests: usize,
    request_bound: usize,
    time: Duration,
    time_bound: Duration,
    rate_limited: usize,
}

fn print_table(rows: &[Row]) {
    println!(
        "| case | requests | lower bound | 429s | time (s) | time bound (s) | ratio |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for row in rows {
        let ratio = if row.time_bound.is_zero() {
            "-".to_string()
        } else {
            format!(
                "{:.2}",
                row.time.as_secs_f64() / row.time_bound.as_secs_f64()
            )
        };
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | {ratio} |",
            row.case,
            row.requests,
            row.request_bound,
            row.rate_limited,
            row.time.as_secs_f64(),
            row.time_bound.as_secs_f64()
        );
    }
}

fn rate_bound(requests: usize, limit: RateLimit) -> Duration {
    let beyond_first_window = requests.saturating_sub(limit.requests as usize);
    limit
        .window
        .mul_f64(beyond_first_window as f64 / f64::from(limit.requests))
}

fn plan_and_apply(users: usize, rows: &mut Vec<Row>) {
    let limit = RateLimit::MAILTRAP;
    let sandbox = start(account(users, 3), limit);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("desired.yaml");
    std::fs::write(&file, desired(users, 3)).unwrap();
    let file = file.to_str().unwrap();

    let time = run(&sandbox, &["plan", "-f", file]);
    let requests = sandbox.requests();
    rows.push(Row {
        case: format!("plan, {users} users"),
        requests: requests.len(),
        request_bound: 2,
        time,
        time_bound: Duration::ZERO,
        rate_limited: requests.iter().filter(|r| r.status == 429).count(),
    });
    sandbox.clear_requests();

    let time = run(
        &sandbox,
        &[
            "apply",
            "-f",
            file,
            "--auto-approve",
            "--allow-mass-removal",
        ],
    );
    let requests = sandbox.requests();
    let bound = 2 + users + 2;
    rows.push(Row {
        case: format!("apply, {users} users changed"),
        requests: requests.len(),
        request_bound: bound,
        time,
        time_bound: rate_bound(bound, limit),
        rate_limited: requests.iter().filter(|r| r.status == 429).count(),
    });
}

/// Apply when every request takes `latency` and the rate limit does not bind: the bound
/// is requests x latency / concurrency.
fn latency_bound(users: usize, latency: Duration, concurrency: u32, rows: &mut Vec<Row>) {
    let unbound = RateLimit {
        requests: 1_000_000,
        window: Duration::from_secs(10),
    };
    let mut config = SandboxConfig::new(account(users, 3), TOKEN);
    config.rate_limit = unbound;
    config.faults.latency = latency;
    let sandbox =
        BlockingSandbox::start(config, ([127, 0, 0, 1], 0).into()).expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("desired.yaml");
    std::fs::write(&file, desired(users, 3)).unwrap();
    let concurrency_flag = concurrency.to_string();
    let time = run(
        &sandbox,
        &[
            "apply",
            "-f",
            file.to_str().unwrap(),
            "--auto-approve",
            "--allow-mass-removal",
            "--rate-limit",
            "1000000/10s",
            "--concurrency",
            &concurrency_flag,
        ],
    );
    let requests = sandbox.requests();
    let bound = 2 + users + 2;
    rows.push(Row {
        case: format!(
            "apply, {users} users, {} ms latency, concurrency {concurrency}",
            latency.as_millis()
        ),
        requests: requests.len(),
        request_bound: bound,
        time,
        time_bound: latency.mul_f64(bound as f64 / f64::from(concurrency)),
        rate_limited: requests.iter().filter(|r| r.status == 429).count(),
    });
}

/// The desired file of [`desired`]'s account spelled out: every user's 20 (or `rows`)
/// inboxes listed one by one, the first as admin.
fn explicit_desired(users: usize, rows: usize) -> String {
    let spans = PROJECTS * INBOXES_PER_PROJECT;
    let mut text = format!("version: 1\naccount_id: {ACCOUNT}\nusers:\n");
    for u in 0..users {
        let _ = writeln!(text, "  {}:", email(u));
        if u == 0 {
            text.push_str("    account: admin\n");
        }
        text.push_str("    inboxes:\n");
        for r in 0..rows {
            let level = if r == 0 { "admin" } else { "viewer" };
            let _ = writeln!(text, "      \"{}\": {level}", inbox_name((u + r) % spans));
        }
    }
    text
}

/// The median of `rounds` runs of `run`.
fn median(rounds: usize, mut run: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..rounds).map(|_| run()).collect();
    times.sort();
    times[rounds / 2]
}

/// `plan` on a big account as a process, against a bare client (curl) fetching the same
/// two responses from the same server; and plan's peak memory against the responses.
fn plan_against_a_bare_fetch(users: usize, rows_per_user: usize) {
    let sandbox = start(
        account(users, rows_per_user),
        RateLimit {
            requests: 1_000_000,
            window: Duration::from_secs(10),
        },
    );
    let base = sandbox.base_url();
    let paths = [
        format!("{base}/api/accounts/{ACCOUNT}/account_accesses"),
        format!("{base}/api/accounts/{ACCOUNT}/permissions/resources"),
    ];
    let fetch = || {
        let begin = Instant::now();
        let status = Command::new("curl")
            .args([
                "-sf",
                "--no-progress-meter",
                "--parallel",
                "-H",
                &format!("Api-Token: {TOKEN}"),
            ])
            .args(
                paths
                    .iter()
                    .flat_map(|url| ["-o", "/dev/null", url.as_str()]),
            )
            .status()
            .expect("curl runs");
        assert!(status.success());
        begin.elapsed()
    };
    let response_bytes: usize = paths
        .iter()
        .map(|url| {
            let output = Command::new("curl")
                .args(["-sf", "-H", &format!("Api-Token: {TOKEN}"), url])
                .output()
                .expect("curl runs");
            output.stdout.len()
        })
        .sum();
    const ROUNDS: usize = 9;
    let bare = median(ROUNDS, fetch);
    println!(
        "\nplan of {users} users x {rows_per_user} rows ({:.1} MB of responses), median of {ROUNDS}; a bare fetch (curl, both GETs in parallel) takes {:.0} ms",
        response_bytes as f64 / 1e6,
        bare.as_secs_f64() * 1e3
    );
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("role-based", desired(users, rows_per_user), 2.0),
        ("explicit", explicit_desired(users, rows_per_user), 3.0),
    ];
    for (name, text, bound) in files {
        let file = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&file, &text).unwrap();
        let file = file.to_str().unwrap();
        let args = ["plan", "-f", file, "--detailed-exitcode"];
        let time = median(ROUNDS, || run(&sandbox, &args));
        let ratio = time.as_secs_f64() / bare.as_secs_f64();
        // Reading the file alone, with no request: what plan spends before its reads.
        let load = median(ROUNDS, || run(&sandbox, &["validate", "-f", file]));
        let mut peaks: Vec<u64> = (0..5)
            .map(|_| peak_rss(&sandbox, &args).unwrap_or(0))
            .collect();
        peaks.sort_unstable();
        let peak = peaks[peaks.len() / 2];
        println!(
            "- {name} file ({:.1} MB): {:.0} ms, {ratio:.2}x the bare fetch (bound {bound}x); of which validate alone (the file read and checked, no request) {:.0} ms, {:.2}x; peak RSS (median of 5) {:.1} MB, {:.2}x the responses (bound 4x)",
            text.len() as f64 / 1e6,
            time.as_secs_f64() * 1e3,
            load.as_secs_f64() * 1e3,
            load.as_secs_f64() / bare.as_secs_f64(),
            peak as f64 / 1e6,
            peak as f64 / response_bytes as f64,
        );
    }
}

fn validate_time(users: usize) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("desired.yaml");
    std::fs::write(&file, desired(users, 5)).unwrap();
    let time = median(9, || {
        let begin = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_mailtrap-access"))
            .args(["validate", "-f", file.to_str().unwrap()])
            .output()
            .unwrap()
            .status;
        assert!(status.success());
        begin.elapsed()
    });
    println!(
        "\nvalidate of a {users}-user role-based file: {:.1} ms for the whole process, median of 9 (bound 30 ms)",
        time.as_secs_f64() * 1e3
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let only_local = std::env::var_os("BENCH_LOCAL_ONLY").is_some();
    if let Some(dir) = std::env::var_os("BENCH_DUMP") {
        // For profiling outside the benchmark: the big account and its desired file, to
        // serve with `mailtrap-access sandbox --state` and plan against.
        let dir = std::path::Path::new(&dir);
        std::fs::write(dir.join("account.json"), account_json(10_000, 20)).unwrap();
        std::fs::write(dir.join("desired.yaml"), desired(10_000, 20)).unwrap();
        std::fs::write(dir.join("explicit.yaml"), explicit_desired(10_000, 20)).unwrap();
        eprintln!(
            "wrote account.json, desired.yaml and explicit.yaml to {}",
            dir.display()
        );
        return;
    }
    let sizes: &[usize] = if quick { &[10, 100] } else { &[10, 100, 1000] };
    let mut rows = Vec::new();
    for &users in sizes {
        if only_local {
            break;
        }
        eprintln!("running plan and apply on {users} users...");
        plan_and_apply(users, &mut rows);
    }
    if !only_local {
        eprintln!("running apply with 50 ms latency...");
        latency_bound(
            if quick { 50 } else { 400 },
            Duration::from_millis(50),
            8,
            &mut rows,
        );
    }
    println!();
    print_table(&rows);
    plan_against_a_bare_fetch(if quick { 1_000 } else { 10_000 }, 20);
    validate_time(1_000);
}
