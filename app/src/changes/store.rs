//! Change requests in PostgreSQL: the row and what hangs off it (approvals,
//! comments, the audit events that are its timeline), the hash approvals are
//! bound to, and the one way a step is committed: with its audit event, in
//! the step's transaction, so a failed audit write undoes the step. The
//! steps themselves are in `steps`; the apply in `apply`.

use super::kinds::{Live, TargetRef};
use super::{
    Approval, ChangeFilter, ChangeRow, Comment, Evidence, Kind, Status, Step, audit_target,
};
use crate::audit::{self, Action, Actor, NewEvent};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// A change request as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub id: Uuid,
    pub kind: Kind,
    pub title: String,
    pub description: String,
    pub author: String,
    pub status: Status,
    /// The live state it is based on: what it is compared with, and the
    /// token its apply carries.
    pub base: Live,
    /// What it proposes, in its kind's form.
    pub content: Value,
    pub content_hash: String,
    pub required_approvals: i32,
    pub evidence: Vec<Evidence>,
    pub created_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub apply_attempts: i32,
    pub applying_since: Option<DateTime<Utc>>,
    pub applied_at: Option<DateTime<Utc>>,
    pub applied_by: Option<String>,
    pub applied_token: Option<String>,
    pub aws_request_id: Option<String>,
    pub failure: Option<String>,
    /// The live state found when it went stale.
    pub stale: Option<Live>,
    pub rollback_of: Option<Uuid>,
}

impl Change {
    /// Its audit events' target.
    pub fn audit_target(&self) -> String {
        audit_target(
            &self.id.to_string(),
            self.kind,
            &self.base.target.scope,
            &self.base.target.name,
        )
    }

