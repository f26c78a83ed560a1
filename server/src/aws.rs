//! Building the AWS SDK configuration from the standard chain, with the
//! region and endpoint of Gatehouse's configuration applied on top.

use crate::config::AwsConfig;
use aws_config::{
    BehaviorVersion, Region, meta::region::RegionProviderChain, timeout::TimeoutConfig,
};
use std::time::Duration;

/// The region used when neither the configuration nor the AWS chain names one.
const FALLBACK_REGION: &str = "us-east-1";

/// The SDK sets no limit on a call by default, so an AWS endpoint that
/// accepts a connection and never answers would hold a sign-in (or an
/// apply) forever. Each attempt gets 10 s and a call with its retries 30 s.
fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(30))
        .build()
}

pub async fn sdk_config(config: &AwsConfig) -> aws_config::SdkConfig {
    let region = RegionProviderChain::first_try(config.region.clone().map(Region::new))
        .or_default_provider()
        .or_else(Region::from_static(FALLBACK_REGION));
    // Adaptive retry: besides backing off, the client slows its own calls
    // down when AWS answers with throttling (on top of `aws_budget`).
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .timeout_config(timeouts())
        .retry_config(aws_config::retry::RetryConfig::adaptive());
    // An endpoint from the environment's AWS_ENDPOINT_URL is left to the
    // SDK's own chain, which also honours a service's own
    // (AWS_ENDPOINT_URL_ATHENA, …); one set in the file applies to every
    // service.
    let from_env = std::env::var("AWS_ENDPOINT_URL").ok();
    if let Some(endpoint) = &config.endpoint_url
        && from_env.as_ref() != Some(endpoint)
    {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_call_has_a_limit() {
        let sdk = sdk_config(&AwsConfig {
            region: Some("eu-west-1".into()),
            endpoint_url: Some("http://127.0.0.1:9".into()),
            probe_timeout_secs: 1,
            live_state_ttl_secs: 0,
            calls_per_second: Default::default(),
            athena_price_per_tb: 5.0,
        })
        .await;
        let timeouts = sdk.timeout_config().expect("timeouts are configured");
        assert_eq!(timeouts.operation_timeout(), Some(Duration::from_secs(30)));
        assert_eq!(
            timeouts.operation_attempt_timeout(),
            Some(Duration::from_secs(10))
        );
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-1"));
    }
}
