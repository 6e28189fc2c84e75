//! The sandbox's fault injection, and the real binary under each fault: every kind of
//! fault does what it says on the wire (and in the request log), `apply` under it
//! converges (at worst on a second run), and nothing is ever written that the plan did
//! not show. A redirect is never followed, so the token never reaches another server.

mod common;

use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;
use mailtrap_access::sandbox::{
    BlockingSandbox, Faults, InjectedFault, RecordedRequest, Sandbox, SandboxConfig, SandboxState,
};
use serde_json::{json, Value};

const DEMO: &str = "examples/mailtrap-access.yaml";
const CAROL_BULK: &str = "/api/accounts/1111111/account_accesses/5190004/permissions/bulk";
const ACCESSES: &str = "/api/accounts/1111111/account_accesses";

/// Enough retries that a seeded run at these rates gets every request through.
const RETRIES: &str = "8";

/// One write as sent on the wire: method, path and JSON body.
type Write = (String, String, Option<Value>);

fn seeded(seed: u64) -> Faults {
    Faults {
        seed,
        ..Faults::none()
    }
}

// ------------------------------------------------------------ the faults on the wire

async fn start(faults: Faults) -> Sandbox {
    let config = SandboxConfig {
        faults,
        ..SandboxConfig::new(SandboxState::demo(), TOKEN)
    };
    Sandbox::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox starts")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Carol's Frontend row goes from viewer to admin.
async fn put_carol(
    client: &reqwest::Client,
    sandbox: &Sandbox,
) -> reqwest::Result<reqwest::Response> {
    client
        .put(format!("{}{CAROL_BULK}", sandbox.base_url()))
        .header("Api-Token", TOKEN)
        .json(&json!({"permissions": [{"resource_id": "3301002", "resource_type": "project", "access_level": "admin"}]}))
        .send()
        .await
}

fn carol_level(sandbox: &Sandbox) -> u32 {
    sandbox
        .state()
        .access(5190004)
        .unwrap()
        .resources
        .iter()
        .find(|row| row.resource_type == "project" && row.resource_id == 3301002)
        .unwrap()
        .access_level
}

fn only_request(sandbox: &Sandbox) -> RecordedRequest {
    let requests = sandbox.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    requests.into_iter().next().unwrap()
}

/// Carol's bulk PUT, sent once to a sandbox that injects `faults`: the sandbox, what the
/// client got, and the one request the sandbox recorded (always Carol's).
async fn put_carol_under(
    faults: Faults,
) -> (Sandbox, reqwest::Result<reqwest::Response>, RecordedRequest) {
    let sandbox = start(faults).await;
    let answer = put_carol(&client(), &sandbox).await;
    let recorded = only_request(&sandbox);
    assert_eq!(recorded.path, CAROL_BULK);
    (sandbox, answer, recorded)
}

/// A dropped connection answers nothing. Dropped before the change, nothing changed;
/// dropped after it, the change was made and the log says so.
#[tokio::test]
async fn a_dropped_connection_answers_nothing_and_the_log_says_whether_it_changed() {
    let cases = [
        (
            Faults {
                drop_before_rate: 1.0,
                ..seeded(1)
            },
            InjectedFault::DropBefore,
            false,
            10,
        ),
        (
            Faults {
                drop_after_rate: 1.0,
                ..seeded(1)
            },
            InjectedFault::DropAfter,
            true,
            100,
        ),
    ];
    for (faults, fault, applied, level) in cases {
        let (sandbox, answer, recorded) = put_carol_under(faults).await;
        let err = answer.expect_err("no answer at all");
        assert!(err.is_request() && !err.is_status(), "{fault:?}: {err:?}");
        assert_eq!(carol_level(&sandbox), level, "{fault:?}");
        assert_eq!(
            (recorded.status, recorded.applied, recorded.fault),
            (0, applied, Some(fault))
        );
    }
}

#[tokio::test]
async fn a_kept_alive_client_carries_on_after_a_drop() {
    // One request passes, the next is dropped, the third passes again: the client's
    // pooled connection dies with the drop and a fresh one takes over.
    let sandbox = start(Faults::none()).await;
    let client = client();
    let url = format!("{}{ACCESSES}", sandbox.base_url());
    let get = || client.get(&url).header("Api-Token", TOKEN).send();
    assert_eq!(get().await.unwrap().status(), 200);
    sandbox
        .set_faults(Faults {
            drop_before_rate: 1.0,
            ..seeded(1)
        })
        .unwrap();
    assert!(get().await.is_err());
    sandbox.set_faults(Faults::none()).unwrap();
    assert_eq!(get().await.unwrap().status(), 200);
    let statuses: Vec<u16> = sandbox.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 0, 200]);
}

