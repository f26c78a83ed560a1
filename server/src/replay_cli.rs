//! `gatehouse traffic replay`: the imported traffic of a web ACL through
//! its live rules, a file of rules, or a change request's rules beside the
//! rules it is based on — the same replay as the review page and the API.
//! Only the live rules (and IP sets the rules reference) need AWS.

use crate::config::Config;
use app::traffic::replay::TOP_KEYS;
use app::traffic::replaying::{self, Range, Sources};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The web ACL whose traffic is replayed (its name or ARN), and whose live rules unless
    /// --draft or --rules.
    #[arg(long)]
    web_acl: String,
    /// REGIONAL or CLOUDFRONT.
    #[arg(long, default_value = "REGIONAL")]
    scope: String,
    /// A change request: its rules beside the rules it is based on.
    #[arg(long, conflicts_with = "rules")]
    draft: Option<uuid::Uuid>,
    /// A file of rules (a JSON array, {"Rules": [...]} or get-web-acl output), replayed alone.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Start (RFC 3339; default: the last day imported).
    #[arg(long)]
    from: Option<String>,
    /// End, exclusive.
    #[arg(long)]
    to: Option<String>,
    /// json or table.
    #[arg(long, default_value = "table")]
    format: String,
}

pub async fn run(config: &Config, args: ReplayArgs) -> Result<(), String> {
    if !matches!(args.format.as_str(), "json" | "table") {
        return Err(format!("--format {:?}: use json or table", args.format));
    }
    let time = |flag: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| {
                app::traffic::query::parse_time(v)
                    .ok_or_else(|| format!("--{flag} {v:?} is not a date and time (RFC 3339)"))
            })
            .transpose()
    };
    let (from, to) = (time("from", &args.from)?, time("to", &args.to)?);
    // What a replay reads, and no more: no migrations, no sign-in set-up;
    // AWS and the IP-to-country database only when the rules need them.
    let pool = crate::db::connect(&config.database_url, 2)
        .await
        .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
    let failed = |e: app::error::AppError| e.to_string();
    let range = Range::or_default(&pool, from, to).await.map_err(failed)?;
    let (json, text) = if let Some(file) = &args.rules {
        let shown = file.display();
        let text = std::fs::read_to_string(file).map_err(|e| format!("{shown}: {e}"))?;
        let document: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{shown}: not JSON: {e}"))?;
        let rules = app::rules::rules_of(document).map_err(|e| format!("{shown}: {e}"))?;
        let wafv2 = match replaying::ip_set_arns(&rules).is_empty() {
            true => None,
            false => Some(wafv2(config).await),
        };
        let geo = replaying::locates_addresses(&rules)
            .then(|| crate::serve::geo_db(config))
            .flatten();
        let sources = Sources {
            pool: &pool,
            wafv2: wafv2.as_ref(),
            geo: geo.as_ref(),
        };
        let report = replaying::replay_sets(sources, &args.web_acl, range, &[&rules])
            .await
            .map_err(failed)?
            .remove(0)
            .shortened(TOP_KEYS);
        (serde_json::to_value(&report), report.to_text())
    } else {
        let wafv2 = wafv2(config).await;
        let geo = crate::serve::geo_db(config);
        let sources = Sources {
            pool: &pool,
            wafv2: Some(&wafv2),
            geo: geo.as_ref(),
        };
        match args.draft {
            Some(id) => {
                let change = app::changes::store::get(&pool, id)
                    .await
                    .map_err(|e| failed(e.into()))?;
                let compared = replaying::replay_change(sources, &change, range)
                    .await
                    .map_err(failed)?;
                let replayed = compared.live.web_acl.as_deref().unwrap_or_default();
                let name = app::traffic::query::web_acl_name(replayed).unwrap_or(replayed);
                if name != args.web_acl {
                    return Err(format!(
                        "change request {id} is for the web ACL {name}, not {}",
                        args.web_acl
                    ));
                }
                (serde_json::to_value(&compared), compared.to_text())
            }
            None => {
                let report = replaying::replay_live(sources, &args.scope, &args.web_acl, range)
                    .await
                    .map_err(failed)?;
                (serde_json::to_value(&report), report.to_text())
            }
        }
    };
    match args.format.as_str() {
        "json" => println!(
            "{}",
            serde_json::to_string_pretty(&json.map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?
        ),
        _ => print!("{text}"),
    }
    Ok(())
}

async fn wafv2(config: &Config) -> aws_sdk_wafv2::Client {
    aws_sdk_wafv2::Client::new(&crate::aws::sdk_config(&config.aws).await)
}
