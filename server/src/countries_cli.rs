//! `gatehouse countries`: the VPN geofencing set for scripts — what is
//! allowed and where it lives, and "Test an IP" — with the same reading and
//! evaluation as the VPN countries page.

use crate::config::Config;
use app::vpn::service;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum CountriesCommand {
    /// The allowed countries, the NAT addresses, the deny policy and where each lives.
    Show {
        #[arg(long, default_value = "text")]
        format: String,
        /// A managed VPN geofencing set; the first one when not given.
        #[arg(long)]
        set: Option<String>,
    },
    /// An address's country, what the geo web ACL does with it and the connect handler's answer.
    Test {
        ip: String,
        #[arg(long, default_value = "text")]
        format: String,
        #[arg(long)]
        set: Option<String>,
    },
}

pub async fn run(config: &Config, command: CountriesCommand) -> Result<(), String> {
    let state = crate::serve::state(config)
        .await
        .map_err(|e| e.to_string())?;
    let failed = |e: app::error::AppError| e.to_string();
    match command {
        CountriesCommand::Show { format, set } => {
            let name = service::chosen(&state.pool, set.as_deref())
                .await
                .map_err(failed)?;
            let (parts, _) = service::parts(&state, &name).await.map_err(failed)?;
            let shown = service::show_json(&name, &parts);
            match format.as_str() {
                "json" => println!("{shown}"),
                "text" => {
                    let doc = parts.doc();
                    let countries: Vec<String> = doc
                        .countries
                        .iter()
                        .map(|c| format!("{c} ({})", app::vpn::country_name(c).unwrap_or("?")))
                        .collect();
                    println!("VPN geofencing set {name}");
                    println!("  allowed countries: {}", countries.join(", "));
                    println!("  NAT addresses:     {}", doc.nat_addresses.join(", "));
                    println!("  geo web ACL:       {}", parts.set.geo_web_acl.name);
                    println!("  NAT IP set:        {}", parts.set.nat_ip_set.name);
                    println!(
                        "  deny policy:       {} (default version {})",
                        parts.set.policy_arn, parts.policy_version
                    );
                    if let Some(scp) = &parts.set.scp_id {
                        println!("  SCP:               {scp}");
                    }
                }
                other => return Err(format!("--format {other:?}: text or json")),
            }
            Ok(())
        }
        CountriesCommand::Test { ip, format, set } => {
            let name = service::chosen(&state.pool, set.as_deref())
                .await
                .map_err(failed)?;
            let (parts, _) = service::parts(&state, &name).await.map_err(failed)?;
            let found = service::test_ip(&state, &parts, None, &ip).map_err(failed)?;
            match format.as_str() {
                "json" => println!("{}", service::test_json(&found)),
                "text" => {
                    let place = match (&found.country, &found.special) {
                        (Some(code), _) => code.clone(),
                        (None, Some(why)) => format!("not located ({why})"),
                        (None, None) => "not located".into(),
                    };
                    println!("{}: {place}", found.ip);
                    println!(
                        "  geo web ACL: {} ({})",
                        found.web_acl.action,
                        found.web_acl.rule.as_deref().unwrap_or("default action")
                    );
                    println!("  handler:     {}", found.handler);
                }
                other => return Err(format!("--format {other:?}: text or json")),
            }
            Ok(())
        }
    }
}
