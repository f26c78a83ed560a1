//! Applying an approved change request, of any kind: once, with the token
//! of the live state it was reviewed against, and safe to retry.
//!
//! An apply is three steps. It is claimed (status `applying`, audited) in
//! one transaction; if that audit event cannot be written nothing is pushed.
//! It is pushed by its kind (`UpdateWebACL` with the LockToken for rules).
//! Its outcome is recorded (audited) in a second transaction. Two people
//! pressing Apply at once are serialised by the row lock of the claim, and
//! the second finds it under way or done. A push interrupted between the
//! steps is settled by reading the live state: it holds the change's content
//! under a new token (applied), still the base token (never taken: approved
//! again), or something else (stale).

use super::Status;
use super::kinds::{Landing, Live, PushError, Pushed, Reach};
use super::steps::{self, content_key};
use super::store::{self, Change, ChangeError, record_and_commit};
use crate::audit::{Action, Actor, Client, NewEvent};
use chrono::{TimeDelta, Utc};
use serde_json::json;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// An apply under way for longer than this is taken as interrupted when
/// someone applies again: far longer than a push (`UpdateWebACL`) takes,
/// with the SDK's retries.
pub const LEASE: TimeDelta = TimeDelta::minutes(2);

/// How an apply ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied {
        request_id: Option<String>,
    },
    /// It had been applied already; nothing was pushed this time.
    AlreadyApplied,
    /// The target moved since the change was based on it; nothing was
    /// overwritten.
    Stale,
    /// Refused where it goes (AWS, or a settings check).
    Failed,
    /// An interrupted apply that AWS never took: approved again, to be
    /// applied anew.
    NotTaken,
}

/// Who applies, and whether their role lets them apply anyone's change
/// (the kind's approver role) or only their own once approved.
pub struct Applier {
    pub actor: Actor,
    pub client: Client,
    pub approver: bool,
}

/// What [`begin`] found.
pub enum Begun {
    /// Claimed: push it.
    Push(Box<Change>),
    /// Nothing to push.
    Done(Outcome),
}

/// Applies change request `id`.
pub async fn apply(reach: Reach<'_>, id: Uuid, by: &Applier) -> Result<Outcome, ChangeError> {
    let change = match begin(reach, id, by).await? {
        Begun::Push(change) => change,
        Begun::Done(outcome) => return Ok(outcome),
    };
    let pushed = change.kind.push(reach, &change.base, &change.content).await;
    finish(reach, &change, pushed, Some(by)).await
}

/// Claims the apply of change request `id`: checks who asks and the
/// status, marks it `applying` and audits the attempt, all in one
/// transaction.
pub async fn begin(reach: Reach<'_>, id: Uuid, by: &Applier) -> Result<Begun, ChangeError> {
    let pool = reach.pool;
    // At most twice: once more after settling an interrupted apply.
    for _ in 0..2 {
        let mut tx = pool.begin().await?;
        let change = store::lock(&mut tx, id).await?;
        let me = by.actor.username.clone().unwrap_or_default();
        if !by.approver && change.author != me {
            drop(tx);
            return Err(steps::refuse(
                pool,
                &change,
                by.actor.clone(),
                by.client.clone(),
                "only an approver, or the author once approved, applies a change request",
            )
            .await?);
        }
        match change.status {
            Status::Applied => return Ok(Begun::Done(Outcome::AlreadyApplied)),
            Status::Applying => {
                let since = change.applying_since.unwrap_or(change.updated_at);
                if Utc::now() - since < LEASE {
                    return Err(ChangeError::Conflict(format!(
                        "this change request is being applied right now (since {}); \
                         look again in a moment",
                        since.format("%H:%M:%S UTC")
                    )));
                }
                drop(tx);
                settle(reach, &change, Some(by)).await?;
                continue;
            }
            // A failed apply may be tried again: a kind written in parts
            // resumes with the parts not yet written.
            Status::Approved | Status::Failed => {}
            other => {
                return Err(ChangeError::Conflict(format!(
                    "this change request is {}: only an approved one can be applied",
                    other.label().to_lowercase()
                )));
            }
        }
        let approvals = store::current_approvals(&mut tx, &change).await?;
        if approvals < i64::from(change.required_approvals) {
            return Err(ChangeError::Conflict(format!(
                "it has {approvals} of the {} approvals it needs",
                change.required_approvals
            )));
        }
        let attempt = change.apply_attempts + 1;
        sqlx::query!(
            "UPDATE change_requests SET status = 'applying', apply_attempts = $2,
                    applying_since = now(), failure = NULL, updated_at = now()
             WHERE id = $1",
            id,
            attempt
        )
        .execute(&mut *tx)
        .await?;
        let event = NewEvent::new(
            Action::ChangeApplyStarted,
            Some(by.actor.clone()),
            by.client.clone(),
        )
        .target(change.audit_target())
        .after(json!({"attempt": attempt, "lock_token": change.base.token,
                      "content_hash": change.content_hash}));
        record_and_commit(tx, event).await?;
        return Ok(Begun::Push(Box::new(change)));
    }
    Err(ChangeError::Conflict(
        "this change request is being applied right now; look again in a moment".into(),
    ))
}

