//! From peaks to a limit: the distribution of each key's busiest window, the
//! recommended rate limit, and what a limit would have blocked.

use super::windows::Series;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The limits a `RateBasedStatement` accepts.
pub const MIN_LIMIT: u64 = 10;
pub const MAX_LIMIT: u64 = 2_000_000_000;
pub const DEFAULT_BUFFER_PERCENT: u32 = 100;

/// What the recommendation is based on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Basis {
    P50,
    P90,
    P99,
    P999,
    Max,
}

impl Basis {
    pub const ALL: [Basis; 5] = [Basis::P50, Basis::P90, Basis::P99, Basis::P999, Basis::Max];

    pub fn as_str(self) -> &'static str {
        match self {
            Basis::P50 => "p50",
            Basis::P90 => "p90",
            Basis::P99 => "p99",
            Basis::P999 => "p99.9",
            Basis::Max => "max",
        }
    }

    pub fn parse(text: &str) -> Result<Basis, String> {
        Basis::ALL
            .into_iter()
            .find(|b| b.as_str() == text)
            .ok_or_else(|| format!("percentile: {text:?} is not one of p50, p90, p99, p99.9, max"))
    }

    fn fraction(self) -> f64 {
        match self {
            Basis::P50 => 0.5,
            Basis::P90 => 0.9,
            Basis::P99 => 0.99,
            Basis::P999 => 0.999,
            Basis::Max => 1.0,
        }
    }
}

/// The distribution of per-key peaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peaks {
    pub keys: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub max: u64,
}

impl Peaks {
    /// Nearest-rank percentiles: the p-th is the smallest peak with at
    /// least p % of the keys at or below it. `sorted` ascending.
    pub fn of(sorted: &[u64]) -> Peaks {
        Peaks {
            keys: sorted.len() as u64,
            p50: nearest_rank(sorted, Basis::P50),
            p90: nearest_rank(sorted, Basis::P90),
            p99: nearest_rank(sorted, Basis::P99),
            p99_9: nearest_rank(sorted, Basis::P999),
            max: sorted.last().copied().unwrap_or(0),
        }
    }

    pub fn at(&self, basis: Basis) -> u64 {
        match basis {
            Basis::P50 => self.p50,
            Basis::P90 => self.p90,
            Basis::P99 => self.p99,
            Basis::P999 => self.p99_9,
            Basis::Max => self.max,
        }
    }
}

fn nearest_rank(sorted: &[u64], basis: Basis) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    // ceil(p × n) computed in thousandths so that 0.999 × 1000 is exactly 999.
    let per_mille = (basis.fraction() * 1000.0).round() as u64;
    let rank = (per_mille * sorted.len() as u64).div_ceil(1000).max(1);
    sorted[(rank as usize - 1).min(sorted.len() - 1)]
}

/// The recommended limit: the basis × (1 + buffer), rounded up and held
/// to what WAF accepts.
pub fn recommend(peaks: &Peaks, basis: Basis, buffer_percent: u32) -> u64 {
    let base = peaks.at(basis);
    let raised = (u128::from(base) * u128::from(100 + buffer_percent)).div_ceil(100);
    raised.clamp(u128::from(MIN_LIMIT), u128::from(MAX_LIMIT)) as u64
}

/// What one limit would have blocked in one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedWindow {
    pub window_start: i64,
    /// Keys over the limit in this window.
    pub keys: u64,
    /// Requests beyond the limit, summed over those keys.
    pub requests: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhatIf {
    pub limit: u64,
    /// Distinct keys over the limit in at least one window.
    pub keys: u64,
    /// Requests beyond the limit, summed over windows (with sliding windows,
    /// a request counts once for each window it is over the limit in).
    pub requests: u64,
    /// Windows in which some key was over the limit, in order.
    pub windows: Vec<BlockedWindow>,
}

/// Replays `limit` against every key's windows: a key is over when its
/// count in a window exceeds the limit, as a rate-based rule blocks.
pub fn what_if(series: &[Series], limit: u64) -> WhatIf {
    let mut by_window: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    let mut keys = 0;
    for one in series {
        let mut over = false;
        for &(start, count) in &one.windows {
            if count > limit {
                over = true;
                let entry = by_window.entry(start).or_default();
                entry.0 += 1;
                entry.1 += count - limit;
            }
        }
        keys += u64::from(over);
    }
    let windows: Vec<BlockedWindow> = by_window
        .into_iter()
        .map(|(window_start, (keys, requests))| BlockedWindow {
            window_start,
            keys,
            requests,
        })
        .collect();
    WhatIf::of(limit, keys, windows)
}

impl WhatIf {
    /// The what-if of `limit` from the windows it blocked in (in order) and
    /// the distinct keys it blocked.
    pub fn of(limit: u64, keys: u64, windows: Vec<BlockedWindow>) -> WhatIf {
        WhatIf {
            limit,
            keys,
            requests: windows.iter().map(|w| w.requests).sum(),
            windows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<u64> = (1..=1000).collect();
        let peaks = Peaks::of(&sorted);
        assert_eq!(
            (peaks.p50, peaks.p90, peaks.p99, peaks.p99_9, peaks.max),
            (500, 900, 990, 999, 1000)
        );
        let few = Peaks::of(&[3, 7, 40]);
        assert_eq!((few.p50, few.p90, few.p99, few.max), (7, 40, 40, 40));
        assert_eq!(Peaks::of(&[]), Peaks::default());
    }

    #[test]
    fn the_recommendation_adds_the_buffer_rounds_up_and_stays_in_wafs_range() {
        let peaks = Peaks::of(&[1, 2, 3, 101]);
        assert_eq!(recommend(&peaks, Basis::Max, 100), 202);
        assert_eq!(recommend(&peaks, Basis::Max, 33), 135, "134.33 rounds up");
        assert_eq!(
            recommend(&peaks, Basis::P50, 0),
            MIN_LIMIT,
            "2 is below WAF's minimum"
        );
        let huge = Peaks {
            max: 1_900_000_000,
            ..Peaks::default()
        };
        assert_eq!(recommend(&huge, Basis::Max, 100), MAX_LIMIT);
    }

    #[test]
    fn what_if_counts_keys_and_requests_over_the_limit_per_window() {
        let series = |key: &str, windows: &[(i64, u64)]| Series {
            key: key.into(),
            uri: None,
            windows: windows.to_vec(),
        };
        let all = [
            series("a", &[(0, 150), (300, 90)]),
            series("b", &[(0, 101), (300, 400)]),
            series("c", &[(0, 100)]),
        ];
        let replay = what_if(&all, 100);
        assert_eq!((replay.keys, replay.requests), (2, 50 + 1 + 300));
        assert_eq!(
            replay.windows,
            [
                BlockedWindow {
                    window_start: 0,
                    keys: 2,
                    requests: 51
                },
                BlockedWindow {
                    window_start: 300,
                    keys: 1,
                    requests: 300
                },
            ]
        );
    }
}
