//! The steps of a review, each taken in one transaction with its audit
//! event, the change request locked for the length of it: submit, describe,
//! attach evidence, comment, approve, reject, withdraw, rebase and roll back.
//! A step refused for who asks (an author approving their own change, say)
//! is audited as a refusal.

use super::store::{
    Change, ChangeError, NewChange, back_to_review, content_hash, current_approvals, get, insert,
    lock, lock_own_editable, record_and_commit, set_status, username,
};
use super::{Evidence, Status, audit_target};
use crate::audit::{Action, Actor, Client, NewEvent};
use crate::rules::live::LiveRules;
use crate::rules::merge;
use crate::rules::model::rules_json;
use serde_json::json;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

const MAX_EVIDENCE: usize = 10;

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
    if merge::same_rules(&change.base.rules, &change.content) {
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
    let restoring = NewChange {
        base: live,
        title: &title,
        description: &description,
        content: &restored.rules,
        status: Status::InReview,
        required_approvals,
        rollback_of: Some(id),
    };
    let new_id = insert(&mut tx, restoring, &actor).await?;
    let target = audit_target(&new_id.to_string(), &live.web_acl.scope, &live.web_acl.name);
    let event = NewEvent::new(Action::ChangeSubmitted, Some(actor), client)
        .target(target)
        .before(json!({"rules": rules_json(&live.rules), "lock_token": live.lock_token}))
        .after(json!({"title": title, "rules": rules_json(&restored.rules), "rollback_of": id}));
    record_and_commit(tx, event).await?;
    Ok(new_id)
}
