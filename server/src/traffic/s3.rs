//! Fetching WAF log files from an S3 prefix (where WAF delivers them) so
//! they import like local files. Objects are streamed to a private
//! temporary folder, never held in memory; each keeps its `s3://` URL as
//! its name in reports.

use super::import::LogFile;
use aws_sdk_s3::Client;
use std::path::Path;
use tokio::io::AsyncWriteExt;

/// An `s3://bucket/prefix` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    pub bucket: String,
    pub prefix: String,
}

impl Prefix {
    pub fn parse(url: &str) -> Result<Prefix, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{url}: an S3 location starts with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("{url}: no bucket name"));
        }
        Ok(Prefix {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}: no objects under this prefix")]
    Empty(String),
    /// AWS's or the file system's words: for logs and the command line,
    /// not for the browser.
    #[error("{0}")]
    Failed(String),
}

/// Downloads every object under `prefix` into `dir`.
pub async fn fetch(s3: &Client, prefix: &Prefix, dir: &Path) -> Result<Vec<LogFile>, FetchError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        FetchError::Failed(format!(
            "s3://{}/{}: {what}: {e}",
            prefix.bucket, prefix.prefix
        ))
    };
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(&prefix.bucket)
        .prefix(&prefix.prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            fail(
                "cannot list the objects",
                &aws_sdk_s3::error::DisplayErrorContext(e),
            )
        })?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key())
                .filter(|k| !k.ends_with('/'))
                .map(str::to_owned),
        );
    }
    if keys.is_empty() {
        return Err(FetchError::Empty(format!(
            "s3://{}/{}",
            prefix.bucket, prefix.prefix
        )));
    }
    let mut files = Vec::with_capacity(keys.len());
    for (i, key) in keys.into_iter().enumerate() {
        let object = s3
            .get_object()
            .bucket(&prefix.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| fail(&key, &aws_sdk_s3::error::DisplayErrorContext(e)))?;
        let path = dir.join(format!("object-{i}"));
        let mut out = tokio::fs::File::create(&path)
            .await
            .map_err(|e| fail(&key, &e))?;
        let mut body = object.body.into_async_read();
        tokio::io::copy(&mut body, &mut out)
            .await
            .map_err(|e| fail(&key, &e))?;
        out.flush().await.map_err(|e| fail(&key, &e))?;
        files.push(LogFile {
            path,
            name: format!("s3://{}/{key}", prefix.bucket),
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_locations_read_as_bucket_and_prefix() {
        let p = Prefix::parse("s3://logs/AWSLogs/1/WAFLogs/").unwrap();
        assert_eq!(
            (p.bucket.as_str(), p.prefix.as_str()),
            ("logs", "AWSLogs/1/WAFLogs/")
        );
        assert_eq!(Prefix::parse("s3://logs").unwrap().prefix, "");
        assert!(Prefix::parse("logs/x").is_err());
        assert!(Prefix::parse("s3:///x").is_err());
    }
}
