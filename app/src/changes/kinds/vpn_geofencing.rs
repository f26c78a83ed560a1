//! A VPN geofencing set as a kind of change request: the allowed countries,
//! the NAT addresses and the deny policy (and SCP) that follow from them,
//! read from their parts in AWS with every part's token, and applied as a
//! plan (`vpn::live::apply`) that checks every part before writing any and
//! resumes, on a second apply, with the parts not yet written.

use super::{Landing, Live, PushError, Pushed, Reach, ReadError, Rebased, TargetRef, landed_items};
use crate::changes::ChangeDiff;
use crate::changes::diff::{diff_named, rebase_named};
use crate::targets::TargetKind;
use crate::vpn::live::{self, Part, Parts, PlanError, SetRef};
use crate::vpn::{VpnDoc, in_words};
use serde_json::Value;

/// What a VPN set's change requests are about.
pub fn target(name: &str) -> TargetRef {
    TargetRef {
        name: name.to_owned(),
        scope: "VPN".into(),
        id: name.to_owned(),
    }
}

pub fn doc(content: &Value) -> VpnDoc {
    VpnDoc::read(content).unwrap_or_default()
}

fn unreadable(cause: String) -> ReadError {
    ReadError {
        service: "AWS",
        cause,
    }
}

/// The registered set named `name`.
pub async fn set(reach: Reach<'_>, name: &str) -> Result<SetRef, ReadError> {
    let settings = crate::settings::store::current(reach.pool)
        .await
        .map_err(|e| unreadable(e.to_string()))?;
    let registered = settings
        .of(TargetKind::VpnGeofencing)
        .find(|t| t.name == name)
        .ok_or_else(|| unreadable(format!("no VPN geofencing set {name:?} is managed")))?;
    SetRef::of(registered).map_err(unreadable)
}

pub async fn read_live(reach: Reach<'_>, target: &TargetRef) -> Result<Live, ReadError> {
    let set = set(reach, &target.name).await?;
    let parts = live::read(reach.aws, &set)
        .await
        .map_err(|e| unreadable(e.to_string()))?;
    Ok(live_of(target, &parts))
}

fn live_of(target: &TargetRef, parts: &Parts) -> Live {
    Live {
        target: target.clone(),
        token: parts.token(),
        content: parts.doc().to_json(),
        resource: parts.to_json(),
    }
}

fn labels(parts: &[Part]) -> String {
    match parts {
        [] => "none".into(),
        _ => parts
            .iter()
            .map(|p| p.label())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

pub async fn push(reach: Reach<'_>, base: &Live, content: &Value) -> Result<Pushed, PushError> {
    let refused = |message: String| PushError::Refused {
        message,
        request_id: None,
    };
    let base_parts = Parts::read_json(&base.resource)
        .ok_or_else(|| refused("the change's base does not read".into()))?;
    let proposed = VpnDoc::read(content).map_err(refused)?;
    match live::apply(reach.aws, &base_parts, &proposed).await {
        Ok(written) => {
            tracing::info!(set = %base.target.name, written = %labels(&written), "VPN geofencing applied");
        }
        Err(PlanError::Moved(parts)) => {
            tracing::info!(set = %base.target.name, moved = %labels(&parts), "VPN geofencing: stale");
            return Err(PushError::Stale { request_id: None });
        }
        Err(PlanError::Unreadable(e)) => return Err(PushError::Unanswered(e.to_string())),
        Err(PlanError::Stopped {
            landed,
            failed,
            why,
            unanswered,
        }) => {
            tracing::warn!(set = %base.target.name, part = failed.label(), %why, "VPN geofencing: a part failed");
            if unanswered {
                return Err(PushError::Unanswered(why));
            }
            let rest: Vec<Part> = Part::ORDER
                .into_iter()
                .skip_while(|p| *p != failed)
                .skip(1)
                .filter(|p| *p != Part::Scp || base_parts.set.scp_id.is_some())
                .collect();
            return Err(refused(format!(
                "written: {}; not written: the {} (AWS refused it); not attempted: {}. Applying again resumes with what was not written",
                labels(&landed),
                failed.label(),
                labels(&rest)
            )));
        }
    }
    let now = read_live(reach, &base.target)
        .await
        .map_err(|e| PushError::Unanswered(e.to_string()))?;
    Ok(Pushed {
        next_token: now.token,
        request_id: None,
    })
}

pub fn same(a: &Value, b: &Value) -> bool {
    doc(a) == doc(b)
}

/// Part by part: all hold the change (applied), each holds either the
/// change or its base (not all taken yet: approved again, to resume), or
/// one holds something else (moved).
pub fn landed(base: &Live, content: &Value, live: &Live) -> Landing {
    landed_items(
        &doc(&base.content).items(),
        &doc(content).items(),
        &doc(&live.content).items(),
        true,
    )
}

pub fn diff(before: &Value, after: &Value) -> ChangeDiff {
    let changes = diff_named(doc(before).items(), doc(after).items());
    let words = changes.iter().map(in_words).collect();
    ChangeDiff { changes, words }
}

pub fn check(content: &Value) -> Result<(), String> {
    VpnDoc::read(content)?.check()
}

pub fn rebase(base: &Value, content: &Value, live: &Value) -> Rebased {
    let (items, conflicts) =
        rebase_named(doc(base).items(), doc(content).items(), doc(live).items());
    Rebased {
        content: VpnDoc::from_items(items).normalised().to_json(),
        conflicts,
    }
}
