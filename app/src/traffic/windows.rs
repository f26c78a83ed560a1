//! Counting requests per key per window, from counts per 10-second bucket.
//!
//! Fixed windows are aligned to the Unix epoch (window index =
//! floor(timestamp / window)), as the AWS guidance's Athena queries count.
//! Sliding windows start every 10 seconds, aligned to the epoch, and
//! overlap: every window that holds at least one of the key's requests is
//! counted, which is closer to how WAF counts. Windows are reported by
//! their start. Pure: no I/O, so it is tested beside the code and could
//! run in the browser.

use super::query::SLIDE_SECONDS;
use serde::{Deserialize, Serialize};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// One key's requests in one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopRow {
    pub key: String,
    pub uri: Option<String>,
    /// Seconds since the Unix epoch.
    pub window_start: i64,
    pub count: u64,
}

/// The order of the top list: count descending, then window start, key
/// and URI ascending.
fn rank(a: &TopRow, b: &TopRow) -> Ordering {
    b.count
        .cmp(&a.count)
        .then(a.window_start.cmp(&b.window_start))
        .then_with(|| a.key.cmp(&b.key))
        .then_with(|| a.uri.cmp(&b.uri))
}

/// Whether a row with these values comes before `other` in [`rank`] order.
fn ranks_before(count: u64, start: i64, key: &str, uri: Option<&str>, other: &TopRow) -> bool {
    other
        .count
        .cmp(&count)
        .then(start.cmp(&other.window_start))
        .then_with(|| key.cmp(&other.key))
        .then_with(|| uri.cmp(&other.uri.as_deref()))
        == Ordering::Less
}

struct Ranked(TopRow);
impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        rank(&self.0, &other.0) == Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        rank(&self.0, &other.0)
    }
}

/// A key's windows, in order of their start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    pub key: String,
    pub uri: Option<String>,
    /// (window start in seconds since the epoch, requests)
    pub windows: Vec<(i64, u64)>,
}

impl Series {
    pub fn peak(&self) -> u64 {
        self.windows.iter().map(|w| w.1).max().unwrap_or(0)
    }
}

/// Puts one key's (10-second bucket, requests) in order of bucket, one
/// entry a bucket (rows arrive by segment, and segments may overlap).
pub fn in_order(buckets: &mut Vec<(i64, u64)>) {
    if !buckets.is_sorted_by_key(|b| b.0) {
        buckets.sort_unstable_by_key(|b| b.0);
    }
    buckets.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            earlier.1 += later.1;
        }
        same
    });
}

/// Calls `window` for each window of one key that holds requests, in order
/// of start. `buckets` are (10-second bucket index, requests), ascending.
pub fn each_window(
    buckets: &[(i64, u64)],
    window_seconds: u32,
    sliding: bool,
    mut window: impl FnMut(i64, u64),
) {
    let span = i64::from(window_seconds) / SLIDE_SECONDS;
    if span <= 0 {
        return;
    }
    if !sliding {
        let mut current: Option<(i64, u64)> = None;
        for &(bucket, requests) in buckets {
            let start = bucket.div_euclid(span) * span;
            match &mut current {
                Some((s, total)) if *s == start => *total += requests,
                _ => {
                    if let Some((s, total)) = current.take() {
                        window(s * SLIDE_SECONDS, total);
                    }
                    current = Some((start, requests));
                }
            }
        }
        if let Some((s, total)) = current {
            window(s * SLIDE_SECONDS, total);
        }
        return;
    }
    // Windows starting at s cover buckets s ..= s + span - 1.
    let Some(&(first, _)) = buckets.first() else {
        return;
    };
    let (mut low, mut high, mut total) = (0usize, 0usize, 0u64);
    let mut start = first - span + 1;
    loop {
        while high < buckets.len() && buckets[high].0 < start + span {
            total += buckets[high].1;
            high += 1;
        }
        while low < high && buckets[low].0 < start {
            total -= buckets[low].1;
            low += 1;
        }
        if total > 0 {
            window(start * SLIDE_SECONDS, total);
            start += 1;
        } else if high < buckets.len() {
            // Nothing in this window: jump to the first that reaches the next bucket.
            start = buckets[high].0 - span + 1;
        } else {
            return;
        }
    }
}

/// Everything the analyses read from one pass over the keys.
pub struct Counter {
    window_seconds: u32,
    sliding: bool,
    limit: usize,
    top: BinaryHeap<Ranked>,
    /// Whether every key's windows are kept (for peaks, the what-if and
    /// the charts), or only the top list.
    keep_series: bool,
    series: Vec<Series>,
}

impl Counter {
    pub fn new(window_seconds: u32, sliding: bool, limit: usize) -> Self {
        Counter {
            window_seconds,
            sliding,
            limit,
            top: BinaryHeap::new(),
            keep_series: true,
            series: Vec::new(),
        }
    }

    /// A counter that keeps only the top list: `series` stays empty.
    pub fn top_only(window_seconds: u32, sliding: bool, limit: usize) -> Self {
        Counter {
            keep_series: false,
            ..Counter::new(window_seconds, sliding, limit)
        }
    }

    /// Adds one key's (key and URI, for `ip-uri`) buckets.
    pub fn add(&mut self, key: &str, uri: Option<&str>, buckets: &[(i64, u64)]) {
        let (top, limit, keep) = (&mut self.top, self.limit, self.keep_series);
        let mut windows = Vec::new();
        each_window(
            buckets,
            self.window_seconds,
            self.sliding,
            |start, count| {
                offer(top, limit, key, uri, start, count);
                if keep {
                    windows.push((start, count));
                }
            },
        );
        if keep {
            self.series.push(Series {
                key: key.to_owned(),
                uri: uri.map(str::to_owned),
                windows,
            });
        }
    }

