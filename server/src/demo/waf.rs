//! The demo's WAF resources: the `shop` web ACL with the three rules of the
//! AWS guidance on rate-based rules, the `vpn-nat` IP set of NAT gateway
//! addresses, and the `vpn-geo` web ACL for Client VPN geofencing.

use super::{ProvisionError, Resource};
use app::targets::TargetKind;
use aws_sdk_wafv2::{
    Client,
    primitives::Blob,
    types::{
        AllowAction, BlockAction, ByteMatchStatement, CountryCode, DefaultAction, FallbackBehavior,
        FieldToMatch, ForwardedIpConfig, GeoMatchStatement, IpAddressVersion,
        IpSetReferenceStatement, ManagedRuleGroupStatement, NoneAction, NotStatement,
        OverrideAction, PositionalConstraint, RateBasedStatement,
        RateBasedStatementAggregateKeyType, Rule, RuleAction, Scope, Statement, TextTransformation,
        TextTransformationType, UriPath, VisibilityConfig,
    },
};

pub const SHOP_WEB_ACL: &str = "shop";
pub const VPN_GEO_WEB_ACL: &str = "vpn-geo";
pub const VPN_NAT_IP_SET: &str = "vpn-nat";
/// Documentation addresses (RFC 5737) standing in for two NAT gateways.
pub const NAT_ADDRESSES: [&str; 2] = ["198.51.100.10/32", "198.51.100.11/32"];
/// The countries the demo allows to connect to Client VPN.
pub const ALLOWED_COUNTRIES: [CountryCode; 3] = [CountryCode::De, CountryCode::Gb, CountryCode::Us];

pub async fn provision(waf: &Client) -> Result<Vec<Resource>, ProvisionError> {
    let shop = web_acl(
        waf,
        SHOP_WEB_ACL,
        shop_rules()?,
        "Storefront: rate limits per the AWS guidance",
    )
    .await?;
    let nat = ip_set(waf).await?;
    let nat_arn = nat.arn.clone().unwrap_or_default();
    let geo = web_acl(
        waf,
        VPN_GEO_WEB_ACL,
        vpn_geo_rules(&nat_arn)?,
        "Client VPN check endpoint: allowed countries from the NAT gateways only",
    )
    .await?;
    Ok(vec![shop, geo, nat])
}

/// Finds the web ACL by name, or creates it with `rules`. An existing web
/// ACL is left exactly as it is.
pub async fn web_acl(
    waf: &Client,
    name: &str,
    rules: Vec<Rule>,
    description: &str,
) -> Result<Resource, ProvisionError> {
    let step = format!("web ACL {name}");
    let existing = list_web_acls(waf, &step).await?;
    let summary = match existing.into_iter().find(|acl| acl.name() == Some(name)) {
        Some(summary) => summary,
        None => waf
            .create_web_acl()
            .name(name)
            .scope(Scope::Regional)
            .description(description)
            .default_action(
                DefaultAction::builder()
                    .block(BlockAction::builder().build())
                    .build(),
            )
            .visibility_config(visibility(&metric_name(name))?)
            .set_rules(Some(rules))
            .send()
            .await
            .map_err(ProvisionError::at(format!("create {step}")))?
            .summary
            .ok_or_else(|| missing(&step, "summary"))?,
    };
    Ok(Resource {
        kind: TargetKind::WebAcl,
        scope: Some("REGIONAL"),
        name: name.to_owned(),
        aws_id: summary.id.ok_or_else(|| missing(&step, "id"))?,
        arn: summary.arn,
    })
}

async fn list_web_acls(
    waf: &Client,
    step: &str,
) -> Result<Vec<aws_sdk_wafv2::types::WebAclSummary>, ProvisionError> {
    let mut all = Vec::new();
    let mut marker = None;
    loop {
        let page = waf
            .list_web_acls()
            .scope(Scope::Regional)
            .limit(100)
            .set_next_marker(marker)
            .send()
            .await
            .map_err(ProvisionError::at(format!("list web ACLs for {step}")))?;
        all.extend(page.web_acls.unwrap_or_default());
        match page.next_marker {
            Some(next) if !next.is_empty() => marker = Some(next),
            _ => return Ok(all),
        }
    }
}

async fn ip_set(waf: &Client) -> Result<Resource, ProvisionError> {
    let step = format!("IP set {VPN_NAT_IP_SET}");
    let existing = waf
        .list_ip_sets()
        .scope(Scope::Regional)
        .limit(100)
        .send()
        .await
        .map_err(ProvisionError::at(format!("list IP sets for {step}")))?
        .ip_sets
        .unwrap_or_default();
    let summary = match existing
        .into_iter()
        .find(|set| set.name() == Some(VPN_NAT_IP_SET))
    {
        Some(summary) => summary,
        None => waf
            .create_ip_set()
            .name(VPN_NAT_IP_SET)
            .scope(Scope::Regional)
            .description("NAT gateway addresses of the Client VPN")
            .ip_address_version(IpAddressVersion::Ipv4)
            .set_addresses(Some(NAT_ADDRESSES.map(String::from).to_vec()))
            .send()
            .await
            .map_err(ProvisionError::at(format!("create {step}")))?
            .summary
            .ok_or_else(|| missing(&step, "summary"))?,
    };
    Ok(Resource {
        kind: TargetKind::IpSet,
        scope: Some("REGIONAL"),
        name: VPN_NAT_IP_SET.to_owned(),
        aws_id: summary.id.ok_or_else(|| missing(&step, "id"))?,
        arn: summary.arn,
    })
}

