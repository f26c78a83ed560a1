//! What a web ACL does with one request, rule by rule in priority order,
//! with AWS WAF's semantics for the statements it can decide: IP set
//! references (origin or forwarded address), geo match (origin or
//! forwarded address: the first address of the header; a malformed value
//! takes the fallback; an address with no known location matches no
//! country), and `And`/`Or`/`Not`. Other statements are not decided here:
//! the verdict says so rather than guess. Pure, for the server, the command
//! line and the browser.

use super::model::{RuleAction, RuleEntry, Statement};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The request: where it comes from and its `X-Forwarded-For`-style
/// headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WafRequest {
    pub origin: IpAddr,
    /// Header name (any case) and value.
    pub headers: Vec<(String, String)>,
}

/// What the lookups a statement needs answer.
pub struct Lookups<'a> {
    /// The country of an address (ISO code), if known.
    pub country: &'a dyn Fn(IpAddr) -> Option<String>,
    /// The addresses of the IP set with this ARN, if known.
    pub ip_set: &'a dyn Fn(&str) -> Option<Vec<ipnet::IpNet>>,
}

/// What the web ACL does, the rule that decided (none: the default action)
/// and why, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// `ALLOW`, `BLOCK`, `COUNT`-then-default, …: the terminating action.
    pub action: String,
    pub rule: Option<String>,
    pub why: Vec<String>,
}

/// `rules` (any order) and the web ACL's default action (`Allow`/`Block`).
pub fn evaluate(
    rules: &[RuleEntry],
    default_action: &str,
    request: &WafRequest,
    lookups: &Lookups<'_>,
) -> Verdict {
    let mut ordered: Vec<&RuleEntry> = rules.iter().collect();
    ordered.sort_by_key(|r| r.priority().unwrap_or(i64::MAX));
    let mut why = Vec::new();
    for entry in ordered {
        let RuleEntry::Rule(rule) = entry else {
            why.push("a rule Gatehouse keeps as it is was not evaluated".to_owned());
            continue;
        };
        match matches(&rule.statement, request, lookups) {
            Ok(false) => why.push(format!("{}: does not match", rule.name)),
            Ok(true) => {
                let action = match &rule.action {
                    Some(RuleAction::Allow(_)) => "ALLOW",
                    Some(RuleAction::Block(_)) => "BLOCK",
                    Some(RuleAction::Count(_)) => {
                        why.push(format!("{}: matches, counts and goes on", rule.name));
                        continue;
                    }
                    _ => {
                        why.push(format!(
                            "{}: matches; its action is not evaluated here",
                            rule.name
                        ));
                        continue;
                    }
                };
                why.push(format!("{}: matches → {action}", rule.name));
                return Verdict {
                    action: action.into(),
                    rule: Some(rule.name.clone()),
                    why,
                };
            }
            Err(unknown) => why.push(format!("{}: {unknown}", rule.name)),
        }
    }
    why.push(format!(
        "no rule decided: the default action, {default_action}"
    ));
    Verdict {
        action: default_action.to_ascii_uppercase(),
        rule: None,
        why,
    }
}

/// The addresses of a forwarded header at `position` (`FIRST`, `LAST`,
/// `ANY`), as WAF takes them; `None` when the header is missing or a value
/// it looks at is not an address.
fn forwarded(request: &WafRequest, header: &str, position: &str) -> Option<Vec<IpAddr>> {
    let value = request
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(header))?
        .1
        .as_str();
    let mut values = value.split(',').map(|v| v.trim().parse::<IpAddr>().ok());
    match position {
        "LAST" => Some(vec![values.next_back()??]),
        "ANY" => values.collect(),
        _ => Some(vec![values.next()??]),
    }
}

/// The addresses a statement looks at (the origin, or the forwarded ones),
/// or the fallback's answer when the forwarded header is missing or
/// malformed.
fn addresses(
    request: &WafRequest,
    config: Option<(&str, &str, &str)>,
) -> Result<Vec<IpAddr>, bool> {
    match config {
        None => Ok(vec![request.origin]),
        Some((header, fallback, position)) => {
            forwarded(request, header, position).ok_or(fallback == "MATCH")
        }
    }
}

