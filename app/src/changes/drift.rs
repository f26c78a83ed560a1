//! Drift: each managed web ACL's live rules against the version Gatehouse
//! last applied to it. A difference means someone changed the web ACL
//! outside Gatehouse since.

use super::{Drift, DriftState, LastApplied, RulesDiff};
use crate::error::AppError;
use crate::rules::live::{self, WebAclRef};
use crate::rules::merge::same_rules;
use crate::rules::model::read_rules;
use crate::targets::{ManagedTarget, TargetKind};
use sqlx::PgPool;

/// The drift of every managed web ACL of `targets`: the last applied
/// versions in one query, the web ACLs read from AWS side by side.
pub async fn drift(
    pool: &PgPool,
    waf: &aws_sdk_wafv2::Client,
    targets: &[ManagedTarget],
) -> Result<Vec<Drift>, AppError> {
    let last = sqlx::query!(
        "SELECT DISTINCT ON (target_scope, target_name)
                target_scope, target_name, id, title, applied_by, applied_at, content
         FROM change_requests
         WHERE kind = 'web_acl_rules' AND status = 'applied'
         ORDER BY target_scope, target_name, applied_at DESC"
    )
    .fetch_all(pool)
    .await?;
    let each = targets
        .iter()
        .filter(|t| t.kind == TargetKind::WebAcl)
        .map(|target| {
            let scope = target.scope.clone().unwrap_or_else(|| "REGIONAL".into());
            let last = last
                .iter()
                .find(|l| l.target_scope == scope && l.target_name == target.name);
            async move {
                let Some(last) = last else {
                    return Drift {
                        web_acl: target.name.clone(),
                        scope,
                        last_applied: None,
                        state: DriftState::NeverApplied,
                    };
                };
                let web_acl = WebAclRef {
                    name: target.name.clone(),
                    id: target.aws_id.clone(),
                    arn: target.arn.clone().unwrap_or_default(),
                    scope: scope.clone(),
                };
                let applied = read_rules(last.content.clone()).unwrap_or_default();
                let state = match live::rules_of(waf, web_acl).await {
                    Ok(now) if same_rules(&now.rules, &applied) => DriftState::InSync,
                    Ok(now) => DriftState::Drifted(RulesDiff::of(&applied, &now.rules)),
                    Err(error) => {
                        tracing::warn!(web_acl = %target.name, %error, "drift: web ACL not read");
                        DriftState::Unreadable("AWS WAF did not answer for this web ACL.".into())
                    }
                };
                Drift {
                    web_acl: target.name.clone(),
                    scope,
                    last_applied: Some(LastApplied {
                        id: last.id.to_string(),
                        title: last.title.clone(),
                        applied_by: last.applied_by.clone(),
                        applied_at: last.applied_at,
                    }),
                    state,
                }
            }
        });
    Ok(futures::future::join_all(each).await)
}