/// Records what the push of a claimed apply came to.
pub async fn finish(
    reach: Reach<'_>,
    change: &Change,
    pushed: Result<Pushed, PushError>,
    by: Option<&Applier>,
) -> Result<Outcome, ChangeError> {
    let pool = reach.pool;
    let service = change.kind.service();
    // Written or perhaps written: pages read the target anew.
    reach.aws.live.forget(change.kind, &change.base.target);
    match pushed {
        Ok(pushed) => record_applied(pool, change, &pushed.next_token, pushed.request_id, by).await,
        // Refused for the token: either someone else changed the target,
        // or an earlier push of this very change (its answer lost) did.
        Err(PushError::Stale { request_id }) => {
            let live = read_live(reach, change).await?;
            match change.kind.landed(&change.base, &change.content, &live) {
                Landing::Applied => record_applied(pool, change, &live.token, request_id, by).await,
                Landing::NotTaken | Landing::Moved => {
                    record_stale(pool, change, &live, request_id, by).await
                }
            }
        }
        Err(PushError::Refused {
            message,
            request_id,
        }) => {
            tracing::warn!(change = %change.id, %message, service, "an apply was refused");
            record_failed(pool, change, &message, request_id, by).await
        }
        // Taken or not: the live state tells.
        Err(PushError::Unanswered(message)) => {
            tracing::warn!(change = %change.id, %message, service, "no answer to an apply");
            settle(reach, change, by).await
        }
    }
}

async fn read_live(reach: Reach<'_>, change: &Change) -> Result<Live, ChangeError> {
    Ok(change.kind.read_live(reach, &change.base.target).await?)
}

/// Settles an apply whose outcome is unknown by reading the live state.
pub async fn settle(
    reach: Reach<'_>,
    change: &Change,
    by: Option<&Applier>,
) -> Result<Outcome, ChangeError> {
    let pool = reach.pool;
    reach.aws.live.forget(change.kind, &change.base.target);
    let live = read_live(reach, change).await?;
    match change.kind.landed(&change.base, &change.content, &live) {
        Landing::Applied => return record_applied(pool, change, &live.token, None, by).await,
        Landing::Moved => return record_stale(pool, change, &live, None, by).await,
        Landing::NotTaken => {}
    }
    // AWS never took it: approved again, for the next attempt.
    let Some((mut tx, status)) = lock_unapplied(pool, change).await? else {
        return Ok(Outcome::AlreadyApplied);
    };
    if status != Status::Applying {
        return Ok(Outcome::NotTaken);
    }
    store::set_status(&mut tx, change.id, Status::Approved).await?;
    let event = outcome_event(Action::ChangeApplySettled, change, by)
        .after(json!({"settled": "the update was not taken; approved again"}));
    record_and_commit(tx, event).await?;
    Ok(Outcome::NotTaken)
}

/// Settles every apply left under way for longer than `older_than` (at
/// start-up: every one). Returns how each ended.
pub async fn settle_interrupted(
    reach: Reach<'_>,
    older_than: TimeDelta,
) -> Result<Vec<(Uuid, Result<Outcome, String>)>, ChangeError> {
    let pool = reach.pool;
    let cutoff = Utc::now() - older_than;
    let ids = sqlx::query_scalar!(
        "SELECT id FROM change_requests WHERE status = 'applying' AND applying_since <= $1",
        cutoff
    )
    .fetch_all(pool)
    .await?;
    let mut settled = Vec::new();
    for id in ids {
        let outcome = match store::get(pool, id).await {
            Ok(change) => settle(reach, &change, None)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        settled.push((id, outcome));
    }
    Ok(settled)
}

/// Locks the change request to record an outcome, with its status; `None`
/// when another attempt or a settle has recorded it applied already.
async fn lock_unapplied<'a>(
    pool: &'a PgPool,
    change: &Change,
) -> Result<Option<(Transaction<'a, Postgres>, Status)>, ChangeError> {
    let mut tx = pool.begin().await?;
    let now = store::lock(&mut tx, change.id).await?;
    Ok((now.status != Status::Applied).then_some((tx, now.status)))
}

