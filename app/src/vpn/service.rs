//! What the VPN page, the API and the command line share: the managed sets,
//! a set's parts as they are, and "Test an IP" against them.

use super::IpTest;
use super::VpnDoc;
use super::live::Parts;
use crate::changes::kinds::{Reach, vpn_geofencing};
use crate::changes::{Kind, store::ChangeError};
use crate::error::AppError;
use crate::state::AppState;
use sqlx::PgPool;

/// The registered VPN geofencing sets, by name.
pub async fn sets(pool: &PgPool) -> Result<Vec<String>, AppError> {
    let doc = crate::settings::store::current(pool).await?;
    Ok(doc
        .of(crate::targets::TargetKind::VpnGeofencing)
        .map(|t| t.name.clone())
        .collect())
}

/// `asked` if it is registered, else the first set.
pub async fn chosen(pool: &PgPool, asked: Option<&str>) -> Result<String, AppError> {
    let sets = sets(pool).await?;
    match asked.filter(|a| !a.is_empty()) {
        Some(asked) if sets.iter().any(|s| s == asked) => Ok(asked.to_owned()),
        Some(asked) => Err(AppError::BadRequest(format!(
            "Gatehouse does not manage a VPN geofencing set {asked:?}: an admin registers it on the Settings page."
        ))),
        None => sets.into_iter().next().ok_or_else(|| {
            AppError::BadRequest(
                "No VPN geofencing set is managed yet: an admin registers it on the Settings page."
                    .into(),
            )
        }),
    }
}

/// The set's parts as pages show them (the live-state cache), and how old
/// they are ("read 4 s ago").
pub async fn parts(state: &AppState, name: &str) -> Result<(Parts, String), AppError> {
    let reach = Reach {
        pool: &state.pool,
        aws: &state.aws,
    };
    let shown = Kind::VpnGeofencing
        .read_shown(reach, &vpn_geofencing::target(name))
        .await
        .map_err(ChangeError::from)?;
    let parts = Parts::read_json(&shown.live.resource).ok_or(AppError::Internal)?;
    Ok((parts, shown.freshness()))
}

/// Tests `ip` against the set's parts, with `doc`'s countries and NAT
/// addresses (a draft's) or the live ones.
pub fn test_ip(
    state: &AppState,
    parts: &Parts,
    doc: Option<&VpnDoc>,
    ip: &str,
) -> Result<IpTest, AppError> {
    let geo = state.geo.as_ref().ok_or_else(|| {
        AppError::BadRequest(
            "No IP-to-country database is configured (ip_country_db); the scripts install one."
                .into(),
        )
    })?;
    let address = ip.trim().parse::<std::net::IpAddr>().map_err(|_| {
        AppError::BadRequest(format!("{:?} is not an IPv4 or IPv6 address.", ip.trim()))
    })?;
    let live = parts.doc();
    super::geo::test(geo, parts, doc.unwrap_or(&live), address).map_err(AppError::BadRequest)
}

/// The set as scripts get it: allowed countries (code and name), NAT
/// addresses, the deny policy (and SCP), and where each lives.
pub fn show_json(name: &str, parts: &Parts) -> serde_json::Value {
    let doc = parts.doc();
    serde_json::json!({
        "set": name,
        "countries": doc.countries.iter().map(|c| serde_json::json!({
            "code": c,
            "name": super::country_name(c),
        })).collect::<Vec<_>>(),
        "nat_addresses": doc.nat_addresses,
        "deny_policy": doc.deny_policy,
        "scp": doc.scp,
        "parts": {
            "geo_web_acl": parts.set.geo_web_acl.name,
            "nat_ip_set": parts.set.nat_ip_set.name,
            "policy_arn": parts.set.policy_arn,
            "policy_version": parts.policy_version,
            "scp_id": parts.set.scp_id,
        },
    })
}

/// "Test an IP" as scripts get it: `{"ip", "country", "web_acl": {"action",
/// "rule"}, "handler"}`.
pub fn test_json(found: &IpTest) -> serde_json::Value {
    serde_json::json!({
        "ip": found.ip,
        "country": found.country,
        "special": found.special,
        "web_acl": {"action": found.web_acl.action, "rule": found.web_acl.rule},
        "handler": found.handler,
    })
}
