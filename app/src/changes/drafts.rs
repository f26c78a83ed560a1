//! A person's open draft of a kind on one target: each edit made on a page
//! (a settings entry, a group's policy) goes into it, started from the live
//! state when they have none, until they describe and submit it.

use super::kinds::{Reach, TargetRef};
use super::store::{self, ChangeError};
use super::{Kind, Status, steps};
use crate::audit::{Actor, Client};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// `author`'s open draft of `kind` on `target`, if any.
pub async fn open_draft(
    pool: &PgPool,
    kind: Kind,
    target: &TargetRef,
    author: &str,
) -> Result<Option<Uuid>, ChangeError> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM change_requests
         WHERE kind = $1 AND target_name = $2 AND target_scope = $3
           AND status = 'draft' AND author = $4
         ORDER BY updated_at DESC LIMIT 1",
        kind.as_str(),
        target.name,
        target.scope,
        author
    )
    .fetch_optional(pool)
    .await?)
}

/// Makes `change` to the content of `actor`'s open draft of `kind` on
/// `target` (started from the live state when they have none; `title` is
/// a new draft's, and a blank one's) and returns the draft.
pub async fn edit(
    reach: Reach<'_>,
    kind: Kind,
    target: &TargetRef,
    title: &str,
    actor: Actor,
    client: Client,
    change: impl FnOnce(&Value) -> Result<Value, String>,
) -> Result<Uuid, ChangeError> {
    let author = actor.username.clone().unwrap_or_default();
    match open_draft(reach.pool, kind, target, &author).await? {
        Some(id) => {
            let draft = store::get(reach.pool, id).await?;
            let content = change(&draft.content).map_err(ChangeError::Invalid)?;
            let title = match draft.title.trim() {
                "" => title,
                kept => kept,
            };
            steps::edit(reach.pool, id, kind, title, &content, actor, client).await?;
            Ok(id)
        }
        None => {
            let live = kind.read_live(reach, target).await?;
            let content = change(&live.content).map_err(ChangeError::Invalid)?;
            steps::draft(reach.pool, kind, &live, title, &content, actor, client).await
        }
    }
}

/// What `author`'s open change requests of `kind` change, newest first:
/// each one's id, status and diff in words.
pub async fn pending(
    pool: &PgPool,
    kind: Kind,
    author: &str,
) -> Result<Vec<(String, Status, Vec<String>)>, ChangeError> {
    let rows = sqlx::query!(
        "SELECT id, status, base_content, content FROM change_requests
         WHERE kind = $1 AND author = $2
           AND status IN ('draft', 'in_review', 'approved', 'stale', 'failed')
         ORDER BY updated_at DESC LIMIT 10",
        kind.as_str(),
        author
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let diff = kind.diff(&r.base_content, &r.content);
            // The table's CHECK allows only known statuses.
            let status = Status::parse(&r.status).unwrap_or(Status::Failed);
            (r.id.to_string(), status, diff.words)
        })
        .collect())
}