/// The three rules of the AWS guidance: the IP reputation list first, a
/// tight limit on `/login`, then the blanket limit.
fn shop_rules() -> Result<Vec<Rule>, ProvisionError> {
    let reputation = Rule::builder()
        .name("AWS-AWSManagedRulesAmazonIpReputationList")
        .priority(0)
        .statement(
            Statement::builder()
                .managed_rule_group_statement(
                    ManagedRuleGroupStatement::builder()
                        .vendor_name("AWS")
                        .name("AWSManagedRulesAmazonIpReputationList")
                        .build()
                        .map_err(ProvisionError::at("reputation rule"))?,
                )
                .build(),
        )
        .override_action(
            OverrideAction::builder()
                .none(NoneAction::builder().build())
                .build(),
        )
        .visibility_config(visibility("AWSManagedRulesAmazonIpReputationList")?)
        .build()
        .map_err(ProvisionError::at("reputation rule"))?;

    let login_path = Statement::builder()
        .byte_match_statement(
            ByteMatchStatement::builder()
                .search_string(Blob::new("/login"))
                .field_to_match(
                    FieldToMatch::builder()
                        .uri_path(UriPath::builder().build())
                        .build(),
                )
                .text_transformations(
                    TextTransformation::builder()
                        .priority(0)
                        .r#type(TextTransformationType::None)
                        .build()
                        .map_err(ProvisionError::at("UriBasedRule"))?,
                )
                .positional_constraint(PositionalConstraint::StartsWith)
                .build()
                .map_err(ProvisionError::at("UriBasedRule"))?,
        )
        .build();
    let uri_based = rate_rule("UriBasedRule", 1, 150, Some(login_path))?;
    let blanket = rate_rule("BlanketRule", 2, 7000, None)?;
    Ok(vec![reputation, uri_based, blanket])
}

/// A rule that blocks an IP sending more than `limit` requests in any five
/// minutes, optionally only counting requests that match `scope_down`.
fn rate_rule(
    name: &str,
    priority: i32,
    limit: i64,
    scope_down: Option<Statement>,
) -> Result<Rule, ProvisionError> {
    let statement = RateBasedStatement::builder()
        .limit(limit)
        .evaluation_window_sec(300)
        .aggregate_key_type(RateBasedStatementAggregateKeyType::Ip)
        .set_scope_down_statement(scope_down.map(Box::new))
        .build()
        .map_err(ProvisionError::at(name.to_owned()))?;
    Rule::builder()
        .name(name)
        .priority(priority)
        .statement(Statement::builder().rate_based_statement(statement).build())
        .action(block())
        .visibility_config(visibility(name)?)
        .build()
        .map_err(ProvisionError::at(name.to_owned()))
}

/// Blocks what does not come from the NAT gateways, then allows the allowed
/// countries by the client address the VPN forwards; the default blocks
/// everything else.
pub fn vpn_geo_rules(nat_arn: &str) -> Result<Vec<Rule>, ProvisionError> {
    let from_nat = Statement::builder()
        .ip_set_reference_statement(
            IpSetReferenceStatement::builder()
                .arn(nat_arn)
                .build()
                .map_err(ProvisionError::at("BlockNotFromNat"))?,
        )
        .build();
    let not_from_nat = Rule::builder()
        .name("BlockNotFromNat")
        .priority(0)
        .statement(
            Statement::builder()
                .not_statement(NotStatement::builder().statement(from_nat).build())
                .build(),
        )
        .action(block())
        .visibility_config(visibility("BlockNotFromNat")?)
        .build()
        .map_err(ProvisionError::at("BlockNotFromNat"))?;

    let allowed_countries = Rule::builder()
        .name("AllowListedCountries")
        .priority(1)
        .statement(
            Statement::builder()
                .geo_match_statement(
                    GeoMatchStatement::builder()
                        .set_country_codes(Some(ALLOWED_COUNTRIES.to_vec()))
                        .forwarded_ip_config(
                            ForwardedIpConfig::builder()
                                .header_name("X-Forwarded-For")
                                .fallback_behavior(FallbackBehavior::NoMatch)
                                .build()
                                .map_err(ProvisionError::at("AllowListedCountries"))?,
                        )
                        .build(),
                )
                .build(),
        )
        .action(
            RuleAction::builder()
                .allow(AllowAction::builder().build())
                .build(),
        )
        .visibility_config(visibility("AllowListedCountries")?)
        .build()
        .map_err(ProvisionError::at("AllowListedCountries"))?;
    Ok(vec![not_from_nat, allowed_countries])
}

fn block() -> RuleAction {
    RuleAction::builder()
        .block(BlockAction::builder().build())
        .build()
}

fn visibility(metric: &str) -> Result<VisibilityConfig, ProvisionError> {
    VisibilityConfig::builder()
        .sampled_requests_enabled(true)
        .cloud_watch_metrics_enabled(true)
        .metric_name(metric)
        .build()
        .map_err(ProvisionError::at(format!("visibility config {metric}")))
}

/// WAF metric names allow letters, digits, `-` and `_`.
fn metric_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn missing(step: &str, what: &str) -> ProvisionError {
    ProvisionError {
        step: step.to_owned(),
        cause: format!("AWS answered without a {what}"),
    }
}
