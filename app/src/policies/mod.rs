//! API authorization policies (SPEC §4): the group → IAM policy mappings an
//! API Gateway Lambda authorizer reads from DynamoDB. This module holds the
//! pure policy evaluator, shared by the server, the command line and the
//! browser.

pub mod conditions;
pub mod evaluate;
pub mod validate;

#[cfg(test)]
mod tests;
