//! The group → policy mappings of the authorizer's table, as Gatehouse
//! holds them: each group's policy document and the form its item stores
//! it in. What the authorizer returns for a caller, and the request API
//! Gateway evaluates, are built here too, so the server, the command line
//! and the browser agree on them.

use super::evaluate::{Context, Policy, Request};
use super::validate::{self, Severity};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// How an item's `policy` attribute holds the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stored {
    /// A DynamoDB map, as AWS's sample authorizer stack writes it.
    Map,
    /// A JSON string.
    String,
}

impl Stored {
    pub fn label(self) -> &'static str {
        match self {
            Stored::Map => "DynamoDB map",
            Stored::String => "JSON string",
        }
    }
}

/// One group's mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    pub group: String,
    /// The policy document. A string item that is not JSON is held as the
    /// string it is (its findings say so).
    pub policy: Value,
    pub stored: Stored,
}

impl Mapping {
    /// The policy as the editor shows it.
    pub fn policy_text(&self) -> String {
        match &self.policy {
            Value::String(text) if self.stored == Stored::String => text.clone(),
            document => serde_json::to_string_pretty(document).unwrap_or_default(),
        }
    }

    /// For the evaluator: the document, labelled with the group.
    pub fn as_policy(&self) -> Policy {
        Policy {
            label: self.group.clone(),
            document: self.policy.clone(),
        }
    }
}

/// Every mapping of a table, by group name: the content of a policy
/// mappings change request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mappings {
    pub mappings: Vec<Mapping>,
}

impl Mappings {
    pub fn new(mut mappings: Vec<Mapping>) -> Mappings {
        mappings.sort_by(|a, b| a.group.cmp(&b.group));
        Mappings { mappings }
    }

    pub fn read(json: &Value) -> Result<Mappings, String> {
        serde_json::from_value::<Mappings>(json.clone())
            .map(|m| Mappings::new(m.mappings))
            .map_err(|e| format!("not policy mappings: {e}"))
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    pub fn get(&self, group: &str) -> Option<&Mapping> {
        self.mappings.iter().find(|m| m.group == group)
    }

    pub fn groups(&self) -> Vec<String> {
        self.mappings.iter().map(|m| m.group.clone()).collect()
    }

    /// Sets `group`'s policy (a new group is stored as a map; an existing
    /// one keeps its form).
    pub fn set(&mut self, group: &str, policy: Value) {
        match self.mappings.iter_mut().find(|m| m.group == group) {
            Some(mapping) => mapping.policy = policy,
            None => {
                self.mappings.push(Mapping {
                    group: group.to_owned(),
                    policy,
                    stored: Stored::Map,
                });
                self.mappings.sort_by(|a, b| a.group.cmp(&b.group));
            }
        }
    }

    pub fn remove(&mut self, group: &str) -> bool {
        let before = self.mappings.len();
        self.mappings.retain(|m| m.group != group);
        self.mappings.len() != before
    }

    /// The policies the authorizer returns for a caller in `groups`, one
    /// per mapped group (groups without a mapping add nothing).
    pub fn policies_of(&self, groups: &[String]) -> Vec<Policy> {
        let mut policies: Vec<Policy> = Vec::new();
        for group in groups {
            if policies.iter().any(|p| &p.label == group) {
                continue;
            }
            if let Some(mapping) = self.get(group) {
                policies.push(mapping.as_policy());
            }
        }
        policies
    }

    /// Item by item, for diffs and rebases: each group with its policy and
    /// form.
    pub fn items(&self) -> Vec<(String, Value)> {
        self.mappings
            .iter()
            .map(|m| {
                (
                    m.group.clone(),
                    json!({"policy": m.policy, "stored": m.stored}),
                )
            })
            .collect()
    }

    pub fn from_items(items: Vec<(String, Value)>) -> Mappings {
        Mappings::new(
            items
                .into_iter()
                .map(|(group, item)| Mapping {
                    group,
                    policy: item.get("policy").cloned().unwrap_or(Value::Null),
                    stored: item
                        .get("stored")
                        .cloned()
                        .and_then(|s| serde_json::from_value(s).ok())
                        .unwrap_or(Stored::Map),
                })
                .collect(),
        )
    }

    /// What keeps the mappings from review: a blank or repeated group, or a
    /// policy with an error finding.
    pub fn check(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        for (i, mapping) in self.mappings.iter().enumerate() {
            if mapping.group.trim().is_empty() {
                problems.push("a mapping has no group name".to_owned());
            }
            if self.mappings[..i].iter().any(|m| m.group == mapping.group) {
                problems.push(format!("group {} is mapped twice", mapping.group));
            }
            let errors: Vec<String> = findings(mapping)
                .into_iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| format!("{} at {}", f.code, f.path))
                .collect();
            if !errors.is_empty() {
                problems.push(format!(
                    "the policy of {} has errors ({})",
                    mapping.group,
                    errors.join(", ")
                ));
            }
        }
        match problems.is_empty() {
            true => Ok(()),
            false => Err(problems.join("; ")),
        }
    }
}

/// A mapping's findings: a string item that is not JSON is `INVALID_JSON`.
pub fn findings(mapping: &Mapping) -> Vec<validate::Finding> {
    match &mapping.policy {
        Value::String(text) => validate::validate_text(text),
        document => validate::validate(document),
    }
}

/// A table's mappings as scripts get them (`GET /api/v1/policies`, `gatehouse
/// policy show`): each group's form, policy, summary in words and findings.
pub fn show_json<'a>(table: &str, mappings: impl IntoIterator<Item = &'a Mapping>) -> Value {
    let shown: Vec<Value> = mappings
        .into_iter()
        .map(|m| {
            json!({
                "group": m.group,
                "stored": m.stored,
                "policy": m.policy,
                "summary": super::summary::summary(&m.policy),
                "findings": findings(m),
            })
        })
        .collect();
    json!({"table": table, "mappings": shown})
}

