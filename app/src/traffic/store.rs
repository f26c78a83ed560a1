//! Answering an analysis from the counts in PostgreSQL: the segments of the
//! time range are read and tallied per key per 10-second bucket
//! ([`Tally`]); [`Counter`] turns the buckets into windows.

use super::healthy::{Healthy, LeftOut, outlier_threshold};
use super::query::Analysis;
use super::segment::{Damaged, IpBuckets, Segment};
use super::tally::Tally;
use super::threshold::{Basis, Peaks, WhatIf, recommend, what_if};
use super::windows::{Counter, Series, TopRow};
use super::{ImportRow, Recommendation};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::PgPool;

/// Keys drawn as lines in "requests over time".
pub const CHART_KEYS: usize = 5;

/// How much of an answer is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The top list only (`gatehouse traffic top`).
    Top,
    /// Also every key's windows: peaks, the what-if, the charts.
    Everything,
}

/// An analysis answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub top: Vec<TopRow>,
    /// Every key's peak, ascending (empty for [`Detail::Top`]; so are the
    /// two below).
    pub peaks: Vec<u64>,
    pub busiest: Vec<Series>,
    pub series: Vec<Series>,
    /// All keys' requests per 10-second bucket, ascending.
    pub totals: Vec<(i64, u64)>,
    /// The healthy basis's peaks, ascending, outliers still in, and what
    /// it left out; `None` when no healthy basis was asked for.
    pub healthy: Option<(Vec<u64>, LeftOut)>,
}

impl Answer {
    pub fn recommendation(
        &self,
        basis: Basis,
        buffer_percent: u32,
        limit: Option<u64>,
    ) -> Recommendation {
        let (peaks, left_out) = match &self.healthy {
            None => (Peaks::of(&self.peaks), None),
            Some((kept, left_out)) => {
                let (kept, left_out) = without_outliers(kept, *left_out);
                (Peaks::of(kept), Some(left_out))
            }
        };
        let recommended = recommend(&peaks, basis, buffer_percent);
        let what_if: WhatIf = what_if(&self.series, limit.unwrap_or(recommended));
        Recommendation {
            peaks,
            basis,
            buffer_percent,
            recommended,
            left_out,
            what_if,
        }
    }
}

/// The healthy peaks without the outliers (when the basis leaves them
/// out), and the keys left out noted.
fn without_outliers(sorted: &[u64], mut left_out: LeftOut) -> (&[u64], LeftOut) {
    let kept = match left_out.outlier_above {
        0 => sorted,
        above => &sorted[..sorted.partition_point(|&p| p <= above)],
    };
    left_out.outlier_keys = (sorted.len() - kept.len()) as u64;
    left_out.keys = kept.len() as u64;
    (kept, left_out)
}

/// Answers kept, at most: the Traffic page's recent views and the
/// dashboard's per-rule analyses.
const ANSWERS_KEPT: usize = 8;

/// An answer with more windows than this (16 bytes each) is not kept: a
/// month of a busy site's keys would hold hundreds of megabytes.
const WINDOWS_KEPT: usize = 1_000_000;

/// What was imported into a database: the number of stored segments and
/// the newest file. An import or a removal changes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    database: String,
    segments: i64,
    newest: i64,
}

impl Imported {
    pub async fn now(pool: &PgPool) -> Result<Imported, sqlx::Error> {
        let row = sqlx::query!(
            r#"SELECT current_database() AS "database!",
                      (SELECT count(*) FROM traffic_segments) AS "segments!",
                      (SELECT coalesce(max(id), 0) FROM log_files) AS "newest!""#
        )
        .fetch_one(pool)
        .await?;
        Ok(Imported {
            database: row.database,
            segments: row.segments,
            newest: row.newest,
        })
    }
}

/// Answers worked out from the imported traffic, kept until the imports
/// change (and, with a `max_age`, no longer than that): a page viewed
/// again, or by someone else, is not worked out again. The same question
/// asked at once is worked out once, the others waiting for its answer.
pub struct Kept<V> {
    max_age: Option<std::time::Duration>,
    entries: crate::fresh::Keyed<(Imported, String), Option<(tokio::time::Instant, V)>>,
}

impl<V: Clone> Kept<V> {
    pub fn new(capacity: usize, max_age: Option<std::time::Duration>) -> Self {
        Kept {
            max_age,
            entries: crate::fresh::Keyed::new(capacity),
        }
    }

