//! An analysis as a person asks for it: time range, window, key, filters.
//! The same question arrives from the command line's flags and from the
//! Traffic page's query string, so a shared link re-asks it exactly.

use chrono::{DateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// What requests are counted by (a rate-based rule's aggregation key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyBy {
    /// The client IP, as `AggregateKeyType: IP`.
    Ip,
    /// The first address in this header, as `FORWARDED_IP`.
    Forwarded(String),
    /// Client IP and URI.
    IpUri,
    Country,
}

impl KeyBy {
    pub fn parse(text: &str) -> Result<KeyBy, String> {
        match text {
            "ip" => Ok(KeyBy::Ip),
            "ip-uri" => Ok(KeyBy::IpUri),
            "country" => Ok(KeyBy::Country),
            other => match other.strip_prefix("forwarded:") {
                Some(header) if valid_header(header) => Ok(KeyBy::Forwarded(header.to_owned())),
                _ => Err(format!(
                    "by: {other:?} is not one of ip, forwarded:HEADER, ip-uri, country"
                )),
            },
        }
    }

    pub fn as_text(&self) -> String {
        match self {
            KeyBy::Ip => "ip".into(),
            KeyBy::Forwarded(header) => format!("forwarded:{header}"),
            KeyBy::IpUri => "ip-uri".into(),
            KeyBy::Country => "country".into(),
        }
    }

    /// What the result table calls the key.
    pub fn label(&self) -> String {
        match self {
            KeyBy::Ip | KeyBy::IpUri => "Client IP".into(),
            KeyBy::Forwarded(header) => format!("{header} (first address)"),
            KeyBy::Country => "Country".into(),
        }
    }
}

/// An HTTP header name: a token (RFC 9110).
fn valid_header(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UriMatch {
    Exact,
    Prefix,
}

/// `EvaluationWindowSec` values WAF accepts.
pub const WINDOWS: [u32; 4] = [60, 120, 300, 600];
/// Sliding windows start this often (seconds).
pub const SLIDE_SECONDS: i64 = 10;
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analysis {
    /// Records count when `from ≤ time < to`.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Seconds.
    pub window: u32,
    pub by: KeyBy,
    pub uri: Option<String>,
    pub uri_match: UriMatch,
    pub method: Option<String>,
    pub country: Option<String>,
    /// Only the requests this web ACL logged: its name or ARN, or
    /// [`UNKNOWN_WEB_ACL`] for logs imported before web ACLs were kept.
    /// All web ACLs when `None`.
    pub web_acl: Option<String>,
    /// Only the requests that carry this label (`awswaf:…:Name`), or any
    /// label in this namespace when it ends with `:`.
    pub label: Option<String>,
    pub sliding: bool,
    /// Rows of the top list.
    pub limit: usize,
}

/// What `web_acl` says for requests whose log named no web ACL: those
/// imported before web ACLs were kept.
pub const UNKNOWN_WEB_ACL: &str = "unknown";

/// The name in a web ACL's ARN
/// (`arn:aws:wafv2:REGION:ACCOUNT:SCOPE/webacl/NAME/ID`), if it is one.
pub fn web_acl_name(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once("/webacl/")?;
    rest.split('/').next().filter(|n| !n.is_empty())
}

/// Whether a log's web ACL (its ARN; `None` when the log named none)
/// is the one `wanted` names: by ARN, by name, or [`UNKNOWN_WEB_ACL`].
pub fn web_acl_matches(wanted: &str, logged: Option<&str>) -> bool {
    match logged {
        None => wanted == UNKNOWN_WEB_ACL,
        Some(arn) => arn == wanted || web_acl_name(arn) == Some(wanted),
    }
}

/// Whether a request's labels hold `wanted`: the label itself, or any
/// label in the namespace `wanted` ends with `:`.
pub fn label_matches(wanted: &str, label: &str) -> bool {
    match wanted.ends_with(':') {
        true => label.starts_with(wanted),
        false => label == wanted,
    }
}

/// A WAF label or namespace as `LabelMatchStatement` takes it.
pub fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 1024
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-:".contains(&b))
}

