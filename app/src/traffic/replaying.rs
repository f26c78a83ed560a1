//! Replays for the console, the command line and the API: the imported
//! traffic of a web ACL through its live rules, a set of rules, or a
//! change request's rules beside the rules it is based on. The IP sets the
//! rules reference are read live.

use super::replay::{Comparison, LookupSource, Plan, Report, TOP_KEYS};
use super::store;
use crate::changes::Kind;
use crate::changes::kinds::web_acl_rules;
use crate::changes::store::Change;
use crate::error::AppError;
use crate::rules::model::{RuleEntry, Statement};
use aws_sdk_wafv2::Client;
use aws_sdk_wafv2::types::Scope;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The time range of a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Range {
    /// The given ends, or the last day of what was imported.
    pub async fn or_default(
        pool: &PgPool,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Range, AppError> {
        let range = match (from, to) {
            (Some(from), Some(to)) => Range { from, to },
            _ => {
                let (default_from, default_to) = store::default_range(pool, Utc::now()).await?;
                Range {
                    from: from.unwrap_or(default_from),
                    to: to.unwrap_or(default_to),
                }
            }
        };
        if range.from >= range.to {
            return Err(AppError::BadRequest("from must be before to".into()));
        }
        Ok(range)
    }
}

/// Calls `visit` with every statement of `rules`, nested ones and
/// scope-downs included.
fn each_statement(rules: &[RuleEntry], visit: &mut dyn FnMut(&Statement)) {
    for rule in rules {
        if let RuleEntry::Rule(rule) = rule {
            rule.statement.each(visit);
        }
    }
}

/// Every IP set ARN the rules reference: what a replay of them reads
/// from AWS.
pub fn ip_set_arns(rules: &[RuleEntry]) -> Vec<String> {
    let mut out = Vec::new();
    each_statement(rules, &mut |statement| {
        if let Statement::IpSetReference(r) = statement {
            out.push(r.arn.clone());
        }
    });
    out.sort();
    out.dedup();
    out
}

/// Whether a replay of `rules` looks countries up (a geo match on a
/// forwarded address): only then does it need the IP-to-country database.
pub fn locates_addresses(rules: &[RuleEntry]) -> bool {
    let mut locates = false;
    each_statement(rules, &mut |statement| {
        locates |=
            matches!(statement, Statement::GeoMatch(geo) if geo.forwarded_ip_config.is_some());
    });
    locates
}

/// The addresses of each IP set the rules reference, read with
/// `GetIPSet` (an ARN `arn:aws:wafv2:REGION:ACCOUNT:SCOPE/ipset/NAME/ID`).
/// A set that cannot be read is left out: statements on it are then not
/// decided, and the replay says so.
async fn ip_sets(wafv2: &Client, rules: &[RuleEntry]) -> BTreeMap<String, Vec<ipnet::IpNet>> {
    let mut sets = BTreeMap::new();
    for arn in ip_set_arns(rules) {
        let Some((scope, rest)) = arn
            .split_once(":regional/ipset/")
            .map(|(_, r)| (Scope::Regional, r))
            .or_else(|| {
                arn.split_once(":global/ipset/")
                    .map(|(_, r)| (Scope::Cloudfront, r))
            })
        else {
            continue;
        };
        let Some((name, id)) = rest.split_once('/') else {
            continue;
        };
        let read = wafv2
            .get_ip_set()
            .name(name)
            .id(id)
            .scope(scope)
            .send()
            .await;
        match read {
            Ok(out) => {
                let nets = out
                    .ip_set()
                    .map(|s| {
                        s.addresses()
                            .iter()
                            .filter_map(|a| a.parse().ok())
                            .collect()
                    })
                    .unwrap_or_default();
                sets.insert(arn, nets);
            }
            Err(error) => {
                tracing::warn!(%arn, error = %aws_sdk_wafv2::error::DisplayErrorContext(&error), "replay: cannot read an IP set")
            }
        }
    }
    sets
}

/// What a replay reads besides the traffic: AWS for the live rules and
/// the IP sets (without a client, IP sets are not known and statements on
/// them not decided), and the IP-to-country database for geo matches on a
/// forwarded address.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    pub pool: &'a PgPool,
    pub wafv2: Option<&'a Client>,
    pub geo: Option<&'a Arc<crate::vpn::geo::GeoDb>>,
}

