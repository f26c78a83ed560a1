//! Gatehouse's own settings (SPEC §9): the AWS resources it manages, which
//! Cognito group grants which role, and how many approvals a change request
//! needs. They decide who may approve what, so they change only through a
//! change request approved by a second admin (or, as a way back, by the
//! machine's operator on the command line); both are audited.
//!
//! What the console sets is held in PostgreSQL as one [`SettingsDoc`]: the
//! content of a settings change request. A value from the configuration
//! file or the environment wins over the database's, and the page says so.

use crate::auth::RoleGroups;
use crate::roles::Role;
use crate::targets::TargetKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod iam;

#[cfg(feature = "ssr")]
pub mod check;
#[cfg(feature = "ssr")]
pub mod drafts;
#[cfg(feature = "ssr")]
pub mod store;

/// Most approvals a change request can be made to need.
pub const MAX_APPROVALS: i32 = 10;

/// A resource Gatehouse manages, as the settings hold it.
pub use crate::targets::ManagedTarget as Target;

impl Target {
    /// How the settings name it: `web ACL shop (REGIONAL)`.
    pub fn label(&self) -> String {
        match self.kind {
            TargetKind::WebAcl => format!(
                "web ACL {} ({})",
                self.name,
                self.scope.as_deref().unwrap_or("REGIONAL")
            ),
            TargetKind::DynamodbTable => format!("policy table {}", self.name),
            TargetKind::VpnGeofencing => format!("VPN geofencing set {}", self.name),
            TargetKind::LogSource => format!("log source {}", self.name),
            other => format!("{} {}", other.label(), self.name),
        }
    }

    /// What it is, in a line, for the page and the diff.
    pub fn summary(&self) -> String {
        let arn = self.arn.clone().unwrap_or_default();
        match self.kind {
            TargetKind::VpnGeofencing => {
                let part = |key: &str| {
                    self.detail
                        .get(key)
                        .and_then(|p| p.get("name").or(Some(p)))
                        .and_then(Value::as_str)
                        .unwrap_or("—")
                        .to_owned()
                };
                let scp = self
                    .detail
                    .get("scp_id")
                    .and_then(Value::as_str)
                    .map(|id| format!(", SCP {id}"))
                    .unwrap_or_default();
                format!(
                    "geo web ACL {}, NAT IP set {}, deny policy {}{scp}",
                    part("geo_web_acl"),
                    part("nat_ip_set"),
                    part("policy")
                )
            }
            TargetKind::LogSource => match self.detail.get("type").and_then(Value::as_str) {
                Some("athena") => format!(
                    "Athena table {}.{} (workgroup {} in {}){}",
                    self.detail["database"].as_str().unwrap_or("?"),
                    self.detail["table"].as_str().unwrap_or("?"),
                    self.detail["workgroup"].as_str().unwrap_or("?"),
                    self.region,
                    match self
                        .detail
                        .get("create_table")
                        .is_some_and(|c| !c.is_null())
                    {
                        true => ", the table made by Gatehouse",
                        false => "",
                    }
                ),
                _ => "WAF logs imported into PostgreSQL".to_owned(),
            },
            _ if arn.is_empty() => format!("{} in {}", self.aws_id, self.region),
            _ => arn,
        }
    }
}

/// The settings the console sets, as held in PostgreSQL: the content of a
/// settings change request. `None` means "not set here": the configuration
/// file, the environment or the default applies.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SettingsDoc {
    pub role_groups: Option<RoleGroups>,
    pub required_approvals: Option<i32>,
    /// In a stable order (kind, scope, name).
    pub targets: Vec<Target>,
    /// How threshold health is judged (the defaults when not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_health: Option<crate::traffic::health::HealthSettings>,
}

impl SettingsDoc {
    pub fn read(json: &Value) -> Result<SettingsDoc, String> {
        let mut doc: SettingsDoc = serde_json::from_value(json.clone())
            .map_err(|e| format!("the settings do not read: {e}"))?;
        doc.sort();
        Ok(doc)
    }

