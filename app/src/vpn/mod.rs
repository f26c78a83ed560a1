//! Client VPN geofencing (SPEC §5): the allowed countries and the NAT
//! gateway addresses, and what follows from them — the geo web ACL's
//! country rule, the NAT IP set and the deny policy (and SCP) — managed as
//! one document that a change request carries whole.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[cfg(feature = "ssr")]
pub mod geo;
#[cfg(feature = "ssr")]
pub mod live;
#[cfg(feature = "ssr")]
pub mod service;

/// The content of a VPN geofencing change request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VpnDoc {
    /// ISO 3166-1 alpha-2 codes, sorted.
    pub countries: Vec<String>,
    /// CIDRs, sorted.
    pub nat_addresses: Vec<String>,
    /// The deny policy document, as it follows from the NAT addresses (or
    /// as read).
    pub deny_policy: Value,
    /// The SCP's content, when an SCP is managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<Value>,
}

/// What the page says of the database it used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct About {
    pub source: String,
    pub licence: String,
    /// `YYYY-MM-DD`, from the database's build time.
    pub built: String,
}

/// What "Test an IP" finds for one address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpTest {
    pub ip: String,
    /// ISO code, when located.
    pub country: Option<String>,
    pub country_name: Option<String>,
    /// Why it is not located, when it is a special-purpose address.
    pub special: Option<String>,
    /// What the geo web ACL does with a request from the NAT carrying the
    /// address in `X-Forwarded-For`.
    pub web_acl: crate::rules::evaluate::Verdict,
    /// The connect handler's answer, as Client VPN expects it.
    pub handler: serde_json::Value,
    pub about: About,
}

/// A country: its code and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Country {
    pub code: String,
    pub name: String,
}

/// Every ISO 3166-1 country, by code.
pub fn all_countries() -> Vec<Country> {
    isocountry::CountryCode::iter_alpha2()
        .map(|c| Country {
            code: c.alpha2().to_owned(),
            name: c.name().to_owned(),
        })
        .collect()
}

/// The name of a country code, if it is one.
pub fn country_name(code: &str) -> Option<&'static str> {
    isocountry::CountryCode::for_alpha2(code)
        .ok()
        .map(|c| c.name())
}

/// A NAT address as AWS WAF takes it: a CIDR, a bare address made /32 or
/// /128.
pub fn cidr(text: &str) -> Result<String, String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<ipnet::IpNet>() {
        if net.trunc() != net {
            return Err(format!(
                "{text} has host bits set: write {} (or the address alone)",
                net.trunc()
            ));
        }
        return Ok(net.to_string());
    }
    match text.parse::<std::net::IpAddr>() {
        Ok(address) => Ok(ipnet::IpNet::from(address).to_string()),
        Err(_) => Err(format!(
            "{text:?} is not an IP address or CIDR (203.0.113.10, 2001:db8::/64)"
        )),
    }
}

impl VpnDoc {
    pub fn read(json: &Value) -> Result<VpnDoc, String> {
        serde_json::from_value(json.clone()).map_err(|e| format!("not a VPN geofencing set: {e}"))
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Sorted and without repeats; the deny policy and SCP made to follow
    /// the NAT addresses.
    pub fn normalised(mut self) -> VpnDoc {
        self.countries
            .iter_mut()
            .for_each(|c| *c = c.to_ascii_uppercase());
        self.countries.sort();
        self.countries.dedup();
        self.nat_addresses.sort();
        self.nat_addresses.dedup();
        self.deny_policy = deny_policy(&self.nat_addresses);
        if self.scp.is_some() {
            self.scp = Some(deny_policy(&self.nat_addresses));
        }
        self
    }

    /// What AWS (or Client VPN) would refuse, or what would lock everyone
    /// out: unknown country codes, malformed addresses, no NAT address.
    pub fn check(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        let unknown: Vec<&str> = self
            .countries
            .iter()
            .filter(|c| country_name(c).is_none())
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            problems.push(format!(
                "not ISO 3166-1 alpha-2 country codes: {}",
                unknown.join(", ")
            ));
        }
        for address in &self.nat_addresses {
            if let Err(why) = cidr(address) {
                problems.push(why);
            }
        }
        // IAM counts a managed policy's characters without whitespace;
        // Organizations an SCP's likewise.
        let size = |v: &Value| v.to_string().chars().filter(|c| !c.is_whitespace()).count();
        if size(&self.deny_policy) > 6144 {
            problems.push(format!(
                "the deny policy would be {} characters; IAM takes at most 6,144 (fewer NAT addresses, or wider ranges)",
                size(&self.deny_policy)
            ));
        }
        if self.scp.as_ref().is_some_and(|scp| size(scp) > 5120) {
            problems
                .push("the SCP would be over the 5,120 characters AWS Organizations takes".into());
        }
        if self.nat_addresses.is_empty() {
            problems.push(
                "no NAT address: the deny policy would deny every call and the check endpoint every client"
                    .into(),
            );
        }
        match problems.is_empty() {
            true => Ok(()),
            false => Err(problems.join("; ")),
        }
    }