/// The IP sets as read, and the IP-to-country database.
struct Known {
    ip_sets: BTreeMap<String, Vec<ipnet::IpNet>>,
    geo: Option<Arc<crate::vpn::geo::GeoDb>>,
}

impl LookupSource for Known {
    fn country(&self, ip: std::net::IpAddr) -> Option<String> {
        self.geo
            .as_ref()
            .and_then(|db| db.locate(ip).country().map(str::to_owned))
    }

    fn ip_set(&self, arn: &str) -> Option<Vec<ipnet::IpNet>> {
        self.ip_sets.get(arn).cloned()
    }
}

/// Replays each set of `rules` over the same traffic of `web_acl` (its ARN
/// or name).
pub async fn replay_sets(
    sources: Sources<'_>,
    web_acl: &str,
    range: Range,
    sets: &[&[RuleEntry]],
) -> Result<Vec<Report>, AppError> {
    let Sources { pool, wafv2, geo } = sources;
    let every: Vec<RuleEntry> = sets.iter().flat_map(|s| s.iter().cloned()).collect();
    let known = Known {
        ip_sets: match wafv2 {
            Some(wafv2) => ip_sets(wafv2, &every).await,
            None => BTreeMap::new(),
        },
        geo: geo.cloned(),
    };
    let plan = Arc::new(Plan::new(sets, Arc::new(known)));
    let mut traffic =
        store::replay_traffic(pool, range.from, range.to, Some(web_acl), plan).await?;
    let sets: Vec<Vec<RuleEntry>> = sets.iter().map(|s| s.to_vec()).collect();
    tokio::task::spawn_blocking(move || sets.iter().map(|rules| traffic.replay(rules)).collect())
        .await
        .map_err(|_| AppError::Internal)
}

/// Replays the live rules of a managed web ACL.
pub async fn replay_live(
    sources: Sources<'_>,
    scope: &str,
    name: &str,
    range: Range,
) -> Result<Report, AppError> {
    let wafv2 = sources.wafv2.ok_or(AppError::Internal)?;
    let live = crate::rules::live::rules(wafv2, scope, name)
        .await
        .map_err(|e| AppError::unavailable("AWS WAF", e))?;
    let mut reports = replay_sets(sources, &live.web_acl.arn, range, &[&live.rules]).await?;
    Ok(reports.remove(0).shortened(TOP_KEYS))
}

/// Comparisons kept, at most: the change requests under review.
const COMPARISONS_KEPT: usize = 16;

/// How long a comparison is kept at most although nothing was imported:
/// the IP sets its rules reference are read live.
const COMPARISON_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

static COMPARISONS: std::sync::LazyLock<store::Kept<Comparison>> =
    std::sync::LazyLock::new(|| store::Kept::new(COMPARISONS_KEPT, Some(COMPARISON_MAX_AGE)));

/// A web ACL rules change request: the rules it is based on and its own,
/// replayed over the same traffic, side by side. Kept for the same rules,
/// range and imports (a minute at most), so a review page viewed again,
/// or by every reviewer, does not replay the day again.
pub async fn replay_change(
    sources: Sources<'_>,
    change: &Change,
    range: Range,
) -> Result<Comparison, AppError> {
    if change.kind != Kind::WebAclRules {
        return Err(AppError::BadRequest(
            "Only a change to a web ACL's rules can be replayed against traffic.".into(),
        ));
    }
    let base = &change.base;
    // Without a client the IP sets are not known: another answer.
    let knows_ip_sets = sources.wafv2.is_some();
    let question = serde_json::json!([
        base.token,
        base.content,
        base.resource,
        change.content,
        range,
        knows_ip_sets
    ])
    .to_string();
    COMPARISONS
        .get(
            sources.pool,
            question,
            || compare(sources, change, range),
            |_| true,
        )
        .await
}

async fn compare(
    sources: Sources<'_>,
    change: &Change,
    range: Range,
) -> Result<Comparison, AppError> {
    let base = web_acl_rules::rules_of(&change.base);
    let draft = web_acl_rules::rules(&change.content);
    let web_acl = match base.web_acl.arn.is_empty() {
        true => base.web_acl.name.clone(),
        false => base.web_acl.arn.clone(),
    };
    let mut reports = replay_sets(sources, &web_acl, range, &[&base.rules, &draft]).await?;
    let draft = reports.remove(1);
    let live = reports.remove(0);
    Ok(Comparison::of(live, draft, TOP_KEYS))
}
