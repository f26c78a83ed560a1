//! The demo's Athena log source, `athena-demo`: the sample day of WAF logs
//! in an S3 bucket under WAF's key layout, a Glue database with the
//! partition-projected WAF table over them (created as an admin would from
//! the Settings page), and the source registered after the same live
//! check. In the emulator Athena runs no SQL, so its analyses come back
//! empty (the Traffic page says why); on AWS the same setup answers.

use app::state::AwsClients;
use app::traffic::athena_table::{self, NewLogTable};
use app::traffic::source::AthenaSource;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const SOURCE: &str = "athena-demo";
/// How the demo names this part when it cannot set it up.
pub const PART: &str = "the Athena log source athena-demo";
pub const LOGS_BUCKET: &str = "gatehouse-demo-waf-logs";
pub const RESULTS_BUCKET: &str = "gatehouse-demo-athena-results";
pub const DATABASE: &str = "gatehouse_demo";
pub const TABLE: &str = "waf_logs";

/// Makes the bucket unless it is there (another demo running at the same
/// time may make it first).
async fn bucket(aws: &AwsClients, name: &str) -> Result<(), String> {
    let there = || async { aws.s3.head_bucket().bucket(name).send().await.is_ok() };
    if there().await {
        return Ok(());
    }
    let mut create = aws.s3.create_bucket().bucket(name);
    // Outside us-east-1 a bucket names its Region.
    if !aws.region.is_empty() && aws.region != "us-east-1" {
        use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(aws.region.as_str()))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => Ok(()),
        Err(_) if there().await => Ok(()),
        Err(e) => Err(format!(
            "cannot create the bucket {name}: {}",
            app::aws_error::describe(&e)
        )),
    }
}

/// Puts the generated files (keyed by their path under `dir`, which is
/// WAF's key layout) into the logs bucket, an hour's files as one object
/// under the hour's first folder: the same partitions, a twelfth of the
/// calls (the demo's S3 calls are paced like any other).
pub async fn upload(aws: &AwsClients, dir: &Path, files: &[PathBuf]) -> Result<usize, String> {
    bucket(aws, LOGS_BUCKET).await?;
    let mut hours: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for file in files {
        let key = file
            .strip_prefix(dir)
            .map_err(|_| format!("{} is not under {}", file.display(), dir.display()))?
            .to_string_lossy()
            .replace('\\', "/");
        // …/YYYY/MM/dd/HH/mm/name → …/YYYY/MM/dd/HH/00/hour.log.gz
        let mut parts: Vec<&str> = key.split('/').collect();
        if parts.len() < 3 {
            return Err(format!("{key} is not in WAF's key layout"));
        }
        parts.truncate(parts.len() - 2);
        let hour = format!("{}/00/{SOURCE}.log.gz", parts.join("/"));
        // Gzip members one after another read as one file.
        let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        hours.entry(hour).or_default().extend(bytes);
    }
    for (key, bytes) in &hours {
        aws.s3
            .put_object()
            .bucket(LOGS_BUCKET)
            .key(key)
            .body(bytes.clone().into())
            .send()
            .await
            .map_err(|e| format!("cannot upload {key}: {e}"))?;
    }
    Ok(hours.len())
}

/// The demo's table: the `shop` web ACL's logs from `first_day` on.
pub fn table(first_day: &str) -> NewLogTable {
    NewLogTable {
        database: DATABASE.into(),
        table: TABLE.into(),
        bucket: LOGS_BUCKET.into(),
        account: crate::traffic::generate::ACCOUNT.into(),
        web_acl: super::waf::SHOP_WEB_ACL.into(),
        region: crate::traffic::generate::REGION.into(),
        first_day: first_day.into(),
    }
}

/// Creates the Glue table (once; a later run finds it there) and returns
/// the source to register.
pub async fn provision(aws: &AwsClients, first_day: &str) -> Result<AthenaSource, String> {
    bucket(aws, RESULTS_BUCKET).await?;
    let new = table(first_day);
    athena_table::ensure(&aws.glue, &new).await?;
    Ok(AthenaSource {
        name: SOURCE.into(),
        region: aws.region.clone(),
        workgroup: "primary".into(),
        output_location: Some(format!("s3://{RESULTS_BUCKET}/")),
        table: new.log_table(),
        web_acls: vec![super::waf::SHOP_WEB_ACL.into()],
        account: Some(crate::traffic::generate::ACCOUNT.into()),
        location: Some(new.location()),
        create_table: Some(new),
    })
}
