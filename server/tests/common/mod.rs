//! What the integration tests share: AWS clients on the moto server that
//! `scripts/test.sh` starts (its address in AWS_ENDPOINT_URL), the state the
//! server builds, and URLs of the per-test databases `#[sqlx::test]` makes.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use app::auth::User;
use app::auth::sessions::{self, Tokens};
use app::pages::TakeStep;
use app::roles::Role;
use app::state::{AppState, AwsClients};
use axum::body::Body;
use gatehouse::config::{AwsConfig, Config};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use leptos::server_fn::ServerFn;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;
use tower::ServiceExt;

/// The emulator's address. Tests that need AWS fail, rather than skip,
/// without it: a suite that silently skips its AWS tests proves nothing.
pub fn moto_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL must point at a running moto server; scripts/test.sh starts one")
}

/// AWS clients on the emulator in `region`. Moto keeps each region's
/// resources apart, so a test that provisions uses a region of its own.
pub async fn aws(region: &str) -> AwsClients {
    aws_at(&moto_endpoint(), region, Duration::from_secs(5)).await
}

pub async fn aws_at(endpoint: &str, region: &str, probe_timeout: Duration) -> AwsClients {
    let sdk = gatehouse::aws::sdk_config(&AwsConfig {
        region: Some(region.to_owned()),
        endpoint_url: Some(endpoint.to_owned()),
        probe_timeout_secs: probe_timeout.as_secs(),
        live_state_ttl_secs: 0,
        calls_per_second: Default::default(),
        athena_price_per_tb: 5.0,
    })
    .await;
    // Read afresh on every view, and unpaced: tests change AWS behind the
    // console's back and look at once (the cache and the budget have tests
    // of their own).
    AwsClients::new(
        &sdk,
        probe_timeout,
        Duration::ZERO,
        &app::aws_budget::Rates::unpaced(),
    )
}

pub fn config() -> Config {
    Config {
        site_root: "../public".into(),
        aws: AwsConfig {
            endpoint_url: std::env::var("AWS_ENDPOINT_URL").ok(),
            ..Config::default().aws
        },
        ip_country_db: std::env::var_os("GATEHOUSE_IP_COUNTRY_DB").map(Into::into),
        ..Config::default()
    }
}

/// The server's state, signing in with whatever pool is registered in the
/// database (none, unless the test provisioned the demo).
pub async fn state(pool: PgPool, aws: AwsClients) -> AppState {
    let config = config();
    let auth = gatehouse::serve::auth_state(&config, &pool).await;
    AppState {
        leptos_options: gatehouse::serve::leptos_options(&config),
        health_db: app::state::health_db(&pool),
        anonymous_db: app::state::anonymous_db(&pool),
        pool,
        aws,
        auth,
        overrides: config.overrides.clone(),
        geo: gatehouse::serve::geo_db(&config),
        checkpoints: None,
        import_limits: config.import,
    }
}

/// The demo provisioned into `aws` and registered, and the server's state
/// with a viewer's session cookie.
pub async fn demo_viewer(
    pool: PgPool,
    aws: AwsClients,
) -> (AppState, String, Vec<gatehouse::demo::Resource>) {
    let resources = gatehouse::demo::provision(&aws).await.unwrap();
    gatehouse::demo::register(&pool, &aws, &resources)
        .await
        .unwrap();
    let state = state(pool, aws).await;
    let viewer = session_cookie(&state, Role::Viewer).await;
    (state, viewer, resources)
}

/// A session for a user holding `role`, stored as a sign-in would store it;
/// returns the `Cookie` header that presents it.
pub async fn session_cookie(state: &AppState, role: Role) -> String {
    let name = format!("{}-user", role.as_str());
    cookie_for(state, &name, &[role.default_group()]).await
}

/// A session for `username` in Cognito `groups`, stored as a sign-in would
/// store it; returns the `Cookie` header that presents it.
pub async fn cookie_for(state: &AppState, username: &str, groups: &[&str]) -> String {
    let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
    let user = User {
        username: username.to_owned(),
        sub: format!("sub-{username}"),
        roles: app::auth::RoleGroups::default().roles_for(&groups),
        groups,
    };
    let tokens = Tokens {
        access_token: "not-a-real-token".into(),
        refresh_token: None,
        access_expires_at: chrono::Utc::now() + chrono::TimeDelta::hours(1),
    };
    let mut conn = state.pool.acquire().await.unwrap();
    let token = sessions::create(
        &mut conn,
        &user,
        &tokens,
        &state.auth.policy,
        &Default::default(),
    )
    .await
    .unwrap();
    format!("{}={token}", state.auth.policy.cookie_name())
}