    /// The answer to `question` over what `pool` holds, worked out by
    /// `work` unless kept; kept only when `keep` says it is small enough.
    pub async fn get<E, Fut>(
        &self,
        pool: &PgPool,
        question: String,
        work: impl FnOnce() -> Fut,
        keep: impl FnOnce(&V) -> bool,
    ) -> Result<V, E>
    where
        E: From<sqlx::Error>,
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        let imported = Imported::now(pool).await?;
        let entry = self.entries.entry((imported, question));
        let mut entry = entry.lock().await;
        if let Some((at, value)) = &*entry
            && self.max_age.is_none_or(|max| at.elapsed() < max)
        {
            return Ok(value.clone());
        }
        let value = work().await?;
        *entry = keep(&value).then(|| (tokio::time::Instant::now(), value.clone()));
        Ok(value)
    }
}

static ANSWERS: std::sync::LazyLock<Kept<Answer>> =
    std::sync::LazyLock::new(|| Kept::new(ANSWERS_KEPT, None));

/// [`compute`]'s answer, kept until the imports change: the counts change
/// only on import. The cost of a view is one small query.
pub async fn answer(
    pool: &PgPool,
    analysis: &Analysis,
    detail: Detail,
    healthy: Option<&Healthy>,
) -> Result<Answer, sqlx::Error> {
    let question = serde_json::json!([analysis, detail == Detail::Top, healthy]).to_string();
    ANSWERS
        .get(
            pool,
            question,
            || compute(pool, analysis, detail, healthy),
            |answer| answer.series.iter().map(|s| s.windows.len()).sum::<usize>() <= WINDOWS_KEPT,
        )
        .await
}

/// Runs `analysis` over everything imported: reads the segments that
/// overlap its time range — only their per-IP buckets when those answer it
/// — and counts them on a thread of their own as they arrive, so reading
/// from the database and counting overlap.
///
/// With a `healthy` basis, the same rows are also counted as the basis
/// keeps them, for the recommendation's peaks.
pub async fn compute(
    pool: &PgPool,
    analysis: &Analysis,
    detail: Detail,
    healthy: Option<&Healthy>,
) -> Result<Answer, sqlx::Error> {
    let by_ip = Tally::ip_buckets_answer(analysis) && healthy.is_none();
    let (sender, received) = std::sync::mpsc::sync_channel::<Vec<u8>>(16);
    let counting = {
        let analysis = analysis.clone();
        let healthy = healthy.cloned();
        tokio::task::spawn_blocking(move || {
            count(&analysis, detail, by_ip, healthy.as_ref(), received)
        })
    };
    let (from, to) = (analysis.from.timestamp(), analysis.to.timestamp());
    let mut segments = match by_ip {
        true => sqlx::query_scalar!(
            "SELECT by_ip FROM traffic_segments
             WHERE first_second < $2 AND last_second >= $1 ORDER BY first_second",
            from,
            to,
        )
        .fetch(pool),
        false => sqlx::query_scalar!(
            "SELECT data FROM traffic_segments
             WHERE first_second < $2 AND last_second >= $1 ORDER BY first_second",
            from,
            to,
        )
        .fetch(pool),
    };
    while let Some(bytes) = segments.try_next().await? {
        if sender.send(bytes).is_err() {
            break; // the counting stopped on a damaged segment; its error follows
        }
    }
    drop(sender);
    let damaged = |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::Decode(e);
    counting
        .await
        .map_err(|e| damaged(Box::new(e)))?
        .map_err(|e| damaged(Box::new(e)))
}

