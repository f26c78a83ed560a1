//! What a web ACL does with one request, rule by rule in priority order,
//! with AWS WAF's semantics for the statements it can decide: IP set
//! references (origin or forwarded address), geo match (origin or
//! forwarded address: the first address of the header; a malformed value
//! takes the fallback; an address with no known location matches no
//! country), byte match on the URI path, the method or a header (with the
//! common text transformations and every positional constraint), label
//! match, and `And`/`Or`/`Not`. What a request's data cannot decide (a
//! body, a managed rule group, a header the data does not hold) is not
//! guessed: the verdict says so. Pure, for the server, the command line
//! and the browser; the VPN's "Test an IP" and the traffic replay both ask
//! it.

use super::model::{
    FieldToMatch, LabelMatchScope, PositionalConstraint, RuleAction, RuleEntry, Statement,
    TextTransformation,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::net::IpAddr;

/// What is known of a request. `None` is "the data cannot say": a
/// statement that needs it is not decided.
pub trait Facts {
    /// The address the request came from.
    fn origin(&self) -> Option<IpAddr>;
    /// The country WAF resolved for the origin, when the data holds it
    /// (`Some(None)`: none); otherwise it is looked up.
    fn origin_country(&self) -> Option<Option<&str>> {
        None
    }
    /// A header's value (`Some(None)`: the request has no such header).
    fn header(&self, name: &str) -> Option<Option<&str>>;
    fn uri_path(&self) -> Option<&str> {
        None
    }
    fn method(&self) -> Option<&str> {
        None
    }
    /// The labels earlier rules added.
    fn labels(&self) -> Option<&[&str]> {
        None
    }
}

/// The request: where it comes from and its `X-Forwarded-For`-style
/// headers (all of them: a header not listed is absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WafRequest {
    pub origin: IpAddr,
    /// Header name (any case) and value.
    pub headers: Vec<(String, String)>,
}

impl Facts for WafRequest {
    fn origin(&self) -> Option<IpAddr> {
        Some(self.origin)
    }

    fn header(&self, name: &str) -> Option<Option<&str>> {
        Some(
            self.headers
                .iter()
                .find(|(header, _)| header.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str()),
        )
    }
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
    request: &dyn Facts,
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
/// `ANY`), as WAF takes them; `Ok(None)` when the header is missing or a
/// value it looks at is not an address.
fn forwarded(
    request: &dyn Facts,
    header: &str,
    position: &str,
) -> Result<Option<Vec<IpAddr>>, String> {
    let Some(value) = request.header(header) else {
        return Err(format!("the {header} header is not known here"));
    };
    let Some(value) = value else {
        return Ok(None);
    };
    let mut values = value.split(',').map(|v| v.trim().parse::<IpAddr>().ok());
    Ok(match position {
        "LAST" => values.next_back().flatten().map(|ip| vec![ip]),
        "ANY" => values.collect(),
        _ => values.next().flatten().map(|ip| vec![ip]),
    })
}

/// What a statement on addresses looks at: the origin, or the forwarded
/// ones.
enum Addresses {
    Origin(IpAddr),
    Forwarded(Vec<IpAddr>),
    /// The forwarded header is missing or malformed: the fallback decides.
    Fallback(bool),
}

fn addresses(request: &dyn Facts, config: Option<(&str, &str, &str)>) -> Result<Addresses, String> {
    match config {
        None => request
            .origin()
            .map(Addresses::Origin)
            .ok_or_else(|| "the client address is not known here".to_owned()),
        Some((header, fallback, position)) => Ok(match forwarded(request, header, position)? {
            Some(ips) => Addresses::Forwarded(ips),
            None => Addresses::Fallback(fallback == "MATCH"),
        }),
    }
}

/// The field a byte match inspects, as the request holds it.
fn field<'a>(request: &'a dyn Facts, field: &FieldToMatch) -> Result<Option<&'a str>, String> {
    let unknown = |what: &str| format!("the {what} is not known here");
    match field {
        FieldToMatch::UriPath(_) => request
            .uri_path()
            .map(Some)
            .ok_or_else(|| unknown("URI path")),
        FieldToMatch::Method(_) => request.method().map(Some).ok_or_else(|| unknown("method")),
        FieldToMatch::SingleHeader(h) => request
            .header(&h.name)
            .ok_or_else(|| unknown(&format!("{} header", h.name))),
        FieldToMatch::QueryString(_) => Err(unknown("query string")),
        FieldToMatch::Other(_) => {
            Err("a byte match on this part of the request is not evaluated here".into())
        }
    }
}