fn matches(
    statement: &Statement,
    request: &WafRequest,
    lookups: &Lookups<'_>,
) -> Result<bool, String> {
    match statement {
        Statement::GeoMatch(geo) => {
            let config = geo.forwarded_ip_config.as_ref().map(|c| {
                (
                    c.header_name.as_str(),
                    c.fallback_behavior.as_str(),
                    "FIRST",
                )
            });
            Ok(match addresses(request, config) {
                Err(fallback) => fallback,
                Ok(ips) => ips.into_iter().any(|ip| {
                    (lookups.country)(ip.to_canonical())
                        .is_some_and(|c| geo.country_codes.contains(&c))
                }),
            })
        }
        Statement::IpSetReference(reference) => {
            let Some(set) = (lookups.ip_set)(&reference.arn) else {
                return Err(format!(
                    "the IP set {} is not known here: not evaluated",
                    reference.arn
                ));
            };
            let config = reference.forwarded_ip_config.as_ref().map(|c| {
                (
                    c.header_name.as_str(),
                    c.fallback_behavior.as_str(),
                    c.position.as_str(),
                )
            });
            Ok(match addresses(request, config) {
                Err(fallback) => fallback,
                Ok(ips) => ips.into_iter().any(|ip| {
                    let ip = ip.to_canonical();
                    set.iter().any(|net| net.contains(&ip))
                }),
            })
        }
        Statement::Not(not) => matches(&not.statement, request, lookups).map(|m| !m),
        Statement::And(and) => {
            for s in &and.statements {
                if !matches(s, request, lookups)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Statement::Or(or) => {
            for s in &or.statements {
                if matches(s, request, lookups)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        other => Err(format!("a {} statement is not evaluated here", kind(other))),
    }
}

fn kind(statement: &Statement) -> &'static str {
    match statement {
        Statement::RateBased(_) => "rate-based",
        Statement::ByteMatch(_) => "byte match",
        Statement::LabelMatch(_) => "label match",
        Statement::ManagedRuleGroup(_) => "managed rule group",
        _ => "such",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::model::read_rules;
    use serde_json::json;

    fn geo_rules() -> Vec<RuleEntry> {
        read_rules(json!([
            {"Name": "BlockNotFromNat", "Priority": 0, "Action": {"Block": {}},
             "Statement": {"NotStatement": {"Statement": {"IPSetReferenceStatement": {"ARN": "arn:nat"}}}},
             "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "a"}},
            {"Name": "AllowListedCountries", "Priority": 1, "Action": {"Allow": {}},
             "Statement": {"GeoMatchStatement": {"CountryCodes": ["DE", "FR"],
                 "ForwardedIPConfig": {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "NO_MATCH"}}},
             "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "b"}}
        ]))
        .unwrap()
    }

    fn verdict(origin: &str, header: Option<&str>) -> Verdict {
        let country = |ip: IpAddr| match ip.to_string().as_str() {
            "81.2.69.160" => Some("DE".to_owned()),
            "2.16.0.1" => Some("FR".to_owned()),
            "8.8.8.8" => Some("US".to_owned()),
            _ => None,
        };
        let ip_set =
            |arn: &str| (arn == "arn:nat").then(|| vec!["198.51.100.10/32".parse().unwrap()]);
        let request = WafRequest {
            origin: origin.parse().unwrap(),
            headers: header
                .map(|v| vec![("x-forwarded-for".to_owned(), v.to_owned())])
                .unwrap_or_default(),
        };
        evaluate(
            &geo_rules(),
            "Block",
            &request,
            &Lookups {
                country: &country,
                ip_set: &ip_set,
            },
        )
    }

    #[test]
    fn the_geo_web_acl_allows_listed_countries_from_the_nat_only_and_fails_closed() {
        let allowed = verdict("198.51.100.10", Some("81.2.69.160, 10.0.0.1"));
        assert_eq!(
            (allowed.action.as_str(), allowed.rule.as_deref()),
            ("ALLOW", Some("AllowListedCountries"))
        );
        let elsewhere = verdict("198.51.100.10", Some("8.8.8.8"));
        assert_eq!((elsewhere.action.as_str(), elsewhere.rule), ("BLOCK", None));
        let not_nat = verdict("203.0.113.5", Some("81.2.69.160"));
        assert_eq!(not_nat.rule.as_deref(), Some("BlockNotFromNat"));
        assert_eq!(
            verdict("198.51.100.10", None).action,
            "BLOCK",
            "no header: fallback NO_MATCH"
        );
        assert_eq!(
            verdict("198.51.100.10", Some("not-an-ip")).action,
            "BLOCK",
            "malformed"
        );
        assert_eq!(
            verdict("198.51.100.10", Some("192.0.2.1")).action,
            "BLOCK",
            "no known location"
        );
        assert_eq!(
            verdict("198.51.100.10", Some("::ffff:81.2.69.160")).action,
            "ALLOW",
            "an IPv4-mapped address is its IPv4 address"
        );
    }
}
