//! An admin's settings draft: each edit on the Settings page (a resource
//! added after its live check, one removed, a role's group, the approvals
//! needed) goes into one open draft of theirs, a settings change request
//! that they then describe and submit for another admin's approval.

use super::SettingsDoc;
use crate::audit::{Actor, Client};
use crate::changes::kinds::{Reach, settings::target};
use crate::changes::store::{self, ChangeError};
use crate::changes::{Kind, Status, steps};
use sqlx::PgPool;
use uuid::Uuid;

/// The title a settings draft starts with.
const TITLE: &str = "Change the settings";

/// `actor`'s open settings draft, if any.
pub async fn open_draft(pool: &PgPool, author: &str) -> Result<Option<Uuid>, ChangeError> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM change_requests
         WHERE kind = 'settings' AND status = 'draft' AND author = $1
         ORDER BY updated_at DESC LIMIT 1",
        author
    )
    .fetch_optional(pool)
    .await?)
}

/// Makes `change` to `actor`'s settings draft (started from the live
/// settings when they have none) and returns the draft.
pub async fn edit(
    reach: Reach<'_>,
    actor: Actor,
    client: Client,
    change: impl FnOnce(&mut SettingsDoc) -> Result<(), String>,
) -> Result<Uuid, ChangeError> {
    let author = actor.username.clone().unwrap_or_default();
    match open_draft(reach.pool, &author).await? {
        Some(id) => {
            let draft = store::get(reach.pool, id).await?;
            let mut doc = SettingsDoc::read(&draft.content).map_err(ChangeError::Invalid)?;
            change(&mut doc).map_err(ChangeError::Invalid)?;
            let title = match draft.title.trim() {
                "" => TITLE,
                title => title,
            };
            steps::edit(
                reach.pool,
                id,
                Kind::Settings,
                title,
                &doc.to_json(),
                actor,
                client,
            )
            .await?;
            Ok(id)
        }
        None => {
            let live = Kind::Settings.read_live(reach, &target()).await?;
            let mut doc = SettingsDoc::read(&live.content).map_err(ChangeError::Invalid)?;
            change(&mut doc).map_err(ChangeError::Invalid)?;
            steps::draft(
                reach.pool,
                Kind::Settings,
                &live,
                TITLE,
                &doc.to_json(),
                actor,
                client,
            )
            .await
        }
    }
}

/// What an open settings change request of `author`'s changes, for the
/// Settings page: its id, status and the diff in words.
pub async fn pending(
    pool: &PgPool,
    author: &str,
) -> Result<Vec<(String, Status, Vec<String>)>, ChangeError> {
    let rows = sqlx::query!(
        "SELECT id, status, base_content, content FROM change_requests
         WHERE kind = 'settings' AND author = $1
           AND status IN ('draft', 'in_review', 'approved', 'stale', 'failed')
         ORDER BY updated_at DESC LIMIT 10",
        author
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let diff = Kind::Settings.diff(&r.base_content, &r.content);
            // The table's CHECK allows only known statuses.
            let status = Status::parse(&r.status).unwrap_or(Status::Failed);
            (r.id.to_string(), status, diff.words)
        })
        .collect())
}
