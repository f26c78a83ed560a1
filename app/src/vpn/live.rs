//! The VPN geofencing set's parts as they are in AWS, each with the token a
//! write based on it carries: the geo web ACL (`GetWebACL`, LockToken), the
//! NAT IP set (`GetIPSet`, LockToken), the deny policy's default version
//! (IAM) and, when one is managed, the SCP's content (Organizations); and
//! the apply, a recorded plan that writes the parts in a fixed order.

use super::VpnDoc;
use crate::rules::live::{self as waf, LiveRules, UpdateError, WebAclRef};
use crate::rules::model::{read_rules, rules_json};
use crate::state::AwsClients;
use crate::targets::ManagedTarget;
use aws_sdk_wafv2::types::Scope;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Where a VPN geofencing set's parts are, as registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRef {
    pub name: String,
    pub geo_web_acl: WebAclRef,
    pub nat_ip_set: IpSetRef,
    pub policy_arn: String,
    pub scp_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpSetRef {
    pub name: String,
    pub id: String,
    pub arn: String,
}

impl SetRef {
    /// From the registered target's detail.
    pub fn of(target: &ManagedTarget) -> Result<SetRef, String> {
        let d = &target.detail;
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let set = SetRef {
            name: target.name.clone(),
            geo_web_acl: WebAclRef {
                name: text(&d["geo_web_acl"]["name"]),
                id: text(&d["geo_web_acl"]["id"]),
                arn: text(&d["geo_web_acl"]["arn"]),
                scope: "REGIONAL".into(),
            },
            nat_ip_set: IpSetRef {
                name: text(&d["nat_ip_set"]["name"]),
                id: text(&d["nat_ip_set"]["id"]),
                arn: text(&d["nat_ip_set"]["arn"]),
            },
            policy_arn: text(&d["policy"]["arn"]),
            scp_id: d["scp_id"].as_str().map(str::to_owned),
        };
        if set.geo_web_acl.id.is_empty()
            || set.nat_ip_set.id.is_empty()
            || set.policy_arn.is_empty()
        {
            return Err(format!(
                "the VPN set {} is registered without its parts",
                target.name
            ));
        }
        Ok(set)
    }
}

/// Every part as read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parts {
    pub set: SetRef,
    /// `LiveRules` as JSON: `{"lock_token", "rules", "web_acl"}`.
    pub web_acl_lock: String,
    pub web_acl_rules: Value,
    pub web_acl_json: Value,
    pub ip_set_lock: String,
    pub addresses: Vec<String>,
    pub policy_version: String,
    pub policy: Value,
    pub scp: Option<Value>,
}

/// A part that could not be read: the call and why.
#[derive(Debug, thiserror::Error)]
#[error("{call}: {cause}")]
pub struct PartError {
    pub call: &'static str,
    pub cause: String,
}

fn failed<E: std::error::Error>(call: &'static str) -> impl FnOnce(E) -> PartError {
    move |e| PartError {
        call,
        cause: aws_sdk_wafv2::error::DisplayErrorContext(&e).to_string(),
    }
}

/// IAM sends a policy document percent-encoded; the emulator sends it as
/// it is.
pub fn policy_document(text: &str) -> Value {
    let decoded = if text.trim_start().starts_with('{') {
        text.to_owned()
    } else {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    };
    serde_json::from_str(&decoded).unwrap_or(Value::String(decoded))
}

pub async fn read(aws: &AwsClients, set: &SetRef) -> Result<Parts, PartError> {
    let rules = waf::rules_of(&aws.wafv2, set.geo_web_acl.clone())
        .await
        .map_err(|e| PartError {
            call: "GetWebACL",
            cause: e.to_string(),
        })?;
    let ip_set = aws
        .wafv2
        .get_ip_set()
        .name(&set.nat_ip_set.name)
        .id(&set.nat_ip_set.id)
        .scope(Scope::Regional)
        .send()
        .await
        .map_err(failed("GetIPSet"))?;
    let mut addresses = ip_set
        .ip_set()
        .map(|s| s.addresses().to_vec())
        .unwrap_or_default();
    addresses.sort();
    let policy = aws
        .iam
        .get_policy()
        .policy_arn(&set.policy_arn)
        .send()
        .await
        .map_err(failed("GetPolicy"))?;
    let version = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .unwrap_or("v1")
        .to_owned();
    let document = aws
        .iam
        .get_policy_version()
        .policy_arn(&set.policy_arn)
        .version_id(&version)
        .send()
        .await
        .map_err(failed("GetPolicyVersion"))?
        .policy_version
        .and_then(|v| v.document)
        .map(|d| policy_document(&d))
        .unwrap_or(Value::Null);
    let scp = match &set.scp_id {
        None => None,
        Some(id) => {
            let found = aws
                .organizations
                .describe_policy()
                .policy_id(id)
                .send()
                .await
                .map_err(failed("organizations:DescribePolicy"))?;
            found
                .policy()
                .and_then(|p| p.content())
                .map(policy_document)
        }
    };
    Ok(Parts {
        set: set.clone(),
        web_acl_lock: rules.lock_token.clone(),
        web_acl_rules: rules_json(&rules.rules),
        web_acl_json: rules.web_acl_json.clone(),
        ip_set_lock: ip_set.lock_token.unwrap_or_default(),
        addresses,
        policy_version: version,
        policy: document,
        scp,
    })
}

