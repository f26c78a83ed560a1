//! `POST /traffic/upload?name=FILE`: one WAF log file from the Traffic
//! page, as the request body, imported as the command line imports it.
//!
//! The body is streamed to a private temporary file (never held in memory)
//! and refused with 413 as soon as it passes [`UPLOAD_LIMIT_BYTES`]; the
//! page checks the size before it sends, so people hear about the limit
//! before waiting for an upload. Editors and above; the same-origin check
//! in front of every POST stops cross-site uploads.

use app::audit::Actor;
use app::auth::caller::Caller;
use app::error::AppError;
use app::roles::Role;
use app::state::AppState;
use app::traffic::UPLOAD_LIMIT_BYTES;
use axum::{
    Extension, Json,
    body::Body,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use std::collections::HashMap;
use std::io::Write;

use crate::traffic::import::{self, LogFile, Source};
use crate::traffic::s3;

/// The importing editor, or the refusal to send (audited when signed in).
async fn editor(state: &AppState, caller: &Caller, target: &str) -> Result<Actor, Response> {
    match caller.user() {
        Some(user) if user.has(Role::Editor) => Ok(Actor {
            sub: Some(user.sub.clone()),
            username: Some(user.username.clone()),
        }),
        Some(user) => {
            let denial = app::auth::caller::record_denial(
                &state.pool,
                user,
                Role::Editor,
                target,
                &caller.client,
            )
            .await;
            if let Err(err) = denial {
                return Err(err.into_response());
            }
            Err(refusal(
                StatusCode::FORBIDDEN,
                "Importing logs needs the editor role.",
            ))
        }
        None => Err(AppError::Unauthorized.into_response()),
    }
}

fn refusal(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

fn too_large() -> Response {
    let limit = UPLOAD_LIMIT_BYTES / (1024 * 1024);
    refusal(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            "The file is larger than the {limit} MB upload limit. Import it with `gatehouse logs import PATH` instead."
        ),
    )
}

pub async fn upload(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Response {
    let actor = match editor(&state, &caller, "/traffic/upload").await {
        Ok(actor) => actor,
        Err(refused) => return refused,
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > UPLOAD_LIMIT_BYTES) {
        return too_large();
    }
    let name: String = query
        .get("name")
        .map(|n| n.chars().filter(|c| !c.is_control()).take(200).collect())
        .filter(|n: &String| !n.is_empty())
        .unwrap_or_else(|| "upload".into());
    let spooled = match spool(body).await {
        Ok(Some(file)) => file,
        Ok(None) => return too_large(),
        Err(err) => return AppError::internal("spooling an upload", err).into_response(),
    };
    let file = LogFile {
        path: spooled.path().to_path_buf(),
        name: format!("upload: {name}"),
    };
    match import::import(
        &state.pool,
        vec![file],
        Source::Upload,
        state.import_limits,
        actor,
        caller.client.clone(),
    )
    .await
    {
        Ok(summary) => Json(summary).into_response(),
        Err(err) => AppError::internal("importing an upload", err).into_response(),
    }
}

/// The body in a temporary file, or `None` past the limit.
async fn spool(body: Body) -> std::io::Result<Option<tempfile::NamedTempFile>> {
    let mut file = tempfile::NamedTempFile::new()?;
    let mut written = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(std::io::Error::other)?;
        written += chunk.len() as u64;
        if written > UPLOAD_LIMIT_BYTES {
            return Ok(None);
        }
        // Small writes to a local file; not worth a blocking thread each.
        file.write_all(&chunk)?;
    }
    file.flush()?;
    Ok(Some(file))
}

/// `POST /traffic/import-s3?prefix=s3://bucket/prefix`: every object under
/// the prefix, fetched with the console's AWS credentials and imported.
pub async fn import_s3(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let actor = match editor(&state, &caller, "/traffic/import-s3").await {
        Ok(actor) => actor,
        Err(refused) => return refused,
    };
    let text = query.get("prefix").map(|p| p.trim()).unwrap_or_default();
    let prefix = match s3::Prefix::parse(text) {
        Ok(prefix) => prefix,
        Err(problem) => return refusal(StatusCode::UNPROCESSABLE_ENTITY, &problem),
    };
    let fetched = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(err) => return AppError::internal("a folder for S3 objects", err).into_response(),
    };
    let files = match s3::fetch(&state.aws.s3, &prefix, fetched.path()).await {
        Ok(files) => files,
        Err(empty @ s3::FetchError::Empty(_)) => {
            return refusal(StatusCode::UNPROCESSABLE_ENTITY, &empty.to_string());
        }
        Err(s3::FetchError::Failed(problem)) => {
            tracing::warn!(%problem, "S3 import");
            let message = format!(
                "Cannot read {text}: check that the bucket exists and the console may list and read it."
            );
            return refusal(StatusCode::UNPROCESSABLE_ENTITY, &message);
        }
    };
    match import::import(
        &state.pool,
        files,
        Source::S3,
        state.import_limits,
        actor,
        caller.client.clone(),
    )
    .await
    {
        Ok(summary) => Json(summary).into_response(),
        Err(err) => AppError::internal("importing from S3", err).into_response(),
    }
}
