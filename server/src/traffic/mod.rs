//! Traffic analysis from AWS WAF logs (SPEC §2): reading log files,
//! importing them into PostgreSQL, and the sample logs of the demo.

pub mod generate;
pub mod import;
mod json;
pub mod record;
pub mod report;
pub mod s3;
mod scan;
