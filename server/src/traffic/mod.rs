//! Traffic analysis from AWS WAF logs (SPEC §2). So far: reading one log
//! line into the record the analyses use.

pub mod record;
