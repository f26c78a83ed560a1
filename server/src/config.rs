//! Typed configuration: defaults that run locally, then a TOML file, then
//! environment variables, each layer overriding the one before.
//!
//! Every setting can be given in the file (`gatehouse.toml`, or the path in
//! `--config` / `GATEHOUSE_CONFIG`) and as `GATEHOUSE_<SECTION>__<KEY>`.
//! The conventional variables are honoured too: `DATABASE_URL`,
//! `LEPTOS_SITE_ADDR`, `LEPTOS_SITE_ROOT`, `AWS_ENDPOINT_URL`, `AWS_REGION`.
//! AWS credentials are never configured here: they come from the standard
//! AWS chain (environment, profile, instance role).

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// PostgreSQL connection URL. Env: `DATABASE_URL`.
    pub database_url: String,
    /// Largest number of PostgreSQL connections the pool opens.
    pub database_max_connections: u32,
    /// Address and port the console listens on. Env: `LEPTOS_SITE_ADDR`.
    pub site_addr: SocketAddr,
    /// Folder holding the built site (`pkg/` with the WASM, JS and CSS).
    /// Env: `LEPTOS_SITE_ROOT`.
    pub site_root: PathBuf,
    /// The URL people use to reach the console, when it differs from
    /// `http://<site_addr>` (a proxy, TLS termination). Printed by `demo`.
    pub public_url: Option<String>,
    /// The proxies and load balancers in front of the console (addresses
    /// or CIDRs): only a request from one of these has its client address
    /// taken from `X-Forwarded-For`.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The IP-to-country database (MaxMind format) the VPN page's "Test an
    /// IP" reads: `scripts/` install `geo-whois-asn-country.mmdb` from npm
    /// and set it. Env: `GATEHOUSE_IP_COUNTRY_DB`.
    pub ip_country_db: Option<PathBuf>,
    pub aws: AwsConfig,
    pub cognito: CognitoConfig,
    pub sessions: SessionConfig,
    pub changes: ChangesConfig,
    pub audit: AuditConfig,
    /// What one log file may take to import (`[import] max_inflated_bytes`,
    /// 8 GiB by default; a gzip is also stopped past 1,000 times its size).
    pub import: app::traffic::ImportLimits,
    /// Filter for the log, in `tracing` syntax. Env: `RUST_LOG`.
    pub log: String,
    /// Which console settings this file or the environment fix (found by
    /// `load`, not read from the file).
    #[serde(skip)]
    pub overrides: app::settings::Overrides,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CognitoConfig {
    /// The user pool people sign in with. Unset: the pool `gatehouse demo`
    /// registered.
    pub user_pool_id: Option<String>,
    /// The app client (without a secret) of that pool. Unset: the client
    /// `gatehouse demo` registered.
    pub client_id: Option<String>,
    /// Where the pool's JWKS is served. Unset: `{aws.endpoint_url}/{pool}/
    /// .well-known/jwks.json` with an emulator, else `{issuer}/.well-known/
    /// jwks.json`.
    pub jwks_url: Option<String>,
    /// Seconds of clock skew allowed when checking a token's times.
    pub token_grace_secs: u64,
    /// The pool's hosted UI / managed login domain, e.g.
    /// `https://gatehouse.auth.eu-west-1.amazoncognito.com`. When set, the
    /// sign-in page also offers "Sign in with Cognito".
    pub domain: Option<String>,
    /// The callback registered on the app client, exactly. Unset:
    /// `{console URL}/auth/callback`.
    pub redirect_uri: Option<String>,
    /// The Cognito group that grants each role.
    pub groups: app::auth::RoleGroups,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesConfig {
    /// Approvals a change request needs, each from an approver other than
    /// its author, before it can be applied (at least 1).
    pub required_approvals: std::num::NonZeroU32,
}

/// The audit head anchored outside the database (see
/// `app::audit::checkpoint`): both or neither of `key` and `anchor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The HMAC key checkpoints are signed with, at least 32 characters.
    /// Give it in the environment (`GATEHOUSE_AUDIT__KEY`), not the file;
    /// it is never logged or shown.
    pub key: Option<app::audit::checkpoint::AuditKey>,
    /// Where checkpoints go: `s3://bucket/prefix/` (a bucket with Object
    /// Lock keeps each for its retention), or a file path.
    pub anchor: Option<String>,
    /// Seconds between checkpoints while events are recorded (one is also
    /// written right after every apply).
    pub checkpoint_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    /// Minutes without a request after which a session ends.
    pub idle_minutes: u32,
    /// Hours after sign-in after which a session ends regardless.
    pub absolute_hours: u32,
    /// Failed sign-ins allowed per username and client address within
    /// `lockout_minutes`; past as many from any address, the username's
    /// attempts back off (2, 4, 8 … seconds apart, at most a minute)
    /// rather than lock.
    pub max_failures_per_username: u32,
    /// Failed sign-ins allowed per client address (an IPv6 address counts
    /// by its /64) within `lockout_minutes`.
    pub max_failures_per_ip: u32,
    /// The window failed sign-ins are counted in, and the wait after it.
    pub lockout_minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// Region of the managed resources; when unset, the standard AWS chain
    /// decides (`AWS_REGION`, profile), and failing that `us-east-1`.
    pub region: Option<String>,
    /// Endpoint for every AWS service, for a local emulator. Env:
    /// `AWS_ENDPOINT_URL`. Unset means the real AWS endpoints.
    pub endpoint_url: Option<String>,
    /// Seconds a health probe waits for AWS before reporting it down.
    pub probe_timeout_secs: u64,
    /// Seconds a live state read from AWS for a page (a web ACL, the policy
    /// table, a VPN geofencing set) is shown to everyone before it is read
    /// again. Drafts, applies and stale checks always read afresh.
    pub live_state_ttl_secs: u64,
    /// Calls per second Gatehouse allows itself per service, below AWS's
    /// API quotas (`[aws.calls_per_second]`: `wafv2`, `wafv2_writes`,
    /// `dynamodb`, `cognito`, `other`).
    pub calls_per_second: app::aws_budget::Rates,
    /// Athena's price per TB scanned in US dollars (5 in most Regions),
    /// for the cost the Traffic page shows of each run.
    pub athena_price_per_tb: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "postgres://postgres@127.0.0.1:5432/gatehouse".into(),
            database_max_connections: 10,
            site_addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            site_root: PathBuf::from("target/site"),
            public_url: None,
            trusted_proxies: Vec::new(),
            ip_country_db: None,
            aws: AwsConfig {
                region: None,
                endpoint_url: None,
                probe_timeout_secs: 5,
                live_state_ttl_secs: 10,
                calls_per_second: app::aws_budget::Rates::default(),
                athena_price_per_tb: app::traffic::runs::DEFAULT_PRICE_PER_TB,
            },
            cognito: CognitoConfig {
                user_pool_id: None,
                client_id: None,
                jwks_url: None,
                token_grace_secs: 5,
                domain: None,
                redirect_uri: None,
                groups: app::auth::RoleGroups::default(),
            },
            sessions: SessionConfig {
                idle_minutes: 30,
                absolute_hours: 8,
                max_failures_per_username: 5,
                max_failures_per_ip: 20,
                lockout_minutes: 15,
            },
            changes: ChangesConfig {
                required_approvals: std::num::NonZeroU32::MIN,
            },
            audit: AuditConfig {
                key: None,
                anchor: None,
                checkpoint_seconds: 60,
            },
            import: app::traffic::ImportLimits::default(),
            log: "info,gatehouse=debug,app=debug".into(),
            overrides: app::settings::Overrides::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl From<figment::Error> for ConfigError {
    /// Names each bad setting by its path in the file (`aws.region`) and
    /// where the value came from, one problem per clause.
    fn from(err: figment::Error) -> Self {
        let problems: Vec<String> = err
            .into_iter()
            .map(|e| {
                let key = if e.path.is_empty() {
                    "configuration".to_owned()
                } else {
                    e.path.join(".")
                };
                match &e.metadata {
                    Some(source) => format!("{key}: {} (from {})", e.kind, source.name),
                    None => format!("{key}: {}", e.kind),
                }
            })
            .collect();
        ConfigError::Invalid(problems.join("; "))
    }
}

/// The file read when none is named: `gatehouse.toml` in the working
/// directory, if it is there.
const DEFAULT_FILE: &str = "gatehouse.toml";

/// `GATEHOUSE_` variables that are not settings: the configuration file's
/// path, and the folder the scripts keep their tools and clusters in. Any
/// other unknown `GATEHOUSE_` variable is refused, so typos show.
const NOT_SETTINGS: [&str; 2] = ["config", "home"];

impl Config {
    /// Loads the configuration. A file named explicitly must exist; the
    /// default file is optional.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let file = match file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.into())),
            Some(path) => path.to_path_buf(),
            None => PathBuf::from(DEFAULT_FILE),
        };
        let mut config: Config = Self::figment(&file).extract()?;
        let price = config.aws.athena_price_per_tb;
        if !(price.is_finite() && (0.0..=1000.0).contains(&price)) {
            return Err(ConfigError::Invalid(format!(
                "aws.athena_price_per_tb: {price} is not a price per TB in US dollars (0 to 1000)"
            )));
        }
        config.overrides = Self::overrides(&file, &config);
        Ok(config)
    }

    /// The console settings the file or the environment set (they win over
    /// the database's), with their values and where each came from.
    fn overrides(file: &Path, config: &Config) -> app::settings::Overrides {
        use app::roles::Role;
        use app::settings::Source;
        let in_file = |key: &str| Figment::from(Toml::file(file)).find_value(key).is_ok();
        let in_env = |var: &str| std::env::var_os(var).is_some();
        let source = |key: &str, var: &str| {
            if in_env(var) {
                Some(Source::Environment)
            } else if in_file(key) {
                Some(Source::File)
            } else {
                None
            }
        };
        let role_groups = Role::ALL
            .into_iter()
            .filter_map(|role| {
                let name = role.as_str();
                let found = source(
                    &format!("cognito.groups.{name}"),
                    &format!("GATEHOUSE_COGNITO__GROUPS__{}", name.to_uppercase()),
                )?;
                Some((role, config.cognito.groups.group(role).to_owned(), found))
            })
            .collect();
        let approvals = i32::try_from(config.changes.required_approvals.get()).unwrap_or(i32::MAX);
        let required_approvals = source(
            "changes.required_approvals",
            "GATEHOUSE_CHANGES__REQUIRED_APPROVALS",
        )
        .map(|found| (approvals, found));
        app::settings::Overrides {
            role_groups,
            required_approvals,
        }
    }

    fn figment(file: &Path) -> Figment {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(
                Env::prefixed("GATEHOUSE_")
                    .split("__")
                    .ignore(&NOT_SETTINGS),
            )
            .merge(
                Env::raw()
                    .only(&[
                        "DATABASE_URL",
                        "LEPTOS_SITE_ADDR",
                        "LEPTOS_SITE_ROOT",
                        "RUST_LOG",
                    ])
                    .map(|key| match key.as_str() {
                        "DATABASE_URL" => "database_url".into(),
                        "LEPTOS_SITE_ADDR" => "site_addr".into(),
                        "LEPTOS_SITE_ROOT" => "site_root".into(),
                        _ => "log".into(),
                    }),
            )
            .merge(Env::raw().only(&["AWS_ENDPOINT_URL", "AWS_REGION"]).map(
                |key| match key.as_str() {
                    "AWS_ENDPOINT_URL" => "aws.endpoint_url".into(),
                    _ => "aws.region".into(),
                },
            ))
    }

    /// Whether session cookies get `Secure` (and the `__Host-` prefix):
    /// always, unless the console listens on loopback only and is not said
    /// to be reached over HTTPS. Reachable from a network, it expects TLS
    /// in front of it, and a browser never sends the session in clear.
    pub fn secure_cookies(&self) -> bool {
        let https = self
            .public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"));
        https || !self.site_addr.ip().is_loopback()
    }

    /// Where audit checkpoints go and the key that signs them; `None`
    /// when neither is set.
    pub fn audit_anchor(
        &self,
    ) -> Result<
        Option<(
            app::audit::checkpoint::Anchor,
            app::audit::checkpoint::AuditKey,
        )>,
        ConfigError,
    > {
        use app::audit::checkpoint::Anchor;
        match (&self.audit.anchor, &self.audit.key) {
            (None, None) => Ok(None),
            (Some(anchor), Some(key)) => {
                let anchor = Anchor::parse(anchor)
                    .map_err(|e| ConfigError::Invalid(format!("audit.anchor: {e}")))?;
                Ok(Some((anchor, key.clone())))
            }
            (Some(_), None) => Err(ConfigError::Invalid(
                "audit.anchor is set but audit.key (GATEHOUSE_AUDIT__KEY) is not: \
                 checkpoints are signed with it"
                    .into(),
            )),
            (None, Some(_)) => Err(ConfigError::Invalid(
                "audit.key is set but audit.anchor is not: say where checkpoints go".into(),
            )),
        }
    }

    /// The URL people open.
    pub fn console_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.site_addr))
    }
}

