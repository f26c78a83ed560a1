//! Drafts of a web ACL's rules, kept in PostgreSQL: the rules being edited,
//! who edits them, and the live state they started from (LockToken, rules,
//! the whole web ACL), which is what a change request will carry and apply.
//! Saving and discarding are audited in the same transaction.

use super::DraftRow;
use super::live::{LiveRules, WebAclRef};
use super::model::{RuleEntry, read_rules, rules_json};
use crate::audit::{self, Action, Actor, Client, NewEvent};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// A draft with everything it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub id: Uuid,
    pub title: String,
    pub author: String,
    /// The live state it started from.
    pub base: LiveRules,
    pub rules: Vec<RuleEntry>,
    pub open: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error("no such draft")]
    NotFound,
    #[error("this draft was discarded")]
    Discarded,
    #[error("only its author, {0}, edits this draft")]
    NotAuthor(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot record the change in the audit trail: {0}")]
    Audit(String),
}

fn username(actor: &Actor) -> String {
    actor.username.clone().unwrap_or_default()
}

/// Saves a new draft of `rules` on top of `base`.
pub async fn create(
    pool: &PgPool,
    base: &LiveRules,
    title: &str,
    rules: &[RuleEntry],
    actor: Actor,
    client: Client,
) -> Result<Uuid, DraftError> {
    let mut tx = pool.begin().await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO rule_drafts (web_acl_name, web_acl_scope, web_acl_id, title, author, author_sub,
                                  base_lock_token, base_rules, base_web_acl, rules)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        base.web_acl.name,
        base.web_acl.scope,
        base.web_acl.id,
        title,
        username(&actor),
        actor.sub,
        base.lock_token,
        rules_json(&base.rules),
        base.web_acl_json,
        rules_json(rules),
    )
    .fetch_one(&mut *tx)
    .await?;
    let event = NewEvent::new(Action::DraftSaved, Some(actor), client)
        .target(format!("web ACL {} draft {id}", base.web_acl.name))
        .after(serde_json::json!({"title": title, "rules": rules_json(rules)}));
    record_and_commit(tx, event).await?;
    Ok(id)
}

/// Saves new rules (and title) into an open draft of `actor`'s.
pub async fn update(
    pool: &PgPool,
    id: Uuid,
    title: &str,
    rules: &[RuleEntry],
    actor: Actor,
    client: Client,
) -> Result<(), DraftError> {
    let mut tx = pool.begin().await?;
    let current = lock_own_open(&mut tx, id, &actor).await?;
    sqlx::query!(
        "UPDATE rule_drafts SET title = $2, rules = $3, updated_at = now() WHERE id = $1",
        id,
        title,
        rules_json(rules),
    )
    .execute(&mut *tx)
    .await?;
    let event = NewEvent::new(Action::DraftSaved, Some(actor), client)
        .target(format!("web ACL {} draft {id}", current.web_acl_name))
        .before(serde_json::json!({"rules": current.rules}))
        .after(serde_json::json!({"title": title, "rules": rules_json(rules)}));
    record_and_commit(tx, event).await?;
    Ok(())
}

/// Discards an open draft of `actor`'s; it stays in the database, closed.
pub async fn discard(
    pool: &PgPool,
    id: Uuid,
    actor: Actor,
    client: Client,
) -> Result<(), DraftError> {
    let mut tx = pool.begin().await?;
    let current = lock_own_open(&mut tx, id, &actor).await?;
    sqlx::query!(
        "UPDATE rule_drafts SET status = 'discarded', updated_at = now() WHERE id = $1",
        id
    )
    .execute(&mut *tx)
    .await?;
    let event = NewEvent::new(Action::DraftDiscarded, Some(actor), client)
        .target(format!("web ACL {} draft {id}", current.web_acl_name));
    record_and_commit(tx, event).await?;
    Ok(())
}

/// Writes the audit event of a change in its transaction, then commits both;
/// if the event cannot be written, nothing is.
async fn record_and_commit(
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    event: NewEvent,
) -> Result<(), DraftError> {
    audit::record(&mut tx, event)
        .await
        .map_err(|e| DraftError::Audit(e.to_string()))?;
    tx.commit().await?;
    Ok(())
}

/// What a change to a draft needs of it.
struct Locked {
    rules: Value,
    web_acl_name: String,
}

/// Locks draft `id` for the rest of the transaction, if it is open and
/// `actor` wrote it.
async fn lock_own_open(
    tx: &mut sqlx::PgConnection,
    id: Uuid,
    actor: &Actor,
) -> Result<Locked, DraftError> {
    let row = sqlx::query!(
        "SELECT author, status, rules, web_acl_name FROM rule_drafts WHERE id = $1 FOR UPDATE",
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(DraftError::NotFound)?;
    if row.status != "open" {
        return Err(DraftError::Discarded);
    }
    if row.author != username(actor) {
        return Err(DraftError::NotAuthor(row.author));
    }
    Ok(Locked {
        rules: row.rules,
        web_acl_name: row.web_acl_name,
    })
}

/// The open drafts of one web ACL, most recently saved first.
pub async fn list(pool: &PgPool, web_acl: &str, scope: &str) -> Result<Vec<DraftRow>, DraftError> {
    Ok(sqlx::query_as!(
        DraftRow,
        r#"SELECT id::text AS "id!", web_acl_name, web_acl_scope, title, author, updated_at
           FROM rule_drafts
           WHERE status = 'open' AND web_acl_name = $1 AND web_acl_scope = $2
           ORDER BY updated_at DESC, id"#,
        web_acl,
        scope
    )
    .fetch_all(pool)
    .await?)
}

/// One draft, whole.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Draft, DraftError> {
    let row = sqlx::query!(
        "SELECT id, web_acl_name, web_acl_scope, web_acl_id, title, author, base_lock_token,
                base_rules, base_web_acl, rules, status
         FROM rule_drafts WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await?
    .ok_or(DraftError::NotFound)?;
    let arn = row
        .base_web_acl
        .get("ARN")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(Draft {
        id: row.id,
        title: row.title,
        author: row.author,
        base: LiveRules {
            web_acl: WebAclRef {
                name: row.web_acl_name,
                id: row.web_acl_id,
                arn,
                scope: row.web_acl_scope,
            },
            lock_token: row.base_lock_token,
            rules: read_rules(row.base_rules).unwrap_or_default(),
            web_acl_json: row.base_web_acl,
        },
        rules: read_rules(row.rules).unwrap_or_default(),
        open: row.status == "open",
    })
}
