//! The analyses as Amazon Athena (Trino) SQL over a table of WAF logs in
//! S3, and Athena's rows read back into the answers the imported engine
//! gives.
//!
//! An analysis is one statement: it scans the chosen days once and
//! returns, tagged per row, everything a Traffic page view draws — the top
//! list, the busiest keys' windows, every key's peak as a histogram
//! (`peak`, keys with that peak), the healthy basis's peaks, and the
//! requests per 10-second bucket with what the basis left out. The what-if
//! for a limit is a second statement, since its limit follows from the
//! first one's peaks. The meaning is the imported engine's
//! ([`super::tally`], [`super::windows`]): the same keys, filters, epoch
//! aligned fixed windows, sliding windows starting every 10 seconds, and
//! the same order of ties; `scripts/athena_duckdb.py` runs each statement
//! in DuckDB over logs laid out as in S3 in the test suite, and the rows
//! must equal the imported engine's answer.
//!
//! Nothing a person types enters the SQL text: values are `?` placeholders
//! filled from the execution parameters, and the only identifiers (the
//! database, table and partition columns) come from a registered data
//! source and are checked against Glue's naming rules.

use super::healthy::{Healthy, LeftOut};
use super::query::{Analysis, KeyBy, SLIDE_SECONDS, UNKNOWN_WEB_ACL, UriMatch, web_acl_name};
use super::store::{Answer, CHART_KEYS};
use super::threshold::{BlockedWindow, WhatIf};
use super::windows::{Series, TopRow};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The table an Athena data source reads: WAF's JSON log records under
/// `s3://BUCKET/AWSLogs/ACCOUNT/WAFLogs/REGION/WEBACL/YYYY/MM/dd/HH/mm/`,
/// partitioned by day (`yyyy/MM/dd`) and, where the table has one, region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogTable {
    pub database: String,
    pub table: String,
    /// The day partition column (`date` in the table Gatehouse creates).
    pub date_column: String,
    /// The region partition column and the value to read (`cloudfront`
    /// for CloudFront web ACLs), when the table has one.
    pub region: Option<(String, String)>,
}

impl LogTable {
    /// Checks the identifiers: Glue names them with lower-case letters,
    /// digits and underscores (Athena lower-cases the rest).
    pub fn validate(&self) -> Result<(), String> {
        let names = [
            ("database", &self.database),
            ("table", &self.table),
            ("date column", &self.date_column),
        ];
        let region = self
            .region
            .iter()
            .map(|(column, _)| ("region column", column));
        for (what, name) in names.into_iter().chain(region) {
            if !valid_identifier(name) {
                return Err(format!(
                    "{what}: {name:?} is not a Glue name (lower-case letters, digits and _, at most 255)"
                ));
            }
        }
        if let Some((_, value)) = &self.region
            && !(value == "cloudfront"
                || (!value.is_empty()
                    && value.len() <= 32
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')))
        {
            return Err(format!(
                "region: {value:?} is neither an AWS Region like us-east-1 nor cloudfront"
            ));
        }
        Ok(())
    }
}

fn valid_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A value for a `?` of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Parameter {
    Text(String),
    Integer(i64),
}

impl Parameter {
    /// The value as Athena's `ExecutionParameters` take it: a literal.
    pub fn literal(&self) -> String {
        match self {
            Parameter::Text(text) => format!("'{}'", text.replace('\'', "''")),
            Parameter::Integer(number) => number.to_string(),
        }
    }
}

/// One statement with its parameters, in the order of its `?`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub sql: String,
    pub parameters: Vec<Parameter>,
}

impl Statement {
    fn push(&mut self, text: &str) -> &mut Self {
        self.sql.push_str(text);
        self
    }

    fn text(&mut self, value: &str) -> &mut Self {
        self.sql.push('?');
        self.parameters.push(Parameter::Text(value.to_owned()));
        self
    }