/// `text` after WAF's text transformations, in priority order.
fn transformed<'a>(
    text: &'a str,
    transformations: &[TextTransformation],
) -> Result<Cow<'a, str>, String> {
    let mut ordered: Vec<&TextTransformation> = transformations.iter().collect();
    ordered.sort_by_key(|t| t.priority);
    let mut out = Cow::Borrowed(text);
    for t in ordered {
        out = match t.kind.as_str() {
            "NONE" => out,
            "LOWERCASE" => Cow::Owned(out.to_lowercase()),
            "URL_DECODE" | "URL_DECODE_UNI" => Cow::Owned(url_decoded(&out)),
            "COMPRESS_WHITE_SPACE" => {
                Cow::Owned(out.split_whitespace().collect::<Vec<_>>().join(" "))
            }
            "TRIM" => Cow::Owned(out.trim().to_owned()),
            other => {
                return Err(format!(
                    "the text transformation {other} is not evaluated here"
                ));
            }
        };
    }
    Ok(out)
}

fn url_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `search` is in `text` where `position` says.
fn positioned(text: &str, search: &str, position: &PositionalConstraint) -> Result<bool, String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    Ok(match position {
        PositionalConstraint::Exactly => text == search,
        PositionalConstraint::StartsWith => text.starts_with(search),
        PositionalConstraint::EndsWith => text.ends_with(search),
        PositionalConstraint::Contains => text.contains(search),
        PositionalConstraint::ContainsWord => text.match_indices(search).any(|(at, _)| {
            let before = text.as_bytes()[..at].last().is_none_or(|&b| !word(b));
            let after = text.as_bytes()[at + search.len()..]
                .first()
                .is_none_or(|&b| !word(b));
            before && after
        }),
        PositionalConstraint::Other(other) => {
            return Err(format!(
                "the positional constraint {other} is not evaluated here"
            ));
        }
    })
}

/// Whether a label match statement holds for `label`: the label's name
/// (with any of its namespaces before it) for `LABEL`, a run of whole
/// namespaces for `NAMESPACE`.
pub fn label_matches(scope: &LabelMatchScope, key: &str, label: &str) -> bool {
    match scope {
        LabelMatchScope::Label => label == key || label.ends_with(&format!(":{key}")),
        _ => {
            let key = key.trim_end_matches(':');
            let namespace = label.rsplit_once(':').map_or("", |(ns, _)| ns);
            format!(":{namespace}:").contains(&format!(":{key}:"))
        }
    }
}

/// Whether `statement` matches the request; `Err` says why it cannot be
/// decided from what is known of it.
pub fn matches(
    statement: &Statement,
    request: &dyn Facts,
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
            let listed = |c: &str| geo.country_codes.iter().any(|code| code == c);
            if config.is_none()
                && let Some(country) = request.origin_country()
            {
                return Ok(country.is_some_and(listed));
            }
            Ok(match addresses(request, config)? {
                Addresses::Fallback(fallback) => fallback,
                Addresses::Origin(ip) => {
                    (lookups.country)(ip.to_canonical()).is_some_and(|c| listed(&c))
                }
                Addresses::Forwarded(ips) => ips
                    .into_iter()
                    .any(|ip| (lookups.country)(ip.to_canonical()).is_some_and(|c| listed(&c))),
            })
        }
        Statement::ByteMatch(byte) => {
            let Some(text) = field(request, &byte.field_to_match)? else {
                return Ok(false);
            };
            let text = transformed(text, &byte.text_transformations)?;
            positioned(&text, &byte.search_string, &byte.positional_constraint)
        }
        Statement::LabelMatch(label) => {
            let labels = request.labels().ok_or("the labels are not known here")?;
            Ok(labels
                .iter()
                .any(|l| label_matches(&label.scope, &label.key, l)))
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
            let listed = |ip: IpAddr| {
                let ip = ip.to_canonical();
                set.iter().any(|net| net.contains(&ip))
            };
            Ok(match addresses(request, config)? {
                Addresses::Fallback(fallback) => fallback,
                Addresses::Origin(ip) => listed(ip),
                Addresses::Forwarded(ips) => ips.into_iter().any(listed),
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
