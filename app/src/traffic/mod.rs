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

/// What one log file may take to read, whoever imports it (an upload, the
/// command line, S3): a gzip that inflates past the smaller of
/// `max_inflated_bytes` and [`Self::MAX_RATIO`] times its own size is a
/// bomb, not a log, and is stopped there; a line longer than
/// [`Self::MAX_LINE_BYTES`] is no WAF record and is skipped, so that memory
/// stays flat whatever a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportLimits {
    /// Bytes a gzipped file may inflate to (8 GiB by default: a WAF log
    /// object is far smaller).
    pub max_inflated_bytes: u64,
}

impl ImportLimits {
    /// WAF records run to a few kilobytes (AWS WAF logs at most 8 KB of a
    /// request's headers); a line of a mebibyte is not one.
    pub const MAX_LINE_BYTES: usize = 1 << 20;
    /// Deflate cannot compress more than about 1,032 to 1; JSON logs
    /// compress about 10 to 1.
    pub const MAX_RATIO: u64 = 1000;

    /// What a gzipped file of `compressed` bytes may inflate to, and why.
    pub fn inflated_cap(&self, compressed: u64) -> (u64, &'static str) {
        let by_ratio = compressed.saturating_mul(Self::MAX_RATIO);
        if by_ratio < self.max_inflated_bytes {
            (by_ratio, "1,000 times its compressed size")
        } else {
            (
                self.max_inflated_bytes,
                "the import.max_inflated_bytes setting",
            )
        }
    }
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits {
            max_inflated_bytes: 8 << 30,
        }
    }
}

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
