//! The Gatehouse server: configuration, the PostgreSQL pool, the AWS clients,
//! the HTTP router and the command line's subcommands. The binary in
//! `main.rs` only parses arguments and calls in here, so that integration
//! tests drive exactly what the binary runs.

pub mod athena_cli;
pub mod aws;
pub mod config;
pub mod countries_cli;
pub mod db;
pub mod demo;
pub mod http;
pub mod policy_cli;
pub mod replay_cli;
pub mod serve;
pub mod settings_cli;
pub mod traffic;
