//! A stored change request as the review page and the API show it: its
//! diff in words and as JSON, the live state it went stale against, its
//! comments, approvals and timeline.

use super::store::{self, Change, ChangeError};
use super::{ChangeView, StaleView};
use sqlx::PgPool;

pub async fn view(pool: &PgPool, change: Change) -> Result<ChangeView, ChangeError> {
    let (comments, approvals, timeline) = tokio::try_join!(
        store::comments(pool, change.id),
        store::approvals(pool, &change),
        store::timeline(pool, change.id),
    )?;
    let kind = change.kind;
    let stale = change.stale.as_ref().map(|live| StaleView {
        diff: kind.diff(&live.content, &change.content),
        live_json: kind.pretty(&live.content),
    });
    Ok(ChangeView {
        id: change.id.to_string(),
        kind,
        diff: kind.diff(&change.base.content, &change.content),
        base_json: kind.pretty(&change.base.content),
        content_json: kind.pretty(&change.content),
        target: change.target(),
        stale,
        title: change.title,
        description: change.description,
        author: change.author,
        status: change.status,
        target_name: change.base.target.name,
        target_scope: change.base.target.scope,
        created_at: change.created_at,
        submitted_at: change.submitted_at,
        updated_at: change.updated_at,
        applied_at: change.applied_at,
        applied_by: change.applied_by,
        aws_request_id: change.aws_request_id,
        failure: change.failure,
        content_hash: change.content_hash,
        required_approvals: change.required_approvals,
        evidence: change.evidence,
        comments,
        approvals,
        timeline,
        rollback_of: change.rollback_of.map(|id| id.to_string()),
    })
}
