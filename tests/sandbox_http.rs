//! The sandbox over real HTTP: each operation, every error status with its body and
//! headers, the list filters in both query syntaxes, the rate limit, concurrent writes,
//! both vocabularies, the token-scoped twin of every account-scoped path,
//! `GET /api/accounts`, and the `mailtrap-access sandbox` binary itself (port line, bad
//! state file, generated token, SIGTERM, `--vocabulary`). The API Tokens API has its
//! own file, `sandbox_tokens.rs`.

mod common;

use common::{send, Reply};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mailtrap_access::rate::RateLimit;
use mailtrap_access::sandbox::{
    Faults, InjectedFault, Sandbox, SandboxConfig, SandboxState, Vocabulary,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const TOKEN: &str = "sandbox-test-token";
const ACCOUNT: u64 = 1111111;
const OWNER: u64 = 5190001;
const ALICE: u64 = 5190002;
const BOB: u64 = 5190003;
const CAROL: u64 = 5190004;
const ERIN_INVITE: u64 = 5190007;
const CI_TOKEN: u64 = 5190009;
const BACKEND: u64 = 3301001;
const FRONTEND: u64 = 3301002;
const BACKEND_STAGING: u64 = 4400101;
const FRONTEND_STAGING: u64 = 4400201;
const ACME_COM: u64 = 204301;
const MAIL_ACME_COM: u64 = 204302;

async fn start_with(state: SandboxState, rate_limit: RateLimit) -> Sandbox {
    let config = SandboxConfig {
        rate_limit,
        ..SandboxConfig::new(state, TOKEN)
    };
    Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("sandbox starts")
}

async fn start_demo() -> Sandbox {
    start_with(SandboxState::demo(), RateLimit::MAILTRAP).await
}

/// The id of the demo's API token "CI deploy" (not an access id).
const CI_DEPLOY_TOKEN_ID: u64 = 61001;

/// The demo with the `ApiToken` entry the service keeps in its accesses for the token
/// "CI deploy" (access `CI_TOKEN`): stored, bulk-updatable and deletable, never listed.
fn demo_with_token_access() -> SandboxState {
    let mut state = SandboxState::demo();
    state.accesses.push(
        serde_json::from_value(json!({
            "id": CI_TOKEN,
            "specifier_type": "ApiToken",
            "resources": [{"resource_type": "project", "resource_id": BACKEND, "access_level": 10}],
            "specifier": {"id": CI_DEPLOY_TOKEN_ID, "name": "CI deploy", "author_name": "Alice Admin",
                          "token": "4f1c9a7e2b3d8f6a0c5e9b1d7a3f2e8c",
                          "expires_at": "2027-06-30T23:59:59.000Z"},
            "permissions": {"can_read": false, "can_update": true, "can_destroy": true, "can_leave": false}
        }))
        .unwrap(),
    );
    state
}

async fn start_demo_with_token_access() -> Sandbox {
    start_with(demo_with_token_access(), RateLimit::MAILTRAP).await
}

fn url(sandbox: &Sandbox, path: &str) -> String {
    format!("{}{path}", sandbox.base_url())
}

fn accesses_path() -> String {
    format!("/api/accounts/{ACCOUNT}/account_accesses")
}

fn access_path(access_id: u64) -> String {
    format!("/api/accounts/{ACCOUNT}/account_accesses/{access_id}")
}

fn bulk_path(access_id: u64) -> String {
    format!("{}/permissions/bulk", access_path(access_id))
}

async fn get(sandbox: &Sandbox, path: &str) -> Reply {
    send(
        reqwest::Client::new()
            .get(url(sandbox, path))
            .header("Api-Token", TOKEN),
    )
    .await
}

async fn bulk(sandbox: &Sandbox, access_id: u64, body: Value) -> Reply {
    send(
        reqwest::Client::new()
            .put(url(sandbox, &bulk_path(access_id)))
            .bearer_auth(TOKEN)
            .json(&body),
    )
    .await
}

async fn delete(sandbox: &Sandbox, access_id: u64) -> Reply {
    send(
        reqwest::Client::new()
            .delete(url(sandbox, &access_path(access_id)))
            .header("Api-Token", TOKEN),
    )
    .await
}

fn listed_ids(body: &Value) -> Vec<u64> {
    body.as_array()
        .expect("a JSON array")
        .iter()
        .map(|entry| entry["id"].as_u64().expect("an integer id"))
        .collect()
}

/// `(resource_type, resource_id, access_level)` of every row of one access, in order.
fn rows_of(sandbox: &Sandbox, access_id: u64) -> Vec<(String, u64, u32)> {
    sandbox.state().rows(access_id)
}

fn row(resource_type: &str, resource_id: u64, access_level: u32) -> (String, u64, u32) {
    (resource_type.to_owned(), resource_id, access_level)
}

fn assert_rate_headers(reply: &Reply, limit: u32, remaining: u32) {
    assert_eq!(reply.header("x-ratelimit-limit"), Some(&*limit.to_string()));
    assert_eq!(
        reply.header("x-ratelimit-remaining"),
        Some(&*remaining.to_string())
    );
}

// ---------------------------------------------------------------- the four operations

#[tokio::test]
async fn list_returns_users_and_invites_exactly_as_seeded() {
    let sandbox = start_demo_with_token_access().await;
    let reply = get(&sandbox, &accesses_path()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_rate_headers(&reply, 150, 149);
    assert_eq!(
        listed_ids(&reply.body),
        vec![
            OWNER,
            ALICE,
            BOB,
            CAROL,
            5190005,
            5190006,
            ERIN_INVITE,
            5190008
        ],
        "seed order, no ApiToken entry"
    );
    // Entries are the seed's, unknown fields (permissions, organization rows) included.
    let seeded: Vec<Value> = sandbox
        .accesses_json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["specifier_type"] != "ApiToken")
        .cloned()
        .collect();
    assert_eq!(reply.body, Value::Array(seeded));
    assert_eq!(
        reply.body[6],
        json!({"id": ERIN_INVITE, "specifier_type": "Invite",
               "resources": [{"resource_type": "account", "resource_id": ACCOUNT, "access_level": 10}],
               "specifier": {"id": 82001, "email": "erin@acme.com"},
               "permissions": {"can_read": false, "can_update": true, "can_destroy": true, "can_leave": false}})
    );
    assert_eq!(
        reply.body[0]["resources"][1]["resource_type"],
        "organization"
    );
    assert_eq!(
        sandbox.accesses_json().as_array().unwrap().len(),
        9,
        "the ApiToken access exists, it is just not listed"
    );
}

#[tokio::test]
async fn list_keeps_the_service_key_order_on_the_wire() {
    let sandbox = start_demo().await;
    let response = reqwest::Client::new()
        .get(url(&sandbox, &accesses_path()))
        .header("Api-Token", TOKEN)
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert!(
        text.contains(r#"{"id":5190007,"specifier_type":"Invite","resources":[{"resource_type":"account","resource_id":1111111,"access_level":10}],"specifier":{"id":82001,"email":"erin@acme.com"},"permissions":{"can_read":false,"can_update":true,"can_destroy":true,"can_leave":false}}"#),
        "{text}"
    );
}

#[tokio::test]
async fn resources_returns_the_seeded_tree() {
    let sandbox = start_demo().await;
    let reply = get(
        &sandbox,
        &format!("/api/accounts/{ACCOUNT}/permissions/resources"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_rate_headers(&reply, 150, 149);
    assert_eq!(
        reply.body,
        serde_json::to_value(&SandboxState::demo().resources).unwrap()
    );
    let account = &reply.body[0];
    assert_eq!(
        (&account["type"], &account["id"], &account["access_level"]),
        (&json!("account"), &json!(ACCOUNT), &json!(100))
    );
    let children: Vec<(String, u64)> = account["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            (
                node["type"].as_str().unwrap().to_owned(),
                node["id"].as_u64().unwrap(),
            )
        })
        .collect();
    // Billing and the campaign scope share the account's id: identity is (type, id).
    assert!(children.contains(&("billing".into(), ACCOUNT)));
    assert!(children.contains(&("email_campaign_permission_scope".into(), ACCOUNT)));
    assert_eq!(account["resources"][0]["resources"][0]["name"], "Staging");
    assert_eq!(account["resources"][1]["resources"][0]["name"], "Staging");
}

#[tokio::test]
async fn filters_work_in_both_query_syntaxes_and_take_the_union() {
    let sandbox = start_demo_with_token_access().await;
    let cases: [(&str, Vec<u64>); 9] = [
        ("project_ids=3301001", vec![BOB]),
        ("project_ids[]=3301002", vec![CAROL, 5190008]),
        ("project_ids%5B%5D=3301002", vec![CAROL, 5190008]),
        (
            "project_ids=3301001&project_ids=3301002",
            vec![BOB, CAROL, 5190008],
        ),
        (
            "project_ids[]=3301001&project_ids[]=3301002",
            vec![BOB, CAROL, 5190008],
        ),
        ("inbox_ids[]=4400101&domain_ids=204301", vec![BOB, 5190005]),
        ("domain_ids=204302", vec![5190008]),
        ("project_ids=999", vec![]),
        (
            "unrelated=1",
            vec![
                OWNER,
                ALICE,
                BOB,
                CAROL,
                5190005,
                5190006,
                ERIN_INVITE,
                5190008,
            ],
        ),
    ];
    for (query, expected) in cases {
        let reply = get(&sandbox, &format!("{}?{query}", accesses_path())).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}");
        assert_eq!(listed_ids(&reply.body), expected, "{query}");
    }
    // The ApiToken has a row on Backend but is never listed, filter or not.
    assert!(sandbox.state().access(CI_TOKEN).is_some());
}

#[tokio::test]
async fn bulk_upserts_destroys_and_stores_integers() {
    let sandbox = start_demo().await;
    let reply = bulk(
        &sandbox,
        BOB,
        json!({"permissions": [
            {"resource_type": "project", "resource_id": BACKEND.to_string(), "access_level": "viewer"},
            {"resource_type": "inbox", "resource_id": BACKEND_STAGING, "access_level": 100},
            {"resource_type": "sending_domain", "resource_id": ACME_COM.to_string(), "_destroy": true},
            {"resource_type": "email_campaign_permission_scope", "resource_id": ACCOUNT.to_string(), "access_level": "10"},
        ]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body,
        json!({"message": "Permissions have been updated!"})
    );
    assert_rate_headers(&reply, 150, 149);
    assert_eq!(
        rows_of(&sandbox, BOB),
        vec![
            row("project", BACKEND, 10),
            row("inbox", FRONTEND_STAGING, 10),
            row("billing", ACCOUNT, 10),
            row("inbox", BACKEND_STAGING, 100),
            row("email_campaign_permission_scope", ACCOUNT, 10),
        ]
    );
    // The list shows the same rows, with integer ids and levels.
    let listed = get(
        &sandbox,
        &format!("{}?project_ids={BACKEND}", accesses_path()),
    )
    .await;
    assert_eq!(
        listed.body[0]["resources"][3],
        json!({"resource_type": "inbox", "resource_id": BACKEND_STAGING, "access_level": 100})
    );
}

#[tokio::test]
async fn bulk_keys_rows_by_type_and_id_not_by_id_alone() {
    let sandbox = start_demo().await;
    // Billing, the account and the campaign scope share one id; only billing changes.
    let reply = bulk(
        &sandbox,
        BOB,
        json!({"permissions": [{"resource_type": "billing", "resource_id": ACCOUNT, "access_level": "admin"}]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        rows_of(&sandbox, BOB),
        vec![
            row("project", BACKEND, 100),
            row("inbox", FRONTEND_STAGING, 10),
            row("sending_domain", ACME_COM, 10),
            row("billing", ACCOUNT, 100),
        ]
    );
    let reply = bulk(
        &sandbox,
        BOB,
        json!({"permissions": [{"resource_type": "account", "resource_id": ACCOUNT, "access_level": "viewer"}]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(rows_of(&sandbox, BOB).len(), 5);
    assert_eq!(rows_of(&sandbox, BOB)[4], row("account", ACCOUNT, 10));
}

#[tokio::test]
async fn bulk_works_on_invites_and_api_tokens() {
    let sandbox = start_demo_with_token_access().await;
    for access_id in [ERIN_INVITE, CI_TOKEN] {
        let reply = bulk(
            &sandbox,
            access_id,
            json!({"permissions": [{"resource_type": "project", "resource_id": FRONTEND.to_string(), "access_level": "admin"}]}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{access_id}");
        assert!(rows_of(&sandbox, access_id).contains(&row("project", FRONTEND, 100)));
    }
    let token_entry = sandbox
        .accesses_json()
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["id"] == CI_TOKEN)
        .cloned()
        .unwrap();
    assert_eq!(token_entry["specifier"]["name"], "CI deploy");
    assert_eq!(token_entry["resources"][1]["resource_id"], FRONTEND);
}

#[tokio::test]
async fn delete_removes_users_invites_and_tokens() {
    let sandbox = start_demo_with_token_access().await;
    for access_id in [CAROL, ERIN_INVITE, CI_TOKEN] {
        let reply = delete(&sandbox, access_id).await;
        assert_eq!(reply.status, StatusCode::OK, "{access_id}");
        assert_eq!(reply.body, json!({"id": access_id}));
        assert!(sandbox.state().access(access_id).is_none());
    }
    let listed = get(&sandbox, &accesses_path()).await;
    assert_eq!(
        listed_ids(&listed.body),
        vec![OWNER, ALICE, BOB, 5190005, 5190006, 5190008]
    );
    // The ApiToken access took its token with it; the other token stays.
    let tokens: Vec<u64> = sandbox.state().api_tokens.iter().map(|t| t.id).collect();
    assert_eq!(tokens, vec![61002]);
    // Gone means gone: a second delete is a 404.
    let again = delete(&sandbox, CAROL).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.body, json!({"error": "Not Found"}));
}

// ---------------------------------------------------------------------- auth: 401

#[tokio::test]
async fn missing_or_wrong_token_is_401_with_the_service_body_and_headers() {
    let sandbox = start_demo().await;
    let client = reqwest::Client::new();
    let list = url(&sandbox, &accesses_path());
    let attempts = [
        ("no token", client.get(&list)),
        (
            "wrong Api-Token",
            client.get(&list).header("Api-Token", "nope"),
        ),
        ("wrong Bearer", client.get(&list).bearer_auth("nope")),
        (
            "Basic scheme",
            client.get(&list).basic_auth(TOKEN, Some("")),
        ),
        (
            "token in the wrong header",
            client.get(&list).header("X-Api-Token", TOKEN),
        ),
        (
            "write without token",
            client
                .delete(url(&sandbox, &access_path(CAROL)))
                .header("Api-Token", "nope"),
        ),
        (
            "bulk without token",
            client
                .put(url(&sandbox, &bulk_path(CAROL)))
                .json(&json!({"permissions": []})),
        ),
    ];
    for (what, request) in attempts {
        let reply = send(request).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(
            reply.body,
            json!({"error": "Incorrect API token"}),
            "{what}"
        );
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Token realm=\"Application\""),
            "{what}"
        );
        assert!(reply.header("x-ratelimit-limit").is_some(), "{what}");
        assert!(reply.header("x-ratelimit-remaining").is_some(), "{what}");
    }
    assert_eq!(sandbox.state(), SandboxState::demo(), "nothing changed");
}

#[tokio::test]
async fn both_auth_header_styles_are_accepted() {
    let sandbox = start_demo().await;
    let client = reqwest::Client::new();
    let list = url(&sandbox, &accesses_path());
    for request in [
        client.get(&list).header("Api-Token", TOKEN),
        client.get(&list).bearer_auth(TOKEN),
        client
            .get(&list)
            .header("Authorization", format!("bearer {TOKEN}")),
    ] {
        assert_eq!(send(request).await.status, StatusCode::OK);
    }
}

// ---------------------------------------------------------------------- 403 and 404

#[tokio::test]
async fn another_account_is_403() {
    let sandbox = start_demo().await;
    let client = reqwest::Client::new();
    let other = "/api/accounts/2222222";
    for request in [
        client.get(url(&sandbox, &format!("{other}/account_accesses"))),
        client.get(url(&sandbox, &format!("{other}/permissions/resources"))),
        client
            .put(url(
                &sandbox,
                &format!("{other}/account_accesses/{BOB}/permissions/bulk"),
            ))
            .json(&json!({"permissions": []})),
        client.delete(url(&sandbox, &format!("{other}/account_accesses/{BOB}"))),
        client.get(url(&sandbox, "/api/accounts/abc/account_accesses")),
    ] {
        let reply = send(request.header("Api-Token", TOKEN)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(reply.body, json!({"errors": "Account access forbidden"}));
        assert!(reply.header("x-ratelimit-remaining").is_some());
    }
    assert_eq!(sandbox.state(), SandboxState::demo());
}

#[tokio::test]
async fn the_owner_cannot_be_changed_or_removed() {
    let sandbox = start_demo().await;
    let demoted = bulk(
        &sandbox,
        OWNER,
        json!({"permissions": [{"resource_type": "account", "resource_id": ACCOUNT.to_string(), "access_level": "viewer"}]}),
    )
    .await;
    assert_eq!(demoted.status, StatusCode::FORBIDDEN);
    assert_eq!(demoted.body, json!({"errors": "Access forbidden"}));
    assert_rate_headers(&demoted, 150, 149);
    // The owner check comes before the body is read: even an empty body is a 403.
    let empty = bulk(&sandbox, OWNER, json!({"permissions": []})).await;
    assert_eq!(empty.status, StatusCode::FORBIDDEN);
    let removed = delete(&sandbox, OWNER).await;
    assert_eq!(removed.status, StatusCode::FORBIDDEN);
    assert_eq!(removed.body, json!({"errors": "Access forbidden"}));
    assert_eq!(sandbox.state(), SandboxState::demo());
}

#[tokio::test]
async fn unknown_access_is_404_for_bulk_and_delete() {
    let sandbox = start_demo().await;
    let valid = json!({"permissions": [{"resource_type": "project", "resource_id": "3301001", "access_level": "viewer"}]});
    let reply = bulk(&sandbox, 4242, valid.clone()).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body, json!({"error": "Not Found"}));
    assert_rate_headers(&reply, 150, 149);
    // The 404 comes before the body is judged.
    let reply = bulk(&sandbox, 4242, json!({"permissions": []})).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = delete(&sandbox, 4242).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body, json!({"error": "Not Found"}));
    let reply = send(
        reqwest::Client::new()
            .delete(url(&sandbox, &format!("{}/not-a-number", accesses_path())))
            .header("Api-Token", TOKEN),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(sandbox.state(), SandboxState::demo());
}

#[tokio::test]
async fn unknown_routes_are_404_with_rate_headers() {
    let sandbox = start_demo().await;
    let client = reqwest::Client::new();
    let cases = [
        (Method::GET, "/".to_owned()),
        (Method::GET, format!("/api/account_accesses/{BOB}")),
        (Method::POST, "/api/account_accesses".to_owned()),
        (Method::DELETE, "/api/accounts".to_owned()),
        (Method::GET, format!("/api/accounts/{ACCOUNT}")),
        (Method::POST, accesses_path()),
        (Method::GET, access_path(BOB)),
        (Method::PATCH, bulk_path(BOB)),
        (Method::GET, format!("/api/accounts/{ACCOUNT}/users")),
    ];
    for (method, path) in cases {
        let reply = send(
            client
                .request(method.clone(), url(&sandbox, &path))
                .header("Api-Token", TOKEN),
        )
        .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(reply.body, json!({"error": "Not Found"}), "{method} {path}");
        assert!(reply.header("x-ratelimit-limit").is_some());
    }
    // Routing comes before authentication, as in a Rails app.
    let reply = send(client.get(url(&sandbox, "/api/nothing-here"))).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

// ------------------------------------------------------------------------------ 422

#[tokio::test]
async fn empty_and_shapeless_bodies_are_422_nothing_selected() {
    let sandbox = start_demo().await;
    let nothing =
        json!({"errors": {"base": ["No permissions selected. Please choose at least one."]}});
    for body in [
        json!({"permissions": []}),
        json!({}),
        json!({"permissions": null}),
        json!([]),
    ] {
        let reply = bulk(&sandbox, BOB, body.clone()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reply.body, nothing, "{body}");
        assert_rate_headers(&reply, 150, 150 - sandbox.requests().len() as u32);
    }
    let reply = bulk(&sandbox, BOB, json!({"permissions": "all"})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.body,
        json!({"errors": {"permissions": ["must be an array"]}})
    );
    assert_eq!(sandbox.state(), SandboxState::demo());
}

#[tokio::test]
async fn bodies_that_are_not_json_are_422() {
    let sandbox = start_demo().await;
    let client = reqwest::Client::new();
    let not_json = send(
        client
            .put(url(&sandbox, &bulk_path(BOB)))
            .bearer_auth(TOKEN)
            .header("Content-Type", "application/json")
            .body("{permissions: [oops"),
    )
    .await;
    assert_eq!(not_json.status, StatusCode::UNPROCESSABLE_ENTITY);
    let base = not_json.body["errors"]["base"][0].as_str().unwrap();
    assert!(
        base.starts_with("the request body is not valid JSON"),
        "{base}"
    );

    // Valid JSON that is not declared as JSON is not read at all, as in Rails.
    let undeclared = send(
        client
            .put(url(&sandbox, &bulk_path(BOB)))
            .bearer_auth(TOKEN)
            .body(r#"{"permissions":[{"resource_type":"project","resource_id":"3301001","access_level":"viewer"}]}"#),
    )
    .await;
    assert_eq!(undeclared.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        undeclared.body["errors"]["base"],
        json!(["No permissions selected. Please choose at least one."])
    );
    assert!(undeclared.body["errors"]["content_type"].is_array());
    assert_eq!(sandbox.state(), SandboxState::demo());
}

#[tokio::test]
async fn each_invalid_item_is_422_with_an_errors_object_of_string_arrays() {
    let sandbox = start_demo().await;
    let cases = [
        (
            json!({"resource_type": "project", "resource_id": "999", "access_level": "viewer"}),
            "permissions[0].resource_id",
        ),
        (
            // An inbox id named as a project: right id, wrong type, not in the tree.
            json!({"resource_type": "project", "resource_id": "4400101", "access_level": "viewer"}),
            "permissions[0].resource_id",
        ),
        (
            json!({"resource_type": "organization", "resource_id": "70412", "access_level": "admin"}),
            "permissions[0].resource_type",
        ),
        (
            json!({"resource_type": "galaxy", "resource_id": "1", "access_level": "admin"}),
            "permissions[0].resource_type",
        ),
        (
            json!({"resource_id": "3301001", "access_level": "admin"}),
            "permissions[0].resource_type",
        ),
        (
            json!({"resource_type": "project", "resource_id": "Backend", "access_level": "admin"}),
            "permissions[0].resource_id",
        ),
        (
            json!({"resource_type": "project", "resource_id": "3301001", "access_level": 50}),
            "permissions[0].access_level",
        ),
        (
            json!({"resource_type": "project", "resource_id": "3301001", "access_level": "owner"}),
            "permissions[0].access_level",
        ),
        (
            json!({"resource_type": "project", "resource_id": "3301001", "access_level": 1000}),
            "permissions[0].access_level",
        ),
        (
            json!({"resource_type": "project", "resource_id": "3301001"}),
            "permissions[0].access_level",
        ),
        (
            json!({"resource_type": "project", "resource_id": "3301001", "_destroy": "true"}),
            "permissions[0]._destroy",
        ),
        (
            json!({"resource_type": "project", "resource_id": "3301001", "access_level": "viewer", "_destroy": 1}),
            "permissions[0]._destroy",
        ),
        (json!("project:3301001"), "permissions[0]"),
    ];
    for (item, field) in cases {
        let reply = bulk(&sandbox, BOB, json!({"permissions": [item]})).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{item}");
        let errors = reply.body["errors"].as_object().expect("errors object");
        assert_eq!(errors.keys().collect::<Vec<_>>(), vec![field], "{item}");
        for messages in errors.values() {
            let messages = messages.as_array().expect("an array of messages");
            assert!(!messages.is_empty());
            assert!(messages.iter().all(Value::is_string), "{item}");
        }
    }
    assert_eq!(sandbox.state(), SandboxState::demo());
}

#[tokio::test]
async fn a_bulk_update_is_applied_whole_or_not_at_all() {
    let sandbox = start_demo().await;
    let reply = bulk(
        &sandbox,
        BOB,
        json!({"permissions": [
            {"resource_type": "project", "resource_id": "3301001", "access_level": "viewer"},
            {"resource_type": "sending_domain", "resource_id": "204301", "_destroy": true},
            {"resource_type": "project", "resource_id": "3301002", "access_level": "admin"},
            {"resource_type": "inbox", "resource_id": "999999", "access_level": "viewer"},
        ]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.body["errors"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["permissions[3].resource_id"]
    );
    assert_eq!(
        rows_of(&sandbox, BOB),
        vec![
            row("project", BACKEND, 100),
            row("inbox", FRONTEND_STAGING, 10),
            row("sending_domain", ACME_COM, 10),
            row("billing", ACCOUNT, 10),
        ],
        "the three valid items were not applied either"
    );
}

// ------------------------------------------------------------------------------ 429

#[tokio::test]
async fn past_the_rate_limit_the_answer_is_429_with_retry_after() {
    let sandbox = start_with(SandboxState::demo(), "3/10s".parse().unwrap()).await;
    let client = reqwest::Client::new();
    for remaining in [2, 1, 0] {
        let reply = get(&sandbox, &accesses_path()).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_rate_headers(&reply, 3, remaining);
    }
    for request in [
        client
            .get(url(&sandbox, &accesses_path()))
            .header("Api-Token", TOKEN),
        client
            .delete(url(&sandbox, &access_path(CAROL)))
            .bearer_auth(TOKEN),
        client
            .get(url(&sandbox, "/no/such/route"))
            .bearer_auth(TOKEN),
    ] {
        let reply = send(request).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(reply.body, json!({"errors": "Rate limit exceeded"}));
        assert_rate_headers(&reply, 3, 0);
        let retry_after: u64 = reply
            .header("retry-after")
            .expect("Retry-After is sent")
            .parse()
            .expect("whole seconds");
        assert!((1..=10).contains(&retry_after), "{retry_after}");
    }
    assert!(
        sandbox.state().access(CAROL).is_some(),
        "a refused delete did nothing"
    );
    // The limit is per token: another (wrong) token has its own budget, so it is told
    // it is wrong rather than to slow down.
    let other = send(
        client
            .get(url(&sandbox, &accesses_path()))
            .bearer_auth("other"),
    )
    .await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
    assert_rate_headers(&other, 3, 2);
}

#[tokio::test]
async fn a_slot_frees_when_the_window_slides() {
    let sandbox = start_with(SandboxState::demo(), "2/1s".parse().unwrap()).await;
    assert_eq!(get(&sandbox, &accesses_path()).await.status, StatusCode::OK);
    assert_eq!(get(&sandbox, &accesses_path()).await.status, StatusCode::OK);
    let limited = get(&sandbox, &accesses_path()).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.header("retry-after"), Some("1"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = get(&sandbox, &accesses_path()).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_rate_headers(&again, 2, 1);
}

// ----------------------------------------------------------------------- concurrency

/// The demo account plus `count` viewers on Backend, ids 6000000.., specifiers 7000000...
fn demo_with_extra_users(count: u64) -> SandboxState {
    let mut state = SandboxState::demo();
    let template = state.access(CAROL).unwrap().clone();
    for index in 0..count {
        let mut access = template.clone();
        access.id = 6_000_000 + index;
        access
            .specifier
            .insert("id".into(), json!(7_000_000 + index));
        access
            .specifier
            .insert("email".into(), json!(format!("user{index}@acme.com")));
        state.accesses.push(access);
    }
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_bulk_updates_are_all_applied() {
    let sandbox = start_with(demo_with_extra_users(40), RateLimit::MAILTRAP).await;
    let base = sandbox.base_url();
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    // 40 accesses, one request each ...
    for index in 0..40u64 {
        let level = if index % 2 == 0 { "admin" } else { "viewer" };
        let body = json!({"permissions": [
            {"resource_type": "project", "resource_id": FRONTEND.to_string(), "access_level": "admin"},
            {"resource_type": "sending_domain", "resource_id": MAIL_ACME_COM, "access_level": level},
        ]});
        let request = client
            .put(format!("{base}{}", bulk_path(6_000_000 + index)))
            .header("Api-Token", TOKEN)
            .json(&body);
        tasks.push(tokio::spawn(async move { send(request).await.status }));
    }
    // ... and six requests racing on one access, each adding a different row.
    let targets = [
        ("account", ACCOUNT),
        ("billing", ACCOUNT),
        ("email_campaign_permission_scope", ACCOUNT),
        ("inbox", BACKEND_STAGING),
        ("sending_domain", ACME_COM),
        ("project", BACKEND),
    ];
    for (resource_type, resource_id) in targets {
        let body = json!({"permissions": [
            {"resource_type": resource_type, "resource_id": resource_id.to_string(), "access_level": "viewer"},
        ]});
        let request = client
            .put(format!("{base}{}", bulk_path(CAROL)))
            .header("Api-Token", TOKEN)
            .json(&body);
        tasks.push(tokio::spawn(async move { send(request).await.status }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }

    for index in 0..40u64 {
        let level = if index % 2 == 0 { 100 } else { 10 };
        assert_eq!(
            rows_of(&sandbox, 6_000_000 + index),
            vec![
                row("project", FRONTEND, 100),
                row("sending_domain", MAIL_ACME_COM, level)
            ],
            "access {index}"
        );
    }
    let carol = rows_of(&sandbox, CAROL);
    assert_eq!(carol.len(), 7, "{carol:?}");
    for (resource_type, resource_id) in targets {
        assert!(
            carol.contains(&row(resource_type, resource_id, 10)),
            "{resource_type}"
        );
    }
    assert_eq!(sandbox.requests().len(), 46);
}

// ------------------------------------------------------- vocabularies and path families

async fn start_config(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("sandbox starts")
}

async fn start_in(vocabulary: Vocabulary) -> Sandbox {
    start_config(SandboxConfig {
        vocabulary,
        ..SandboxConfig::new(SandboxState::demo(), TOKEN)
    })
    .await
}

/// Every `type` in a resource tree body, depth first.
fn tree_types(nodes: &Value) -> Vec<String> {
    let mut types = Vec::new();
    for node in nodes.as_array().expect("a JSON array of nodes") {
        types.push(node["type"].as_str().expect("a string type").to_owned());
        types.extend(tree_types(&node["resources"]));
    }
    types
}

/// Every `(resource_type, resource_id)` of every row of a listing body.
fn row_types(entries: &Value) -> Vec<(String, u64)> {
    entries
        .as_array()
        .expect("a JSON array of entries")
        .iter()
        .flat_map(|entry| entry["resources"].as_array().unwrap().iter())
        .map(|row| {
            (
                row["resource_type"].as_str().unwrap().to_owned(),
                row["resource_id"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The two vocabularies' names for what the demo holds, `(old, new)`.
const RENAMED: [(&str, &str); 2] = [("inbox", "sandbox"), ("sending_domain", "domain")];

#[tokio::test]
async fn each_vocabulary_names_the_tree_and_every_row_its_own_way() {
    for vocabulary in [Vocabulary::Old, Vocabulary::New] {
        let sandbox = start_in(vocabulary).await;
        assert_eq!(sandbox.vocabulary(), vocabulary);
        let (own, foreign): (Vec<&str>, Vec<&str>) = match vocabulary {
            Vocabulary::Old => RENAMED.iter().copied().unzip(),
            Vocabulary::New => RENAMED.iter().map(|(old, new)| (*new, *old)).unzip(),
        };
        for tree_path in [
            format!("/api/accounts/{ACCOUNT}/permissions/resources"),
            "/api/permissions/resources".to_owned(),
        ] {
            let tree = get(&sandbox, &tree_path).await;
            assert_eq!(tree.status, StatusCode::OK, "{tree_path}");
            let types = tree_types(&tree.body);
            assert_eq!(
                types.iter().filter(|name| *name == own[0]).count(),
                3,
                "{vocabulary} {tree_path}: three inboxes, {types:?}"
            );
            assert_eq!(types.iter().filter(|name| *name == own[1]).count(), 2);
            assert!(!types.iter().any(|name| foreign.contains(&name.as_str())));
            assert_eq!(
                tree.body[0]["resources"][0]["resources"][0]["name"],
                "Staging"
            );
            assert_eq!(tree.body[0]["resources"][0]["resources"][0]["type"], own[0]);
        }
        for list_path in [accesses_path(), "/api/account_accesses".to_owned()] {
            let listing = get(&sandbox, &list_path).await;
            assert_eq!(listing.status, StatusCode::OK);
            let rows = row_types(&listing.body);
            assert!(
                rows.contains(&(own[0].to_owned(), FRONTEND_STAGING)),
                "{rows:?}"
            );
            assert!(rows.contains(&(own[1].to_owned(), ACME_COM)), "{rows:?}");
            assert!(rows.contains(&("organization".to_owned(), 70412)));
            assert!(!rows
                .iter()
                .any(|(name, _)| foreign.contains(&name.as_str())));
            // Bob's entry, field by field, is the seed's but for the two renamed types.
            assert_eq!(
                listing.body[2]["resources"],
                json!([
                    {"resource_type": "project", "resource_id": BACKEND, "access_level": 100},
                    {"resource_type": own[0], "resource_id": FRONTEND_STAGING, "access_level": 10},
                    {"resource_type": own[1], "resource_id": ACME_COM, "access_level": 10},
                    {"resource_type": "billing", "resource_id": ACCOUNT, "access_level": 10},
                ])
            );
        }
        // The library reports the served names from accesses_json, canonical ones from rows.
        let served = sandbox.accesses_json();
        assert_eq!(served[2]["resources"][1]["resource_type"], own[0]);
        assert_eq!(
            rows_of(&sandbox, BOB)[1],
            row("inbox", FRONTEND_STAGING, 10)
        );
        assert_eq!(sandbox.state(), SandboxState::demo());
    }
}

#[tokio::test]
async fn the_new_vocabulary_keeps_the_list_shape_and_key_order() {
    let sandbox = start_in(Vocabulary::New).await;
    let text = reqwest::Client::new()
        .get(url(&sandbox, "/api/account_accesses"))
        .header("Api-Token", TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"{"id":5190003,"specifier_type":"User","resources":[{"resource_type":"project","resource_id":3301001,"access_level":100},{"resource_type":"sandbox","resource_id":4400201,"access_level":10},{"resource_type":"domain","resource_id":204301,"access_level":10},{"resource_type":"billing","resource_id":1111111,"access_level":10}],"specifier":{"id":901003,"email":"bob@acme.com","name":"Bob Backend","two_factor_authentication_enabled":false},"permissions":{"can_read":true,"can_update":true,"can_destroy":true,"can_leave":false}}"#),
        "{text}"
    );
    let served: Vec<Value> = sandbox
        .accesses_json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["specifier_type"] != "ApiToken")
        .cloned()
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        Value::Array(served)
    );
}

#[tokio::test]
async fn bulk_with_the_other_vocabularys_names_is_422_and_changes_nothing() {
    for vocabulary in [Vocabulary::Old, Vocabulary::New] {
        let sandbox = start_in(vocabulary).await;
        let (own, foreign) = match vocabulary {
            Vocabulary::Old => (["inbox", "sending_domain"], ["sandbox", "domain"]),
            Vocabulary::New => (["sandbox", "domain"], ["inbox", "sending_domain"]),
        };
        let writable = match vocabulary {
            Vocabulary::Old => "\"account\", \"billing\", \"project\", \"inbox\", \"sending_domain\", \"email_campaign_permission_scope\"",
            Vocabulary::New => "\"account\", \"billing\", \"project\", \"sandbox\", \"domain\", \"email_campaign_permission_scope\"",
        };
        for path in [
            bulk_path(BOB),
            format!("/api/account_accesses/{BOB}/permissions/bulk"),
        ] {
            for (name, id) in [(foreign[0], BACKEND_STAGING), (foreign[1], MAIL_ACME_COM)] {
                let reply = send(
                    reqwest::Client::new()
                        .put(url(&sandbox, &path))
                        .header("Api-Token", TOKEN)
                        .json(&json!({"permissions": [
                            {"resource_type": "project", "resource_id": BACKEND.to_string(), "access_level": "viewer"},
                            {"resource_type": name, "resource_id": id.to_string(), "access_level": "viewer"},
                        ]})),
                )
                .await;
                assert_eq!(
                    reply.status,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{vocabulary} {name}"
                );
                // The shape of any unknown type: one key, an array of strings.
                let expected_message =
                    format!("\"{name}\" is not one of {}", writable.replace('"', ""));
                assert_eq!(
                    reply.body,
                    json!({"errors": {"permissions[1].resource_type": [expected_message]}}),
                    "{vocabulary} {name}"
                );
                assert_eq!(sandbox.state(), SandboxState::demo(), "all or nothing");
            }
        }
        let reply = bulk(
            &sandbox,
            BOB,
            json!({"permissions": [
                {"resource_type": own[0], "resource_id": BACKEND_STAGING.to_string(), "access_level": "viewer"},
                {"resource_type": own[1], "resource_id": ACME_COM.to_string(), "_destroy": true},
                {"resource_type": own[1], "resource_id": MAIL_ACME_COM.to_string(), "access_level": "admin"},
            ]}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{vocabulary}: {}", reply.body);
        assert_eq!(
            rows_of(&sandbox, BOB),
            vec![
                row("project", BACKEND, 100),
                row("inbox", FRONTEND_STAGING, 10),
                row("billing", ACCOUNT, 10),
                row("inbox", BACKEND_STAGING, 10),
                row("sending_domain", MAIL_ACME_COM, 100),
            ]
        );
        let listing = get(
            &sandbox,
            &format!("{}?project_ids=3301001", accesses_path()),
        )
        .await;
        assert_eq!(
            listing.body[0]["resources"][4],
            json!({"resource_type": own[1], "resource_id": MAIL_ACME_COM, "access_level": 100})
        );
    }
}

#[tokio::test]
async fn the_email_template_scope_is_served_in_both_vocabularies_and_never_written() {
    let mut doc = serde_json::to_value(SandboxState::demo()).unwrap();
    doc["resources"][0]["resources"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": ACCOUNT, "name": "Email Templates",
                     "type": "email_template_permission_scope", "access_level": 100, "resources": []}));
    doc["accesses"][1]["resources"]
        .as_array_mut()
        .unwrap()
        .push(json!({"resource_type": "email_template_permission_scope",
                     "resource_id": ACCOUNT, "access_level": 100}));
    let state = SandboxState::from_json(&doc.to_string()).unwrap();
    for vocabulary in [Vocabulary::Old, Vocabulary::New] {
        let sandbox = start_config(SandboxConfig {
            vocabulary,
            ..SandboxConfig::new(state.clone(), TOKEN)
        })
        .await;
        let tree = get(&sandbox, "/api/permissions/resources").await;
        assert_eq!(
            tree.body[0]["resources"][6]["type"],
            "email_template_permission_scope"
        );
        assert_eq!(tree.body[0]["resources"][6]["id"], ACCOUNT);
        let listing = get(&sandbox, "/api/account_accesses").await;
        assert_eq!(
            listing.body[1]["resources"][1],
            json!({"resource_type": "email_template_permission_scope", "resource_id": ACCOUNT, "access_level": 100})
        );
        let reply = bulk(
            &sandbox,
            BOB,
            json!({"permissions": [{"resource_type": "email_template_permission_scope",
                                    "resource_id": ACCOUNT.to_string(), "access_level": "viewer"}]}),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{vocabulary}"
        );
        assert!(reply.body["errors"]["permissions[0].resource_type"].is_array());
        assert_eq!(sandbox.state(), state);
    }
}

#[tokio::test]
async fn the_inbox_filter_is_named_by_the_vocabulary_on_both_families() {
    let everyone = 8;
    for (vocabulary, own, foreign) in [
        (Vocabulary::Old, "inbox_ids", "sandbox_ids"),
        (Vocabulary::New, "sandbox_ids", "inbox_ids"),
    ] {
        let sandbox = start_in(vocabulary).await;
        for path in [accesses_path(), "/api/account_accesses".to_owned()] {
            let cases = [
                (format!("{own}={BACKEND_STAGING}"), Some(vec![5190005])),
                (format!("{own}[]={FRONTEND_STAGING}"), Some(vec![BOB])),
                (
                    format!("{own}[]={BACKEND_STAGING}&domain_ids={ACME_COM}"),
                    Some(vec![BOB, 5190005]),
                ),
                (format!("project_ids={BACKEND}"), Some(vec![BOB])),
                // The other vocabulary's filter is a parameter the service does not know.
                (format!("{foreign}={BACKEND_STAGING}"), None),
            ];
            for (query, expected) in cases {
                let reply = get(&sandbox, &format!("{path}?{query}")).await;
                assert_eq!(reply.status, StatusCode::OK, "{vocabulary} {path}?{query}");
                let ids = listed_ids(&reply.body);
                match expected {
                    Some(expected) => assert_eq!(ids, expected, "{vocabulary} {path}?{query}"),
                    None => assert_eq!(ids.len(), everyone, "{vocabulary} {path}?{query}"),
                }
            }
        }
    }
}

/// The same request sent to one sandbox on an account-scoped path and to a twin on the
/// token-scoped path; the answers must not differ in anything.
struct Twins {
    account_scoped: Sandbox,
    token_scoped: Sandbox,
}

impl Twins {
    async fn start(config: SandboxConfig) -> Twins {
        Twins {
            account_scoped: start_config(config.clone()).await,
            token_scoped: start_config(config).await,
        }
    }

    /// `path` is token-scoped (`/api/...`); the account-scoped twin adds the account.
    async fn both(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
        let scoped = path.replacen("/api/", &format!("/api/accounts/{ACCOUNT}/"), 1);
        let mut replies = Vec::new();
        for (sandbox, path) in [
            (&self.account_scoped, scoped.as_str()),
            (&self.token_scoped, path),
        ] {
            let mut request = reqwest::Client::new()
                .request(method.clone(), url(sandbox, path))
                .header("Api-Token", token);
            if let Some(body) = &body {
                request = request.json(body);
            }
            replies.push(send(request).await);
        }
        let (token_reply, account_reply) = (replies.pop().unwrap(), replies.pop().unwrap());
        assert_eq!(account_reply.status, token_reply.status, "{method} {path}");
        assert_eq!(account_reply.body, token_reply.body, "{method} {path}");
        for header in [
            "content-type",
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "www-authenticate",
        ] {
            assert_eq!(
                account_reply.header(header),
                token_reply.header(header),
                "{method} {path}: {header}"
            );
        }
        // Its value counts down the same clock; the twins are a few microseconds apart.
        assert_eq!(
            account_reply.header("retry-after").is_some(),
            token_reply.header("retry-after").is_some()
        );
        assert_eq!(
            self.account_scoped.accesses_json(),
            self.token_scoped.accesses_json(),
            "{method} {path}: the same effect"
        );
        token_reply
    }
}

#[tokio::test]
async fn every_token_scoped_path_answers_as_its_account_scoped_twin() {
    for vocabulary in [Vocabulary::Old, Vocabulary::New] {
        let twins = Twins::start(SandboxConfig {
            vocabulary,
            rate_limit: "16/10s".parse().unwrap(),
            ..SandboxConfig::new(demo_with_token_access(), TOKEN)
        })
        .await;
        let inbox = match vocabulary {
            Vocabulary::Old => "inbox",
            Vocabulary::New => "sandbox",
        };
        let good_bulk = json!({"permissions": [
            {"resource_type": "project", "resource_id": "3301002", "access_level": "admin"},
            {"resource_type": inbox, "resource_id": "4400201", "_destroy": true},
        ]});
        let cases: Vec<(Method, String, &str, Option<Value>, u16)> = vec![
            (
                Method::GET,
                "/api/account_accesses".into(),
                TOKEN,
                None,
                200,
            ),
            (
                Method::GET,
                "/api/account_accesses?project_ids[]=3301002".into(),
                TOKEN,
                None,
                200,
            ),
            (
                Method::GET,
                "/api/permissions/resources".into(),
                TOKEN,
                None,
                200,
            ),
            (
                Method::GET,
                "/api/permissions/resources/".into(),
                TOKEN,
                None,
                200,
            ),
            (
                Method::PUT,
                format!("/api/account_accesses/{BOB}/permissions/bulk"),
                TOKEN,
                Some(good_bulk),
                200,
            ),
            (
                Method::PUT,
                format!("/api/account_accesses/{OWNER}/permissions/bulk"),
                TOKEN,
                Some(json!({})),
                403,
            ),
            (
                Method::PUT,
                "/api/account_accesses/4242/permissions/bulk".into(),
                TOKEN,
                Some(json!({})),
                404,
            ),
            (
                Method::PUT,
                format!("/api/account_accesses/{CAROL}/permissions/bulk"),
                TOKEN,
                Some(json!({"permissions": []})),
                422,
            ),
            (
                Method::PUT,
                format!("/api/account_accesses/{CI_TOKEN}/permissions/bulk"),
                TOKEN,
                Some(
                    json!({"permissions": [{"resource_type": "project", "resource_id": 3301002, "access_level": "viewer"}]}),
                ),
                200,
            ),
            (
                Method::DELETE,
                format!("/api/account_accesses/{ERIN_INVITE}"),
                TOKEN,
                None,
                200,
            ),
            (
                Method::DELETE,
                format!("/api/account_accesses/{OWNER}"),
                TOKEN,
                None,
                403,
            ),
            (
                Method::DELETE,
                "/api/account_accesses/4242".into(),
                TOKEN,
                None,
                404,
            ),
            (
                Method::DELETE,
                "/api/account_accesses/x".into(),
                TOKEN,
                None,
                404,
            ),
            (
                Method::GET,
                "/api/account_accesses".into(),
                "wrong",
                None,
                401,
            ),
            (
                Method::PUT,
                format!("/api/account_accesses/{BOB}/permissions/bulk"),
                "wrong",
                Some(json!({})),
                401,
            ),
            (
                Method::DELETE,
                format!("/api/account_accesses/{BOB}"),
                "wrong",
                None,
                401,
            ),
            (
                Method::GET,
                "/api/permissions/resources".into(),
                "wrong",
                None,
                401,
            ),
            (
                Method::GET,
                "/api/account_accesses".into(),
                TOKEN,
                None,
                200,
            ),
        ];
        for (method, path, token, body, status) in cases {
            let reply = twins.both(method.clone(), &path, token, body).await;
            assert_eq!(
                reply.status.as_u16(),
                status,
                "{vocabulary} {method} {path}: {}",
                reply.body
            );
        }
        assert!(twins.token_scoped.state().access(ERIN_INVITE).is_none());
        assert_eq!(
            rows_of(&twins.token_scoped, BOB),
            vec![
                row("project", BACKEND, 100),
                row("sending_domain", ACME_COM, 10),
                row("billing", ACCOUNT, 10),
                row("project", FRONTEND, 100),
            ]
        );
        // The recorded paths are the paths as requested, with the same statuses.
        let (account_log, token_log) = (
            twins.account_scoped.requests(),
            twins.token_scoped.requests(),
        );
        assert_eq!(token_log.len(), account_log.len());
        assert_eq!(
            token_log[4].path,
            format!("/api/account_accesses/{BOB}/permissions/bulk")
        );
        assert_eq!(account_log[4].path, bulk_path(BOB));
        assert_eq!(token_log[1].query.as_deref(), Some("project_ids[]=3301002"));
        for (ours, theirs) in token_log.iter().zip(&account_log) {
            assert_eq!(
                (ours.status, ours.applied, &ours.body),
                (theirs.status, theirs.applied, &theirs.body)
            );
        }
        // 14 of the cases above used the right token (a wrong one has its own budget): two
        // more fill the window, and the next is refused on both families.
        twins
            .both(Method::GET, "/api/permissions/resources", TOKEN, None)
            .await;
        twins
            .both(Method::GET, "/api/permissions/resources", TOKEN, None)
            .await;
        let limited = twins
            .both(
                Method::DELETE,
                &format!("/api/account_accesses/{BOB}"),
                TOKEN,
                None,
            )
            .await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.body, json!({"errors": "Rate limit exceeded"}));
        assert!(twins.token_scoped.state().access(BOB).is_some());
    }
}

#[tokio::test]
async fn faults_strike_the_token_scoped_paths_and_accounts_too() {
    let sandbox = start_demo().await;
    sandbox
        .set_faults(Faults {
            failure_rate: 1.0,
            seed: 3,
            ..Faults::none()
        })
        .unwrap();
    for (method, path) in [
        (Method::GET, "/api/accounts".to_owned()),
        (Method::GET, "/api/account_accesses".to_owned()),
        (Method::GET, "/api/permissions/resources".to_owned()),
        (Method::DELETE, format!("/api/account_accesses/{CAROL}")),
    ] {
        let reply = send(
            reqwest::Client::new()
                .request(method.clone(), url(&sandbox, &path))
                .header("Api-Token", TOKEN),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{method} {path}"
        );
        assert_eq!(reply.body, json!({"error": "Internal Server Error"}));
    }
    let recorded = sandbox.requests();
    assert_eq!(recorded.len(), 4);
    assert!(recorded
        .iter()
        .all(|request| request.fault == Some(InjectedFault::ServerError)));
    assert!(!recorded[3].applied);
    assert!(sandbox.state().access(CAROL).is_some());
}

#[tokio::test]
async fn start_stores_a_state_built_in_new_names_canonically_and_refuses_a_mixed_one() {
    let mut state = SandboxState::demo();
    let mut nodes: Vec<&mut mailtrap_access::sandbox::ResourceNode> =
        state.resources.iter_mut().collect();
    while let Some(node) = nodes.pop() {
        if node.resource_type == "inbox" {
            node.resource_type = "sandbox".into();
        }
        nodes.extend(node.resources.iter_mut());
    }
    for row in state
        .accesses
        .iter_mut()
        .flat_map(|access| access.resources.iter_mut())
    {
        if row.resource_type == "inbox" {
            row.resource_type = "sandbox".into();
        }
    }
    let sandbox = start_config(SandboxConfig::new(state.clone(), TOKEN)).await;
    // Built in code like a parsed file, it is stored and served as the demo is.
    assert_eq!(sandbox.state(), SandboxState::demo());
    let listing = get(&sandbox, &accesses_path()).await;
    assert_eq!(listing.body[2]["resources"][1]["resource_type"], "inbox");

    // One inbox still named the old way: both names for one kind.
    state.resources[0].resources[1].resources[0].resource_type = "inbox".into();
    let err = Sandbox::start(
        SandboxConfig::new(state, TOKEN),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .err()
    .expect("a mixed state is refused");
    let message = format!("{err:#}");
    assert!(
        message.contains(r#""sandbox" (the new vocabulary) and "inbox" at"#),
        "{message}"
    );
}

// ------------------------------------------------------------------ GET /api/accounts

#[tokio::test]
async fn accounts_lists_the_sandbox_account_named_after_its_tree() {
    let sandbox = start_demo().await;
    let reply = get(&sandbox, "/api/accounts").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_rate_headers(&reply, 150, 149);
    assert_eq!(
        reply.body,
        json!([{"id": ACCOUNT, "name": "Acme Inc.", "access_levels": [100]}])
    );
    // Without an account node the name is made up from the id.
    let bare = SandboxState::from_json(
        r#"{"account_id": 42, "resources": [{"id": 7, "name": "P", "type": "project", "access_level": 100}], "accesses": []}"#,
    )
    .unwrap();
    let sandbox = start_with(bare, RateLimit::MAILTRAP).await;
    let reply = get(&sandbox, "/api/accounts/").await;
    assert_eq!(
        reply.body,
        json!([{"id": 42, "name": "Account 42", "access_levels": [100]}])
    );
    assert_eq!(sandbox.requests()[0].path, "/api/accounts/");
}

#[tokio::test]
async fn accounts_lists_what_the_config_says_several_or_none() {
    let several = start_config(SandboxConfig {
        accounts_listed: Some(vec![
            (ACCOUNT, "Acme Inc.".into()),
            (2326475, "John Doe".into()),
        ]),
        ..SandboxConfig::new(SandboxState::demo(), TOKEN)
    })
    .await;
    assert_eq!(
        get(&several, "/api/accounts").await.body,
        json!([
            {"id": ACCOUNT, "name": "Acme Inc.", "access_levels": [100]},
            {"id": 2326475, "name": "John Doe", "access_levels": [100]},
        ])
    );
    // Listing another account serves nothing of it.
    let other = get(&several, "/api/accounts/2326475/account_accesses").await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert_eq!(other.body, json!({"errors": "Account access forbidden"}));

    let none = start_config(SandboxConfig {
        accounts_listed: Some(vec![]),
        ..SandboxConfig::new(SandboxState::demo(), TOKEN)
    })
    .await;
    let reply = get(&none, "/api/accounts").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!([]));
}

#[tokio::test]
async fn accounts_needs_the_token_and_counts_against_the_limit() {
    let sandbox = start_with(SandboxState::demo(), "2/10s".parse().unwrap()).await;
    let client = reqwest::Client::new();
    for request in [
        client
            .get(url(&sandbox, "/api/accounts"))
            .header("Api-Token", "wrong"),
        client.get(url(&sandbox, "/api/accounts")),
    ] {
        let reply = send(request).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.body, json!({"error": "Incorrect API token"}));
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Token realm=\"Application\"")
        );
    }
    let reply = send(
        client
            .get(url(&sandbox, "/api/accounts"))
            .bearer_auth(TOKEN),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_rate_headers(&reply, 2, 1);
    assert_eq!(
        get(&sandbox, "/api/account_accesses").await.status,
        StatusCode::OK
    );
    let limited = get(&sandbox, "/api/accounts").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body, json!({"errors": "Rate limit exceeded"}));
    let wrong_method = send(
        client
            .post(url(&sandbox, "/api/accounts"))
            .header("Api-Token", "x"),
    )
    .await;
    assert_eq!(wrong_method.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- library accessors

#[tokio::test]
async fn requests_are_recorded_in_order_with_their_status() {
    let sandbox = start_demo().await;
    get(&sandbox, &format!("{}?project_ids[]=1", accesses_path())).await;
    let body = json!({"permissions": [{"resource_type": "project", "resource_id": "3301001", "access_level": "viewer"}]});
    bulk(&sandbox, BOB, body.clone()).await;
    delete(&sandbox, OWNER).await;
    let recorded = sandbox.requests();
    assert_eq!(recorded.len(), 3);
    assert_eq!(
        (recorded[0].method.as_str(), recorded[0].path.as_str()),
        ("GET", accesses_path().as_str())
    );
    assert_eq!(recorded[0].query.as_deref(), Some("project_ids[]=1"));
    assert_eq!(recorded[0].body, None);
    assert_eq!(recorded[0].status, 200);
    assert_eq!(recorded[1].method, "PUT");
    assert_eq!(recorded[1].path, bulk_path(BOB));
    assert_eq!(recorded[1].body, Some(body));
    assert_eq!(recorded[1].status, 200);
    assert_eq!(
        (recorded[2].method.as_str(), recorded[2].status),
        ("DELETE", 403)
    );
    sandbox.clear_requests();
    assert!(sandbox.requests().is_empty());
    assert_eq!(sandbox.token(), TOKEN);
    assert_eq!(sandbox.base_url(), format!("http://{}", sandbox.addr()));
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let sandbox = start_demo().await;
    let addr = sandbox.addr();
    assert_eq!(get(&sandbox, &accesses_path()).await.status, StatusCode::OK);
    sandbox.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn start_refuses_an_invalid_state_or_an_empty_token() {
    let mut state = SandboxState::demo();
    state.accesses[2].id = state.accesses[1].id;
    let config = SandboxConfig::new(state, TOKEN);
    let err = Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .err()
        .expect("duplicate ids are refused");
    assert!(
        format!("{err:#}").contains("duplicate access id"),
        "{err:#}"
    );
    let err = Sandbox::start(
        SandboxConfig::new(SandboxState::demo(), " "),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .err()
    .expect("an empty token is refused");
    assert!(err.to_string().contains("token"), "{err}");
}

/// A bare HTTP/1.1 exchange, for tests that have no async runtime.
fn raw_request(addr: SocketAddr, method: &str, path: &str, token: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nApi-Token: {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("reads a reply");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn the_blocking_sandbox_serves_synchronous_callers() {
    let sandbox =
        Sandbox::start_blocking(SandboxConfig::new(SandboxState::demo(), TOKEN)).expect("starts");
    let (status, body) = raw_request(sandbox.addr(), "DELETE", &access_path(CAROL), TOKEN);
    assert_eq!((status, body.as_str()), (200, r#"{"id":5190004}"#));
    assert!(sandbox.state().access(CAROL).is_none());
    assert_eq!(sandbox.requests().len(), 1);
    assert!(sandbox.base_url().starts_with("http://127.0.0.1:"));
    let addr = sandbox.addr();
    sandbox.shutdown();
    assert!(TcpStream::connect(addr).is_err());
}

// --------------------------------------------------------------------- the binary

/// The `sandbox` process, killed when the test ends however it ends.
struct SandboxProcess {
    child: Child,
    stderr: Option<std::process::ChildStderr>,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sandbox_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailtrap-access"));
    command
        .arg("sandbox")
        .args(args)
        .env_remove("MAILTRAP_API_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Read one line on another thread, so a silent process fails the test instead of
/// hanging it.
fn read_line_within<R: BufRead + Send + 'static>(mut reader: R, limit: Duration) -> (String, R) {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = sender.send((line, reader));
    });
    receiver
        .recv_timeout(limit)
        .expect("the sandbox printed a line in time")
}

/// Spawn `sandbox ARGS`, wait for `listening on http://HOST:PORT`, return it and the address.
fn spawn_sandbox(args: &[&str]) -> (SandboxProcess, SocketAddr) {
    let mut child = sandbox_command(args).spawn().expect("the binary runs");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let stderr = child.stderr.take();
    let (line, stdout) = read_line_within(stdout, Duration::from_secs(30));
    let process = SandboxProcess {
        child,
        stderr,
        _stdout: stdout,
    };
    let addr = line
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .parse()
        .expect("an address with the real port");
    (process, addr)
}

#[test]
fn the_binary_prints_its_real_port_and_serves() {
    let (_process, addr) = spawn_sandbox(&["--listen", "127.0.0.1:0", "--token", "T"]);
    assert_ne!(addr.port(), 0);
    let (status, body) = raw_request(addr, "GET", &accesses_path(), "T");
    assert_eq!(status, 200);
    let entries: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 8);
    let (status, _) = raw_request(addr, "GET", &accesses_path(), "not-T");
    assert_eq!(status, 401);
}

#[test]
fn the_binary_generates_and_prints_a_token_when_given_none() {
    let (mut process, addr) = spawn_sandbox(&["--listen", "127.0.0.1:0"]);
    let stderr = BufReader::new(process.stderr.take().unwrap());
    let (line, _stderr) = read_line_within(stderr, Duration::from_secs(10));
    let token = line
        .trim_end()
        .strip_prefix("generated API token: ")
        .unwrap_or_else(|| panic!("unexpected stderr line: {line:?}"));
    assert_eq!(token.len(), 32);
    assert_eq!(raw_request(addr, "GET", &accesses_path(), token).0, 200);
    assert_eq!(raw_request(addr, "GET", &accesses_path(), "guess").0, 401);
}

#[test]
fn the_binary_takes_the_token_from_the_environment() {
    let mut command = sandbox_command(&["--listen", "127.0.0.1:0"]);
    command.env("MAILTRAP_API_TOKEN", "from-env");
    let mut child = command.spawn().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (line, stdout) = read_line_within(stdout, Duration::from_secs(30));
    let process = SandboxProcess {
        child,
        stderr: None,
        _stdout: stdout,
    };
    let addr: SocketAddr = line
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        raw_request(addr, "GET", &accesses_path(), "from-env").0,
        200
    );
    drop(process);
}

#[test]
fn the_binary_serves_a_state_file_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("account.json");
    // A small account as its two GET responses would seed it.
    let state = json!({
        "account_id": 2326475,
        "resources": [{"id": 2326475, "name": "Account", "type": "account", "access_level": 100, "resources": []}],
        "accesses": [{"id": 5190393, "specifier_type": "Invite",
                      "resources": [{"resource_type": "account", "resource_id": 2326475, "access_level": 10}],
                      "specifier": {"id": 82784, "email": "welcome@rw.com"},
                      "permissions": {"can_read": false, "can_update": true, "can_destroy": true, "can_leave": false}}]
    });
    std::fs::write(&path, state.to_string()).unwrap();
    let (mut process, addr) = spawn_sandbox(&[
        "--listen",
        "127.0.0.1:0",
        "--token",
        "T",
        "--state",
        path.to_str().unwrap(),
    ]);
    let (status, body) = raw_request(addr, "GET", "/api/accounts/2326475/account_accesses", "T");
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        state["accesses"]
    );
    assert_eq!(
        raw_request(addr, "GET", &accesses_path(), "T").0,
        403,
        "the demo account is not there"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &process.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = process.child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the sandbox ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn the_binary_rejects_a_bad_state_file_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = serde_json::to_value(SandboxState::demo()).unwrap();
    demo["accesses"][3]["resources"][0]["access_level"] = json!("viewer");
    let typed = dir.path().join("typed.json");
    std::fs::write(&typed, demo.to_string()).unwrap();

    let mut demo = serde_json::to_value(SandboxState::demo()).unwrap();
    demo["accesses"][4]["id"] = json!(BOB);
    let duplicate = dir.path().join("duplicate.json");
    std::fs::write(&duplicate, demo.to_string()).unwrap();

    // Two tokens with one secret: the message must not quote it.
    let mut demo = serde_json::to_value(SandboxState::demo()).unwrap();
    demo["api_tokens"][1]["token"] = demo["api_tokens"][0]["token"].clone();
    let shared_secret = dir.path().join("shared-secret.json");
    std::fs::write(&shared_secret, demo.to_string()).unwrap();

    let missing = dir.path().join("missing.json");
    let cases = [
        (
            &typed,
            "accesses[3].resources[0].access_level: invalid type: string \"viewer\"",
        ),
        (&duplicate, "accesses[4].id: duplicate access id 5190003"),
        (
            &shared_secret,
            "api_tokens[1].token: the same secret as api_tokens[0]",
        ),
        (&missing, "missing.json: "),
    ];
    for (path, expected) in cases {
        let mut child = sandbox_command(&[
            "--listen",
            "127.0.0.1:0",
            "--token",
            "T",
            "--state",
            path.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the sandbox started on a bad state file {}", path.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().unwrap();
        assert!(!output.status.success());
        assert!(output.stdout.is_empty(), "nothing on stdout");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let file = format!("sandbox state file {}", path.display());
        assert!(stderr.contains(&file), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        for token in SandboxState::demo().api_tokens {
            assert!(!stderr.contains(&token.token), "{stderr}");
        }
    }
}

#[test]
fn the_binary_speaks_the_new_vocabulary_when_asked() {
    let (_process, addr) = spawn_sandbox(&[
        "--listen",
        "127.0.0.1:0",
        "--token",
        "T",
        "--vocabulary",
        "new",
    ]);
    let (status, body) = raw_request(addr, "GET", "/api/permissions/resources", "T");
    assert_eq!(status, 200);
    let tree: Value = serde_json::from_str(&body).unwrap();
    let types = tree_types(&tree);
    assert!(types.contains(&"sandbox".to_owned()), "{types:?}");
    assert!(types.contains(&"domain".to_owned()), "{types:?}");
    assert!(!types.contains(&"inbox".to_owned()), "{types:?}");
    let (status, body) = raw_request(
        addr,
        "GET",
        &format!("/api/accounts/{ACCOUNT}/permissions/resources"),
        "T",
    );
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()),
        (200, tree)
    );
    let (status, body) = raw_request(addr, "GET", "/api/accounts", "T");
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!([{"id": ACCOUNT, "name": "Acme Inc.", "access_levels": [100]}])
    );

    // The default is the old vocabulary.
    let (_process, addr) = spawn_sandbox(&["--listen", "127.0.0.1:0", "--token", "T"]);
    let (_, body) = raw_request(addr, "GET", "/api/permissions/resources", "T");
    let types = tree_types(&serde_json::from_str(&body).unwrap());
    assert!(types.contains(&"inbox".to_owned()) && !types.contains(&"sandbox".to_owned()));
}

#[test]
fn the_binary_serves_a_new_vocabulary_seed_in_the_old_one_and_refuses_a_mixed_one() {
    let dir = tempfile::tempdir().unwrap();
    let text = serde_json::to_string(&SandboxState::demo())
        .unwrap()
        .replace(r#""inbox""#, r#""sandbox""#)
        .replace(r#""sending_domain""#, r#""domain""#);
    let new_seed = dir.path().join("new.json");
    std::fs::write(&new_seed, &text).unwrap();
    let (_process, addr) = spawn_sandbox(&[
        "--listen",
        "127.0.0.1:0",
        "--token",
        "T",
        "--state",
        new_seed.to_str().unwrap(),
    ]);
    let (status, body) = raw_request(addr, "GET", "/api/account_accesses", "T");
    assert_eq!(status, 200);
    let rows = row_types(&serde_json::from_str(&body).unwrap());
    assert!(
        rows.contains(&("inbox".to_owned(), FRONTEND_STAGING)),
        "{rows:?}"
    );

    let mut mixed: Value = serde_json::from_str(&text).unwrap();
    mixed["accesses"][2]["resources"][1]["resource_type"] = json!("inbox");
    let mixed_seed = dir.path().join("mixed.json");
    std::fs::write(&mixed_seed, mixed.to_string()).unwrap();
    let output = sandbox_command(&[
        "--listen",
        "127.0.0.1:0",
        "--token",
        "T",
        "--state",
        mixed_seed.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("mixed.json"), "{stderr}");
    assert!(
        stderr.contains(r#""sandbox" (the new vocabulary) and "inbox" at accesses[2].resources[1].resource_type"#),
        "{stderr}"
    );

    let output = sandbox_command(&["--listen", "127.0.0.1:0", "--vocabulary", "newest"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("newest") && stderr.contains("old") && stderr.contains("new"),
        "{stderr}"
    );
}
