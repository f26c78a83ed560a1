//! "Sign in with Cognito" through the hosted UI: authorization code with
//! PKCE S256, `state` checked, the exact redirect URI.
//!
//! The emulator serves no hosted UI and no `/oauth2/token` (moto 5.2 has
//! only the JWKS and OpenID configuration for Cognito), so these tests play
//! the person at the hosted UI and run a stand-in token endpoint that
//! enforces what Cognito's does (client, exact redirect URI, single-use
//! code, PKCE) and answers with real tokens of the emulator's pool.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::state::AppState;
use axum::{Form, Json, Router, extract::State as AxState, routing::post};
use base64::Engine;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};
use sha2::Digest;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const REDIRECT_URI: &str = "http://127.0.0.1:3000/auth/callback";

/// The stand-in's memory: the code it "issued" with the challenge it was
/// issued for, and how often it was asked.
#[derive(Default)]
struct Issued {
    code: Option<(String, String)>,
    calls: usize,
    client_id: String,
    tokens: Value,
}

type Shared = Arc<Mutex<Issued>>;

async fn token_endpoint(
    AxState(issued): AxState<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    let mut issued = issued.lock().unwrap();
    issued.calls += 1;
    let refuse = (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": "invalid_grant" })),
    );
    let Some((code, challenge)) = issued.code.take() else {
        return refuse;
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let derived = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let ok = form.get("grant_type").map(String::as_str) == Some("authorization_code")
        && form.get("client_id") == Some(&issued.client_id)
        && form.get("redirect_uri").map(String::as_str) == Some(REDIRECT_URI)
        && form.get("code") == Some(&code)
        && derived == challenge;
    if ok {
        (StatusCode::OK, Json(issued.tokens.clone()))
    } else {
        refuse
    }
}

struct HostedUi {
    state: AppState,
    issued: Shared,
}

async fn hosted_ui(options: PgConnectOptions, region: &str) -> HostedUi {
    let pool = common::pool(options).await;
    let aws = common::aws(region).await;
    let resources = gatehouse::demo::provision(&aws).await.unwrap();
    gatehouse::demo::register(&pool, &aws, &resources)
        .await
        .unwrap();
    let (client_id, result) = common::demo_sign_in(&aws, &resources, "editor").await;
    let issued: Shared = Arc::new(Mutex::new(Issued {
        client_id,
        tokens: json!({
            "access_token": result.access_token(),
            "id_token": result.id_token(),
            "refresh_token": result.refresh_token(),
            "expires_in": 3600,
            "token_type": "Bearer",
        }),
        ..Issued::default()
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let domain = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/oauth2/token", post(token_endpoint))
        .with_state(issued.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut config = common::config();
    config.cognito.domain = Some(domain);
    config.cognito.redirect_uri = Some(REDIRECT_URI.into());
    let auth = gatehouse::serve::auth_state(&config, &pool).await;
    let state = AppState {
        leptos_options: gatehouse::serve::leptos_options(&config),
        health_db: app::state::health_db(&pool),
        anonymous_db: app::state::anonymous_db(&pool),
        pool,
        aws,
        auth,
        overrides: Default::default(),
        geo: None,
        checkpoints: None,
        import_limits: Default::default(),
    };
    HostedUi { state, issued }
}

/// Leaves for the hosted UI; returns the authorize URL's parameters and the
/// cookie the browser keeps meanwhile.
async fn leave(ui: &HostedUi, next: &str) -> (HashMap<String, String>, String) {
    let reply = common::get_as(
        &ui.state,
        &format!("/auth/cognito?next={}", app::url::encode(next)),
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let location = reply.location().to_owned();
    let (base, query) = location.split_once('?').unwrap();
    assert!(base.ends_with("/oauth2/authorize"), "{base}");
    let params: HashMap<String, String> = url_params(query);
    let set_cookie = reply.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("Path=/auth/callback"),
        "{set_cookie}"
    );
    (params, set_cookie.split(';').next().unwrap().to_owned())
}

fn url_params(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), decode(v)))
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The person signs in at the hosted UI, which issues `code` for the
/// challenge it was given.
fn hosted_ui_issues(ui: &HostedUi, code: &str, params: &HashMap<String, String>) {
    ui.issued.lock().unwrap().code = Some((code.to_owned(), params["code_challenge"].clone()));
}

async fn come_back(ui: &HostedUi, query: &str, cookie: &str) -> common::Reply {
    let mut request = Request::get(format!("/auth/callback?{query}"));
    if !cookie.is_empty() {
        request = request.header(header::COOKIE, cookie);
    }
    common::send(&ui.state, request.body(axum::body::Body::empty()).unwrap()).await
}

#[sqlx::test(migrations = "../migrations")]
async fn the_hosted_ui_signs_in_with_pkce_and_the_exact_redirect_uri(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let ui = hosted_ui(options, "ap-northeast-2").await;
    let page = common::get_as(&ui.state, "/sign-in?next=/audit", "").await;
    assert!(
        page.body.contains(r#"href="/auth/cognito?next=/audit""#),
        "the sign-in page offers it"
    );

    let (params, cookie) = leave(&ui, "/audit").await;
    assert_eq!(params["response_type"], "code");
    assert_eq!(
        params["client_id"],
        ui.state.auth.pool.as_ref().unwrap().client_id
    );
    assert_eq!(params["redirect_uri"], REDIRECT_URI);
    assert_eq!(params["scope"], "openid");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(
        params["code_challenge"].len(),
        43,
        "SHA-256, base64url without padding"
    );
    assert!(params["state"].len() >= 32);

    hosted_ui_issues(&ui, "the-code", &params);
    let back = come_back(
        &ui,
        &format!("code=the-code&state={}", params["state"]),
        &cookie,
    )
    .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    assert_eq!(back.location(), "/audit");
    let session = back.session_cookie().expect("signed in");
    let me: Value =
        serde_json::from_str(&common::get_as(&ui.state, "/api/v1/me", &session).await.body)
            .unwrap();
    assert_eq!(me["username"], "editor");
    assert_eq!(
        common::audit_actions(&ui.state.pool).await,
        ["settings.changed", "auth.sign_in"]
    );

    // The code and the cookie are spent.
    let replay = come_back(
        &ui,
        &format!("code=the-code&state={}", params["state"]),
        &cookie,
    )
    .await;
    assert_eq!(replay.location(), "/sign-in?error=cognito");
    assert!(replay.session_cookie().is_none());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_callback_with_another_state_or_no_pending_sign_in_is_refused(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let ui = hosted_ui(options, "ap-northeast-3").await;
    let (params, cookie) = leave(&ui, "/").await;
    hosted_ui_issues(&ui, "the-code", &params);
    for (query, cookie) in [
        ("code=the-code&state=forged".to_owned(), cookie.as_str()),
        (format!("code=the-code&state={}", params["state"]), ""),
        (
            format!("error=access_denied&state={}", params["state"]),
            cookie.as_str(),
        ),
    ] {
        let reply = come_back(&ui, &query, cookie).await;
        assert_eq!(reply.location(), "/sign-in?error=cognito", "{query}");
        assert!(reply.session_cookie().is_none(), "{query}");
    }
    assert_eq!(ui.issued.lock().unwrap().calls, 0, "no code was exchanged");
    app::audit::refusals::flush(&ui.state.pool, app::audit::refusals::Rows::All)
        .await
        .unwrap();
    let (_, refusals, _) = common::refusals_written(&ui.state.pool, "auth.sign_in_failed").await;
    assert_eq!(refusals, 3, "each refused callback is counted in the trail");
    let failures: i64 = sqlx::query_scalar("SELECT count(*) FROM sign_in_failures")
        .fetch_one(&ui.state.pool)
        .await
        .unwrap();
    assert_eq!(
        failures, 0,
        "a refused callback is not a failed sign-in of the visitor's address"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_verifier_that_does_not_match_the_challenge_gets_no_tokens(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let ui = hosted_ui(options, "ap-southeast-2").await;
    let (params, cookie) = leave(&ui, "/").await;
    hosted_ui_issues(&ui, "the-code", &params);
    // Another browser's verifier in place of this one's.
    let mut parts: Vec<&str> = cookie.splitn(3, '~').collect();
    let (other, _) = app::auth::sessions::new_token();
    parts[1] = &other;
    let reply = come_back(
        &ui,
        &format!("code=the-code&state={}", params["state"]),
        &parts.join("~"),
    )
    .await;
    assert_eq!(reply.location(), "/sign-in?error=cognito");
    assert!(reply.session_cookie().is_none());
    assert_eq!(ui.issued.lock().unwrap().calls, 1);
}
