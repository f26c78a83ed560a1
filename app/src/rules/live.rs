//! The live rules of a web ACL, read from AWS exactly as AWS sent them.
//!
//! The SDK's own types drop whatever its version does not know, and
//! rebuilding AWS's JSON from them would lose the rest; so `GetWebACL` goes
//! through the SDK as usual (signing, retries, endpoint), and an interceptor
//! keeps the response body, whose `Rules` are read into the model. The only
//! difference between the wire and the console's JSON is `SearchString`,
//! which the API sends base64-encoded; [`from_wire`] and [`to_wire`]
//! convert.

use super::model::{RuleEntry, read_rules};
use aws_sdk_wafv2::Client;
use aws_sdk_wafv2::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_wafv2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_wafv2::error::BoxError;
use aws_sdk_wafv2::types::Scope;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// A web ACL as `ListWebACLs` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebAclRef {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub scope: String,
}

/// A web ACL's rules as they are now, with the token that an update based
/// on them must carry.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRules {
    pub web_acl: WebAclRef,
    pub lock_token: String,
    pub rules: Vec<RuleEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("scope {0:?} is not REGIONAL or CLOUDFRONT")]
    Scope(String),
    #[error("no web ACL named {0:?} in scope {1}")]
    NotFound(String, String),
    /// AWS's own words: for the log and the command line, not the browser.
    #[error("AWS WAF: {0}")]
    Aws(String),
    #[error("AWS WAF sent a web ACL that does not read: {0}")]
    Unreadable(String),
}

pub fn scope(text: &str) -> Result<Scope, LiveError> {
    match text.to_ascii_uppercase().as_str() {
        "REGIONAL" => Ok(Scope::Regional),
        "CLOUDFRONT" => Ok(Scope::Cloudfront),
        _ => Err(LiveError::Scope(text.to_owned())),
    }
}

/// Every web ACL in `scope`, all pages.
pub async fn web_acls(client: &Client, scope_text: &str) -> Result<Vec<WebAclRef>, LiveError> {
    let scope = scope(scope_text)?;
    let mut all = Vec::new();
    let mut marker = None;
    loop {
        let page = client
            .list_web_acls()
            .scope(scope.clone())
            .limit(100)
            .set_next_marker(marker)
            .send()
            .await
            .map_err(|e| {
                LiveError::Aws(aws_sdk_wafv2::error::DisplayErrorContext(e).to_string())
            })?;
        for acl in page.web_acls.unwrap_or_default() {
            all.push(WebAclRef {
                name: acl.name.unwrap_or_default(),
                id: acl.id.unwrap_or_default(),
                arn: acl.arn.unwrap_or_default(),
                scope: scope.as_str().to_owned(),
            });
        }
        match page.next_marker {
            Some(next) if !next.is_empty() => marker = Some(next),
            _ => return Ok(all),
        }
    }
}

/// The rules of the web ACL named `name`, exactly as AWS holds them.
pub async fn rules(client: &Client, scope_text: &str, name: &str) -> Result<LiveRules, LiveError> {
    let web_acl = web_acls(client, scope_text)
        .await?
        .into_iter()
        .find(|acl| acl.name == name)
        .ok_or_else(|| LiveError::NotFound(name.to_owned(), scope_text.to_ascii_uppercase()))?;
    let body = KeepBody::default();
    let output = client
        .get_web_acl()
        .scope(scope(scope_text)?)
        .name(&web_acl.name)
        .id(&web_acl.id)
        .customize()
        .interceptor(body.clone())
        .send()
        .await
        .map_err(|e| LiveError::Aws(aws_sdk_wafv2::error::DisplayErrorContext(e).to_string()))?;
    let raw = body
        .take()
        .ok_or_else(|| LiveError::Unreadable("no response body".into()))?;
    let mut document: Value =
        serde_json::from_slice(&raw).map_err(|e| LiveError::Unreadable(e.to_string()))?;
    let mut wire_rules = document
        .get_mut("WebACL")
        .and_then(|acl| acl.get_mut("Rules"))
        .map(Value::take)
        .unwrap_or(Value::Array(Vec::new()));
    from_wire(&mut wire_rules);
    Ok(LiveRules {
        web_acl,
        lock_token: output.lock_token.unwrap_or_default(),
        rules: read_rules(wire_rules).map_err(LiveError::Unreadable)?,
    })
}

/// Keeps the response body of the operation it is given to.
#[derive(Debug, Clone, Default)]
struct KeepBody(Arc<Mutex<Option<Vec<u8>>>>);

impl KeepBody {
    fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().ok().and_then(|mut body| body.take())
    }
}

impl Intercept for KeepBody {
    fn name(&self) -> &'static str {
        "KeepBody"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let (Some(bytes), Ok(mut kept)) = (context.response().body().bytes(), self.0.lock()) {
            *kept = Some(bytes.to_vec());
        }
        Ok(())
    }
}

/// Rules as the API sends them → as the console shows them: each
/// `ByteMatchStatement.SearchString` decoded from base64 (left as it is when
/// it is not base64 of UTF-8 text).
pub fn from_wire(rules: &mut Value) {
    search_strings(rules, &|text| {
        STANDARD
            .decode(text)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
    });
}

/// Rules as the console shows them → as the API takes them.
pub fn to_wire(rules: &mut Value) {
    search_strings(rules, &|text| Some(STANDARD.encode(text)));
}

fn search_strings(value: &mut Value, convert: &dyn Fn(&str) -> Option<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::Object(byte_match)) = object.get_mut("ByteMatchStatement")
                && let Some(Value::String(text)) = byte_match.get_mut("SearchString")
                && let Some(converted) = convert(text)
            {
                *text = converted;
            }
            for child in object.values_mut() {
                search_strings(child, convert);
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| search_strings(item, convert)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn search_strings_go_to_the_wire_as_base64_and_come_back() {
        let console = json!([{"Statement": {"RateBasedStatement": {"ScopeDownStatement": {"AndStatement": {
        "Statements": [
            {"ByteMatchStatement": {"SearchString": "/login", "FieldToMatch": {"UriPath": {}}}},
            {"NotStatement": {"Statement": {"ByteMatchStatement": {"SearchString": "POST"}}}}
        ]}}}}}]);
        let mut wire = console.clone();
        to_wire(&mut wire);
        let statements = &wire[0]["Statement"]["RateBasedStatement"]["ScopeDownStatement"]["AndStatement"]
            ["Statements"];
        assert_eq!(
            statements[0]["ByteMatchStatement"]["SearchString"],
            "L2xvZ2lu"
        );
        assert_eq!(
            statements[1]["NotStatement"]["Statement"]["ByteMatchStatement"]["SearchString"],
            "UE9TVA=="
        );
        from_wire(&mut wire);
        assert_eq!(wire, console);
    }
}
