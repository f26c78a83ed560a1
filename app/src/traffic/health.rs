//! Threshold health: each rate-based rule's limit next to the peaks of the
//! traffic it counts, as the AWS guidance's last advice asks — thresholds
//! are reviewed as the application grows, with a growth buffer kept, and a
//! limit is acted on before legitimate heavy users reach it.
//!
//! The peaks are the Traffic page's: the same analysis (the rule's key,
//! window and scope, on the web ACL's traffic of the last days imported,
//! healthy traffic only), so each figure links to the analysis behind it.

use super::query::{Analysis, KeyBy, UriMatch};
use super::threshold::Basis;
use crate::rules::model::{
    AggregateKeyType, FieldToMatch, LabelMatchScope, PositionalConstraint, RateBasedStatement,
    Statement,
};
use serde::{Deserialize, Serialize};

/// How the verdicts are reached: settings (`gatehouse settings
/// set-health`), with these defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthSettings {
    /// The percentile of the per-key peaks compared with the limit.
    pub percentile: Basis,
    /// Days of imported logs, back from the last imported.
    pub days: u32,
    /// Tight: the percentile's peak above this share of the limit.
    pub tight_percent: u32,
    /// Loose: the limit above this many times the percentile's peak.
    pub loose_factor: u32,
    /// Unreviewed: no change to the rule applied through Gatehouse in
    /// this many days.
    pub unreviewed_days: u32,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            percentile: Basis::P99,
            days: 7,
            tight_percent: 50,
            loose_factor: 10,
            unreviewed_days: 90,
        }
    }
}

impl HealthSettings {
    pub fn check(&self) -> Result<(), String> {
        if !(1..=90).contains(&self.days) {
            return Err("days: give 1 to 90".into());
        }
        if !(1..=100).contains(&self.tight_percent) {
            return Err("tight: give a percentage from 1 to 100".into());
        }
        if !(2..=1000).contains(&self.loose_factor) {
            return Err("loose: give a factor from 2 to 1000".into());
        }
        if !(1..=3650).contains(&self.unreviewed_days) {
            return Err("unreviewed days: give 1 to 3650".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// The peak eats into the growth buffer: legitimate heavy users are
    /// near the limit.
    Tight,
    /// The limit would let a flood run long before acting.
    Loose,
    Healthy,
    /// No imported logs of the web ACL in the range.
    NoData,
    /// The rule's key or scope is not one an analysis can ask about.
    NotAnalysable,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Tight => "tight",
            Verdict::Loose => "loose",
            Verdict::Healthy => "healthy",
            Verdict::NoData => "no data",
            Verdict::NotAnalysable => "not analysable",
        }
    }
}

/// The verdict for a limit against the peak at the chosen percentile of
/// `keys` keys.
pub fn verdict(limit: u64, peak: u64, keys: u64, settings: &HealthSettings) -> Verdict {
    if keys == 0 {
        return Verdict::NoData;
    }
    if u128::from(peak) * 100 > u128::from(limit) * u128::from(settings.tight_percent) {
        Verdict::Tight
    } else if u128::from(limit) > u128::from(peak) * u128::from(settings.loose_factor) {
        Verdict::Loose
    } else {
        Verdict::Healthy
    }
}

/// The analysis that asks about the traffic a rate-based rule counts: its
/// key, window and scope-down (URI exact or starts-with, method, country,
/// label; under an `AndStatement` when several). `None` when the rule's
/// key or scope has no such analysis.
pub fn analysis_of(rate: &RateBasedStatement, base: &Analysis) -> Option<Analysis> {
    let by = match &rate.aggregate_key_type {
        AggregateKeyType::Ip => KeyBy::Ip,
        AggregateKeyType::ForwardedIp => {
            KeyBy::Forwarded(rate.forwarded_ip_config.as_ref()?.header_name.clone())
        }
        _ => return None,
    };
    let window = u32::try_from(rate.evaluation_window_sec.unwrap_or(300)).ok()?;
    let mut analysis = Analysis {
        by,
        window,
        ..base.clone()
    };
    let parts: Vec<&Statement> = match &rate.scope_down_statement {
        None => Vec::new(),
        Some(Statement::And(and)) => and.statements.iter().collect(),
        Some(other) => vec![other],
    };
    for part in parts {
        match part {
            Statement::ByteMatch(b) => {
                let plain = b.text_transformations.iter().all(|t| t.kind == "NONE");
                if !plain {
                    return None;
                }
                match (&b.field_to_match, &b.positional_constraint) {
                    (FieldToMatch::UriPath(_), PositionalConstraint::Exactly)
                        if analysis.uri.is_none() =>
                    {
                        analysis.uri = Some(b.search_string.clone());
                        analysis.uri_match = UriMatch::Exact;
                    }
                    (FieldToMatch::UriPath(_), PositionalConstraint::StartsWith)
                        if analysis.uri.is_none() =>
                    {
                        analysis.uri = Some(b.search_string.clone());
                        analysis.uri_match = UriMatch::Prefix;
                    }
                    (FieldToMatch::Method(_), PositionalConstraint::Exactly)
                        if analysis.method.is_none() =>
                    {
                        analysis.method = Some(b.search_string.clone());
                    }
                    _ => return None,
                }
            }
            Statement::GeoMatch(geo)
                if geo.country_codes.len() == 1
                    && geo.forwarded_ip_config.is_none()
                    && analysis.country.is_none() =>
            {
                analysis.country = geo.country_codes.first().cloned();
            }
            Statement::LabelMatch(label) if analysis.label.is_none() => {
                let key = match label.scope {
                    LabelMatchScope::Label => label.key.clone(),
                    _ => format!("{}:", label.key.trim_end_matches(':')),
                };
                analysis.label = Some(key);
            }
            _ => return None,
        }
    }
    analysis.validate().ok()
}

/// One rate-based rule's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleHealth {
    pub web_acl: String,
    pub scope: String,
    pub rule: String,
    pub limit: u64,
    pub window: i64,
    /// Keys with traffic, the peak at the chosen percentile, the highest.
    pub keys: u64,
    pub peak: u64,
    pub max: u64,
    /// The limit over the percentile's peak (`None` without data).
    pub headroom: Option<f64>,
    pub verdict: Verdict,
    /// No change to the rule applied through Gatehouse in the last days.
    pub unreviewed: bool,
    /// The limit the Traffic page recommends from the same analysis.
    pub recommended: Option<u64>,
    /// The Traffic page's link to the analysis (where "Propose rule" is).
    pub analysis: Option<String>,
}