#[tokio::test]
async fn failures_are_500_and_change_nothing() {
    let (sandbox, answer, recorded) = put_carol_under(Faults {
        failure_rate: 1.0,
        ..seeded(1)
    })
    .await;
    let response = answer.unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"error": "Internal Server Error"})
    );
    assert_eq!(carol_level(&sandbox), 10);
    assert_eq!(
        (recorded.status, recorded.applied, recorded.fault),
        (500, false, Some(InjectedFault::ServerError))
    );
}

#[tokio::test]
async fn html_pages_are_a_proxy_502_and_change_nothing() {
    let (sandbox, answer, recorded) = put_carol_under(Faults {
        html_rate: 1.0,
        ..seeded(1)
    })
    .await;
    let response = answer.unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(response.headers()["content-type"], "text/html");
    let page = response.text().await.unwrap();
    assert!(page.starts_with("<html>"), "{page}");
    assert!(page.contains("<head><title>502 Bad Gateway</title></head>"));
    assert_eq!(carol_level(&sandbox), 10);
    assert_eq!(
        (recorded.status, recorded.applied, recorded.fault),
        (502, false, Some(InjectedFault::HtmlPage))
    );
}

#[tokio::test]
async fn bursts_answer_429_with_retry_after_one_second() {
    // 2 of every 3: requests 2 and 3 refused, 4 through, 5 and 6 refused.
    let sandbox = start(Faults {
        burst_429: Some("2/3".parse().unwrap()),
        ..seeded(1)
    })
    .await;
    let client = client();
    let url = format!("{}{ACCESSES}", sandbox.base_url());
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = client
            .get(&url)
            .header("Api-Token", TOKEN)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert_eq!(response.headers()["retry-after"], "1");
            assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
            assert_eq!(
                response.json::<Value>().await.unwrap(),
                json!({"errors": "Rate limit exceeded"})
            );
        }
    }
    assert_eq!(statuses, [200, 429, 429, 200, 429, 429]);
    // The bursts are the sandbox's doing; the real limiter counted only the two served.
    let response = client
        .get(&url)
        .header("Api-Token", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-ratelimit-remaining"], "147");
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let sandbox = start(Faults {
        latency: Duration::from_millis(120),
        latency_jitter: Duration::from_millis(30),
        ..seeded(1)
    })
    .await;
    let started = Instant::now();
    let response = put_carol(&client(), &sandbox).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 200);
    assert!(
        elapsed >= Duration::from_millis(120) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    assert_eq!(carol_level(&sandbox), 100);
    let recorded = only_request(&sandbox);
    assert_eq!((recorded.applied, recorded.fault), (true, None));
}

#[tokio::test]
async fn redirects_point_at_the_same_path_elsewhere_and_do_nothing() {
    let sandbox = start(Faults {
        redirect_to: Some("http://127.0.0.1:9/elsewhere/".into()),
        ..seeded(1)
    })
    .await;
    let response = put_carol(&client(), &sandbox).await.unwrap();
    assert_eq!(response.status(), 307);
    assert_eq!(
        response.headers()["location"],
        format!("http://127.0.0.1:9/elsewhere{CAROL_BULK}").as_str()
    );
    assert_eq!(carol_level(&sandbox), 10);
    assert_eq!(only_request(&sandbox).fault, Some(InjectedFault::Redirect));
}