/// The rule that allows the listed countries by the forwarded address.
fn is_country_rule(rule: &Value) -> bool {
    rule["Statement"]["GeoMatchStatement"]["ForwardedIPConfig"].is_object()
}

impl Parts {
    /// The set as a change request's content.
    pub fn doc(&self) -> VpnDoc {
        let mut countries: Vec<String> = self
            .web_acl_rules
            .as_array()
            .and_then(|rules| rules.iter().find(|r| is_country_rule(r)))
            .and_then(|r| r["Statement"]["GeoMatchStatement"]["CountryCodes"].as_array())
            .map(|codes| {
                codes
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        countries.sort();
        VpnDoc {
            countries,
            nat_addresses: self.addresses.clone(),
            deny_policy: self.policy.clone(),
            scp: self.scp.clone(),
        }
    }

    /// What a write based on these parts carries: every part's token.
    pub fn token(&self) -> String {
        let scp = self
            .scp
            .as_ref()
            .map(|s| hex::encode(Sha256::digest(s.to_string().as_bytes())));
        json!({
            "web_acl": self.web_acl_lock,
            "ip_set": self.ip_set_lock,
            "policy": self.policy_version,
            "scp": scp,
        })
        .to_string()
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    pub fn read_json(json: &Value) -> Option<Parts> {
        serde_json::from_value(json.clone()).ok()
    }

    fn rules(&self) -> LiveRules {
        LiveRules {
            web_acl: self.set.geo_web_acl.clone(),
            lock_token: self.web_acl_lock.clone(),
            rules: read_rules(self.web_acl_rules.clone()).unwrap_or_default(),
            web_acl_json: self.web_acl_json.clone(),
        }
    }
}

/// The geo web ACL's rules with the country rule allowing `countries`;
/// every other rule as it is.
pub fn rules_with(rules: &Value, countries: &[String]) -> Result<Value, String> {
    let mut rules = rules.clone();
    let Some(rule) = rules
        .as_array_mut()
        .and_then(|rules| rules.iter_mut().find(|r| is_country_rule(r)))
    else {
        return Err("the geo web ACL has no rule allowing countries by X-Forwarded-For (GeoMatchStatement with ForwardedIPConfig)".into());
    };
    rule["Statement"]["GeoMatchStatement"]["CountryCodes"] = json!(countries);
    Ok(rules)
}

/// A part of the set, in the order the apply writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    NatIpSet,
    GeoWebAcl,
    DenyPolicy,
    Scp,
}

impl Part {
    pub const ORDER: [Part; 4] = [Part::NatIpSet, Part::GeoWebAcl, Part::DenyPolicy, Part::Scp];

    pub fn label(self) -> &'static str {
        match self {
            Part::NatIpSet => "NAT IP set",
            Part::GeoWebAcl => "geo web ACL",
            Part::DenyPolicy => "deny policy",
            Part::Scp => "SCP",
        }
    }

    /// Whether `parts` hold what `doc` says for this part.
    fn holds(self, parts: &Parts, doc: &VpnDoc) -> bool {
        let now = parts.doc();
        match self {
            Part::NatIpSet => now.nat_addresses == doc.nat_addresses,
            Part::GeoWebAcl => now.countries == doc.countries,
            Part::DenyPolicy => now.deny_policy == doc.deny_policy,
            Part::Scp => now.scp == doc.scp,
        }
    }

    /// Whether this part of `now` still carries `base`'s token.
    fn untouched(self, now: &Parts, base: &Parts) -> bool {
        match self {
            Part::NatIpSet => now.ip_set_lock == base.ip_set_lock,
            Part::GeoWebAcl => now.web_acl_lock == base.web_acl_lock,
            Part::DenyPolicy => now.policy_version == base.policy_version,
            Part::Scp => now.scp == base.scp,
        }
    }
}

/// Where one part stands against a change: written already, still the
/// base (to write), or moved by someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Done,
    ToWrite,
    Moved,
}

pub fn standing(part: Part, now: &Parts, base: &Parts, target: &VpnDoc) -> Standing {
    if part.holds(now, target) {
        Standing::Done
    } else if part.untouched(now, base) && part.holds(now, &base.doc()) {
        Standing::ToWrite
    } else {
        Standing::Moved
    }
}

