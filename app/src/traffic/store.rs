//! Answering an analysis from the counts in PostgreSQL: the database sums
//! requests per key per 10-second bucket over the time range and filters;
//! [`Counter`] turns the buckets into windows.

use super::query::{Analysis, KeyBy, UriMatch};
use super::threshold::{Basis, Peaks, WhatIf, recommend, what_if};
use super::windows::{Counter, Series, TopRow};
use super::{ImportRow, Recommendation};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::PgPool;

/// Keys drawn as lines in "requests over time".
pub const CHART_KEYS: usize = 5;

/// An analysis answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub top: Vec<TopRow>,
    /// Every key's peak, ascending.
    pub peaks: Vec<u64>,
    pub busiest: Vec<Series>,
    pub series: Vec<Series>,
}

impl Answer {
    pub fn recommendation(
        &self,
        basis: Basis,
        buffer_percent: u32,
        limit: Option<u64>,
    ) -> Recommendation {
        let peaks = Peaks::of(&self.peaks);
        let recommended = recommend(&peaks, basis, buffer_percent);
        let what_if: WhatIf = what_if(&self.series, limit.unwrap_or(recommended));
        Recommendation {
            peaks,
            basis,
            buffer_percent,
            recommended,
            what_if,
        }
    }
}

const COUNTS: &str = "
    SELECT CASE WHEN $1 = 'country' THEN coalesce(country, '-') ELSE client_ip END AS key,
           CASE WHEN $1 = 'ip-uri' THEN uri END AS key_uri,
           second / 10 AS bucket,
           sum(requests)::bigint AS requests
    FROM traffic_counts
    WHERE second >= $2 AND second < $3
      AND ($4::text IS NULL OR CASE WHEN $5 THEN starts_with(uri, $4) ELSE uri = $4 END)
      AND ($6::text IS NULL OR method = $6)
      AND ($7::text IS NULL OR country = $7)
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3";

const FORWARDED: &str = "
    SELECT forwarded_ip AS key,
           NULL::text AS key_uri,
           second / 10 AS bucket,
           sum(requests)::bigint AS requests
    FROM traffic_forwarded
    WHERE header = lower($1) AND second >= $2 AND second < $3
      AND ($4::text IS NULL OR CASE WHEN $5 THEN starts_with(uri, $4) ELSE uri = $4 END)
      AND ($6::text IS NULL OR method = $6)
      AND ($7::text IS NULL OR country = $7)
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3";

/// Runs `analysis` over everything imported.
pub async fn answer(pool: &PgPool, analysis: &Analysis) -> Result<Answer, sqlx::Error> {
    let (sql, first) = match &analysis.by {
        KeyBy::Forwarded(header) => (FORWARDED, header.clone()),
        other => (COUNTS, other.as_text()),
    };
    let mut rows = sqlx::query_as::<_, (String, Option<String>, i64, i64)>(sql)
        .bind(first)
        .bind(analysis.from.timestamp())
        .bind(analysis.to.timestamp())
        .bind(analysis.uri.as_deref())
        .bind(analysis.uri_match == UriMatch::Prefix)
        .bind(analysis.method.as_deref())
        .bind(analysis.country.as_deref())
        .fetch(pool);
    let mut counter = Counter::new(analysis.window, analysis.sliding, analysis.limit);
    let mut current: Option<(String, Option<String>)> = None;
    let mut buckets: Vec<(i64, u64)> = Vec::new();
    while let Some((key, uri, bucket, requests)) = rows.try_next().await? {
        let same = current
            .as_ref()
            .is_some_and(|(k, u)| *k == key && *u == uri);
        if !same {
            if let Some((k, u)) = current.take() {
                counter.add(&k, u.as_deref(), &buckets);
            }
            buckets.clear();
            current = Some((key, uri));
        }
        buckets.push((bucket, requests.max(0) as u64));
    }
    if let Some((k, u)) = current {
        counter.add(&k, u.as_deref(), &buckets);
    }
    let counted = counter.finish();
    Ok(Answer {
        peaks: counted.peaks(),
        busiest: counted.busiest(CHART_KEYS),
        top: counted.top,
        series: counted.series,
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

/// The span of everything imported, if anything is: the default range.
pub async fn span(pool: &PgPool) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, sqlx::Error> {
    let row = sqlx::query!(r#"SELECT min(first_at) AS "first: DateTime<Utc>", max(last_at) AS "last: DateTime<Utc>" FROM log_files"#)
        .fetch_one(pool)
        .await?;
    Ok(row.first.zip(row.last))
}
