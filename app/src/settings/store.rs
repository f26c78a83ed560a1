//! The settings in PostgreSQL: read as one [`SettingsDoc`] with a token (a
//! SHA-256 of it) that a write must still match, written whole under a
//! transaction-scoped lock, so two writes never interleave and a write based
//! on settings that have moved is refused.

use super::{Effective, Overrides, SettingsDoc, Target};
use crate::audit::{self, Action, Actor, Client, NewEvent};
use crate::auth::RoleGroups;
use crate::error::AppError;
use crate::targets::{NewTarget, TargetKind};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

/// Taken by every write of the settings, for the rest of its transaction.
const LOCK_KEY: i64 = 0x6761_7465_7365_7473; // "gatesets"

/// The token of `doc`: what a write based on it must find.
pub fn token(doc: &SettingsDoc) -> String {
    hex::encode(Sha256::digest(doc.to_json().to_string().as_bytes()))
}

/// The settings as the database holds them.
pub async fn read(conn: &mut PgConnection) -> Result<SettingsDoc, sqlx::Error> {
    let mut doc = read_values(conn).await?;
    let targets = sqlx::query!(
        "SELECT kind, scope, name, aws_id, arn, region, detail FROM aws_targets
         WHERE kind NOT IN ('cognito_user_pool', 'cognito_app_client')"
    )
    .fetch_all(&mut *conn)
    .await?;
    doc.targets = targets
        .into_iter()
        .filter_map(|t| {
            Some(Target {
                kind: t.kind.parse().ok()?,
                scope: t.scope,
                name: t.name,
                aws_id: t.aws_id,
                arn: t.arn,
                region: t.region,
                detail: t.detail,
            })
        })
        .collect();
    doc.sort();
    Ok(doc)
}

/// The role groups and approvals the database holds, without the managed
/// resources: what sign-in and review need.
async fn read_values(conn: &mut PgConnection) -> Result<SettingsDoc, sqlx::Error> {
    let rows = sqlx::query!("SELECT key, value FROM settings")
        .fetch_all(&mut *conn)
        .await?;
    let mut doc = SettingsDoc::default();
    for row in rows {
        match row.key.as_str() {
            "role_groups" => doc.role_groups = serde_json::from_value(row.value).ok(),
            "required_approvals" => {
                doc.required_approvals = row.value.as_i64().and_then(|n| i32::try_from(n).ok())
            }
            "threshold_health" => doc.threshold_health = serde_json::from_value(row.value).ok(),
            _ => {}
        }
    }
    Ok(doc)
}

/// Takes the settings' write lock for the rest of the transaction.
pub async fn lock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Replaces the settings with `doc` (inside the caller's transaction,
/// which holds [`lock`]).
pub async fn write(
    conn: &mut PgConnection,
    doc: &SettingsDoc,
    by: &str,
) -> Result<(), sqlx::Error> {
    let values = [
        ("role_groups", doc.role_groups.as_ref().map(|g| json!(g))),
        (
            "required_approvals",
            doc.required_approvals.map(Value::from),
        ),
        (
            "threshold_health",
            doc.threshold_health.as_ref().map(|h| json!(h)),
        ),
    ];
    for (key, value) in values {
        match value {
            Some(value) => {
                sqlx::query!(
                    "INSERT INTO settings (key, value, updated_by) VALUES ($1, $2, $3)
                     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value,
                         updated_by = EXCLUDED.updated_by, updated_at = now()
                     WHERE settings.value IS DISTINCT FROM EXCLUDED.value",
                    key,
                    value,
                    by
                )
                .execute(&mut *conn)
                .await?;
            }
            None => {
                sqlx::query!("DELETE FROM settings WHERE key = $1", key)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    let kept: Vec<String> = doc.targets.iter().map(Target::label).collect();
    let existing = read(conn).await?;
    for gone in existing
        .targets
        .iter()
        .filter(|t| !kept.contains(&t.label()))
    {
        sqlx::query!(
            "DELETE FROM aws_targets WHERE kind = $1 AND scope IS NOT DISTINCT FROM $2 AND name = $3",
            gone.kind.as_str(),
            gone.scope,
            gone.name
        )
        .execute(&mut *conn)
        .await?;
    }
    for target in &doc.targets {
        crate::targets::register(
            conn,
            &NewTarget {
                kind: target.kind,
                scope: target.scope.as_deref(),
                name: &target.name,
                aws_id: &target.aws_id,
                arn: target.arn.as_deref(),
                region: &target.region,
                detail: &target.detail,
            },
        )
        .await
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    }
    Ok(())
}

/// The settings as the database holds them now.
pub async fn current(pool: &PgPool) -> Result<SettingsDoc, AppError> {
    let mut conn = pool.acquire().await?;
    Ok(read(&mut conn).await?)
}

/// The roles and approvals as they apply now.
pub async fn effective(pool: &PgPool, overrides: &Overrides) -> Result<Effective, AppError> {
    let mut conn = pool.acquire().await?;
    Ok(Effective::of(&read_values(&mut conn).await?, overrides))
}

/// "What Gatehouse needs" for `doc`, signing in with the state's pool and
/// writing audit checkpoints to its anchor.
pub fn iam_policy(state: &crate::state::AppState, doc: &SettingsDoc) -> Value {
    use crate::audit::checkpoint::Anchor;
    let own = super::iam::Own {
        user_pool_id: state.auth.pool.as_ref().map(|p| p.user_pool_id.clone()),
        audit_anchor: state
            .checkpoints
            .as_ref()
            .filter(|c| matches!(c.anchor, Anchor::S3 { .. }))
            .map(|c| c.anchor.describe()),
    };
    super::iam::policy(doc, &own)
}

/// The group → role mapping as it applies now.
pub async fn role_groups(pool: &PgPool, overrides: &Overrides) -> Result<RoleGroups, AppError> {
    Ok(effective(pool, overrides).await?.role_groups())
}

/// Why an operator's change was not made.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("{0}")]
    Invalid(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot record the change in the audit trail: {0}")]
    Audit(String),
}

/// The machine operator's way in (`gatehouse settings …`, `gatehouse demo`):
/// `change` edits the settings directly, with the database's own access,
/// checked like a change request's content and audited in the same
/// transaction. The way back when no admin can sign in.
pub async fn operator_change(
    pool: &PgPool,
    actor: Actor,
    what: &str,
    change: impl FnOnce(&mut SettingsDoc),
) -> Result<SettingsDoc, OperatorError> {
    let mut tx = pool.begin().await?;
    lock(&mut tx).await?;
    let before = read(&mut tx).await?;
    let mut after = before.clone();
    change(&mut after);
    after.sort();
    after.check().map_err(OperatorError::Invalid)?;
    if after == before {
        return Ok(after);
    }
    let by = actor.username.clone().unwrap_or_default();
    write(&mut tx, &after, &by).await?;
    let event = NewEvent::new(
        Action::SettingsChanged,
        Some(actor),
        Client {
            ip: None,
            user_agent: Some("gatehouse command line".into()),
        },
    )
    .target(format!("settings · {what}"))
    .before(before.to_json())
    .after(after.to_json());
    audit::record(&mut tx, event)
        .await
        .map_err(|e| OperatorError::Audit(e.to_string()))?;
    tx.commit().await?;
    Ok(after)
}

/// Removes the targets of `kind` named `name` (any scope) from `doc`;
/// whether one was there.
pub fn remove_target(doc: &mut SettingsDoc, kind: TargetKind, name: &str) -> bool {
    let before = doc.targets.len();
    doc.targets.retain(|t| !(t.kind == kind && t.name == name));
    doc.targets.len() != before
}
