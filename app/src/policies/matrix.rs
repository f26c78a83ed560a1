//! The decision matrix: for every group and endpoint, whether a caller in
//! that group alone may call it, and which cells a draft changes against
//! the live table.

use super::evaluate::{Decision, decide};
use super::mapping::{Call, Endpoint, Mappings};
use serde::{Deserialize, Serialize};

/// One cell: the decision, and whether it turned on a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub decision: Decision,
    pub conditional: bool,
}

impl Cell {
    pub fn allowed(self) -> bool {
        self.decision == Decision::Allow
    }

    pub fn label(self) -> &'static str {
        match (self.decision, self.conditional) {
            (Decision::Allow, false) => "Allow",
            (Decision::Allow, true) => "Allow (condition)",
            (Decision::ExplicitDeny, _) => "Deny (explicit)",
            (Decision::ImplicitDeny, false) => "Deny",
            (Decision::ImplicitDeny, true) => "Deny (condition)",
        }
    }
}

const NOT_MAPPED: Cell = Cell {
    decision: Decision::ImplicitDeny,
    conditional: false,
};

/// Groups × endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    pub groups: Vec<String>,
    pub endpoints: Vec<Endpoint>,
    /// `cells[group][endpoint]`.
    pub cells: Vec<Vec<Cell>>,
}

impl Matrix {
    pub fn cell(&self, group: &str, endpoint: &Endpoint) -> Cell {
        let g = self.groups.iter().position(|g| g == group);
        let e = self.endpoints.iter().position(|e| e == endpoint);
        match (g, e) {
            (Some(g), Some(e)) => self.cells[g][e],
            _ => NOT_MAPPED,
        }
    }
}

/// Every group of `mappings` against every endpoint, each call made like
/// `call` (stage, API, source IP, context).
pub fn matrix(mappings: &Mappings, endpoints: &[Endpoint], call: &Call) -> Matrix {
    let requests: Vec<_> = endpoints.iter().map(|e| call.to(e).request()).collect();
    let cells = mappings
        .mappings
        .iter()
        .map(|mapping| {
            let policies = [mapping.as_policy()];
            requests
                .iter()
                .map(|request| {
                    let (decision, conditional) = decide(&policies, request);
                    Cell {
                        decision,
                        conditional,
                    }
                })
                .collect()
        })
        .collect();
    Matrix {
        groups: mappings.groups(),
        endpoints: endpoints.to_vec(),
        cells,
    }
}

/// A cell a draft changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    pub group: String,
    pub endpoint: Endpoint,
    pub before: Cell,
    pub after: Cell,
}

/// The cells whose decision differs between `before` and `after` (a group
/// only one side maps is denied on the other).
pub fn changed(before: &Matrix, after: &Matrix) -> Vec<Changed> {
    let mut groups = after.groups.clone();
    for group in &before.groups {
        if !groups.contains(group) {
            groups.push(group.clone());
        }
    }
    let mut changes = Vec::new();
    for group in &groups {
        for endpoint in &after.endpoints {
            let (was, now) = (before.cell(group, endpoint), after.cell(group, endpoint));
            if was.decision != now.decision {
                changes.push(Changed {
                    group: group.clone(),
                    endpoint: endpoint.clone(),
                    before: was,
                    after: now,
                });
            }
        }
    }
    changes
}

