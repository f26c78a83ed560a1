//! `gatehouse settings …`: the machine operator's way to the settings, with
//! the database's own access and no sign-in, for when no admin can sign in
//! (a lost admin group, a first set-up). Each change is checked like a
//! change request's content (resources live first), written at once, and
//! audited as the operator's (`settings.changed`).

use crate::config::Config;
use app::roles::Role;
use app::settings::{Effective, SettingsDoc, check, store};
use app::state::AppState;
use clap::Subcommand;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// The settings as they apply now, as JSON: roles with their groups and where each comes
    /// from, the approvals needed, the managed resources.
    Show,
    /// The least-privilege IAM policy Gatehouse's own role needs, as JSON.
    IamPolicy,
    /// Map a role (viewer, editor, approver, admin) to a Cognito group.
    SetRole { role: String, group: String },
    /// The approvals a change request needs (1 to 10).
    SetApprovals { approvals: i32 },
    /// How threshold health is judged: the percentile of the per-key peaks, the days of imported
    /// logs, tight above this percentage of the limit, loose when the limit is this many times
    /// the peak, unreviewed after this many days without an applied change.
    SetHealth {
        #[arg(long, default_value = "p99")]
        percentile: String,
        #[arg(long, default_value_t = 7)]
        days: u32,
        #[arg(long, default_value_t = 50)]
        tight_percent: u32,
        #[arg(long, default_value_t = 10)]
        loose_factor: u32,
        #[arg(long, default_value_t = 90)]
        unreviewed_days: u32,
    },
    /// Check a web ACL live and manage it.
    AddWebAcl {
        name: String,
        /// REGIONAL or CLOUDFRONT.
        #[arg(long, default_value = "REGIONAL")]
        scope: String,
    },
    /// Check the API authorization policy table (partition key `group`, S) and manage it.
    AddPolicyTable { name: String },
    /// Check a VPN geofencing set's parts live and manage them together.
    AddVpnSet {
        name: String,
        #[arg(long)]
        geo_web_acl: String,
        #[arg(long)]
        nat_ip_set: String,
        /// The IAM customer managed policy that denies unless from the NAT addresses.
        #[arg(long)]
        policy_arn: String,
        #[arg(long)]
        scp_id: Option<String>,
    },
    /// Stop managing a resource, named as `settings show` labels it ("web ACL shop (REGIONAL)").
    Remove { label: String },
}

/// A change to make to the settings.
type Edit = Box<dyn FnOnce(&mut SettingsDoc) + Send>;

pub async fn run(config: &Config, command: SettingsCommand) -> Result<(), String> {
    let state = crate::serve::state(config)
        .await
        .map_err(|e| e.to_string())?;
    let doc = store::current(&state.pool)
        .await
        .map_err(|e| e.to_string())?;
    let checked = |what: &str| {
        let what = what.to_owned();
        move |e: check::CheckFailed| format!("{what} not added: {e}")
    };
    let (what, change): (String, Edit) = match command {
        SettingsCommand::Show => return print(&show(&state, &doc)),
        SettingsCommand::IamPolicy => return print(&store::iam_policy(&state, &doc)),
        SettingsCommand::SetRole { role, group } => {
            let role = Role::ALL
                .into_iter()
                .find(|r| r.as_str() == role)
                .ok_or_else(|| format!("{role:?} is not viewer, editor, approver or admin"))?;
            let mut groups = Effective::of(&doc, &state.overrides).role_groups();
            groups.set(role, group.clone());
            (
                format!("role {} → {group}", role.as_str()),
                Box::new(move |doc| doc.role_groups = Some(groups)),
            )
        }
        SettingsCommand::SetApprovals { approvals } => (
            format!("approvals needed → {approvals}"),
            Box::new(move |doc| doc.required_approvals = Some(approvals)),
        ),
        SettingsCommand::SetHealth {
            percentile,
            days,
            tight_percent,
            loose_factor,
            unreviewed_days,
        } => {
            let health = app::traffic::health::HealthSettings {
                percentile: app::traffic::threshold::Basis::parse(&percentile)?,
                days,
                tight_percent,
                loose_factor,
                unreviewed_days,
            };
            health.check()?;
            (
                format!(
                    "threshold health → {percentile} over {days} days, tight above {tight_percent} %, loose at ×{loose_factor}, unreviewed after {unreviewed_days} days"
                ),
                Box::new(move |doc| doc.threshold_health = Some(health)),
            )
        }
        SettingsCommand::AddWebAcl { name, scope } => {
            let found = check::web_acl(&state.aws, &scope.to_ascii_uppercase(), &name)
                .await
                .map_err(checked("web ACL"))?;
            adding(found)
        }
        SettingsCommand::AddPolicyTable { name } => {
            let found = check::policy_table(&state.aws, &name)
                .await
                .map_err(checked("policy table"))?;
            adding(found)
        }
        SettingsCommand::AddVpnSet {
            name,
            geo_web_acl,
            nat_ip_set,
            policy_arn,
            scp_id,
        } => {
            let input = check::VpnSetInput {
                name,
                geo_web_acl,
                nat_ip_set,
                policy_arn,
                scp_id,
            };
            let found = check::vpn_set(&state.aws, &input)
                .await
                .map_err(checked("VPN geofencing set"))?;
            adding(found)
        }
        SettingsCommand::Remove { label } => {
            if !doc.targets.iter().any(|t| t.label() == label) {
                return Err(format!(
                    "{label:?} is not managed; see `gatehouse settings show`"
                ));
            }
            (
                format!("remove {label}"),
                Box::new(move |doc| doc.targets.retain(|t| t.label() != label)),
            )
        }
    };
    let after = store::operator_change(
        &state.pool,
        crate::demo::operator("settings"),
        &what,
        change,
    )
    .await
    .map_err(|e| e.to_string())?;
    eprintln!("settings changed: {what} (audited)");
    print(&show(&state, &after))
}

fn adding(found: app::settings::Target) -> (String, Edit) {
    let label = found.label();
    (
        format!("add {label}"),
        Box::new(move |doc| {
            doc.targets.retain(|t| t.label() != found.label());
            doc.targets.push(found);
        }),
    )
}

fn show(state: &AppState, doc: &SettingsDoc) -> serde_json::Value {
    let now = Effective::of(doc, &state.overrides);
    json!({
        "roles": now.roles,
        "required_approvals": {"value": now.required_approvals, "source": now.approvals_source},
        "targets": doc.targets.iter().map(|t| json!({
            "label": t.label(), "kind": t.kind, "name": t.name, "scope": t.scope,
            "aws_id": t.aws_id, "arn": t.arn, "region": t.region, "detail": t.detail,
        })).collect::<Vec<_>>(),
    })
}

fn print(value: &serde_json::Value) -> Result<(), String> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).map_err(|e| e.to_string())?
    );
    Ok(())
}
