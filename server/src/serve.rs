//! Building the shared state from the configuration, and serving the console
//! until Ctrl-C or SIGTERM.

use crate::config::Config;
use app::audit::checkpoint::Checkpoints;
use app::auth::sessions::SessionPolicy;
use app::auth::tokens::{PoolSettings, Verifier};
use app::state::{AppState, AuthState, AwsClients, CognitoPool, HostedUi};
use app::targets::TargetKind;
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
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
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
    let auth = auth_state(config, &pool).await;
    let mut aws = AwsClients::new(
        &sdk,
        Duration::from_secs(config.aws.probe_timeout_secs),
        Duration::from_secs(config.aws.live_state_ttl_secs),
        &config.aws.calls_per_second,
    );
    aws.athena_price_per_tb = config.aws.athena_price_per_tb;
    let checkpoints = config.audit_anchor()?.map(|(anchor, key)| {
        let every = Duration::from_secs(config.audit.checkpoint_seconds.max(1));
        std::sync::Arc::new(Checkpoints::new(anchor, key, aws.s3.clone(), every))
    });
    Ok(AppState {
        leptos_options: leptos_options(config),
        health_db: app::state::health_db(&pool),
        anonymous_db: app::state::anonymous_db(&pool),
        pool,
        aws,
        auth,
        overrides: config.overrides.clone(),
        geo: geo_db(config),
        checkpoints,
        import_limits: config.import,
    })
}

/// The IP-to-country database of `ip_country_db`, if set and readable.
pub fn geo_db(config: &Config) -> Option<std::sync::Arc<app::vpn::geo::GeoDb>> {
    let path = config.ip_country_db.as_ref()?;
    match app::vpn::geo::GeoDb::open(path) {
        Ok(db) => Some(std::sync::Arc::new(db)),
        Err(error) => {
            tracing::warn!(%error, "the IP-to-country database is not read: Test an IP is off");
            None
        }
    }
}

/// The user pool people sign in with: the configured one, else the one
/// `gatehouse demo` registered. Without either, the console runs but no one
/// can sign in, and the sign-in page says why.
pub async fn auth_state(config: &Config, pool: &sqlx::PgPool) -> AuthState {
    let sessions = &config.sessions;
    let policy = SessionPolicy {
        idle: chrono::TimeDelta::minutes(i64::from(sessions.idle_minutes)),
        absolute: chrono::TimeDelta::hours(i64::from(sessions.absolute_hours)),
        max_failures_per_username: i64::from(sessions.max_failures_per_username),
        max_failures_per_ip: i64::from(sessions.max_failures_per_ip),
        lockout: chrono::TimeDelta::minutes(i64::from(sessions.lockout_minutes)),
        secure_cookies: config.secure_cookies(),
    };
    let registered = app::targets::list(pool).await.unwrap_or_default();
    let registered_id = |kind: TargetKind| {
        registered
            .iter()
            .find(|t| t.kind == kind)
            .map(|t| t.aws_id.clone())
    };
    let cognito = &config.cognito;
    let user_pool_id = cognito
        .user_pool_id
        .clone()
        .or_else(|| registered_id(TargetKind::CognitoUserPool));
    let client_id = cognito
        .client_id
        .clone()
        .or_else(|| registered_id(TargetKind::CognitoAppClient));
    let pool = match (user_pool_id, client_id) {
        (Some(user_pool_id), Some(client_id)) => {
            let settings = pool_settings(config, &user_pool_id, &client_id);
            tracing::info!(
                user_pool_id,
                issuer = settings.issuer,
                jwks = settings.jwks_url,
                "sign-in with Cognito"
            );
            let hosted_ui = cognito.domain.as_ref().map(|domain| HostedUi {
                domain: domain.trim_end_matches('/').to_owned(),
                redirect_uri: cognito
                    .redirect_uri
                    .clone()
                    .unwrap_or_else(|| format!("{}/auth/callback", config.console_url())),
            });
            Some(CognitoPool {
                user_pool_id,
                client_id,
                verifier: Verifier::new(settings),
                hosted_ui,
            })
        }
        _ => {
            tracing::warn!("no Cognito user pool configured or registered: nobody can sign in");
            None
        }
    };
    AuthState {
        pool,
        policy,
        trusted_proxies: config.trusted_proxies.clone(),
    }
}

/// Issuer and JWKS address of a pool. Pool ids start with their region.
pub fn pool_settings(config: &Config, user_pool_id: &str, client_id: &str) -> PoolSettings {
    let region = user_pool_id.split('_').next().unwrap_or_default();
    let issuer = format!("https://cognito-idp.{region}.amazonaws.com/{user_pool_id}");
    let jwks_url = match (&config.cognito.jwks_url, &config.aws.endpoint_url) {
        (Some(url), _) => url.clone(),
        (None, Some(endpoint)) => format!(
            "{}/{user_pool_id}/.well-known/jwks.json",
            endpoint.trim_end_matches('/')
        ),
        (None, None) => format!("{issuer}/.well-known/jwks.json"),
    };
    PoolSettings {
        issuer,
        jwks_url,
        client_id: client_id.to_owned(),
        grace_secs: config.cognito.token_grace_secs,
    }
}

pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("gatehouse")
        .site_root(config.site_root.to_string_lossy().as_ref())
        .site_pkg_dir("pkg")
        .site_addr(config.site_addr)
        .hash_files(hashed_site())
        .build()
}

/// Whether `cargo leptos build` named the site's files by their content
/// (`hash-files` in Cargo.toml): it then writes `hash.txt`, the hashes,
/// beside the binary it built, and pages must link the hashed names.
/// Leptos insists on the file once told the names are hashed, so a binary
/// built otherwise (`cargo build`, the tests) links the plain names.
fn hashed_site() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("hash.txt")))
        .is_some_and(|hashes| hashes.is_file())
}

pub async fn run(config: Config) -> Result<(), StartError> {
    let state = state(&config).await?;
    // An apply cut off by a crash or restart is settled from the web ACL as
    // AWS holds it; in the background, so an unreachable AWS does not hold
    // up start-up.
    let (pool, aws) = (state.pool.clone(), state.aws.clone());
    tokio::spawn(async move {
        let reach = app::changes::kinds::Reach {
            pool: &pool,
            aws: &aws,
        };
        match app::changes::apply::settle_interrupted(reach, chrono::TimeDelta::zero()).await {
            Ok(settled) => {
                for (id, outcome) in settled {
                    tracing::info!(change = %id, ?outcome, "settled an interrupted apply");
                }
            }
            Err(error) => tracing::warn!(%error, "cannot settle interrupted applies"),
        }
    });
    // Anonymous refusals, counted per address and minute, into the trail.
    tokio::spawn(app::audit::refusals::run(state.pool.clone()));
    if let Some(checkpoints) = state.checkpoints.clone() {
        tracing::info!(anchor = checkpoints.anchor.describe(), "audit checkpoints");
        tokio::spawn(checkpoints.run(state.pool.clone()));
    } else {
        tracing::warn!(
            "audit checkpoints are off (audit.key, audit.anchor): cutting the newest events off the trail would not be detected"
        );
    }
    let last_checkpoint = state.checkpoints.clone().map(|c| (c, state.pool.clone()));
    let state_calls = state.aws.budget.clone();
    let state_pool = state.pool.clone();
    let pkg = config.site_root.join("pkg");
    tokio::task::spawn_blocking(move || crate::http::assets::precompress(&pkg));
    let listener = tokio::net::TcpListener::bind(config.site_addr)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.site_addr,
            source,
        })?;
    let listener = without_nagle(listener);
    tracing::info!(url = %config.console_url(), "serving the console");
    axum::serve(
        listener,
        crate::http::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(StartError::Serve)?;
    // The events of the last requests, covered before the process goes.
    // Bounded: a shutdown must not wait on an unreachable anchor.
    if let Some((checkpoints, pool)) = last_checkpoint {
        let written = tokio::time::timeout(Duration::from_secs(10), checkpoints.write(&pool)).await;
        match written {
            Ok(Ok(_)) => {}
            Ok(Err(problem)) => {
                tracing::warn!(%problem, "no audit checkpoint written at shutdown");
            }
            Err(_) => tracing::warn!("no audit checkpoint written at shutdown: the anchor is slow"),
        }
    }
    // What was counted of anonymous refusals goes into the trail now.
    if let Err(error) =
        app::audit::refusals::flush(&state_pool, app::audit::refusals::Rows::All).await
    {
        tracing::warn!(%error, "anonymous refusals of the last minute not written to the audit trail");
    }
    let calls = state_calls.calls();
    tracing::info!(?calls, "stopped; AWS calls made, per service");
    Ok(())
}

/// `listener` with `TCP_NODELAY` on every connection it accepts: a page
/// streams in small writes, and with Nagle's algorithm each one after the
/// first waits for the browser's delayed acknowledgement (40 ms on Linux).
/// A connection whose option cannot be set is served anyway.
pub fn without_nagle(
    listener: tokio::net::TcpListener,
) -> axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)> {
    use axum::serve::ListenerExt;
    listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on a connection");
        }
    })
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
    use super::{redact_password, without_nagle};

    /// Every accepted connection has Nagle's algorithm off (a plain
    /// listener's do not: Linux leaves it on).
    #[tokio::test]
    async fn accepted_connections_send_small_writes_at_once() {
        use axum::serve::Listener;
        let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = plain.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(address).await.unwrap();
        let (stream, _) = plain.accept().await.unwrap();
        assert!(!stream.nodelay().unwrap(), "the default");
        let mut listener = without_nagle(plain);
        let _client = tokio::net::TcpStream::connect(address).await.unwrap();
        let (stream, _) = listener.accept().await;
        assert!(stream.nodelay().unwrap());
    }

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