    pub fn to_json(&self) -> Value {
        let mut doc = self.clone();
        doc.sort();
        serde_json::to_value(doc).unwrap_or_default()
    }

    /// In the stable order the token and diffs rely on.
    pub fn sort(&mut self) {
        self.targets.sort_by(|a, b| {
            (a.kind.as_str(), &a.scope, &a.name).cmp(&(b.kind.as_str(), &b.scope, &b.name))
        });
    }

    /// The targets of `kind`.
    pub fn of(&self, kind: TargetKind) -> impl Iterator<Item = &Target> {
        self.targets.iter().filter(move |t| t.kind == kind)
    }

    /// Named items, as diffs and rebases see them (threshold health as one): a role's group and the
    /// approvals needed as they would apply from the database (the default
    /// where it sets none), then the managed resources.
    pub fn items(&self) -> Vec<(String, Value)> {
        let mut items = vec![(
            APPROVALS_ITEM.to_owned(),
            Value::from(self.required_approvals.unwrap_or(DEFAULT_APPROVALS)),
        )];
        let groups = self.role_groups.clone().unwrap_or_default();
        for role in Role::ALL {
            items.push((role_item(role), Value::from(groups.group(role))));
        }
        items.push((
            HEALTH_ITEM.to_owned(),
            serde_json::to_value(self.threshold_health.unwrap_or_default()).unwrap_or_default(),
        ));
        for target in &self.targets {
            items.push((
                target.label(),
                serde_json::to_value(target).unwrap_or_default(),
            ));
        }
        items
    }

    /// The settings named items describe (see [`SettingsDoc::items`]);
    /// values equal to the defaults are left to the defaults.
    pub fn from_items(items: Vec<(String, Value)>) -> SettingsDoc {
        let mut doc = SettingsDoc::default();
        let mut groups = RoleGroups::default();
        for (name, value) in items {
            if name == APPROVALS_ITEM {
                doc.required_approvals = value
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .filter(|n| *n != DEFAULT_APPROVALS);
            } else if name == HEALTH_ITEM {
                doc.threshold_health = serde_json::from_value(value)
                    .ok()
                    .filter(|h| *h != crate::traffic::health::HealthSettings::default());
            } else if let Some(role) = Role::ALL.into_iter().find(|r| role_item(*r) == name) {
                if let Some(group) = value.as_str() {
                    groups.set(role, group.to_owned());
                }
            } else if let Ok(target) = serde_json::from_value::<Target>(value) {
                doc.targets.push(target);
            }
        }
        doc.role_groups = (groups != RoleGroups::default()).then_some(groups);
        doc.sort();
        doc
    }

    /// Whether two settings have the same effect (a group or approvals set
    /// to its default is the default).
    pub fn same_as(&self, other: &SettingsDoc) -> bool {
        self.items() == other.items()
    }

    /// `Err` with every problem, in a line, when these settings cannot
    /// take effect.
    pub fn check(&self) -> Result<(), String> {
        match self.problems() {
            problems if problems.is_empty() => Ok(()),
            problems => Err(problems.join("; ")),
        }
    }

