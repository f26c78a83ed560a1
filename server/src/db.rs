//! The PostgreSQL pool and the migrations.
//!
//! Migrations run on a connection of their own, as the role in
//! `database_url` (the schema's owner). The application's pool then acts as
//! `gatehouse_app` on every connection, a role the migrations create that
//! may read and append audit events but never change or remove them.

use sqlx::{
    Connection, Executor, PgConnection, PgPool, migrate::Migrator, postgres::PgPoolOptions,
};
use std::time::Duration;

pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// The role every pooled connection acts as.
pub const APP_ROLE: &str = "gatehouse_app";

/// The application's pool. Run [`migrate`] first: the role it switches to
/// is created by the migrations.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(format!("SET ROLE {APP_ROLE}").as_str())
                    .await?;
                Ok(())
            })
        })
        .connect(url)
        .await
}

/// Applies pending migrations as the owner role.
pub async fn migrate(url: &str) -> Result<(), MigrateError> {
    let mut conn = PgConnection::connect(url)
        .await
        .map_err(MigrateError::Connect)?;
    MIGRATOR.run(&mut conn).await.map_err(MigrateError::Apply)?;
    conn.close().await.map_err(MigrateError::Connect)?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("cannot connect: {0}")]
    Connect(sqlx::Error),
    #[error("{0}")]
    Apply(sqlx::migrate::MigrateError),
}
