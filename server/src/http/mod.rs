//! The HTTP surface: the router with the Leptos pages and server functions,
//! `/healthz`, and the middleware every response passes through.

mod api;
pub mod assets;
mod audit_export;
pub mod auth;
mod security_headers;
mod settings;
mod upload;

use app::state::AppState;
use axum::{
    Json, Router,
    extract::{MatchedPath, State},
    http::{Request, StatusCode},
    response::IntoResponse,
    routing::{get, post},
};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let leptos_options = state.leptos_options.clone();
    let pkg = std::path::Path::new(leptos_options.site_root.as_ref())
        .join(leptos_options.site_pkg_dir.as_ref());
    Router::new()
        .nest_service(
            "/pkg",
            axum::routing::any(move |request| assets::serve(pkg.clone(), request)),
        )
        .route("/healthz", get(healthz))
        .route("/api/v1/me", get(api::me))
        .route("/api/v1/aws/calls", get(api::aws_calls))
        .route("/api/v1/web-acls", get(api::web_acls))
        .route("/api/v1/changes", get(api::changes))
        .route("/api/v1/policies", get(api::policies))
        .route("/api/v1/vpn/countries", get(api::vpn_countries))
        .route("/api/v1/vpn/test", get(api::vpn_test))
        .route("/api/v1/policies/simulate", post(api::simulate_policies))
        .route(
            "/api/v1/traffic/replay",
            get(api::replay_get).post(api::replay_post),
        )
        .route("/api/v1/changes/{id}", get(api::change))
        .route(
            "/api/v1/web-acls/{scope}/{name}/rules",
            get(api::web_acl_rules),
        )
        .route(
            "/audit/export.csv",
            get(|s, c, q| audit_export::export(audit_export::Format::Csv, s, c, q)),
        )
        .route(
            "/audit/export.json",
            get(|s, c, q| audit_export::export(audit_export::Format::Json, s, c, q)),
        )
        .route("/settings/iam-policy.json", get(settings::iam_policy))
        .route("/traffic/upload", post(upload::upload))
        .route("/traffic/import-s3", post(upload::import_s3))
        .route("/auth/sign-in", post(auth::sign_in_form))
        .route("/auth/new-password", post(auth::new_password_form))
        .route("/auth/sign-out", post(auth::sign_out_form))
        .route("/auth/cognito", get(auth::hosted_ui_start))
        .route("/auth/callback", get(auth::hosted_ui_callback))
        .leptos_routes_with_context(
            &state,
            routes,
            {
                let state = state.clone();
                move || {
                    provide_context(state.clone());
                }
            },
            move || app::shell(leptos_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        // Outermost first: find the session, refuse cross-site changes,
        // then send signed-out visitors of pages to the sign-in page.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::gate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::same_origin,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map(MatchedPath::as_str)
                        .unwrap_or("fallback");
                    let request_id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        route,
                        path = request.uri().path(),
                        request_id,
                    )
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(axum::middleware::from_fn(security_headers::apply))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::untrusted_request_id,
        ))
        .with_state(state)
}

/// The health of the database and of AWS; 200 when both answer, 503 when
/// either does not, so a load balancer can act on the status alone.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let report = app::health::check(&state).await;
    let status = match report.status {
        app::health::Status::Ok => StatusCode::OK,
        app::health::Status::Degraded => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(report))
}
