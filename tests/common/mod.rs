//! Shared by the end-to-end tests: a sandbox in-process on an ephemeral port, and the
//! real binary run against it with a clean environment.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use mailtrap_access::sandbox::{BlockingSandbox, RecordedRequest, SandboxConfig, SandboxState};

/// A token distinctive enough to be searched for in every output.
pub const TOKEN: &str = "tok-3f9a1c-NEVER-PRINT-ME-77e2";

pub fn demo_sandbox() -> BlockingSandbox {
    BlockingSandbox::start(
        SandboxConfig::new(SandboxState::demo(), TOKEN),
        ([127, 0, 0, 1], 0).into(),
    )
    .expect("sandbox starts")
}

/// The demo account behind a rate limit of `requests` per `window`.
pub fn demo_sandbox_limited(requests: u32, window: std::time::Duration) -> BlockingSandbox {
    let mut config = SandboxConfig::new(SandboxState::demo(), TOKEN);
    config.rate_limit = mailtrap_access::rate::RateLimit { requests, window };
    BlockingSandbox::start(config, ([127, 0, 0, 1], 0).into()).expect("sandbox starts")
}

/// The binary with no inherited MAILTRAP_* settings and no terminal.
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailtrap-access"));
    command
        .args(args)
        .env_remove("MAILTRAP_API_TOKEN")
        .env_remove("MAILTRAP_API_URL")
        .env_remove("MAILTRAP_ACCOUNT_ID")
        .env_remove("GITHUB_ACTIONS")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

/// Run against `url` with the test token.
pub fn run_against(url: &str, args: &[&str]) -> Output {
    command(args)
        .env("MAILTRAP_API_URL", url)
        .env("MAILTRAP_API_TOKEN", TOKEN)
        .output()
        .expect("binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Fail with both streams shown.
/// `needle` is in the output's stdout; else both streams are shown.
pub fn assert_stdout_has(output: &Output, needle: &str) {
    let out = stdout(output);
    assert!(
        out.contains(needle),
        "{needle:?} not on stdout:\n{out}\nstderr:\n{}",
        stderr(output)
    );
}

/// `needle` is in the output's stderr; else both streams are shown.
pub fn assert_stderr_has(output: &Output, needle: &str) {
    let err = stderr(output);
    assert!(
        err.contains(needle),
        "{needle:?} not on stderr:\n{err}\nstdout:\n{}",
        stdout(output)
    );
}

pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

pub fn writes(requests: &[RecordedRequest]) -> Vec<&RecordedRequest> {
    requests.iter().filter(|r| r.method != "GET").collect()
}

pub fn write_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// A server that answers every request with the same raw HTTP response, for error
/// shapes the sandbox never produces (HTML pages, truncated bodies). Returns its URL
/// and a counter of the requests it saw, by method.
pub fn canned_server(response: Vec<u8>) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    canned_server_by_path(move |_| response.clone())
}

/// A server that answers each request with `respond(path)`; records the methods seen.
pub fn canned_server_by_path(
    respond: impl Fn(&str) -> Vec<u8> + Send + 'static,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 8192];
            let n = stream.read(&mut buffer).unwrap_or(0);
            let head = String::from_utf8_lossy(&buffer[..n]);
            let mut words = head.split_whitespace();
            let method = words.next().unwrap_or("").to_string();
            let path = words.next().unwrap_or("").to_string();
            log.lock().unwrap().push(method);
            let _ = stream.write_all(&respond(&path));
        }
    });
    (url, seen)
}