    /// Its target as people name it.
    pub fn target(&self) -> String {
        self.kind
            .describe(&self.base.target.name, &self.base.target.scope)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("no such change request")]
    NotFound,
    /// The person may not do this to this change request; the refusal is
    /// audited where it is a matter of who (not of status).
    #[error("{0}")]
    Refused(String),
    /// Not in a status that allows it.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    /// Where the change goes did not answer: which service, and why (for
    /// the log).
    #[error("{0}: {1}")]
    Aws(&'static str, String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot record the step in the audit trail: {0}")]
    Audit(String),
}

impl From<super::kinds::ReadError> for ChangeError {
    fn from(error: super::kinds::ReadError) -> Self {
        ChangeError::Aws(error.service, error.cause)
    }
}

impl From<ChangeError> for crate::error::AppError {
    fn from(error: ChangeError) -> Self {
        use crate::error::AppError;
        match error {
            ChangeError::NotFound => AppError::NotFound,
            ChangeError::Refused(why) => AppError::Refused(capitalised(&why)),
            ChangeError::Conflict(why) => AppError::Conflict(capitalised(&why)),
            ChangeError::Invalid(why) => AppError::BadRequest(capitalised(&why)),
            ChangeError::Aws(service, cause) => AppError::unavailable(service, cause),
            ChangeError::Database(cause) => AppError::from(cause),
            ChangeError::Audit(cause) => AppError::internal("audit trail", cause),
        }
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

pub(super) fn username(actor: &Actor) -> String {
    actor.username.clone().unwrap_or_default()
}

/// SHA-256 of exactly what is reviewed: target, base token, content, title
/// and description. serde_json sorts object keys, so equal content gives an
/// equal hash however it was written.
pub fn content_hash(
    kind: Kind,
    target: &TargetRef,
    base_token: &str,
    content: &Value,
    title: &str,
    description: &str,
) -> String {
    let reviewed = json!({
        "kind": kind.as_str(),
        "target": {"name": target.name, "scope": target.scope, "id": target.id},
        "base_token": base_token,
        "content": content,
        "title": title,
        "description": description,
    });
    hex::encode(Sha256::digest(reviewed.to_string().as_bytes()))
}

/// Writes the audit event of a step in its transaction, then commits both;
/// if the event cannot be written, nothing is.
pub async fn record_and_commit(
    mut tx: Transaction<'_, Postgres>,
    event: NewEvent,
) -> Result<i64, ChangeError> {
    let id = audit::record(&mut tx, event)
        .await
        .map_err(|e| ChangeError::Audit(e.to_string()))?;
    tx.commit().await?;
    Ok(id)
}

struct Row {
    id: Uuid,
    kind: String,
    title: String,
    description: String,
    author: String,
    status: String,
    target_name: String,
    target_scope: String,
    target_id: String,
    base_token: String,
    base_content: Value,
    base_resource: Value,
    content: Value,
    content_hash: String,
    required_approvals: i32,
    evidence: Value,
    created_at: DateTime<Utc>,
    submitted_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    apply_attempts: i32,
    applying_since: Option<DateTime<Utc>>,
    applied_at: Option<DateTime<Utc>>,
    applied_by: Option<String>,
    applied_token: Option<String>,
    aws_request_id: Option<String>,
    failure: Option<String>,
    stale_token: Option<String>,
    stale_content: Option<Value>,
    stale_resource: Option<Value>,
    rollback_of: Option<Uuid>,
}

impl Row {
    fn into_change(self) -> Change {
        let target = TargetRef {
            name: self.target_name,
            scope: self.target_scope,
            id: self.target_id,
        };
        let stale = match (self.stale_token, self.stale_content, self.stale_resource) {
            (Some(token), Some(content), Some(resource)) => Some(Live {
                target: target.clone(),
                token,
                content,
                resource,
            }),
            _ => None,
        };
        Change {
            id: self.id,
            // The table's CHECK allows only known kinds.
            kind: Kind::parse(&self.kind).unwrap_or(Kind::WebAclRules),
            title: self.title,
            description: self.description,
            author: self.author,
            // The table's CHECK allows only known statuses.
            status: Status::parse(&self.status).unwrap_or(Status::Failed),
            base: Live {
                target,
                token: self.base_token,
                content: self.base_content,
                resource: self.base_resource,
            },
            content: self.content,
            content_hash: self.content_hash,
            required_approvals: self.required_approvals,
            evidence: serde_json::from_value(self.evidence).unwrap_or_default(),
            created_at: self.created_at,
            submitted_at: self.submitted_at,
            updated_at: self.updated_at,
            apply_attempts: self.apply_attempts,
            applying_since: self.applying_since,
            applied_at: self.applied_at,
            applied_by: self.applied_by,
            applied_token: self.applied_token,
            aws_request_id: self.aws_request_id,
            failure: self.failure,
            stale,
            rollback_of: self.rollback_of,
        }
    }
}

/// One change request.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Change, ChangeError> {
    sqlx::query_as!(
        Row,
        "SELECT id, kind, title, description, author, status, target_name, target_scope, target_id,
                base_token, base_content, base_resource, content, content_hash, required_approvals,
                evidence, created_at, submitted_at, updated_at, apply_attempts, applying_since,
                applied_at, applied_by, applied_token, aws_request_id, failure, stale_token,
                stale_content, stale_resource, rollback_of
         FROM change_requests WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await?
    .map(Row::into_change)
    .ok_or(ChangeError::NotFound)
}

/// Change request `id` as `username` may see it: a draft is its author's
/// until submitted, and no one else's to find.
pub async fn visible_to(pool: &PgPool, id: Uuid, username: &str) -> Result<Change, ChangeError> {
    let change = get(pool, id).await?;
    match change.status == Status::Draft && change.author != username {
        true => Err(ChangeError::NotFound),
        false => Ok(change),
    }
}

/// Locks change request `id` for the rest of the transaction.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Change, ChangeError> {
    sqlx::query_as!(
        Row,
        "SELECT id, kind, title, description, author, status, target_name, target_scope, target_id,
                base_token, base_content, base_resource, content, content_hash, required_approvals,
                evidence, created_at, submitted_at, updated_at, apply_attempts, applying_since,
                applied_at, applied_by, applied_token, aws_request_id, failure, stale_token,
                stale_content, stale_resource, rollback_of
         FROM change_requests WHERE id = $1 FOR UPDATE",
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(Row::into_change)
    .ok_or(ChangeError::NotFound)
}

/// A change request to insert.
pub struct NewChange<'a> {
    pub kind: Kind,
    /// The live state it is based on.
    pub base: &'a Live,
    pub title: &'a str,
    pub description: &'a str,
    pub content: &'a Value,
    pub status: Status,
    pub required_approvals: i32,
    pub rollback_of: Option<Uuid>,
}

/// Inserts a change request of `actor`'s.
pub async fn insert(
    conn: &mut PgConnection,
    new: NewChange<'_>,
    actor: &Actor,
) -> Result<Uuid, ChangeError> {
    let NewChange {
        kind,
        base,
        title,
        description,
        content,
        status,
        required_approvals,
        rollback_of,
    } = new;
    let hash = content_hash(kind, &base.target, &base.token, content, title, description);
    let submitted = status != Status::Draft;
    Ok(sqlx::query_scalar!(
        "INSERT INTO change_requests (kind, target_name, target_scope, target_id, title,
                                      description, author, author_sub, base_token, base_content,
                                      base_resource, content, content_hash, status,
                                      required_approvals, submitted_at, rollback_of)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                 CASE WHEN $16 THEN now() END, $17)
         RETURNING id",
        kind.as_str(),
        base.target.name,
        base.target.scope,
        base.target.id,
        title,
        description,
        username(actor),
        actor.sub,
        base.token,
        base.content,
        base.resource,
        content,
        hash,
        status.as_str(),
        required_approvals,
        submitted,
        rollback_of,
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// Locks change request `id` if `actor` wrote it and it may still be
/// edited.
pub async fn lock_own_editable(
    conn: &mut PgConnection,
    id: Uuid,
    actor: &Actor,
) -> Result<Change, ChangeError> {
    let change = lock(conn, id).await?;
    if change.author != username(actor) {
        return Err(ChangeError::Refused(format!(
            "only its author, {}, edits this change request",
            change.author
        )));
    }
    if !change.status.editable() {
        return Err(ChangeError::Conflict(format!(
            "this change request is {}: it can no longer be edited",
            change.status.label().to_lowercase()
        )));
    }
    Ok(change)
}

/// After an edit to what is reviewed: the new hash, and a change request
/// that was in review or approved goes back to review (its approvals were
/// of other content, so they no longer count).
pub async fn back_to_review(
    conn: &mut PgConnection,
    change: &Change,
    hash: &str,
) -> Result<(), ChangeError> {
    let status = match change.status {
        Status::Draft => Status::Draft,
        _ => Status::InReview,
    };
    sqlx::query!(
        "UPDATE change_requests SET content_hash = $2, status = $3, updated_at = now() WHERE id = $1",
        change.id,
        hash,
        status.as_str()
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Approvals of the content as it is now.
pub async fn current_approvals(
    conn: &mut PgConnection,
    change: &Change,
) -> Result<i64, ChangeError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM change_request_approvals
           WHERE change_request_id = $1 AND content_hash = $2"#,
        change.id,
        change.content_hash
    )
    .fetch_one(&mut *conn)
    .await?)
}

pub async fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    status: Status,
) -> Result<(), ChangeError> {
    sqlx::query!(
        "UPDATE change_requests SET status = $2, updated_at = now() WHERE id = $1",
        id,
        status.as_str()
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Change requests (drafts of others left out), most recently changed first.
pub async fn list(
    pool: &PgPool,
    filter: &ChangeFilter,
    viewer: &str,
) -> Result<Vec<ChangeRow>, ChangeError> {
    rows(pool, filter, viewer, None).await
}

/// What waits for `username`'s review: in review, someone else's, not yet
/// approved by them in its present form.
pub async fn waiting_for(pool: &PgPool, username: &str) -> Result<Vec<ChangeRow>, ChangeError> {
    let filter = ChangeFilter {
        status: Some(Status::InReview),
        ..ChangeFilter::default()
    };
    rows(pool, &filter, username, Some(username)).await
}

/// The rows of `filter` that `viewer` may see; with `reviewer`, only those
/// it waits on: someone else's, and not approved by them as they are now.
async fn rows(
    pool: &PgPool,
    filter: &ChangeFilter,
    viewer: &str,
    reviewer: Option<&str>,
) -> Result<Vec<ChangeRow>, ChangeError> {
    let rows = sqlx::query!(
        r#"SELECT c.id, c.kind, c.title, c.author, c.status, c.target_name, c.target_scope,
                  c.required_approvals, c.updated_at,
                  (SELECT count(*) FROM change_request_approvals a
                   WHERE a.change_request_id = c.id AND a.content_hash = c.content_hash) AS "approvals!"
           FROM change_requests c
           WHERE ($1::text IS NULL OR c.status = $1)
             AND ($2::text IS NULL OR c.author = $2)
             AND ($3::text IS NULL OR c.target_name ILIKE '%' || $3 || '%')
             AND (c.status <> 'draft' OR c.author = $4)
             AND ($5::text IS NULL OR (c.author <> $5 AND NOT EXISTS (
                     SELECT 1 FROM change_request_approvals a
                     WHERE a.change_request_id = c.id AND a.content_hash = c.content_hash
                       AND a.approver = $5)))
           ORDER BY c.updated_at DESC, c.id
           LIMIT 500"#,
        filter.status.map(Status::as_str),
        filter.author,
        filter.target,
        viewer,
        reviewer,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let kind = Kind::parse(&r.kind).unwrap_or(Kind::WebAclRules);
            ChangeRow {
                id: r.id.to_string(),
                kind,
                title: r.title,
                author: r.author,
                status: Status::parse(&r.status).unwrap_or(Status::Failed),
                target: kind.describe(&r.target_name, &r.target_scope),
                approvals: r.approvals,
                required_approvals: r.required_approvals,
                updated_at: r.updated_at,
            }
        })
        .collect())
}

pub async fn comments(pool: &PgPool, id: Uuid) -> Result<Vec<Comment>, ChangeError> {
    Ok(sqlx::query_as!(
        Comment,
        "SELECT author, body, created_at FROM change_request_comments
         WHERE change_request_id = $1 ORDER BY id",
        id
    )
    .fetch_all(pool)
    .await?)
}

pub async fn approvals(pool: &PgPool, change: &Change) -> Result<Vec<Approval>, ChangeError> {
    Ok(sqlx::query_as!(
        Approval,
        r#"SELECT approver, approved_at, content_hash = $2 AS "current!"
           FROM change_request_approvals WHERE change_request_id = $1 ORDER BY id"#,
        change.id,
        change.content_hash
    )
    .fetch_all(pool)
    .await?)
}

/// The audit events of a change request, oldest first.
pub async fn timeline(pool: &PgPool, id: Uuid) -> Result<Vec<Step>, ChangeError> {
    let prefix = format!("change request {id} ");
    let rows = sqlx::query!(
        "SELECT id, occurred_at, actor_username, action, aws_request_id FROM audit_events
         WHERE target LIKE $1 || '%' ORDER BY id",
        prefix
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Step {
            at: r.occurred_at,
            actor: r.actor_username,
            what: Action::parse(&r.action).map_or(r.action, |a| a.label().to_owned()),
            aws_request_id: r.aws_request_id,
            audit_id: r.id,
        })
        .collect())
}
