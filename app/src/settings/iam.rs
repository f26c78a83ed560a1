//! "What Gatehouse needs": the least-privilege IAM policy for Gatehouse's
//! own role, made from the resources it manages, with their exact ARNs.
//! Pure: the Settings page shows it and `GET /settings/iam-policy.json`
//! downloads it.

use super::{SettingsDoc, Target};
use crate::targets::TargetKind;
use serde_json::{Value, json};

/// What Gatehouse uses of its own besides the managed resources: the user
/// pool people sign in with and the S3 anchor of the audit checkpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Own {
    /// `eu-west-1_AbCd`: its region is its prefix.
    pub user_pool_id: Option<String>,
    /// `s3://bucket/prefix/`, when the checkpoints go to S3.
    pub audit_anchor: Option<String>,
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
pub fn policy(doc: &SettingsDoc, own: &Own) -> Value {
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
    athena_statements(doc, &mut statements);
    let pool_arn = own.user_pool_id.as_ref().and_then(|id| {
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
    if let Some(anchor) = &own.audit_anchor {
        // Listing finds the newest checkpoint and walks them all; the
        // bucket's Object Lock is read to say how checkpoints are kept.
        statements.push(statement(
            "AuditCheckpoints",
            &[
                "s3:ListBucket",
                "s3:GetObject",
                "s3:PutObject",
                "s3:GetBucketObjectLockConfiguration",
            ],
            s3_arns(anchor),
        ));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Athena log sources: queries in their workgroups, their Glue tables (and
/// making them, where Gatehouse is to), reading the logs in S3 and
/// writing the query results.
fn athena_statements(doc: &SettingsDoc, statements: &mut Vec<Value>) {
    let mut queries = Vec::new();
    let mut catalog = Vec::new();
    let mut to_create = Vec::new();
    let (mut logs, mut results) = (Vec::new(), Vec::new());
    for target in doc.of(TargetKind::LogSource) {
        let detail = &target.detail;
        let text = |key: &str| detail.get(key).and_then(Value::as_str);
        if text("type") != Some("athena") {
            continue;
        }
        let Some(account) = text("account").map(str::to_owned).or_else(|| account(doc)) else {
            continue;
        };
        let region = &target.region;
        queries.push(format!(
            "arn:aws:athena:{region}:{account}:workgroup/{}",
            text("workgroup").unwrap_or("primary")
        ));
        let (database, table) = (
            text("database").unwrap_or_default(),
            text("table").unwrap_or_default(),
        );
        let glue = [
            format!("arn:aws:glue:{region}:{account}:catalog"),
            format!("arn:aws:glue:{region}:{account}:database/{database}"),
            format!("arn:aws:glue:{region}:{account}:table/{database}/{table}"),
        ];
        if detail.get("create_table").is_some_and(|c| !c.is_null()) {
            to_create.extend(glue.iter().cloned());
        }
        catalog.extend(glue);
        let location = text("location").map(str::to_owned).or_else(|| {
            let new = detail.get("create_table")?;
            Some(format!(
                "s3://{}/AWSLogs/{}/WAFLogs/",
                new.get("bucket")?.as_str()?,
                new.get("account")?.as_str()?
            ))
        });
        logs.extend(location.as_deref().map(s3_arns).unwrap_or_default());
        results.extend(text("output_location").map(s3_arns).unwrap_or_default());
    }
    if queries.is_empty() {
        return;
    }
    statements.push(statement(
        "AthenaLogQueries",
        &[
            "athena:GetWorkGroup",
            "athena:StartQueryExecution",
            "athena:GetQueryExecution",
            "athena:GetQueryResults",
            "athena:StopQueryExecution",
        ],
        queries,
    ));
    statements.push(statement(
        "GlueLogTables",
        &["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
        catalog,
    ));
    if !to_create.is_empty() {
        statements.push(statement(
            "GlueCreateLogTables",
            &["glue:CreateDatabase", "glue:CreateTable"],
            to_create,
        ));
    }
    if !logs.is_empty() {
        statements.push(statement(
            "ReadWafLogs",
            &["s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject"],
            logs,
        ));
    }
    if !results.is_empty() {
        statements.push(statement(
            "AthenaQueryResults",
            &[
                "s3:GetBucketLocation",
                "s3:ListBucket",
                "s3:GetObject",
                "s3:PutObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            results,
        ));
    }
}

/// `s3://bucket/prefix/` as the bucket's ARN and its objects' under the
/// prefix.
fn s3_arns(location: &str) -> Vec<String> {
    let Some(path) = location.strip_prefix("s3://") else {
        return Vec::new();
    };
    let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
    if bucket.is_empty() {
        return Vec::new();
    }
    vec![
        format!("arn:aws:s3:::{bucket}"),
        format!("arn:aws:s3:::{bucket}/{prefix}*"),
    ]
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
            &Own {
                user_pool_id: Some("eu-west-1_Pool1".into()),
                audit_anchor: Some("s3://audit-anchor/gatehouse/".into()),
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
        assert!(
            statements.iter().all(|s| s["Sid"] != "AthenaLogQueries"),
            "no Athena source, no Athena"
        );
        assert_eq!(
            by_sid("AuditCheckpoints")["Resource"],
            json!([
                "arn:aws:s3:::audit-anchor",
                "arn:aws:s3:::audit-anchor/gatehouse/*"
            ])
        );
        let empty = super::policy(&SettingsDoc::default(), &Own::default());
        assert_eq!(empty["Statement"], json!([]));
    }

    #[test]
    fn an_athena_source_is_granted_its_workgroup_table_logs_and_results() {
        let source = |name: &str, detail: Value| Target {
            kind: TargetKind::LogSource,
            scope: None,
            name: name.into(),
            aws_id: name.into(),
            arn: None,
            region: "eu-west-1".into(),
            detail,
        };
        let doc = SettingsDoc {
            targets: vec![
                source("imported", json!({"type": "imported"})),
                source(
                    "existing",
                    json!({"type": "athena", "workgroup": "waf", "database": "logs", "table": "shop",
                           "account": "111122223333", "location": "s3://shop-logs/AWSLogs/111122223333/WAFLogs/",
                           "output_location": "s3://athena-out/gatehouse/"}),
                ),
                source(
                    "made",
                    json!({"type": "athena", "workgroup": "primary", "database": "logs", "table": "api",
                           "account": "111122223333",
                           "create_table": {"database": "logs", "table": "api", "bucket": "api-logs",
                                            "account": "111122223333", "web_acl": "api",
                                            "region": "eu-west-1", "first_day": "2026/01/01"}}),
                ),
            ],
            ..SettingsDoc::default()
        };
        let policy = policy(&doc, &Own::default());
        let statements = policy["Statement"].as_array().unwrap();
        let resources = |sid: &str| {
            statements
                .iter()
                .find(|s| s["Sid"] == sid)
                .map(|s| s["Resource"].clone())
                .unwrap_or_else(|| panic!("{sid} missing"))
        };
        assert_eq!(
            resources("AthenaLogQueries"),
            json!([
                "arn:aws:athena:eu-west-1:111122223333:workgroup/primary",
                "arn:aws:athena:eu-west-1:111122223333:workgroup/waf"
            ])
        );
        assert_eq!(
            resources("GlueCreateLogTables"),
            json!([
                "arn:aws:glue:eu-west-1:111122223333:catalog",
                "arn:aws:glue:eu-west-1:111122223333:database/logs",
                "arn:aws:glue:eu-west-1:111122223333:table/logs/api"
            ]),
            "only the table Gatehouse makes"
        );
        assert_eq!(
            resources("GlueLogTables").as_array().unwrap().len(),
            4,
            "the catalog, the database and both tables"
        );
        assert_eq!(
            resources("ReadWafLogs"),
            json!([
                "arn:aws:s3:::api-logs",
                "arn:aws:s3:::api-logs/AWSLogs/111122223333/WAFLogs/*",
                "arn:aws:s3:::shop-logs",
                "arn:aws:s3:::shop-logs/AWSLogs/111122223333/WAFLogs/*"
            ])
        );
        assert_eq!(
            resources("AthenaQueryResults"),
            json!([
                "arn:aws:s3:::athena-out",
                "arn:aws:s3:::athena-out/gatehouse/*"
            ])
        );
        for writing in statements.iter().filter(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .contains(&json!("s3:PutObject"))
        }) {
            let logs = writing["Resource"].as_array().unwrap();
            assert!(
                logs.iter().all(|r| !r.as_str().unwrap().contains("-logs")),
                "the logs are only read: {writing}"
            );
        }
    }
}
