//! The steps of a review, each taken in one transaction with its audit
//! event, the change request locked for the length of it: submit, describe,
//! attach evidence, comment, approve, reject, withdraw, rebase and roll back.
//! A step refused for who asks (an author approving their own change, say)
//! is audited as a refusal.

use super::kinds::Live;
use super::store::{
    Change, ChangeError, NewChange, back_to_review, content_hash, current_approvals, get, insert,
    lock, lock_own_editable, record_and_commit, set_status, username,
};
use super::{Evidence, Status, audit_target};
use crate::audit::{Action, Actor, Client, NewEvent};
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

/// Sends a draft of `actor`'s to review. `live_token` is its target's token
/// now (the web ACL's LockToken): a draft whose base has moved must be
/// rebased first.
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
    if change.base.token != live_token {
        return Err(ChangeError::Conflict(format!(
            "the {} changed since this draft was made: rebase it onto the live state first",
            change.target()
        )));
    }
    if change.kind.same(&change.base.content, &change.content) {
        return Err(ChangeError::Invalid(format!(
            "this draft changes nothing in the live {}",
            change.kind.content_label().to_lowercase()
        )));
    }
    change
        .kind
        .check(&change.content)
        .map_err(ChangeError::Invalid)?;
    // Hashed anew: what is submitted is what approvals are of.
    let hash = content_hash(
        change.kind,
        &change.base.target,
        &change.base.token,
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
    let key = content_key(&change);
    let key = key.as_str();
    let event = NewEvent::new(Action::ChangeSubmitted, Some(actor), client)
        .target(change.audit_target())
        .before(json!({key: change.base.content, "lock_token": change.base.token}))
        .after(json!({"title": change.title, key: change.content, "content_hash": hash}));
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
        change.kind,
        &change.base.target,
        &change.base.token,
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
/// changes it makes to its old base are made to the live state instead,
/// and it goes back to review (or stays a draft). Returns the items both
/// sides changed.
pub async fn rebase(
    pool: &PgPool,
    id: Uuid,
    live: &Live,
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
    if live.target.id != change.base.target.id {
        return Err(ChangeError::Invalid(format!(
            "that is not the {} this change is for",
            change.target()
        )));
    }
    let rebased = change
        .kind
        .rebase(&change.base.content, &change.content, &live.content);
    let hash = content_hash(
        change.kind,
        &live.target,
        &live.token,
        &rebased.content,
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
        live.token,
        live.content,
        live.resource,
        rebased.content,
        hash,
        status.as_str()
    )
    .execute(&mut *tx)
    .await?;
    let key = content_key(&change);
    let key = key.as_str();
    let event = NewEvent::new(Action::ChangeRebased, Some(actor), client)
        .target(change.audit_target())
        .before(json!({"lock_token": change.base.token, key: change.content}))
        .after(json!({"lock_token": live.token, key: rebased.content,
                      "conflicts": rebased.conflicts, "content_hash": hash}));
    record_and_commit(tx, event).await?;
    Ok(rebased.conflicts)
}

/// From an applied change request: a new one (in review) that restores the
/// state it replaced, carried onto the live state as it is now.
pub async fn rollback(
    pool: &PgPool,
    id: Uuid,
    live: &Live,
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
    let kind = applied.kind;
    let what = kind.content_label().to_lowercase();
    // The inverse of the change, made to what is live now.
    let restored = kind.rebase(&applied.content, &applied.base.content, &live.content);
    if kind.same(&restored.content, &live.content) {
        return Err(ChangeError::Conflict(format!(
            "the live {what} are already as they were before this change"
        )));
    }
    let title = format!("Roll back: {}", applied.title);
    let mut description =
        format!("Restores the {what} as they were before change request {id} was applied.");
    for conflict in &restored.conflicts {
        description.push_str(&format!("\n- {conflict}"));
    }
    let mut tx = pool.begin().await?;
    let restoring = NewChange {
        kind,
        base: live,
        title: &title,
        description: &description,
        content: &restored.content,
        status: Status::InReview,
        required_approvals,
        rollback_of: Some(id),
    };
    let new_id = insert(&mut tx, restoring, &actor).await?;
    let target = audit_target(
        &new_id.to_string(),
        kind,
        &live.target.scope,
        &live.target.name,
    );
    let key = what.as_str();
    let event = NewEvent::new(Action::ChangeSubmitted, Some(actor), client)
        .target(target)
        .before(json!({key: live.content, "lock_token": live.token}))
        .after(json!({"title": title, key: restored.content, "rollback_of": id}));
    record_and_commit(tx, event).await?;
    Ok(new_id)
}

/// The key a change's content has in its audit events: `rules`, `settings`.
pub fn content_key(change: &Change) -> String {
    change.kind.content_label().to_lowercase()
}

/// Saves a new draft of `actor`'s: `content` proposed over `base`.
pub async fn draft(
    pool: &PgPool,
    kind: super::Kind,
    base: &Live,
    title: &str,
    content: &serde_json::Value,
    actor: Actor,
    client: Client,
) -> Result<Uuid, ChangeError> {
    let mut tx = pool.begin().await?;
    let new = NewChange {
        kind,
        base,
        title,
        description: "",
        content,
        status: Status::Draft,
        // Set when it is submitted.
        required_approvals: 1,
        rollback_of: None,
    };
    let id = insert(&mut tx, new, &actor).await?;
    let target = audit_target(&id.to_string(), kind, &base.target.scope, &base.target.name);
    let key = kind.content_label().to_lowercase();
    let key = key.as_str();
    let event = NewEvent::new(Action::DraftSaved, Some(actor), client)
        .target(target)
        .after(json!({"title": title, key: content}));
    record_and_commit(tx, event).await?;
    Ok(id)
}

/// Saves new content (and title) into a change request of `actor`'s that
/// may still be edited. One in review or approved goes back to review: its
/// approvals were of other content.
pub async fn edit(
    pool: &PgPool,
    id: Uuid,
    kind: super::Kind,
    title: &str,
    content: &serde_json::Value,
    actor: Actor,
    client: Client,
) -> Result<(), ChangeError> {
    let mut tx = pool.begin().await?;
    let current = lock_own_editable(&mut tx, id, &actor).await?;
    if current.kind != kind {
        return Err(ChangeError::Invalid(format!(
            "that change request does not change {}",
            kind.content_label().to_lowercase()
        )));
    }
    let hash = content_hash(
        kind,
        &current.base.target,
        &current.base.token,
        content,
        title,
        &current.description,
    );
    back_to_review(&mut tx, &current, &hash).await?;
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
    let key = content_key(&current);
    let key = key.as_str();
    let event = NewEvent::new(action, Some(actor), client)
        .target(current.audit_target())
        .before(json!({"title": current.title, key: current.content}))
        .after(json!({"title": title, key: content, "content_hash": hash}));
    record_and_commit(tx, event).await?;
    Ok(())
}
