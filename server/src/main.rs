//! `gatehouse`: the console's server and command line.

use clap::{Parser, Subcommand};
use gatehouse::traffic::report::{self, Format};
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
        /// Print one JSON object {"url", "users": [{"username", "password", "role"}], "not_set_up"}.
        #[arg(long)]
        json: bool,
        /// Provision into real AWS: without an emulator endpoint
        /// (AWS_ENDPOINT_URL) the demo refuses unless this is given.
        #[arg(long)]
        really: bool,
    },
    /// WAF log files.
    Logs {
        #[command(subcommand)]
        command: LogsCommand,
    },
    /// Analyses of the imported WAF logs.
    Traffic {
        #[command(subcommand)]
        command: TrafficCommand,
    },
    /// Web ACL rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Change requests, as JSON.
    Changes {
        #[command(subcommand)]
        command: ChangesCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Client VPN geofencing: the allowed countries, and "Test an IP".
    Countries {
        #[command(subcommand)]
        command: gatehouse::countries_cli::CountriesCommand,
    },
    /// API authorization policies: the evaluator for scripts.
    Policy {
        #[command(subcommand)]
        command: gatehouse::policy_cli::PolicyCommand,
    },
    /// The settings, for the machine's operator: shown, or changed directly (checked and
    /// audited) when no admin can sign in.
    Settings {
        #[command(subcommand)]
        command: gatehouse::settings_cli::SettingsCommand,
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
enum TrafficCommand {
    /// The imported traffic through a web ACL's rate-based rules: its live rules, a change request
    /// (--draft, beside the rules it is based on) or a file of rules (--rules, beside the live ones).
    Replay {
        #[command(flatten)]
        args: gatehouse::replay_cli::ReplayArgs,
    },
    /// Each managed rate-based rule's limit against the peaks of its traffic, with a verdict
    /// (tight, loose, healthy, no data; unreviewed): exit 2 when any rule is tight.
    Health {
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// The keys with the most requests per window.
    Top {
        #[command(flatten)]
        analysis: AnalysisArgs,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// The distribution of each key's peak window, a recommended limit, and what a limit would have blocked.
    Recommend {
        #[command(flatten)]
        analysis: AnalysisArgs,
        /// What the recommendation starts from: p50, p90, p99, p99.9 or max.
        #[arg(long, default_value = "p99")]
        percentile: String,
        /// Growth buffer added to it, in percent.
        #[arg(long, default_value_t = 100)]
        buffer: u32,
        /// The limit to replay (default: the recommended one).
        #[arg(long)]
        what_if: Option<u64>,
        #[command(flatten)]
        basis: BasisArgs,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

/// What the recommendation's peaks leave out (healthy traffic by default).
#[derive(Debug, clap::Args)]
struct BasisArgs {
    /// Count requests WAF blocked or challenged too.
    #[arg(long)]
    keep_blocked: bool,
    /// Keep keys whose peak is an outlier.
    #[arg(long)]
    keep_outliers: bool,
    /// Labels (or namespaces ending with :) of known-bad sources to leave out, comma-separated,
    /// or none (default: AWS's IP reputation and anonymous-IP lists).
    #[arg(long)]
    bad_labels: Option<String>,
    /// A time range to leave out, FROM/TO in RFC 3339 (repeatable).
    #[arg(long)]
    exclude: Vec<String>,
    /// Base the recommendation on all traffic: leave nothing out.
    #[arg(long, conflicts_with_all = ["keep_blocked", "keep_outliers", "bad_labels", "exclude"])]
    all_traffic: bool,
}

impl BasisArgs {
    fn healthy(&self) -> Result<app::traffic::healthy::Healthy, String> {
        if self.all_traffic {
            return Ok(app::traffic::healthy::Healthy::everything());
        }
        let keep = |yes: bool| Some((if yes { "keep" } else { "skip" }).to_owned());
        let pairs = [
            ("blocked", keep(self.keep_blocked)),
            ("outliers", keep(self.keep_outliers)),
            ("bad_labels", self.bad_labels.clone()),
            ("exclude", Some(self.exclude.join(","))),
        ];
        app::traffic::healthy::Healthy::from_query(|key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, v)| v.clone())
        })
    }
}

/// The question, as `traffic top` and `traffic recommend` take it.
#[derive(Debug, clap::Args)]
struct AnalysisArgs {
    /// Start of the range (RFC 3339), inclusive.
    #[arg(long)]
    from: String,
    /// End of the range (RFC 3339), exclusive.
    #[arg(long)]
    to: String,
    /// Window in seconds: 60, 120, 300 or 600.
    #[arg(long, default_value_t = 300)]
    window: u32,
    /// ip, forwarded:HEADER, ip-uri or country.
    #[arg(long, default_value = "ip")]
    by: String,
    /// Only requests to this URI.
    #[arg(long)]
    uri: Option<String>,
    /// exact or prefix.
    #[arg(long, default_value = "exact")]
    uri_match: String,
    #[arg(long)]
    method: Option<String>,
    /// Two-letter country code.
    #[arg(long)]
    country: Option<String>,
    /// Only the traffic of this web ACL (its name or ARN; unknown for logs imported before web
    /// ACLs were kept; default: all).
    #[arg(long)]
    web_acl: Option<String>,
    /// Only requests with this label (a namespace when it ends with :).
    #[arg(long)]
    label: Option<String>,
    /// Windows starting every 10 seconds instead of fixed ones.
    #[arg(long)]
    sliding: bool,
    /// Rows of the top list.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// The registered log source to read (`imported`, or an Athena source such as
    /// athena-demo: the analysis runs there, or its kept result is read).
    #[arg(long, default_value = "imported")]
    source: String,
}

impl AnalysisArgs {
    fn analysis(&self) -> Result<app::traffic::query::Analysis, String> {
        let pairs = [
            ("from", Some(self.from.clone())),
            ("to", Some(self.to.clone())),
            ("window", Some(self.window.to_string())),
            ("by", Some(self.by.clone())),
            ("uri", self.uri.clone()),
            ("uri_match", Some(self.uri_match.clone())),
            ("method", self.method.clone()),
            ("country", self.country.clone()),
            ("web_acl", self.web_acl.clone()),
            ("label", self.label.clone()),
            ("sliding", Some(self.sliding.to_string())),
            ("limit", Some(self.limit.to_string())),
        ];
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, v)| v.clone())
        };
        let now = chrono::Utc::now();
        app::traffic::query::Analysis::from_query(get, (now, now))
    }
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Check rules (a JSON array of rules, {"Rules": [...]} or get-web-acl output): print the
    /// findings as JSON [{"severity", "rule", "path", "message"}]; exit 1 when one is an error.
    Validate { file: PathBuf },
    /// The live rules of a web ACL: in plain words, or as AWS's JSON with --format json.
    Show {
        #[arg(long)]
        web_acl: String,
        /// REGIONAL or CLOUDFRONT.
        #[arg(long, default_value = "REGIONAL")]
        scope: String,
        /// text, or json (the rules as the AWS console's JSON editor shows them).
        #[arg(long, default_value = "text")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
enum ChangesCommand {
    /// Change requests (drafts left out), most recently changed first: a JSON array of
    /// {"id", "title", "author", "status", "target", "approvals", "required_approvals", "updated_at"}.
    List {
        /// draft, in_review, approved, applying, applied, rejected, withdrawn, failed or stale.
        #[arg(long)]
        status: Option<String>,
        /// Exact username.
        #[arg(long)]
        author: Option<String>,
        /// Part of the target's name.
        #[arg(long)]
        target: Option<String>,
    },
    /// One change request, whole (diff, evidence, comments, approvals, timeline), as JSON.
    Show { id: String },
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
        Command::Demo { json, really } => run_demo(&config, json, really).await,
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
        Command::Traffic {
            command: TrafficCommand::Health { format },
        } => return traffic_health(&config, &format).await,
        Command::Traffic { command } => traffic(&config, command).await,
        Command::Rules {
            command: RulesCommand::Validate { file },
        } => validate_rules(&file),
        Command::Rules {
            command:
                RulesCommand::Show {
                    web_acl,
                    scope,
                    format,
                },
        } => show_rules(&config, &web_acl, &scope, &format).await,
        Command::Changes { command } => changes(&config, command).await,
        Command::Audit {
            command: AuditCommand::Verify,
        } => verify_audit(&config).await,
        Command::Settings { command } => gatehouse::settings_cli::run(&config, command).await,
        Command::Policy { command } => gatehouse::policy_cli::run(&config, command).await,
        Command::Countries { command } => gatehouse::countries_cli::run(&config, command).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gatehouse: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `gatehouse traffic health`: exit 0, 2 when a rule is tight, 1 on error.
async fn traffic_health(config: &Config, format: &str) -> ExitCode {
    let report = async {
        if !matches!(format, "json" | "table") {
            return Err(format!("--format {format:?}: use json or table"));
        }
        let state = serve::state(config).await.map_err(|e| e.to_string())?;
        app::traffic::health::current(&state.pool, &state.aws)
            .await
            .map_err(|e| e.to_string())
    };
    match report.await {
        Err(message) => {
            eprintln!("gatehouse: {message}");
            ExitCode::FAILURE
        }
        Ok(report) => {
            match format {
                "json" => match serde_json::to_string_pretty(&report) {
                    Ok(text) => println!("{text}"),
                    Err(_) => return ExitCode::FAILURE,
                },
                _ => print!("{}", report.to_text()),
            }
            match report.any_tight() {
                true => ExitCode::from(2),
                false => ExitCode::SUCCESS,
            }
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

/// Reads change requests and nothing else: no migrations, no AWS.
async fn changes(config: &Config, command: ChangesCommand) -> Result<(), String> {
    use app::changes::{ChangeFilter, store, view};
    let pool = gatehouse::db::connect(&config.database_url, 2)
        .await
        .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
    let json = match command {
        ChangesCommand::List {
            status,
            author,
            target,
        } => {
            let pairs = [("status", status), ("author", author), ("target", target)];
            let filter = ChangeFilter::from_query(|key| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == key)
                    .and_then(|(_, v)| v.clone())
            })?;
            let rows = store::list(&pool, &filter, "")
                .await
                .map_err(|e| e.to_string())?;
            serde_json::to_string_pretty(&rows)
        }
        ChangesCommand::Show { id } => {
            let id = id
                .parse::<uuid::Uuid>()
                .map_err(|_| format!("{id:?} is not a change request id"))?;
            let change = store::get(&pool, id).await.map_err(|e| e.to_string())?;
            let shown = view::view(&pool, change).await.map_err(|e| e.to_string())?;
            serde_json::to_string_pretty(&shown)
        }
    };
    println!("{}", json.map_err(|e| e.to_string())?);
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
    println!("{}", audit_verdict(config, &pool).await?);
    Ok(())
}

/// Verifies the audit chain, and, when an anchor is configured, every
/// checkpoint it holds (each signed with the key, none taken from the
/// middle) and the trail against each: the line `audit verify` prints, or
/// why the trail cannot be trusted. An anchor that holds no checkpoint
/// fails: the trail it should cover could have been replaced whole.
async fn audit_verdict(config: &Config, pool: &sqlx::PgPool) -> Result<String, String> {
    let anchored = config.audit_anchor().map_err(|e| e.to_string())?;
    let checkpoints = match &anchored {
        None => Vec::new(),
        Some((anchor, key)) => {
            let sdk = gatehouse::aws::sdk_config(&config.aws).await;
            let s3 = app::state::AwsClients::s3_client(&sdk);
            let all = anchor
                .all(&s3)
                .await
                .map_err(|e| format!("{e} ({})", anchor.describe()))?;
            if all.is_empty() {
                return Err(format!(
                    "the audit anchor {} holds no checkpoint, so the trail cannot be held \
                     against it (a console with the anchor writes one within a minute of an \
                     event)",
                    anchor.describe()
                ));
            }
            app::audit::checkpoint::check_history(&all, key)
                .map_err(|e| format!("{e} ({})", anchor.describe()))?;
            all
        }
    };
    match app::audit::verify(pool, &checkpoints).await {
        Ok(Ok(count)) => {
            let anchoring = match (&anchored, checkpoints.last()) {
                (Some((anchor, _)), Some(newest)) => format!(
                    "; {} checkpoints at {} match; the newest, of {}, covers events up to {}",
                    checkpoints.len(),
                    anchor.describe(),
                    newest.at.format("%Y-%m-%d %H:%M:%S UTC"),
                    newest.sequence
                ),
                _ => "; not anchored outside the database (set audit.key and audit.anchor \
                      to detect the newest events removed)"
                    .to_owned(),
            };
            Ok(format!("audit chain intact: {count} events{anchoring}"))
        }
        Ok(Err(broken)) => Err(format!("audit chain broken at {broken}")),
        Err(err) => Err(format!("cannot read the audit trail: {err}")),
    }
}

/// Provisions the demo and registers it. The web ACLs, the policy table,
/// the Cognito pool, the sample logs and the sample change request are what
/// the console is for, so their failure stops the demo; the Athena log
/// source and the audit anchor are optional parts: when one cannot be set
/// up, the demo says which and why and sets up the rest.
async fn run_demo(config: &Config, json: bool, really: bool) -> Result<(), String> {
    if config.aws.endpoint_url.is_none() && !really {
        return Err(
            "the demo provisions web ACLs, a user pool with known passwords, a table \
                    and an IAM policy into the account the AWS SDK reaches, and no emulator \
                    endpoint is set (AWS_ENDPOINT_URL): give --really to do that in real AWS"
                .into(),
        );
    }
    let state = serve::state(config).await.map_err(|e| e.to_string())?;
    let resources = demo::provision(&state.aws)
        .await
        .map_err(|e| format!("demo provisioning failed at {e}"))?;
    demo::register(&state.pool, &state.aws, &resources)
        .await
        .map_err(|e| format!("cannot register the demo resources: {e}"))?;
    let shop = resources
        .iter()
        .find(|r| r.name == demo::waf::SHOP_WEB_ACL)
        .and_then(|r| r.arn.as_deref())
        .ok_or("the demo provisioned no shop web ACL")?;
    let now = chrono::Utc::now();
    let logs = demo::import_sample_logs(&state.pool, &state.aws, now, shop)
        .await
        .map_err(|e| format!("cannot import the sample WAF logs: {e}"))?;
    eprintln!(
        "sample WAF logs: {} records imported, {} already there",
        logs.summary.records, logs.summary.duplicates_skipped
    );
    let mut not_set_up = Vec::new();
    let athena = match logs.in_s3 {
        Ok(()) => demo::register_athena(&state.pool, &state.aws, now).await,
        Err(why) => Err(why),
    };
    if let Err(why) = athena {
        not_set_up.push(demo::NotSetUp::new(demo::athena::PART, why));
    }
    let required_approvals = app::settings::store::effective(&state.pool, &state.overrides)
        .await
        .map_err(|e| e.to_string())?
        .required_approvals;
    demo::sample_change(&state.pool, &state.aws, required_approvals)
        .await
        .map_err(|e| format!("cannot open the sample change request: {e}"))?;
    if let Some(checkpoints) = &state.checkpoints {
        // The demo's own events, covered by a first checkpoint, which is
        // then read back and checked as `audit verify` checks it.
        let anchored = match checkpoints.write(&state.pool).await {
            Ok(_) => audit_verdict(config, &state.pool).await.map(|_| ()),
            Err(why) => Err(why),
        };
        if let Err(why) = anchored {
            let why = format!(
                "{why} ({}); the console runs, and its Audit page shows the anchor's problem",
                checkpoints.anchor.describe()
            );
            not_set_up.push(demo::NotSetUp::new("the audit anchor", why));
        }
    }
    for part in &not_set_up {
        eprintln!("gatehouse demo: {} not set up: {}", part.part, part.why);
    }
    let summary = demo::Summary::new(config.console_url(), not_set_up);
    print_summary(json, &summary, summary.to_text())
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
    use gatehouse::traffic::{import, s3};
    let (remote, local): (Vec<String>, Vec<String>) =
        paths.iter().cloned().partition(|p| p.starts_with("s3://"));
    let mut files = import::expand(&local).map_err(|e| e.to_string())?;
    // Objects are fetched into this folder, removed when the import ends.
    let fetched =
        tempfile::tempdir().map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    if !remote.is_empty() {
        let aws = gatehouse::aws::sdk_config(&config.aws).await;
        let s3_client = app::state::AwsClients::s3_client(&aws);
        for (i, url) in remote.iter().enumerate() {
            let prefix = s3::Prefix::parse(url)?;
            let dir = fetched.path().join(i.to_string());
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            files.extend(
                s3::fetch(&s3_client, &prefix, &dir)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
    }
    let source = if remote.is_empty() {
        import::Source::Cli
    } else {
        import::Source::S3
    };
    gatehouse::db::migrate(&config.database_url)
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    let pool = gatehouse::db::connect(&config.database_url, 8)
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
    let summary = import::import(&pool, files, source, config.import, actor, client)
        .await
        .map_err(|e| format!("import failed: {e}"))?;
    print_summary(json, &summary, summary.to_text())
}

async fn traffic(config: &Config, command: TrafficCommand) -> Result<(), String> {
    use app::traffic::store::Detail;
    // (the question, the healthy basis, what `recommend` adds, the format)
    let (args, healthy, recommend, format) = match command {
        TrafficCommand::Replay { args } => return gatehouse::replay_cli::run(config, args).await,
        // Its exit code tells more than success or failure: see main.
        TrafficCommand::Health { format } => {
            return Err(format!("traffic health --format {format}: run on its own"));
        }
        TrafficCommand::Top { analysis, format } => (analysis, None, None, format),
        TrafficCommand::Recommend {
            analysis,
            percentile,
            buffer,
            what_if,
            basis,
            format,
        } => (
            analysis,
            Some(basis.healthy()?).filter(|h| h.leaves_out_anything()),
            Some((
                app::traffic::threshold::Basis::parse(&percentile)?,
                buffer,
                what_if,
            )),
            format,
        ),
    };
    let analysis = args.analysis()?;
    let (answer, replayed) = match args.source.as_str() {
        app::traffic::runs::IMPORTED => {
            let pool = gatehouse::db::connect(&config.database_url, 2)
                .await
                .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
            let detail = match recommend {
                None => Detail::Top,
                Some(_) => Detail::Everything,
            };
            let answer = app::traffic::store::answer(&pool, &analysis, detail, healthy.as_ref())
                .await
                .map_err(|e| format!("cannot read the imported logs: {e}"))?;
            (answer, None)
        }
        source => {
            let limit = |answer: &app::traffic::store::Answer| {
                recommend.map(|(basis, buffer, what_if)| {
                    answer.recommendation(basis, buffer, what_if).what_if.limit
                })
            };
            gatehouse::athena_cli::answer(config, source, &analysis, healthy.as_ref(), limit)
                .await?
        }
    };
    let text = match recommend {
        None => report::top(&answer.top, format)?,
        Some((basis, buffer, what_if)) => {
            let mut recommendation = answer.recommendation(basis, buffer, what_if);
            if let Some(replayed) = replayed {
                recommendation.what_if = replayed;
            }
            report::recommendation(&analysis, &recommendation, format)?
        }
    };
    print!("{text}");
    if !text.ends_with('\n') {
        println!();
    }
    Ok(())
}

async fn show_rules(config: &Config, name: &str, scope: &str, format: &str) -> Result<(), String> {
    if !matches!(format, "text" | "json") {
        return Err(format!("--format {format:?}: use text or json"));
    }
    let aws = gatehouse::aws::sdk_config(&config.aws).await;
    let client = aws_sdk_wafv2::Client::new(&aws);
    let live = app::rules::live::rules(&client, scope, name)
        .await
        .map_err(|e| e.to_string())?;
    if format == "json" {
        let json = app::rules::model::rules_json(&live.rules);
        println!(
            "{}",
            serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    println!(
        "{} ({}), {} rules",
        live.web_acl.name,
        live.web_acl.scope,
        live.rules.len()
    );
    for entry in &live.rules {
        let priority = entry.priority().map_or("-".into(), |p| p.to_string());
        let name = entry.name().unwrap_or("(no name)");
        let (words, wcu) = match entry {
            app::rules::model::RuleEntry::Rule(rule) => (
                app::rules::summary::summary(rule),
                app::rules::summary::wcu(rule).map_or("? WCU".into(), |w| format!("{w} WCU")),
            ),
            app::rules::model::RuleEntry::Verbatim { .. } => {
                ("(not understood; kept as it is)".into(), "? WCU".into())
            }
        };
        println!("{priority:>5}  {name}: {words} ({wcu})");
    }
    Ok(())
}

/// Prints the findings; an error among them fails the command.
fn validate_rules(file: &std::path::Path) -> Result<(), String> {
    let shown = file.display();
    let text = std::fs::read_to_string(file).map_err(|e| format!("{shown}: {e}"))?;
    let document: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{shown}: not JSON: {e}"))?;
    let rules = app::rules::rules_of(document).map_err(|e| format!("{shown}: {e}"))?;
    let findings = app::rules::validate::validate(&rules);
    println!(
        "{}",
        serde_json::to_string_pretty(&findings).map_err(|e| e.to_string())?
    );
    match app::rules::validate::has_errors(&findings) {
        true => Err(format!("{shown}: the rules have errors (see above)")),
        false => Ok(()),
    }
}

/// One JSON object for scripts, or the text for people.
fn print_summary(json: bool, value: &impl serde::Serialize, text: String) -> Result<(), String> {
    if json {
        println!(
            "{}",
            serde_json::to_string(value).map_err(|e| e.to_string())?
        );
    } else {
        print!("{text}");
    }
    Ok(())
}
