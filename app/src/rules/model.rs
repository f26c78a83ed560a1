//! The rules of a web ACL as AWS writes them in JSON — the JSON of the AWS
//! console's rule editor, field names and casing included — typed where the
//! editor needs to understand them, and kept verbatim everywhere else.
//!
//! Every typed object carries the fields it does not know in `other`, and
//! every statement, action, custom key or field to match of a kind the
//! model does not know is kept as the JSON object it came as. Reading a rule
//! and writing it back gives the same JSON value, whatever AWS adds later.
//! A rule that does not even read as a rule (say, without a statement) is
//! kept whole as [`RuleEntry::Verbatim`], so an edit never drops it.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Fields a typed object does not know, kept as they came.
pub type Other = Map<String, Value>;

/// A string AWS restricts to a set of values; a value the model does not
/// know is kept as written.
macro_rules! aws_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            Other(String),
        }

        impl $name {
            pub const KNOWN: &'static [&'static str] = &[$($text),+];

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(text) => text,
                }
            }

            pub fn from_text(text: &str) -> Self {
                match text {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Ok($name::from_text(&String::deserialize(deserializer)?))
            }
        }
    };
}

aws_enum!(
    /// How a rate-based rule groups requests.
    AggregateKeyType {
        Ip = "IP",
        ForwardedIp = "FORWARDED_IP",
        CustomKeys = "CUSTOM_KEYS",
        Constant = "CONSTANT",
    }
);

aws_enum!(
    /// What happens to a request without the forwarded-IP header, or whose
    /// header does not hold an address.
    FallbackBehavior {
        Match = "MATCH",
        NoMatch = "NO_MATCH",
    }
);

aws_enum!(
    /// Where a byte match looks for its search string.
    PositionalConstraint {
        Exactly = "EXACTLY",
        StartsWith = "STARTS_WITH",
        EndsWith = "ENDS_WITH",
        Contains = "CONTAINS",
        ContainsWord = "CONTAINS_WORD",
    }
);

aws_enum!(
    /// Whether a label match names one label or a namespace.
    LabelMatchScope {
        Label = "LABEL",
        Namespace = "NAMESPACE",
    }
);

/// One entry of a web ACL's `Rules`: a rule the model reads, or one kept
/// whole because it does not read as a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleEntry {
    Rule(Box<Rule>),
    /// The JSON as it came, and why it did not read.
    Verbatim {
        json: Value,
        reason: String,
    },
}

impl RuleEntry {
    /// Reads one rule; never fails, so nothing is dropped.
    pub fn read(json: Value) -> RuleEntry {
        // Some writers (the emulator among them) spell an unset field as
        // null; the typed fields cannot tell null from absent, so the nulls
        // are noted here and put back on writing.
        let mut without_nulls = json.clone();
        let mut nulls = Vec::new();
        strip_nulls(&mut without_nulls, "", &mut nulls);
        match serde_json::from_value::<Rule>(without_nulls) {
            Ok(mut rule) => {
                rule.nulls = nulls;
                RuleEntry::Rule(Box::new(rule))
            }
            Err(error) => RuleEntry::Verbatim {
                json,
                reason: error.to_string(),
            },
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            RuleEntry::Rule(rule) => rule.to_json(),
            RuleEntry::Verbatim { json, .. } => json.clone(),
        }
    }

    /// `Name`, also of a verbatim rule when it has one.
    pub fn name(&self) -> Option<&str> {
        match self {
            RuleEntry::Rule(rule) => Some(&rule.name),
            RuleEntry::Verbatim { json, .. } => json.get("Name").and_then(Value::as_str),
        }
    }

    /// `Priority`, also of a verbatim rule when it has one.
    pub fn priority(&self) -> Option<i64> {
        match self {
            RuleEntry::Rule(rule) => Some(rule.priority),
            RuleEntry::Verbatim { json, .. } => json.get("Priority").and_then(Value::as_i64),
        }
    }
}