/// What the authorizer returns for a caller in `groups`: the union of the
/// statements of their groups' policies under one document.
pub fn authorizer_output(principal: &str, mappings: &Mappings, groups: &[String]) -> Value {
    let statements: Vec<Value> = mappings
        .policies_of(groups)
        .iter()
        .flat_map(|p| match p.document.get("Statement") {
            Some(Value::Array(list)) => list.clone(),
            Some(one @ Value::Object(_)) => vec![one.clone()],
            _ => Vec::new(),
        })
        .collect();
    json!({
        "principalId": principal,
        "policyDocument": {"Version": "2012-10-17", "Statement": statements},
    })
}

/// A call to an API, as the simulator and the matrix ask about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub method: String,
    /// `/petstore/v1/pets`.
    pub path: String,
    pub stage: String,
    pub api_id: String,
    pub region: String,
    pub account: String,
    /// Blank: the request has no `aws:SourceIp`.
    pub source_ip: String,
    /// Further context keys and their values.
    pub context: Vec<(String, Vec<String>)>,
}

impl Default for Call {
    fn default() -> Self {
        Call {
            method: "GET".into(),
            path: "/".into(),
            stage: "prod".into(),
            api_id: "a1b2c3d4e5".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            source_ip: String::new(),
            context: Vec::new(),
        }
    }
}

/// The action API Gateway evaluates an authorizer's policy for.
pub const INVOKE: &str = "execute-api:Invoke";

impl Call {
    /// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}`.
    pub fn resource(&self) -> String {
        format!(
            "arn:aws:execute-api:{}:{}:{}/{}/{}/{}",
            self.region,
            self.account,
            self.api_id,
            self.stage,
            self.method.to_ascii_uppercase(),
            self.path.trim_start_matches('/')
        )
    }

    pub fn request(&self) -> Request {
        let mut context = Context::new();
        if !self.source_ip.trim().is_empty() {
            context = context.with("aws:SourceIp", &[self.source_ip.trim()]);
        }
        for (key, values) in &self.context {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            context = context.with(key, &values);
        }
        Request {
            action: INVOKE.into(),
            resource: self.resource(),
            context,
        }
    }

    /// The same call to another endpoint.
    pub fn to(&self, endpoint: &Endpoint) -> Call {
        Call {
            method: endpoint.method.clone(),
            path: endpoint.path.clone(),
            ..self.clone()
        }
    }
}

/// A simulation against the live table, as the API's body and the command
/// line's flags give it; what is not given takes [`Call`]'s defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Simulate {
    /// A managed policy table; the first one when not given.
    pub table: Option<String>,
    pub groups: Vec<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub stage: Option<String>,
    pub api_id: Option<String>,
    pub region: Option<String>,
    pub account: Option<String>,
    pub source_ip: Option<String>,
    /// `{"key": "value" or ["values"]}`.
    pub context: serde_json::Map<String, Value>,
}

impl Simulate {
    pub fn call(&self) -> Call {
        let d = Call::default();
        let or = |given: &Option<String>, default: String| given.clone().unwrap_or(default);
        Call {
            method: or(&self.method, d.method),
            path: or(&self.path, d.path),
            stage: or(&self.stage, d.stage),
            api_id: or(&self.api_id, d.api_id),
            region: or(&self.region, d.region),
            account: or(&self.account, d.account),
            source_ip: or(&self.source_ip, d.source_ip),
            context: self
                .context
                .iter()
                .map(|(k, v)| (k.clone(), super::evaluate::strings(v)))
                .collect(),
        }
    }

    /// The decision for this caller against `mappings`, with the resource
    /// asked about and the authorizer's output.
    pub fn run(&self, mappings: &Mappings) -> Value {
        let call = self.call();
        let policies = mappings.policies_of(&self.groups);
        let mut answer = super::evaluate::evaluate(&policies, &call.request()).answer();
        answer["resource"] = Value::String(call.resource());
        answer["authorizer_output"] = authorizer_output("simulated-caller", mappings, &self.groups);
        answer
    }
}

/// `key=value` (or `key=a,b` for several values) lines of extra context.
pub fn read_context(text: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| match line.split_once('=') {
            Some((key, values)) if !key.trim().is_empty() => Ok((
                key.trim().to_owned(),
                values.split(',').map(|v| v.trim().to_owned()).collect(),
            )),
            _ => Err(format!("{line:?}: write a context key as key=value")),
        })
        .collect()
}

/// A method and path of an API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub method: String,
    pub path: String,
}

impl Endpoint {
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

/// Endpoints typed one per line: `GET /petstore/v1/pets`.
pub fn read_endpoints(text: &str) -> Result<Vec<Endpoint>, String> {
    let mut endpoints = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (method, path) = line.split_once(char::is_whitespace).ok_or_else(|| {
            format!("{line:?}: write an endpoint as a method and a path, e.g. GET /pets")
        })?;
        let method = method.to_ascii_uppercase();
        let path = path.trim();
        if !METHODS.contains(&method.as_str()) && method != "*" {
            return Err(format!("{line:?}: {method} is not an HTTP method"));
        }
        if !path.starts_with('/') {
            return Err(format!("{line:?}: a path starts with /"));
        }
        let endpoint = Endpoint {
            method,
            path: path.to_owned(),
        };
        if !endpoints.contains(&endpoint) {
            endpoints.push(endpoint);
        }
    }
    Ok(endpoints)
}
