//! Drift: each managed target's live state against the version Gatehouse
//! last applied to it through a change request. A difference means someone
//! changed it outside Gatehouse (or, for settings, on the command line)
//! since.

use super::kinds::{Reach, TargetRef};
use super::{Drift, DriftState, Kind, LastApplied};
use crate::error::AppError;
use crate::targets::{ManagedTarget, TargetKind};

/// The drift of every managed web ACL, policy table and VPN geofencing set
/// of `targets` and of the settings: the
/// last applied versions in one query, the live states read side by side.
pub async fn drift(reach: Reach<'_>, targets: &[ManagedTarget]) -> Result<Vec<Drift>, AppError> {
    let last = sqlx::query!(
        "SELECT DISTINCT ON (kind, target_scope, target_name)
                kind, target_scope, target_name, id, title, applied_by, applied_at, content
         FROM change_requests
         WHERE status = 'applied'
         ORDER BY kind, target_scope, target_name, applied_at DESC"
    )
    .fetch_all(reach.pool)
    .await?;
    let mut watched: Vec<(Kind, TargetRef)> = targets
        .iter()
        .filter(|t| t.kind == TargetKind::WebAcl)
        .map(|t| {
            let target = TargetRef {
                name: t.name.clone(),
                scope: t.scope.clone().unwrap_or_else(|| "REGIONAL".into()),
                id: t.aws_id.clone(),
            };
            (Kind::WebAclRules, target)
        })
        .collect();
    watched.extend(
        targets
            .iter()
            .filter(|t| t.kind == TargetKind::DynamodbTable)
            .map(|t| {
                (
                    Kind::PolicyMappings,
                    super::kinds::policy_mappings::target(&t.name),
                )
            }),
    );
    watched.extend(
        targets
            .iter()
            .filter(|t| t.kind == TargetKind::VpnGeofencing)
            .map(|t| {
                (
                    Kind::VpnGeofencing,
                    super::kinds::vpn_geofencing::target(&t.name),
                )
            }),
    );
    watched.push((Kind::Settings, super::kinds::settings::target()));
    let each = watched.into_iter().map(|(kind, target)| {
        let last = last.iter().find(|l| {
            l.kind == kind.as_str()
                && l.target_scope == target.scope
                && l.target_name == target.name
        });
        async move {
            let Some(last) = last else {
                return Drift {
                    kind,
                    target: kind.describe(&target.name, &target.scope),
                    web_acl: target.name.clone(),
                    scope: target.scope.clone(),
                    last_applied: None,
                    state: DriftState::NeverApplied,
                    read: None,
                };
            };
            let shown = kind.read_shown(reach, &target).await;
            let read = match &shown {
                Ok(shown) if kind != Kind::Settings => Some(shown.freshness()),
                _ => None,
            };
            let state = match shown {
                Ok(now) if kind.same(&now.live.content, &last.content) => DriftState::InSync,
                Ok(now) => DriftState::Drifted(kind.diff(&last.content, &now.live.content)),
                Err(error) => {
                    tracing::warn!(target = %target.name, %error, "drift: live state not read");
                    DriftState::Unreadable(match crate::aws_budget::throttled(&error.cause) {
                        true => format!("{} is throttling this account's calls.", error.service),
                        false => format!("{} did not answer for it.", error.service),
                    })
                }
            };
            Drift {
                kind,
                target: kind.describe(&target.name, &target.scope),
                web_acl: target.name.clone(),
                scope: target.scope.clone(),
                last_applied: Some(LastApplied {
                    id: last.id.to_string(),
                    title: last.title.clone(),
                    applied_by: last.applied_by.clone(),
                    applied_at: last.applied_at,
                }),
                state,
                read,
            }
        }
    });
    Ok(futures::future::join_all(each).await)
}