fn outcome_event(action: Action, change: &Change, by: Option<&Applier>) -> NewEvent {
    NewEvent::new(
        action,
        by.map(|b| b.actor.clone()),
        by.map(|b| b.client.clone()).unwrap_or_default(),
    )
    .target(change.audit_target())
}

async fn record_applied(
    pool: &PgPool,
    change: &Change,
    token: &str,
    request_id: Option<String>,
    by: Option<&Applier>,
) -> Result<Outcome, ChangeError> {
    let Some((mut tx, _)) = lock_unapplied(pool, change).await? else {
        return Ok(Outcome::AlreadyApplied);
    };
    let applier = by.and_then(|b| b.actor.username.clone());
    sqlx::query!(
        "UPDATE change_requests SET status = 'applied', applied_at = now(), applied_by = $2,
                applied_token = $3, aws_request_id = $4, applying_since = NULL,
                updated_at = now()
         WHERE id = $1",
        change.id,
        applier,
        token,
        request_id
    )
    .execute(&mut *tx)
    .await?;
    let key = content_key(change);
    let key = key.as_str();
    let mut event = outcome_event(Action::ChangeApplied, change, by)
        .before(json!({"lock_token": change.base.token, key: change.base.content}))
        .after(json!({"lock_token": token, key: change.content, "settled": by.is_none()}));
    event.aws_request_id = request_id.clone();
    record_and_commit(tx, event).await?;
    Ok(Outcome::Applied { request_id })
}

async fn record_stale(
    pool: &PgPool,
    change: &Change,
    live: &Live,
    request_id: Option<String>,
    by: Option<&Applier>,
) -> Result<Outcome, ChangeError> {
    let Some((mut tx, _)) = lock_unapplied(pool, change).await? else {
        return Ok(Outcome::AlreadyApplied);
    };
    sqlx::query!(
        "UPDATE change_requests SET status = 'stale', stale_token = $2, stale_content = $3,
                stale_resource = $4, applying_since = NULL, updated_at = now()
         WHERE id = $1",
        change.id,
        live.token,
        live.content,
        live.resource
    )
    .execute(&mut *tx)
    .await?;
    let key = content_key(change);
    let key = key.as_str();
    let mut event = outcome_event(Action::ChangeStale, change, by)
        .before(json!({"lock_token": change.base.token, key: change.base.content}))
        .after(json!({"lock_token": live.token, key: live.content}));
    event.aws_request_id = request_id;
    record_and_commit(tx, event).await?;
    Ok(Outcome::Stale)
}

async fn record_failed(
    pool: &PgPool,
    change: &Change,
    message: &str,
    request_id: Option<String>,
    by: Option<&Applier>,
) -> Result<Outcome, ChangeError> {
    let service = change.kind.service();
    let failure = match (&request_id, change.kind) {
        (Some(id), _) => {
            format!("{service} refused the update (request {id}); the server log has why.")
        }
        // Gatehouse's own checks say why in words meant for the console.
        (
            None,
            super::Kind::Settings | super::Kind::PolicyMappings | super::Kind::VpnGeofencing,
        ) => {
            format!("Not applied: {message}.")
        }
        (None, _) => format!("{service} refused the update; the server log has why."),
    };
    let Some((mut tx, _)) = lock_unapplied(pool, change).await? else {
        return Ok(Outcome::AlreadyApplied);
    };
    sqlx::query!(
        "UPDATE change_requests SET status = 'failed', failure = $2, applying_since = NULL,
                updated_at = now()
         WHERE id = $1",
        change.id,
        failure
    )
    .execute(&mut *tx)
    .await?;
    let mut event =
        outcome_event(Action::ChangeApplyFailed, change, by).after(json!({"failure": failure}));
    event.aws_request_id = request_id;
    record_and_commit(tx, event).await?;
    Ok(Outcome::Failed)
}