/// The whole report: every rate-based rule of every managed web ACL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdReport {
    pub settings: HealthSettings,
    pub rules: Vec<RuleHealth>,
    /// Web ACLs that could not be read, and why.
    pub unread: Vec<String>,
}

impl ThresholdReport {
    pub fn any_tight(&self) -> bool {
        self.rules.iter().any(|r| r.verdict == Verdict::Tight)
    }

    pub fn to_text(&self) -> String {
        let s = &self.settings;
        let mut text = format!(
            "{} of per-key peaks over the last {} days imported; tight above {} % of the limit, loose below 1/{} of it, unreviewed after {} days\n",
            s.percentile.as_str(),
            s.days,
            s.tight_percent,
            s.loose_factor,
            s.unreviewed_days
        );
        for r in &self.rules {
            text += &format!(
                "{}/{} {}: limit {} per {} s, {} {} (max {}, {} keys){} → {}{}\n",
                r.scope,
                r.web_acl,
                r.rule,
                r.limit,
                r.window,
                s.percentile.as_str(),
                r.peak,
                r.max,
                r.keys,
                r.headroom
                    .map(|h| format!(", headroom ×{h:.1}"))
                    .unwrap_or_default(),
                r.verdict.as_str(),
                if r.unreviewed { ", unreviewed" } else { "" }
            );
        }
        for unread in &self.unread {
            text += &format!("not read: {unread}\n");
        }
        text
    }
}

#[cfg(feature = "ssr")]
pub use compute::current;

#[cfg(feature = "ssr")]
mod compute {
    use super::*;
    use crate::changes::Kind;
    use crate::changes::kinds::web_acl_rules;
    use crate::error::AppError;
    use crate::rules::model::RuleEntry;
    use crate::traffic::healthy::Healthy;
    use crate::traffic::store;
    use crate::traffic::threshold::DEFAULT_BUFFER_PERCENT;
    use chrono::{Duration, Utc};
    use sqlx::PgPool;

    /// The names of the rules an applied change of this web ACL changed
    /// in the last `days` days.
    async fn reviewed(
        pool: &PgPool,
        scope: &str,
        name: &str,
        days: u32,
    ) -> Result<Vec<String>, AppError> {
        let since = Utc::now() - Duration::days(i64::from(days));
        let changes = sqlx::query!(
            r#"SELECT base_content, content FROM change_requests
               WHERE kind = $1 AND target_scope = $2 AND target_name = $3
                 AND status = 'applied' AND applied_at >= $4"#,
            Kind::WebAclRules.as_str(),
            scope,
            name,
            since
        )
        .fetch_all(pool)
        .await?;
        let mut names = Vec::new();
        for change in changes {
            let before = web_acl_rules::rules(&change.base_content);
            let after = web_acl_rules::rules(&change.content);
            for rule in &after {
                let Some(name) = rule.name() else { continue };
                let was = before.iter().find(|r| r.name() == Some(name));
                if was.map(RuleEntry::to_json) != Some(rule.to_json()) {
                    names.push(name.to_owned());
                }
            }
        }
        Ok(names)
    }

