//! The demo's VPN deny policy: an IAM customer managed policy that denies
//! every action whose `aws:SourceIp` is not a NAT gateway address (calls
//! AWS services make on a principal's behalf, and service roles, excepted).

use super::ProvisionError;
use super::waf::NAT_ADDRESSES;
use aws_sdk_iam::Client;
use aws_sdk_iam::types::PolicyScopeType;

pub const DENY_POLICY: &str = "vpn-deny-unless-nat";

fn document() -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyUnlessFromNat",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "NotIpAddress": {"aws:SourceIp": NAT_ADDRESSES},
                "Bool": {"aws:ViaAWSService": "false"},
                "ArnNotLikeIfExists": {"aws:PrincipalARN": ["arn:aws:iam::*:role/service-role/*"]}
            }
        }]
    })
    .to_string()
}

/// The policy's ARN, created when it is not there.
pub async fn provision(iam: &Client) -> Result<String, ProvisionError> {
    let step = format!("IAM policy {DENY_POLICY}");
    let listed = iam
        .list_policies()
        .scope(PolicyScopeType::Local)
        .max_items(1000)
        .send()
        .await
        .map_err(ProvisionError::at(format!("list policies for {step}")))?;
    if let Some(arn) = listed
        .policies()
        .iter()
        .find(|p| p.policy_name() == Some(DENY_POLICY))
        .and_then(|p| p.arn())
    {
        return Ok(arn.to_owned());
    }
    iam.create_policy()
        .policy_name(DENY_POLICY)
        .description("Client VPN geofencing: deny unless from the NAT gateway addresses")
        .policy_document(document())
        .send()
        .await
        .map_err(ProvisionError::at(format!("create {step}")))?
        .policy
        .and_then(|p| p.arn)
        .ok_or_else(|| ProvisionError {
            step,
            cause: "AWS sent no ARN".into(),
        })
}
