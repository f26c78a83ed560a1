//! The live check a resource passes before Gatehouse manages it: it exists
//! and Gatehouse can read it (and, where cheap to tell, write it: a read
//! that returns the `LockToken` a write needs). A failed check names the
//! call and AWS's error code, never AWS's whole message or a stack trace.

use super::Target;
use crate::state::AwsClients;
use crate::targets::TargetKind;
use aws_sdk_wafv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_wafv2::types::Scope;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use serde_json::{Value, json};

/// A check that failed: which call, and what AWS answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{call} failed: {code}")]
pub struct CheckFailed {
    pub call: &'static str,
    /// AWS's error code (`WAFNonexistentItemException`), or what else went
    /// wrong in a few words.
    pub code: String,
}

impl CheckFailed {
    fn new(call: &'static str, code: impl Into<String>) -> Self {
        CheckFailed {
            call,
            code: code.into(),
        }
    }
}

/// From an SDK error: AWS's error code when AWS answered with one, else
/// what did come back (`aws_error::describe`). AWS's whole message goes to
/// the log only.
fn sdk_failed<E: ProvideErrorMetadata + std::error::Error + 'static>(
    call: &'static str,
    error: SdkError<E, HttpResponse>,
) -> CheckFailed {
    tracing::info!(call, error = %DisplayErrorContext(&error), "settings check failed");
    CheckFailed::new(call, crate::aws_error::describe(&error))
}

type AwsResult<T> = Result<T, CheckFailed>;

/// The web ACL `name` in `scope`: listed, then read with its LockToken.
pub async fn web_acl(aws: &AwsClients, scope: &str, name: &str) -> AwsResult<Target> {
    let scope_value = match scope {
        "REGIONAL" => Scope::Regional,
        "CLOUDFRONT" => Scope::Cloudfront,
        other => {
            return Err(CheckFailed::new(
                "ListWebACLs",
                format!("unknown scope {other:?}"),
            ));
        }
    };
    let found = crate::rules::live::web_acls(&aws.wafv2, scope)
        .await
        .map_err(|e| {
            tracing::info!(%e, "ListWebACLs failed");
            CheckFailed::new("ListWebACLs", "AWS WAF refused or did not answer")
        })?
        .into_iter()
        .find(|acl| acl.name == name)
        .ok_or_else(|| {
            CheckFailed::new(
                "ListWebACLs",
                format!("no web ACL named {name:?} in {scope}"),
            )
        })?;
    let read = aws
        .wafv2
        .get_web_acl()
        .scope(scope_value)
        .name(&found.name)
        .id(&found.id)
        .send()
        .await
        .map_err(|e| sdk_failed("GetWebACL", e))?;
    if read.lock_token().unwrap_or_default().is_empty() {
        return Err(CheckFailed::new(
            "GetWebACL",
            "no LockToken: Gatehouse could not write it",
        ));
    }
    Ok(Target {
        kind: TargetKind::WebAcl,
        scope: Some(scope.to_owned()),
        name: found.name,
        aws_id: found.id,
        arn: Some(found.arn),
        region: region_of(aws, scope),
        detail: json!({}),
    })
}

/// CloudFront web ACLs live in us-east-1 whatever the console's region.
fn region_of(aws: &AwsClients, scope: &str) -> String {
    match scope {
        "CLOUDFRONT" => "us-east-1".to_owned(),
        _ => aws.region.clone(),
    }
}

/// The API authorization policy table: exists, and its partition key is
/// `group` of type S (as the authorizer reads it).
pub async fn policy_table(aws: &AwsClients, name: &str) -> AwsResult<Target> {
    let table = aws
        .dynamodb
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(|e| sdk_failed("DescribeTable", e))?
        .table
        .ok_or_else(|| CheckFailed::new("DescribeTable", "no table in the answer"))?;
    let hash_key = table
        .key_schema()
        .iter()
        .find(|k| k.key_type() == &aws_sdk_dynamodb::types::KeyType::Hash)
        .map(|k| k.attribute_name().to_owned())
        .unwrap_or_default();
    let key_type = table
        .attribute_definitions()
        .iter()
        .find(|a| a.attribute_name() == hash_key)
        .map(|a| a.attribute_type().as_str().to_owned())
        .unwrap_or_default();
    if hash_key != "group" || key_type != "S" {
        return Err(CheckFailed::new(
            "DescribeTable",
            format!(
                "the partition key is {hash_key:?} of type {key_type:?}; the authorizer reads \"group\" of type S"
            ),
        ));
    }
    Ok(Target {
        kind: TargetKind::DynamodbTable,
        scope: None,
        name: name.to_owned(),
        aws_id: name.to_owned(),
        arn: table.table_arn,
        region: aws.region.clone(),
        detail: json!({}),
    })
}

/// What an admin names for a VPN geofencing set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpnSetInput {
    pub name: String,
    pub geo_web_acl: String,
    pub nat_ip_set: String,
    pub policy_arn: String,
    pub scp_id: Option<String>,
}

