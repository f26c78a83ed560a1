//! The router in process, against a real PostgreSQL and the moto emulator:
//! what a browser or a load balancer gets from the console.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use sqlx::PgPool;
use std::time::Duration;
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

async fn get(state: app::state::AppState, path: &str) -> Reply {
    let response = gatehouse::http::router(state)
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn healthz_reports_database_and_aws_up(pool: PgPool) {
    let state = common::state(pool, common::aws("us-east-1").await);
    let reply = get(state, "/healthz").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let report: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(report["status"], "ok");
    assert_eq!(report["database"]["ok"], true);
    assert!(
        report["database"]["detail"]
            .as_str()
            .unwrap()
            .starts_with("PostgreSQL ")
    );
    assert_eq!(report["aws"]["ok"], true);
    assert_eq!(
        reply.headers[header::CONTENT_TYPE],
        "application/json",
        "healthz answers JSON"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn healthz_is_503_when_aws_does_not_answer(pool: PgPool) {
    // Port 9 (discard) refuses connections on this machine.
    let aws = common::aws_at("http://127.0.0.1:9", "us-east-1", Duration::from_secs(3)).await;
    let reply = get(common::state(pool, aws), "/healthz").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let report: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(report["status"], "degraded");
    assert_eq!(report["database"]["ok"], true);
    assert_eq!(report["aws"]["ok"], false);
    // The cause goes to the log, not to an unauthenticated endpoint.
    assert!(!reply.body.contains("127.0.0.1"), "{}", reply.body);
    assert!(
        !reply.body.to_lowercase().contains("dispatch"),
        "{}",
        reply.body
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn healthz_is_503_when_the_database_is_gone(pool: PgPool) {
    let state = common::state(pool.clone(), common::aws("us-east-1").await);
    pool.close().await;
    let reply = get(state, "/healthz").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let report: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(report["database"]["ok"], false);
    assert_eq!(report["aws"]["ok"], true);
}

fn nonce_of_csp(headers: &http::HeaderMap) -> String {
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    let start = csp.find("'nonce-").expect("page CSP names a nonce") + "'nonce-".len();
    csp[start..].split('\'').next().unwrap().to_owned()
}

#[sqlx::test(migrations = "../migrations")]
async fn pages_carry_security_headers_and_the_nonce_of_their_script(pool: PgPool) {
    let state = common::state(pool, common::aws("us-east-1").await);
    let reply = get(state, "/").await;
    assert_eq!(reply.status, StatusCode::OK);
    let h = &reply.headers;
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(h[header::REFERRER_POLICY], "same-origin");
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    assert!(
        h[header::STRICT_TRANSPORT_SECURITY]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
    assert!(h.contains_key("x-request-id"));
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let nonce = nonce_of_csp(h);
    assert!(nonce.len() >= 16);
    assert!(
        reply
            .body
            .contains(&format!(r#"<script type="module" nonce="{nonce}">"#)),
        "the hydration script carries the CSP nonce"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn every_page_gets_a_fresh_nonce(pool: PgPool) {
    let aws = common::aws("us-east-1").await;
    let first = get(common::state(pool.clone(), aws.clone()), "/").await;
    let second = get(common::state(pool, aws), "/").await;
    assert_ne!(nonce_of_csp(&first.headers), nonce_of_csp(&second.headers));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_shell_has_landmarks_and_every_section(pool: PgPool) {
    let aws = common::aws("us-east-1").await;
    for section in app::sections::SECTIONS {
        let reply = get(common::state(pool.clone(), aws.clone()), section.path).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", section.path);
        let html = &reply.body;
        assert!(html.contains(r#"<html lang="en">"#));
        assert!(html.contains(r#"aria-label="Main""#), "navigation landmark");
        assert!(html.contains(r#"<main id="main""#), "main landmark");
        assert!(
            html.contains(&format!("<h1>{}", section.label)),
            "{}: heading",
            section.path
        );
        assert!(html.contains(&format!("<title>{} · Gatehouse</title>", section.label)));
        for link in app::sections::SECTIONS {
            assert!(
                html.contains(&format!(r#"href="{}""#, link.path)),
                "link to {}",
                link.path
            );
        }
        if section.path != "/" {
            assert!(
                html.contains("This page is not built yet."),
                "{}",
                section.path
            );
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unknown_path_is_a_404_page(pool: PgPool) {
    let state = common::state(pool, common::aws("us-east-1").await);
    let reply = get(state, "/no/such/page").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.body.contains("Page not found"));
    assert!(reply.body.contains("/no/such/page"));
    assert!(
        reply.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("'nonce-")
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_path_is_escaped_when_echoed(pool: PgPool) {
    let state = common::state(pool, common::aws("us-east-1").await);
    let reply = get(state, "/%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(!reply.body.contains("<script>alert(1)</script>"));
}

#[sqlx::test(migrations = "../migrations")]
async fn static_files_get_the_strictest_policy(pool: PgPool) {
    let state = common::state(pool, common::aws("us-east-1").await);
    let reply = get(state, "/favicon.svg").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers[header::CONTENT_SECURITY_POLICY],
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(reply.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_dashboard_lists_registered_targets(pool: PgPool) {
    app::targets::register(
        &pool,
        &app::targets::NewTarget {
            kind: app::targets::TargetKind::WebAcl,
            scope: Some("REGIONAL"),
            name: "storefront-acl",
            aws_id: "0000-abcd",
            arn: None,
            region: "eu-west-1",
        },
    )
    .await
    .unwrap();
    let state = common::state(pool, common::aws("us-east-1").await);
    let reply = get(state, "/").await;
    assert!(reply.body.contains("storefront-acl"));
    assert!(reply.body.contains("0000-abcd"));
    assert!(reply.body.contains("All systems answer."));
}
