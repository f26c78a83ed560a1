//! Signing in against the emulator's user pool: the form flow, sessions,
//! throttling, return paths, the password challenge, group changes, and the
//! forged-token battery against `/api/v1/me`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::state::AppState;
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use axum::body::Body;
use base64::Engine;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::io::Write;
use std::process::{Command, Stdio};

const PASSWORD: &str = gatehouse::demo::DEMO_PASSWORD;

use common::{Reply, send};

fn form_post(path: &str, body: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request = Request::post(path)
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ORIGIN, "http://127.0.0.1:3000")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

/// Answers the password challenge of the `challenge` cookie.
async fn choose_password(state: &AppState, new: &str, confirm: &str, challenge: &str) -> Reply {
    let body = format!("new_password={new}&confirm={confirm}");
    send(
        state,
        form_post("/auth/new-password", &body, Some(challenge)),
    )
    .await
}

async fn sign_in(state: &AppState, username: &str, password: &str, next: &str) -> Reply {
    let body = format!(
        "username={username}&password={password}&next={}",
        next.replace('/', "%2F")
    );
    send(state, form_post("/auth/sign-in", &body, None)).await
}

/// The demo provisioned into a region of its own, and the server's state
/// signing in with its pool.
async fn demo_state(pool: PgPool, region: &str) -> AppState {
    let aws = common::aws(region).await;
    let resources = gatehouse::demo::provision(&aws).await.unwrap();
    gatehouse::demo::register(&pool, &aws, &resources)
        .await
        .unwrap();
    let state = common::state(pool, aws).await;
    assert!(
        state.auth.pool.is_some(),
        "the registered pool is used for sign-in"
    );
    state
}

