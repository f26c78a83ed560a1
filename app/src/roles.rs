//! The four roles of the SPEC, each allowing what the one before allows and
//! more. A person's role comes from their Cognito groups.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Editor,
    Approver,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Editor, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// The Cognito group that grants the role unless configured otherwise.
    pub fn default_group(self) -> &'static str {
        match self {
            Role::Viewer => "gatehouse-viewers",
            Role::Editor => "gatehouse-editors",
            Role::Approver => "gatehouse-approvers",
            Role::Admin => "gatehouse-admins",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_what_they_allow() {
        assert!(Role::Viewer < Role::Editor);
        assert!(Role::Editor < Role::Approver);
        assert!(Role::Approver < Role::Admin);
        let groups: std::collections::HashSet<_> =
            Role::ALL.iter().map(|r| r.default_group()).collect();
        assert_eq!(groups.len(), 4);
    }
}
