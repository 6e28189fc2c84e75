//! How close plan and apply sit to the limits the API sets. Run with
//! `cargo bench --bench apply_at_the_limit` (`BENCH_QUICK=1` for small sizes only,
//! `BENCH_LOCAL_ONLY=1` for the local-work and validate figures only, `BENCH_DUMP=DIR`
//! to write the big account and its desired file for profiling, and run nothing).
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

use mailtrap_access::api::{Endpoint, ReadClient, RetryPolicy, Timeouts};
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
/// set of inboxes share a role (40 roles), plus one direct grant each.
fn desired(users: usize, rows: usize) -> String {
    assert!(rows >= 2, "a role needs at least one inbox");
    let spans = PROJECTS * INBOXES_PER_PROJECT;
    let mut text = format!("version: 1\naccount_id: {ACCOUNT}\nroles:\n");
    for start in 0..spans.min(users) {
        let _ = writeln!(text, "  span-{start}:\n    inboxes:");
        for r in 1..rows {
            let _ = writeln!(
                text,
                "      \"{}\": viewer",
                inbox_name((start + r) % spans)
            );
        }
    }
    text.push_str("users:\n");
    for u in 0..users {
        let _ = writeln!(text, "  {}:", email(u));
        if u == 0 {
            text.push_str("    account: admin\n");
        }
        let _ = writeln!(text, "    roles: [span-{}]", u % spans);
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

/// Local work of plan on a big account: the two reads with decoding, against
/// everything after them (resolve, diff, render), in-process.
fn local_work(users: usize, rows_per_user: usize) {
    let state = account(users, rows_per_user);
    let sandbox = start(
        state,
        RateLimit {
            requests: 1_000_000,
            window: Duration::from_secs(1),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("desired.yaml");
    std::fs::write(&file, desired(users, rows_per_user)).unwrap();
    // The binary's runtime: one thread, with resolve sent to its blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reader = ReadClient::new(Endpoint {
        base_url: sandbox.base_url(),
        account_id: ACCOUNT,
        token: mailtrap_access::api::ApiToken::new(TOKEN).unwrap(),
        timeouts: Timeouts::default(),
        rate_limit: RateLimit::MAILTRAP,
        retry: RetryPolicy::default(),
    })
    .unwrap();

    // Bytes of the two responses, for the memory bound.
    let response_bytes: usize = runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut total = 0;
        for path in ["account_accesses", "permissions/resources"] {
            let url = format!("{}/api/accounts/{ACCOUNT}/{path}", sandbox.base_url());
            total += client
                .get(url)
                .header("Api-Token", TOKEN)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .len();
        }
        total
    });

    // Each round times the two reads alone, then the plan as the binary runs it: load,
    // the reads with resolve run in their wait and the diff beside the decode, the
    // rails beside the rendering; and each of resolve, diff, rails and render once more
    // alone, for the breakdown. The machine is shared and a 15 MB read varies by ±5 ms
    // from round to round, so the share of local work compares the median whole plan
    // with the median reads: a difference of two minima (kept below for comparison)
    // swings by several milliseconds between runs. The phases are best of the rounds:
    // the minimum is the cost of the work itself.
    const ROUNDS: usize = 15;
    const PHASES: [&str; 6] = [
        "load",
        "resolve",
        "diff",
        "rails",
        "render",
        "rails beside render",
    ];
    let mut fetches = Vec::with_capacity(ROUNDS);
    let mut plans = Vec::with_capacity(ROUNDS);
    let mut fetch_planning_best = Duration::MAX;
    let mut phase_best = [Duration::MAX; PHASES.len()];
    for _ in 0..ROUNDS {
        let begin = Instant::now();
        drop(runtime.block_on(reader.live_state()).unwrap());
        fetches.push(begin.elapsed());

        let mut mark = Instant::now();
        let mut lap = || {
            let time = mark.elapsed();
            mark = Instant::now();
            time
        };
        let loaded = std::sync::Arc::new(mailtrap_access::config::load(&file).unwrap());
        let load = lap();
        let (plan, live) = runtime
            .block_on(mailtrap_access::commands::fetch_and_plan(&reader, &loaded))
            .unwrap();
        let fetch_planning = lap();
        fetch_planning_best = fetch_planning_best.min(fetch_planning);
        // As the binary does it: the rails beside the rendering.
        let (refusals, rendered) = mailtrap_access::commands::beside(
            || mailtrap_access::rails::check(&plan, &live, &loaded.file, false),
            || {
                let mut rendered = Vec::new();
                mailtrap_access::render::plan_text(&plan, &mut rendered, Default::default())
                    .unwrap();
                rendered
            },
        );
        let rails_and_render = lap();
        plans.push(load + fetch_planning + rails_and_render);
        drop(rendered);
        drop(mailtrap_access::rails::check(
            &plan,
            &live,
            &loaded.file,
            false,
        ));
        let rails = lap();
        let mut rendered = Vec::new();
        mailtrap_access::render::plan_text(&plan, &mut rendered, Default::default()).unwrap();
        let render = lap();
        let desired = mailtrap_access::resolve::resolve(&loaded, &live.resources).unwrap();
        let resolve = lap();
        assert_eq!(mailtrap_access::diff::plan(ACCOUNT, &desired, &live), plan);
        let diff = lap();
        assert!(refusals.is_empty(), "{refusals:?}");
        assert!(plan.changes.len() == users);
        for (best, time) in
            phase_best
                .iter_mut()
                .zip([load, resolve, diff, rails, render, rails_and_render])
        {
            *best = (*best).min(time);
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let phases: Vec<String> = PHASES
        .iter()
        .zip(phase_best)
        .map(|(name, time)| format!("{name} {:.1} ms", ms(time)))
        .collect();
    println!(
        "local work by phase, each alone (best of {ROUNDS}): {}",
        phases.join(", ")
    );
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (fetch, whole) = (median(&mut fetches), median(&mut plans));
    let local = whole.saturating_sub(fetch);
    let share = |part: Duration, total: Duration| 100.0 * ms(part) / ms(total);
    // The same by minima: resolve and the diff cost what they add to the reads; loading
    // the file must finish before the first request (a broken file reads nothing).
    let fetch_best = fetches[0];
    let [load, _, _, _, _, rails_and_render] = phase_best;
    let local_by_minima = load + fetch_planning_best.saturating_sub(fetch_best) + rails_and_render;

    let peak = peak_rss(&sandbox, &["plan", "-f", file.to_str().unwrap()]).unwrap_or(0);

    println!(
        "\nplan on {users} users x {rows_per_user} rows: responses {:.1} MB; medians of {ROUNDS} rounds: \
         fetch+decode {:.0} ms, the whole plan {:.0} ms, local work {:.0} ms ({:.0}% of the total, bound 20%); \
         by minima: fetch+decode {:.0} ms, local work {:.0} ms ({:.0}%); \
         peak RSS of the binary {:.1} MB ({:.2}x the responses, bound 3x)",
        response_bytes as f64 / 1e6,
        ms(fetch),
        ms(whole),
        ms(local),
        share(local, whole),
        ms(fetch_best),
        ms(local_by_minima),
        share(local_by_minima, fetch_best + local_by_minima),
        peak as f64 / 1e6,
        peak as f64 / response_bytes as f64,
    );
}

fn validate_time(users: usize) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("desired.yaml");
    std::fs::write(&file, desired(users, 5)).unwrap();
    let mut best = Duration::MAX;
    for _ in 0..7 {
        let begin = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_mailtrap-access"))
            .args(["validate", "-f", file.to_str().unwrap()])
            .output()
            .unwrap()
            .status;
        assert!(status.success());
        best = best.min(begin.elapsed());
    }
    let loaded_begin = Instant::now();
    mailtrap_access::config::load(&file).unwrap();
    println!(
        "validate of a {users}-user file: {:.1} ms for the whole process (best of 7), {:.1} ms in the loader (bound 20 ms)",
        best.as_secs_f64() * 1e3,
        loaded_begin.elapsed().as_secs_f64() * 1e3
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
        eprintln!("wrote account.json and desired.yaml to {}", dir.display());
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
    if quick {
        local_work(1_000, 20);
    } else {
        local_work(10_000, 20);
    }
    validate_time(1_000);
}
