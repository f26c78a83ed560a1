//! The demo's VPN deny policy: an IAM customer managed policy that denies
//! every action whose `aws:SourceIp` is not a NAT gateway address (calls
//! AWS services make on a principal's behalf, and service roles, excepted).

use super::ProvisionError;
use super::waf::NAT_ADDRESSES;
use aws_sdk_iam::Client;
use aws_sdk_iam::types::PolicyScopeType;

pub const DENY_POLICY: &str = "vpn-deny-unless-nat";

/// The deny policy as Gatehouse generates it from the NAT addresses, so the
/// demo starts with the policy the set's change requests keep.
fn document() -> String {
    let nat: Vec<String> = NAT_ADDRESSES.iter().map(|a| (*a).to_owned()).collect();
    app::vpn::deny_policy(&nat).to_string()
}

/// The policy's ARN, created when it is not there. IAM is global: a
/// provisioning of another region at the same moment may create it first,
/// and then that one is taken.
pub async fn provision(iam: &Client) -> Result<String, ProvisionError> {
    let step = format!("IAM policy {DENY_POLICY}");
    if let Some(arn) = find(iam, &step).await? {
        return Ok(arn);
    }
    let created = iam
        .create_policy()
        .policy_name(DENY_POLICY)
        .description("Client VPN geofencing: deny unless from the NAT gateway addresses")
        .policy_document(document())
        .send()
        .await;
    match created {
        Ok(out) => out
            .policy
            .and_then(|p| p.arn)
            .ok_or_else(|| ProvisionError {
                step,
                cause: "AWS sent no ARN".into(),
            }),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_entity_already_exists_exception()) =>
        {
            find(iam, &step).await?.ok_or_else(|| ProvisionError {
                step,
                cause: "it exists, yet is not listed".into(),
            })
        }
        Err(err) => Err(ProvisionError::at(format!("create {step}"))(err)),
    }
}

async fn find(iam: &Client, step: &str) -> Result<Option<String>, ProvisionError> {
    let listed = iam
        .list_policies()
        .scope(PolicyScopeType::Local)
        .max_items(1000)
        .send()
        .await
        .map_err(ProvisionError::at(format!("list policies for {step}")))?;
    Ok(listed
        .policies()
        .iter()
        .find(|p| p.policy_name() == Some(DENY_POLICY))
        .and_then(|p| p.arn())
        .map(str::to_owned))
}
