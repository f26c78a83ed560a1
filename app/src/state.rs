//! The state every request handler and server function shares: the database
//! pool, the AWS clients and the Leptos options. Built once in the server's
//! `main` and handed to server functions through Leptos context.

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use sqlx::PgPool;
use std::time::Duration;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    /// The health probe's database check, on a connection of its own.
    pub health_db: std::sync::Arc<crate::health::DatabaseProbe>,
    pub aws: AwsClients,
    pub auth: AuthState,
    /// Settings the configuration file or the environment fix: they win
    /// over what the console sets.
    pub overrides: crate::settings::Overrides,
    /// The IP-to-country database "Test an IP" reads, when configured.
    pub geo: Option<std::sync::Arc<crate::vpn::geo::GeoDb>>,
    /// The writer of audit checkpoints, when an anchor is configured.
    pub checkpoints: Option<std::sync::Arc<crate::audit::checkpoint::Checkpoints>>,
    /// What one uploaded or S3 log file may take to import.
    pub import_limits: crate::traffic::ImportLimits,
    /// The connections the bookkeeping of callers who are not signed in
    /// (sign-in attempts, counted refusals) may use: a few of their own, so
    /// that a flood of them queues there and never ahead of signed-in
    /// people's work.
    #[from_ref(skip)]
    pub anonymous_db: PgPool,
}

/// How people sign in: the user pool (when one is configured or
/// registered) and the session policy.
#[derive(Clone)]
pub struct AuthState {
    pub pool: Option<CognitoPool>,
    pub policy: crate::auth::sessions::SessionPolicy,
    /// Addresses of the proxies and load balancers in front of the console:
    /// only from these is `X-Forwarded-For` believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// The user pool and app client people sign in with.
#[derive(Clone)]
pub struct CognitoPool {
    pub user_pool_id: String,
    pub client_id: String,
    pub verifier: crate::auth::tokens::Verifier,
    /// The hosted UI, when a domain is configured.
    pub hosted_ui: Option<HostedUi>,
}

/// Where the hosted UI / managed login is, and where it sends people back.
#[derive(Clone, Debug)]
pub struct HostedUi {
    /// `https://…amazoncognito.com` (or a custom domain), no trailing slash.
    pub domain: String,
    /// Exactly as registered on the app client.
    pub redirect_uri: String,
}

/// One client per AWS service, all built from the same `SdkConfig`, so the
/// credentials, region and endpoint (the emulator's, locally) agree.
#[derive(Clone)]
pub struct AwsClients {
    pub wafv2: aws_sdk_wafv2::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    /// WAF log files delivered to S3.
    pub s3: aws_sdk_s3::Client,
    /// The VPN geofencing set's deny policy.
    pub iam: aws_sdk_iam::Client,
    /// The VPN geofencing set's SCP, where one is configured.
    pub organizations: aws_sdk_organizations::Client,
    /// Analyses over WAF logs in S3, and the table they read.
    pub athena: aws_sdk_athena::Client,
    pub glue: aws_sdk_glue::Client,
    /// The region the clients talk to, for display and for ARNs.
    pub region: String,
    /// The clients talk to an emulator (`AWS_ENDPOINT_URL`), not AWS.
    pub emulated: bool,
    /// Athena's price per TB scanned (US dollars), for each run's cost.
    pub athena_price_per_tb: f64,
    /// How long a health probe may wait for AWS before calling it down.
    pub probe_timeout: Duration,
    /// AWS WAF for the health probe alone: counted, not paced.
    pub probe_wafv2: aws_sdk_wafv2::Client,
    /// The health probe's last answer, shared by every health check.
    pub probe: std::sync::Arc<crate::fresh::Fresh<crate::health::Probe>>,
    /// Every web ACL (both scopes), as the API lists them, shared by every
    /// request for the live-state time to live.
    pub web_acls: std::sync::Arc<
        crate::fresh::Fresh<
            Result<Vec<crate::rules::live::WebAclRef>, crate::rules::live::LiveError>,
        >,
    >,
    /// The live state pages show, shared by every request.
    pub live: std::sync::Arc<crate::changes::shown::LiveCache>,
    /// Every call's turn and count, per service.
    pub budget: std::sync::Arc<crate::aws_budget::Budget>,
}

impl AwsClients {
    /// `live_ttl`: how long a live state read for a page is shown before it
    /// is read again; `rates`: the calls per second each service is
    /// allowed (`aws_budget`).
    pub fn new(
        sdk: &aws_config::SdkConfig,
        probe_timeout: Duration,
        live_ttl: Duration,
        rates: &crate::aws_budget::Rates,
    ) -> Self {
        use crate::aws_budget::{Budget, Service};
        let budget = Budget::new(rates);
        // The configuration's HTTP client, else the one the SDK would add
        // by default (rustls on aws-lc), built here to be wrapped.
        let inner = sdk.http_client().unwrap_or_else(|| {
            use aws_smithy_http_client::tls;
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .build_https()
        });
        // Each service's configuration: the shared one, its calls counted
        // (and, but for the health probe's, paced) in the HTTP client.
        let with_client = |client| sdk.to_builder().http_client(client).build();
        let with = |service: Service| with_client(budget.client(service, inner.clone()));
        Self {
            wafv2: aws_sdk_wafv2::Client::new(&with(Service::Wafv2)),
            probe_wafv2: aws_sdk_wafv2::Client::new(&with_client(
                budget.unpaced_client(Service::Wafv2, inner.clone()),
            )),
            dynamodb: aws_sdk_dynamodb::Client::new(&with(Service::Dynamodb)),
            cognito: aws_sdk_cognitoidentityprovider::Client::new(&with(Service::Cognito)),
            iam: aws_sdk_iam::Client::new(&with(Service::Iam)),
            organizations: aws_sdk_organizations::Client::new(&with(Service::Organizations)),
            s3: Self::s3_client(&with(Service::S3)),
            athena: aws_sdk_athena::Client::new(&with(Service::Athena)),
            glue: aws_sdk_glue::Client::new(&with(Service::Glue)),
            emulated: sdk.endpoint_url().is_some(),
            athena_price_per_tb: crate::traffic::runs::DEFAULT_PRICE_PER_TB,
            region: sdk
                .region()
                .map(|r| r.as_ref().to_owned())
                .unwrap_or_default(),
            probe_timeout,
            probe: std::sync::Arc::new(crate::fresh::Fresh::new(Duration::from_secs(
                crate::health::AWS_PROBE_SECONDS,
            ))),
            web_acls: std::sync::Arc::new(crate::fresh::Fresh::new(live_ttl)),
            live: std::sync::Arc::new(crate::changes::shown::LiveCache::new(live_ttl)),
            budget,
        }
    }