    fn integer(&mut self, value: i64) -> &mut Self {
        self.sql.push('?');
        self.parameters.push(Parameter::Integer(value));
        self
    }

    /// The execution parameters, as Athena takes them.
    pub fn literals(&self) -> Vec<String> {
        self.parameters.iter().map(Parameter::literal).collect()
    }
}

/// Actions after which a request was not served as asked (the healthy
/// basis leaves them out).
const BLOCKING_ACTIONS: [&str; 3] = ["BLOCK", "CAPTCHA", "CHALLENGE"];

/// The days (`yyyy/MM/dd`) whose partitions hold the records of
/// `from ≤ time < to`. WAF files a record under the time it delivers its
/// file, minutes after the request, so a range that ends near midnight
/// also reads the next day.
pub fn partition_days(from: DateTime<Utc>, to: DateTime<Utc>) -> (String, String) {
    let day = |t: DateTime<Utc>| t.format("%Y/%m/%d").to_string();
    (day(from), day(to + Duration::hours(1)))
}

/// The columns of the first statement's rows, in order.
pub const COUNT_COLUMNS: [&str; 14] = [
    "total_row",
    "key",
    "uri",
    "window_start",
    "requests",
    "top_rank",
    "busiest_rank",
    "peak",
    "keys_with_peak",
    "healthy_peak",
    "keys_with_healthy_peak",
    "excluded_time",
    "blocked",
    "labelled",
];

/// The first statement: everything a view of `analysis` draws, and with
/// a `healthy` basis its peaks and what it left out.
pub fn counts(table: &LogTable, analysis: &Analysis, healthy: Option<&Healthy>) -> Statement {
    let mut s = Statement {
        sql: String::new(),
        parameters: Vec::new(),
    };
    windows(&mut s, table, analysis, healthy, true);
    let top = analysis.limit as i64;
    s.push(
        ",\nranked AS (\n  SELECT *,\n    \
         row_number() OVER (PARTITION BY total_row ORDER BY requests DESC, start, key, uri) AS top_rank,\n    \
         max(requests) OVER (PARTITION BY total_row, key, uri) AS peak,\n    \
         max(healthy_requests) OVER (PARTITION BY total_row, key, uri) AS healthy_peak,\n    \
         row_number() OVER (PARTITION BY total_row, key, uri ORDER BY start) AS key_window\n  \
         FROM windows\n),\n\
         keyed AS (\n  SELECT *,\n    \
         dense_rank() OVER (PARTITION BY total_row ORDER BY peak DESC, key, uri) AS busiest_rank,\n    \
         row_number() OVER (PARTITION BY total_row, key_window, peak ORDER BY key, uri) AS first_with_peak,\n    \
         count_if(key_window = 1) OVER (PARTITION BY total_row, peak) AS keys_with_peak,\n    \
         row_number() OVER (PARTITION BY total_row, key_window, healthy_peak ORDER BY key, uri) AS first_with_healthy_peak,\n    \
         count_if(key_window = 1) OVER (PARTITION BY total_row, healthy_peak) AS keys_with_healthy_peak\n  \
         FROM ranked\n)\n\
         SELECT total_row, key, uri, start * 10 AS window_start, requests,\n  \
         CASE WHEN total_row = 0 AND top_rank <= ",
    )
    .integer(top)
    .push(
        " THEN top_rank END AS top_rank,\n  \
         CASE WHEN total_row = 0 AND busiest_rank <= ",
    )
    .integer(CHART_KEYS as i64)
    .push(
        " THEN busiest_rank END AS busiest_rank,\n  \
         CASE WHEN total_row = 0 AND key_window = 1 AND first_with_peak = 1 THEN peak END AS peak,\n  \
         CASE WHEN total_row = 0 AND key_window = 1 AND first_with_peak = 1 THEN keys_with_peak END AS keys_with_peak,\n  \
         CASE WHEN total_row = 0 AND key_window = 1 AND first_with_healthy_peak = 1 AND healthy_peak > 0 THEN healthy_peak END AS healthy_peak,\n  \
         CASE WHEN total_row = 0 AND key_window = 1 AND first_with_healthy_peak = 1 AND healthy_peak > 0 THEN keys_with_healthy_peak END AS keys_with_healthy_peak,\n  \
         CASE WHEN total_row = 1 THEN excluded_time END AS excluded_time,\n  \
         CASE WHEN total_row = 1 THEN blocked END AS blocked,\n  \
         CASE WHEN total_row = 1 THEN labelled END AS labelled\n\
         FROM keyed\n\
         WHERE total_row = 1\n   OR top_rank <= ",
    )
    .integer(top)
    .push("\n   OR busiest_rank <= ")
    .integer(CHART_KEYS as i64)
    .push(
        "\n   OR (key_window = 1 AND (first_with_peak = 1 OR first_with_healthy_peak = 1))\n\
         ORDER BY total_row, window_start, key, uri",
    );
    s
}

/// The second statement: what `limit` would have blocked, window by
/// window (`new_keys`: keys over the limit for the first time there).
pub fn what_if(table: &LogTable, analysis: &Analysis, limit: u64) -> Statement {
    let mut s = Statement {
        sql: String::new(),
        parameters: Vec::new(),
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    windows(&mut s, table, analysis, None, false);
    s.push(",\nover_limit AS (\n  SELECT start, requests - ")
        .integer(limit)
        .push(
            " AS beyond,\n    \
             row_number() OVER (PARTITION BY key, uri ORDER BY start) AS key_window\n  \
             FROM windows\n  WHERE requests > ",
        )
        .integer(limit)
        .push(
            "\n)\n\
             SELECT start * 10 AS window_start, count(*) AS keys, sum(beyond) AS requests,\n  \
             count_if(key_window = 1) AS new_keys\n\
             FROM over_limit\nGROUP BY start\nORDER BY start",
        );
    s
}

/// `WITH asked AS (…), buckets AS (…), windows AS (…)`: the requests the
/// analysis asks about, per key and 10-second bucket, then per window.
/// With `totals`, `buckets` also holds a row per bucket of all keys
/// (`total_row = 1`, kept per bucket in `windows`), with what a healthy
/// basis leaves out.
fn windows(
    s: &mut Statement,
    table: &LogTable,
    analysis: &Analysis,
    healthy: Option<&Healthy>,
    totals: bool,
) {
    let request = "httprequest";
    let forwarded = match &analysis.by {
        KeyBy::Forwarded(header) => Some(header.as_str()),
        _ => None,
    };
    // The first address of a forwarded-IP header, canonical, or NULL.
    let address = "CAST(try_cast(trim(split_part(header.value, ',', 1)) AS ipaddress) AS varchar)";
    let key = match &analysis.by {
        KeyBy::Ip | KeyBy::IpUri => format!("{request}.clientip"),
        KeyBy::Forwarded(_) => address.to_owned(),
        KeyBy::Country => format!(
            "coalesce(nullif(nullif({request}.country, ''), '-'), '{}')",
            super::tally::NO_COUNTRY_KEY
        ),
    };
    let uri = match analysis.by {
        KeyBy::IpUri => format!("{request}.uri"),
        _ => "CAST(NULL AS varchar)".to_owned(),
    };
    s.push("WITH asked AS (\n  SELECT \"timestamp\" / 10000 AS bucket, ")
        .push(&key)
        .push(" AS key, ")
        .push(&uri)
        .push(" AS uri");
    match healthy {
        Some(healthy) => {
            s.push(",\n    ");
            excluded(s, healthy);
            s.push(" AS excluded,\n    ");
            match healthy.skip_blocked {
                true => s.push(&format!(
                    "coalesce(nullif(action, '') IN ({}), false)",
                    BLOCKING_ACTIONS.map(|a| format!("'{a}'")).join(", ")
                )),
                false => s.push("false"),
            };
            s.push(" AS blocked,\n    coalesce(");
            any_label(s, &healthy.bad_labels);
            s.push(", false) AS labelled");
        }
        None => {
            s.push(", false AS excluded, false AS blocked, false AS labelled");
        }
    }
    s.push(&format!(
        "\n  FROM \"{}\".\"{}\"",
        table.database, table.table
    ));
    if forwarded.is_some() {
        s.push(&format!(
            " CROSS JOIN UNNEST({request}.headers) AS h (header)"
        ));
    }
    let (first_day, last_day) = partition_days(analysis.from, analysis.to);
    s.push(&format!("\n  WHERE \"{}\" BETWEEN ", table.date_column))
        .text(&first_day)
        .push(" AND ")
        .text(&last_day);
    if let Some((column, value)) = &table.region {
        s.push(&format!(" AND \"{column}\" = ")).text(value);
    }
    s.push("\n    AND \"timestamp\" >= ")
        .integer(analysis.from.timestamp() * 1000)
        .push(" AND \"timestamp\" < ")
        .integer(analysis.to.timestamp() * 1000)
        .push(&format!(
            "\n    AND {request}.clientip IS NOT NULL AND {request}.uri IS NOT NULL AND {request}.httpmethod IS NOT NULL"
        ));
    if let Some(uri) = &analysis.uri {
        match analysis.uri_match {
            UriMatch::Exact => s.push(&format!("\n    AND {request}.uri = ")).text(uri),
            UriMatch::Prefix => s
                .push(&format!("\n    AND starts_with({request}.uri, "))
                .text(uri)
                .push(")"),
        };
    }
    if let Some(method) = &analysis.method {
        s.push(&format!("\n    AND {request}.httpmethod = "))
            .text(method);
    }
    if let Some(country) = &analysis.country {
        s.push(&format!("\n    AND {request}.country = "))
            .text(country);
    }
    match analysis.web_acl.as_deref() {
        None => {}
        Some(UNKNOWN_WEB_ACL) => {
            s.push("\n    AND nullif(webaclid, '') IS NULL");
        }
        Some(wanted) => {
            s.push("\n    AND (webaclid = ").text(wanted);
            if web_acl_name(wanted).is_none() {
                s.push(" OR split_part(split_part(webaclid, '/webacl/', 2), '/', 1) = ")
                    .text(wanted);
            }
            s.push(")");
        }
    }
    if let Some(label) = &analysis.label {
        s.push("\n    AND ");
        any_label(s, std::slice::from_ref(label));
    }
    if let Some(header) = forwarded {
        s.push("\n    AND lower(header.name) = ")
            .text(&header.to_ascii_lowercase())
            .push(&format!("\n    AND {address} IS NOT NULL"));
    }
    let span = i64::from(analysis.window) / SLIDE_SECONDS;
    match totals {
        true => s.push(
            "\n),\nbuckets AS (\n  SELECT grouping(key) AS total_row, key, uri, bucket,\n    \
             count(*) AS requests,\n    \
             count_if(NOT (excluded OR blocked OR labelled)) AS healthy_requests,\n    \
             count_if(excluded) AS excluded_time,\n    \
             count_if(blocked AND NOT excluded) AS blocked,\n    \
             count_if(labelled AND NOT (excluded OR blocked)) AS labelled\n  \
             FROM asked\n  GROUP BY GROUPING SETS ((key, uri, bucket), (bucket))\n)",
        ),
        false => s.push(
            "\n),\nbuckets AS (\n  SELECT 0 AS total_row, key, uri, bucket, count(*) AS requests,\n    \
             0 AS healthy_requests, 0 AS excluded_time, 0 AS blocked, 0 AS labelled\n  \
             FROM asked\n  GROUP BY key, uri, bucket\n)",
        ),
    };
    // A total row keeps its bucket; a key's buckets make its windows.
    let (expand, start) = match analysis.sliding {
        true => (
            format!(
                " CROSS JOIN UNNEST(sequence(CASE WHEN total_row = 1 THEN bucket ELSE bucket - {} END, bucket)) AS w (start)",
                span - 1
            ),
            "start".to_owned(),
        ),
        false => (
            String::new(),
            format!("CASE WHEN total_row = 1 THEN bucket ELSE bucket / {span} * {span} END"),
        ),
    };
    s.push(&format!(
        ",\nwindows AS (\n  SELECT total_row, key, uri, {start} AS start,\n    \
         sum(requests) AS requests, sum(healthy_requests) AS healthy_requests,\n    \
         sum(excluded_time) AS excluded_time, sum(blocked) AS blocked, sum(labelled) AS labelled\n  \
         FROM buckets{expand}\n  GROUP BY total_row, key, uri, {start}\n)"
    ));
}

/// Whether a second falls in one of the basis's excluded ranges.
fn excluded(s: &mut Statement, healthy: &Healthy) {
    if healthy.exclude.is_empty() {
        s.push("false");
        return;
    }
    s.push("(");
    for (i, &(from, to)) in healthy.exclude.iter().enumerate() {
        if i > 0 {
            s.push(" OR ");
        }
        s.push("(\"timestamp\" >= ")
            .integer(from * 1000)
            .push(" AND \"timestamp\" < ")
            .integer(to * 1000)
            .push(")");
    }
    s.push(")");
}

/// Whether the record carries any of `wanted` (a label, or a namespace
/// when it ends with `:`).
fn any_label(s: &mut Statement, wanted: &[String]) {
    if wanted.is_empty() {
        s.push("false");
        return;
    }
    s.push("cardinality(filter(labels, l -> ");
    for (i, label) in wanted.iter().enumerate() {
        if i > 0 {
            s.push(" OR ");
        }
        match label.ends_with(':') {
            true => s.push("starts_with(l.name, ").text(label).push(")"),
            false => s.push("l.name = ").text(label),
        };
    }
    s.push(")) > 0");
}

/// Rows as Athena returns them: every value as text, NULL as `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Rows {
    fn column(&self, name: &str) -> Result<usize, String> {
        self.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("Athena's result has no column {name}"))
    }
}

