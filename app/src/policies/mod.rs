//! API authorization policies (SPEC §4): the group → IAM policy mappings an
//! API Gateway Lambda authorizer reads from DynamoDB. This module holds the
//! pure policy evaluator, shared by the server, the command line and the
//! browser.

pub mod conditions;
pub mod evaluate;
#[cfg(feature = "ssr")]
pub mod live;
pub mod mapping;
pub mod matrix;
pub mod summary;
#[cfg(feature = "ssr")]
pub mod table;
pub mod validate;

#[cfg(test)]
mod tests;