    /// Athena in `region` (a log source's Region), through the same
    /// budget, credentials and endpoint.
    pub fn athena_in(&self, region: &str) -> aws_sdk_athena::Client {
        match region.is_empty() || region == self.region {
            true => self.athena.clone(),
            false => aws_sdk_athena::Client::from_conf(
                self.athena
                    .config()
                    .to_builder()
                    .region(aws_config::Region::new(region.to_owned()))
                    .build(),
            ),
        }
    }

    /// Glue in `region`, as [`Self::athena_in`].
    pub fn glue_in(&self, region: &str) -> aws_sdk_glue::Client {
        match region.is_empty() || region == self.region {
            true => self.glue.clone(),
            false => aws_sdk_glue::Client::from_conf(
                self.glue
                    .config()
                    .to_builder()
                    .region(aws_config::Region::new(region.to_owned()))
                    .build(),
            ),
        }
    }

    /// Path-style addressing for an emulator at an IP address, where
    /// bucket-name host names cannot resolve.
    pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .force_path_style(sdk.endpoint_url().is_some())
                .build(),
        )
    }
}

/// The health probe's database check on the database of `pool`.
pub fn health_db(pool: &PgPool) -> std::sync::Arc<crate::health::DatabaseProbe> {
    std::sync::Arc::new(crate::health::DatabaseProbe::new(pool))
}

/// [`AppState::anonymous_db`] for the database of `pool`: two connections,
/// made when first needed.
pub fn anonymous_db(pool: &PgPool) -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with((*pool.connect_options()).clone())
}

/// The shared state from inside a server function.
pub fn app_state() -> Result<AppState, crate::error::AppError> {
    leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| crate::error::AppError::internal("server function", "AppState missing"))
}
