//! Building the shared state from the configuration, and serving the console
//! until Ctrl-C or SIGTERM.

use crate::config::Config;
use app::state::{AppState, AwsClients};
use leptos::prelude::LeptosOptions;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot connect to PostgreSQL at database_url ({url}): {source}")]
    Database { url: String, source: sqlx::Error },
    #[error("cannot apply the database migrations to database_url ({url}): {source}")]
    Migrate {
        url: String,
        source: crate::db::MigrateError,
    },
    #[error("cannot listen on site_addr {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
}

/// Applies pending migrations, connects the pool, and builds the AWS
/// clients. Nothing here talks to AWS: an unreachable AWS shows on
/// `/healthz` and the dashboard rather than stopping the console.
pub async fn state(config: &Config) -> Result<AppState, StartError> {
    crate::db::migrate(&config.database_url)
        .await
        .map_err(|source| StartError::Migrate {
            url: redact_password(&config.database_url),
            source,
        })?;
    let pool = crate::db::connect(&config.database_url, config.database_max_connections)
        .await
        .map_err(|source| StartError::Database {
            url: redact_password(&config.database_url),
            source,
        })?;
    let sdk = crate::aws::sdk_config(&config.aws).await;
    Ok(AppState {
        leptos_options: leptos_options(config),
        pool,
        aws: AwsClients::new(&sdk, Duration::from_secs(config.aws.probe_timeout_secs)),
    })
}

pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("gatehouse")
        .site_root(config.site_root.to_string_lossy().as_ref())
        .site_pkg_dir("pkg")
        .site_addr(config.site_addr)
        .build()
}

pub async fn run(config: Config) -> Result<(), StartError> {
    let state = state(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.site_addr)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.site_addr,
            source,
        })?;
    tracing::info!(url = %config.console_url(), "serving the console");
    axum::serve(listener, crate::http::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(StartError::Serve)?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM; in-flight requests then finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// The URL with its password, if any, replaced, for messages and logs.
pub fn redact_password(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split(':').next().unwrap_or_default();
                let hidden = if credentials.contains(':') {
                    ":***"
                } else {
                    ""
                };
                format!("{scheme}://{user}{hidden}@{host}")
            }
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_password("postgres://app:s3cret@db:5432/gatehouse"),
            "postgres://app:***@db:5432/gatehouse"
        );
        assert_eq!(
            redact_password("postgres://postgres@127.0.0.1/gatehouse"),
            "postgres://postgres@127.0.0.1/gatehouse"
        );
    }
}