    /// What stops these settings from taking effect.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(Err(problem)) = self.threshold_health.map(|h| h.check()) {
            problems.push(format!("threshold health: {problem}"));
        }
        if let Some(n) = self.required_approvals
            && !(1..=MAX_APPROVALS).contains(&n)
        {
            problems.push(format!(
                "approvals needed must be 1 to {MAX_APPROVALS}, not {n}"
            ));
        }
        if let Some(groups) = &self.role_groups {
            for role in Role::ALL {
                let group = groups.group(role);
                if group.trim().is_empty() {
                    problems.push(match role {
                        Role::Admin => "the admin role must stay mapped to a group: without one, \
                                        nobody could change the settings again"
                            .to_owned(),
                        _ => format!("the {} role needs a group", role.as_str()),
                    });
                } else if !valid_group_name(group) {
                    problems.push(format!(
                        "{group:?} is not a Cognito group name (1 to 128 characters, no control characters)"
                    ));
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for target in &self.targets {
            if !seen.insert(target.label()) {
                problems.push(format!("{} is listed twice", target.label()));
            }
            if target.name.trim().is_empty() || target.aws_id.trim().is_empty() {
                problems.push(format!("{} has no name or id", target.label()));
            }
        }
        problems
    }
}

const APPROVALS_ITEM: &str = "approvals needed";
/// The item of the threshold health settings.
const HEALTH_ITEM: &str = "threshold health";

/// Approvals needed when nothing sets them.
pub const DEFAULT_APPROVALS: i32 = 1;

fn role_item(role: Role) -> String {
    format!("group for the {} role", role.as_str())
}

/// Cognito group names: 1 to 128 characters of `[\p{L}\p{M}\p{S}\p{N}\p{P}]`.
fn valid_group_name(name: &str) -> bool {
    let count = name.chars().count();
    (1..=128).contains(&count) && !name.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Where a setting's value comes from; the later wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Default,
    Database,
    File,
    Environment,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::Database => "database (set in the console)",
            Source::File => "configuration file",
            Source::Environment => "environment",
        }
    }

    /// Whether the console can change it: a file's or the environment's
    /// value wins over anything the console would set.
    pub fn editable(self) -> bool {
        matches!(self, Source::Default | Source::Database)
    }
}

/// Values the configuration file or the environment fix, with where from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overrides {
    pub role_groups: Vec<(Role, String, Source)>,
    pub required_approvals: Option<(i32, Source)>,
}

/// One role's group as it applies now, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleSetting {
    pub role: Role,
    pub group: String,
    pub source: Source,
}

/// The roles and approvals as they apply now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effective {
    pub roles: Vec<RoleSetting>,
    pub required_approvals: i32,
    pub approvals_source: Source,
}

impl Effective {
    /// The file and the environment over the database over the defaults.
    pub fn of(doc: &SettingsDoc, overrides: &Overrides) -> Effective {
        let roles = Role::ALL
            .into_iter()
            .map(|role| {
                let fixed = overrides.role_groups.iter().find(|(r, _, _)| *r == role);
                let (group, source) = match (fixed, &doc.role_groups) {
                    (Some((_, group, source)), _) => (group.clone(), *source),
                    (None, Some(groups)) => (groups.group(role).to_owned(), Source::Database),
                    (None, None) => (role.default_group().to_owned(), Source::Default),
                };
                RoleSetting {
                    role,
                    group,
                    source,
                }
            })
            .collect();
        let (required_approvals, approvals_source) =
            match (overrides.required_approvals, doc.required_approvals) {
                (Some((n, source)), _) => (n, source),
                (None, Some(n)) => (n, Source::Database),
                (None, None) => (DEFAULT_APPROVALS, Source::Default),
            };
        Effective {
            roles,
            required_approvals,
            approvals_source,
        }
    }

    pub fn role_groups(&self) -> RoleGroups {
        let mut groups = RoleGroups::default();
        for setting in &self.roles {
            groups.set(setting.role, setting.group.clone());
        }
        groups
    }
}