/// How a plan's writes went.
#[derive(Debug)]
pub enum PlanError {
    /// A part moved since the change was based on it; nothing was written.
    Moved(Vec<Part>),
    /// Written up to a part that failed: what landed, what failed and why,
    /// and whether the failure may have been taken (no answer).
    Stopped {
        landed: Vec<Part>,
        failed: Part,
        why: String,
        unanswered: bool,
    },
    Unreadable(PartError),
}

/// Writes what `target` changes, part by part in [`Part::ORDER`], after
/// checking that every part is either written already or still what
/// `base` read. Returns the parts written now.
pub async fn apply(
    aws: &AwsClients,
    base: &Parts,
    target: &VpnDoc,
) -> Result<Vec<Part>, PlanError> {
    let now = read(aws, &base.set).await.map_err(PlanError::Unreadable)?;
    let standings: Vec<(Part, Standing)> = Part::ORDER
        .into_iter()
        .filter(|p| *p != Part::Scp || base.set.scp_id.is_some())
        .map(|p| (p, standing(p, &now, base, target)))
        .collect();
    let moved: Vec<Part> = standings
        .iter()
        .filter(|(_, s)| *s == Standing::Moved)
        .map(|(p, _)| *p)
        .collect();
    if !moved.is_empty() {
        return Err(PlanError::Moved(moved));
    }
    let mut landed = Vec::new();
    for (part, _) in standings
        .into_iter()
        .filter(|(_, s)| *s == Standing::ToWrite)
    {
        write(aws, part, &now, target)
            .await
            .map_err(|(why, unanswered)| PlanError::Stopped {
                landed: landed.clone(),
                failed: part,
                why,
                unanswered,
            })?;
        landed.push(part);
    }
    Ok(landed)
}

/// An SDK error as a part's failure: AWS's words, and whether no answer
/// came (the write may have been made).
fn part_failed<E, R>(e: aws_sdk_wafv2::error::SdkError<E, R>) -> (String, bool)
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let unanswered = e.as_service_error().is_none();
    (
        aws_sdk_wafv2::error::DisplayErrorContext(&e).to_string(),
        unanswered,
    )
}

/// One part written with its own optimistic check. The error says why and
/// whether no answer came.
async fn write(
    aws: &AwsClients,
    part: Part,
    now: &Parts,
    target: &VpnDoc,
) -> Result<(), (String, bool)> {
    match part {
        Part::NatIpSet => aws
            .wafv2
            .update_ip_set()
            .name(&now.set.nat_ip_set.name)
            .id(&now.set.nat_ip_set.id)
            .scope(Scope::Regional)
            .set_addresses(Some(target.nat_addresses.clone()))
            .lock_token(&now.ip_set_lock)
            .send()
            .await
            .map(|_| ())
            .map_err(part_failed),
        Part::GeoWebAcl => {
            let rules =
                rules_with(&now.web_acl_rules, &target.countries).map_err(|e| (e, false))?;
            let rules = read_rules(rules).map_err(|e| (e, false))?;
            match waf::update_rules(&aws.wafv2, &now.rules(), &rules).await {
                Ok(_) => Ok(()),
                Err(UpdateError::Unanswered(why)) => Err((why, true)),
                Err(other) => Err((other.to_string(), false)),
            }
        }
        Part::DenyPolicy => {
            let versions = aws
                .iam
                .list_policy_versions()
                .policy_arn(&now.set.policy_arn)
                .send()
                .await
                .map_err(part_failed)?;
            let mut old: Vec<(String, Option<aws_sdk_iam::primitives::DateTime>)> = versions
                .versions()
                .iter()
                .filter(|v| !v.is_default_version())
                .filter_map(|v| Some((v.version_id()?.to_owned(), v.create_date().cloned())))
                .collect();
            // IAM keeps at most five versions: the oldest non-default goes.
            if versions.versions().len() >= 5 {
                old.sort_by_key(|(_, at)| at.map(|d| d.secs()));
                if let Some((oldest, _)) = old.first() {
                    aws.iam
                        .delete_policy_version()
                        .policy_arn(&now.set.policy_arn)
                        .version_id(oldest)
                        .send()
                        .await
                        .map_err(part_failed)?;
                }
            }
            aws.iam
                .create_policy_version()
                .policy_arn(&now.set.policy_arn)
                .policy_document(target.deny_policy.to_string())
                .set_as_default(true)
                .send()
                .await
                .map(|_| ())
                .map_err(part_failed)
        }
        Part::Scp => {
            let (Some(id), Some(content)) = (&now.set.scp_id, &target.scp) else {
                return Ok(());
            };
            aws.organizations
                .update_policy()
                .policy_id(id)
                .content(content.to_string())
                .send()
                .await
                .map(|_| ())
                .map_err(part_failed)
        }
    }
}