fn count(
    analysis: &Analysis,
    detail: Detail,
    by_ip: bool,
    healthy: Option<&Healthy>,
    segments: std::sync::mpsc::Receiver<Vec<u8>>,
) -> Result<Answer, Damaged> {
    let mut tally = Tally::new(analysis);
    let mut basis = healthy.map(|h| Tally::healthy(analysis, h));
    for bytes in segments {
        if by_ip {
            tally.add_ip_buckets(&IpBuckets::decode(&bytes)?)?;
            continue;
        }
        let segment = Segment::decode(&bytes)?;
        tally.add(&segment)?;
        if let Some(basis) = &mut basis {
            basis.add(&segment)?;
        }
    }
    let (window, sliding, limit) = (analysis.window, analysis.sliding, analysis.limit);
    let mut counter = match detail {
        Detail::Everything => Counter::new(window, sliding, limit),
        Detail::Top => Counter::top_only(window, sliding, limit),
    };
    let totals = tally.finish(&mut counter);
    let counted = counter.finish();
    let healthy = basis.map(|basis| {
        let mut left_out = basis.left_out();
        let mut kept = Counter::new(window, sliding, 1);
        basis.finish(&mut kept);
        let peaks = kept.finish().peaks();
        if healthy.is_some_and(|h| h.outliers) {
            left_out.outlier_above = outlier_threshold(&peaks).unwrap_or(0);
        }
        (peaks, left_out)
    });
    Ok(Answer {
        peaks: counted.peaks(),
        busiest: counted.busiest(CHART_KEYS),
        top: counted.top,
        series: counted.series,
        totals,
        healthy,
    })
}

/// The imports, newest first.
pub async fn imports(pool: &PgPool, limit: i64) -> Result<Vec<ImportRow>, sqlx::Error> {
    sqlx::query_as!(
        ImportRow,
        r#"SELECT id, source, imported_by, started_at, files, records, malformed, duplicates_skipped,
                  first_at, last_at
           FROM log_imports WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT $1"#,
        limit
    )
    .fetch_all(pool)
    .await
}

/// The default range of an analysis or a replay: whole minutes around the
/// last day of what was imported (imports of other years would otherwise
/// stretch the charts flat), or the day before `now` when nothing is.
pub async fn default_range(
    pool: &PgPool,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), sqlx::Error> {
    let minute =
        |seconds: i64| DateTime::from_timestamp(seconds - seconds.rem_euclid(60), 0).unwrap_or(now);
    Ok(match span(pool).await? {
        Some((first, last)) => {
            let first = first.max(last - chrono::Duration::days(1));
            (
                minute(first.timestamp()),
                minute(last.timestamp()) + chrono::Duration::minutes(1),
            )
        }
        None => {
            let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
            (now - chrono::Duration::days(1), now)
        }
    })
}

/// The imported traffic of a range and web ACL, gathered for replays.
pub async fn replay_traffic(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    web_acl: Option<&str>,
    plan: std::sync::Arc<super::replay::Plan>,
) -> Result<super::replay::Traffic, sqlx::Error> {
    let (from, to) = (from.timestamp(), to.timestamp());
    // Two gatherers, the segments dealt between them as they arrive; the
    // second's traffic is merged into the first's.
    let mut senders = Vec::new();
    let mut gatherers = Vec::new();
    for _ in 0..GATHERERS {
        let (sender, received) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
        let web_acl = web_acl.map(str::to_owned);
        let plan = plan.clone();
        senders.push(sender);
        gatherers.push(tokio::task::spawn_blocking(move || {
            let mut traffic = super::replay::Traffic::new(from, to, web_acl, plan);
            for bytes in received {
                traffic.add(&Segment::decode(&bytes)?)?;
            }
            Ok::<_, Damaged>(traffic)
        }));
    }
    let mut segments = sqlx::query_scalar!(
        "SELECT data FROM traffic_segments
         WHERE first_second < $2 AND last_second >= $1 ORDER BY first_second",
        from,
        to,
    )
    .fetch(pool);
    let mut turn = 0;
    while let Some(bytes) = segments.try_next().await? {
        if senders[turn % GATHERERS].send(bytes).is_err() {
            break; // a gatherer stopped on a damaged segment; its error follows
        }
        turn += 1;
    }
    drop(senders);
    let damaged = |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::Decode(e);
    let mut gathered = Vec::new();
    for gatherer in gatherers {
        gathered.push(
            gatherer
                .await
                .map_err(|e| damaged(Box::new(e)))?
                .map_err(|e| damaged(Box::new(e)))?,
        );
    }
    let mut traffic = gathered.remove(0);
    for other in gathered {
        traffic.merge(other);
    }
    Ok(traffic)
}

/// Threads gathering a replay's traffic.
const GATHERERS: usize = 2;

/// The span of everything imported, if anything is: the default range.
pub async fn span(pool: &PgPool) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, sqlx::Error> {
    let row = sqlx::query!(r#"SELECT min(first_at) AS "first: DateTime<Utc>", max(last_at) AS "last: DateTime<Utc>" FROM log_files"#)
        .fetch_one(pool)
        .await?;
    Ok(row.first.zip(row.last))
}