#[tokio::test]
async fn other_routes_are_not_faulted_and_bad_settings_are_refused() {
    let sandbox = start(Faults {
        failure_rate: 1.0,
        ..seeded(1)
    })
    .await;
    let response = client()
        .get(format!("{}/api/nothing-here", sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(only_request(&sandbox).fault, None);

    let config = SandboxConfig {
        faults: Faults {
            failure_rate: 0.7,
            drop_before_rate: 0.7,
            ..seeded(1)
        },
        ..SandboxConfig::new(SandboxState::demo(), TOKEN)
    };
    let err = Sandbox::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .err()
        .expect("rates over 1 in total are refused");
    assert!(err.to_string().contains("more than 1"), "{err}");
    assert!(sandbox
        .set_faults(Faults {
            html_rate: 2.0,
            ..seeded(1)
        })
        .is_err());
}

// ------------------------------------------------------------ the binary under faults

/// The writes a fault-free `plan` of the demo shows: `PUT path` then its JSON body on
/// the next line, or `DELETE path`.
fn planned_writes(plan_text: &str) -> Vec<Write> {
    let lines: Vec<&str> = plan_text.lines().map(str::trim).collect();
    let mut writes = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        if let Some(path) = line.strip_prefix("PUT ") {
            let body = serde_json::from_str(lines[at + 1]).expect("a JSON body after PUT");
            writes.push(("PUT".to_string(), path.to_string(), Some(body)));
        } else if let Some(path) = line.strip_prefix("DELETE ") {
            writes.push(("DELETE".to_string(), path.to_string(), None));
        }
    }
    writes
}

/// The account after a fault-free apply of the demo: where every faulty run must end.
fn converged_accesses() -> &'static Value {
    static CONVERGED: OnceLock<Value> = OnceLock::new();
    CONVERGED.get_or_init(|| {
        let sandbox = demo_sandbox();
        let output = run_against(
            &sandbox.base_url(),
            &["apply", "-f", DEMO, "--auto-approve"],
        );
        assert_exit(&output, 0);
        sandbox.accesses_json()
    })
}

/// What the binary did against a faulty sandbox.
struct FaultyRun {
    seed: u64,
    requests: Vec<RecordedRequest>,
    apply_runs: usize,
    elapsed: Duration,
}

/// Plan without faults; then with `faults` on: apply, apply again if the first did not
/// converge, and `plan --detailed-exitcode`, which must find nothing left to do. The
/// account must end exactly as a fault-free apply leaves it, and every write the
/// sandbox received must be one the plan showed.
fn apply_under(faults: Faults) -> FaultyRun {
    apply_under_with(faults, RETRIES)
}

/// `apply_under`, the first apply allowed `first_retries` retries per request.
fn apply_under_with(faults: Faults, first_retries: &str) -> FaultyRun {
    let seed = faults.seed;
    let sandbox = demo_sandbox();
    let url = sandbox.base_url();
    let plan = run_against(&url, &["plan", "-f", DEMO]);
    assert_exit(&plan, 0);
    let planned = planned_writes(&stdout(&plan));
    assert_eq!(planned.len(), 3, "the demo plan has three PUTs");
    sandbox.clear_requests();
    sandbox.set_faults(faults).unwrap();

    let started = Instant::now();
    let apply = ["apply", "-f", DEMO, "--auto-approve", "--retries", RETRIES];
    let mut apply_runs = 1;
    let first = run_against(
        &url,
        &[
            "apply",
            "-f",
            DEMO,
            "--auto-approve",
            "--retries",
            first_retries,
        ],
    );
    if first.status.code() != Some(0) {
        // A run that gives up must say so cleanly; the next one finishes the job.
        assert_exit(&first, 1);
        assert!(!stderr(&first).contains("panicked"), "{}", stderr(&first));
        apply_runs += 1;
        assert_exit(&run_against(&url, &apply), 0);
    }
    let check = run_against(
        &url,
        &[
            "plan",
            "-f",
            DEMO,
            "--detailed-exitcode",
            "--retries",
            RETRIES,
        ],
    );
    assert_exit(&check, 0);
    assert_stdout_has(&check, "No changes.");
    let elapsed = started.elapsed();

    let requests = sandbox.requests();
    for request in writes(&requests) {
        let write = (
            request.method.clone(),
            request.path.clone(),
            request.body.clone(),
        );
        assert!(
            planned.contains(&write),
            "a write the plan did not show: {request:#?}\nplanned: {planned:#?}"
        );
    }
    for (method, path, body) in &planned {
        assert!(
            requests
                .iter()
                .any(|r| &r.method == method && &r.path == path && &r.body == body && r.applied),
            "{method} {path} was never applied: {requests:#?}"
        );
    }
    assert_eq!(&sandbox.accesses_json(), converged_accesses());
    FaultyRun {
        seed,
        requests,
        apply_runs,
        elapsed,
    }
}

/// `apply_under_with` for seeds 1, 2, ... until a run shows what the test is about:
/// which requests meet a fault depends on the seed and on the order the client sends
/// them in, and the test should not hinge on that order.
fn apply_under_until(
    faults: Faults,
    first_retries: &str,
    wanted: impl Fn(&FaultyRun) -> bool,
) -> FaultyRun {
    for seed in 1..=6 {
        let run = apply_under_with(
            Faults {
                seed,
                ..faults.clone()
            },
            first_retries,
        );
        if wanted(&run) {
            return run;
        }
    }
    panic!("no seed of 1 to 6 produced the case under test: {faults:?}");
}

