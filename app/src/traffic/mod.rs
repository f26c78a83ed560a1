//! Traffic analysis (SPEC §2): the questions people ask of their WAF logs
//! and the answers — top keys per window, the distribution of peaks, the
//! recommended limit and what it would have blocked. The math is pure and
//! shared by the command line and the Traffic page; `store` reads the
//! segments of counts the import wrote.

pub mod health;
pub mod healthy;
pub mod query;
pub mod replay;
pub mod runs;
pub mod segment;
pub mod tally;
pub mod threshold;
pub mod windows;

#[cfg(feature = "ssr")]
pub mod athena;
#[cfg(feature = "ssr")]
pub mod athena_run;
#[cfg(feature = "ssr")]
pub mod athena_table;
#[cfg(feature = "ssr")]
pub mod athena_view;
#[cfg(feature = "ssr")]
pub mod charts;
#[cfg(feature = "ssr")]
pub mod replaying;
#[cfg(feature = "ssr")]
pub mod source;
#[cfg(feature = "ssr")]
pub mod store;

use chrono::{DateTime, Utc};
use healthy::LeftOut;
use serde::{Deserialize, Serialize};
use threshold::{Basis, Peaks, WhatIf};

/// The largest file the Traffic page uploads (512 MiB); larger ones go
/// through `gatehouse logs import`, which reads them in place.
pub const UPLOAD_LIMIT_BYTES: u64 = 512 * 1024 * 1024;

/// One import as the Traffic page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRow {
    pub id: i64,
    pub source: String,
    pub imported_by: String,
    pub started_at: DateTime<Utc>,
    pub files: i32,
    pub records: i64,
    pub malformed: i64,
    pub duplicates_skipped: i64,
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
}

/// The recommendation panel: peaks, the limit they suggest, and a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    pub peaks: Peaks,
    pub basis: Basis,
    pub buffer_percent: u32,
    pub recommended: u64,
    /// What the peaks leave out of the traffic (healthy traffic only);
    /// `None` when they are every key's.
    pub left_out: Option<LeftOut>,
    /// Replayed against all the traffic the analysis asked about.
    pub what_if: WhatIf,
}