/// The VPN geofencing set: its geo web ACL and NAT IP set (each read with
/// its LockToken), the deny policy (its default version read) and, when
/// named, the SCP.
pub async fn vpn_set(aws: &AwsClients, input: &VpnSetInput) -> AwsResult<Target> {
    let geo = web_acl(aws, "REGIONAL", &input.geo_web_acl).await?;
    let nat = ip_set(aws, &input.nat_ip_set).await?;
    let policy = aws
        .iam
        .get_policy()
        .policy_arn(&input.policy_arn)
        .send()
        .await
        .map_err(|e| sdk_failed("GetPolicy", e))?
        .policy
        .ok_or_else(|| CheckFailed::new("GetPolicy", "no policy in the answer"))?;
    let version = policy.default_version_id().unwrap_or("v1").to_owned();
    aws.iam
        .get_policy_version()
        .policy_arn(&input.policy_arn)
        .version_id(&version)
        .send()
        .await
        .map_err(|e| sdk_failed("GetPolicyVersion", e))?;
    let scp = match input.scp_id.as_deref().filter(|id| !id.is_empty()) {
        None => Value::Null,
        Some(id) => {
            let found = aws
                .organizations
                .describe_policy()
                .policy_id(id)
                .send()
                .await
                .map_err(|e| sdk_failed("organizations:DescribePolicy", e))?;
            let arn = found
                .policy()
                .and_then(|p| p.policy_summary())
                .and_then(|s| s.arn())
                .unwrap_or_default();
            Value::from(arn)
        }
    };
    Ok(Target {
        kind: TargetKind::VpnGeofencing,
        scope: None,
        name: input.name.clone(),
        aws_id: geo.aws_id.clone(),
        arn: geo.arn.clone(),
        region: aws.region.clone(),
        detail: json!({
            "geo_web_acl": {"name": geo.name, "id": geo.aws_id, "arn": geo.arn, "scope": "REGIONAL"},
            "nat_ip_set": nat,
            "policy": {"name": policy.policy_name, "arn": input.policy_arn, "default_version": version},
            "scp_id": input.scp_id.clone().filter(|id| !id.is_empty()),
            "scp_arn": scp,
        }),
    })
}

/// The regional IP sets, all pages.
pub async fn ip_sets(aws: &AwsClients) -> AwsResult<Vec<aws_sdk_wafv2::types::IpSetSummary>> {
    let mut all = Vec::new();
    let mut marker = None;
    loop {
        let page = aws
            .wafv2
            .list_ip_sets()
            .scope(Scope::Regional)
            .limit(100)
            .set_next_marker(marker)
            .send()
            .await
            .map_err(|e| sdk_failed("ListIPSets", e))?;
        all.extend(page.ip_sets.unwrap_or_default());
        match page.next_marker {
            Some(next) if !next.is_empty() => marker = Some(next),
            _ => return Ok(all),
        }
    }
}

/// The NAT IP set: listed, then read with its LockToken.
async fn ip_set(aws: &AwsClients, name: &str) -> AwsResult<Value> {
    let listed = ip_sets(aws).await?;
    let found = listed
        .iter()
        .find(|s| s.name() == Some(name))
        .ok_or_else(|| {
            CheckFailed::new(
                "ListIPSets",
                format!("no IP set named {name:?} in REGIONAL"),
            )
        })?;
    let id = found.id().unwrap_or_default().to_owned();
    let read = aws
        .wafv2
        .get_ip_set()
        .scope(Scope::Regional)
        .name(name)
        .id(&id)
        .send()
        .await
        .map_err(|e| sdk_failed("GetIPSet", e))?;
    if read.lock_token().unwrap_or_default().is_empty() {
        return Err(CheckFailed::new(
            "GetIPSet",
            "no LockToken: Gatehouse could not write it",
        ));
    }
    Ok(json!({"name": name, "id": id, "arn": found.arn(), "scope": "REGIONAL"}))
}

/// A source of WAF logs: imported logs are read from PostgreSQL.
pub async fn log_source(pool: &sqlx::PgPool, aws: &AwsClients, name: &str) -> AwsResult<Target> {
    sqlx::query_scalar!("SELECT count(*) FROM log_imports")
        .fetch_one(pool)
        .await
        .map_err(|e| {
            tracing::warn!(%e, "log source check");
            CheckFailed::new("PostgreSQL", "the imported logs cannot be read")
        })?;
    Ok(Target {
        kind: TargetKind::LogSource,
        scope: None,
        name: name.to_owned(),
        aws_id: name.to_owned(),
        arn: None,
        region: aws.region.clone(),
        detail: json!({"type": "imported"}),
    })
}

