//! Gatehouse's user interface: the Leptos application, its routes and its
//! server functions. Built twice: with `ssr` into the server binary, which
//! renders every page, and with `hydrate` into the WASM bundle that makes the
//! rendered page interactive.

pub mod audit;
pub mod auth;
#[cfg(feature = "ssr")]
pub mod aws_budget;
#[cfg(feature = "ssr")]
pub mod aws_error;
pub mod changes;
pub mod codec;
pub mod error;
#[cfg(feature = "ssr")]
pub mod fresh;
pub mod health;
pub mod pages;
pub mod policies;
pub mod roles;
pub mod rules;
pub mod sections;
pub mod settings;
pub mod shell;
pub mod targets;
pub mod traffic;
pub mod url;
pub mod vpn;

#[cfg(feature = "ssr")]
pub mod state;

pub use shell::{App, shell};
