//! The JSON API for scripts, under `/api/v1/`. Each endpoint authenticates
//! with the session cookie or `Authorization: Bearer <access token>`; a
//! missing, invalid, expired or forged token gets 401 and no reason.

use app::auth::User;
use app::auth::caller::Caller;
use app::auth::tokens::TokenUse;
use app::state::AppState;
use axum::{
    Extension, Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(serde_json::json!({ "error": "unauthorized" })),
    )
        .into_response()
}

/// The caller: the session's user, else the bearer token's.
async fn api_user(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
) -> Result<User, Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(token) = bearer {
        let pool = state.auth.pool.as_ref().ok_or_else(unauthorized)?;
        return pool
            .verifier
            .verify(token.trim(), TokenUse::Access)
            .await
            .map_err(|err| {
                tracing::info!(%err, "bearer token refused");
                unauthorized()
            });
    }
    caller.user().cloned().ok_or_else(unauthorized)
}

/// `GET /api/v1/me`: `{"username", "sub", "groups", "roles"}`.
pub async fn me(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Response {
    match api_user(&state, &caller, &headers).await {
        Ok(user) => Json(user).into_response(),
        Err(response) => response,
    }
}