    /// Item by item, for diffs and rebases.
    pub fn items(&self) -> Vec<(String, Value)> {
        let mut items = vec![
            ("countries".to_owned(), json!(self.countries)),
            ("NAT addresses".to_owned(), json!(self.nat_addresses)),
            ("deny policy".to_owned(), self.deny_policy.clone()),
        ];
        if let Some(scp) = &self.scp {
            items.push(("SCP".to_owned(), scp.clone()));
        }
        items
    }

    pub fn from_items(items: Vec<(String, Value)>) -> VpnDoc {
        let get = |name: &str| {
            items
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let strings = |v: Option<Value>| -> Vec<String> {
            v.and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default()
        };
        VpnDoc {
            countries: strings(get("countries")),
            nat_addresses: strings(get("NAT addresses")),
            deny_policy: get("deny policy").unwrap_or(Value::Null),
            scp: get("SCP"),
        }
    }
}

/// Denies every action whose caller is not at a NAT address, unless made
/// through an AWS service or by a service role.
pub fn deny_policy(nat_addresses: &[String]) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyUnlessFromTheVpnNat",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "NotIpAddress": {"aws:SourceIp": nat_addresses},
                "Bool": {"aws:ViaAWSService": "false"},
                "ArnNotLikeIfExists": {"aws:PrincipalARN": ["arn:aws:iam::*:role/service-role/*"]}
            }
        }]
    })
}

/// A change in words: which countries and addresses come and go.
pub fn in_words(change: &crate::changes::ItemChange) -> String {
    use crate::changes::ItemChange;
    let list = |v: &Value| -> Vec<String> { serde_json::from_value(v.clone()).unwrap_or_default() };
    match change {
        ItemChange::Changed {
            name,
            before,
            after,
            ..
        } if name == "countries" || name == "NAT addresses" => {
            let (was, now) = (list(before), list(after));
            let added: Vec<String> = now.iter().filter(|c| !was.contains(c)).cloned().collect();
            let removed: Vec<String> = was.iter().filter(|c| !now.contains(c)).cloned().collect();
            let named = |codes: &[String]| {
                codes
                    .iter()
                    .map(|c| match country_name(c).filter(|_| name == "countries") {
                        Some(n) => format!("{c} ({n})"),
                        None => c.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut parts = Vec::new();
            if !added.is_empty() {
                parts.push(format!("+ {}", named(&added)));
            }
            if !removed.is_empty() {
                parts.push(format!("− {}", named(&removed)));
            }
            format!("{name}: {}", parts.join("; "))
        }
        ItemChange::Changed { name, .. } => {
            format!("{name} changes (it follows the NAT addresses)")
        }
        ItemChange::Added { name, .. } => format!("{name} is added"),
        ItemChange::Removed { name, .. } => format!("{name} is removed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::diff::diff_named;

    #[test]
    fn codes_and_addresses_are_checked() {
        let doc = VpnDoc {
            countries: vec!["de".into(), "XX".into(), "FR".into()],
            nat_addresses: vec!["203.0.113.10/32".into(), "nope".into()],
            ..VpnDoc::default()
        }
        .normalised();
        assert_eq!(doc.countries, ["DE", "FR", "XX"]);
        let problems = doc.check().unwrap_err();
        assert!(problems.contains("country codes: XX"), "{problems}");
        assert!(
            problems.contains("\"nope\" is not an IP address"),
            "{problems}"
        );
        assert_eq!(cidr("203.0.113.10").unwrap(), "203.0.113.10/32");
        assert_eq!(cidr("2001:db8::1").unwrap(), "2001:db8::1/128");
        assert!(cidr("203.0.113.10/24").unwrap_err().contains("host bits"));
        let empty = VpnDoc::default().normalised();
        assert!(empty.check().unwrap_err().contains("no NAT address"));
        let many = VpnDoc {
            countries: vec!["DE".into()],
            nat_addresses: (0..400)
                .map(|i| format!("198.51.{}.{}/32", i / 250, i % 250))
                .collect(),
            ..VpnDoc::default()
        }
        .normalised();
        assert!(
            many.check()
                .unwrap_err()
                .contains("IAM takes at most 6,144")
        );
    }

    #[test]
    fn the_deny_policy_follows_the_nat_addresses_and_the_diff_says_so() {
        let before = VpnDoc {
            countries: vec!["DE".into(), "ES".into()],
            nat_addresses: vec!["203.0.113.10/32".into()],
            ..VpnDoc::default()
        }
        .normalised();
        let mut after = before.clone();
        after.countries = vec!["DE".into(), "FR".into()];
        after.nat_addresses.push("198.51.100.7/32".into());
        let after = after.normalised();
        assert_eq!(
            after.deny_policy["Statement"][0]["Condition"]["NotIpAddress"]["aws:SourceIp"],
            json!(["198.51.100.7/32", "203.0.113.10/32"])
        );
        let words: Vec<String> = diff_named(before.items(), after.items())
            .iter()
            .map(in_words)
            .collect();
        assert_eq!(
            words,
            [
                "countries: + FR (France); − ES (Spain)",
                "NAT addresses: + 198.51.100.7/32",
                "deny policy changes (it follows the NAT addresses)"
            ]
        );
    }
}