impl Serialize for RuleEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// Removes the null members of every object in `value`, noting each as a
/// JSON pointer (RFC 6901).
fn strip_nulls(value: &mut Value, at: &str, nulls: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            object.retain(|key, member| {
                let keep = !member.is_null();
                if !keep {
                    nulls.push(format!(
                        "{at}/{}",
                        key.replace('~', "~0").replace('/', "~1")
                    ));
                }
                keep
            });
            for (key, member) in object.iter_mut() {
                let path = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                strip_nulls(member, &path, nulls);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                strip_nulls(item, &format!("{at}/{i}"), nulls);
            }
        }
        _ => {}
    }
}

/// Puts back the nulls `strip_nulls` noted, where the member is still
/// absent and its object still there.
fn restore_nulls(value: &mut Value, nulls: &[String]) {
    for pointer in nulls {
        let Some((parent, key)) = pointer.rsplit_once('/') else {
            continue;
        };
        let key = key.replace("~1", "/").replace("~0", "~");
        if let Some(Value::Object(object)) = value.pointer_mut(parent) {
            object.entry(key).or_insert(Value::Null);
        }
    }
}

impl<'de> Deserialize<'de> for RuleEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(RuleEntry::read(Value::deserialize(deserializer)?))
    }
}

/// Reads a web ACL's `Rules` array (or a lone rule) leniently: every rule
/// is kept, read or verbatim.
pub fn read_rules(json: Value) -> Result<Vec<RuleEntry>, String> {
    match json {
        Value::Array(rules) => Ok(rules.into_iter().map(RuleEntry::read).collect()),
        rule @ Value::Object(_) => Ok(vec![RuleEntry::read(rule)]),
        _ => Err("expected a JSON array of rules, or one rule object".into()),
    }
}

