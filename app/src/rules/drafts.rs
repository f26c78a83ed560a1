//! Drafts of a web ACL's rules: change requests in status `draft`, with the
//! rules being edited, who edits them, and the live state they started from
//! (LockToken, rules, the whole web ACL), which is what review compares with
//! and apply carries. Saving is audited in the same transaction.

use super::DraftRow;
use super::live::LiveRules;
use super::model::{RuleEntry, rules_json};
use crate::audit::{Action, Actor, Client, NewEvent};
use crate::changes::kinds::web_acl_rules::{self as rules_kind, live_of};
use crate::changes::store::{self, ChangeError, NewChange, content_hash, record_and_commit};
use crate::changes::{Kind, Status};
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
    let mut tx = pool.begin().await?;
    let content = rules_json(rules);
    let draft = NewChange {
        kind: Kind::WebAclRules,
        base: &live_of(base),
        title,
        description: "",
        content: &content,
        status: Status::Draft,
        // Set when it is submitted.
        required_approvals: 1,
        rollback_of: None,
    };
    let id = store::insert(&mut tx, draft, &actor).await?;
    let target = crate::changes::audit_target(
        &id.to_string(),
        Kind::WebAclRules,
        &base.web_acl.scope,
        &base.web_acl.name,
    );
    let event = NewEvent::new(Action::DraftSaved, Some(actor), client)
        .target(target)
        .after(serde_json::json!({"title": title, "rules": content}));
    record_and_commit(tx, event).await?;
    Ok(id)
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
    let mut tx = pool.begin().await?;
    let current = store::lock_own_editable(&mut tx, id, &actor).await?;
    if current.kind != Kind::WebAclRules {
        return Err(ChangeError::Invalid(
            "that change request does not change web ACL rules".into(),
        ));
    }
    let content = rules_json(rules);
    let hash = content_hash(
        current.kind,
        &current.base.target,
        &current.base.token,
        &content,
        title,
        &current.description,
    );
    store::back_to_review(&mut tx, &current, &hash).await?;
    sqlx::query!(
        "UPDATE change_requests SET title = $2, content = $3 WHERE id = $1",
        id,
        title,
        content,
    )
    .execute(&mut *tx)
    .await?;
    let action = match current.status {
        Status::Draft => Action::DraftSaved,
        _ => Action::ChangeEdited,
    };
    let event = NewEvent::new(action, Some(actor), client)
        .target(current.audit_target())
        .before(serde_json::json!({"title": current.title, "rules": rules_json(&rules_kind::rules(&current.content))}))
        .after(serde_json::json!({"title": title, "rules": content, "content_hash": hash}));
    record_and_commit(tx, event).await?;
    Ok(())
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
