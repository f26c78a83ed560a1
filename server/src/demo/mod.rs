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