    pub fn finish(self) -> Counted {
        let mut top: Vec<TopRow> = self.top.into_iter().map(|r| r.0).collect();
        top.sort_by(rank);
        Counted {
            top,
            series: self.series,
        }
    }
}

/// Puts a window in the top list if it ranks among the first `limit`.
fn offer(
    top: &mut BinaryHeap<Ranked>,
    limit: usize,
    key: &str,
    uri: Option<&str>,
    start: i64,
    count: u64,
) {
    let full = top.len() >= limit;
    // Most windows lose to the worst of a full list: decide before copying the key.
    if full
        && top
            .peek()
            .is_none_or(|worst| !ranks_before(count, start, key, uri, &worst.0))
    {
        return;
    }
    if full {
        top.pop();
    }
    top.push(Ranked(TopRow {
        key: key.to_owned(),
        uri: uri.map(str::to_owned),
        window_start: start,
        count,
    }));
}

/// (peak, key and URI with the smaller first, index): the larger, the busier.
type Choice<'a> = (u64, Reverse<(&'a str, Option<&'a str>)>, usize);

pub struct Counted {
    /// Ordered by [`rank`].
    pub top: Vec<TopRow>,
    /// Every key's windows.
    pub series: Vec<Series>,
}

impl Counted {
    /// Each key's busiest window, ascending.
    pub fn peaks(&self) -> Vec<u64> {
        let mut peaks: Vec<u64> = self.series.iter().map(Series::peak).collect();
        peaks.sort_unstable();
        peaks
    }

    /// The `n` keys with the highest peaks (ties: key order), busiest first.
    pub fn busiest(&self, n: usize) -> Vec<Series> {
        let mut chosen: BinaryHeap<Reverse<Choice>> = BinaryHeap::new();
        for (i, series) in self.series.iter().enumerate() {
            chosen.push(Reverse((
                series.peak(),
                Reverse((&series.key, series.uri.as_deref())),
                i,
            )));
            if chosen.len() > n {
                chosen.pop();
            }
        }
        let mut picked: Vec<_> = chosen.into_iter().map(|Reverse(entry)| entry).collect();
        picked.sort_by(|a, b| b.cmp(a));
        picked
            .into_iter()
            .map(|(_, _, i)| self.series[i].clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(buckets: &[(i64, u64)], seconds: u32, sliding: bool) -> Vec<(i64, u64)> {
        let mut out = Vec::new();
        each_window(buckets, seconds, sliding, |s, c| out.push((s, c)));
        out
    }

    #[test]
    fn fixed_windows_are_aligned_to_the_epoch() {
        // Buckets 5 (50 s), 6 (60 s), 11 (110 s), 12 (120 s).
        let buckets = [(5, 1), (6, 2), (11, 3), (12, 4)];
        assert_eq!(windows(&buckets, 60, false), [(0, 1), (60, 5), (120, 4)]);
        assert_eq!(windows(&buckets, 120, false), [(0, 6), (120, 4)]);
    }

    #[test]
    fn sliding_windows_are_every_window_that_holds_a_request() {
        // 60 s windows (6 buckets): bucket 10 is in windows starting at buckets 5..=10.
        let out = windows(&[(10, 2)], 60, true);
        assert_eq!(out, (5..=10).map(|b| (b * 10, 2)).collect::<Vec<_>>());
        // Two buckets far apart: two runs of windows, nothing between them.
        let out = windows(&[(10, 1), (100, 1)], 60, true);
        assert_eq!(out.len(), 12);
        assert!(out.iter().all(|&(_, c)| c == 1));
        // Overlap: windows that hold both.
        let out = windows(&[(10, 1), (12, 5)], 60, true);
        assert_eq!(out.iter().map(|w| w.1).max(), Some(6));
        assert_eq!(out.first(), Some(&(50, 1)));
        assert_eq!(out.last(), Some(&(120, 5)));
    }

    /// The sweep agrees with counting every window start by brute force.
    #[test]
    fn sliding_windows_match_a_brute_force_count() {
        let buckets = [(3, 4), (4, 1), (9, 2), (30, 7), (31, 1), (70, 3)];
        for seconds in [60, 120, 300] {
            let span = i64::from(seconds) / 10;
            let mut expected = Vec::new();
            for start in -span..=80 {
                let total: u64 = buckets
                    .iter()
                    .filter(|(b, _)| (start..start + span).contains(b))
                    .map(|(_, c)| c)
                    .sum();
                if total > 0 {
                    expected.push((start * 10, total));
                }
            }
            assert_eq!(windows(&buckets, seconds, true), expected, "{seconds}");
        }
    }

    #[test]
    fn the_top_list_keeps_the_order_the_spec_gives() {
        let mut counter = Counter::new(60, false, 3);
        counter.add("b", None, &[(0, 5), (6, 9)]);
        counter.add("a", None, &[(0, 5)]);
        counter.add("c", None, &[(6, 1)]);
        let counted = counter.finish();
        let mut only = Counter::top_only(60, false, 3);
        only.add("b", None, &[(0, 5), (6, 9)]);
        only.add("a", None, &[(0, 5)]);
        only.add("c", None, &[(6, 1)]);
        let only = only.finish();
        assert_eq!(only.top, counted.top, "the same list");
        assert!(only.series.is_empty());
        let top: Vec<_> = counted
            .top
            .iter()
            .map(|r| (r.key.as_str(), r.window_start, r.count))
            .collect();
        assert_eq!(top, [("b", 60, 9), ("a", 0, 5), ("b", 0, 5)]);
        assert_eq!(counted.peaks(), [1, 5, 9]);
        let busiest: Vec<_> = counted.busiest(2).into_iter().map(|s| s.key).collect();
        assert_eq!(busiest, ["b", "a"]);
    }
}