/// The settings diff in words, item by item.
pub fn in_words(change: &crate::changes::ItemChange) -> String {
    use crate::changes::ItemChange;
    let shown = |name: &str, value: &Value| match value {
        Value::Null => "not set (the default applies)".to_owned(),
        Value::String(text) => text.clone(),
        Value::Number(n) => n.to_string(),
        other => serde_json::from_value::<Target>(other.clone())
            .map(|t| t.summary())
            .unwrap_or_else(|_| format!("{name}: {other}")),
    };
    match change {
        ItemChange::Added { name, after } if after.is_object() => {
            format!("Manage {name}: {}", shown(name, after))
        }
        ItemChange::Removed { name, before } if before.is_object() => {
            format!("Stop managing {name} ({})", shown(name, before))
        }
        ItemChange::Added { name, after } => format!("{name}: {}", shown(name, after)),
        ItemChange::Removed { name, .. } => format!("{name}: not set"),
        ItemChange::Changed {
            name,
            before,
            after,
            ..
        } if !after.is_object() => {
            format!("{name}: {} → {}", shown(name, before), shown(name, after))
        }
        ItemChange::Changed { name, fields, .. } => {
            format!("{name}: {}", crate::changes::diff::moves(fields))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn web_acl(name: &str) -> Target {
        Target {
            kind: TargetKind::WebAcl,
            scope: Some("REGIONAL".into()),
            name: name.into(),
            aws_id: format!("{name}-id"),
            arn: Some(format!(
                "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/{name}/{name}-id"
            )),
            region: "us-east-1".into(),
            detail: json!({}),
        }
    }

    #[test]
    fn settings_survive_being_taken_apart_into_items() {
        let mut groups = RoleGroups::default();
        groups.set(Role::Admin, "ops-admins".into());
        let doc = SettingsDoc {
            role_groups: Some(groups),
            required_approvals: Some(2),
            targets: vec![web_acl("shop"), web_acl("api")],
            threshold_health: Some(crate::traffic::health::HealthSettings {
                days: 14,
                ..Default::default()
            }),
        };
        let back = SettingsDoc::from_items(doc.items());
        assert_eq!(back.to_json(), doc.to_json());
        let unset = SettingsDoc::default();
        assert_eq!(SettingsDoc::from_items(unset.items()), unset);
        // The defaults written out are the defaults.
        let spelled_out = SettingsDoc {
            role_groups: Some(RoleGroups::default()),
            required_approvals: Some(DEFAULT_APPROVALS),
            targets: Vec::new(),
            threshold_health: None,
        };
        assert!(spelled_out.same_as(&unset));
        assert_eq!(SettingsDoc::from_items(spelled_out.items()), unset);
    }

    #[test]
    fn the_admin_role_cannot_lose_its_group() {
        let mut groups = RoleGroups::default();
        groups.set(Role::Admin, " ".into());
        let doc = SettingsDoc {
            role_groups: Some(groups),
            required_approvals: Some(0),
            targets: vec![web_acl("shop"), web_acl("shop")],
            threshold_health: None,
        };
        let problems = doc.problems().join("\n");
        assert!(
            problems.contains("admin role must stay mapped"),
            "{problems}"
        );
        assert!(
            problems.contains("approvals needed must be 1 to 10"),
            "{problems}"
        );
        assert!(problems.contains("listed twice"), "{problems}");
        assert!(SettingsDoc::default().problems().is_empty());
    }

    #[test]
    fn the_file_and_environment_win_over_the_database() {
        let mut groups = RoleGroups::default();
        groups.set(Role::Editor, "db-editors".into());
        groups.set(Role::Admin, "db-admins".into());
        let doc = SettingsDoc {
            role_groups: Some(groups),
            required_approvals: Some(3),
            targets: Vec::new(),
            threshold_health: None,
        };
        let overrides = Overrides {
            role_groups: vec![(Role::Admin, "env-admins".into(), Source::Environment)],
            required_approvals: None,
        };
        let now = Effective::of(&doc, &overrides);
        assert_eq!(now.role_groups().admin, "env-admins");
        assert_eq!(now.role_groups().editor, "db-editors");
        assert_eq!(now.roles[3].source, Source::Environment);
        assert_eq!(now.roles[1].source, Source::Database);
        assert_eq!(
            (now.required_approvals, now.approvals_source),
            (3, Source::Database)
        );
        let none = Effective::of(&SettingsDoc::default(), &Overrides::default());
        assert_eq!(none.role_groups(), RoleGroups::default());
        assert_eq!(none.approvals_source, Source::Default);
    }
}
