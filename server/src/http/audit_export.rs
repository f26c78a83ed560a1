//! `GET /audit/export.csv` and `/audit/export.json`: the audit page's
//! filtered view, whole, as a file. Same filters as the page, same role.

use app::audit::{AuditEvent, AuditFilter};
use app::auth::caller::Caller;
use app::error::AppError;
use app::roles::Role;
use app::state::AppState;
use axum::{
    Extension,
    extract::{Query, State},
    http::header,
    response::{IntoResponse, Response},
};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy)]
pub enum Format {
    Csv,
    Json,
}

async fn filtered(
    state: &AppState,
    caller: &Caller,
    query: &HashMap<String, String>,
) -> Result<Vec<AuditEvent>, AppError> {
    match caller.user() {
        Some(user) if user.has(Role::Viewer) => {}
        Some(_) => return Err(AppError::Forbidden),
        None => return Err(AppError::Unauthorized),
    }
    let filter =
        AuditFilter::from_query(|key| query.get(key).cloned()).map_err(AppError::BadRequest)?;
    let (events, _) = app::audit::search(&state.pool, &filter, i64::MAX, 0).await?;
    Ok(events)
}

pub async fn export(
    format: Format,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let events = match filtered(&state, &caller, &query).await {
        Ok(events) => events,
        Err(err) => return err.into_response(),
    };
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let (body, content_type, extension) = match format {
        Format::Json => match serde_json::to_vec_pretty(&events) {
            Ok(body) => (body, "application/json", "json"),
            Err(err) => return AppError::internal("audit export", err).into_response(),
        },
        Format::Csv => match to_csv(&events) {
            Ok(body) => (body, "text/csv; charset=utf-8", "csv"),
            Err(err) => return AppError::internal("audit export", err).into_response(),
        },
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"gatehouse-audit-{stamp}.{extension}\""),
            ),
        ],
        body,
    )
        .into_response()
}

fn to_csv(events: &[AuditEvent]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for event in events {
        writer.serialize(event)?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}
