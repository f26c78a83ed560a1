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
use aws_sdk_wafv2::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_wafv2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_wafv2::error::BoxError;
use aws_sdk_wafv2::types::Scope;
use aws_smithy_types::body::SdkBody;
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
    /// The whole `WebACL` object as AWS sent it (wire form, rules
    /// included): an update keeps everything in it but the rules.
    pub web_acl_json: Value,
}

#[derive(Debug, Clone, thiserror::Error)]
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

/// The regional web ACLs and the CloudFront ones. CloudFront web ACLs are
/// listed only in us-east-1; elsewhere that list is refused, which is no
/// fault of the console, so only the regional list can fail this.
pub async fn all_web_acls(client: &Client) -> Result<Vec<WebAclRef>, LiveError> {
    let mut all = web_acls(client, "REGIONAL").await?;
    match web_acls(client, "CLOUDFRONT").await {
        Ok(cloudfront) => all.extend(cloudfront),
        Err(error) => tracing::debug!(%error, "no CloudFront web ACLs listed"),
    }
    Ok(all)
}

/// [`all_web_acls`] as the API lists them: read through a list every
/// request shares, at most once per live-state time to live.
pub async fn all_web_acls_shared(
    aws: &crate::state::AwsClients,
) -> Result<Vec<WebAclRef>, LiveError> {
    aws.web_acls.get(|| all_web_acls(&aws.wafv2)).await.0
}

/// The rules of the web ACL named `name`, exactly as AWS holds them.
pub async fn rules(client: &Client, scope_text: &str, name: &str) -> Result<LiveRules, LiveError> {
    let web_acl = web_acls(client, scope_text)
        .await?
        .into_iter()
        .find(|acl| acl.name == name)
        .ok_or_else(|| LiveError::NotFound(name.to_owned(), scope_text.to_ascii_uppercase()))?;
    rules_of(client, web_acl).await
}

/// The rules of a web ACL already found with [`web_acls`].
pub async fn rules_of(client: &Client, web_acl: WebAclRef) -> Result<LiveRules, LiveError> {
    let body = KeepBody::default();
    let output = client
        .get_web_acl()
        .scope(scope(&web_acl.scope)?)
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
    let web_acl_json = document
        .get_mut("WebACL")
        .map(Value::take)
        .unwrap_or_default();
    let mut rules = web_acl_json
        .get("Rules")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    from_wire(&mut rules);
    Ok(LiveRules {
        web_acl,
        lock_token: output.lock_token.unwrap_or_default(),
        rules: read_rules(rules).map_err(LiveError::Unreadable)?,
        web_acl_json,
    })
}

/// What `UpdateWebACL` takes besides name, scope, id, rules and the token:
/// carried over from the web ACL as read, so a rules change changes nothing
/// else.
const CARRIED_OVER: [&str; 11] = [
    "DefaultAction",
    "Description",
    "VisibilityConfig",
    "DataProtectionConfig",
    "CustomResponseBodies",
    "CaptchaConfig",
    "ChallengeConfig",
    "TokenDomains",
    "AssociationConfig",
    "OnSourceDDoSProtectionConfig",
    "ApplicationConfig",
];

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// `WAFOptimisticLockException`: the web ACL changed since `base` was
    /// read; nothing was written.
    #[error("the web ACL changed since these rules were read; nothing was written")]
    Stale { request_id: Option<String> },
    /// AWS answered with another error: nothing was written. AWS's words,
    /// for the log and the audit trail.
    #[error("AWS WAF refused: {message}")]
    Refused {
        message: String,
        request_id: Option<String>,
    },
    /// No answer (timeout, connection lost): the update may or may not have
    /// been made.
    #[error("AWS WAF did not answer: {0}")]
    Unanswered(String),
}

/// An update AWS made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub next_lock_token: String,
    pub request_id: Option<String>,
}

/// Writes `rules` to the web ACL `base` was read from, with `base`'s lock
/// token, keeping every other setting of the web ACL as it was read. The
/// request goes through the SDK; its body is the exact JSON (see
/// [`ReplaceBody`]).
pub async fn update_rules(
    client: &Client,
    base: &LiveRules,
    rules: &[RuleEntry],
) -> Result<Pushed, UpdateError> {
    use aws_sdk_wafv2::error::SdkError;
    use aws_sdk_wafv2::operation::RequestId;
    let refused = |message: String| UpdateError::Refused {
        message,
        request_id: None,
    };
    let mut wire_rules = super::model::rules_json(rules);
    to_wire(&mut wire_rules);
    let mut body = serde_json::Map::new();
    body.insert("Name".into(), Value::from(base.web_acl.name.clone()));
    body.insert("Scope".into(), Value::from(base.web_acl.scope.clone()));
    body.insert("Id".into(), Value::from(base.web_acl.id.clone()));
    body.insert("LockToken".into(), Value::from(base.lock_token.clone()));
    body.insert("Rules".into(), wire_rules);
    for key in CARRIED_OVER {
        if let Some(value) = base.web_acl_json.get(key).filter(|v| !v.is_null()) {
            body.insert(key.into(), value.clone());
        }
    }
    let body = serde_json::to_vec(&body).map_err(|e| refused(e.to_string()))?;
    // The typed input only has to pass the SDK's own checks: the body sent
    // is the one above.
    let scope = scope(&base.web_acl.scope).map_err(|e| refused(e.to_string()))?;
    let placeholder_visibility = aws_sdk_wafv2::types::VisibilityConfig::builder()
        .sampled_requests_enabled(false)
        .cloud_watch_metrics_enabled(false)
        .metric_name("placeholder")
        .build()
        .map_err(|e| refused(e.to_string()))?;
    let placeholder_action = aws_sdk_wafv2::types::DefaultAction::builder()
        .allow(aws_sdk_wafv2::types::AllowAction::builder().build())
        .build();
    let output = client
        .update_web_acl()
        .name(&base.web_acl.name)
        .scope(scope)
        .id(&base.web_acl.id)
        .lock_token(&base.lock_token)
        .default_action(placeholder_action)
        .visibility_config(placeholder_visibility)
        .customize()
        .interceptor(ReplaceBody(body))
        .send()
        .await
        .map_err(|e| {
            let request_id = e.request_id().map(str::to_owned);
            match &e {
                SdkError::ServiceError(service)
                    if service.err().is_waf_optimistic_lock_exception() =>
                {
                    UpdateError::Stale { request_id }
                }
                SdkError::ServiceError(_) | SdkError::ConstructionFailure(_) => {
                    UpdateError::Refused {
                        message: aws_sdk_wafv2::error::DisplayErrorContext(&e).to_string(),
                        request_id,
                    }
                }
                _ => UpdateError::Unanswered(
                    aws_sdk_wafv2::error::DisplayErrorContext(&e).to_string(),
                ),
            }
        })?;
    Ok(Pushed {
        request_id: output.request_id().map(str::to_owned),
        next_lock_token: output.next_lock_token.unwrap_or_default(),
    })
}

/// Sends this body instead of the one the SDK serialized, before signing,
/// so the signature covers it.
#[derive(Debug, Clone)]
struct ReplaceBody(Vec<u8>);

impl Intercept for ReplaceBody {
    fn name(&self) -> &'static str {
        "ReplaceBody"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        *request.body_mut() = SdkBody::from(self.0.clone());
        request
            .headers_mut()
            .insert("Content-Length", self.0.len().to_string());
        Ok(())
    }
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
