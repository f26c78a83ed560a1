//! The AWS resources Gatehouse manages: web ACLs, IP sets, the policy table,
//! the Cognito user pool and its app client.
//!
//! Each is registered (by an admin on the Settings page through a change
//! request, by `gatehouse demo` or by the operator's `gatehouse settings`)
//! so that every page knows which live resources to read and every kind of
//! change knows where to push.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    WebAcl,
    IpSet,
    DynamodbTable,
    CognitoUserPool,
    CognitoAppClient,
    /// Client VPN geofencing: its geo web ACL, NAT IP set, deny policy and
    /// optional SCP, managed together.
    VpnGeofencing,
    /// Where WAF logs are analysed from.
    LogSource,
}

impl TargetKind {
    pub const ALL: [TargetKind; 7] = [
        TargetKind::WebAcl,
        TargetKind::IpSet,
        TargetKind::DynamodbTable,
        TargetKind::CognitoUserPool,
        TargetKind::CognitoAppClient,
        TargetKind::VpnGeofencing,
        TargetKind::LogSource,
    ];

    /// Kinds that are settings (changed by a settings change request); the
    /// Cognito pool and client are how people sign in, configured or
    /// registered by the demo.
    pub fn is_setting(self) -> bool {
        !matches!(
            self,
            TargetKind::CognitoUserPool | TargetKind::CognitoAppClient
        )
    }

    /// The value stored in `aws_targets.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::WebAcl => "web_acl",
            TargetKind::IpSet => "ip_set",
            TargetKind::DynamodbTable => "dynamodb_table",
            TargetKind::CognitoUserPool => "cognito_user_pool",
            TargetKind::CognitoAppClient => "cognito_app_client",
            TargetKind::VpnGeofencing => "vpn_geofencing",
            TargetKind::LogSource => "log_source",
        }
    }

    /// What a person calls it.
    pub fn label(self) -> &'static str {
        match self {
            TargetKind::WebAcl => "WAF web ACL",
            TargetKind::IpSet => "WAF IP set",
            TargetKind::DynamodbTable => "DynamoDB table",
            TargetKind::CognitoUserPool => "Cognito user pool",
            TargetKind::CognitoAppClient => "Cognito app client",
            TargetKind::VpnGeofencing => "VPN geofencing set",
            TargetKind::LogSource => "WAF log source",
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl std::str::FromStr for TargetKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TargetKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| format!("unknown target kind {s:?}"))
    }
}

/// A resource Gatehouse manages, as registered (and as the settings hold
/// it: `settings::Target`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedTarget {
    pub kind: TargetKind,
    /// `REGIONAL` or `CLOUDFRONT` for WAF resources, none otherwise.
    pub scope: Option<String>,
    pub name: String,
    /// The id AWS gave the resource (web ACL id, pool id, client id; the
    /// table name for DynamoDB; the VPN set's geo web ACL id).
    pub aws_id: String,
    pub arn: Option<String>,
    pub region: String,
    /// The parts of a VPN geofencing set; the type of a log source.
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// A target as a provisioner or an admin registers it.
#[cfg(feature = "ssr")]
pub struct NewTarget<'a> {
    pub kind: TargetKind,
    pub scope: Option<&'a str>,
    pub name: &'a str,
    pub aws_id: &'a str,
    pub arn: Option<&'a str>,
    pub region: &'a str,
    pub detail: &'a serde_json::Value,
}

#[cfg(feature = "ssr")]
pub use store::{list, register};

#[cfg(feature = "ssr")]
mod store {
    use super::{ManagedTarget, NewTarget};
    use crate::error::AppError;
    use sqlx::PgPool;

    /// Registers a target, or updates it when AWS now knows it by another id.
    /// Registering the same resource again changes nothing.
    pub async fn register(
        conn: &mut sqlx::PgConnection,
        target: &NewTarget<'_>,
    ) -> Result<(), AppError> {
        sqlx::query!(
            r#"
            INSERT INTO aws_targets (kind, scope, name, aws_id, arn, region, detail)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (kind, scope, name) DO UPDATE
               SET aws_id = EXCLUDED.aws_id,
                   arn = EXCLUDED.arn,
                   region = EXCLUDED.region,
                   detail = EXCLUDED.detail,
                   updated_at = now()
             WHERE (aws_targets.aws_id, aws_targets.arn, aws_targets.region, aws_targets.detail)
                   IS DISTINCT FROM (EXCLUDED.aws_id, EXCLUDED.arn, EXCLUDED.region, EXCLUDED.detail)
            "#,
            target.kind.as_str(),
            target.scope,
            target.name,
            target.aws_id,
            target.arn,
            target.region,
            target.detail,
        )
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    pub async fn list(pool: &PgPool) -> Result<Vec<ManagedTarget>, AppError> {
        let rows = sqlx::query!(
            r#"
            SELECT kind, scope, name, aws_id, arn, region, detail
              FROM aws_targets
             ORDER BY array_position(
                        ARRAY['web_acl', 'ip_set', 'dynamodb_table', 'vpn_geofencing',
                              'log_source', 'cognito_user_pool', 'cognito_app_client'], kind),
                      scope, name
            "#
        )
        .fetch_all(pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(ManagedTarget {
                    kind: row
                        .kind
                        .parse()
                        .map_err(|err: String| AppError::internal("aws_targets", err))?,
                    scope: row.scope,
                    name: row.name,
                    aws_id: row.aws_id,
                    arn: row.arn,
                    region: row.region,
                    detail: row.detail,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_stored_name() {
        for kind in TargetKind::ALL {
            assert_eq!(kind.as_str().parse::<TargetKind>(), Ok(kind));
        }
        assert!("web-acl".parse::<TargetKind>().is_err());
    }
}
