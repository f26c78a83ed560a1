//! Health of the console's two dependencies, PostgreSQL and AWS.
//!
//! The report is what `GET /healthz` returns and what the dashboard shows.
//! Probe details are deliberately coarse (no versions, no addresses): the
//! causes of a failure go to the server log, not to an unauthenticated
//! endpoint.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Degraded,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub ok: bool,
    pub latency_ms: u64,
    pub detail: String,
    /// How long ago the answer was read: the AWS probe's answer is shared
    /// for [`AWS_PROBE_SECONDS`], so that health checks and dashboard views
    /// do not each call AWS.
    #[serde(default)]
    pub age_secs: u64,
}

/// How long the AWS probe's answer is kept.
pub const AWS_PROBE_SECONDS: u64 = 5;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    pub status: Status,
    pub checked_at: DateTime<Utc>,
    pub database: Probe,
    pub aws: Probe,
    /// The audit checkpoint writer, where an anchor is configured: down
    /// while it refuses to sign because the trail was rewritten under the
    /// last checkpoint (the Audit page says more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_anchor: Option<Probe>,
}

#[cfg(feature = "ssr")]
pub use probe::{DatabaseProbe, check};

#[cfg(feature = "ssr")]
mod probe {
    use super::{HealthReport, Probe, Status};
    use crate::state::{AppState, AwsClients};
    use aws_sdk_wafv2::types::Scope;
    use sqlx::PgPool;
    use std::time::{Duration, Instant};

    const DATABASE_TIMEOUT: Duration = Duration::from_secs(3);

    /// The database check: on one connection of its own (a pool busy with
    /// pages is not a database down, and must not look like one to a load
    /// balancer), and at most once a second however many checks ask — the
    /// others share its answer.
    pub struct DatabaseProbe {
        pool: PgPool,
        last: crate::fresh::Fresh<Probe>,
    }

    impl DatabaseProbe {
        /// Connects to the database of `pool` when first asked.
        pub fn new(pool: &PgPool) -> Self {
            DatabaseProbe {
                pool: sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(DATABASE_TIMEOUT)
                    .connect_lazy_with((*pool.connect_options()).clone()),
                last: crate::fresh::Fresh::new(Duration::from_secs(1)),
            }
        }

        /// Closes its connection: the check then reports the database down.
        pub async fn close(&self) {
            self.pool.close().await;
        }

        async fn check(&self) -> Probe {
            let (mut probe, age) = self.last.get(|| probe_database(&self.pool)).await;
            probe.age_secs = age.as_secs();
            probe
        }
    }

    /// Probes PostgreSQL and AWS at the same time.
    pub async fn check(state: &AppState) -> HealthReport {
        let aws = async {
            let (mut probe, age) = state.aws.probe.get(|| probe_aws(&state.aws)).await;
            probe.age_secs = age.as_secs();
            probe
        };
        let (database, aws) = tokio::join!(state.health_db.check(), aws);
        let audit_anchor = state.checkpoints.as_ref().map(|c| match c.refused() {
            None => Probe {
                ok: true,
                latency_ms: 0,
                detail: "the audit trail extends its last checkpoint".to_owned(),
                age_secs: 0,
            },
            Some(_) => down(
                0,
                "refusing to sign the audit trail: it no longer extends its last checkpoint",
            ),
        });
        let status = if database.ok && aws.ok && audit_anchor.as_ref().is_none_or(|a| a.ok) {
            Status::Ok
        } else {
            Status::Degraded
        };
        HealthReport {
            status,
            checked_at: chrono::Utc::now(),
            database,
            aws,
            audit_anchor,
        }
    }

    async fn probe_database(pool: &PgPool) -> Probe {
        let started = Instant::now();
        let query = sqlx::query_scalar!(r#"SELECT 1 AS "one!""#).fetch_one(pool);
        let outcome = tokio::time::timeout(DATABASE_TIMEOUT, query).await;
        let latency_ms = elapsed_ms(started);
        match outcome {
            Ok(Ok(_)) => Probe {
                ok: true,
                latency_ms,
                detail: "PostgreSQL answered".to_owned(),
                age_secs: 0,
            },
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "database health probe failed");
                down(latency_ms, "PostgreSQL refused the probe")
            }
            Err(_) => {
                tracing::warn!("database health probe timed out");
                down(latency_ms, "PostgreSQL did not answer in time")
            }
        }
    }

    /// `ListWebACLs` with a limit of one: cheap, needs only read access, and
    /// exercises credentials, region and endpoint together.
    async fn probe_aws(aws: &AwsClients) -> Probe {
        let started = Instant::now();
        let request = aws
            .probe_wafv2
            .list_web_acls()
            .scope(Scope::Regional)
            .limit(1)
            .send();
        let outcome = tokio::time::timeout(aws.probe_timeout, request).await;
        let latency_ms = elapsed_ms(started);
        match outcome {
            Ok(Ok(_)) => Probe {
                ok: true,
                latency_ms,
                detail: format!("WAFv2 answered in {}", aws.region),
                age_secs: 0,
            },
            Ok(Err(err)) => {
                tracing::warn!(error = %aws_sdk_wafv2::error::DisplayErrorContext(&err), "AWS health probe failed");
                down(latency_ms, "AWS refused the probe")
            }
            Err(_) => {
                tracing::warn!("AWS health probe timed out");
                down(latency_ms, "AWS did not answer in time")
            }
        }
    }

    fn down(latency_ms: u64, detail: &str) -> Probe {
        Probe {
            ok: false,
            latency_ms,
            detail: detail.to_owned(),
            age_secs: 0,
        }
    }

    fn elapsed_ms(started: Instant) -> u64 {
        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}
