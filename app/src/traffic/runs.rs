//! An analysis's runs on Amazon Athena as pages show them: where each is,
//! what it scanned and what that cost. Shared by the server, which keeps
//! and advances runs (`athena_run`), and the browser, which shows them.

use chrono::{DateTime, Utc};

/// The log source an analysis reads when none is named: the logs
/// imported into PostgreSQL.
pub const IMPORTED: &str = "imported";
use serde::{Deserialize, Serialize};

/// Athena's price per TB scanned (us-east-1 and most Regions), billed per
/// query with a 10 MB minimum.
pub const DEFAULT_PRICE_PER_TB: f64 = 5.0;
const MIN_BILLED_BYTES: i64 = 10 * 1_000_000;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
    }

    pub fn parse(stored: &str) -> RunState {
        match stored {
            "running" => RunState::Running,
            "succeeded" => RunState::Succeeded,
            "failed" => RunState::Failed,
            "cancelled" => RunState::Cancelled,
            _ => RunState::Queued,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunState::Succeeded | RunState::Failed | RunState::Cancelled
        )
    }
}

/// A run as pages and the command line show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: i64,
    pub source: String,
    pub query_execution_id: Option<String>,
    pub state: RunState,
    pub reason: Option<String>,
    pub bytes_scanned: i64,
    pub execution_ms: i64,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Run {
    /// What the run costs at `price_per_tb` dollars per TB scanned.
    pub fn cost(&self, price_per_tb: f64) -> f64 {
        if self.state == RunState::Queued {
            return 0.0;
        }
        self.bytes_scanned.max(MIN_BILLED_BYTES) as f64 / 1e12 * price_per_tb
    }
}

/// An Athena source's side of a Traffic page view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AthenaStatus {
    /// The log source's name.
    pub source: String,
    /// The console talks to an AWS emulator, whose Athena runs no SQL.
    pub emulator: bool,
    /// The analysis's run; `None` before anyone ran it.
    pub counts: Option<Run>,
    /// The what-if's run, once the analysis's peaks named its limit.
    pub what_if: Option<Run>,
    /// Dollars per TB scanned, for the cost shown.
    pub price_per_tb: f64,
}

impl AthenaStatus {
    /// Whether a run is still going: the page looks again shortly.
    pub fn in_flight(&self) -> bool {
        [&self.counts, &self.what_if]
            .into_iter()
            .flatten()
            .any(|run| !run.state.is_final())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_costs_its_bytes_with_athenas_minimum() {
        let run = |state, bytes| Run {
            id: 1,
            source: "s".into(),
            query_execution_id: None,
            state,
            reason: None,
            bytes_scanned: bytes,
            execution_ms: 0,
            started_by: "a".into(),
            started_at: Utc::now(),
            finished_at: None,
        };
        assert_eq!(run(RunState::Succeeded, 2_000_000_000_000).cost(5.0), 10.0);
        assert_eq!(
            run(RunState::Succeeded, 1).cost(5.0),
            0.00005,
            "10 MB at least"
        );
        assert_eq!(run(RunState::Queued, 0).cost(5.0), 0.0);
    }
}
