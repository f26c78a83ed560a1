//! Gatehouse's settings as a kind of change request: read from PostgreSQL
//! with a token that is the SHA-256 of what was read, written whole under
//! the settings' lock only while that token still holds. Resources a change
//! adds or changes are checked live again before anything is written.

use super::{Live, PushError, Pushed, Reach, ReadError, Rebased, TargetRef};
use crate::changes::ChangeDiff;
use crate::changes::diff::{diff_named, rebase_named};
use crate::settings::{SettingsDoc, check, store};
use serde_json::{Value, json};

/// The one target of every settings change request.
pub fn target() -> TargetRef {
    TargetRef {
        name: "settings".into(),
        scope: "gatehouse".into(),
        id: "settings".into(),
    }
}

fn doc(content: &Value) -> SettingsDoc {
    SettingsDoc::read(content).unwrap_or_default()
}

pub async fn read_live(reach: Reach<'_>) -> Result<Live, ReadError> {
    let failed = |e: sqlx::Error| ReadError {
        service: "PostgreSQL",
        cause: e.to_string(),
    };
    let mut conn = reach.pool.acquire().await.map_err(failed)?;
    let now = store::read(&mut conn).await.map_err(failed)?;
    Ok(Live {
        target: target(),
        token: store::token(&now),
        content: now.to_json(),
        resource: json!({}),
    })
}

pub async fn push(reach: Reach<'_>, base: &Live, content: &Value) -> Result<Pushed, PushError> {
    let refused = |message: String| PushError::Refused {
        message,
        request_id: None,
    };
    let proposed = SettingsDoc::read(content).map_err(refused)?;
    proposed.check().map_err(refused)?;
    // What is added or changed must still pass its check; as the check
    // found it now (an id AWS gave anew is taken).
    let was = doc(&base.content);
    let mut checked = proposed.clone();
    for target in checked.targets.iter_mut() {
        if !was.targets.contains(target) {
            *target = check::recheck(reach.pool, reach.aws, target)
                .await
                .map_err(|failed| refused(format!("{}: {failed}", target.label())))?;
        }
    }
    let unanswered = |e: sqlx::Error| PushError::Unanswered(e.to_string());
    let mut tx = reach.pool.begin().await.map_err(unanswered)?;
    store::lock(&mut tx).await.map_err(unanswered)?;
    let now = store::read(&mut tx).await.map_err(unanswered)?;
    if store::token(&now) != base.token {
        return Err(PushError::Stale { request_id: None });
    }
    store::write(&mut tx, &checked, "change request")
        .await
        .map_err(|e| refused(e.to_string()))?;
    let written = store::read(&mut tx).await.map_err(unanswered)?;
    tx.commit().await.map_err(unanswered)?;
    Ok(Pushed {
        next_token: store::token(&written),
        request_id: None,
    })
}

pub fn same(a: &Value, b: &Value) -> bool {
    doc(a).same_as(&doc(b))
}

pub fn diff(before: &Value, after: &Value) -> ChangeDiff {
    let (before, after) = (doc(before), doc(after));
    let changes = diff_named(before.items(), after.items());
    let mut words: Vec<String> = changes.iter().map(crate::settings::in_words).collect();
    words.extend(tables_made(&before, &after));
    ChangeDiff { changes, words }
}

/// The Athena tables applying the change makes (unless Glue has them by
/// then), each as the statement Athena would run: what the approver reads
/// before anything is made.
fn tables_made(before: &SettingsDoc, after: &SettingsDoc) -> Vec<String> {
    use crate::traffic::source::LogSource;
    after
        .of(crate::targets::TargetKind::LogSource)
        .filter(|target| !before.targets.contains(target))
        .filter_map(|target| match LogSource::of(target) {
            Some(Ok(LogSource::Athena(source))) => source.create_table,
            _ => None,
        })
        .map(|new| {
            format!(
                "On approval Gatehouse makes the Glue table {}.{} (if it is not there by then), \
                 the table this statement makes:\n{}",
                new.database,
                new.table,
                new.ddl()
            )
        })
        .collect()
}

pub fn check(content: &Value) -> Result<(), String> {
    SettingsDoc::read(content)?.check()
}

/// Item by item: what the change changed from its base is carried onto the
/// live settings; everything else is taken as it is live.
pub fn rebase(base: &Value, content: &Value, live: &Value) -> Rebased {
    let (items, conflicts) =
        rebase_named(doc(base).items(), doc(content).items(), doc(live).items());
    Rebased {
        content: SettingsDoc::from_items(items).to_json(),
        conflicts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::Role;

    #[test]
    fn a_rebase_keeps_both_sides_changes_and_names_a_clash() {
        let base = SettingsDoc::default();
        let mut ours = base.clone();
        ours.required_approvals = Some(2);
        let mut groups = crate::auth::RoleGroups::default();
        groups.set(Role::Editor, "live-editors".into());
        let mut live = base.clone();
        live.role_groups = Some(groups);
        let rebased = rebase(&base.to_json(), &ours.to_json(), &live.to_json());
        let got = doc(&rebased.content);
        assert_eq!(got.required_approvals, Some(2));
        assert_eq!(
            got.role_groups.map(|g| g.editor),
            Some("live-editors".into())
        );
        assert!(rebased.conflicts.is_empty());

        let mut clash = base.clone();
        clash.required_approvals = Some(3);
        let rebased = rebase(&base.to_json(), &ours.to_json(), &clash.to_json());
        assert_eq!(doc(&rebased.content).required_approvals, Some(2));
        assert_eq!(rebased.conflicts.len(), 1);
    }
}
