//! Who is acting: the signed-in user, their roles, and (on the server) the
//! verification of Cognito tokens.

use crate::roles::Role;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
pub mod caller;
#[cfg(feature = "ssr")]
pub mod sessions;
#[cfg(feature = "ssr")]
pub mod sign_in;
#[cfg(feature = "ssr")]
pub mod tokens;

/// A person as Gatehouse knows them after verifying their Cognito token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub username: String,
    pub sub: String,
    pub groups: Vec<String>,
    /// Every role the groups grant, the implied ones included (an approver
    /// is also an editor and a viewer).
    pub roles: Vec<Role>,
}

impl User {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// Which Cognito group grants which role; configurable, defaulting to
/// [`Role::default_group`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleGroups {
    pub viewer: String,
    pub editor: String,
    pub approver: String,
    pub admin: String,
}

impl Default for RoleGroups {
    fn default() -> Self {
        Self {
            viewer: Role::Viewer.default_group().into(),
            editor: Role::Editor.default_group().into(),
            approver: Role::Approver.default_group().into(),
            admin: Role::Admin.default_group().into(),
        }
    }
}

impl RoleGroups {
    /// The group that grants `role`.
    pub fn group(&self, role: Role) -> &str {
        match role {
            Role::Viewer => &self.viewer,
            Role::Editor => &self.editor,
            Role::Approver => &self.approver,
            Role::Admin => &self.admin,
        }
    }

    pub fn set(&mut self, role: Role, group: String) {
        match role {
            Role::Viewer => self.viewer = group,
            Role::Editor => self.editor = group,
            Role::Approver => self.approver = group,
            Role::Admin => self.admin = group,
        }
    }

    /// The roles `groups` grant: each group's role and every role below it.
    pub fn roles_for(&self, groups: &[String]) -> Vec<Role> {
        let highest = Role::ALL
            .into_iter()
            .filter(|role| groups.iter().any(|g| g == self.group(*role)))
            .max();
        match highest {
            Some(top) => Role::ALL.into_iter().filter(|r| *r <= top).collect(),
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_what_they_imply_and_ignore_other_groups() {
        let groups = RoleGroups::default();
        let approver = groups.roles_for(&["pet-veterinarian".into(), "gatehouse-approvers".into()]);
        assert_eq!(approver, [Role::Viewer, Role::Editor, Role::Approver]);
        assert_eq!(
            groups.roles_for(&["gatehouse-viewers".into()]),
            [Role::Viewer]
        );
        assert!(
            groups.roles_for(&["Gatehouse-Admins".into()]).is_empty(),
            "group names are exact"
        );
        assert!(groups.roles_for(&[]).is_empty());
    }
}
