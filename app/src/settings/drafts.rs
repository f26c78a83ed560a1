//! An admin's settings draft: each edit on the Settings page (a resource
//! added after its live check, one removed, a role's group, the approvals
//! needed) goes into one open draft of theirs, a settings change request
//! that they then describe and submit for another admin's approval.

use super::SettingsDoc;
use crate::audit::{Actor, Client};
use crate::changes::kinds::{Reach, settings::target};
use crate::changes::store::ChangeError;
use crate::changes::{Kind, drafts};
use uuid::Uuid;

/// The title a settings draft starts with.
const TITLE: &str = "Change the settings";

/// Makes `change` to `actor`'s settings draft (started from the live
/// settings when they have none) and returns the draft.
pub async fn edit(
    reach: Reach<'_>,
    actor: Actor,
    client: Client,
    change: impl FnOnce(&mut SettingsDoc) -> Result<(), String>,
) -> Result<Uuid, ChangeError> {
    drafts::edit(
        reach,
        Kind::Settings,
        &target(),
        TITLE,
        actor,
        client,
        |content| {
            let mut doc = SettingsDoc::read(content)?;
            change(&mut doc)?;
            Ok(doc.to_json())
        },
    )
    .await
}
