//! What the integration tests share: AWS clients on the moto server that
//! `scripts/test.sh` starts (its address in AWS_ENDPOINT_URL), the state the
//! server builds, and URLs of the per-test databases `#[sqlx::test]` makes.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use app::state::{AppState, AwsClients};
use gatehouse::config::{AwsConfig, Config};
use sqlx::PgPool;
use std::time::Duration;

/// The emulator's address. Tests that need AWS fail, rather than skip,
/// without it: a suite that silently skips its AWS tests proves nothing.
pub fn moto_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL must point at a running moto server; scripts/test.sh starts one")
}

/// AWS clients on the emulator in `region`. Moto keeps each region's
/// resources apart, so a test that provisions uses a region of its own.
pub async fn aws(region: &str) -> AwsClients {
    aws_at(&moto_endpoint(), region, Duration::from_secs(5)).await
}

pub async fn aws_at(endpoint: &str, region: &str, probe_timeout: Duration) -> AwsClients {
    let sdk = gatehouse::aws::sdk_config(&AwsConfig {
        region: Some(region.to_owned()),
        endpoint_url: Some(endpoint.to_owned()),
        probe_timeout_secs: probe_timeout.as_secs(),
    })
    .await;
    AwsClients::new(&sdk, probe_timeout)
}

pub fn state(pool: PgPool, aws: AwsClients) -> AppState {
    let config = Config {
        site_root: "../public".into(),
        ..Config::default()
    };
    AppState {
        leptos_options: gatehouse::serve::leptos_options(&config),
        pool,
        aws,
    }
}

/// The URL of the database behind `pool`, for running the binary against it.
pub fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL is set for sqlx::test");
    let name = pool
        .connect_options()
        .get_database()
        .expect("test pools name their database")
        .to_owned();
    let (server, _) = base
        .rsplit_once('/')
        .expect("DATABASE_URL has a database path");
    format!("{server}/{name}")
}
