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
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
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
