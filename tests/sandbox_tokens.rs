//! The sandbox's API Tokens API over real HTTP, on both path families: reads that never
//! serve a secret, create (200 with the secret, once), delete (204, empty), reset (a new
//! id and secret, once), their 404s, 403s and 422s, the expiry rules, both
//! vocabularies, the link with `ApiToken` accesses, and the auth, rate limit, faults and
//! request log every route shares.

mod common;

use common::{send, Reply};

use std::time::{Duration, SystemTime};

use mailtrap_access::sandbox::{
    Faults, InjectedFault, Sandbox, SandboxConfig, SandboxState, SpecifierType, Vocabulary,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const TOKEN: &str = "sandbox-tokens-test-token";
const ACCOUNT: u64 = 1111111;
const CI_DEPLOY: u64 = 61001;
const LEGACY_IMPORT: u64 = 61002;
const CI_ACCESS: u64 = 5190009;
const LEGACY_ACCESS: u64 = 5190010;
const BACKEND: u64 = 3301001;
const BACKEND_STAGING: u64 = 4400101;
const ACME_COM: u64 = 204301;
const PAST: &str = "2020-01-01T00:00:00Z";
const NO_PERMISSIONS: &str = "No permissions selected. Please choose at least one.";
const NOT_IN_THE_FUTURE: &str = "Expiration date must be in the future";

/// The two path families: where the API tokens of the sandbox's account are.
const FAMILIES: [&str; 2] = ["/api/accounts/1111111/api_tokens", "/api/api_tokens"];

async fn start(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("sandbox starts")
}

async fn start_demo() -> Sandbox {
    start(SandboxConfig::new(SandboxState::demo(), TOKEN)).await
}

async fn start_in(vocabulary: Vocabulary) -> Sandbox {
    start(SandboxConfig {
        vocabulary,
        ..SandboxConfig::new(SandboxState::demo(), TOKEN)
    })
    .await
}

/// The demo with the `ApiToken` entries the service keeps in its accesses for both
/// tokens: stored, never listed.
fn demo_with_token_accesses() -> SandboxState {
    let mut state = SandboxState::demo();
    for (access_id, token_id, name) in [
        (CI_ACCESS, CI_DEPLOY, "CI deploy"),
        (LEGACY_ACCESS, LEGACY_IMPORT, "Legacy import"),
    ] {
        state.accesses.push(
            serde_json::from_value(json!({
                "id": access_id,
                "specifier_type": "ApiToken",
                "resources": [{"resource_type": "project", "resource_id": BACKEND, "access_level": 10}],
                "specifier": {"id": token_id, "name": name, "author_name": "Alice Admin",
                              "token": "0123456789abcdef0123456789abcdef", "expires_at": null},
                "permissions": {"can_read": false, "can_update": true, "can_destroy": true, "can_leave": false}
            }))
            .unwrap(),
        );
    }
    state
}

async fn call(sandbox: &Sandbox, method: Method, path: &str, body: Option<Value>) -> Reply {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", sandbox.base_url()))
        .header("Api-Token", TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    send(request).await
}

async fn get(sandbox: &Sandbox, path: &str) -> Reply {
    call(sandbox, Method::GET, path, None).await
}

async fn create(sandbox: &Sandbox, family: &str, body: Value) -> Reply {
    call(sandbox, Method::POST, family, Some(body)).await
}

/// A valid create body: viewer on the Backend project.
fn backend_viewer(name: &str) -> Value {
    json!({"name": name, "resources": [
        {"resource_type": "project", "resource_id": BACKEND.to_string(), "access_level": "viewer"}
    ]})
}

fn keys(body: &Value) -> Vec<&str> {
    body.as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// The top-level keys of a one-token answer exactly `expected`, in that order on the
/// wire (no nested key is spelled like a top-level one).
fn assert_key_order(reply: &Reply, expected: &[&str]) {
    let mut sorted = expected.to_vec();
    sorted.sort_unstable();
    assert_eq!(keys(&reply.body), sorted, "{}", reply.text);
    let positions: Vec<usize> = expected
        .iter()
        .map(|key| reply.text.find(&format!("\"{key}\":")).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "{expected:?} in {}",
        reply.text
    );
}

fn ids(body: &Value) -> Vec<u64> {
    body.as_array()
        .expect("a JSON array")
        .iter()
        .map(|token| token["id"].as_u64().expect("an integer id"))
        .collect()
}

fn secrets(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .state()
        .api_tokens
        .iter()
        .map(|token| token.token.clone())
        .collect()
}

fn is_secret_shaped(secret: &str) -> bool {
    secret.len() == 32 && secret.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// Today's date (UTC) `years` years on, `YYYY-MM-DD`, from the system clock.
fn date_in_years(years: i32) -> String {
    // "Wed, 02 Dec 2026 00:46:17 GMT"
    let now = httpdate::fmt_http_date(SystemTime::now());
    let words: Vec<&str> = now.split_whitespace().collect();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months.iter().position(|name| *name == words[2]).unwrap() + 1;
    let year: i32 = words[3].parse().unwrap();
    let day = if month == 2 && words[1] == "29" {
        "28"
    } else {
        words[1]
    };
    format!("{}-{month:02}-{day}", year + years)
}

fn base_errors(reply: &Reply) -> Vec<String> {
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    reply.body["errors"]["base"]
        .as_array()
        .unwrap_or_else(|| panic!("errors.base is an array: {}", reply.text))
        .iter()
        .map(|message| message.as_str().expect("a string message").to_owned())
        .collect()
}

// ------------------------------------------------------------------------------ reads

#[tokio::test]
async fn the_list_and_each_token_are_served_without_their_secret() {
    let sandbox = start_demo().await;
    let secrets = secrets(&sandbox);
    assert_eq!(secrets.len(), 2);
    for family in FAMILIES {
        let reply = get(&sandbox, family).await;
        assert_eq!(reply.status, StatusCode::OK, "{family}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        assert!(reply.header("x-ratelimit-remaining").is_some());
        assert_eq!(
            reply.body,
            json!([
                {"id": CI_DEPLOY, "name": "CI deploy", "last_4_digits": "2e8c",
                 "created_by": "Alice Admin", "expires_at": "2027-06-30T23:59:59.000Z",
                 "resources": [{"resource_type": "project", "resource_id": BACKEND, "access_level": 10}]},
                {"id": LEGACY_IMPORT, "name": "Legacy import", "last_4_digits": "e084",
                 "created_by": "Olivia Owner", "expires_at": null,
                 "resources": [{"resource_type": "account", "resource_id": ACCOUNT, "access_level": 10}]},
            ]),
            "{family}"
        );
        // The documented key order, and no secret anywhere in the text.
        assert!(reply.text.starts_with(
            r#"[{"id":61001,"name":"CI deploy","last_4_digits":"2e8c","created_by":"Alice Admin","expires_at":"2027-06-30T23:59:59.000Z","resources":["#
        ));
        for secret in &secrets {
            assert!(!reply.text.contains(secret.as_str()), "{}", reply.text);
        }

        let one = get(&sandbox, &format!("{family}/{LEGACY_IMPORT}")).await;
        assert_eq!(one.status, StatusCode::OK);
        assert_eq!(one.body, reply.body[1]);
        assert!(!one.text.contains(&secrets[1]));
        for missing in ["4242", "x", "-1"] {
            let reply = get(&sandbox, &format!("{family}/{missing}")).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{family}/{missing}");
            assert_eq!(reply.body, json!({"error": "Not Found"}));
        }
    }
    // The tokens are not in the accesses listing, which lists users and invites only.
    let listing = get(&sandbox, "/api/account_accesses").await;
    assert!(!listing.text.contains("CI deploy"));
    assert_eq!(sandbox.state(), SandboxState::demo());
}

// ----------------------------------------------------------------------------- create

#[tokio::test]
async fn create_answers_200_with_the_secret_once_then_lists_the_token_without_it() {
    let sandbox = start_demo().await;
    for family in FAMILIES {
        let before = date_in_years(1);
        let reply = create(&sandbox, family, backend_viewer("deploy")).await;
        let after = date_in_years(1);
        assert_eq!(reply.status, StatusCode::OK, "{family}: {}", reply.text);
        assert!(reply.header("x-ratelimit-remaining").is_some());
        // The recorded create's keys, in its order.
        assert_key_order(
            &reply,
            &[
                "resources",
                "id",
                "name",
                "last_4_digits",
                "created_by",
                "expires_at",
                "token",
            ],
        );
        let secret = reply.body["token"].as_str().unwrap().to_owned();
        assert!(is_secret_shaped(&secret), "{secret}");
        assert_eq!(reply.body["last_4_digits"], secret[28..]);
        assert_eq!(reply.body["created_by"], "mailtrap-access sandbox");
        assert_eq!(reply.body["name"], "deploy");
        assert_eq!(
            reply.body["resources"],
            json!([{"resource_type": "project", "resource_id": BACKEND, "access_level": 10}])
        );
        // Omitted: the server's default, a year from now, in the service's form.
        let expires_at = reply.body["expires_at"].as_str().unwrap();
        assert!(
            expires_at.starts_with(&before) || expires_at.starts_with(&after),
            "{expires_at}"
        );
        assert_eq!(expires_at.len(), "2027-06-30T23:59:59.000Z".len());
        assert!(expires_at.ends_with('Z'));

        let id = reply.body["id"].as_u64().unwrap();
        assert!(id > LEGACY_IMPORT);
        let listed = get(&sandbox, family).await;
        assert_eq!(ids(&listed.body).last(), Some(&id));
        assert!(!listed.text.contains(&secret), "{}", listed.text);
        let shown = get(&sandbox, &format!("{family}/{id}")).await;
        let mut without_secret = reply.body.clone();
        without_secret.as_object_mut().unwrap().remove("token");
        assert_eq!(shown.body, without_secret);
        assert!(!shown.text.contains(&secret));
        // The library's state holds it, for tests to look for.
        let state = sandbox.state();
        let stored = state.api_token(id).unwrap();
        assert_eq!(stored.token, secret);
        assert_eq!(stored.resources[0].resource_type, "project");
    }
    let state = sandbox.state();
    assert_eq!(state.api_tokens.len(), 4);
    assert_ne!(state.api_tokens[2].id, state.api_tokens[3].id);
    assert_ne!(state.api_tokens[2].token, state.api_tokens[3].token);
}

#[tokio::test]
async fn create_takes_null_a_date_and_a_date_time_with_an_offset() {
    let sandbox = start_demo().await;
    let mut body = backend_viewer("expiring");
    body["expires_at"] = Value::Null;
    let never = create(&sandbox, FAMILIES[0], body.clone()).await;
    assert_eq!(never.status, StatusCode::OK);
    assert_eq!(never.body["expires_at"], Value::Null);
    let id = never.body["id"].as_u64().unwrap();
    assert_eq!(
        get(&sandbox, &format!("{}/{id}", FAMILIES[1])).await.body["expires_at"],
        Value::Null
    );

    let in_two_years = date_in_years(2);
    body["expires_at"] = json!(in_two_years);
    let dated = create(&sandbox, FAMILIES[1], body.clone()).await;
    assert_eq!(dated.status, StatusCode::OK, "{}", dated.text);
    assert_eq!(
        dated.body["expires_at"],
        format!("{in_two_years}T00:00:00.000Z")
    );
    body["expires_at"] = json!(format!("{}T12:30:00+02:00", date_in_years(3)));
    let timed = create(&sandbox, FAMILIES[0], body).await;
    assert_eq!(timed.status, StatusCode::OK, "{}", timed.text);
    assert_eq!(
        timed.body["expires_at"],
        format!("{}T10:30:00.000Z", date_in_years(3))
    );
}

#[tokio::test]
async fn bad_creates_are_422_with_base_messages_and_store_nothing() {
    let sandbox = start_demo().await;
    let resource = |resource_type: &str, id: u64, level: Value| json!({"resource_type": resource_type, "resource_id": id, "access_level": level});
    let with = |resources: Value, expires_at: Option<Value>| {
        let mut body = json!({"name": "t", "resources": resources});
        if let Some(expires_at) = expires_at {
            body["expires_at"] = expires_at;
        }
        body
    };
    let cases: Vec<(Value, &str)> = vec![
        (with(json!([]), None), NO_PERMISSIONS),
        (json!({"name": "t"}), NO_PERMISSIONS),
        (
            with(json!([resource("billing", ACCOUNT, json!("viewer"))]), None),
            "resources[0].resource_type \"billing\" cannot be held by an API token",
        ),
        (
            with(
                json!([resource(
                    "email_campaign_permission_scope",
                    ACCOUNT,
                    json!(10)
                )]),
                None,
            ),
            "resources[0].resource_type \"email_campaign_permission_scope\" cannot be held",
        ),
        (
            with(json!([resource("organization", 70412, json!(100))]), None),
            "resources[0].resource_type \"organization\" cannot be held",
        ),
        (
            with(json!([resource("project", 999, json!("admin"))]), None),
            "resources[0]: project 999 is not a resource of this account",
        ),
        (
            with(json!([resource("project", BACKEND, json!(50))]), None),
            "resources[0].access_level 50 is not a token level",
        ),
        (
            with(json!([resource("project", BACKEND, json!("owner"))]), None),
            "resources[0].access_level \"owner\" is not a token level",
        ),
        (
            with(
                json!([resource("project", BACKEND, json!(10))]),
                Some(json!(PAST)),
            ),
            NOT_IN_THE_FUTURE,
        ),
        (
            with(
                json!([resource("project", BACKEND, json!(10))]),
                Some(json!(date_in_years(6))),
            ),
            NOT_IN_THE_FUTURE,
        ),
        (
            with(
                json!([resource("project", BACKEND, json!(10))]),
                Some(json!("soon")),
            ),
            NOT_IN_THE_FUTURE,
        ),
        (
            json!({"resources": [resource("project", BACKEND, json!(10))]}),
            "Name can't be blank",
        ),
        (
            json!({"name": "  ", "resources": [resource("project", BACKEND, json!(10))]}),
            "Name can't be blank",
        ),
    ];
    for family in FAMILIES {
        for (body, expected) in &cases {
            let reply = create(&sandbox, family, body.clone()).await;
            let messages = base_errors(&reply);
            assert_eq!(messages.len(), 1, "{body}: {messages:?}");
            assert!(messages[0].starts_with(expected), "{body}: {messages:?}");
            assert_eq!(keys(&reply.body), ["errors"]);
        }
    }
    // Several problems at once are all reported.
    let reply = create(
        &sandbox,
        FAMILIES[1],
        json!({"resources": [], "expires_at": PAST}),
    )
    .await;
    assert_eq!(
        base_errors(&reply),
        ["Name can't be blank", NO_PERMISSIONS, NOT_IN_THE_FUTURE]
    );
    // A body not declared as JSON is not read at all.
    let reply = send(
        reqwest::Client::new()
            .post(format!("{}{}", sandbox.base_url(), FAMILIES[0]))
            .header("Api-Token", TOKEN)
            .body(backend_viewer("t").to_string()),
    )
    .await;
    assert_eq!(base_errors(&reply), ["Name can't be blank", NO_PERMISSIONS]);
    assert!(reply.body["errors"]["content_type"].is_array());
    assert_eq!(sandbox.state(), SandboxState::demo());
}

// ----------------------------------------------------------------------------- delete

#[tokio::test]
async fn delete_is_204_with_an_empty_body_then_404() {
    let sandbox = start_demo().await;
    for (family, id) in FAMILIES.iter().zip([CI_DEPLOY, LEGACY_IMPORT]) {
        let path = format!("{family}/{id}");
        let reply = call(&sandbox, Method::DELETE, &path, None).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{path}");
        assert_eq!(reply.text, "");
        assert!(reply.header("x-ratelimit-remaining").is_some());
        assert!(sandbox.state().api_token(id).is_none());
        for (method, status) in [(Method::DELETE, 404), (Method::GET, 404)] {
            let again = call(&sandbox, method.clone(), &path, None).await;
            assert_eq!(again.status.as_u16(), status, "{method} {path}");
            assert_eq!(again.body, json!({"error": "Not Found"}));
        }
    }
    assert_eq!(get(&sandbox, FAMILIES[0]).await.body, json!([]));
    let reply = call(&sandbox, Method::DELETE, "/api/api_tokens/x", None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    // A new token never gets the id of one that is gone.
    let created = create(&sandbox, FAMILIES[1], backend_viewer("next")).await;
    assert!(created.body["id"].as_u64().unwrap() > LEGACY_IMPORT);
}

// ------------------------------------------------------------------------------ reset

#[tokio::test]
async fn reset_gives_a_new_id_and_secret_once_and_drops_the_old_token() {
    for family in FAMILIES {
        let sandbox = start_demo().await;
        let old_secret = sandbox
            .state()
            .api_token(LEGACY_IMPORT)
            .unwrap()
            .token
            .clone();
        let reset_path = format!("{family}/{LEGACY_IMPORT}/reset");
        // No body at all, as the Python SDK sends a reset without parameters.
        let reply = send(
            reqwest::Client::new()
                .post(format!("{}{reset_path}", sandbox.base_url()))
                .header("Api-Token", TOKEN),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{family}: {}", reply.text);
        // The recorded reset left out last_4_digits and created_by.
        assert_key_order(&reply, &["resources", "id", "name", "expires_at", "token"]);
        let new_id = reply.body["id"].as_u64().unwrap();
        let new_secret = reply.body["token"].as_str().unwrap().to_owned();
        assert_ne!(new_id, LEGACY_IMPORT);
        assert!(is_secret_shaped(&new_secret));
        assert_ne!(new_secret, old_secret);
        assert_eq!(reply.body["name"], "Legacy import");
        assert_eq!(
            reply.body["resources"],
            json!([{"resource_type": "account", "resource_id": ACCOUNT, "access_level": 10}])
        );
        // No expires_at: the default, a year from now (the old one never expired).
        assert!(reply.body["expires_at"]
            .as_str()
            .unwrap()
            .starts_with(&date_in_years(1)[..4]));

        let old = get(&sandbox, &format!("{family}/{LEGACY_IMPORT}")).await;
        assert_eq!(old.status, StatusCode::NOT_FOUND);
        let listed = get(&sandbox, family).await;
        assert_eq!(ids(&listed.body), [CI_DEPLOY, new_id]);
        assert_eq!(listed.body[1]["created_by"], "Olivia Owner");
        assert_eq!(listed.body[1]["last_4_digits"], new_secret[28..]);
        assert!(!listed.text.contains(&new_secret));
        assert_eq!(sandbox.state().api_token(new_id).unwrap().token, new_secret);

        // A token made by a reset cannot be reset; the old one is gone.
        let again = call(
            &sandbox,
            Method::POST,
            &format!("{family}/{new_id}/reset"),
            None,
        )
        .await;
        assert_eq!(
            base_errors(&again),
            ["Only a token that has not been reset already can be reset"]
        );
        let gone = call(&sandbox, Method::POST, &reset_path, None).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        assert_eq!(gone.body, json!({"error": "Not Found"}));
        let unknown = call(&sandbox, Method::POST, &format!("{family}/x/reset"), None).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn reset_takes_an_expiry_and_refuses_a_bad_one() {
    let sandbox = start_demo().await;
    // Legacy import never expires, so this test does not start failing once CI deploy
    // (2027-06-30) has expired, which a reset refuses first.
    let path = format!("{}/{LEGACY_IMPORT}/reset", FAMILIES[1]);
    for bad in [
        json!(PAST),
        json!(date_in_years(6)),
        json!("later"),
        json!(7),
    ] {
        let reply = call(
            &sandbox,
            Method::POST,
            &path,
            Some(json!({"expires_at": bad})),
        )
        .await;
        assert_eq!(base_errors(&reply), [NOT_IN_THE_FUTURE], "{bad}");
    }
    assert_eq!(sandbox.state(), SandboxState::demo());
    let reply = call(
        &sandbox,
        Method::POST,
        &path,
        Some(json!({"expires_at": null})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["expires_at"], Value::Null);
    assert!(sandbox.state().api_token(LEGACY_IMPORT).is_none());
}

// ---------------------------------------------------------------------- vocabularies

#[tokio::test]
async fn each_vocabulary_serves_and_takes_its_own_names() {
    for vocabulary in [Vocabulary::Old, Vocabulary::New] {
        let sandbox = start_in(vocabulary).await;
        let (own, foreign) = match vocabulary {
            Vocabulary::Old => (["inbox", "sending_domain"], ["sandbox", "domain"]),
            Vocabulary::New => (["sandbox", "domain"], ["inbox", "sending_domain"]),
        };
        let body = json!({"name": "mail", "resources": [
            {"resource_type": own[0], "resource_id": BACKEND_STAGING, "access_level": "admin"},
            {"resource_type": own[1], "resource_id": ACME_COM.to_string(), "access_level": 10},
        ]});
        let reply = create(&sandbox, FAMILIES[1], body).await;
        assert_eq!(reply.status, StatusCode::OK, "{vocabulary}: {}", reply.text);
        let served = json!([
            {"resource_type": own[0], "resource_id": BACKEND_STAGING, "access_level": 100},
            {"resource_type": own[1], "resource_id": ACME_COM, "access_level": 10},
        ]);
        assert_eq!(reply.body["resources"], served);
        let id = reply.body["id"].as_u64().unwrap();
        for family in FAMILIES {
            let shown = get(&sandbox, &format!("{family}/{id}")).await;
            assert_eq!(shown.body["resources"], served, "{vocabulary} {family}");
        }
        // Stored canonical whatever is served.
        let state = sandbox.state();
        let kinds: Vec<&str> = state
            .api_token(id)
            .unwrap()
            .resources
            .iter()
            .map(|resource| resource.resource_type.as_str())
            .collect();
        assert_eq!(kinds, ["inbox", "sending_domain"]);
        // The other vocabulary's names are unknown types, as in a bulk update.
        for name in foreign {
            let reply = create(
                &sandbox,
                FAMILIES[0],
                json!({"name": "x", "resources": [
                    {"resource_type": name, "resource_id": BACKEND_STAGING, "access_level": "viewer"}
                ]}),
            )
            .await;
            let messages = base_errors(&reply);
            assert!(
                messages[0].contains("cannot be held by an API token")
                    && messages[0].ends_with(&format!("account, project, {}, {}", own[0], own[1])),
                "{vocabulary} {name}: {messages:?}"
            );
        }
        // Reset keeps the resources, served in the same names.
        let reset = call(
            &sandbox,
            Method::POST,
            &format!("{}/{id}/reset", FAMILIES[0]),
            None,
        )
        .await;
        assert_eq!(reset.body["resources"], served);
    }
}

// ------------------------------------------------------------------- auth, 403, 404

#[tokio::test]
async fn another_account_is_403_and_a_wrong_token_401_on_every_token_route() {
    let sandbox = start_demo().await;
    let routes = |base: &str| {
        vec![
            (Method::GET, base.to_owned(), None),
            (Method::GET, format!("{base}/{CI_DEPLOY}"), None),
            (Method::POST, base.to_owned(), Some(backend_viewer("x"))),
            (Method::DELETE, format!("{base}/{CI_DEPLOY}"), None),
            (Method::POST, format!("{base}/{CI_DEPLOY}/reset"), None),
        ]
    };
    for (method, path, body) in routes("/api/accounts/2222222/api_tokens")
        .into_iter()
        .chain(routes("/api/accounts/abc/api_tokens"))
    {
        let reply = call(&sandbox, method.clone(), &path, body).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(reply.body, json!({"errors": "Account access forbidden"}));
        assert!(reply.header("x-ratelimit-remaining").is_some());
    }
    for base in FAMILIES {
        for (method, path, body) in routes(base) {
            let mut request = reqwest::Client::new()
                .request(method.clone(), format!("{}{path}", sandbox.base_url()))
                .header("Api-Token", "wrong");
            if let Some(body) = body {
                request = request.json(&body);
            }
            let reply = send(request).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert_eq!(reply.body, json!({"error": "Incorrect API token"}));
        }
    }
    assert_eq!(sandbox.state(), SandboxState::demo());
}

#[tokio::test]
async fn other_methods_on_token_paths_are_no_route() {
    let sandbox = start_demo().await;
    for family in FAMILIES {
        for (method, path) in [
            (Method::PUT, format!("{family}/{CI_DEPLOY}")),
            (Method::PATCH, format!("{family}/{CI_DEPLOY}")),
            (Method::POST, format!("{family}/{CI_DEPLOY}")),
            (Method::DELETE, family.to_owned()),
            (Method::PUT, family.to_owned()),
            (Method::GET, format!("{family}/{CI_DEPLOY}/reset")),
            (Method::DELETE, format!("{family}/{CI_DEPLOY}/reset")),
        ] {
            let reply = call(&sandbox, method.clone(), &path, None).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
            assert_eq!(reply.body, json!({"error": "Not Found"}));
            assert!(reply.header("x-ratelimit-limit").is_some());
        }
    }
    assert_eq!(sandbox.state(), SandboxState::demo());
}

// ------------------------------------------------------------- the ApiToken accesses

#[tokio::test]
async fn removing_a_token_removes_its_token_access_and_the_other_way_round() {
    let sandbox = start(SandboxConfig::new(demo_with_token_accesses(), TOKEN)).await;
    let token_accesses = |sandbox: &Sandbox| -> Vec<u64> {
        sandbox
            .state()
            .accesses
            .iter()
            .filter(|access| access.specifier_type == SpecifierType::ApiToken)
            .map(|access| access.id)
            .collect()
    };
    assert_eq!(token_accesses(&sandbox), [CI_ACCESS, LEGACY_ACCESS]);

    // Deleted through the API Tokens API: its ApiToken access goes.
    let reply = call(
        &sandbox,
        Method::DELETE,
        &format!("{}/{CI_DEPLOY}", FAMILIES[0]),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(token_accesses(&sandbox), [LEGACY_ACCESS]);
    assert!(sandbox.state().access(CI_ACCESS).is_none());

    // Reset: the old token's access goes too.
    let reply = call(
        &sandbox,
        Method::POST,
        &format!("{}/{LEGACY_IMPORT}/reset", FAMILIES[1]),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(token_accesses(&sandbox).is_empty());

    // Deleted through the accesses API: the token goes.
    let sandbox = start(SandboxConfig::new(demo_with_token_accesses(), TOKEN)).await;
    for (path, access, token) in [
        (
            format!("/api/accounts/{ACCOUNT}/account_accesses/{CI_ACCESS}"),
            CI_ACCESS,
            CI_DEPLOY,
        ),
        (
            format!("/api/account_accesses/{LEGACY_ACCESS}"),
            LEGACY_ACCESS,
            LEGACY_IMPORT,
        ),
    ] {
        let reply = call(&sandbox, Method::DELETE, &path, None).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body, json!({"id": access}));
        let shown = get(&sandbox, &format!("{}/{token}", FAMILIES[0])).await;
        assert_eq!(shown.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(get(&sandbox, FAMILIES[1]).await.body, json!([]));
    // Users and invites were not touched.
    assert_eq!(sandbox.state().accesses, SandboxState::demo().accesses);
}

// ------------------------------------------- rate limit, faults and the request log

#[tokio::test]
async fn token_routes_count_against_the_rate_limit() {
    let sandbox = start(SandboxConfig {
        rate_limit: "3/10s".parse().unwrap(),
        ..SandboxConfig::new(SandboxState::demo(), TOKEN)
    })
    .await;
    assert_eq!(get(&sandbox, FAMILIES[0]).await.status, StatusCode::OK);
    let created = create(&sandbox, FAMILIES[1], backend_viewer("x")).await;
    assert_eq!(created.header("x-ratelimit-remaining"), Some("1"));
    let path = format!("{}/{CI_DEPLOY}", FAMILIES[1]);
    let deleted = call(&sandbox, Method::DELETE, &path, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(deleted.header("x-ratelimit-remaining"), Some("0"));
    let limited = call(
        &sandbox,
        Method::POST,
        &format!("{}/{LEGACY_IMPORT}/reset", FAMILIES[0]),
        None,
    )
    .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body, json!({"errors": "Rate limit exceeded"}));
    assert!(limited.header("retry-after").is_some());
    assert!(sandbox.state().api_token(LEGACY_IMPORT).is_some());
}

#[tokio::test]
async fn faults_strike_token_routes_and_nothing_is_applied() {
    let sandbox = start_demo().await;
    sandbox
        .set_faults(Faults {
            failure_rate: 1.0,
            seed: 5,
            ..Faults::none()
        })
        .unwrap();
    let cases = [
        (Method::GET, FAMILIES[0].to_owned(), None),
        (
            Method::POST,
            FAMILIES[1].to_owned(),
            Some(backend_viewer("x")),
        ),
        (Method::DELETE, format!("{}/{CI_DEPLOY}", FAMILIES[0]), None),
        (
            Method::POST,
            format!("{}/{LEGACY_IMPORT}/reset", FAMILIES[1]),
            None,
        ),
    ];
    for (method, path, body) in cases {
        let reply = call(&sandbox, method.clone(), &path, body).await;
        assert_eq!(
            reply.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{method} {path}"
        );
    }
    let recorded = sandbox.requests();
    assert_eq!(recorded.len(), 4);
    assert!(recorded
        .iter()
        .all(|request| request.fault == Some(InjectedFault::ServerError) && !request.applied));
    assert_eq!(sandbox.state(), SandboxState::demo());

    // A connection dropped after the change: the token exists, the client never saw it.
    sandbox
        .set_faults(Faults {
            drop_after_rate: 1.0,
            seed: 5,
            ..Faults::none()
        })
        .unwrap();
    let dropped = reqwest::Client::new()
        .post(format!("{}{}", sandbox.base_url(), FAMILIES[0]))
        .header("Api-Token", TOKEN)
        .timeout(Duration::from_secs(10))
        .json(&backend_viewer("lost"))
        .send()
        .await;
    assert!(dropped.is_err(), "{dropped:?}");
    let last = sandbox.requests().pop().unwrap();
    assert_eq!((last.status, last.applied), (0, true));
    assert_eq!(sandbox.state().api_tokens.len(), 3);
}

#[tokio::test]
async fn the_request_log_records_token_calls_and_never_a_secret() {
    let sandbox = start_demo().await;
    let body = backend_viewer("logged");
    let created = create(&sandbox, FAMILIES[0], body.clone()).await;
    let id = created.body["id"].as_u64().unwrap();
    let reset = call(
        &sandbox,
        Method::POST,
        &format!("{}/{id}/reset", FAMILIES[1]),
        Some(json!({"expires_at": null})),
    )
    .await;
    assert_eq!(reset.status, StatusCode::OK);
    let new_id = reset.body["id"].as_u64().unwrap();
    get(&sandbox, FAMILIES[1]).await;
    get(&sandbox, &format!("{}/{new_id}", FAMILIES[0])).await;
    call(
        &sandbox,
        Method::DELETE,
        &format!("{}/{new_id}", FAMILIES[0]),
        None,
    )
    .await;
    create(&sandbox, FAMILIES[1], json!({"name": "x", "resources": []})).await;

    let recorded = sandbox.requests();
    let summary: Vec<(&str, u16, bool)> = recorded
        .iter()
        .map(|request| (request.method.as_str(), request.status, request.applied))
        .collect();
    assert_eq!(
        summary,
        [
            ("POST", 200, true),
            ("POST", 200, true),
            ("GET", 200, false),
            ("GET", 200, false),
            ("DELETE", 204, true),
            ("POST", 422, false),
        ]
    );
    assert_eq!(recorded[0].body, Some(body));
    assert_eq!(recorded[1].body, Some(json!({"expires_at": null})));
    assert_eq!(recorded[1].path, format!("/api/api_tokens/{id}/reset"));
    // Every secret the sandbox ever held or handed out, searched for in the whole log.
    let mut secrets = secrets(&sandbox);
    secrets.extend(SandboxState::demo().api_tokens.into_iter().map(|t| t.token));
    secrets.push(created.body["token"].as_str().unwrap().to_owned());
    secrets.push(reset.body["token"].as_str().unwrap().to_owned());
    let log = format!("{recorded:?}");
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "{log}");
    }
    assert!(!log.contains(TOKEN));
    // Nor does the state's own debug form show one.
    let shown = format!("{:?}", sandbox.state());
    for secret in &secrets {
        assert!(!shown.contains(secret.as_str()));
    }
}
