//! The router in process, against a real PostgreSQL and the moto emulator:
//! what a browser or a load balancer gets from the console.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::roles::Role;
use axum::body::Body;
use http::{Request, StatusCode, header};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::time::Duration;

use common::Reply;

async fn get(state: app::state::AppState, path: &str) -> Reply {
    let cookie = common::session_cookie(&state, Role::Viewer).await;
    common::get_as(&state, path, &cookie).await
}

async fn get_as(state: app::state::AppState, path: &str, cookie: &str) -> Reply {
    common::get_as(&state, path, cookie).await
}

async fn send(state: app::state::AppState, request: Request<Body>) -> Reply {
    common::send(&state, request).await
}

#[sqlx::test(migrations = "../migrations")]
async fn healthz_reports_database_and_aws_up(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let state = common::state(pool, common::aws("us-east-1").await).await;
    let reply = get_as(state.clone(), "/healthz", "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let report: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(report["status"], "ok");
    assert_eq!(report["database"]["ok"], true);
    assert_eq!(report["database"]["detail"], "PostgreSQL answered");
    assert_eq!(report["aws"]["ok"], true);
    assert_eq!(report["aws"]["age_secs"], 0);
    assert_eq!(
        reply.headers[header::CONTENT_TYPE],
        "application/json",
        "healthz answers JSON"
    );
    // A second check within seconds shares the AWS answer (with its age);
    // the database is asked again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again: Value = serde_json::from_str(&get_as(state, "/healthz", "").await.body).unwrap();
    assert_eq!(again["aws"]["age_secs"], 1);
    assert_eq!(again["aws"]["latency_ms"], report["aws"]["latency_ms"]);
    assert_eq!(again["database"]["age_secs"], 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn healthz_is_503_when_aws_does_not_answer(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    // Port 9 (discard) refuses connections on this machine.
    let aws = common::aws_at("http://127.0.0.1:9", "us-east-1", Duration::from_secs(3)).await;
    let reply = get_as(common::state(pool, aws).await, "/healthz", "").await;
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
async fn healthz_is_503_when_the_database_is_gone(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let state = common::state(pool.clone(), common::aws("us-east-1").await).await;
    pool.close().await;
    state.health_db.close().await;
    let reply = get_as(state, "/healthz", "").await;
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
async fn pages_carry_security_headers_and_the_nonce_of_their_script(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let state = common::state(pool, common::aws("us-east-1").await).await;
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
async fn every_page_gets_a_fresh_nonce(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let aws = common::aws("us-east-1").await;
    let first = get(common::state(pool.clone(), aws.clone()).await, "/").await;
    let second = get(common::state(pool, aws).await, "/").await;
    assert_ne!(nonce_of_csp(&first.headers), nonce_of_csp(&second.headers));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_shell_has_landmarks_and_every_section(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let state = common::state(pool, common::aws("us-east-1").await).await;
    let admin = common::session_cookie(&state, Role::Admin).await;
    for section in app::sections::SECTIONS {
        let reply = get_as(state.clone(), section.path, &admin).await;
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
        assert!(
            !html.contains("not built yet"),
            "{}: every section is built",
            section.path
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unknown_path_is_a_404_page(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let state = common::state(pool, common::aws("us-east-1").await).await;
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
async fn a_path_is_escaped_when_echoed(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let state = common::state(pool, common::aws("us-east-1").await).await;
    let reply = get(state, "/%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(!reply.body.contains("<script>alert(1)</script>"));
}

/// An island's properties travel in the page as JSON in an attribute: what a
/// visitor put in the URL stays text there.
#[sqlx::test(migrations = "../migrations")]
async fn island_properties_are_escaped(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let state = common::state(pool, common::aws("us-east-1").await).await;
    let viewer = common::session_cookie(&state, Role::Viewer).await;
    let reply = get_as(
        state,
        "/reviews/%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        &viewer,
    )
    .await;
    assert!(reply.body.contains("<leptos-island"), "{}", reply.body);
    assert!(reply.body.contains("data-props=\""));
    assert!(!reply.body.contains("<script>alert(1)"));
    assert!(reply.body.contains("&lt;script&gt;alert(1)"));
}

#[sqlx::test(migrations = "../migrations")]
async fn static_files_get_the_strictest_policy(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let state = common::state(pool, common::aws("us-east-1").await).await;
    let reply = get_as(state, "/favicon.svg", "").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers[header::CONTENT_SECURITY_POLICY],
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(reply.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_dashboard_lists_registered_targets(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    app::targets::register(
        &mut pool.acquire().await.unwrap(),
        &app::targets::NewTarget {
            kind: app::targets::TargetKind::WebAcl,
            scope: Some("REGIONAL"),
            name: "storefront-acl",
            aws_id: "0000-abcd",
            arn: None,
            region: "eu-west-1",
            detail: &serde_json::json!({}),
        },
    )
    .await
    .unwrap();
    let state = common::state(pool, common::aws("us-east-1").await).await;
    let reply = get(state, "/").await;
    assert!(reply.body.contains("storefront-acl"));
    assert!(reply.body.contains("0000-abcd"));
    assert!(reply.body.contains("All systems answer."));
}

#[sqlx::test(migrations = "../migrations")]
async fn signed_out_visitors_go_to_sign_in_and_keep_their_page(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let state = common::state(pool, common::aws("us-east-1").await).await;
    for (path, next) in [
        ("/", "%2F"),
        ("/audit", "%2Faudit"),
        (
            "/reviews/abc?tab=diff&x=1",
            "%2Freviews%2Fabc%3Ftab%3Ddiff%26x%3D1",
        ),
        ("/no/such/page", "%2Fno%2Fsuch%2Fpage"),
    ] {
        let reply = get_as(state.clone(), path, "").await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(
            reply.location(),
            format!("/sign-in?next={next}").replace("%2F", "/"),
            "{path}"
        );
    }
    let sign_in = get_as(state, "/sign-in", "").await;
    assert_eq!(sign_in.status, StatusCode::OK);
    assert!(sign_in.body.contains(r#"action="/auth/sign-in""#));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_forged_session_cookie_is_anonymous_and_removed(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let state = common::state(pool, common::aws("us-east-1").await).await;
    let reply = get_as(state, "/", "gatehouse_session=forged-or-stale").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let cleared = reply.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cleared.starts_with("gatehouse_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn roles_decide_what_opens_and_refusals_are_audited(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let state = common::state(pool.clone(), common::aws("us-east-1").await).await;
    let viewer = common::session_cookie(&state, Role::Viewer).await;
    let admin = common::session_cookie(&state, Role::Admin).await;

    let refused = get_as(state.clone(), "/settings", &viewer).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("needs the admin role"));
    assert!(
        !refused.body.contains(r#"href="/settings""#),
        "viewers do not see the Settings link"
    );
    let audited: (String, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT action, actor_username, target FROM audit_events ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        audited,
        (
            "auth.access_denied".into(),
            Some("viewer-user".into()),
            Some("/settings".into())
        )
    );

    let allowed = get_as(state.clone(), "/settings", &admin).await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert!(allowed.body.contains(r#"href="/settings""#));
    assert!(allowed.body.contains("admin-user"));

    // Every other section opens for a viewer.
    for section in app::sections::SECTIONS
        .iter()
        .filter(|s| s.role == Role::Viewer)
    {
        let reply = get_as(state.clone(), section.path, &viewer).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", section.path);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn server_functions_refuse_the_signed_out(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    use leptos::server_fn::ServerFn;
    let state = common::state(pool, common::aws("us-east-1").await).await;
    let path = <app::pages::LoadOverview as ServerFn>::PATH;
    let call = |cookie: Option<String>| {
        let mut request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.body(Body::empty()).unwrap()
    };
    let anonymous = send(state.clone(), call(None)).await;
    assert_ne!(anonymous.status, StatusCode::OK);
    assert!(
        anonymous.body.contains("Unauthorized"),
        "{}",
        anonymous.body
    );
    assert!(!anonymous.body.contains("shop"));

    let viewer = common::session_cookie(&state, Role::Viewer).await;
    let allowed = send(state, call(Some(viewer))).await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);
    assert!(allowed.body.contains("\"health\""), "{}", allowed.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn state_changes_from_other_sites_are_refused_and_audited(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let state = common::state(pool.clone(), common::aws("us-east-1").await).await;
    let editor = common::session_cookie(&state, Role::Editor).await;
    let forged = Request::post("/auth/sign-out")
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::COOKIE, &editor)
        .body(Body::empty())
        .unwrap();
    let refused = send(state.clone(), forged).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("Cross-site request refused"));
    assert_eq!(
        common::audit_actions(&pool)
            .await
            .last()
            .map(String::as_str),
        Some("auth.csrf_refused")
    );
    let still_signed_in = get_as(state.clone(), "/", &editor).await;
    assert_eq!(
        still_signed_in.status,
        StatusCode::OK,
        "the forged sign-out did nothing"
    );

    let no_proof = Request::post("/auth/sign-out")
        .header(header::COOKIE, &editor)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(state.clone(), no_proof).await.status,
        StatusCode::FORBIDDEN
    );

    let own_page = Request::post("/auth/sign-out")
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ORIGIN, "http://127.0.0.1:3000")
        .header(header::COOKIE, &editor)
        .body(Body::empty())
        .unwrap();
    let signed_out = send(state.clone(), own_page).await;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_out.location(), "/sign-in?signed_out=1");
    assert!(
        signed_out.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        common::audit_actions(&pool)
            .await
            .last()
            .map(String::as_str),
        Some("auth.sign_out")
    );
    let after = get_as(state, "/", &editor).await;
    assert_eq!(
        after.status,
        StatusCode::SEE_OTHER,
        "the old cookie no longer signs in"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn idle_and_old_sessions_end_and_are_audited(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let state = common::state(pool.clone(), common::aws("us-east-1").await).await;
    let idle = common::session_cookie(&state, Role::Viewer).await;
    let old = common::session_cookie(&state, Role::Editor).await;
    sqlx::query("UPDATE sessions SET last_seen_at = now() - interval '31 minutes' WHERE username = 'viewer-user'")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE username = 'editor-user'")
        .execute(&pool)
        .await
        .unwrap();
    for cookie in [idle, old] {
        let reply = get_as(state.clone(), "/", &cookie).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert!(
            reply.headers[header::SET_COOKIE]
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
    }
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT after FROM audit_events WHERE action = 'auth.session_expired' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        reasons,
        [r#"{"reason":"idle"}"#, r#"{"reason":"absolute"}"#]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn built_assets_and_health_checks_cost_no_session_lookup(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let state = common::state(pool.clone(), common::aws("us-east-1").await).await;
    let cookie = common::session_cookie(&state, Role::Viewer).await;
    // Idle past its limit: any lookup would end it and remove the cookie.
    sqlx::query("UPDATE sessions SET last_seen_at = now() - interval '1 hour'")
        .execute(&pool)
        .await
        .unwrap();
    for path in ["/favicon.svg", "/healthz"] {
        let reply = get_as(state.clone(), path, &cookie).await;
        assert!(!reply.headers.contains_key(header::SET_COOKIE), "{path}");
    }
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        sessions, 1,
        "no lookup, so the idle session was not touched"
    );
    // A page does look it up, and ends it.
    let page = get_as(state, "/", &cookie).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
}

/// The bundle: sent compressed to a browser that takes gzip, kept for a
/// year when its name carries its hash, checked again otherwise.
#[sqlx::test(migrations = "../migrations")]
async fn the_bundle_is_compressed_and_cached_by_its_hash(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let mut state = common::state(pool, common::aws("us-east-1").await).await;
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let wasm = vec![7u8; 200_000];
    std::fs::write(
        pkg.join("gatehouse.0f1e2d3c4b5a69788796a5b4c3d2e1f0.wasm"),
        &wasm,
    )
    .unwrap();
    std::fs::write(
        pkg.join("gatehouse.css"),
        "body { color: black; }\n".repeat(100),
    )
    .unwrap();
    gatehouse::http::assets::precompress(&pkg);
    let mut config = common::config();
    config.site_root = site.path().to_owned();
    state.leptos_options = gatehouse::serve::leptos_options(&config);

    let hashed = "/pkg/gatehouse.0f1e2d3c4b5a69788796a5b4c3d2e1f0.wasm";
    let request = |path: &str, encoding: &str| {
        Request::get(path)
            .header(header::ACCEPT_ENCODING, encoding)
            .body(Body::empty())
            .unwrap()
    };
    let reply = send(state.clone(), request(hashed, "gzip, deflate")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(
        reply.headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/wasm");
    let sent: usize = reply.headers[header::CONTENT_LENGTH]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        sent < wasm.len() / 100,
        "{sent} bytes sent for {}",
        wasm.len()
    );

    // Without gzip, the file as it is; a plain name is checked each time.
    let plain = send(state.clone(), request("/pkg/gatehouse.css", "identity")).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert!(!plain.headers.contains_key(header::CONTENT_ENCODING));
    assert_eq!(plain.headers[header::CACHE_CONTROL], "no-cache");
    assert_eq!(plain.body.len(), 2300);
    let missing = send(state, request("/pkg/nothing.js", "gzip")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn what_a_signed_in_person_sees_is_never_cached_and_request_ids_are_the_consoles(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let mut state = common::state(pool, common::aws("us-east-1").await).await;
    let page = get(state.clone(), "/reviews").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
    let health = get_as(state.clone(), "/healthz", "").await;
    assert_ne!(
        health
            .headers
            .get(header::CACHE_CONTROL)
            .map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "nothing personal in a health check"
    );

    // A client's own X-Request-Id is not believed (it would be logged and
    // echoed as the console's); a trusted proxy's is.
    let from = |peer: &str| {
        let mut request = Request::get("/healthz")
            .header("x-request-id", "chosen-by-the-client")
            .body(Body::empty())
            .unwrap();
        let peer: std::net::SocketAddr = peer.parse().unwrap();
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        request
    };
    let reply = send(state.clone(), from("203.0.113.5:4000")).await;
    let id = reply.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, "chosen-by-the-client");
    assert_eq!(id.len(), 36, "a UUID of the console's: {id}");
    state.auth.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
    let reply = send(state, from("10.1.2.3:4000")).await;
    assert_eq!(reply.headers["x-request-id"], "chosen-by-the-client");
}

#[sqlx::test(migrations = "../migrations")]
async fn signing_out_ends_the_session_even_when_its_event_cannot_be_written(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let state = common::state(pool.clone(), common::aws("us-east-1").await).await;
    let editor = common::session_cookie(&state, Role::Editor).await;
    // The trail refuses sign-out events from now on.
    sqlx::query(
        "ALTER TABLE audit_events ADD CONSTRAINT no_sign_out CHECK (action <> 'auth.sign_out') NOT VALID",
    )
    .execute(&pool)
    .await
    .unwrap();
    let request = Request::post("/auth/sign-out")
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ORIGIN, "http://127.0.0.1:3000")
        .header(header::COOKIE, &editor)
        .body(Body::empty())
        .unwrap();
    let reply = send(state.clone(), request).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let cleared = reply.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0, "the session is gone");
    let after = get_as(state, "/reviews", &editor).await;
    assert!(
        after.location().starts_with("/sign-in"),
        "{}",
        after.location()
    );
}