/// An Athena log source: the workgroup exists and is enabled, and the
/// table is in the Glue Data Catalog with the partition columns named and
/// the columns the analyses read. A table Gatehouse is to make may be
/// missing still (it is made when the change is applied: [`recheck`]).
pub async fn athena_source(
    aws: &AwsClients,
    source: &crate::traffic::source::AthenaSource,
) -> AwsResult<Target> {
    source
        .validate()
        .map_err(|e| CheckFailed::new("Gatehouse", e))?;
    let athena = aws.athena_in(&source.region);
    let glue = aws.glue_in(&source.region);
    let workgroup = athena
        .get_work_group()
        .work_group(&source.workgroup)
        .send()
        .await
        .map_err(|e| sdk_failed("athena:GetWorkGroup", e))?;
    let state = workgroup.work_group().and_then(|w| w.state());
    if state == Some(&aws_sdk_athena::types::WorkGroupState::Disabled) {
        return Err(CheckFailed::new(
            "athena:GetWorkGroup",
            format!("workgroup {} is disabled", source.workgroup),
        ));
    }
    let found = glue
        .get_table()
        .database_name(&source.table.database)
        .name(&source.table.table)
        .send()
        .await;
    let table = match found {
        Ok(found) => found
            .table
            .ok_or_else(|| CheckFailed::new("glue:GetTable", "no table in the answer"))?,
        Err(e) if source.create_table.is_some() && not_found(&e) => {
            // Where the table will read: what Glue will say once it is made.
            let mut to_make = source.clone();
            to_make.location = to_make.logs_location();
            return Ok(athena_target(to_make));
        }
        Err(e) => return Err(sdk_failed("glue:GetTable", e)),
    };
    let partitions: Vec<&str> = table.partition_keys().iter().map(|c| c.name()).collect();
    let mut wanted = vec![source.table.date_column.as_str()];
    wanted.extend(
        source
            .table
            .region
            .as_ref()
            .map(|(column, _)| column.as_str()),
    );
    if let Some(missing) = wanted.iter().find(|w| !partitions.contains(w)) {
        return Err(CheckFailed::new(
            "glue:GetTable",
            format!("the table has no partition column {missing:?} (it has {partitions:?})"),
        ));
    }
    let columns: Vec<&str> = table
        .storage_descriptor()
        .map(|s| s.columns().iter().map(|c| c.name()).collect())
        .unwrap_or_default();
    if let Some(missing) = ["timestamp", "webaclid", "action", "labels", "httprequest"]
        .iter()
        .find(|c| !columns.contains(c))
    {
        return Err(CheckFailed::new(
            "glue:GetTable",
            format!("the table has no column {missing:?}: is it a WAF log table?"),
        ));
    }
    let mut checked = source.clone();
    checked.location = table
        .storage_descriptor()
        .and_then(|s| s.location())
        .filter(|l| l.starts_with("s3://"))
        .map(str::to_owned)
        .or(checked.location);
    Ok(athena_target(checked))
}

fn not_found(error: &impl ProvideErrorMetadata) -> bool {
    error.code() == Some("EntityNotFoundException")
}

fn athena_target(source: crate::traffic::source::AthenaSource) -> Target {
    Target {
        kind: TargetKind::LogSource,
        scope: None,
        name: source.name.clone(),
        aws_id: format!("{}.{}", source.table.database, source.table.table),
        arn: None,
        region: source.region.clone(),
        detail: source.detail(),
    }
}

/// An Athena source about to be registered: the table Gatehouse is to make
/// is made (unless Glue has it by now: an apply interrupted after making
/// it finds it there), then the source is checked whole.
async fn athena_source_applied(
    aws: &AwsClients,
    source: &crate::traffic::source::AthenaSource,
) -> AwsResult<Target> {
    if let Some(new) = &source.create_table {
        let made = crate::traffic::athena_table::ensure(&aws.glue_in(&source.region), new)
            .await
            .map_err(|e| CheckFailed::new("glue:CreateTable", e))?;
        if made {
            tracing::info!(source = %source.name, database = %new.database, table = %new.table, "made the Athena log table");
        }
    }
    athena_source(aws, source).await
}

/// Checks a registered target again, as it is about to be (re)applied.
pub async fn recheck(pool: &sqlx::PgPool, aws: &AwsClients, target: &Target) -> AwsResult<Target> {
    match target.kind {
        TargetKind::WebAcl => {
            web_acl(
                aws,
                target.scope.as_deref().unwrap_or("REGIONAL"),
                &target.name,
            )
            .await
        }
        TargetKind::DynamodbTable => policy_table(aws, &target.name).await,
        TargetKind::VpnGeofencing => {
            let part = |key: &str, field: &str| {
                target.detail[key][field]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            };
            vpn_set(
                aws,
                &VpnSetInput {
                    name: target.name.clone(),
                    geo_web_acl: part("geo_web_acl", "name"),
                    nat_ip_set: part("nat_ip_set", "name"),
                    policy_arn: part("policy", "arn"),
                    scp_id: target.detail["scp_id"].as_str().map(str::to_owned),
                },
            )
            .await
        }
        TargetKind::LogSource => match crate::traffic::source::LogSource::of(target) {
            Some(Ok(crate::traffic::source::LogSource::Athena(source))) => {
                athena_source_applied(aws, &source).await
            }
            Some(Err(problem)) => Err(CheckFailed::new("Gatehouse", problem)),
            _ => log_source(pool, aws, &target.name).await,
        },
        other => Err(CheckFailed::new(
            "Gatehouse",
            format!("{} is not managed on the Settings page", other.label()),
        )),
    }
}
