//! "Test an IP": the country of a public address from the bundled
//! IP-to-country database (`geo-whois-asn-country`, CC BY 4.0, in MaxMind's
//! format), with special-purpose ranges never located — WAF would not place
//! them either. A preview: AWS uses a database of its own.

use super::{About, IpTest};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::Path;

/// The database, read whole at start-up.
pub struct GeoDb {
    reader: maxminddb::Reader<Vec<u8>>,
    pub about: About,
}

#[derive(Deserialize)]
struct Record {
    #[serde(default)]
    country_code: Option<String>,
}

/// Where an address is, or why it is not located.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Located {
    Country(String),
    /// A special-purpose range: never located.
    Special(&'static str),
    /// Public, but the database does not know it.
    Unknown,
}

impl Located {
    pub fn country(&self) -> Option<&str> {
        match self {
            Located::Country(code) => Some(code),
            _ => None,
        }
    }
}

impl GeoDb {
    pub fn open(path: &Path) -> Result<GeoDb, String> {
        let reader = maxminddb::Reader::open_readfile(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let built = chrono::DateTime::from_timestamp(reader.metadata.build_epoch as i64, 0)
            .map(|at| at.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        Ok(GeoDb {
            reader,
            about: About {
                source: "geo-whois-asn-country (ip-location-db), from the RIRs' WHOIS and ASN data"
                    .into(),
                licence:
                    "CC BY 4.0; contains information from the Number Resource Organization (NRO)"
                        .into(),
                built,
            },
        })
    }

    /// The country of `ip` (an IPv4-mapped IPv6 address as its IPv4
    /// address); special-purpose ranges are never located.
    pub fn locate(&self, ip: IpAddr) -> Located {
        let ip = ip.to_canonical();
        if let Some(why) = special(ip) {
            return Located::Special(why);
        }
        match self.reader.lookup::<Record>(ip) {
            Ok(Some(Record {
                country_code: Some(code),
            })) if code.len() == 2 => Located::Country(code.to_ascii_uppercase()),
            _ => Located::Unknown,
        }
    }
}

/// Why an address is not a public one, if it is not.
pub fn special(ip: IpAddr) -> Option<&'static str> {
    let within = |cidr: &str| {
        cidr.parse::<ipnet::IpNet>()
            .is_ok_and(|net| net.contains(&ip))
    };
    let ranges: [(&str, &'static str); 20] = [
        ("0.0.0.0/8", "reserved (this network)"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared address space (CGNAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved (IETF protocol assignments)"),
        ("192.0.2.0/24", "documentation"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "reserved (benchmarking)"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/127", "unspecified or loopback"),
        ("fc00::/7", "unique local (private)"),
        ("fe80::/10", "link-local"),
        ("ff00::/8", "multicast"),
        ("2001:db8::/32", "documentation"),
        ("64:ff9b:1::/48", "reserved (local-use translation)"),
    ];
    ranges
        .iter()
        .find(|(cidr, _)| within(cidr))
        .map(|(_, why)| *why)
}

/// Tests `ip` against `parts`' geo web ACL with `doc`'s countries and NAT
/// addresses (the live set's, or a draft's).
pub fn test(
    db: &GeoDb,
    parts: &super::live::Parts,
    doc: &super::VpnDoc,
    ip: IpAddr,
) -> Result<IpTest, String> {
    use crate::rules::evaluate::{Lookups, WafRequest, evaluate};
    let located = db.locate(ip);
    let rules = super::live::rules_with(&parts.web_acl_rules, &doc.countries)?;
    let rules = crate::rules::model::read_rules(rules)?;
    let default = match parts.web_acl_json.get("DefaultAction") {
        Some(action) if action.get("Allow").is_some() => "Allow",
        _ => "Block",
    };
    let nat: Vec<ipnet::IpNet> = doc
        .nat_addresses
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect();
    let origin = nat
        .first()
        .map(|n| n.network())
        .ok_or("the set has no NAT address to send the check from")?;
    let country = |addr: IpAddr| db.locate(addr).country().map(str::to_owned);
    let nat_arn = parts.set.nat_ip_set.arn.clone();
    let ip_set = move |arn: &str| (arn == nat_arn).then(|| nat.clone());
    let request = WafRequest {
        origin,
        headers: vec![("X-Forwarded-For".into(), ip.to_string())],
    };
    let verdict = evaluate(
        &rules,
        default,
        &request,
        &Lookups {
            country: &country,
            ip_set: &ip_set,
        },
    );
    let allow = verdict.action == "ALLOW";
    let code = located.country().map(str::to_owned);
    let name = code
        .as_deref()
        .and_then(super::country_name)
        .map(str::to_owned);
    let handler = serde_json::json!({
        "allow": allow,
        "error-msg-on-failed-posture-compliance": if allow {
            String::new()
        } else {
            format!(
                "Client VPN does not accept connections from {}.",
                name.clone().unwrap_or_else(|| "an unknown location".into())
            )
        },
        "posture-compliance-statuses": [if allow { "compliant" } else { "quarantined" }],
        "schema-version": "v1",
    });
    Ok(IpTest {
        ip: ip.to_string(),
        country: code,
        country_name: name,
        special: match located {
            Located::Special(why) => Some(why.to_owned()),
            _ => None,
        },
        web_acl: verdict,
        handler,
        about: db.about.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::special;

    #[test]
    fn special_purpose_ranges_are_never_located() {
        for (ip, why) in [
            ("10.1.2.3", "private"),
            ("100.64.1.1", "shared address space (CGNAT)"),
            ("192.0.2.7", "documentation"),
            ("::1", "unspecified or loopback"),
            ("fe80::1", "link-local"),
            ("239.1.1.1", "multicast"),
            ("2001:db8::5", "documentation"),
        ] {
            assert_eq!(special(ip.parse().unwrap()), Some(why), "{ip}");
        }
        assert_eq!(special("8.8.8.8".parse().unwrap()), None);
        assert_eq!(special("2a00:1450::1".parse().unwrap()), None);
    }
}