/// A web ACL's name or ARN as a filter names it.
fn valid_web_acl(text: &str) -> bool {
    let name = |n: &str| {
        !n.is_empty()
            && n.len() <= 128
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
    };
    match text.strip_prefix("arn:") {
        Some(_) => text.len() <= 2048 && web_acl_name(text).is_some_and(name),
        None => name(text),
    }
}

impl Analysis {
    /// Checks what the flags or the query string cannot: times in whole
    /// seconds (counts are kept per second), `from` before `to`, a window
    /// WAF accepts.
    pub fn validate(self) -> Result<Analysis, String> {
        if self.from.nanosecond() != 0 || self.to.nanosecond() != 0 {
            return Err(
                "from and to are counted in whole seconds: leave out fractions of a second".into(),
            );
        }
        if self.from >= self.to {
            return Err("from must be before to".into());
        }
        if !WINDOWS.contains(&self.window) {
            return Err(format!(
                "window: {} is not one of 60, 120, 300, 600 seconds",
                self.window
            ));
        }
        if self.limit == 0 || self.limit > MAX_LIMIT {
            return Err(format!("limit: give 1 to {MAX_LIMIT} rows"));
        }
        if let Some(country) = &self.country
            && !(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(format!(
                "country: {country:?} is not a two-letter ISO 3166 code like DE"
            ));
        }
        if let Some(web_acl) = &self.web_acl
            && !valid_web_acl(web_acl)
        {
            return Err(format!(
                "web ACL: {web_acl:?} is neither a web ACL's name nor its ARN"
            ));
        }
        if let Some(label) = &self.label
            && !valid_label(label)
        {
            return Err(format!(
                "label: {label:?} is not a WAF label (letters, digits, _, - and :, like awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList)"
            ));
        }
        Ok(self)
    }