/// Reads the values of one row by column name.
struct Row<'a> {
    values: &'a [Option<String>],
    at: &'a BTreeMap<&'static str, usize>,
    number: usize,
}

impl Row<'_> {
    fn text(&self, column: &str) -> Option<&str> {
        self.at
            .get(column)
            .and_then(|&i| self.values.get(i))
            .and_then(|v| v.as_deref())
    }

    fn integer(&self, column: &str) -> Result<Option<i64>, String> {
        self.text(column)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    format!("row {}: {column} is {v:?}, not a whole number", self.number)
                })
            })
            .transpose()
    }

    fn count(&self, column: &str) -> Result<u64, String> {
        let value = self.integer(column)?.unwrap_or(0);
        u64::try_from(value)
            .map_err(|_| format!("row {}: {column} is negative ({value})", self.number))
    }
}

fn each_row(
    rows: &Rows,
    columns: &[&'static str],
    mut read: impl FnMut(&Row<'_>) -> Result<(), String>,
) -> Result<(), String> {
    // No rows: nothing matched (an emulator's Athena answers so, without
    // even a header).
    if rows.rows.is_empty() {
        return Ok(());
    }
    let mut at = BTreeMap::new();
    for &name in columns {
        at.insert(name, rows.column(name)?);
    }
    for (number, values) in rows.rows.iter().enumerate() {
        read(&Row {
            values,
            at: &at,
            number: number + 1,
        })?;
    }
    Ok(())
}

/// The first statement's rows as the answer the imported engine gives
/// (without `series`: the what-if is the second statement). With a
/// healthy basis, its peaks and what it left out, outliers still in.
pub fn answer(rows: &Rows, healthy: Option<&Healthy>) -> Result<Answer, String> {
    let mut top: Vec<(i64, TopRow)> = Vec::new();
    let mut busiest: BTreeMap<i64, Series> = BTreeMap::new();
    let mut peaks: Vec<(u64, u64)> = Vec::new();
    let mut healthy_peaks: Vec<(u64, u64)> = Vec::new();
    let mut totals: BTreeMap<i64, u64> = BTreeMap::new();
    let mut left_out = LeftOut::default();
    each_row(rows, &COUNT_COLUMNS, |row| {
        let start = row
            .integer("window_start")?
            .ok_or_else(|| format!("row {}: no window_start", row.number))?;
        let requests = row.count("requests")?;
        if row.integer("total_row")? == Some(1) {
            *totals.entry(start.div_euclid(SLIDE_SECONDS)).or_default() += requests;
            left_out.requests += requests;
            left_out.excluded_time += row.count("excluded_time")?;
            left_out.blocked += row.count("blocked")?;
            left_out.labelled += row.count("labelled")?;
            return Ok(());
        }
        let key = row
            .text("key")
            .ok_or_else(|| format!("row {}: no key", row.number))?
            .to_owned();
        let uri = row.text("uri").map(str::to_owned);
        if let Some(rank) = row.integer("top_rank")? {
            top.push((
                rank,
                TopRow {
                    key: key.clone(),
                    uri: uri.clone(),
                    window_start: start,
                    count: requests,
                },
            ));
        }
        if let Some(rank) = row.integer("busiest_rank")? {
            busiest
                .entry(rank)
                .or_insert_with(|| Series {
                    key: key.clone(),
                    uri: uri.clone(),
                    windows: Vec::new(),
                })
                .windows
                .push((start, requests));
        }
        if row.text("peak").is_some() {
            peaks.push((row.count("peak")?, row.count("keys_with_peak")?));
        }
        if row.text("healthy_peak").is_some() {
            healthy_peaks.push((
                row.count("healthy_peak")?,
                row.count("keys_with_healthy_peak")?,
            ));
        }
        Ok(())
    })?;
    top.sort_by_key(|(rank, _)| *rank);
    let mut busiest: Vec<Series> = busiest.into_values().collect();
    for series in &mut busiest {
        series.windows.sort_unstable();
    }
    let healthy = healthy.map(|healthy| {
        let peaks = expand(healthy_peaks);
        if healthy.outliers {
            left_out.outlier_above = super::healthy::outlier_threshold(&peaks).unwrap_or(0);
        }
        (peaks, left_out)
    });
    Ok(Answer {
        top: top.into_iter().map(|(_, row)| row).collect(),
        peaks: expand(peaks),
        busiest,
        series: Vec::new(),
        totals: totals.into_iter().collect(),
        healthy,
    })
}

/// (peak, keys with that peak) as every key's peak, ascending.
fn expand(mut histogram: Vec<(u64, u64)>) -> Vec<u64> {
    histogram.sort_unstable();
    histogram
        .into_iter()
        .flat_map(|(peak, keys)| std::iter::repeat_n(peak, keys as usize))
        .collect()
}

/// The columns of the what-if's rows.
pub const WHAT_IF_COLUMNS: [&str; 4] = ["window_start", "keys", "requests", "new_keys"];

/// The second statement's rows as the what-if for `limit`.
pub fn what_if_answer(rows: &Rows, limit: u64) -> Result<WhatIf, String> {
    let mut windows = Vec::new();
    let mut keys = 0;
    each_row(rows, &WHAT_IF_COLUMNS, |row| {
        windows.push(BlockedWindow {
            window_start: row
                .integer("window_start")?
                .ok_or_else(|| format!("row {}: no window_start", row.number))?,
            keys: row.count("keys")?,
            requests: row.count("requests")?,
        });
        keys += row.count("new_keys")?;
        Ok(())
    })?;
    windows.sort_by_key(|w| w.window_start);
    Ok(WhatIf::of(limit, keys, windows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::query::parse_time;

    fn table() -> LogTable {
        LogTable {
            database: "waf".into(),
            table: "waf_logs".into(),
            date_column: "date".into(),
            region: Some(("region".into(), "us-east-1".into())),
        }
    }

    fn analysis() -> Analysis {
        Analysis {
            from: parse_time("2026-11-22T00:00:00Z").unwrap(),
            to: parse_time("2026-11-23T00:00:00Z").unwrap(),
            window: 300,
            by: KeyBy::Ip,
            uri: Some("/login' OR 1=1 --".into()),
            uri_match: UriMatch::Prefix,
            method: Some("POST".into()),
            country: None,
            web_acl: Some("shop".into()),
            label: Some("awswaf:managed:aws:".into()),
            sliding: false,
            limit: 100,
        }
    }

    #[test]
    fn what_a_person_typed_is_a_parameter_never_sql() {
        let statement = counts(&table(), &analysis(), Some(&Healthy::default()));
        assert!(!statement.sql.contains("/login"), "{}", statement.sql);
        assert!(!statement.sql.contains("shop"));
        assert_eq!(
            statement.sql.matches('?').count(),
            statement.parameters.len()
        );
        assert!(
            statement
                .literals()
                .contains(&"'/login'' OR 1=1 --'".to_owned()),
            "a quote inside a value is doubled: {:?}",
            statement.literals()
        );
        assert!(statement.sql.contains("FROM \"waf\".\"waf_logs\""));
        let days = [
            Parameter::Text("2026/11/22".into()),
            Parameter::Text("2026/11/23".into()),
        ];
        assert!(
            statement.parameters.windows(2).any(|pair| pair == days),
            "the range's day and, as it ends at midnight, the next (WAF files late records there): {:?}",
            statement.parameters
        );
    }

    #[test]
    fn identifiers_must_be_glue_names() {
        assert!(table().validate().is_ok());
        let bad = LogTable {
            table: "logs\"; DROP TABLE x; --".into(),
            ..table()
        };
        assert!(bad.validate().unwrap_err().contains("Glue name"));
        let upper = LogTable {
            database: "Waf".into(),
            ..table()
        };
        assert!(upper.validate().is_err());
        let region = LogTable {
            region: Some(("region".into(), "us-east-1' --".into())),
            ..table()
        };
        assert!(region.validate().is_err());
    }

    #[test]
    fn the_partitions_read_are_the_days_of_the_range() {
        let t = |s| parse_time(s).unwrap();
        assert_eq!(
            partition_days(t("2026-11-22T08:00:00Z"), t("2026-11-22T12:00:00Z")),
            ("2026/11/22".into(), "2026/11/22".into())
        );
        assert_eq!(
            partition_days(t("2026-11-20T08:00:00Z"), t("2026-11-22T23:30:00Z")),
            ("2026/11/20".into(), "2026/11/23".into())
        );
    }

    #[test]
    fn rows_that_do_not_read_say_where() {
        let rows = Rows {
            columns: WHAT_IF_COLUMNS.map(str::to_owned).to_vec(),
            rows: vec![vec![
                Some("300".into()),
                Some("two".into()),
                Some("5".into()),
                Some("1".into()),
            ]],
        };
        let error = what_if_answer(&rows, 100).unwrap_err();
        assert!(error.contains("row 1: keys is \"two\""), "{error}");
        let missing = Rows {
            columns: vec!["window_start".into()],
            rows: vec![vec![Some("300".into())]],
        };
        assert!(
            what_if_answer(&missing, 100)
                .unwrap_err()
                .contains("no column keys")
        );
        // No rows and no header: nothing matched (an emulator answers so).
        let nothing = what_if_answer(&Rows::default(), 100).unwrap();
        assert_eq!((nothing.keys, nothing.windows.len()), (0, 0));
    }
}