#[cfg(test)]
// `Jail::expect_with` fixes the closure's error type to figment's own.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn file_then_environment_override_the_defaults() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "gatehouse.toml",
                r#"
                database_url = "postgres://file@db/gatehouse"
                site_addr = "0.0.0.0:8080"
                [aws]
                region = "eu-west-1"
                "#,
            )?;
            jail.set_env("LEPTOS_SITE_ADDR", "127.0.0.1:4000");
            jail.set_env("GATEHOUSE_AWS__PROBE_TIMEOUT_SECS", "9");
            jail.set_env("GATEHOUSE_AWS__ATHENA_PRICE_PER_TB", "6.25");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.database_url, "postgres://file@db/gatehouse");
            assert_eq!(config.site_addr.to_string(), "127.0.0.1:4000");
            assert_eq!(config.aws.region.as_deref(), Some("eu-west-1"));
            assert_eq!(config.aws.probe_timeout_secs, 9);
            assert_eq!(config.aws.athena_price_per_tb, 6.25);
            jail.set_env("GATEHOUSE_AWS__ATHENA_PRICE_PER_TB", "-1");
            let refused = Config::load(None).map(|_| ()).unwrap_err().to_string();
            assert!(refused.contains("athena_price_per_tb"), "{refused}");
            Ok(())
        });
    }

    #[test]
    fn conventional_variables_win_over_the_file() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("gatehouse.toml", "database_url = \"postgres://file/db\"")?;
            jail.set_env("DATABASE_URL", "postgres://env/db");
            jail.set_env("AWS_ENDPOINT_URL", "http://127.0.0.1:5055");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.database_url, "postgres://env/db");
            assert_eq!(
                config.aws.endpoint_url.as_deref(),
                Some("http://127.0.0.1:5055")
            );
            Ok(())
        });
    }

    #[test]
    fn a_bad_value_is_refused_with_the_setting_named() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("LEPTOS_SITE_ADDR", "not-an-address");
            let err = Config::load(None)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("site_addr: invalid socket address"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_setting_is_refused() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("gatehouse.toml", "databse_url = \"typo\"")?;
            let err = Config::load(None)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("databse_url"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn the_scripts_variables_are_not_settings_but_typos_are_refused() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("GATEHOUSE_HOME", "/tmp/gatehouse");
            jail.set_env("GATEHOUSE_CONFIG", "gatehouse.toml");
            Config::load(None).map_err(|e| e.to_string())?;
            jail.set_env("GATEHOUSE_DATABSE_URL", "postgres://typo/db");
            let err = Config::load(None)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("databse_url"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn cookies_are_secure_unless_the_console_listens_on_loopback_only() {
        let at = |addr: &str, public_url: Option<&str>| Config {
            site_addr: addr.parse().unwrap(),
            public_url: public_url.map(str::to_owned),
            ..Config::default()
        };
        assert!(!at("127.0.0.1:3000", None).secure_cookies());
        assert!(!at("[::1]:3000", None).secure_cookies());
        assert!(at("127.0.0.1:3000", Some("https://gatehouse.example.com")).secure_cookies());
        assert!(at("0.0.0.0:3000", None).secure_cookies());
        assert!(at("10.0.0.5:3000", Some("http://10.0.0.5:3000")).secure_cookies());
    }

    #[test]
    fn the_documented_example_is_valid_and_says_the_defaults() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gatehouse.example.toml");
            let config = Config::load(Some(&example)).map_err(|e| e.to_string())?;
            assert_eq!(config, Config::default());
            Ok(())
        });
    }

    #[test]
    fn settings_fixed_by_the_file_or_environment_are_named_with_their_source() {
        use app::roles::Role;
        use app::settings::Source;
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "gatehouse.toml",
                "[cognito.groups]\nadmin = \"file-admins\"\n",
            )?;
            jail.set_env("GATEHOUSE_CHANGES__REQUIRED_APPROVALS", "2");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(
                config.overrides.role_groups,
                vec![(Role::Admin, "file-admins".to_owned(), Source::File)]
            );
            assert_eq!(
                config.overrides.required_approvals,
                Some((2, Source::Environment))
            );
            jail.set_env("GATEHOUSE_COGNITO__GROUPS__ADMIN", "env-admins");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(
                config.overrides.role_groups,
                vec![(Role::Admin, "env-admins".to_owned(), Source::Environment)]
            );
            Ok(())
        });
    }

    #[test]
    fn trusted_proxies_are_cidrs() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env(
                "GATEHOUSE_TRUSTED_PROXIES",
                "[\"10.0.0.0/16\", \"192.0.2.7/32\"]",
            );
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.trusted_proxies.len(), 2);
            jail.set_env("GATEHOUSE_TRUSTED_PROXIES", "[\"not-a-cidr\"]");
            let err = Config::load(None)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("trusted_proxies"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_named_file_must_exist() {
        let err = Config::load(Some(Path::new("/nonexistent/gatehouse.toml")));
        assert!(matches!(err, Err(ConfigError::MissingFile(_))));
    }
}
