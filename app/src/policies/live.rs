//! The policy tables Gatehouse manages and their mappings as read now: for
//! the Policies page, the API and the command line. Only a registered table
//! is ever read or changed.

use super::mapping::Mappings;
use crate::changes::kinds::{Reach, policy_mappings};
use crate::changes::{Kind, store::ChangeError};
use crate::error::AppError;
use crate::targets::TargetKind;
use sqlx::PgPool;

/// The registered policy tables, by name.
pub async fn tables(pool: &PgPool) -> Result<Vec<String>, AppError> {
    let doc = crate::settings::store::current(pool).await?;
    let mut names: Vec<String> = doc
        .of(TargetKind::DynamodbTable)
        .map(|t| t.name.clone())
        .collect();
    names.sort();
    Ok(names)
}

/// `asked` if it is registered, else the first registered table; an error
/// when none is.
pub async fn table(pool: &PgPool, asked: Option<&str>) -> Result<String, AppError> {
    let tables = tables(pool).await?;
    match asked.filter(|a| !a.is_empty()) {
        Some(asked) if tables.iter().any(|t| t == asked) => Ok(asked.to_owned()),
        Some(asked) => Err(AppError::BadRequest(format!(
            "Gatehouse does not manage a policy table {asked:?}: an admin registers it on the Settings page."
        ))),
        None => tables.into_iter().next().ok_or_else(|| {
            AppError::BadRequest(
                "No policy table is managed yet: an admin registers it on the Settings page."
                    .into(),
            )
        }),
    }
}

/// The mappings of `table` as pages show them (the live-state cache), and
/// how old they are ("read 4 s ago").
pub async fn read(reach: Reach<'_>, table: &str) -> Result<(Mappings, String), AppError> {
    let shown = Kind::PolicyMappings
        .read_shown(reach, &policy_mappings::target(table))
        .await
        .map_err(ChangeError::from)?;
    Ok((
        policy_mappings::mappings(&shown.live.content),
        shown.freshness(),
    ))
}
