//! `gatehouse demo`: provisions the demo AWS resources into the account the
//! SDK points at (the local emulator in the embedded default), registers
//! them as managed targets, and prints the console URL and the sign-ins.
//!
//! Every step looks before it creates, so running the command again changes
//! nothing in AWS or in the database.

mod cognito;
mod policy_store;
mod waf;

use app::roles::Role;
use app::state::AwsClients;
use app::targets::{NewTarget, TargetKind};
use serde::Serialize;
use sqlx::PgPool;

pub use cognito::{DEMO_PASSWORD, DEMO_USERS, DemoUser};

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
    Ok(resources)
}

/// Records the provisioned resources as the targets Gatehouse manages.
pub async fn register(
    pool: &PgPool,
    region: &str,
    resources: &[Resource],
) -> Result<(), app::error::AppError> {
    for resource in resources {
        app::targets::register(
            pool,
            &NewTarget {
                kind: resource.kind,
                scope: resource.scope,
                name: &resource.name,
                aws_id: &resource.aws_id,
                arn: resource.arn.as_deref(),
                region,
            },
        )
        .await?;
    }
    Ok(())
}

/// What `gatehouse demo --json` prints.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub url: String,
    pub users: Vec<SignIn>,
}

#[derive(Debug, Serialize)]
pub struct SignIn {
    pub username: &'static str,
    pub password: &'static str,
    pub role: Role,
}

impl Summary {
    pub fn new(url: String) -> Self {
        let users = DEMO_USERS
            .iter()
            .map(|user| SignIn {
                username: user.username,
                password: DEMO_PASSWORD,
                role: user.role,
            })
            .collect();
        Summary { url, users }
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
        text
    }
}

/// Generates yesterday's sample WAF logs (see `traffic::generate`) and
/// imports them. Idempotent for a given day: the files' content is the
/// same, so a second run imports nothing twice.
pub async fn import_sample_logs(
    pool: &sqlx::PgPool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<crate::traffic::import::Summary, String> {
    use crate::traffic::{generate, import};
    let dir = std::env::temp_dir().join(format!("gatehouse-demo-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let scenario = generate::Scenario::yesterday(now);
    let generated = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || generate::write_logs(&dir, &scenario)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("cannot write the sample logs under {}: {e}", dir.display()))?;
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
    let actor = app::audit::Actor {
        sub: None,
        username: Some("demo".into()),
    };
    let client = app::audit::Client {
        ip: None,
        user_agent: Some("gatehouse demo".into()),
    };
    let summary = import::import(pool, files, import::Source::Demo, actor, client)
        .await
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(summary)
}
