//! A stored change request as the review page and the API show it: its
//! diff in words and as JSON, the live state it went stale against, its
//! comments, approvals and timeline.

use super::store::{self, Change, ChangeError};
use super::{ChangeView, RulesDiff, StaleView};
use crate::rules::model::{RuleEntry, rules_json};
use sqlx::PgPool;

fn pretty(rules: &[RuleEntry]) -> String {
    serde_json::to_string_pretty(&rules_json(rules)).unwrap_or_default()
}

pub async fn view(pool: &PgPool, change: Change) -> Result<ChangeView, ChangeError> {
    let (comments, approvals, timeline) = tokio::try_join!(
        store::comments(pool, change.id),
        store::approvals(pool, &change),
        store::timeline(pool, change.id),
    )?;
    let stale = change.stale.as_ref().map(|live| StaleView {
        diff: RulesDiff::of(&live.rules, &change.content),
        live_json: pretty(&live.rules),
    });
    Ok(ChangeView {
        id: change.id.to_string(),
        kind: change.kind,
        diff: RulesDiff::of(&change.base.rules, &change.content),
        base_json: pretty(&change.base.rules),
        content_json: pretty(&change.content),
        stale,
        title: change.title,
        description: change.description,
        author: change.author,
        status: change.status,
        target_name: change.base.web_acl.name,
        target_scope: change.base.web_acl.scope,
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
