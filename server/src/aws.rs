//! Building the AWS SDK configuration from the standard chain, with the
//! region and endpoint of Gatehouse's configuration applied on top.

use crate::config::AwsConfig;
use aws_config::{BehaviorVersion, Region, meta::region::RegionProviderChain};

/// The region used when neither the configuration nor the AWS chain names one.
const FALLBACK_REGION: &str = "us-east-1";

pub async fn sdk_config(config: &AwsConfig) -> aws_config::SdkConfig {
    let region = RegionProviderChain::first_try(config.region.clone().map(Region::new))
        .or_default_provider()
        .or_else(Region::from_static(FALLBACK_REGION));
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
    if let Some(endpoint) = &config.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}
