//! Writing and verifying the chain in PostgreSQL.

use super::chain::{GENESIS, canonical, chain_hash};
use super::checkpoint::Checkpoint;
use super::{Action, Actor, AuditEvent, AuditFilter, Client};
use crate::error::AppError;
use chrono::{DurationRound, TimeDelta, Utc};
use futures::TryStreamExt;
use sqlx::{PgConnection, PgPool};

/// Key of the transaction-scoped advisory lock that serialises writers: the
/// second writer waits until the first commits, then links to its event, so
/// the chain never forks.
const WRITER_LOCK: i64 = 0x6761_7465_6175_6474; // "gateaudt"

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub actor: Option<Actor>,
    pub action: Action,
    pub target: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub aws_request_id: Option<String>,
    pub client: Client,
}

impl NewEvent {
    pub fn new(action: Action, actor: Option<Actor>, client: Client) -> Self {
        Self {
            actor,
            action,
            target: None,
            before: None,
            after: None,
            aws_request_id: None,
            client,
        }
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn before(mut self, before: serde_json::Value) -> Self {
        self.before = Some(before);
        self
    }

    pub fn after(mut self, after: serde_json::Value) -> Self {
        self.after = Some(after);
        self
    }
}

/// Appends `event` to the chain inside the caller's transaction and returns
/// its id. If this fails, the caller's transaction must not commit: that is
/// what makes the trail fail closed.
pub async fn record(conn: &mut PgConnection, event: NewEvent) -> Result<i64, AppError> {
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", WRITER_LOCK)
        .execute(&mut *conn)
        .await?;
    let prev_hash = sqlx::query_scalar!("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or_else(|| GENESIS.to_owned());
    // PostgreSQL keeps microseconds; hash what will be read back.
    let occurred_at = Utc::now()
        .duration_trunc(TimeDelta::microseconds(1))
        .map_err(|e| AppError::internal("audit time", e))?;
    let (sub, username) = match &event.actor {
        Some(actor) => (actor.sub.as_deref(), actor.username.as_deref()),
        None => (None, None),
    };
    let before = event.before.as_ref().map(|v| v.to_string());
    let after = event.after.as_ref().map(|v| v.to_string());
    let action = event.action.as_str();
    let encoded = canonical(
        occurred_at,
        sub,
        username,
        action,
        event.target.as_deref(),
        before.as_deref(),
        after.as_deref(),
        event.aws_request_id.as_deref(),
        event.client.ip.as_deref(),
        event.client.user_agent.as_deref(),
    );
    let hash = chain_hash(&prev_hash, &encoded);
    let id = sqlx::query_scalar!(
        r#"
        INSERT INTO audit_events (occurred_at, actor_sub, actor_username, action, target,
                                  before, after, aws_request_id, client_ip, user_agent,
                                  prev_hash, hash)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        RETURNING id
        "#,
        occurred_at,
        sub,
        username,
        action,
        event.target,
        before,
        after,
        event.aws_request_id,
        event.client.ip,
        event.client.user_agent,
        prev_hash,
        hash,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// Where the chain first breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub id: i64,
    pub reason: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "event {}: {}", self.id, self.reason)
    }
}

/// Walks the chain in order, and holds it against `checkpoints` (those
/// anchored outside the database, each checked). `Ok(n)` when all `n`
/// events are intact; else the first event that was changed, or whose
/// predecessor was removed or reordered, or the events a checkpoint covered
/// that are gone.
pub async fn verify(
    pool: &PgPool,
    checkpoints: &[Checkpoint],
) -> Result<Result<u64, Broken>, AppError> {
    let covers: std::collections::HashSet<i64> = checkpoints.iter().map(|c| c.sequence).collect();
    // Streamed: the trail can be far larger than memory.
    let mut events =
        sqlx::query_as!(AuditEvent, "SELECT * FROM audit_events ORDER BY id").fetch(pool);
    let mut expected_prev = GENESIS.to_owned();
    let mut count = 0u64;
    let mut first = None;
    let mut covered = std::collections::HashMap::new();
    let mut last = None;
    while let Some(event) = events.try_next().await? {
        if let Err(broken) = follows(&event, &expected_prev) {
            return Ok(Err(broken));
        }
        if first.is_none() {
            first = Some((event.id, event.hash.clone()));
        }
        if covers.contains(&event.id) {
            covered.insert(event.id, event.hash.clone());
        }
        last = Some(event.id);
        expected_prev = event.hash;
        count += 1;
    }
    let first = first.as_ref().map(|(id, hash)| (*id, hash.as_str()));
    for checkpoint in checkpoints {
        let covered = covered
            .get(&checkpoint.sequence)
            .map(|hash| (checkpoint.sequence, hash.as_str()));
        if let Err(broken) = checkpoint.check(first, covered, last) {
            return Ok(Err(broken));
        }
    }
    Ok(Ok(count))
}

/// Whether the trail still extends `checkpoint`: its first event and the
/// event it covers are there with the hashes it recorded, and every event
/// after that one follows the one before. Reads only the events since the
/// checkpoint, so the writer can ask before each signature.
pub async fn extends(
    pool: &PgPool,
    checkpoint: &Checkpoint,
) -> Result<Result<(), Broken>, AppError> {
    let first = sqlx::query!("SELECT id, hash FROM audit_events ORDER BY id LIMIT 1")
        .fetch_optional(pool)
        .await?;
    let covered = sqlx::query_scalar!(
        "SELECT hash FROM audit_events WHERE id = $1",
        checkpoint.sequence
    )
    .fetch_optional(pool)
    .await?;
    let last = sqlx::query_scalar!(r#"SELECT max(id) AS "id" FROM audit_events"#)
        .fetch_one(pool)
        .await?;
    let first = first.as_ref().map(|r| (r.id, r.hash.as_str()));
    let covered = covered.as_deref().map(|hash| (checkpoint.sequence, hash));
    if let Err(broken) = checkpoint.check(first, covered, last) {
        return Ok(Err(broken));
    }
    let mut events = sqlx::query_as!(
        AuditEvent,
        "SELECT * FROM audit_events WHERE id > $1 ORDER BY id",
        checkpoint.sequence
    )
    .fetch(pool);
    let mut expected_prev = checkpoint.hash.clone();
    while let Some(event) = events.try_next().await? {
        if let Err(broken) = follows(&event, &expected_prev) {
            return Ok(Err(broken));
        }
        expected_prev = event.hash;
    }
    Ok(Ok(()))
}

/// Whether `event` follows the event whose hash is `expected_prev`, with
/// the content it was recorded with.
fn follows(event: &AuditEvent, expected_prev: &str) -> Result<(), Broken> {
    if event.prev_hash != expected_prev {
        return Err(Broken {
            id: event.id,
            reason: "does not follow the event before it: an event was removed or reordered".into(),
        });
    }
    let encoded = canonical(
        event.occurred_at,
        event.actor_sub.as_deref(),
        event.actor_username.as_deref(),
        &event.action,
        event.target.as_deref(),
        event.before.as_deref(),
        event.after.as_deref(),
        event.aws_request_id.as_deref(),
        event.client_ip.as_deref(),
        event.user_agent.as_deref(),
    );
    if chain_hash(&event.prev_hash, &encoded) != event.hash {
        return Err(Broken {
            id: event.id,
            reason: "its content was changed after it was recorded".into(),
        });
    }
    Ok(())
}

/// `ILIKE` pattern matching `text` anywhere, with its own `%`, `_` and `\\`
/// taken literally.
fn contains_pattern(text: &Option<String>) -> Option<String> {
    text.as_ref().map(|t| {
        let escaped = t
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    })
}

/// The conditions of `filter`, over parameters `$1`..`$6` bound by
/// [`bind_filter`]: one text for the page and its count and the export.
const FILTER: &str = "
     WHERE ($1::text IS NULL OR actor_username ILIKE $1 OR actor_sub = $2)
       AND ($3::text IS NULL OR action = $3)
       AND ($4::text IS NULL OR target ILIKE $4)
       AND ($5::timestamptz IS NULL OR occurred_at >= $5)
       AND ($6::timestamptz IS NULL OR occurred_at < $6)";

fn bind_filter<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    filter: &AuditFilter,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    query
        .bind(contains_pattern(&filter.actor))
        .bind(filter.actor.clone())
        .bind(filter.action.clone())
        .bind(contains_pattern(&filter.target))
        .bind(filter.from)
        .bind(filter.to)
}

/// The events matching `filter`, newest first, `limit` from `offset`, and
/// how many match in all.
pub async fn search(
    pool: &PgPool,
    filter: &AuditFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AuditEvent>, i64), AppError> {
    let rows = format!("SELECT * FROM audit_events {FILTER} ORDER BY id DESC LIMIT $7 OFFSET $8");
    let events = bind_filter(sqlx::query_as::<_, AuditEvent>(&rows), filter)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    let count = format!("SELECT count(*) FROM audit_events {FILTER}");
    let (total,) = bind_filter(sqlx::query_as::<_, (i64,)>(&count), filter)
        .fetch_one(pool)
        .await?;
    Ok((events, total))
}

/// Every event matching `filter`, newest first, as the database sends
/// them: for exports of any size in flat memory.
pub fn export<'a>(
    pool: &'a PgPool,
    filter: &AuditFilter,
) -> futures::stream::BoxStream<'a, Result<AuditEvent, sqlx::Error>> {
    let sql: &'static str =
        EXPORT_SQL.get_or_init(|| format!("SELECT * FROM audit_events {FILTER} ORDER BY id DESC"));
    bind_filter(sqlx::query_as::<_, AuditEvent>(sql), filter).fetch(pool)
}

static EXPORT_SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
