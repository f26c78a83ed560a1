//! `gatehouse demo`: provisions the demo AWS resources into the account the
//! SDK points at (the local emulator in the embedded default), registers
//! them as managed targets, and prints the console URL and the sign-ins.
//!
//! Every step looks before it creates, so running the command again changes
//! nothing in AWS or in the database.

pub mod athena;
mod cognito;
mod iam;
mod policy_store;
pub mod waf;

use app::roles::Role;
use app::settings::check;
use app::state::AwsClients;
use app::targets::{NewTarget, TargetKind};
use serde::Serialize;
use sqlx::PgPool;

pub use cognito::{DEMO_PASSWORD, DEMO_USERS, DemoUser};
pub use iam::DENY_POLICY;

/// The name the demo's VPN geofencing set is registered under.
pub const VPN_SET: &str = "vpn";
/// The demo's source of WAF logs: the sample day it imports.
pub const LOG_SOURCE: &str = "imported";

/// What one failed provisioning step was doing, and why it failed.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {cause}")]
pub struct ProvisionError {
    pub step: String,
    pub cause: String,
}

impl ProvisionError {
    /// Wraps an AWS SDK (or any) error with the step it broke.
    pub(crate) fn at<E: std::error::Error>(step: impl Into<String>) -> impl FnOnce(E) -> Self {
        let step = step.into();
        move |err| ProvisionError {
            step,
            cause: aws_sdk_wafv2::error::DisplayErrorContext(&err).to_string(),
        }
    }
}

/// A resource the demo made (or found), as it is registered in Gatehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    pub kind: TargetKind,
    pub scope: Option<&'static str>,
    pub name: String,
    pub aws_id: String,
    pub arn: Option<String>,
}

/// Provisions every demo resource and returns them in a stable order.
pub async fn provision(aws: &AwsClients) -> Result<Vec<Resource>, ProvisionError> {
    let mut resources = waf::provision(&aws.wafv2).await?;
    resources.push(policy_store::provision(&aws.dynamodb).await?);
    resources.extend(cognito::provision(&aws.cognito).await?);
    iam::provision(&aws.iam).await?;
    Ok(resources)
}

