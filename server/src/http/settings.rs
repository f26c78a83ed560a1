//! `GET /settings/iam-policy.json`: "What Gatehouse needs", the IAM policy
//! for Gatehouse's own role made from what it manages, as a file. Admins
//! only, like the Settings page.

use app::auth::caller::{Caller, record_denial};
use app::error::AppError;
use app::roles::Role;
use app::state::AppState;
use axum::{
    Extension,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};

pub async fn iam_policy(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    match policy(&state, &caller).await {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"gatehouse-iam-policy.json\"",
                ),
            ],
            body,
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

async fn policy(state: &AppState, caller: &Caller) -> Result<String, AppError> {
    match caller.user() {
        Some(user) if user.has(Role::Admin) => {}
        Some(user) => {
            record_denial(
                &state.pool,
                user,
                Role::Admin,
                "/settings/iam-policy.json",
                &caller.client,
            )
            .await?;
            return Err(AppError::Forbidden);
        }
        None => return Err(AppError::Unauthorized),
    }
    let doc = app::settings::store::current(&state.pool).await?;
    serde_json::to_string_pretty(&app::settings::store::iam_policy(state, &doc))
        .map_err(|e| AppError::internal("IAM policy", e))
}
