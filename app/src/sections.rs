//! The console's sections: one entry per page in the navigation, with the
//! one-line purpose each page shows before it is built.

use crate::roles::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    pub path: &'static str,
    pub label: &'static str,
    /// The role needed to open the page.
    pub role: Role,
    /// What the page lets a person do, in the SPEC's words.
    pub purpose: &'static str,
}

pub const SECTIONS: [Section; 8] = [
    Section {
        path: "/",
        label: "Dashboard",
        role: Role::Viewer,
        purpose: "The state of the console and of the AWS resources it manages.",
    },
    Section {
        path: "/traffic",
        label: "Traffic",
        role: Role::Viewer,
        purpose: "Import AWS WAF logs, find the request rates per key and window, \
                  and get a recommended rate limit with charts.",
    },
    Section {
        path: "/rules",
        label: "Rate rules",
        role: Role::Viewer,
        purpose: "Edit the web ACL's rate-based rules: the blanket rule, URI-specific \
                  rules, and reputation, geo and label-scoped rules.",
    },
    Section {
        path: "/policies",
        label: "Policies",
        role: Role::Viewer,
        purpose: "Edit the Cognito group to IAM policy mappings the API Gateway \
                  authorizer reads from DynamoDB, and simulate requests against them.",
    },
    Section {
        path: "/vpn-countries",
        label: "VPN countries",
        role: Role::Viewer,
        purpose: "Manage the countries allowed to connect to Client VPN, the NAT \
                  gateway IP set and the deny-unless-from-NAT policy.",
    },
    Section {
        path: "/reviews",
        label: "Reviews",
        role: Role::Viewer,
        purpose: "Change requests waiting for review, approved, applied or rejected.",
    },
    Section {
        path: "/audit",
        label: "Audit",
        role: Role::Viewer,
        purpose: "Every sign-in, draft, approval and change, hash-chained so \
                  tampering shows.",
    },
    Section {
        path: "/settings",
        label: "Settings",
        role: Role::Admin,
        purpose: "The AWS targets Gatehouse manages and the mapping of Cognito \
                  groups to roles.",
    },
];

/// The section a path belongs to.
pub fn section(path: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|s| s.path == path)
}

/// The role needed to open a page: its section's, else viewer.
pub fn required_role(path: &str) -> Role {
    section(path).map_or(Role::Viewer, |s| s.role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_paths_are_unique_and_absolute() {
        for (i, a) in SECTIONS.iter().enumerate() {
            assert!(a.path.starts_with('/'), "{} is not absolute", a.path);
            for b in &SECTIONS[i + 1..] {
                assert_ne!(a.path, b.path);
                assert_ne!(a.label, b.label);
            }
        }
        assert_eq!(section("/audit").map(|s| s.label), Some("Audit"));
        assert_eq!(section("/nowhere"), None);
        assert_eq!(required_role("/settings"), Role::Admin);
        assert_eq!(required_role("/traffic"), Role::Viewer);
        assert_eq!(required_role("/nowhere"), Role::Viewer);
    }
}