/// Registers what the demo provisioned: the sign-in pool and client as they
/// are, and the managed resources (web ACLs, the policy table, the VPN
/// geofencing set, the log source) each after the same live check an admin's
/// registration passes, as the operator's audited settings change.
pub async fn register(
    pool: &PgPool,
    aws: &AwsClients,
    resources: &[Resource],
) -> Result<(), String> {
    let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
    for resource in resources.iter().filter(|r| !r.kind.is_setting()) {
        app::targets::register(
            &mut tx,
            &NewTarget {
                kind: resource.kind,
                scope: resource.scope,
                name: &resource.name,
                aws_id: &resource.aws_id,
                arn: resource.arn.as_deref(),
                region: &aws.region,
                detail: &serde_json::json!({}),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    let deny_policy = iam::provision(&aws.iam).await.map_err(|e| e.to_string())?;
    let failed = |what: &str| {
        let what = what.to_owned();
        move |e: check::CheckFailed| format!("checking {what}: {e}")
    };
    let checked = vec![
        check::web_acl(aws, "REGIONAL", waf::SHOP_WEB_ACL)
            .await
            .map_err(failed("web ACL shop"))?,
        check::web_acl(aws, "REGIONAL", waf::VPN_GEO_WEB_ACL)
            .await
            .map_err(failed("web ACL vpn-geo"))?,
        check::policy_table(aws, policy_store::TABLE)
            .await
            .map_err(failed("the policy table"))?,
        check::vpn_set(
            aws,
            &check::VpnSetInput {
                name: VPN_SET.into(),
                geo_web_acl: waf::VPN_GEO_WEB_ACL.into(),
                nat_ip_set: waf::VPN_NAT_IP_SET.into(),
                policy_arn: deny_policy,
                scp_id: None,
            },
        )
        .await
        .map_err(failed("the VPN geofencing set"))?,
        check::log_source(pool, aws, LOG_SOURCE)
            .await
            .map_err(failed("the log source"))?,
    ];
    app::settings::store::operator_change(pool, operator("demo"), "demo resources", |doc| {
        for target in checked {
            doc.targets.retain(|t| t.label() != target.label());
            doc.targets.push(target);
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// Registers the `athena-demo` log source over the sample day in S3 (its
/// table created first), after the live check an admin's registration
/// passes.
pub async fn register_athena(
    pool: &PgPool,
    aws: &AwsClients,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    let first_day = (now - chrono::Duration::days(30))
        .format("%Y/%m/%d")
        .to_string();
    let source = athena::provision(aws, &first_day).await?;
    let target = check::athena_source(aws, &source)
        .await
        .map_err(|e| format!("checking the log source {}: {e}", athena::SOURCE))?;
    app::settings::store::operator_change(pool, operator("demo"), "demo Athena log source", |doc| {
        doc.targets.retain(|t| t.label() != target.label());
        doc.targets.push(target);
    })
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// Where the demo's own steps come from, as the audit trail names it.
fn demo_client() -> app::audit::Client {
    app::audit::Client {
        ip: None,
        user_agent: Some("gatehouse demo".into()),
    }
}

/// The machine's operator, as the audit trail names them.
pub fn operator(command: &str) -> app::audit::Actor {
    let who = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    app::audit::Actor {
        sub: None,
        username: Some(format!("{who} (gatehouse {command})")),
    }
}

/// What `gatehouse demo --json` prints.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub url: String,
    pub users: Vec<SignIn>,
    /// The optional parts that could not be set up (the rest was).
    pub not_set_up: Vec<NotSetUp>,
}

/// An optional part of the demo that could not be set up, and why.
#[derive(Debug, Serialize)]
pub struct NotSetUp {
    pub part: String,
    pub why: String,
}

impl NotSetUp {
    pub fn new(part: impl Into<String>, why: impl Into<String>) -> Self {
        NotSetUp {
            part: part.into(),
            why: why.into(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SignIn {
    pub username: &'static str,
    pub password: &'static str,
    pub role: Role,
}

impl Summary {
    pub fn new(url: String, not_set_up: Vec<NotSetUp>) -> Self {
        let users = DEMO_USERS
            .iter()
            .map(|user| SignIn {
                username: user.username,
                password: DEMO_PASSWORD,
                role: user.role,
            })
            .collect();
        Summary {
            url,
            users,
            not_set_up,
        }
    }

    /// The text a person reads after `gatehouse demo`.
    pub fn to_text(&self) -> String {
        let mut text = format!("Gatehouse console: {}\n\nDemo sign-ins:\n", self.url);
        for user in &self.users {
            text.push_str(&format!(
                "  {:<10}  password {:<18}  role {}\n",
                user.username,
                user.password,
                user.role.as_str()
            ));
        }
        if !self.not_set_up.is_empty() {
            text.push_str("\nNot set up (the rest of the demo works without it):\n");
            for part in &self.not_set_up {
                text.push_str(&format!("  {}: {}\n", part.part, part.why));
            }
        }
        text
    }
}

/// The sample logs imported, and whether their copy in S3 (which the
/// Athena log source reads) was made.
pub struct SampleLogs {
    pub summary: crate::traffic::import::Summary,
    pub in_s3: Result<(), String>,
}

/// Generates yesterday's sample WAF logs (see `traffic::generate`) and
/// imports them in place of the sample logs an earlier run imported: they
/// name `web_acl_arn`, the demo's `shop` web ACL, whose ARN changes with
/// each new emulator, so the same day would otherwise count twice under
/// two ARNs. (The earlier imports stay listed, and audited.) The same day
/// is put into S3 for the Athena log source; the import does not depend on
/// that copy.
pub async fn import_sample_logs(
    pool: &sqlx::PgPool,
    aws: &AwsClients,
    now: chrono::DateTime<chrono::Utc>,
    web_acl_arn: &str,
) -> Result<SampleLogs, String> {
    use crate::traffic::{generate, import};
    let dir = std::env::temp_dir().join(format!("gatehouse-demo-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let scenario = generate::Scenario {
        web_acl_arn: web_acl_arn.to_owned(),
        ..generate::Scenario::yesterday(now)
    };
    let generated = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || generate::write_logs(&dir, &scenario)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("cannot write the sample logs under {}: {e}", dir.display()))?;
    // The same day in S3, for the athena-demo source.
    let in_s3 = athena::upload(aws, &dir, &generated.files)
        .await
        .map(|_| ());
    let files = generated
        .files
        .into_iter()
        .map(|path| import::LogFile {
            name: path
                .strip_prefix(&dir)
                .unwrap_or(&path)
                .display()
                .to_string(),
            path,
        })
        .collect();
    sqlx::query!(
        "DELETE FROM log_files WHERE import_id IN (SELECT id FROM log_imports WHERE source = 'demo')"
    )
    .execute(pool)
    .await
    .map_err(|e| format!("cannot replace the earlier sample logs: {e}"))?;
    let actor = app::audit::Actor {
        sub: None,
        username: Some("demo".into()),
    };
    let client = demo_client();
    let summary = import::import(
        pool,
        files,
        import::Source::Demo,
        app::traffic::ImportLimits::default(),
        actor,
        client,
    )
    .await
    .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(SampleLogs { summary, in_s3 })
}

/// A change request waiting for review, so that the Reviews page shows one
/// from the start: the demo's editor halving the first rate limit of the
/// `shop` web ACL, submitted. Made once; a later run leaves the change
/// requests there as they are.
pub async fn sample_change(
    pool: &PgPool,
    aws: &AwsClients,
    required_approvals: i32,
) -> Result<(), String> {
    use app::rules::model::{RuleEntry, Statement};
    let any: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM change_requests"#)
        .fetch_one(pool)
        .await
        .map_err(|e| e.to_string())?;
    if any > 0 {
        return Ok(());
    }
    let live = app::rules::live::rules(&aws.wafv2, "REGIONAL", waf::SHOP_WEB_ACL)
        .await
        .map_err(|e| e.to_string())?;
    let mut rules = live.rules.clone();
    let halved = rules.iter_mut().find_map(|entry| match entry {
        RuleEntry::Rule(rule) => match &mut rule.statement {
            Statement::RateBased(rate) => {
                rate.limit = (rate.limit / 2).max(10);
                Some(rule.name.clone())
            }
            _ => None,
        },
        RuleEntry::Verbatim { .. } => None,
    });
    let Some(rule) = halved else {
        return Ok(());
    };
    let editor = app::audit::Actor {
        sub: None,
        username: Some("editor".into()),
    };
    let client = demo_client();
    let title = format!("Halve the limit of {rule}");
    let id =
        app::rules::drafts::create(pool, &live, &title, &rules, editor.clone(), client.clone())
            .await
            .map_err(|e| e.to_string())?;
    app::changes::steps::submit(
        pool,
        id,
        &live.lock_token,
        required_approvals,
        editor,
        client,
    )
    .await
    .map_err(|e| e.to_string())
}
