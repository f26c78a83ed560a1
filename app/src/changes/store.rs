//! Change requests in PostgreSQL: each step (submit, comment, approve,
//! reject, withdraw, rebase, rollback) changes the row and appends its audit
//! event in one transaction, the row locked for the length of it, so two
//! people acting at once act one after the other and a failed audit write
//! undoes the step.

use super::{Approval, ChangeFilter, ChangeRow, Comment, Evidence, Status, Step, audit_target};
use crate::audit::{self, Action, Actor, Client, NewEvent};
use crate::rules::live::{LiveRules, WebAclRef};
use crate::rules::merge;
use crate::rules::model::{RuleEntry, read_rules, rules_json};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// A change request as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub author: String,
    pub status: Status,
    /// The live state it is based on: what it is compared with, and the
    /// token its apply carries.
    pub base: LiveRules,
    pub content: Vec<RuleEntry>,
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
    pub stale: Option<LiveRules>,
    pub rollback_of: Option<Uuid>,
}

impl Change {
    /// Its audit events' target.
    pub fn audit_target(&self) -> String {
        audit_target(
            &self.id.to_string(),
            &self.base.web_acl.scope,
            &self.base.web_acl.name,
        )
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
    /// The live state moved from the change's base.
    #[error("the web ACL changed since this change was based on it; nothing was written")]
    Stale,
    #[error("AWS WAF: {0}")]
    Aws(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot record the step in the audit trail: {0}")]
    Audit(String),
}

impl From<ChangeError> for crate::error::AppError {
    fn from(error: ChangeError) -> Self {
        use crate::error::AppError;
        match error {
            ChangeError::NotFound => AppError::NotFound,
            ChangeError::Refused(why) => AppError::Refused(capitalised(&why)),
            ChangeError::Conflict(why) => AppError::Conflict(capitalised(&why)),
            ChangeError::Invalid(why) => AppError::BadRequest(capitalised(&why)),
            ChangeError::Stale => AppError::Conflict(capitalised(&error.to_string())),
            ChangeError::Aws(cause) => AppError::unavailable("AWS WAF", cause),
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

fn username(actor: &Actor) -> String {
    actor.username.clone().unwrap_or_default()
}

/// SHA-256 of exactly what is reviewed: target, base token, content, title
/// and description. serde_json sorts object keys, so equal content gives an
/// equal hash however it was written.
pub fn content_hash(
    target: &WebAclRef,
    base_token: &str,
    content: &[RuleEntry],
    title: &str,
    description: &str,
) -> String {
    let reviewed = json!({
        "kind": "web_acl_rules",
        "target": {"name": target.name, "scope": target.scope, "id": target.id},
        "base_token": base_token,
        "content": rules_json(content),
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

/// Records a refusal of `actor` on its own (the step it refused did not
/// happen, so there is no step to share a transaction with).
pub async fn refuse(
    pool: &PgPool,
    change: &Change,
    actor: Actor,
    client: Client,
    why: &str,
) -> Result<ChangeError, ChangeError> {
    let tx = pool.begin().await?;
    let event = NewEvent::new(Action::ChangeRefused, Some(actor), client)
        .target(change.audit_target())
        .after(json!({"refused": why}));
    record_and_commit(tx, event).await?;
    Ok(ChangeError::Refused(why.to_owned()))
}

struct Row {
    id: Uuid,
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
        let web_acl = WebAclRef {
            arn: self
                .base_resource
                .get("ARN")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            name: self.target_name,
            id: self.target_id,
            scope: self.target_scope,
        };
        let stale = match (self.stale_token, self.stale_content, self.stale_resource) {
            (Some(lock_token), Some(rules), Some(resource)) => Some(LiveRules {
                web_acl: web_acl.clone(),
                lock_token,
                rules: read_rules(rules).unwrap_or_default(),
                web_acl_json: resource,
            }),
            _ => None,
        };
        Change {
            id: self.id,
            title: self.title,
            description: self.description,
            author: self.author,
            // The table's CHECK allows only known statuses.
            status: Status::parse(&self.status).unwrap_or(Status::Failed),
            base: LiveRules {
                web_acl,
                lock_token: self.base_token,
                rules: read_rules(self.base_content).unwrap_or_default(),
                web_acl_json: self.base_resource,
            },
            content: read_rules(self.content).unwrap_or_default(),
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
        "SELECT id, title, description, author, status, target_name, target_scope, target_id,
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

/// Locks change request `id` for the rest of the transaction.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Change, ChangeError> {
    sqlx::query_as!(
        Row,
        "SELECT id, title, description, author, status, target_name, target_scope, target_id,
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

/// Inserts a change request based on `base`, in status `status`.
#[allow(clippy::too_many_arguments)]
pub async fn insert(
    conn: &mut PgConnection,
    base: &LiveRules,
    title: &str,
    description: &str,
    content: &[RuleEntry],
    status: Status,
    required_approvals: i32,
    actor: &Actor,
    rollback_of: Option<Uuid>,
) -> Result<Uuid, ChangeError> {
    let hash = content_hash(&base.web_acl, &base.lock_token, content, title, description);
    let submitted = status != Status::Draft;
    Ok(sqlx::query_scalar!(
        "INSERT INTO change_requests (target_name, target_scope, target_id, title, description,
                                      author, author_sub, base_token, base_content, base_resource,
                                      content, content_hash, status, required_approvals,
                                      submitted_at, rollback_of)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                 CASE WHEN $15 THEN now() END, $16)
         RETURNING id",
        base.web_acl.name,
        base.web_acl.scope,
        base.web_acl.id,
        title,
        description,
        username(actor),
        actor.sub,
        base.lock_token,
        rules_json(&base.rules),
        base.web_acl_json,
        rules_json(content),
        hash,
        status.as_str(),
        required_approvals,
        submitted,
        rollback_of,
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// Who may take a step: only the author, or anyone but the author.
enum Who {
    Author,
    Other,
}

/// Locks change request `id` for a step of `actor`'s; a step `actor` may
/// not take for being (or not being) its author is refused, and the
/// refusal audited.
async fn lock_for<'a>(
    pool: &'a PgPool,
    id: Uuid,
    actor: &Actor,
    client: &Client,
    who: Who,
    refusal: &str,
) -> Result<(Transaction<'a, Postgres>, Change), ChangeError> {
    let mut tx = pool.begin().await?;
    let change = lock(&mut tx, id).await?;
    let author = change.author == username(actor);
    if author != matches!(who, Who::Author) {
        drop(tx);
        return Err(refuse(pool, &change, actor.clone(), client.clone(), refusal).await?);
    }
    Ok((tx, change))
}

/// Refuses a step the change request's status does not allow.
fn in_status(change: &Change, allowed: &[Status], what: &str) -> Result<(), ChangeError> {
    if allowed.contains(&change.status) {
        return Ok(());
    }
    Err(ChangeError::Conflict(format!(
        "this change request is {}: {what}",
        change.status.label().to_lowercase()
    )))
}

/// Sends a draft of `actor`'s to review. `live_token` is the web ACL's
/// LockToken now: a draft whose base has moved must be rebased first.
pub async fn submit(
    pool: &PgPool,
    id: Uuid,
    live_token: &str,
    required_approvals: i32,
    actor: Actor,
    client: Client,
) -> Result<(), ChangeError> {
    let (mut tx, change) = lock_for(
        pool,
        id,
        &actor,
        &client,
        Who::Author,
        "only its author submits a draft",
    )
    .await?;
    in_status(&change, &[Status::Draft], "only a draft is submitted")?;
    if change.title.trim().is_empty() {
        return Err(ChangeError::Invalid(
            "give the change request a title before submitting it".into(),
        ));
    }
    if change.base.lock_token != live_token {
        return Err(ChangeError::Conflict(
            "the web ACL changed since this draft was made: rebase it onto the live rules first"
                .into(),
        ));
    }
    if crate::rules::diff::diff(&change.base.rules, &change.content).is_empty() {
        return Err(ChangeError::Invalid(
            "this draft changes nothing in the live rules".into(),
        ));
    }
    if crate::rules::validate::has_errors(&crate::rules::validate::validate(&change.content)) {
        return Err(ChangeError::Invalid(
            "the rules have errors AWS would refuse: fix them before submitting".into(),
        ));
    }
    // Hashed anew: what is submitted is what approvals are of.
    let hash = content_hash(
        &change.base.web_acl,
        &change.base.lock_token,
        &change.content,
        &change.title,
        &change.description,
    );
    sqlx::query!(
        "UPDATE change_requests SET status = 'in_review', submitted_at = now(), updated_at = now(),
                required_approvals = $2, content_hash = $3
         WHERE id = $1",
        id,
        required_approvals,
        hash
    )
    .execute(&mut *tx)
    .await?;
    let event = NewEvent::new(Action::ChangeSubmitted, Some(actor), client)
        .target(change.audit_target())
        .before(
            json!({"rules": rules_json(&change.base.rules), "lock_token": change.base.lock_token}),
        )
        .after(
            json!({"title": change.title, "rules": rules_json(&change.content),
                      "content_hash": change.content_hash}),
        );
    record_and_commit(tx, event).await?;
    Ok(())
}

/// Sets the description of a change request of `actor`'s (part of what is
/// reviewed: approvals are dropped).
pub async fn describe(
    pool: &PgPool,
    id: Uuid,
    description: &str,
    actor: Actor,
    client: Client,
) -> Result<(), ChangeError> {
    if description.len() > 20_000 {
        return Err(ChangeError::Invalid(
            "the description is longer than 20,000 characters".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    let change = lock_own_editable(&mut tx, id, &actor).await?;
    let hash = content_hash(
        &change.base.web_acl,
        &change.base.lock_token,
        &change.content,
        &change.title,
        description,
    );
    back_to_review(&mut tx, &change, &hash).await?;
    sqlx::query!(
        "UPDATE change_requests SET description = $2 WHERE id = $1",
        id,
        description
    )
    .execute(&mut *tx)
    .await?;
    let event = NewEvent::new(Action::ChangeEdited, Some(actor), client)
        .target(change.audit_target())
        .before(json!({"description": change.description}))
        .after(json!({"description": description, "content_hash": hash}));
    record_and_commit(tx, event).await?;
    Ok(())
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

const MAX_EVIDENCE: usize = 10;

/// Adds a traffic analysis to the evidence of a change request of
/// `actor`'s. Evidence informs the review but is not what is approved.
pub async fn attach(
    pool: &PgPool,
    id: Uuid,
    evidence: Evidence,
    actor: Actor,
    client: Client,
) -> Result<(), ChangeError> {
    let mut tx = pool.begin().await?;
    let change = lock_own_editable(&mut tx, id, &actor).await?;
    if change.evidence.len() >= MAX_EVIDENCE {
        return Err(ChangeError::Invalid(format!(
            "a change request holds at most {MAX_EVIDENCE} pieces of evidence"
        )));
    }
    let value = serde_json::to_value(&evidence).map_err(|e| ChangeError::Invalid(e.to_string()))?;
    sqlx::query!(
        "UPDATE change_requests SET evidence = evidence || jsonb_build_array($2::jsonb),
                updated_at = now()
         WHERE id = $1",
        id,
        value
    )
    .execute(&mut *tx)
    .await?;
    let event = NewEvent::new(Action::EvidenceAttached, Some(actor), client)
        .target(change.audit_target())
        .after(json!({"link": evidence.link, "summary": evidence.summary}));
    record_and_commit(tx, event).await?;
    Ok(())
}

/// A comment, from anyone who can see the change request.
pub async fn comment(
    pool: &PgPool,
    id: Uuid,
    body: &str,
    actor: Actor,
    client: Client,
) -> Result<(), ChangeError> {
    let body = body.trim();
    if body.is_empty() || body.chars().count() > 10_000 {
        return Err(ChangeError::Invalid(
            "a comment has 1 to 10,000 characters".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    let change = lock(&mut tx, id).await?;
    // A draft is its author's until submitted.
    if change.status == Status::Draft && change.author != username(&actor) {
        return Err(ChangeError::NotFound);
    }
    sqlx::query!(
        "INSERT INTO change_request_comments (change_request_id, author, body) VALUES ($1, $2, $3)",
        id,
        username(&actor),
        body
    )
    .execute(&mut *tx)
    .await?;
    let event = NewEvent::new(Action::ChangeCommented, Some(actor), client)
        .target(change.audit_target())
        .after(json!({"comment": body}));
    record_and_commit(tx, event).await?;
    Ok(())
}

/// Approves the content as it is now. The author cannot, whatever their
/// role: that refusal is audited. Approved once enough approvals of this
/// content are in.
pub async fn approve(
    pool: &PgPool,
    id: Uuid,
    actor: Actor,
    client: Client,
) -> Result<Status, ChangeError> {
    let (mut tx, change) = lock_for(
        pool,
        id,
        &actor,
        &client,
        Who::Other,
        "no one approves their own change request",
    )
    .await?;
    in_status(
        &change,
        &[Status::InReview, Status::Approved],
        "only one in review can be approved",
    )?;
    let inserted = sqlx::query!(
        "INSERT INTO change_request_approvals (change_request_id, approver, approver_sub, content_hash)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        id,
        username(&actor),
        actor.sub,
        change.content_hash
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(ChangeError::Conflict(
            "you have already approved this content".into(),
        ));
    }
    let approvals = current_approvals(&mut tx, &change).await?;
    let status = if approvals >= i64::from(change.required_approvals) {
        Status::Approved
    } else {
        Status::InReview
    };
    sqlx::query!(
        "UPDATE change_requests SET status = $2, updated_at = now() WHERE id = $1",
        id,
        status.as_str()
    )
    .execute(&mut *tx)
    .await?;
    let event = NewEvent::new(Action::ChangeApproved, Some(actor), client)
        .target(change.audit_target())
        .after(
            json!({"content_hash": change.content_hash, "approvals": approvals,
                      "required": change.required_approvals, "status": status.as_str()}),
        );
    record_and_commit(tx, event).await?;
    Ok(status)
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

/// Rejects a change request of someone else's, with a reason.
pub async fn reject(
    pool: &PgPool,
    id: Uuid,
    reason: &str,
    actor: Actor,
    client: Client,
) -> Result<(), ChangeError> {
    let reason = reason.trim();
    if reason.chars().count() > 2000 {
        return Err(ChangeError::Invalid(
            "a reason has at most 2,000 characters".into(),
        ));
    }
    let (mut tx, change) = lock_for(
        pool,
        id,
        &actor,
        &client,
        Who::Other,
        "the author withdraws their own change request rather than rejecting it",
    )
    .await?;
    in_status(
        &change,
        &[Status::InReview, Status::Approved, Status::Stale],
        "it cannot be rejected",
    )?;
    set_status(&mut tx, id, Status::Rejected).await?;
    let event = NewEvent::new(Action::ChangeRejected, Some(actor), client)
        .target(change.audit_target())
        .after(json!({"reason": reason}));
    record_and_commit(tx, event).await?;
    Ok(())
}

/// Withdraws a change request of `actor`'s that has not been applied.
pub async fn withdraw(
    pool: &PgPool,
    id: Uuid,
    actor: Actor,
    client: Client,
) -> Result<(), ChangeError> {
    let (mut tx, change) = lock_for(
        pool,
        id,
        &actor,
        &client,
        Who::Author,
        "only its author withdraws a change request",
    )
    .await?;
    in_status(
        &change,
        &[
            Status::Draft,
            Status::InReview,
            Status::Approved,
            Status::Stale,
            Status::Failed,
        ],
        "it cannot be withdrawn",
    )?;
    set_status(&mut tx, id, Status::Withdrawn).await?;
    let action = match change.status {
        Status::Draft => Action::DraftDiscarded,
        _ => Action::ChangeWithdrawn,
    };
    let event = NewEvent::new(action, Some(actor), client).target(change.audit_target());
    record_and_commit(tx, event).await?;
    Ok(())
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

/// Carries a stale (or moved) change request of `actor`'s onto `live`: the
/// changes it makes to its old base are made to the live rules instead,
/// and it goes back to review (or stays a draft). Returns the rules both
/// sides changed.
pub async fn rebase(
    pool: &PgPool,
    id: Uuid,
    live: &LiveRules,
    actor: Actor,
    client: Client,
) -> Result<Vec<String>, ChangeError> {
    let (mut tx, change) = lock_for(
        pool,
        id,
        &actor,
        &client,
        Who::Author,
        "only its author rebases a change request",
    )
    .await?;
    in_status(
        &change,
        &[
            Status::Draft,
            Status::InReview,
            Status::Approved,
            Status::Stale,
        ],
        "it cannot be rebased",
    )?;
    if live.web_acl.id != change.base.web_acl.id {
        return Err(ChangeError::Invalid(
            "that is not the web ACL this change is for".into(),
        ));
    }
    let rebased = merge::rebase(&change.base.rules, &change.content, &live.rules);
    let hash = content_hash(
        &live.web_acl,
        &live.lock_token,
        &rebased.rules,
        &change.title,
        &change.description,
    );
    let status = match change.status {
        Status::Draft => Status::Draft,
        _ => Status::InReview,
    };
    sqlx::query!(
        "UPDATE change_requests
         SET base_token = $2, base_content = $3, base_resource = $4, content = $5,
             content_hash = $6, status = $7, stale_token = NULL, stale_content = NULL,
             stale_resource = NULL, failure = NULL, updated_at = now()
         WHERE id = $1",
        id,
        live.lock_token,
        rules_json(&live.rules),
        live.web_acl_json,
        rules_json(&rebased.rules),
        hash,
        status.as_str()
    )
    .execute(&mut *tx)
    .await?;
    let event = NewEvent::new(Action::ChangeRebased, Some(actor), client)
        .target(change.audit_target())
        .before(json!({"lock_token": change.base.lock_token, "rules": rules_json(&change.content)}))
        .after(
            json!({"lock_token": live.lock_token, "rules": rules_json(&rebased.rules),
                      "conflicts": rebased.conflicts, "content_hash": hash}),
        );
    record_and_commit(tx, event).await?;
    Ok(rebased.conflicts)
}

/// From an applied change request: a new one (in review) that restores the
/// rules it replaced, carried onto the live rules as they are now.
pub async fn rollback(
    pool: &PgPool,
    id: Uuid,
    live: &LiveRules,
    required_approvals: i32,
    actor: Actor,
    client: Client,
) -> Result<Uuid, ChangeError> {
    let applied = get(pool, id).await?;
    if applied.status != Status::Applied {
        return Err(ChangeError::Conflict(
            "only an applied change request can be rolled back".into(),
        ));
    }
    // The inverse of the change, made to what is live now.
    let restored = merge::rebase(&applied.content, &applied.base.rules, &live.rules);
    if merge::same_rules(&restored.rules, &live.rules) {
        return Err(ChangeError::Conflict(
            "the live rules are already as they were before this change".into(),
        ));
    }
    let title = format!("Roll back: {}", applied.title);
    let mut description =
        format!("Restores the rules as they were before change request {id} was applied.",);
    for conflict in &restored.conflicts {
        description.push_str(&format!("\n- {conflict}"));
    }
    let mut tx = pool.begin().await?;
    let new_id = insert(
        &mut tx,
        live,
        &title,
        &description,
        &restored.rules,
        Status::InReview,
        required_approvals,
        &actor,
        Some(id),
    )
    .await?;
    let target = audit_target(&new_id.to_string(), &live.web_acl.scope, &live.web_acl.name);
    let event = NewEvent::new(Action::ChangeSubmitted, Some(actor), client)
        .target(target)
        .before(json!({"rules": rules_json(&live.rules), "lock_token": live.lock_token}))
        .after(json!({"title": title, "rules": rules_json(&restored.rules), "rollback_of": id}));
    record_and_commit(tx, event).await?;
    Ok(new_id)
}

/// Change requests (drafts of others left out), most recently changed first.
pub async fn list(
    pool: &PgPool,
    filter: &ChangeFilter,
    viewer: &str,
) -> Result<Vec<ChangeRow>, ChangeError> {
    let rows = sqlx::query!(
        r#"SELECT c.id, c.title, c.author, c.status, c.target_name, c.target_scope,
                  c.required_approvals, c.updated_at,
                  (SELECT count(*) FROM change_request_approvals a
                   WHERE a.change_request_id = c.id AND a.content_hash = c.content_hash) AS "approvals!"
           FROM change_requests c
           WHERE ($1::text IS NULL OR c.status = $1)
             AND ($2::text IS NULL OR c.author = $2)
             AND ($3::text IS NULL OR c.target_name ILIKE '%' || $3 || '%')
             AND (c.status <> 'draft' OR c.author = $4)
           ORDER BY c.updated_at DESC, c.id
           LIMIT 500"#,
        filter.status.map(Status::as_str),
        filter.author,
        filter.target,
        viewer,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ChangeRow {
            id: r.id.to_string(),
            title: r.title,
            author: r.author,
            status: Status::parse(&r.status).unwrap_or(Status::Failed),
            target: format!("web ACL {} ({})", r.target_name, r.target_scope),
            approvals: r.approvals,
            required_approvals: r.required_approvals,
            updated_at: r.updated_at,
        })
        .collect())
}

/// What waits for `username`'s review: in review, someone else's, not yet
/// approved by them in its present form.
pub async fn waiting_for(pool: &PgPool, username: &str) -> Result<Vec<ChangeRow>, ChangeError> {
    let filter = ChangeFilter {
        status: Some(Status::InReview),
        ..ChangeFilter::default()
    };
    let mut rows = list(pool, &filter, username).await?;
    let mine: Vec<String> = sqlx::query_scalar!(
        "SELECT a.change_request_id::text AS \"id!\" FROM change_request_approvals a
         JOIN change_requests c ON c.id = a.change_request_id AND c.content_hash = a.content_hash
         WHERE a.approver = $1 AND c.status = 'in_review'",
        username
    )
    .fetch_all(pool)
    .await?;
    rows.retain(|r| r.author != username && !mine.contains(&r.id));
    Ok(rows)
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
