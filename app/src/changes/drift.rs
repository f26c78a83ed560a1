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

/// The drift of every managed web ACL of `targets`.
pub async fn drift(
    pool: &PgPool,
    waf: &aws_sdk_wafv2::Client,
    targets: &[ManagedTarget],
) -> Result<Vec<Drift>, AppError> {
    let mut all = Vec::new();
    for target in targets.iter().filter(|t| t.kind == TargetKind::WebAcl) {
        let scope = target.scope.clone().unwrap_or_else(|| "REGIONAL".into());
        let last = sqlx::query!(
            "SELECT id, title, applied_by, applied_at, content FROM change_requests
             WHERE kind = 'web_acl_rules' AND target_scope = $1 AND target_name = $2
               AND status = 'applied'
             ORDER BY applied_at DESC LIMIT 1",
            scope,
            target.name
        )
        .fetch_optional(pool)
        .await?;
        let Some(last) = last else {
            all.push(Drift {
                web_acl: target.name.clone(),
                scope,
                last_applied: None,
                state: DriftState::NeverApplied,
            });
            continue;
        };
        let web_acl = WebAclRef {
            name: target.name.clone(),
            id: target.aws_id.clone(),
            arn: target.arn.clone().unwrap_or_default(),
            scope: scope.clone(),
        };
        let applied = read_rules(last.content).unwrap_or_default();
        let state = match live::rules_of(waf, web_acl).await {
            Ok(now) if same_rules(&now.rules, &applied) => DriftState::InSync,
            Ok(now) => DriftState::Drifted(RulesDiff::of(&applied, &now.rules)),
            Err(error) => {
                tracing::warn!(web_acl = %target.name, %error, "drift: web ACL not read");
                DriftState::Unreadable("AWS WAF did not answer for this web ACL.".into())
            }
        };
        all.push(Drift {
            web_acl: target.name.clone(),
            scope,
            last_applied: Some(LastApplied {
                id: last.id.to_string(),
                title: last.title,
                applied_by: last.applied_by,
                applied_at: last.applied_at,
            }),
            state,
        });
    }
    Ok(all)
}