/// The rules as AWS's JSON array.
pub fn rules_json(rules: &[RuleEntry]) -> Value {
    Value::Array(rules.iter().map(RuleEntry::to_json).collect())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Rule {
    pub name: String,
    pub priority: i64,
    pub statement: Statement,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<RuleAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_action: Option<OverrideAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_labels: Option<Vec<Label>>,
    pub visibility_config: VisibilityConfig,
    #[serde(flatten)]
    pub other: Other,
    /// Members that were null as read (JSON pointers from the rule).
    #[serde(skip)]
    pub nulls: Vec<String>,
}

impl Rule {
    /// The rule as AWS's JSON, with the nulls it was read with.
    pub fn to_json(&self) -> Value {
        let mut json = serde_json::to_value(self).unwrap_or(Value::Null);
        restore_nulls(&mut json, &self.nulls);
        json
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Label {
    pub name: String,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VisibilityConfig {
    pub sampled_requests_enabled: bool,
    pub cloud_watch_metrics_enabled: bool,
    pub metric_name: String,
    #[serde(flatten)]
    pub other: Other,
}

/// An object of no fields of its own (`{}`), keeping any that AWS adds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Empty {
    #[serde(flatten)]
    pub other: Other,
}

/// Objects AWS writes as `{"Kind": {…}}` with exactly one key: the typed
/// kinds, and any other kept as the object it came as.
trait OneOf: Sized {
    /// The kind's key and its body, or the verbatim object.
    fn parts(&self) -> Result<(&'static str, Value), &Other>;
    /// Reads a known kind; `None` when `key` is not one.
    fn known(key: &str, body: Value) -> Option<Result<Self, serde_json::Error>>;
    fn other(object: Other) -> Self;
}

fn serialize_one_of<T: OneOf, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    match value.parts() {
        Ok((key, body)) => {
            let mut object = Map::new();
            object.insert(key.to_owned(), body);
            object.serialize(serializer)
        }
        Err(object) => object.serialize(serializer),
    }
}

fn deserialize_one_of<'de, T: OneOf, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
    let object = Other::deserialize(deserializer)?;
    if object.len() == 1
        && let Some((key, body)) = object.iter().next()
        && let Some(read) = T::known(key, body.clone())
    {
        return read.map_err(|e| D::Error::custom(format!("{key}: {e}")));
    }
    Ok(T::other(object))
}

fn body<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

macro_rules! one_of {
    ($name:ident { $($variant:ident($ty:ty) = $key:literal),+ $(,)? }) => {
        impl OneOf for $name {
            fn parts(&self) -> Result<(&'static str, Value), &Other> {
                match self {
                    $($name::$variant(inner) => Ok(($key, body(inner))),)+
                    $name::Other(object) => Err(object),
                }
            }

            fn known(key: &str, body: Value) -> Option<Result<Self, serde_json::Error>> {
                match key {
                    $($key => Some(serde_json::from_value::<$ty>(body).map(|v| $name::$variant(v.into()))),)+
                    _ => None,
                }
            }

            fn other(object: Other) -> Self {
                $name::Other(object)
            }
        }

        impl $name {
            /// Its key in AWS's JSON, e.g. `RateBasedStatement`.
            pub fn kind(&self) -> String {
                match self.parts() {
                    Ok((key, _)) => key.to_owned(),
                    Err(object) => object.keys().next().cloned().unwrap_or_default(),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serialize_one_of(self, serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserialize_one_of(deserializer)
            }
        }
    };
}

/// What a rule matches.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    RateBased(Box<RateBasedStatement>),
    ByteMatch(ByteMatchStatement),
    GeoMatch(GeoMatchStatement),
    LabelMatch(LabelMatchStatement),
    IpSetReference(IpSetReferenceStatement),
    And(AndStatement),
    Or(OrStatement),
    Not(Box<NotStatement>),
    ManagedRuleGroup(Box<ManagedRuleGroupStatement>),
    /// Any other statement (SQLi, XSS, regex, size …), as it came.
    Other(Other),
}

impl Statement {
    /// Calls `visit` with this statement and every statement inside it:
    /// those of `And`, `Or` and `Not`, and scope-down statements.
    pub fn each(&self, visit: &mut dyn FnMut(&Statement)) {
        visit(self);
        match self {
            Statement::And(and) => and.statements.iter().for_each(|s| s.each(visit)),
            Statement::Or(or) => or.statements.iter().for_each(|s| s.each(visit)),
            Statement::Not(not) => not.statement.each(visit),
            Statement::RateBased(rate) => {
                if let Some(scope) = &rate.scope_down_statement {
                    scope.each(visit);
                }
            }
            Statement::ManagedRuleGroup(group) => {
                if let Some(scope) = &group.scope_down_statement {
                    scope.each(visit);
                }
            }
            _ => {}
        }
    }
}

one_of!(Statement {
    RateBased(RateBasedStatement) = "RateBasedStatement",
    ByteMatch(ByteMatchStatement) = "ByteMatchStatement",
    GeoMatch(GeoMatchStatement) = "GeoMatchStatement",
    LabelMatch(LabelMatchStatement) = "LabelMatchStatement",
    IpSetReference(IpSetReferenceStatement) = "IPSetReferenceStatement",
    And(AndStatement) = "AndStatement",
    Or(OrStatement) = "OrStatement",
    Not(NotStatement) = "NotStatement",
    ManagedRuleGroup(ManagedRuleGroupStatement) = "ManagedRuleGroupStatement",
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RateBasedStatement {
    pub limit: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_window_sec: Option<i64>,
    pub aggregate_key_type: AggregateKeyType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_down_statement: Option<Statement>,
    #[serde(
        rename = "ForwardedIPConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub forwarded_ip_config: Option<ForwardedIpConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_keys: Option<Vec<CustomKey>>,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ForwardedIpConfig {
    pub header_name: String,
    pub fallback_behavior: FallbackBehavior,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpSetForwardedIpConfig {
    pub header_name: String,
    pub fallback_behavior: FallbackBehavior,
    /// `FIRST`, `LAST` or `ANY`.
    pub position: String,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TextTransformation {
    pub priority: i64,
    /// `NONE`, `LOWERCASE`, `URL_DECODE`, … (AWS adds more over time).
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(flatten)]
    pub other: Other,
}

/// A custom key that names a part of the request (header, cookie, query
/// argument) and transforms its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamedKey {
    pub name: String,
    pub text_transformations: Vec<TextTransformation>,
    #[serde(flatten)]
    pub other: Other,
}

/// A custom key on a whole part of the request (query string, URI path).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransformedKey {
    pub text_transformations: Vec<TextTransformation>,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LabelNamespaceKey {
    pub namespace: String,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FingerprintKey {
    pub fallback_behavior: FallbackBehavior,
    #[serde(flatten)]
    pub other: Other,
}

/// One of a `CUSTOM_KEYS` rate rule's aggregation keys.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomKey {
    Header(NamedKey),
    Cookie(NamedKey),
    QueryArgument(NamedKey),
    QueryString(TransformedKey),
    HttpMethod(Empty),
    ForwardedIp(Empty),
    Ip(Empty),
    LabelNamespace(LabelNamespaceKey),
    UriPath(TransformedKey),
    Ja3Fingerprint(FingerprintKey),
    Ja4Fingerprint(FingerprintKey),
    Asn(Empty),
    Other(Other),
}

one_of!(CustomKey {
    Header(NamedKey) = "Header",
    Cookie(NamedKey) = "Cookie",
    QueryArgument(NamedKey) = "QueryArgument",
    QueryString(TransformedKey) = "QueryString",
    HttpMethod(Empty) = "HTTPMethod",
    ForwardedIp(Empty) = "ForwardedIP",
    Ip(Empty) = "IP",
    LabelNamespace(LabelNamespaceKey) = "LabelNamespace",
    UriPath(TransformedKey) = "UriPath",
    Ja3Fingerprint(FingerprintKey) = "JA3Fingerprint",
    Ja4Fingerprint(FingerprintKey) = "JA4Fingerprint",
    Asn(Empty) = "ASN",
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SingleHeader {
    pub name: String,
    #[serde(flatten)]
    pub other: Other,
}

/// The part of a request a match statement inspects.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldToMatch {
    UriPath(Empty),
    QueryString(Empty),
    Method(Empty),
    SingleHeader(SingleHeader),
    /// Body, cookies, JSON body, header order, JA3 …, as they came.
    Other(Other),
}

one_of!(FieldToMatch {
    UriPath(Empty) = "UriPath",
    QueryString(Empty) = "QueryString",
    Method(Empty) = "Method",
    SingleHeader(SingleHeader) = "SingleHeader",
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ByteMatchStatement {
    /// As the console's JSON editor shows it: the text itself. (The API
    /// sends it base64-encoded; `wire` converts.)
    pub search_string: String,
    pub field_to_match: FieldToMatch,
    pub text_transformations: Vec<TextTransformation>,
    pub positional_constraint: PositionalConstraint,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GeoMatchStatement {
    pub country_codes: Vec<String>,
    #[serde(
        rename = "ForwardedIPConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub forwarded_ip_config: Option<ForwardedIpConfig>,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LabelMatchStatement {
    pub scope: LabelMatchScope,
    pub key: String,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpSetReferenceStatement {
    #[serde(rename = "ARN")]
    pub arn: String,
    #[serde(
        rename = "IPSetForwardedIPConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub forwarded_ip_config: Option<IpSetForwardedIpConfig>,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AndStatement {
    pub statements: Vec<Statement>,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrStatement {
    pub statements: Vec<Statement>,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotStatement {
    pub statement: Statement,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedRuleGroupStatement {
    pub vendor_name: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_down_statement: Option<Statement>,
    /// ExcludedRules, ManagedRuleGroupConfigs, RuleActionOverrides …
    #[serde(flatten)]
    pub other: Other,
}

/// `Action` of a rule that is not a rule group.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleAction {
    /// With `CustomResponse` in `other`, if any.
    Block(Empty),
    Allow(Empty),
    Count(Empty),
    Captcha(Empty),
    Challenge(Empty),
    Other(Other),
}

one_of!(RuleAction {
    Block(Empty) = "Block",
    Allow(Empty) = "Allow",
    Count(Empty) = "Count",
    Captcha(Empty) = "Captcha",
    Challenge(Empty) = "Challenge",
});

/// `OverrideAction` of a rule group rule.
#[derive(Debug, Clone, PartialEq)]
pub enum OverrideAction {
    None(Empty),
    Count(Empty),
    Other(Other),
}

one_of!(OverrideAction {
    None(Empty) = "None",
    Count(Empty) = "Count",
});
