//! Drafts of a web ACL's rules: change requests in status `draft`, with the
//! rules being edited, who edits them, and the live state they started from
//! (LockToken, rules, the whole web ACL), which is what review compares with
//! and apply carries. Saving is audited in the same transaction.

use super::DraftRow;
use super::live::LiveRules;
use super::model::{RuleEntry, rules_json};
use crate::audit::{Actor, Client};
use crate::changes::kinds::web_acl_rules::live_of;
use crate::changes::store::ChangeError;
use crate::changes::{Kind, steps};
use sqlx::PgPool;
use uuid::Uuid;

/// Saves a new draft of `rules` on top of `base`.
pub async fn create(
    pool: &PgPool,
    base: &LiveRules,
    title: &str,
    rules: &[RuleEntry],
    actor: Actor,
    client: Client,
) -> Result<Uuid, ChangeError> {
    let content = rules_json(rules);
    steps::draft(
        pool,
        Kind::WebAclRules,
        &live_of(base),
        title,
        &content,
        actor,
        client,
    )
    .await
}

/// Saves new rules (and title) into a change request of `actor`'s that may
/// still be edited. One in review or approved goes back to review: the
/// approvals were of other content.
pub async fn update(
    pool: &PgPool,
    id: Uuid,
    title: &str,
    rules: &[RuleEntry],
    actor: Actor,
    client: Client,
) -> Result<(), ChangeError> {
    let content = rules_json(rules);
    steps::edit(pool, id, Kind::WebAclRules, title, &content, actor, client).await
}

/// The drafts of one web ACL, most recently saved first.
pub async fn list(pool: &PgPool, web_acl: &str, scope: &str) -> Result<Vec<DraftRow>, ChangeError> {
    Ok(sqlx::query_as!(
        DraftRow,
        r#"SELECT id::text AS "id!", target_name AS web_acl_name, target_scope AS web_acl_scope,
                  title, author, updated_at
           FROM change_requests
           WHERE status = 'draft' AND kind = 'web_acl_rules' AND target_name = $1
             AND target_scope = $2
           ORDER BY updated_at DESC, id"#,
        web_acl,
        scope
    )
    .fetch_all(pool)
    .await?)
}
