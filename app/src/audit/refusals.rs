//! Refusals of callers who are not signed in, counted rather than written
//! one by one: a failed sign-in, a refused hosted-UI callback, a cross-site
//! post without a session. Anyone on the internet can cause them, as fast as
//! they like; written one event each, under the trail's one writer lock, a
//! flood of them would fill the append-only trail and queue every real
//! change behind it.
//!
//! So each is counted in `anonymous_refusals`, one row per source address,
//! action and minute (a row lock, not the trail's lock), with the first few
//! usernames and reasons as examples; [`flush`] turns every row whose
//! minute has closed, or whose count has reached [`FLUSH_AT`], into one
//! audit event carrying the count. The console runs it every few seconds
//! ([`run`]); several replicas may, each row going to exactly one of them.

use super::{Action, Actor, Client, NewEvent};
use crate::error::AppError;
use sqlx::PgPool;
use std::time::Duration;

/// A row reaching this count is written at once rather than at the end of
/// its minute, so that a flood is in the trail while it goes on.
pub const FLUSH_AT: i64 = 1000;
/// Usernames and reasons kept as examples per row.
const EXAMPLES: i32 = 5;
/// The longest username kept (Cognito's own limit).
pub const USERNAME_CHARS: usize = 128;
/// How often [`run`] flushes.
const EVERY: Duration = Duration::from_secs(5);

/// Counts one refusal of an anonymous caller.
pub async fn count(
    pool: &PgPool,
    action: Action,
    client: &Client,
    username: Option<&str>,
    reason: &str,
) -> Result<(), AppError> {
    let usernames: Vec<String> = username
        .map(|u| u.chars().take(USERNAME_CHARS).collect())
        .into_iter()
        .collect();
    let ip = client.ip.as_deref().unwrap_or("unknown");
    sqlx::query!(
        r#"
        INSERT INTO anonymous_refusals AS r
               (minute, client_ip, action, count, usernames, reasons, user_agent)
        VALUES (date_trunc('minute', now()), $1, $2, 1, $3, ARRAY[$4], $5)
        ON CONFLICT (minute, client_ip, action) DO UPDATE SET
            count = r.count + 1,
            usernames = CASE
                WHEN cardinality(r.usernames) >= $6 OR EXCLUDED.usernames <@ r.usernames
                THEN r.usernames ELSE r.usernames || EXCLUDED.usernames END,
            reasons = CASE
                WHEN cardinality(r.reasons) >= $6 OR EXCLUDED.reasons <@ r.reasons
                THEN r.reasons ELSE r.reasons || EXCLUDED.reasons END
        "#,
        ip,
        action.as_str(),
        &usernames,
        reason,
        client.user_agent,
        EXAMPLES,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Which rows [`flush`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// Those whose minute has closed or whose count reached [`FLUSH_AT`].
    Due,
    /// Every row, the current minute's too (at shutdown; in tests).
    All,
}

/// Writes the rows `which` names as one audit event each and removes them,
/// in one transaction: the rows go only if their events are written.
/// Returns how many events were written.
pub async fn flush(pool: &PgPool, which: Rows) -> Result<usize, AppError> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query!(
        r#"
        DELETE FROM anonymous_refusals
         WHERE $2 OR minute < date_trunc('minute', now()) OR count >= $1
        RETURNING minute, client_ip, action, count, usernames, reasons, user_agent
        "#,
        FLUSH_AT,
        which == Rows::All,
    )
    .fetch_all(&mut *tx)
    .await?;
    let written = rows.len();
    for row in rows {
        let action = Action::parse(&row.action).unwrap_or(Action::SignInFailed);
        // One username tried: the event is theirs, so the Audit page's
        // actor filter finds it; several are listed in the event.
        let actor = match row.usernames.as_slice() {
            [one] => Some(Actor {
                sub: None,
                username: Some(one.clone()),
            }),
            _ => None,
        };
        let client = Client {
            ip: Some(row.client_ip.clone()),
            user_agent: row.user_agent,
        };
        let event = NewEvent::new(action, actor, client)
            .target(format!("from {}", row.client_ip))
            .after(serde_json::json!({
                "count": row.count,
                "minute": row.minute,
                "usernames": row.usernames,
                "reasons": row.reasons,
            }));
        super::record(&mut tx, event).await?;
    }
    tx.commit().await?;
    Ok(written)
}

/// Flushes every few seconds until the process ends; a failure is logged
/// and the rows wait for the next round.
pub async fn run(pool: PgPool) {
    loop {
        tokio::time::sleep(EVERY).await;
        if let Err(error) = flush(&pool, Rows::Due).await {
            tracing::warn!(%error, "anonymous refusals not written to the audit trail yet");
        }
    }
}

/// Refusals counted and not yet written: (rows, refusals), for the Audit
/// page to say so.
pub async fn pending(pool: &PgPool) -> Result<(i64, i64), AppError> {
    let row = sqlx::query!(
        r#"SELECT count(*) AS "rows!", coalesce(sum(count), 0)::BIGINT AS "refusals!"
             FROM anonymous_refusals"#
    )
    .fetch_one(pool)
    .await?;
    Ok((row.rows, row.refusals))
}