    /// Reports kept: one per settings, in practice.
    const REPORTS_KEPT: usize = 4;

    /// How long a report is kept at most: which rules were changed lately
    /// depends on the day, and the live rules are read anew meanwhile.
    const REPORT_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(30);

    static REPORTS: std::sync::LazyLock<store::Kept<ThresholdReport>> =
        std::sync::LazyLock::new(|| store::Kept::new(REPORTS_KEPT, Some(REPORT_MAX_AGE)));

    /// A managed web ACL and its live rules, as the dashboard shows them
    /// (from the live-state cache), or why they could not be read.
    type WebAclRead = (
        crate::changes::kinds::TargetRef,
        Result<crate::rules::live::LiveRules, String>,
    );

    /// The health of every rate-based rule of every managed web ACL, judged
    /// as the settings say: kept for the same settings, managed web ACLs and
    /// live rules (by their lock tokens) until the imports change — the
    /// dashboard shows it on every view, and working it out reads a peak per
    /// key of every rule.
    pub async fn current(
        pool: &PgPool,
        aws: &crate::state::AwsClients,
    ) -> Result<ThresholdReport, AppError> {
        let doc = crate::settings::store::current(pool).await?;
        let settings = doc.threshold_health.unwrap_or_default();
        let mut web_acls: Vec<WebAclRead> = Vec::new();
        for target in doc.of(crate::targets::TargetKind::WebAcl) {
            let web_acl = crate::changes::kinds::TargetRef {
                name: target.name.clone(),
                scope: target.scope.clone().unwrap_or_else(|| "REGIONAL".into()),
                id: target.aws_id.clone(),
            };
            let live = crate::changes::Kind::WebAclRules
                .read_shown(crate::changes::kinds::Reach { pool, aws }, &web_acl)
                .await
                .map(|shown| crate::changes::kinds::web_acl_rules::rules_of(&shown.live))
                .map_err(|error| error.to_string());
            web_acls.push((web_acl, live));
        }
        let read: Vec<_> = web_acls
            .iter()
            .map(|(web_acl, live)| {
                let token = live.as_ref().ok().map(|live| &live.lock_token);
                (&web_acl.scope, &web_acl.name, &web_acl.id, token)
            })
            .collect();
        let question = serde_json::json!([settings, read]).to_string();
        REPORTS
            .get(
                pool,
                question,
                || work_out(pool, settings, &web_acls),
                |_| true,
            )
            .await
    }

