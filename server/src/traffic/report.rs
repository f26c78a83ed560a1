//! The analyses as the command line prints them: JSON, CSV or a table.

use app::traffic::Recommendation;
use app::traffic::query::{Analysis, rfc3339};
use app::traffic::windows::TopRow;
use chrono::DateTime;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Csv,
    Table,
}

fn time(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0)
        .map(rfc3339)
        .unwrap_or_default()
}

/// `[{"key", "uri", "window_start", "count"}]`, in the list's order.
pub fn top_json(rows: &[TopRow]) -> Value {
    rows.iter()
        .map(|r| json!({"key": r.key, "uri": r.uri, "window_start": time(r.window_start), "count": r.count}))
        .collect()
}

pub fn top(rows: &[TopRow], format: Format) -> Result<String, String> {
    match format {
        Format::Json => serde_json::to_string_pretty(&top_json(rows)).map_err(|e| e.to_string()),
        Format::Csv => {
            let mut out = csv::Writer::from_writer(Vec::new());
            let fail = |e: csv::Error| e.to_string();
            out.write_record(["key", "uri", "window_start", "count"])
                .map_err(fail)?;
            for r in rows {
                let count = r.count.to_string();
                out.write_record([
                    r.key.as_str(),
                    r.uri.as_deref().unwrap_or(""),
                    &time(r.window_start),
                    &count,
                ])
                .map_err(fail)?;
            }
            let bytes = out.into_inner().map_err(|e| e.to_string())?;
            String::from_utf8(bytes).map_err(|e| e.to_string())
        }
        Format::Table => {
            let width = rows.iter().map(|r| r.key.len()).max().unwrap_or(3).max(3);
            let mut text = format!(
                "{:>10}  {:<20}  {:<width$}  uri\n",
                "count", "window_start", "key"
            );
            for r in rows {
                text += &format!(
                    "{:>10}  {:<20}  {:<width$}  {}\n",
                    r.count,
                    time(r.window_start),
                    r.key,
                    r.uri.as_deref().unwrap_or("")
                );
            }
            Ok(text)
        }
    }
}

pub fn recommendation_json(analysis: &Analysis, r: &Recommendation) -> Value {
    json!({
        "window": analysis.window,
        "sliding": analysis.sliding,
        "keys": r.peaks.keys,
        "peaks": {
            "p50": r.peaks.p50, "p90": r.peaks.p90, "p99": r.peaks.p99,
            "p99.9": r.peaks.p99_9, "max": r.peaks.max,
        },
        "basis": r.basis.as_str(),
        "buffer_percent": r.buffer_percent,
        "recommended_limit": r.recommended,
        "left_out": r.left_out.map(|l| json!({
            "requests": l.requests, "blocked": l.blocked, "labelled": l.labelled,
            "excluded_time": l.excluded_time, "outlier_keys": l.outlier_keys,
            "outlier_above": l.outlier_above, "keys": l.keys,
        })),
        "what_if": {
            "limit": r.what_if.limit,
            "keys": r.what_if.keys,
            "requests": r.what_if.requests,
            "windows": r.what_if.windows.iter().map(|w| json!({
                "window_start": time(w.window_start), "keys": w.keys, "requests": w.requests,
            })).collect::<Vec<_>>(),
        },
    })
}

pub fn recommendation(
    analysis: &Analysis,
    r: &Recommendation,
    format: Format,
) -> Result<String, String> {
    match format {
        Format::Json => serde_json::to_string_pretty(&recommendation_json(analysis, r))
            .map_err(|e| e.to_string()),
        Format::Csv => {
            let mut text = String::from("window_start,keys_over_limit,requests_over_limit\n");
            for w in &r.what_if.windows {
                text += &format!("{},{},{}\n", time(w.window_start), w.keys, w.requests);
            }
            Ok(text)
        }
        Format::Table => {
            let p = &r.peaks;
            let mut text = format!(
                "peaks of {} keys per {} s window: p50 {}  p90 {}  p99 {}  p99.9 {}  max {}\n",
                p.keys, analysis.window, p.p50, p.p90, p.p99, p.p99_9, p.max
            );
            if let Some(l) = &r.left_out {
                text += &format!(
                    "based on healthy traffic of {} keys: left out {} requests WAF blocked, {} with bad labels, {} in excluded ranges (of {}), {} outlier keys (peaks above {})\n",
                    l.keys,
                    l.blocked,
                    l.labelled,
                    l.excluded_time,
                    l.requests,
                    l.outlier_keys,
                    l.outlier_above
                );
            }
            text += &format!(
                "recommended limit: {} ({} + {} %)\n",
                r.recommended,
                r.basis.as_str(),
                r.buffer_percent
            );
            text += &format!(
                "a limit of {} would have blocked {} keys, {} requests over the limit, in {} windows\n",
                r.what_if.limit,
                r.what_if.keys,
                r.what_if.requests,
                r.what_if.windows.len()
            );
            for w in &r.what_if.windows {
                text += &format!(
                    "  {}  {:>6} keys  {:>8} requests\n",
                    time(w.window_start),
                    w.keys,
                    w.requests
                );
            }
            Ok(text)
        }
    }
}
