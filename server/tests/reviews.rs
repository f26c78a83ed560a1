//! Change requests over HTTP and the command line: the review steps as the
//! browser calls them (each role checked on the server, self-approval
//! refused and audited, cross-site calls refused), `GET /api/v1/changes`
//! and `gatehouse changes list|show`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::audit::{Actor, Client};
use app::changes::Status;
use app::changes::{steps, store};
use app::pages::TakeStep;
use app::roles::Role;
use app::rules::live;
use app::rules::model::{RuleEntry, Statement};
use app::state::AppState;
use axum::body::Body;
use gatehouse::demo;
use http::{Request, StatusCode, header};
use leptos::server_fn::ServerFn;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

const REGION: &str = "ap-northeast-2";

/// A change request in review, raising the blanket limit, by `author`.
async fn in_review(state: &AppState, author: &str) -> uuid::Uuid {
    let base = live::rules(&state.aws.wafv2, "REGIONAL", "shop")
        .await
        .unwrap();
    let mut rules = base.rules.clone();
    for entry in &mut rules {
        if let RuleEntry::Rule(rule) = entry
            && rule.name == "BlanketRule"
            && let Statement::RateBased(rate) = &mut rule.statement
        {
            rate.limit += 1000;
        }
    }
    let actor = Actor {
        sub: Some(format!("sub-{author}")),
        username: Some(author.into()),
    };
    let id = app::rules::drafts::create(
        &state.pool,
        &base,
        "Raise the blanket limit",
        &rules,
        actor.clone(),
        Client::default(),
    )
    .await
    .unwrap();
    steps::submit(
        &state.pool,
        id,
        &base.lock_token,
        1,
        actor,
        Client::default(),
    )
    .await
    .unwrap();
    id
}

/// Calls the review step server function as the browser does.
async fn step(state: &AppState, cookie: &str, id: uuid::Uuid, step: &str) -> common::Reply {
    let request = Request::post(<TakeStep as ServerFn>::PATH)
        .header(header::CONTENT_TYPE, "application/json")
        .header("sec-fetch-site", "same-origin")
        .header(header::COOKIE, cookie)
        .body(Body::from(
            json!({"id": id.to_string(), "step": step, "text": "looks right"}).to_string(),
        ))
        .unwrap();
    common::send(state, request).await
}

#[sqlx::test(migrations = "../migrations")]
async fn review_steps_are_checked_on_the_server(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let aws = common::aws(REGION).await;
    demo::provision(&aws).await.unwrap();
    let state = common::state(pool.clone(), aws).await;
    let viewer = common::session_cookie(&state, Role::Viewer).await;
    let approver = common::session_cookie(&state, Role::Approver).await;
    let admin = common::session_cookie(&state, Role::Admin).await;

    // The approver wrote this one.
    let id = in_review(&state, "approver-user").await;
    // (Server functions answer an error with 500 and the error's JSON.)
    let refused = step(&state, &viewer, id, "Approve").await;
    assert_ne!(refused.status, StatusCode::OK);
    assert!(refused.body.contains("\"Forbidden\""), "{}", refused.body);
    let own = step(&state, &approver, id, "Approve").await;
    assert_ne!(own.status, StatusCode::OK);
    assert!(
        own.body
            .contains("No one approves their own change request"),
        "{}",
        own.body
    );
    let actions = common::audit_actions(&pool).await;
    assert!(
        actions.contains(&"changes.refused".to_owned()),
        "{actions:?}"
    );
    assert_eq!(
        store::get(&pool, id).await.unwrap().status,
        Status::InReview
    );

    // A viewer may comment; a cross-site call may not.
    assert_eq!(
        step(&state, &viewer, id, "Comment").await.status,
        StatusCode::OK
    );
    let forged = Request::post(<TakeStep as ServerFn>::PATH)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::COOKIE, &admin)
        .body(Body::from(
            json!({"id": id.to_string(), "step": "Approve", "text": ""}).to_string(),
        ))
        .unwrap();
    assert_eq!(
        common::send(&state, forged).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        store::get(&pool, id).await.unwrap().status,
        Status::InReview
    );

    // Another approver approves; the author may then apply.
    let approved = step(&state, &admin, id, "Approve").await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    let applied = step(&state, &approver, id, "Apply").await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.body);
    assert!(applied.body.contains("Applied"), "{}", applied.body);
    assert_eq!(store::get(&pool, id).await.unwrap().status, Status::Applied);

    // The API shows it, whole.
    let listed = common::get_as(&state, "/api/v1/changes?status=applied", &viewer).await;
    assert_eq!(listed.status, StatusCode::OK);
    let rows: Value = serde_json::from_str(&listed.body).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["id"], id.to_string());
    assert_eq!(rows[0]["status"], "applied");
    let shown = common::get_as(&state, &format!("/api/v1/changes/{id}"), &viewer).await;
    let change: Value = serde_json::from_str(&shown.body).unwrap();
    assert_eq!(change["author"], "approver-user");
    assert_eq!(change["comments"][0]["author"], "viewer-user");
    assert!(
        change["diff"]["words"][0]
            .as_str()
            .unwrap()
            .starts_with("BlanketRule: Statement.RateBasedStatement.Limit"),
        "{change}"
    );
    assert_eq!(change["approvals"][0]["approver"], "admin-user");
    let none = common::get_as(&state, "/api/v1/changes?status=finished", &viewer).await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        common::get_as(&state, "/api/v1/changes", "").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        common::get_as(
            &state,
            &format!("/api/v1/changes/{}", uuid::Uuid::new_v4()),
            &viewer
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // And the command line.
    let url = common::database_url(&pool);
    let rows = common::gatehouse_json(
        &url,
        &["changes", "list", "--status", "applied"].map(String::from),
    );
    assert_eq!(rows[0]["id"], id.to_string());
    let shown = common::gatehouse_json(
        &url,
        &["changes".to_owned(), "show".to_owned(), id.to_string()],
    );
    assert_eq!(shown["status"], "applied");
    assert!(shown["timeline"].as_array().unwrap().len() >= 5, "{shown}");
}
