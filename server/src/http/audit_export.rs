//! `GET /audit/export.csv` and `/audit/export.json`: the audit page's
//! filtered view, whole, as a file. Same filters as the page, same role.

use app::audit::{AuditEvent, AuditFilter};
use app::auth::caller::Caller;
use app::error::AppError;
use app::roles::Role;
use app::state::AppState;
use axum::{
    Extension,
    body::{Body, Bytes},
    extract::{Query, State},
    http::header,
    response::{IntoResponse, Response},
};
use futures::{SinkExt, TryStreamExt};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy)]
pub enum Format {
    Csv,
    Json,
}

/// The filter the query asks for, if the caller may read the trail.
fn allowed(caller: &Caller, query: &HashMap<String, String>) -> Result<AuditFilter, AppError> {
    match caller.user() {
        Some(user) if user.has(Role::Viewer) => {}
        Some(_) => return Err(AppError::Forbidden),
        None => return Err(AppError::Unauthorized),
    }
    AuditFilter::from_query(|key| query.get(key).cloned()).map_err(AppError::BadRequest)
}

/// Bytes gathered before a piece of the file is handed to the connection.
const PIECE: usize = 64 * 1024;
/// Pieces waiting for a slow reader before the database is read further:
/// what bounds the memory an export takes, whatever its size.
const PIECES_AHEAD: usize = 4;

pub async fn export(
    format: Format,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let filter = match allowed(&caller, &query) {
        Ok(filter) => filter,
        Err(err) => return err.into_response(),
    };
    let (pieces, body) = futures::channel::mpsc::channel(PIECES_AHEAD);
    tokio::spawn(write_pieces(state.pool.clone(), filter, format, pieces));
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let (content_type, extension) = match format {
        Format::Json => ("application/json", "json"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"gatehouse-audit-{stamp}.{extension}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

type Piece = Result<Bytes, std::io::Error>;

/// Reads the matching events from the database and sends them on as the
/// file, a piece at a time; stops when the reader goes away. A failure
/// part-way ends the body with an error, so the download is seen to be
/// cut short rather than taken for the whole trail.
async fn write_pieces(
    pool: sqlx::PgPool,
    filter: AuditFilter,
    format: Format,
    mut pieces: futures::channel::mpsc::Sender<Piece>,
) {
    let mut events = app::audit::export(&pool, &filter);
    let mut file = Pieces::new(format);
    loop {
        let next = match events.try_next().await {
            Ok(next) => next,
            Err(err) => {
                tracing::warn!(%err, "audit export cut short");
                let _ = pieces
                    .send(Err(std::io::Error::other(
                        "the audit trail could not be read",
                    )))
                    .await;
                return;
            }
        };
        let done = next.is_none();
        if let Err(err) = file.add(next.as_ref()) {
            tracing::warn!(%err, "audit export cut short");
            let _ = pieces.send(Err(std::io::Error::other(err))).await;
            return;
        }
        if (done || file.buffer.len() >= PIECE) && pieces.send(Ok(file.take())).await.is_err() {
            return; // the reader went away
        }
        if done {
            return;
        }
    }
}

/// `event` with every text cell a spreadsheet would take for a formula
/// (one starting with `=`, `+`, `-`, `@`, a tab or a carriage return) made
/// text by a leading `'`, as OWASP's advice on CSV injection has it. The
/// username, user agent and target can come from anyone (a failed
/// sign-in), and a CSV export is opened in a spreadsheet. The JSON export
/// keeps every value as recorded.
fn as_text(event: &AuditEvent) -> AuditEvent {
    let mut event = event.clone();
    let AuditEvent {
        actor_sub,
        actor_username,
        action,
        target,
        before,
        after,
        aws_request_id,
        client_ip,
        user_agent,
        ..
    } = &mut event;
    let cells = [actor_sub, actor_username, target, before, after]
        .into_iter()
        .chain([aws_request_id, client_ip, user_agent])
        .flatten()
        .chain([action]);
    for cell in cells {
        if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            cell.insert(0, '\'');
        }
    }
    event
}

/// The file being written: CSV with a header row, or a JSON array, one
/// event a line.
struct Pieces {
    format: Format,
    buffer: Vec<u8>,
    started: bool,
}

impl Pieces {
    fn new(format: Format) -> Self {
        Pieces {
            format,
            buffer: Vec::with_capacity(PIECE * 2),
            started: false,
        }
    }

    /// Adds `event`, or ends the file on `None`.
    fn add(&mut self, event: Option<&AuditEvent>) -> Result<(), String> {
        match (self.format, event) {
            (Format::Csv, Some(event)) => {
                let mut writer = csv::WriterBuilder::new()
                    .has_headers(!self.started)
                    .from_writer(&mut self.buffer);
                writer
                    .serialize(as_text(event))
                    .map_err(|e| e.to_string())?;
                writer.flush().map_err(|e| e.to_string())?;
            }
            (Format::Csv, None) if !self.started => {
                // The header alone: an empty view is still a CSV file.
                let mut writer = csv::Writer::from_writer(&mut self.buffer);
                writer
                    .write_record(AuditEvent::COLUMNS)
                    .and_then(|()| writer.flush().map_err(csv::Error::from))
                    .map_err(|e| e.to_string())?;
            }
            (Format::Csv, None) => {}
            (Format::Json, Some(event)) => {
                self.buffer
                    .extend_from_slice(if self.started { b",\n" } else { b"[\n" });
                serde_json::to_writer(&mut self.buffer, event).map_err(|e| e.to_string())?;
            }
            (Format::Json, None) => {
                self.buffer
                    .extend_from_slice(if self.started { b"\n]\n" } else { b"[]\n" });
            }
        }
        self.started = true;
        Ok(())
    }

    fn take(&mut self) -> Bytes {
        Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(PIECE * 2),
        ))
    }
}