#[sqlx::test(migrations = "../migrations")]
async fn a_demo_user_signs_in_and_lands_where_they_were_going(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let state = demo_state(pool.clone(), "us-west-1").await;
    let reply = sign_in(&state, "editor", PASSWORD, "/audit?actor=x").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(reply.location(), "/audit?actor=x");
    let set_cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    assert!(
        !set_cookie.contains("eyJ"),
        "no Cognito token in the cookie"
    );
    let cookie = reply.session_cookie().unwrap();

    let page = send(&state, get("/audit", &cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(r#"data-testid="username">editor<"#),
        "{}",
        &page.body[..500]
    );
    assert!(!page.body.contains("eyJ"), "tokens never reach the page");
    let me: Value =
        serde_json::from_str(&send(&state, get("/api/v1/me", &cookie)).await.body).unwrap();
    assert_eq!(me["username"], "editor");
    assert_eq!(me["roles"], json!(["viewer", "editor"]));
    // The demo's registration of what it manages is audited first.
    assert_eq!(
        common::audit_actions(&pool).await,
        ["settings.changed", "auth.sign_in"]
    );
    assert_eq!(app::audit::verify(&pool, &[]).await.unwrap(), Ok(2));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let state = demo_state(pool.clone(), "us-west-2").await;
    let wrong_password = sign_in(&state, "editor", "Not-the-password-1", "/").await;
    let no_such_user = sign_in(&state, "nobody", PASSWORD, "/").await;
    for reply in [&wrong_password, &no_such_user] {
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.location(), "/sign-in?error=invalid&next=/");
        assert!(reply.session_cookie().is_none());
    }
    // Anonymous refusals are counted per address and minute, and written
    // when the minute closes (here, at once): both, and the names tried.
    app::audit::refusals::flush(&pool, app::audit::refusals::Rows::All)
        .await
        .unwrap();
    let (events, refusals, names) = common::refusals_written(&pool, "auth.sign_in_failed").await;
    assert_eq!(refusals, 2, "{events} events");
    assert_eq!(names, ["editor", "nobody"]);
    let page = send(
        &state,
        Request::get("/sign-in?error=invalid&next=/")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(page.body.contains("Incorrect username or password."));
}

#[sqlx::test(migrations = "../migrations")]
async fn repeated_failures_lock_the_username_even_across_restarts(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let state = demo_state(pool.clone(), "eu-west-1").await;
    for _ in 0..5 {
        let reply = sign_in(&state, "approver", "Wrong-password-99", "/").await;
        assert_eq!(reply.location(), "/sign-in?error=invalid&next=/");
    }
    let locked = sign_in(&state, "approver", PASSWORD, "/").await;
    assert_eq!(locked.location(), "/sign-in?error=locked&minutes=15&next=/");
    assert!(
        locked.session_cookie().is_none(),
        "not even the right password gets in"
    );

    // A restarted server reads the same failures from PostgreSQL.
    let restarted = common::state(pool.clone(), common::aws("eu-west-1").await).await;
    let still_locked = sign_in(&restarted, "APPROVER", PASSWORD, "/").await;
    assert!(
        still_locked.location().starts_with("/sign-in?error=locked"),
        "usernames match case-insensitively"
    );
    let page = send(
        &state,
        Request::get("/sign-in?error=locked&minutes=15")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(
        page.body
            .contains("Too many failed sign-ins. Try again in 15 minutes.")
    );

    // Other users are not affected.
    assert!(
        sign_in(&state, "approver2", PASSWORD, "/")
            .await
            .session_cookie()
            .is_some()
    );
}

/// A sign-in form post from `peer`, as the connection would present it.
async fn sign_in_from(state: &AppState, peer: &str, username: &str, password: &str) -> Reply {
    let body = format!("username={username}&password={password}&next=%2F");
    let mut request = form_post("/auth/sign-in", &body, None);
    let peer: std::net::SocketAddr = peer.parse().unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    send(state, request).await
}

fn cognito_calls(state: &AppState) -> u64 {
    state
        .aws
        .budget
        .calls()
        .into_iter()
        .find(|(service, _)| *service == "cognito-idp")
        .map(|(_, n)| n)
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn nobody_can_lock_a_named_person_out_and_guesses_at_once_are_each_counted(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let state = demo_state(pool.clone(), "sa-east-1").await;
    let before = cognito_calls(&state);
    // Twenty guesses at the same moment from one address: each is counted
    // before the pool is asked, so only the first five reach it.
    let guesses = (0..20).map(|_| sign_in_from(&state, "198.51.100.1:4000", "approver", "Wrong-1"));
    let replies = futures::future::join_all(guesses).await;
    let refused = replies
        .iter()
        .filter(|r| r.location().starts_with("/sign-in?error=locked"))
        .count();
    assert_eq!(refused, 15, "only five guesses are let through");
    assert_eq!(cognito_calls(&state) - before, 5);

    // That address stays locked for that name; the name itself only backs
    // off (2 s after five failures), so the real approver, elsewhere, gets in.
    let locked = sign_in_from(&state, "198.51.100.1:4000", "approver", PASSWORD).await;
    assert!(locked.location().starts_with("/sign-in?error=locked"));
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let elsewhere = sign_in_from(&state, "203.0.113.9:5000", "approver", PASSWORD).await;
    assert!(
        elsewhere.session_cookie().is_some(),
        "{}",
        elsewhere.location()
    );

    // An IPv6 address counts by its /64: a fresh address in the same
    // network is the same guesser.
    for n in 1..=20 {
        sign_in_from(
            &state,
            &format!("[2001:db8:7:8::{n:x}]:443"),
            &format!("user{n}"),
            "x",
        )
        .await;
    }
    let next_door = sign_in_from(&state, "[2001:db8:7:8:ffff::1]:443", "viewer", PASSWORD).await;
    assert!(
        next_door.location().starts_with("/sign-in?error=locked"),
        "{}",
        next_door.location()
    );
    assert_eq!(
        app::auth::sessions::throttle_key("2001:db8:7:8:ffff::1"),
        "2001:db8:7:8::/64"
    );
    assert_eq!(app::auth::sessions::throttle_key("192.0.2.1"), "192.0.2.1");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_flood_of_anonymous_refusals_adds_a_handful_of_events_and_pages_stay_quick(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let state = demo_state(pool.clone(), "ca-central-1").await;
    let admin = common::session_cookie(&state, app::roles::Role::Admin).await;
    let events_before: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    let cognito_before = cognito_calls(&state);

    // 500 sign-in posts and 500 cookie-less callbacks, 50 at a time, while
    // the admin browses.
    let flood = async {
        use futures::StreamExt;
        futures::stream::iter(0..1000)
            .for_each_concurrent(50, |n| {
                let state = &state;
                async move {
                    if n % 2 == 0 {
                        sign_in_from(state, "192.0.2.66:1234", "admin", "Guess-1").await;
                    } else {
                        let mut request = Request::get("/auth/callback?code=stolen&state=forged")
                            .body(Body::empty())
                            .unwrap();
                        let peer: std::net::SocketAddr = "192.0.2.66:1234".parse().unwrap();
                        request
                            .extensions_mut()
                            .insert(axum::extract::ConnectInfo(peer));
                        send(state, request).await;
                    }
                }
            })
            .await;
    };
    let browse = async {
        let mut slowest = std::time::Duration::ZERO;
        for path in ["/", "/audit", "/reviews", "/settings", "/", "/audit"] {
            let started = std::time::Instant::now();
            let page = send(&state, get(path, &admin)).await;
            assert_eq!(page.status, StatusCode::OK, "{path}");
            slowest = slowest.max(started.elapsed());
        }
        slowest
    };
    let ((), slowest) = tokio::join!(flood, browse);
    eprintln!("slowest admin page during the flood: {slowest:?}");
    assert!(slowest < std::time::Duration::from_secs(1), "{slowest:?}");
    assert!(
        cognito_calls(&state) - cognito_before <= 5,
        "a locked address does not reach the user pool"
    );

    let audit = send(&state, get("/audit", &admin)).await;
    assert!(
        audit
            .body
            .contains("1000 refusals of callers who were not signed in"),
        "the Audit page says what is counted and not yet written"
    );
    app::audit::refusals::flush(&pool, app::audit::refusals::Rows::All)
        .await
        .unwrap();
    let events_after: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        events_after - events_before <= 4,
        "{} events for 1,000 refusals",
        events_after - events_before
    );
    let (_, refusals, names) = common::refusals_written(&pool, "auth.sign_in_failed").await;
    assert_eq!(refusals, 1000, "every refusal is counted");
    assert_eq!(names, ["admin"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refresh_that_gets_no_answer_keeps_the_session_and_one_refused_ends_it(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let mut state = demo_state(pool.clone(), "eu-north-1").await;
    let cookie = common::session_cookie(&state, app::roles::Role::Viewer).await;
    // The access token is due and the refresh token is one the pool never
    // issued.
    sqlx::query(
        "UPDATE sessions SET access_expires_at = now() - interval '1 minute',
                             refresh_token = 'not-a-refresh-token'",
    )
    .execute(&pool)
    .await
    .unwrap();

    // Cognito does not answer (nothing listens there): the person stays
    // signed in, and their pages are served.
    let answered = std::mem::replace(
        &mut state.aws,
        common::aws_at(
            "http://127.0.0.1:9",
            "eu-north-1",
            std::time::Duration::from_secs(1),
        )
        .await,
    );
    let page = send(&state, get("/reviews", &cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.location());
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sessions, 1);

    // Cognito answers and refuses the refresh token: the session is over.
    state.aws = answered;
    let page = send(&state, get("/reviews", &cookie)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(
        page.location().starts_with("/sign-in"),
        "{}",
        page.location()
    );
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn return_paths_never_leave_the_console(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let state = demo_state(pool, "eu-west-2").await;
    for hostile in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let body = format!(
            "username=viewer&password={PASSWORD}&next={}",
            urlencode(hostile)
        );
        let reply = send(&state, form_post("/auth/sign-in", &body, None)).await;
        assert_eq!(reply.location(), "/", "{hostile}");
    }
}

fn urlencode(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn signing_in_replaces_any_session_the_browser_had(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let state = demo_state(pool.clone(), "eu-central-1").await;
    let planted = common::session_cookie(&state, app::roles::Role::Viewer).await;
    let reply = send(
        &state,
        form_post(
            "/auth/sign-in",
            &format!("username=editor&password={PASSWORD}&next=/"),
            Some(&planted),
        ),
    )
    .await;
    let fresh = reply.session_cookie().unwrap();
    assert_ne!(fresh, planted);
    let planted_works = send(&state, get("/", &planted)).await;
    assert_eq!(
        planted_works.status,
        StatusCode::SEE_OTHER,
        "the old session id is dead"
    );
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sessions, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_temporary_password_must_be_replaced_before_signing_in(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let state = demo_state(pool.clone(), "ap-south-1").await;
    let cognito = &state.aws.cognito;
    let pool_id = state.auth.pool.as_ref().unwrap().user_pool_id.clone();
    let newcomer = unique("newcomer");
    create_user(cognito, &pool_id, &newcomer, Some("Temporary-pass-1")).await;
    let first = sign_in(&state, &newcomer, "Temporary-pass-1", "/traffic").await;
    assert_eq!(first.location(), "/sign-in/new-password");
    assert!(first.session_cookie().is_none());
    let challenge = first.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("gatehouse_challenge="));

    let mismatch = choose_password(&state, "Chosen-pass-22", "Chosen-pass-23", &challenge).await;
    assert_eq!(mismatch.location(), "/sign-in/new-password?error=mismatch");

    let done = choose_password(&state, "Chosen-pass-22", "Chosen-pass-22", &challenge).await;
    assert_eq!(done.location(), "/traffic");
    assert!(done.session_cookie().is_some());
    let reused = choose_password(&state, "Chosen-pass-33", "Chosen-pass-33", &challenge).await;
    assert!(
        reused.location().starts_with("/sign-in?error=expired"),
        "a challenge is used once"
    );
    assert!(
        sign_in(&state, &newcomer, "Chosen-pass-22", "/")
            .await
            .session_cookie()
            .is_some()
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_change_of_groups_takes_effect_when_the_token_is_refreshed(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let state = demo_state(pool.clone(), "ap-southeast-1").await;
    let cognito = &state.aws.cognito;
    let pool_id = state.auth.pool.as_ref().unwrap().user_pool_id.clone();
    let username = unique("promoted");
    create_user(cognito, &pool_id, &username, None).await;
    for group in ["gatehouse-viewers"] {
        cognito
            .admin_add_user_to_group()
            .user_pool_id(&pool_id)
            .username(&username)
            .group_name(group)
            .send()
            .await
            .unwrap();
    }
    let cookie = sign_in(&state, &username, PASSWORD, "/")
        .await
        .session_cookie()
        .unwrap();
    assert_eq!(
        send(&state, get("/settings", &cookie)).await.status,
        StatusCode::FORBIDDEN
    );
    cognito
        .admin_add_user_to_group()
        .user_pool_id(&pool_id)
        .username(&username)
        .group_name("gatehouse-admins")
        .send()
        .await
        .unwrap();
    // The access token runs out; the next request refreshes it.
    sqlx::query("UPDATE sessions SET access_expires_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        send(&state, get("/settings", &cookie)).await.status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn signing_out_revokes_the_tokens_at_cognito(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    // us-east-1: GlobalSignOut is an unsigned call, and moto looks for its
    // token only in the default region's pools.
    let state = demo_state(pool.clone(), "us-east-1").await;
    let cookie = sign_in(&state, "approver", PASSWORD, "/")
        .await
        .session_cookie()
        .unwrap();
    // The token stays on the server; the test reads it where it is kept.
    let access_token: String = sqlx::query_scalar("SELECT access_token FROM sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    let user = state
        .aws
        .cognito
        .get_user()
        .access_token(&access_token)
        .send()
        .await;
    assert!(user.is_ok(), "the token works before sign-out");

    let reply = send(&state, form_post("/auth/sign-out", "", Some(&cookie))).await;
    assert_eq!(reply.location(), "/sign-in?signed_out=1");
    let after = state
        .aws
        .cognito
        .get_user()
        .access_token(&access_token)
        .send()
        .await;
    assert!(after.is_err(), "GlobalSignOut revoked it");
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
    assert_eq!(
        common::audit_actions(&pool).await,
        ["settings.changed", "auth.sign_in", "auth.sign_out"]
    );
}

/// Creates a user: with a temporary password that must be changed, or
/// (`None`) with the demo password, permanent.
async fn create_user(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    pool_id: &str,
    username: &str,
    temporary_password: Option<&str>,
) {
    cognito
        .admin_create_user()
        .user_pool_id(pool_id)
        .username(username)
        .temporary_password(temporary_password.unwrap_or(PASSWORD))
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    if temporary_password.is_none() {
        cognito
            .admin_set_user_password()
            .user_pool_id(pool_id)
            .username(username)
            .password(PASSWORD)
            .permanent(true)
            .send()
            .await
            .unwrap();
    }
}

/// A name no earlier run against the same emulator has used.
fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}

// ---- The forged-token battery -------------------------------------------

fn forge(header: Value, claims: &Value, key: &str) -> String {
    let python = std::env::var("MOTO_PYTHON")
        .expect("MOTO_PYTHON must name the Python of moto's virtualenv; scripts/test.sh sets it");
    let mut child = Command::new(python)
        .arg("tests/support/forge_token.py")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            json!({ "header": header, "claims": claims, "key": key })
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn payload_of(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

async fn me_with(state: &AppState, token: &str) -> Reply {
    let request = Request::get("/api/v1/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    send(state, request).await
}

async fn tokens_of(state: &AppState, client_id: &str, username: &str) -> (String, String) {
    let result = state
        .aws
        .cognito
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap();
    let result = result.authentication_result().unwrap();
    (
        result.access_token().unwrap().to_owned(),
        result.id_token().unwrap().to_owned(),
    )
}

#[sqlx::test(migrations = "../migrations")]
async fn forged_tokens_are_refused_and_a_valid_one_accepted(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let state = demo_state(pool, "sa-east-1").await;
    let client_id = state.auth.pool.as_ref().unwrap().client_id.clone();
    let (access, id_token) = tokens_of(&state, &client_id, "editor").await;

    let valid = me_with(&state, &access).await;
    assert_eq!(valid.status, StatusCode::OK, "{}", valid.body);
    let me: Value = serde_json::from_str(&valid.body).unwrap();
    assert_eq!(me["username"], "editor");
    assert_eq!(me["groups"], json!(["gatehouse-editors"]));
    assert_eq!(me["roles"], json!(["viewer", "editor"]));
    assert!(me["sub"].as_str().is_some_and(|s| !s.is_empty()));

    let claims = payload_of(&access);
    let now = chrono::Utc::now().timestamp();
    let with = |changes: Value| {
        let mut c = claims.clone();
        for (k, v) in changes.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let rs256 = json!({ "alg": "RS256", "kid": "dummy", "typ": "JWT" });

    // Re-signing the genuine claims with the pool's key is accepted, and so
    // is a token a second past expiry (within the grace): the battery's
    // refusals below are about what each forgery changes.
    assert_eq!(
        me_with(&state, &forge(rs256.clone(), &claims, "pool"))
            .await
            .status,
        StatusCode::OK
    );
    // Taken afresh: on a loaded machine the calls above can outlast the grace.
    let just_expired = with(json!({ "exp": chrono::Utc::now().timestamp() - 1 }));
    assert_eq!(
        me_with(&state, &forge(rs256.clone(), &just_expired, "pool"))
            .await
            .status,
        StatusCode::OK
    );

    let second_pool = {
        let cognito = &state.aws.cognito;
        let pool_id = cognito
            .create_user_pool()
            .pool_name("another-pool")
            .send()
            .await
            .unwrap()
            .user_pool
            .unwrap()
            .id
            .unwrap();
        let other_client = cognito
            .create_user_pool_client()
            .user_pool_id(&pool_id)
            .client_name("another-client")
            .explicit_auth_flows(aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .send()
            .await
            .unwrap()
            .user_pool_client
            .unwrap()
            .client_id
            .unwrap();
        create_user(cognito, &pool_id, "editor", None).await;
        tokens_of(&state, &other_client, "editor").await.0
    };

    let tampered = {
        let mut parts: Vec<String> = access.split('.').map(str::to_owned).collect();
        let mut edited = claims.clone();
        edited["cognito:groups"] = json!(["gatehouse-editors", "gatehouse-admins"]);
        parts[1] = b64(edited.to_string().as_bytes());
        parts.join(".")
    };
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT","kid":"dummy"}"#),
        b64(claims.to_string().as_bytes())
    );
    let forgeries = [
        ("alg none", unsigned),
        (
            "HS256 keyed with the public key",
            forge(
                json!({ "alg": "HS256", "kid": "dummy", "typ": "JWT" }),
                &claims,
                "hmac-public",
            ),
        ),
        (
            "unknown kid",
            forge(
                json!({ "alg": "RS256", "kid": "not-in-the-jwks", "typ": "JWT" }),
                &claims,
                "stranger",
            ),
        ),
        (
            "no kid",
            forge(json!({ "alg": "RS256", "typ": "JWT" }), &claims, "pool"),
        ),
        (
            "expired",
            forge(
                rs256.clone(),
                &with(json!({ "exp": now - 3600, "iat": now - 7200 })),
                "pool",
            ),
        ),
        (
            "not yet valid",
            forge(rs256.clone(), &with(json!({ "nbf": now + 3600 })), "pool"),
        ),
        (
            "wrong issuer",
            forge(
                rs256.clone(),
                &with(
                    json!({ "iss": "https://cognito-idp.ca-central-1.amazonaws.com/ca-central-1_impostor" }),
                ),
                "pool",
            ),
        ),
        (
            "another app client",
            forge(
                rs256.clone(),
                &with(json!({ "client_id": "someone-elses-client" })),
                "pool",
            ),
        ),
        ("ID token where an access token is expected", id_token),
        ("payload edited after signing", tampered),
        ("token of another pool", second_pool),
        ("not a JWT", "definitely-not-a-token".to_owned()),
    ];
    for (what, token) in forgeries {
        let reply = me_with(&state, &token).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{what} was accepted: {}",
            reply.body
        );
        assert_eq!(
            reply.body, r#"{"error":"unauthorized"}"#,
            "{what}: no detail"
        );
    }
    let anonymous = send(
        &state,
        Request::get("/api/v1/me").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_kids_cannot_make_the_server_hammer_the_jwks(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let pool = common::pool(options).await;
    let state = demo_state(pool, "us-east-2").await;
    let cognito_pool = state.auth.pool.clone().unwrap();
    let moto_jwks = cognito_pool.verifier.settings().jwks_url.clone();

    // The pool's JWKS, served by a counting stand-in at another address.
    let keys = reqwest::get(&moto_jwks)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let keys = keys.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], keys) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut settings = cognito_pool.verifier.settings().clone();
    settings.jwks_url = format!("http://{address}/jwks.json");
    let verifier = app::auth::tokens::Verifier::new(settings);

    let (access, _) = tokens_of(&state, &cognito_pool.client_id, "viewer").await;
    let claims = payload_of(&access);
    for n in 0..5 {
        let forged = forge(
            json!({ "alg": "RS256", "kid": format!("unknown-{n}"), "typ": "JWT" }),
            &claims,
            "stranger",
        );
        assert!(
            verifier
                .verify(&forged, app::auth::tokens::TokenUse::Access)
                .await
                .is_err()
        );
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "five unknown kids within 10 s: one fetch"
    );
    for _ in 0..3 {
        let user = verifier
            .verify(&access, app::auth::tokens::TokenUse::Access)
            .await
            .unwrap();
        assert_eq!(user.username, "viewer");
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "known keys come from the cache"
    );
}
