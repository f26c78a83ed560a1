//! Evidence for a change request: a traffic analysis, given as the link the
//! Traffic page shares, run when it is attached and kept as it was then (what
//! it found and its top-keys chart), so the review shows what the author saw.

use super::Evidence;
use crate::error::AppError;
use crate::pages::traffic::analyse;
use sqlx::PgPool;

/// Runs the analysis a Traffic page link names and freezes what it found.
pub async fn traffic_analysis(
    pool: &PgPool,
    link: &str,
    attached_by: &str,
) -> Result<Evidence, AppError> {
    let query = analysis_query(link).ok_or_else(|| {
        AppError::BadRequest(
            "Paste the \"Link to this analysis\" of the Traffic page (it starts with /traffic?)."
                .into(),
        )
    })?;
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let view = analyse(pool, &pairs).await?;
    let analysis = view
        .analysis
        .map_err(|why| AppError::BadRequest(format!("That analysis cannot be run: {why}")))?;
    let result = view.result.ok_or(AppError::Internal)?;
    let peaks = &result.recommendation.peaks;
    let top = match result.top.first() {
        Some(row) => format!(
            "the busiest key, {}, made {} requests in one {} s window",
            row.key, row.count, analysis.window
        ),
        None => "no requests matched".to_owned(),
    };
    let what_if = &result.recommendation.what_if;
    let summary = format!(
        "{} from {} to {}: {top}. Peaks of {} keys: p50 {} · p99 {} · max {}. \
         Recommended limit {} ({} + {} %). A limit of {} would have blocked {} keys.",
        analysis.by.label(),
        crate::traffic::query::rfc3339(analysis.from),
        crate::traffic::query::rfc3339(analysis.to),
        peaks.keys,
        peaks.p50,
        peaks.p99,
        peaks.max,
        result.recommendation.recommended,
        result.recommendation.basis.as_str(),
        result.recommendation.buffer_percent,
        what_if.limit,
        what_if.keys,
    );
    let [chart, _, _] = result.charts;
    Ok(Evidence {
        link: format!("/traffic?{query}"),
        summary,
        chart,
        attached_by: attached_by.to_owned(),
        attached_at: chrono::Utc::now(),
    })
}

/// The query string of a Traffic page link, as shown (`/traffic?…`) or
/// whole (`http://host/traffic?…`).
fn analysis_query(link: &str) -> Option<&str> {
    let link = link.trim();
    let path = match link.find("://") {
        Some(scheme_end) => {
            let rest = &link[scheme_end + 3..];
            &rest[rest.find('/')?..]
        }
        None => link,
    };
    let (path, query) = path.split_once('?')?;
    (path == "/traffic" && query.len() <= 4096).then_some(query)
}

#[cfg(test)]
mod tests {
    use super::analysis_query;

    #[test]
    fn traffic_links_are_read_as_shown_or_whole() {
        let query = "from=2026-11-23T00%3A00%3A00Z&to=2026-11-24T00%3A00%3A00Z&window=300&by=ip";
        assert_eq!(analysis_query(&format!("/traffic?{query}")), Some(query));
        assert_eq!(
            analysis_query(&format!(" http://127.0.0.1:3000/traffic?{query}\n")),
            Some(query)
        );
        assert_eq!(analysis_query("/rules?web_acl=shop"), None);
        assert_eq!(analysis_query("https://evil.example"), None);
        assert_eq!(analysis_query("/traffic"), None);
    }
}