/// The audit actions recorded so far, oldest first.
pub async fn audit_actions(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT action FROM audit_events ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// A pool on the test's database, made in the test's own runtime.
///
/// Tests take `PgConnectOptions` rather than a `PgPool` from `#[sqlx::test]`:
/// pools it hands out share a master pool across the tests' runtimes, which
/// makes tests hang or time out at random once a file has a score of them
/// (sqlx issue #2567, open for 0.8.6).
/// The anonymous refusals of `action` written to the trail (after a
/// flush): how many events, the refusals they count, and the usernames
/// they name, sorted.
pub async fn refusals_written(pool: &PgPool, action: &str) -> (usize, i64, Vec<String>) {
    let afters: Vec<String> =
        sqlx::query_scalar("SELECT after FROM audit_events WHERE action = $1 ORDER BY id")
            .bind(action)
            .fetch_all(pool)
            .await
            .unwrap();
    let mut refusals = 0;
    let mut names = Vec::new();
    for after in &afters {
        let after: Value = serde_json::from_str(after).unwrap();
        refusals += after["count"].as_i64().unwrap();
        for name in after["usernames"].as_array().unwrap() {
            names.push(name.as_str().unwrap().to_owned());
        }
    }
    names.sort();
    names.dedup();
    (afters.len(), refusals, names)
}

pub async fn pool(options: sqlx::postgres::PgConnectOptions) -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .expect("the test database accepts connections")
}

/// The URL of the database behind `pool`, for running the binary against it.
pub fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL is set for sqlx::test");
    let name = pool
        .connect_options()
        .get_database()
        .expect("test pools name their database")
        .to_owned();
    let (server, _) = base
        .rsplit_once('/')
        .expect("DATABASE_URL has a database path");
    format!("{server}/{name}")
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn location(&self) -> &str {
        self.headers[header::LOCATION].to_str().unwrap()
    }

    /// `name=value` of the session cookie this reply sets, if it sets one.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .find(|v| v.starts_with("gatehouse_session=") && !v.contains("Max-Age=0"))
            .map(|v| v.split(';').next().unwrap().to_owned())
    }
}

/// Sends `request` through the server's router, in process.
pub async fn send(state: &AppState, request: Request<Body>) -> Reply {
    let response = gatehouse::http::router(state.clone())
        .oneshot(request)
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

/// `GET path` with `cookie` (none when empty).
pub async fn get_as(state: &AppState, path: &str, cookie: &str) -> Reply {
    let mut request = Request::get(path);
    if !cookie.is_empty() {
        request = request.header(header::COOKIE, cookie);
    }
    send(state, request.body(Body::empty()).unwrap()).await
}

/// The `gatehouse` binary as a script runs it: no configuration file from
/// the environment, quiet logs.
pub fn gatehouse() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command
        .env_remove("GATEHOUSE_CONFIG")
        .env("RUST_LOG", "warn");
    command
}

/// Runs the `gatehouse` binary on the database at `database_url` and reads
/// its standard output as one JSON value; fails the test if it fails.
pub fn gatehouse_json(database_url: &str, args: &[String]) -> serde_json::Value {
    let output = gatehouse()
        .args(args)
        .env("DATABASE_URL", database_url)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("standard output is one JSON value")
}

/// Posts a form to a server function as the page's form does.
pub async fn form(state: &AppState, path: &str, cookie: &str, body: &str) -> Reply {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "same-origin")
        .header(header::COOKIE, cookie)
        .body(Body::from(body.to_owned()))
        .unwrap();
    send(state, request).await
}

/// Takes a review step as the review page does.
pub async fn step(state: &AppState, cookie: &str, id: &str, step: &str) -> Reply {
    let request = Request::post(<TakeStep as ServerFn>::PATH)
        .header(header::CONTENT_TYPE, "application/json")
        .header("sec-fetch-site", "same-origin")
        .header(header::COOKIE, cookie)
        .body(Body::from(
            json!({"id": id, "step": step, "text": "checked"}).to_string(),
        ))
        .unwrap();
    send(state, request).await
}

pub fn draft_of(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let edited: Value = serde_json::from_str(&reply.body).unwrap();
    edited["draft"].as_str().unwrap().to_owned()
}

/// A demo user signed in through the demo's app client (USER_PASSWORD_AUTH),
/// as Cognito answers: the client id and the tokens.
pub async fn demo_sign_in(
    aws: &AwsClients,
    resources: &[gatehouse::demo::Resource],
    username: &str,
) -> (
    String,
    aws_sdk_cognitoidentityprovider::types::AuthenticationResultType,
) {
    let client_id = resources
        .iter()
        .find(|r| r.name == "gatehouse-console")
        .unwrap()
        .aws_id
        .clone();
    let answer = aws
        .cognito
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", gatehouse::demo::DEMO_PASSWORD)
        .send()
        .await
        .unwrap();
    (client_id, answer.authentication_result.unwrap())
}