fn count(run: &FaultyRun, fault: InjectedFault) -> usize {
    run.requests
        .iter()
        .filter(|r| r.fault == Some(fault))
        .count()
}

fn report(name: &str, run: &FaultyRun) {
    eprintln!(
        "{name}: seed {}, {} requests, {} apply run(s), {:?}",
        run.seed,
        run.requests.len(),
        run.apply_runs,
        run.elapsed
    );
}

/// Each fault alone, at a rate that strikes several requests of a run: apply converges,
/// and the fault did strike.
#[test]
fn apply_converges_under_each_fault_alone() {
    let cases = [
        (
            Faults {
                failure_rate: 0.3,
                ..seeded(7)
            },
            InjectedFault::ServerError,
            1,
        ),
        (
            Faults {
                burst_429: Some("2/6".parse().unwrap()),
                ..seeded(7)
            },
            InjectedFault::Burst429,
            2,
        ),
        (
            Faults {
                html_rate: 0.3,
                ..seeded(7)
            },
            InjectedFault::HtmlPage,
            1,
        ),
        (
            Faults {
                drop_before_rate: 0.3,
                ..seeded(7)
            },
            InjectedFault::DropBefore,
            1,
        ),
    ];
    for (faults, fault, at_least) in cases {
        let run = apply_under(faults);
        report(&format!("{fault:?}"), &run);
        assert!(count(&run, fault) >= at_least, "{fault:?}");
        let struck = run.requests.iter().filter(|r| r.fault == Some(fault));
        assert!(struck
            .clone()
            .all(|r| !r.applied || fault == InjectedFault::DropAfter));
        if fault == InjectedFault::DropBefore {
            assert!(struck.clone().all(|r| r.status == 0), "{fault:?}");
        }
    }
}

#[test]
fn apply_converges_under_latency() {
    let run = apply_under(Faults {
        latency: Duration::from_millis(50),
        latency_jitter: Duration::from_millis(10),
        ..seeded(7)
    });
    report("latency", &run);
    assert_eq!(run.apply_runs, 1);
    // At least four rounds of 50ms one after the other: apply's reads, its writes,
    // its read-back, and the final plan's reads.
    assert!(
        run.elapsed >= Duration::from_millis(50 * 4),
        "{:?}",
        run.elapsed
    );
    assert!(run.requests.iter().all(|r| r.fault.is_none()));
}

/// Writes that were carried out but whose connection was then dropped.
fn dropped_writes(run: &FaultyRun) -> Vec<&RecordedRequest> {
    run.requests
        .iter()
        .filter(|r| r.fault == Some(InjectedFault::DropAfter) && r.method != "GET")
        .collect()
}

#[test]
fn apply_converges_when_connections_drop_after_the_change() {
    // The case that matters: a write was made, the client saw only a broken
    // connection, sent the same write again, and that did no harm.
    let run = apply_under_until(
        Faults {
            drop_after_rate: 0.3,
            ..Faults::none()
        },
        RETRIES,
        |run| !dropped_writes(run).is_empty(),
    );
    report("drops after", &run);
    let dropped = dropped_writes(&run);
    assert!(dropped.iter().all(|r| r.status == 0 && r.applied));
    let resent = dropped.iter().all(|dropped| {
        run.requests
            .iter()
            .filter(|r| r.path == dropped.path && r.body == dropped.body && r.applied)
            .count()
            >= 2
    });
    assert!(resent, "{:#?}", run.requests);
}

#[test]
fn apply_converges_under_every_fault_at_once() {
    let run = apply_under(Faults {
        failure_rate: 0.08,
        html_rate: 0.08,
        drop_before_rate: 0.08,
        drop_after_rate: 0.08,
        latency: Duration::from_millis(10),
        latency_jitter: Duration::from_millis(20),
        burst_429: Some("1/7".parse().unwrap()),
        ..seeded(1)
    });
    report("everything", &run);
    let kinds: std::collections::HashSet<InjectedFault> =
        run.requests.iter().filter_map(|r| r.fault).collect();
    assert!(kinds.len() >= 3, "{kinds:?}");
}

#[test]
fn an_apply_that_gives_up_converges_on_the_next_run() {
    // No retries at first, so the 500s win: apply carries on past each failed access,
    // reports, exits 1; the second run (with retries) finishes the job.
    let run = apply_under_until(
        Faults {
            failure_rate: 0.4,
            ..Faults::none()
        },
        "0",
        |run| run.apply_runs == 2,
    );
    report("give up, then converge", &run);
}

