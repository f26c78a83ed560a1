//! Evidence for a change request, given as a link and run when it is
//! attached, kept as it was then so the review shows what the author saw:
//! a Traffic page analysis (what it found and its top-keys chart), or for a
//! policy change the decision-matrix cells it moves.

use super::kinds::policy_mappings::mappings;
use super::store::Change;
use super::{Evidence, Kind};
use crate::error::AppError;
use crate::pages::traffic::analyse;
use crate::policies::mapping::{Call, read_context, read_endpoints};
use crate::policies::matrix::{changed, matrix};

/// Runs the analysis a Traffic page link names and freezes what it found.
pub async fn traffic_analysis(
    state: &crate::state::AppState,
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
    let view = analyse(state, &pairs).await?;
    let analysis = view
        .analysis
        .map_err(|why| AppError::BadRequest(format!("That analysis cannot be run: {why}")))?;
    let result = view.result.ok_or_else(|| {
        AppError::BadRequest(
            "That analysis has no answer yet: run it on Athena from the Traffic page first.".into(),
        )
    })?;
    let peaks = &result.recommendation.peaks;
    let top = match result.top.first() {
        Some(row) => format!(
            "the busiest key, {}, made {} requests in one {} s window",
            row.key, row.count, analysis.window
        ),
        None => "no requests matched".to_owned(),
    };
    let what_if = &result.recommendation.what_if;
    let on = match view.source.as_str() {
        crate::traffic::source::IMPORTED => String::new(),
        athena => format!(" (on Amazon Athena, log source {athena})"),
    };
    let summary = format!(
        "{} from {} to {}{on}: {top}. Peaks of {} keys: p50 {} · p99 {} · max {}. \
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
        matrix: Vec::new(),
        attached_by: attached_by.to_owned(),
        attached_at: chrono::Utc::now(),
    })
}

/// Evidence a link names: a Traffic page analysis, or for a policy change
/// the decision matrix of a Policies page link (its endpoints and call).
pub async fn from_link(
    state: &crate::state::AppState,
    change: &Change,
    link: &str,
    attached_by: &str,
) -> Result<Evidence, AppError> {
    match page_query(link, "/policies") {
        Some(query) if change.kind == Kind::PolicyMappings => {
            decision_matrix(change, query, attached_by)
        }
        _ => traffic_analysis(state, link, attached_by).await,
    }
}

/// The cells of the decision matrix the change moves (its base against its
/// content), for the endpoints and call the link gives.
fn decision_matrix(change: &Change, query: &str, attached_by: &str) -> Result<Evidence, AppError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let endpoints = read_endpoints(&get("endpoints")).map_err(AppError::BadRequest)?;
    if endpoints.is_empty() || endpoints.len() > 1000 {
        return Err(AppError::BadRequest(
            "Give the matrix between 1 and 1000 endpoints.".into(),
        ));
    }
    let defaults = Call::default();
    let or = |value: String, default: String| if value.is_empty() { default } else { value };
    let call = Call {
        stage: or(get("stage"), defaults.stage.clone()),
        api_id: or(get("api_id"), defaults.api_id.clone()),
        source_ip: get("source_ip"),
        context: read_context(&get("context")).map_err(AppError::BadRequest)?,
        ..defaults
    };
    let before = matrix(&mappings(&change.base.content), &endpoints, &call);
    let after = matrix(&mappings(&change.content), &endpoints, &call);
    let cells = changed(&before, &after);
    let source = match call.source_ip.is_empty() {
        true => "no source IP".to_owned(),
        false => format!("source IP {}", call.source_ip),
    };
    let summary = format!(
        "Decision matrix of {} groups × {} endpoints (stage {}, API {}, {source}): {}.",
        after.groups.len().max(before.groups.len()),
        endpoints.len(),
        call.stage,
        call.api_id,
        match cells.len() {
            0 => "the change moves no cell".to_owned(),
            1 => "the change moves 1 cell".to_owned(),
            n => format!("the change moves {n} cells"),
        }
    );
    Ok(Evidence {
        link: format!("/policies?{query}"),
        summary,
        chart: String::new(),
        matrix: cells,
        attached_by: attached_by.to_owned(),
        attached_at: chrono::Utc::now(),
    })
}

/// The query string of a Traffic page link, as shown (`/traffic?…`) or
/// whole (`http://host/traffic?…`).
pub fn analysis_query(link: &str) -> Option<&str> {
    page_query(link, "/traffic")
}

/// The query string of a link to `page`, as shown or whole.
fn page_query<'a>(link: &'a str, page: &str) -> Option<&'a str> {
    let link = link.trim();
    let path = match link.find("://") {
        Some(scheme_end) => {
            let rest = &link[scheme_end + 3..];
            &rest[rest.find('/')?..]
        }
        None => link,
    };
    let (path, query) = path.split_once('?')?;
    (path == page && query.len() <= 16384).then_some(query)
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
