//! `gatehouse`: the console's server and command line.

use clap::{Parser, Subcommand};
use gatehouse::{config::Config, demo, serve};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "AWS WAF, API authorization and VPN geofencing changes, reviewed and audited"
)]
struct Cli {
    /// Configuration file (TOML). Default: gatehouse.toml in the working directory, if present.
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the console (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Provision the demo AWS resources (idempotent), register them, and print the sign-ins.
    Demo {
        /// Print one JSON object {"url", "users": [{"username", "password", "role"}]}.
        #[arg(long)]
        json: bool,
    },
    /// WAF log files.
    Logs {
        #[command(subcommand)]
        command: LogsCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum LogsCommand {
    /// Import WAF log files: files, folders (recursively) and glob patterns; plain or gzip.
    Import {
        #[arg(required = true)]
        paths: Vec<String>,
        /// Print one JSON object {"files", "records", "malformed", "duplicates_skipped", …}.
        #[arg(long)]
        json: bool,
    },
    /// Write the demo's sample WAF logs (as WAF delivers them to S3) under DIR.
    Generate {
        dir: PathBuf,
        /// First second covered (RFC 3339). Default: yesterday 00:00 UTC.
        #[arg(long)]
        start: Option<chrono::DateTime<chrono::Utc>>,
        #[arg(long, default_value_t = 24)]
        hours: u32,
        /// Multiplies the number of people and bots (1: about 200,000 records a day).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the hash chain: exit 0 when intact, 1 naming the first event changed, removed or reordered.
    Verify,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("gatehouse: {err}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config.log);
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve::run(config).await.map_err(|e| e.to_string()),
        Command::Migrate => migrate(&config).await,
        Command::Demo { json } => run_demo(&config, json).await,
        Command::Logs {
            command: LogsCommand::Import { paths, json },
        } => import_logs(&config, &paths, json).await,
        Command::Logs {
            command:
                LogsCommand::Generate {
                    dir,
                    start,
                    hours,
                    scale,
                    seed,
                },
        } => generate_logs(&dir, start, hours, scale, seed),
        Command::Audit {
            command: AuditCommand::Verify,
        } => verify_audit(&config).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gatehouse: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn migrate(config: &Config) -> Result<(), String> {
    gatehouse::db::migrate(&config.database_url)
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    eprintln!("migrations applied");
    Ok(())
}

/// Reads the trail and nothing else: no migrations, no AWS.
async fn verify_audit(config: &Config) -> Result<(), String> {
    let pool = gatehouse::db::connect(&config.database_url, 2)
        .await
        .map_err(|e| {
            format!(
                "cannot connect to PostgreSQL at database_url ({}): {e}",
                serve::redact_password(&config.database_url)
            )
        })?;
    match app::audit::verify(&pool).await {
        Ok(Ok(count)) => {
            println!("audit chain intact: {count} events");
            Ok(())
        }
        Ok(Err(broken)) => Err(format!("audit chain broken at {broken}")),
        Err(err) => Err(format!("cannot read the audit trail: {err}")),
    }
}

async fn run_demo(config: &Config, json: bool) -> Result<(), String> {
    let state = serve::state(config).await.map_err(|e| e.to_string())?;
    let resources = demo::provision(&state.aws)
        .await
        .map_err(|e| format!("demo provisioning failed at {e}"))?;
    demo::register(&state.pool, &state.aws.region, &resources)
        .await
        .map_err(|e| format!("cannot register the demo resources: {e}"))?;
    let summary = demo::Summary::new(config.console_url());
    if json {
        let text = serde_json::to_string(&summary).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        print!("{}", summary.to_text());
    }
    Ok(())
}

fn generate_logs(
    dir: &std::path::Path,
    start: Option<chrono::DateTime<chrono::Utc>>,
    hours: u32,
    scale: f64,
    seed: u64,
) -> Result<(), String> {
    use gatehouse::traffic::generate::{Scenario, write_logs};
    let mut scenario = Scenario::yesterday(chrono::Utc::now());
    scenario.start = start.unwrap_or(scenario.start);
    scenario.hours = hours;
    scenario.scale = scale;
    scenario.seed = seed;
    let generated = write_logs(dir, &scenario).map_err(|e| format!("{}: {e}", dir.display()))?;
    println!(
        "{} records in {} files under {}",
        generated.records,
        generated.files.len(),
        dir.display()
    );
    Ok(())
}

async fn import_logs(config: &Config, paths: &[String], json: bool) -> Result<(), String> {
    use gatehouse::traffic::import::{self, Source};
    let files = import::expand(paths).map_err(|e| e.to_string())?;
    gatehouse::db::migrate(&config.database_url)
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    let pool = gatehouse::db::connect(&config.database_url, 4)
        .await
        .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
    let actor = app::audit::Actor {
        sub: None,
        username: Some(format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )),
    };
    let client = app::audit::Client {
        ip: None,
        user_agent: Some("gatehouse logs import".into()),
    };
    let summary = import::import(&pool, files, Source::Cli, actor, client)
        .await
        .map_err(|e| format!("import failed: {e}"))?;
    if json {
        let text = serde_json::to_string(&summary).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        print!("{}", summary.to_text());
    }
    Ok(())
}