pub fn http_response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The binary run with `args` on a pseudo-terminal made by util-linux `script`, with
/// `env` added to a clean environment (no `NO_COLOR`, `CI` or `CLICOLOR*`) and `typed` sent as keyboard
/// input. Returns the exit code and what the terminal showed (CRLF read as LF), or
/// `None` where `script` is not installed.
pub fn on_a_terminal(args: &[&str], env: &[(&str, &str)], typed: &str) -> Option<(i32, String)> {
    let available = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        eprintln!("skipped: util-linux `script` is not installed");
        return None;
    }
    let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_mailtrap-access"))
        .chain(args.iter().copied())
        .map(|word| format!("'{}'", word.replace('\'', "'\\''")))
        .collect();
    let mut command = Command::new("script");
    command
        .args(["-qec", &quoted.join(" "), "/dev/null"])
        .env_remove("NO_COLOR")
        // anstream colors a terminal under CI whatever TERM says.
        .env_remove("CI")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("MAILTRAP_API_TOKEN")
        .env_remove("MAILTRAP_API_URL")
        .env_remove("MAILTRAP_ACCOUNT_ID")
        .env_remove("GITHUB_ACTIONS")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(typed.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    Some((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n"),
    ))
}

/// Save the plan of `desired` against `url` as `plan.json` in `dir`; its path.
pub fn save_plan(url: &str, desired: &str, dir: &Path) -> String {
    let saved = dir.join("plan.json").to_string_lossy().into_owned();
    let output = run_against(url, &["plan", "-f", desired, "--out", &saved]);
    assert_exit(&output, 0);
    saved
}

/// A writing client for the test token at `url`, account 1111111.
pub fn writer(url: &str) -> mailtrap_access::api::WriteClient {
    use mailtrap_access::api::{ApiToken, Endpoint, RetryPolicy, Timeouts, WriteClient};
    WriteClient::new(Endpoint {
        base_url: url.to_string(),
        account_id: 1111111,
        paths: Default::default(),
        token: ApiToken::new(TOKEN).unwrap(),
        timeouts: Timeouts::default(),
        rate_limit: Default::default(),
        retry: RetryPolicy::default(),
    })
    .unwrap()
}

/// The demo account's desired file, as the README uses it.
pub const DEMO: &str = "examples/mailtrap-access.yaml";

/// The demo file with `extra` appended (more tokens, a top-level key), written to `dir`.
pub fn demo_with(dir: &Path, extra: &str) -> String {
    let text = std::fs::read_to_string(DEMO).unwrap();
    write_file(dir, "desired.yaml", &format!("{text}{extra}"))
}

/// The demo file with `from` written as `to`, saved in `dir`; `from` must be there.
pub fn demo_replacing(dir: &Path, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(DEMO).unwrap();
    assert!(
        text.contains(from),
        "the demo file no longer holds {from:?}"
    );
    write_file(dir, "desired.yaml", &text.replace(from, to))
}

/// Every write the sandbox received, as `METHOD path`.
pub fn writes_of(sandbox: &BlockingSandbox) -> Vec<String> {
    (sandbox.requests().into_iter())
        .filter(|request| request.method != "GET")
        .map(|request| format!("{} {}", request.method, request.path))
        .collect()
}

/// The demo account's three reads as the service answers them, for canned servers: the
/// listing (users and invites only), the tree, and the tokens list (each token's last
/// four digits, never its secret).
pub fn demo_answers() -> (String, String, String) {
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("examples/sandbox-account.json").unwrap())
            .unwrap();
    let listing: Vec<&serde_json::Value> = (state["accesses"].as_array().unwrap().iter())
        .filter(|access| access["specifier_type"] != "ApiToken")
        .collect();
    let mut tokens = state["api_tokens"].clone();
    for token in tokens.as_array_mut().unwrap() {
        let token = token.as_object_mut().unwrap();
        let secret = token.remove("token").unwrap();
        let secret = secret.as_str().unwrap();
        token.insert("last_4_digits".into(), secret[secret.len() - 4..].into());
    }
    (
        serde_json::to_string(&listing).unwrap(),
        state["resources"].to_string(),
        tokens.to_string(),
    )
}

/// One HTTP exchange with the sandbox, as its own tests look at it: the body as text
/// and as JSON (`null` when empty).
pub struct Reply {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: serde_json::Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// Send `request` and read the whole answer.
pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request reaches the sandbox");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body is readable");
    let body = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("body is JSON: {text}"))
    };
    Reply {
        status,
        headers,
        text,
        body,
    }
}