/// The methods under which an OpenAPI 3 path item holds its operations, in
/// the specification's order.
const OPERATIONS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The endpoints of an OpenAPI 3 document (JSON): every operation of every
/// path, in path order, servers' base paths left aside. Only `openapi` and
/// `paths` are read (a referenced path item is skipped): the rest of the
/// document does not decide what the matrix asks, and reading it as plain
/// JSON keeps a full OpenAPI model out of the browser's code.
pub fn endpoints_from_openapi(text: &str) -> Result<Vec<Endpoint>, String> {
    const NOT_OPENAPI: &str = "not an OpenAPI 3 document (JSON)";
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("{NOT_OPENAPI}: {e}"))?;
    let version = doc.get("openapi").and_then(serde_json::Value::as_str);
    if !version.is_some_and(|v| v.starts_with("3.")) {
        return Err(format!(
            "{NOT_OPENAPI}: its \"openapi\" field does not name a version 3.x"
        ));
    }
    let Some(paths) = doc.get("paths").and_then(serde_json::Value::as_object) else {
        return Err(format!("{NOT_OPENAPI}: it has no \"paths\" object"));
    };
    let endpoints: Vec<Endpoint> = paths
        .iter()
        .filter(|(path, item)| path.starts_with('/') && item.get("$ref").is_none())
        .flat_map(|(path, item)| {
            OPERATIONS
                .iter()
                .filter(|method| item.get(**method).is_some_and(serde_json::Value::is_object))
                .map(|method| Endpoint {
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                })
        })
        .collect();
    if endpoints.is_empty() {
        return Err("the OpenAPI document has no operations".into());
    }
    Ok(endpoints)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::mapping::{Mapping, Stored, read_endpoints};
    use serde_json::json;

    fn mappings(v2_status_only: bool) -> Mappings {
        let resource = if v2_status_only {
            "arn:aws:execute-api:*:*:*/*/GET/petstore/v2/status"
        } else {
            "arn:aws:execute-api:*:*:*/*/GET/petstore/v2/*"
        };
        Mappings::new(vec![
            Mapping {
                group: "readers".into(),
                policy: json!({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": resource}]}),
                stored: Stored::String,
            },
            Mapping {
                group: "nobody".into(),
                policy: json!({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*"}]}),
                stored: Stored::Map,
            },
        ])
    }

    #[test]
    fn a_draft_changes_exactly_the_cells_it_widens() {
        let endpoints = read_endpoints(
            "GET /petstore/v2/status\nGET /petstore/v2/pets\nPOST /petstore/v2/pets",
        )
        .unwrap();
        let call = Call::default();
        let live = matrix(&mappings(true), &endpoints, &call);
        let draft = matrix(&mappings(false), &endpoints, &call);
        assert_eq!(
            live.cell("readers", &endpoints[0]).decision,
            Decision::Allow
        );
        assert_eq!(
            live.cell("nobody", &endpoints[0]).decision,
            Decision::ExplicitDeny
        );
        let changes = changed(&live, &draft);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].group, "readers");
        assert_eq!(changes[0].endpoint.label(), "GET /petstore/v2/pets");
        assert!(changes[0].after.allowed() && !changes[0].before.allowed());
    }

    #[test]
    fn endpoints_come_from_an_openapi_document() {
        let doc = json!({"openapi": "3.0.1", "info": {"title": "pets", "version": "1"},
            "paths": {"/pets": {"get": {"responses": {}}, "post": {"responses": {}}},
                      "/pets/{id}": {"delete": {"responses": {}}}}});
        let endpoints = endpoints_from_openapi(&doc.to_string()).unwrap();
        let labels: Vec<String> = endpoints.iter().map(Endpoint::label).collect();
        assert_eq!(labels, ["GET /pets", "POST /pets", "DELETE /pets/{id}"]);
        assert!(endpoints_from_openapi("{\"openapi\": 3}").is_err());
        assert!(endpoints_from_openapi("{}").is_err());
        assert!(endpoints_from_openapi("[1").is_err());
        // Extensions, a referenced path item and non-operation members are
        // left out; a document without operations is refused.
        let doc = json!({"openapi": "3.1.0", "paths": {
            "x-internal": {"get": {}},
            "/shared": {"$ref": "#/components/pathItems/shared"},
            "/status": {"summary": "status", "parameters": [], "head": {}, "get": {}}}});
        let labels: Vec<String> = endpoints_from_openapi(&doc.to_string())
            .unwrap()
            .iter()
            .map(Endpoint::label)
            .collect();
        assert_eq!(labels, ["GET /status", "HEAD /status"]);
        let empty = json!({"openapi": "3.0.0", "paths": {"/x": {"summary": "none"}}});
        assert!(endpoints_from_openapi(&empty.to_string()).is_err());
        assert!(read_endpoints("FETCH /x").is_err());
        assert!(read_endpoints("GET x").is_err());
    }
}