// ------------------------------------------------------------ redirects

/// A port that records whether anyone connected, and never answers.
fn witness() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

fn nobody_connected(listener: &TcpListener) -> bool {
    matches!(listener.accept(), Err(err) if err.kind() == std::io::ErrorKind::WouldBlock)
}

#[test]
fn a_redirect_is_not_followed_and_the_token_goes_nowhere_else() {
    let (elsewhere, elsewhere_url) = witness();
    // A second sandbox behind the redirect as well: it would accept the token.
    let other = demo_sandbox();
    for target in [elsewhere_url.as_str(), other.base_url().as_str()] {
        let config = SandboxConfig {
            faults: Faults {
                redirect_to: Some(target.to_string()),
                ..seeded(1)
            },
            ..SandboxConfig::new(SandboxState::demo(), TOKEN)
        };
        let sandbox = BlockingSandbox::start(config, ([127, 0, 0, 1], 0).into()).unwrap();
        for args in [
            &["plan", "-f", DEMO][..],
            &["apply", "-f", DEMO, "--auto-approve"][..],
        ] {
            let output = run_against(&sandbox.base_url(), args);
            assert_exit(&output, 1);
            let err = stderr(&output);
            assert!(err.contains("307"), "{err}");
            assert!(err.contains("redirect"), "{err}");
            assert!(err.contains("not followed"), "{err}");
            assert!(!err.contains(TOKEN) && !stdout(&output).contains(TOKEN));
        }
        let requests = sandbox.requests();
        assert!(!requests.is_empty());
        assert!(requests
            .iter()
            .all(|r| r.fault == Some(InjectedFault::Redirect) && !r.applied));
        assert!(writes(&requests).is_empty(), "{requests:#?}");
    }
    assert!(
        nobody_connected(&elsewhere),
        "the client went to the redirect target"
    );
    assert!(other.requests().is_empty(), "{:#?}", other.requests());
}

// ------------------------------------------------------------ the command's flags

#[test]
fn the_sandbox_command_takes_the_fault_flags() {
    use std::io::{BufRead, BufReader, Read, Write as _};
    let mut child = command(&[
        "sandbox",
        "--listen",
        "127.0.0.1:0",
        "--token",
        TOKEN,
        "--fail-rate",
        "1",
        "--latency",
        "20ms",
        "--fault-seed",
        "5",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "GET {ACCESSES} HTTP/1.1\r\nHost: {addr}\r\nApi-Token: {TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    child.kill().unwrap();
    let mut banner = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut banner)
        .unwrap();
    child.wait().unwrap();
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    assert!(
        answer.ends_with(r#"{"error":"Internal Server Error"}"#),
        "{answer}"
    );
    assert!(
        banner.contains("faults: 20ms latency, 100% 500s (seed 5)"),
        "{banner}"
    );

    for (flags, message) in [
        (&["--burst-429", "5/3"][..], "invalid 429 burst"),
        (&["--fail-rate", "1.5"][..], "between 0 and 1"),
        (
            &["--fail-rate", "0.6", "--html-rate", "0.6"][..],
            "more than 1",
        ),
        (
            &["--drop-rate", "0.2", "--drop-after-rate", "0.1"][..],
            "cannot be used with",
        ),
        (&["--redirect-to", "ftp://x"][..], "http(s) URL"),
    ] {
        let mut args = vec!["sandbox", "--listen", "127.0.0.1:0", "--token", TOKEN];
        args.extend_from_slice(flags);
        let output = command(&args).output().unwrap();
        assert!(!output.status.success(), "{flags:?}");
        assert!(
            stderr(&output).contains(message),
            "{flags:?}: {}",
            stderr(&output)
        );
        assert!(stdout(&output).is_empty(), "{flags:?} started serving");
    }
}

#[test]
fn a_slow_answer_times_out_with_a_clear_message() {
    let mut config = SandboxConfig::new(SandboxState::demo(), TOKEN);
    config.faults.latency = std::time::Duration::from_millis(1500);
    let sandbox = BlockingSandbox::start(config, ([127, 0, 0, 1], 0).into()).unwrap();
    let output = run_against(
        &sandbox.base_url(),
        &[
            "plan",
            "-f",
            "examples/mailtrap-access.yaml",
            "--timeout",
            "300ms",
            "--retries",
            "0",
        ],
    );
    assert_exit(&output, 1);
    assert_stderr_has(&output, "timed out");
}
