//! Rate rules (SPEC §3): the rules of a web ACL as AWS writes them, read
//! into a model the editor understands without ever losing what it does
//! not. Pure: no I/O, compiled for the server and for the browser.

pub mod constraints;
pub mod diff;
#[cfg(feature = "ssr")]
pub mod drafts;
pub mod evaluate;
#[cfg(feature = "ssr")]
pub mod live;
pub mod merge;
pub mod model;
pub mod propose;
pub mod summary;
pub mod templates;
pub mod validate;

use model::{RuleEntry, read_rules};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An open draft of a web ACL's rules, as the Rate rules page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftRow {
    pub id: String,
    pub web_acl_name: String,
    pub web_acl_scope: String,
    pub title: String,
    pub author: String,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// The rules in a JSON document as people have them at hand: an array of
/// rules (the console's JSON editor), one rule, `{"Rules": [...]}`, or the
/// output of `aws wafv2 get-web-acl` (`{"WebACL": {"Rules": [...]}}`).
pub fn rules_of(document: Value) -> Result<Vec<RuleEntry>, String> {
    let document = match document {
        Value::Object(mut object) if object.contains_key("WebACL") => {
            object.remove("WebACL").unwrap_or_default()
        }
        other => other,
    };
    match document {
        Value::Object(mut object) if object.contains_key("Rules") => {
            read_rules(object.remove("Rules").unwrap_or_default())
        }
        other => read_rules(other),
    }
}

#[cfg(test)]
mod round_trip;