    /// Reads an analysis from query-string values (`get` returns a
    /// parameter's decoded value). `default_range` fills a missing time range.
    pub fn from_query(
        get: impl Fn(&str) -> Option<String>,
        default_range: (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<Analysis, String> {
        let text = |key: &str| {
            get(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let time = |key: &str, default: DateTime<Utc>| match text(key) {
            None => Ok(default),
            Some(v) => parse_time(&v)
                .ok_or_else(|| format!("{key}: {v:?} is not a date and time (RFC 3339)")),
        };
        let number = |key: &str, default: usize| match text(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| format!("{key}: {v:?} is not a whole number")),
        };
        Analysis {
            from: time("from", default_range.0)?,
            to: time("to", default_range.1)?,
            window: number("window", 300)? as u32,
            by: text("by").map_or(Ok(KeyBy::Ip), |v| KeyBy::parse(&v))?,
            uri: text("uri"),
            uri_match: match text("uri_match").as_deref() {
                None | Some("exact") => UriMatch::Exact,
                Some("prefix") => UriMatch::Prefix,
                Some(other) => return Err(format!("uri_match: {other:?} is not exact or prefix")),
            },
            method: text("method").map(|m| m.to_ascii_uppercase()),
            country: text("country").map(|c| c.to_ascii_uppercase()),
            web_acl: text("web_acl").filter(|w| w != "all"),
            label: text("label"),
            sliding: matches!(text("sliding").as_deref(), Some("true" | "1" | "on")),
            limit: number("limit", DEFAULT_LIMIT)?,
        }
        .validate()
    }

    /// The analysis as a query string (without `?`): the shareable link.
    pub fn to_query(&self) -> String {
        let mut pairs = vec![
            format!("from={}", crate::url::encode(&rfc3339(self.from))),
            format!("to={}", crate::url::encode(&rfc3339(self.to))),
            format!("window={}", self.window),
            format!("by={}", crate::url::encode(&self.by.as_text())),
        ];
        if let Some(uri) = &self.uri {
            pairs.push(format!("uri={}", crate::url::encode(uri)));
            if self.uri_match == UriMatch::Prefix {
                pairs.push("uri_match=prefix".into());
            }
        }
        if let Some(method) = &self.method {
            pairs.push(format!("method={}", crate::url::encode(method)));
        }
        if let Some(country) = &self.country {
            pairs.push(format!("country={}", crate::url::encode(country)));
        }
        if let Some(web_acl) = &self.web_acl {
            pairs.push(format!("web_acl={}", crate::url::encode(web_acl)));
        }
        if let Some(label) = &self.label {
            pairs.push(format!("label={}", crate::url::encode(label)));
        }
        if self.sliding {
            pairs.push("sliding=true".into());
        }
        if self.limit != DEFAULT_LIMIT {
            pairs.push(format!("limit={}", self.limit));
        }
        pairs.join("&")
    }
}

/// RFC 3339 in UTC with a `Z`, whole seconds.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> (DateTime<Utc>, DateTime<Utc>) {
        (
            parse_time("2026-11-22T00:00:00Z").unwrap(),
            parse_time("2026-11-23T00:00:00Z").unwrap(),
        )
    }

    #[test]
    fn an_analysis_survives_its_link() {
        let pairs = [
            ("from", "2026-11-22T09:00:00+01:00"),
            ("by", "forwarded:X-Forwarded-For"),
            ("uri", "/login"),
            ("uri_match", "prefix"),
            ("method", "post"),
            ("web_acl", "shop"),
            ("label", "awswaf:managed:aws:anonymous-ip-list:"),
            ("sliding", "true"),
            ("window", "60"),
        ];
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        };
        let analysis = Analysis::from_query(get, day()).unwrap();
        assert_eq!(analysis.from, parse_time("2026-11-22T08:00:00Z").unwrap());
        assert_eq!(analysis.method.as_deref(), Some("POST"));
        let link = analysis.to_query();
        assert_eq!(
            link,
            "from=2026-11-22T08%3A00%3A00Z&to=2026-11-23T00%3A00%3A00Z&window=60&by=forwarded%3AX-Forwarded-For&uri=/login&uri_match=prefix&method=POST&web_acl=shop&label=awswaf%3Amanaged%3Aaws%3Aanonymous-ip-list%3A&sliding=true"
        );
        let decoded: Vec<(String, String)> = link
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                (k.to_owned(), v.replace("%3A", ":"))
            })
            .collect();
        let again = Analysis::from_query(
            |k| {
                decoded
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
            },
            day(),
        )
        .unwrap();
        assert_eq!(again, analysis);
    }

    #[test]
    fn web_acls_match_by_arn_or_name_and_old_logs_are_unknown() {
        let arn = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/shop/6a1b";
        assert_eq!(web_acl_name(arn), Some("shop"));
        assert!(web_acl_matches("shop", Some(arn)));
        assert!(web_acl_matches(arn, Some(arn)));
        assert!(!web_acl_matches("sho", Some(arn)));
        assert!(!web_acl_matches("shop", None));
        assert!(web_acl_matches(UNKNOWN_WEB_ACL, None));
        assert!(label_matches(
            "awswaf:managed:aws:",
            "awswaf:managed:aws:x:Y"
        ));
        assert!(!label_matches(
            "awswaf:managed:aws",
            "awswaf:managed:aws:x:Y"
        ));
        assert!(label_matches("a:b", "a:b"));
    }

    #[test]
    fn questions_that_cannot_be_answered_say_why() {
        let ask = |k: &'static str, v: &'static str| {
            Analysis::from_query(move |key| (key == k).then(|| v.to_owned()), day())
        };
        assert!(
            ask("window", "30")
                .unwrap_err()
                .contains("60, 120, 300, 600")
        );
        assert!(
            ask("by", "forwarded:")
                .unwrap_err()
                .contains("forwarded:HEADER")
        );
        assert!(ask("by", "forwarded:X Y").is_err(), "not a header name");
        assert!(
            ask("from", "2026-11-23T00:00:00Z")
                .unwrap_err()
                .contains("before")
        );
        assert!(
            ask("from", "2026-11-22T00:00:00.5Z")
                .unwrap_err()
                .contains("whole seconds")
        );
        assert!(
            ask("country", "Germany")
                .unwrap_err()
                .contains("two-letter")
        );
        assert!(ask("limit", "0").is_err());
        assert!(ask("web_acl", "shop one").unwrap_err().contains("web ACL"));
        assert!(ask("web_acl", "arn:aws:wafv2:x").is_err(), "no name in it");
        assert_eq!(ask("web_acl", "all").unwrap().web_acl, None);
        assert!(ask("label", "awswaf:bad label").is_err());
        assert!(ask("uri_match", "regex").is_err());
    }
}
