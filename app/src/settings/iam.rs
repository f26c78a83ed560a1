//! "What Gatehouse needs": the least-privilege IAM policy for Gatehouse's
//! own role, made from the resources it manages, with their exact ARNs.
//! Pure: the Settings page shows it and `GET /settings/iam-policy.json`
//! downloads it.

use super::{SettingsDoc, Target};
use crate::targets::TargetKind;
use serde_json::{Value, json};

/// Where sign-in happens, for the Cognito statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// `eu-west-1_AbCd`: its region is its prefix.
    pub user_pool_id: Option<String>,
}

/// The account of the managed resources, read off their ARNs.
fn account(doc: &SettingsDoc) -> Option<String> {
    doc.targets
        .iter()
        .filter_map(|t| t.arn.as_deref())
        .filter_map(|arn| arn.split(':').nth(4))
        .find(|account| !account.is_empty())
        .map(str::to_owned)
}

/// The policy document, statements in a stable order; a statement with no
/// resource to name is left out.
pub fn policy(doc: &SettingsDoc, sign_in: &SignIn) -> Value {
    let mut statements = Vec::new();
    let web_acls: Vec<String> = doc.of(TargetKind::WebAcl).filter_map(arn).collect();
    let vpn: Vec<&Target> = doc.of(TargetKind::VpnGeofencing).collect();
    let part_arn = |key: &str| -> Vec<String> {
        vpn.iter()
            .filter_map(|t| t.detail[key]["arn"].as_str().map(str::to_owned))
            .collect()
    };
    let mut all_web_acls = web_acls.clone();
    all_web_acls.extend(part_arn("geo_web_acl"));
    all_web_acls.sort();
    all_web_acls.dedup();
    let ip_sets = part_arn("nat_ip_set");
    if !all_web_acls.is_empty() {
        // ListWebACLs is granted per scope and region: the web ACLs' own
        // "webacl/*" of each.
        let mut lists: Vec<String> = all_web_acls
            .iter()
            .filter_map(|arn| arn.rsplitn(3, '/').nth(2).map(|p| format!("{p}/*")))
            .collect();
        lists.sort();
        lists.dedup();
        statements.push(statement(
            "ListManagedWebAcls",
            &["wafv2:ListWebACLs", "wafv2:ListIPSets"],
            lists,
        ));
        // UpdateWebACL is also authorised on what the rules reference.
        let mut update = all_web_acls.clone();
        update.extend(ip_sets.iter().cloned());
        statements.push(statement(
            "ReadAndUpdateWebAclRules",
            &["wafv2:GetWebACL", "wafv2:UpdateWebACL"],
            update,
        ));
    }
    if !ip_sets.is_empty() {
        statements.push(statement(
            "ReadAndUpdateNatIpSet",
            &["wafv2:GetIPSet", "wafv2:UpdateIPSet"],
            ip_sets,
        ));
    }
    let tables: Vec<String> = doc.of(TargetKind::DynamodbTable).filter_map(arn).collect();
    if !tables.is_empty() {
        statements.push(statement(
            "PolicyTable",
            &[
                "dynamodb:DescribeTable",
                "dynamodb:GetItem",
                "dynamodb:Scan",
                "dynamodb:TransactWriteItems",
                "dynamodb:ConditionCheckItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            ],
            tables,
        ));
    }
    let policies = part_arn("policy");
    if !policies.is_empty() {
        statements.push(statement(
            "VpnDenyPolicy",
            &[
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
                "iam:ListPolicyVersions",
                "iam:CreatePolicyVersion",
                "iam:DeletePolicyVersion",
            ],
            policies,
        ));
    }
    let scps: Vec<String> = vpn
        .iter()
        .filter_map(|t| t.detail["scp_arn"].as_str().filter(|a| !a.is_empty()))
        .map(str::to_owned)
        .collect();
    if !scps.is_empty() {
        statements.push(statement(
            "VpnServiceControlPolicy",
            &["organizations:DescribePolicy", "organizations:UpdatePolicy"],
            scps,
        ));
    }
    let pool_arn = sign_in.user_pool_id.as_ref().and_then(|id| {
        let region = id.split('_').next()?;
        Some(format!(
            "arn:aws:cognito-idp:{region}:{}:userpool/{id}",
            account(doc)?
        ))
    });
    if let Some(pool) = pool_arn {
        // InitiateAuth, RespondToAuthChallenge, GlobalSignOut and
        // RevokeToken are called with the user's own credentials or
        // tokens and need no IAM permission; reading group members (to
        // refuse an admin mapping nobody holds) does.
        statements.push(statement(
            "SignInGroups",
            &["cognito-idp:ListUsersInGroup"],
            vec![pool],
        ));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn arn(target: &Target) -> Option<String> {
    target.arn.clone().filter(|a| !a.is_empty())
}

fn statement(sid: &str, actions: &[&str], mut resources: Vec<String>) -> Value {
    resources.sort();
    resources.dedup();
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(kind: TargetKind, name: &str, arn: &str, detail: Value) -> Target {
        Target {
            kind,
            scope: (kind == TargetKind::WebAcl).then(|| "REGIONAL".to_owned()),
            name: name.into(),
            aws_id: name.into(),
            arn: Some(arn.into()),
            region: "eu-west-1".into(),
            detail,
        }
    }

    #[test]
    fn the_policy_names_exactly_the_managed_resources() {
        let shop = "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/shop/a1";
        let geo = "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/vpn-geo/b2";
        let nat = "arn:aws:wafv2:eu-west-1:111122223333:regional/ipset/vpn-nat/c3";
        let table = "arn:aws:dynamodb:eu-west-1:111122223333:table/auth-policy-store";
        let deny = "arn:aws:iam::111122223333:policy/vpn-deny-unless-nat";
        let doc = SettingsDoc {
            role_groups: None,
            required_approvals: None,
            targets: vec![
                target(TargetKind::WebAcl, "shop", shop, json!({})),
                target(
                    TargetKind::DynamodbTable,
                    "auth-policy-store",
                    table,
                    json!({}),
                ),
                target(
                    TargetKind::VpnGeofencing,
                    "vpn",
                    geo,
                    json!({"geo_web_acl": {"arn": geo}, "nat_ip_set": {"arn": nat},
                           "policy": {"arn": deny}, "scp_arn": null}),
                ),
            ],
            threshold_health: None,
        };
        let policy = policy(
            &doc,
            &SignIn {
                user_pool_id: Some("eu-west-1_Pool1".into()),
            },
        );
        let statements = policy["Statement"].as_array().unwrap();
        let by_sid = |sid: &str| {
            statements
                .iter()
                .find(|s| s["Sid"] == sid)
                .unwrap_or_else(|| panic!("{sid} missing"))
        };
        assert_eq!(
            by_sid("ReadAndUpdateWebAclRules")["Resource"],
            json!([nat, shop, geo])
        );
        assert_eq!(
            by_sid("ListManagedWebAcls")["Resource"],
            json!(["arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/*"])
        );
        assert_eq!(by_sid("ReadAndUpdateNatIpSet")["Resource"], json!([nat]));
        assert_eq!(by_sid("PolicyTable")["Resource"], json!([table]));
        assert_eq!(by_sid("VpnDenyPolicy")["Resource"], json!([deny]));
        assert!(
            statements
                .iter()
                .all(|s| s["Sid"] != "VpnServiceControlPolicy"),
            "no SCP configured, none granted"
        );
        assert_eq!(
            by_sid("SignInGroups")["Resource"],
            json!(["arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_Pool1"])
        );
        assert_eq!(
            by_sid("SignInGroups")["Resource"],
            json!(["arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_Pool1"])
        );
        let text = policy.to_string();
        assert!(!text.contains("\"*\""), "no resource is a bare wildcard");
        let empty = super::policy(&SettingsDoc::default(), &SignIn { user_pool_id: None });
        assert_eq!(empty["Statement"], json!([]));
    }
}