    async fn work_out(
        pool: &PgPool,
        settings: HealthSettings,
        web_acls: &[WebAclRead],
    ) -> Result<ThresholdReport, AppError> {
        let (_, to) = store::default_range(pool, Utc::now()).await?;
        let from = to - Duration::days(i64::from(settings.days));
        let mut rules = Vec::new();
        let mut unread = Vec::new();
        for (web_acl, live) in web_acls {
            let (scope, name) = (&web_acl.scope, &web_acl.name);
            let live = match live {
                Ok(live) => live,
                Err(error) => {
                    tracing::warn!(%error, web_acl = %name, "threshold health: cannot read");
                    unread.push(format!("{scope}/{name}: AWS WAF could not be read"));
                    continue;
                }
            };
            let changed = reviewed(pool, scope, name, settings.unreviewed_days).await?;
            let base = Analysis {
                from,
                to,
                window: 300,
                by: KeyBy::Ip,
                uri: None,
                uri_match: UriMatch::Exact,
                method: None,
                country: None,
                web_acl: Some(live.web_acl.arn.clone()),
                label: None,
                sliding: false,
                limit: 1,
            };
            for entry in &live.rules {
                let RuleEntry::Rule(rule) = entry else {
                    continue;
                };
                let Statement::RateBased(rate) = &rule.statement else {
                    continue;
                };
                let limit = u64::try_from(rate.limit).unwrap_or(0);
                let window = rate.evaluation_window_sec.unwrap_or(300);
                let mut health = RuleHealth {
                    web_acl: name.clone(),
                    scope: scope.clone(),
                    rule: rule.name.clone(),
                    limit,
                    window,
                    keys: 0,
                    peak: 0,
                    max: 0,
                    headroom: None,
                    verdict: Verdict::NotAnalysable,
                    unreviewed: !changed.contains(&rule.name),
                    recommended: None,
                    analysis: None,
                };
                if let Some(analysis) = analysis_of(rate, &base) {
                    let healthy = Healthy::default();
                    let answer =
                        store::answer(pool, &analysis, store::Detail::Everything, Some(&healthy))
                            .await?;
                    let r =
                        answer.recommendation(settings.percentile, DEFAULT_BUFFER_PERCENT, None);
                    health.keys = r.peaks.keys;
                    health.peak = r.peaks.at(settings.percentile);
                    health.max = r.peaks.max;
                    health.verdict = verdict(limit, health.peak, health.keys, &settings);
                    health.headroom = (health.keys > 0 && health.peak > 0)
                        .then(|| limit as f64 / health.peak as f64);
                    health.recommended = (health.keys > 0).then_some(r.recommended);
                    let mut link = format!("/traffic?{}", analysis.to_query());
                    if settings.percentile != Basis::P99 {
                        link += &format!("&percentile={}", settings.percentile.as_str());
                    }
                    health.analysis = Some(link);
                }
                rules.push(health);
            }
        }
        Ok(ThresholdReport {
            settings,
            rules,
            unread,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::model::read_rules;
    use crate::rules::model::{RuleEntry, Statement};
    use serde_json::json;

    #[test]
    fn verdicts_follow_the_thresholds() {
        let s = HealthSettings::default();
        assert_eq!(
            verdict(150, 76, 10, &s),
            Verdict::Tight,
            "above half the limit"
        );
        assert_eq!(verdict(150, 75, 10, &s), Verdict::Healthy, "exactly half");
        assert_eq!(
            verdict(150, 15, 10, &s),
            Verdict::Healthy,
            "exactly a tenth"
        );
        assert_eq!(verdict(150, 14, 10, &s), Verdict::Loose);
        assert_eq!(verdict(7000, 45, 3000, &s), Verdict::Loose);
        assert_eq!(verdict(150, 0, 0, &s), Verdict::NoData);
        let strict = HealthSettings {
            tight_percent: 20,
            ..s
        };
        assert_eq!(verdict(150, 31, 10, &strict), Verdict::Tight);
        assert!(HealthSettings { days: 0, ..s }.check().is_err());
        assert!(s.check().is_ok());
    }

    fn rate_of(rule: serde_json::Value) -> RateBasedStatement {
        let rules = read_rules(json!([{"Name": "R", "Priority": 0, "Action": {"Block": {}},
            "Statement": {"RateBasedStatement": rule},
            "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "r"}}]))
        .unwrap();
        match &rules[0] {
            RuleEntry::Rule(r) => match &r.statement {
                Statement::RateBased(rate) => (**rate).clone(),
                _ => panic!("not rate-based"),
            },
            _ => panic!("verbatim"),
        }
    }

    #[test]
    fn a_rules_key_window_and_scope_become_its_analysis() {
        let base = Analysis::from_query(
            |_| None,
            (
                chrono::DateTime::from_timestamp(0, 0).unwrap(),
                chrono::DateTime::from_timestamp(86_400, 0).unwrap(),
            ),
        )
        .unwrap();
        let login = rate_of(
            json!({"Limit": 150, "AggregateKeyType": "IP", "EvaluationWindowSec": 120,
            "ScopeDownStatement": {"AndStatement": {"Statements": [
                {"ByteMatchStatement": {"SearchString": "/login", "FieldToMatch": {"UriPath": {}},
                    "TextTransformations": [{"Priority": 0, "Type": "NONE"}], "PositionalConstraint": "STARTS_WITH"}},
                {"ByteMatchStatement": {"SearchString": "POST", "FieldToMatch": {"Method": {}},
                    "TextTransformations": [{"Priority": 0, "Type": "NONE"}], "PositionalConstraint": "EXACTLY"}},
                {"GeoMatchStatement": {"CountryCodes": ["DE"]}},
                {"LabelMatchStatement": {"Scope": "NAMESPACE", "Key": "awswaf:managed:aws:bot-control"}}]}}}),
        );
        let a = analysis_of(&login, &base).unwrap();
        assert_eq!(
            (a.window, a.uri.as_deref(), a.uri_match),
            (120, Some("/login"), UriMatch::Prefix)
        );
        assert_eq!(
            (a.method.as_deref(), a.country.as_deref()),
            (Some("POST"), Some("DE"))
        );
        assert_eq!(a.label.as_deref(), Some("awswaf:managed:aws:bot-control:"));
        let forwarded = rate_of(json!({"Limit": 500, "AggregateKeyType": "FORWARDED_IP",
            "ForwardedIPConfig": {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH"}}));
        assert_eq!(
            analysis_of(&forwarded, &base).unwrap().by,
            KeyBy::Forwarded("X-Forwarded-For".into())
        );
        let lower = rate_of(json!({"Limit": 150, "AggregateKeyType": "IP",
            "ScopeDownStatement": {"ByteMatchStatement": {"SearchString": "/login", "FieldToMatch": {"UriPath": {}},
                "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}], "PositionalConstraint": "STARTS_WITH"}}}));
        assert_eq!(
            analysis_of(&lower, &base),
            None,
            "a transformation no analysis has"
        );
        let constant = rate_of(json!({"Limit": 150, "AggregateKeyType": "CONSTANT"}));
        assert_eq!(analysis_of(&constant, &base), None);
    }
}
