//! The evaluator against the rules of AWS's IAM documentation ("Policy
//! evaluation logic", "IAM JSON policy elements: Condition operators",
//! "Policy variables"), one table row per rule.

use super::evaluate::{
    Context, Decision, Evaluation, Policy, Request, decide as decision, evaluate, glob, substitute,
};
use serde_json::{Value, json};

fn policy(document: Value) -> Vec<Policy> {
    vec![Policy {
        label: "g".into(),
        document,
    }]
}

/// Evaluates with the explanation and without it, and checks that both
/// come to the same decision.
fn checked(policies: &[Policy], request: &Request) -> Evaluation {
    let evaluation = evaluate(policies, request);
    assert_eq!(
        decision(policies, request),
        (evaluation.decision, evaluation.depends_on_condition),
        "decide and evaluate differ on {request:?}"
    );
    evaluation
}

fn decide(document: Value, action: &str, resource: &str, context: Context) -> Decision {
    let request = Request {
        action: action.into(),
        resource: resource.into(),
        context,
    };
    checked(&policy(document), &request).decision
}

/// The seed's `pet-veterinarian` policy, as the AWS authorizer post has it.
fn veterinarian() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "execute-api:Invoke",
            "Resource": [
                "arn:aws:execute-api:*:*:*/*/*/petstore/v1/*",
                "arn:aws:execute-api:*:*:*/*/GET/petstore/v2/status"
            ],
            "Condition": {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "198.51.100.0/24"]}}
        }]
    })
}

fn api(method: &str, path: &str) -> String {
    format!("arn:aws:execute-api:eu-west-1:111122223333:a1b2c3/prod/{method}/{path}")
}

#[test]
fn the_seed_policy_behaves_as_the_aws_post_shows() {
    let office = Context::new().with("aws:SourceIp", &["192.0.2.10"]);
    let cases = [
        ("GET", "petstore/v1/pets", &office, Decision::Allow),
        (
            "DELETE",
            "petstore/v1/pets/7/owner",
            &office,
            Decision::Allow,
        ),
        ("GET", "petstore/v2/status", &office, Decision::Allow),
        (
            "POST",
            "petstore/v2/status",
            &office,
            Decision::ImplicitDeny,
        ),
        ("GET", "petstore/v2/pets", &office, Decision::ImplicitDeny),
    ];
    for (method, path, context, expected) in cases {
        let got = decide(
            veterinarian(),
            "execute-api:Invoke",
            &api(method, path),
            (*context).clone(),
        );
        assert_eq!(got, expected, "{method} {path}");
    }
    let elsewhere = Context::new().with("aws:SourceIp", &["203.0.113.5"]);
    let request = Request {
        action: "execute-api:Invoke".into(),
        resource: api("GET", "petstore/v1/pets"),
        context: elsewhere,
    };
    let evaluation = checked(&policy(veterinarian()), &request);
    assert_eq!(evaluation.decision, Decision::ImplicitDeny);
    assert!(
        evaluation.depends_on_condition,
        "denied only by its condition"
    );
    assert!(!evaluation.statements[0].conditions[0].matched);
}

#[test]
fn an_explicit_deny_wins_and_is_the_deciding_statement() {
    let document = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Sid": "NoAdmin", "Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*/admin/*"}
    ]});
    let request = Request {
        action: "execute-api:Invoke".into(),
        resource: api("GET", "admin/users"),
        context: Context::new(),
    };
    let evaluation = checked(&policy(document.clone()), &request);
    assert_eq!(evaluation.decision, Decision::ExplicitDeny);
    assert_eq!(evaluation.deciding.unwrap().sid.as_deref(), Some("NoAdmin"));
    assert_eq!(
        decide(
            document,
            "execute-api:Invoke",
            &api("GET", "pets"),
            Context::new()
        ),
        Decision::Allow
    );
}

#[test]
fn several_policies_are_one_union() {
    let allow = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}});
    let deny = json!({"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "execute-api:*", "Resource": "*/DELETE/*"}});
    let both = vec![
        Policy {
            label: "readers".into(),
            document: allow,
        },
        Policy {
            label: "no-delete".into(),
            document: deny,
        },
    ];
    let request = |method: &str| Request {
        action: "execute-api:Invoke".into(),
        resource: api(method, "pets/1"),
        context: Context::new(),
    };
    assert_eq!(checked(&both, &request("GET")).decision, Decision::Allow);
    let deleted = checked(&both, &request("DELETE"));
    assert_eq!(deleted.decision, Decision::ExplicitDeny);
    assert_eq!(deleted.deciding.unwrap().policy, "no-delete");
    assert_eq!(
        checked(&[], &request("GET")).decision,
        Decision::ImplicitDeny,
        "no policy: denied"
    );
}

#[test]
fn actions_ignore_case_resources_do_not_and_wildcards_cross_slashes() {
    let document = |action: &str, resource: &str| json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]});
    let cases = [
        (
            "EXECUTE-API:invoke",
            "*",
            "execute-api:Invoke",
            "x",
            Decision::Allow,
        ),
        (
            "execute-api:*",
            "*",
            "execute-api:Invoke",
            "x",
            Decision::Allow,
        ),
        (
            "execute-api:Inv?ke",
            "*",
            "execute-api:Invoke",
            "x",
            Decision::Allow,
        ),
        (
            "s3:*",
            "*",
            "execute-api:Invoke",
            "x",
            Decision::ImplicitDeny,
        ),
        (
            "*",
            "arn:aws:execute-api:*:*:*/prod/GET/Pets",
            "execute-api:Invoke",
            &api("GET", "pets") as &str,
            Decision::ImplicitDeny,
        ),
        (
            "*",
            "arn:*/GET/*",
            "execute-api:Invoke",
            &api("GET", "a/b/c") as &str,
            Decision::Allow,
        ),
        (
            "*",
            "arn:*/GET/pets/?",
            "execute-api:Invoke",
            &api("GET", "pets/7") as &str,
            Decision::Allow,
        ),
        (
            "*",
            "arn:*/GET/pets/?",
            "execute-api:Invoke",
            &api("GET", "pets/77") as &str,
            Decision::ImplicitDeny,
        ),
    ];
    for (action, resource, asked, on, expected) in cases {
        assert_eq!(
            decide(document(action, resource), asked, on, Context::new()),
            expected,
            "{action} {resource} / {asked} {on}"
        );
    }
}

#[test]
fn not_action_and_not_resource_match_everything_else() {
    let not_action = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "execute-api:ManageConnections", "Resource": "*"}]});
    assert_eq!(
        decide(
            not_action.clone(),
            "execute-api:Invoke",
            "x",
            Context::new()
        ),
        Decision::Allow
    );
    assert_eq!(
        decide(
            not_action,
            "execute-api:ManageConnections",
            "x",
            Context::new()
        ),
        Decision::ImplicitDeny
    );
    let not_resource = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "NotResource": ["*/GET/*"]},
                                                                    {"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    assert_eq!(
        decide(
            not_resource.clone(),
            "execute-api:Invoke",
            &api("GET", "a"),
            Context::new()
        ),
        Decision::Allow
    );
    assert_eq!(
        decide(
            not_resource,
            "execute-api:Invoke",
            &api("PUT", "a"),
            Context::new()
        ),
        Decision::ExplicitDeny
    );
    let both = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "x:y", "Resource": "*"}]});
    assert_eq!(
        decide(both, "a:b", "r", Context::new()),
        Decision::ImplicitDeny,
        "an invalid statement grants nothing"
    );
}

/// One condition on `key` against a request with `values` for it (none:
/// the key is missing).
fn condition(operator: &str, key: &str, wanted: Value, values: &[&str]) -> bool {
    let document = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "*", "Resource": "*",
        "Condition": {operator: {key: wanted}}
    }]});
    let context = if values.is_empty() {
        Context::new()
    } else {
        Context::new().with(key, values)
    };
    decide(document, "a:b", "r", context) == Decision::Allow
}

#[test]
fn every_condition_operator_family() {
    let rows: &[(&str, &str, Value, &[&str], bool)] = &[
        (
            "StringEquals",
            "aws:username",
            json!("alice"),
            &["alice"],
            true,
        ),
        (
            "StringEquals",
            "aws:username",
            json!("alice"),
            &["Alice"],
            false,
        ),
        (
            "StringEquals",
            "aws:username",
            json!(["bob", "alice"]),
            &["alice"],
            true,
        ),
        (
            "StringNotEquals",
            "aws:username",
            json!("alice"),
            &["bob"],
            true,
        ),
        (
            "StringNotEquals",
            "aws:username",
            json!("alice"),
            &["alice"],
            false,
        ),
        (
            "StringEqualsIgnoreCase",
            "aws:username",
            json!("ALICE"),
            &["alice"],
            true,
        ),
        (
            "StringNotEqualsIgnoreCase",
            "aws:username",
            json!("ALICE"),
            &["alice"],
            false,
        ),
        ("StringLike", "aws:username", json!("al*"), &["alice"], true),
        (
            "StringLike",
            "aws:username",
            json!("al?ce"),
            &["alice"],
            true,
        ),
        (
            "StringNotLike",
            "aws:username",
            json!("al*"),
            &["bob"],
            true,
        ),
        (
            "StringEquals",
            "aws:username",
            json!("al*"),
            &["alice"],
            false,
        ),
        ("NumericEquals", "s3:max-keys", json!("10"), &["10"], true),
        (
            "NumericNotEquals",
            "s3:max-keys",
            json!("10"),
            &["10"],
            false,
        ),
        ("NumericLessThan", "s3:max-keys", json!("10"), &["9"], true),
        (
            "NumericLessThanEquals",
            "s3:max-keys",
            json!("10"),
            &["10"],
            true,
        ),
        (
            "NumericGreaterThan",
            "s3:max-keys",
            json!("10"),
            &["10"],
            false,
        ),
        (
            "NumericGreaterThanEquals",
            "s3:max-keys",
            json!(10),
            &["10.0"],
            true,
        ),
        ("NumericEquals", "s3:max-keys", json!("ten"), &["10"], false),
        (
            "DateLessThan",
            "aws:CurrentTime",
            json!("2026-12-01T00:00:00Z"),
            &["2026-11-29T12:00:00Z"],
            true,
        ),
        (
            "DateGreaterThan",
            "aws:CurrentTime",
            json!("2026-12-01"),
            &["2026-11-29T12:00:00Z"],
            false,
        ),
        (
            "DateEquals",
            "aws:EpochTime",
            json!("1764374400"),
            &["2025-11-29T00:00:00Z"],
            true,
        ),
        (
            "DateNotEquals",
            "aws:CurrentTime",
            json!("2026-12-01T00:00:00Z"),
            &["2026-11-29T12:00:00Z"],
            true,
        ),
        (
            "Bool",
            "aws:SecureTransport",
            json!("true"),
            &["true"],
            true,
        ),
        (
            "Bool",
            "aws:SecureTransport",
            json!(true),
            &["false"],
            false,
        ),
        (
            "BinaryEquals",
            "key",
            json!("QmluYXJ5VmFsdWU="),
            &["QmluYXJ5VmFsdWU="],
            true,
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            json!("203.0.113.0/24"),
            &["203.0.113.9"],
            true,
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            json!("203.0.113.0/24"),
            &["203.0.114.9"],
            false,
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            json!("2001:db8::/32"),
            &["2001:db8:1::5"],
            true,
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            json!("203.0.113.7"),
            &["203.0.113.7"],
            true,
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            json!("203.0.113.0/24"),
            &["::ffff:203.0.113.9"],
            true,
        ),
        (
            "NotIpAddress",
            "aws:SourceIp",
            json!(["203.0.113.0/24"]),
            &["198.51.100.1"],
            true,
        ),
        (
            "NotIpAddress",
            "aws:SourceIp",
            json!(["203.0.113.0/24"]),
            &["203.0.113.1"],
            false,
        ),
        (
            "ArnLike",
            "aws:PrincipalArn",
            json!("arn:aws:iam::*:role/service-role/*"),
            &["arn:aws:iam::111122223333:role/service-role/x"],
            true,
        ),
        (
            "ArnEquals",
            "aws:PrincipalArn",
            json!("arn:aws:iam::111122223333:role/a"),
            &["arn:aws:iam::111122223333:role/a"],
            true,
        ),
        (
            "ArnNotLike",
            "aws:PrincipalArn",
            json!("arn:aws:iam::*:role/service-role/*"),
            &["arn:aws:iam::111122223333:role/admin"],
            true,
        ),
        ("Null", "aws:TokenIssueTime", json!("true"), &[], true),
        (
            "Null",
            "aws:TokenIssueTime",
            json!("true"),
            &["2026-01-01T00:00:00Z"],
            false,
        ),
        (
            "Null",
            "aws:TokenIssueTime",
            json!("false"),
            &["2026-01-01T00:00:00Z"],
            true,
        ),
        (
            "NoSuchOperator",
            "aws:username",
            json!("alice"),
            &["alice"],
            false,
        ),
    ];
    for (operator, key, wanted, values, expected) in rows {
        assert_eq!(
            condition(operator, key, wanted.clone(), values),
            *expected,
            "{operator} {key} {wanted} / {values:?}"
        );
    }
}

#[test]
fn a_missing_key_fails_positive_operators_and_satisfies_negated_ones() {
    assert!(!condition(
        "StringEquals",
        "aws:username",
        json!("alice"),
        &[]
    ));
    assert!(condition(
        "StringNotEquals",
        "aws:username",
        json!("alice"),
        &[]
    ));
    assert!(!condition(
        "IpAddress",
        "aws:SourceIp",
        json!("10.0.0.0/8"),
        &[]
    ));
    assert!(condition(
        "NotIpAddress",
        "aws:SourceIp",
        json!("10.0.0.0/8"),
        &[]
    ));
    assert!(condition(
        "StringEqualsIfExists",
        "aws:username",
        json!("alice"),
        &[]
    ));
    assert!(!condition(
        "StringEqualsIfExists",
        "aws:username",
        json!("alice"),
        &["bob"]
    ));
    assert!(
        !condition("NullIfExists", "aws:username", json!("true"), &[]),
        "Null takes no IfExists"
    );
}

#[test]
fn set_operators_over_multivalued_keys() {
    let tags = "aws:TagKeys";
    assert!(condition(
        "ForAllValues:StringEquals",
        tags,
        json!(["env", "team"]),
        &["env"]
    ));
    assert!(!condition(
        "ForAllValues:StringEquals",
        tags,
        json!(["env", "team"]),
        &["env", "cost"]
    ));
    assert!(
        condition("ForAllValues:StringEquals", tags, json!(["env"]), &[]),
        "missing: true"
    );
    assert!(condition(
        "ForAnyValue:StringEquals",
        tags,
        json!(["env"]),
        &["cost", "env"]
    ));
    assert!(!condition(
        "ForAnyValue:StringEquals",
        tags,
        json!(["env"]),
        &["cost"]
    ));
    assert!(
        !condition("ForAnyValue:StringEquals", tags, json!(["env"]), &[]),
        "missing: false"
    );
    assert!(condition(
        "ForAnyValue:StringNotEquals",
        tags,
        json!(["env"]),
        &["env", "cost"]
    ));
    assert!(!condition(
        "ForAllValues:StringNotEquals",
        tags,
        json!(["env"]),
        &["env", "cost"]
    ));
}

#[test]
fn keys_and_operators_are_anded_values_ored_and_key_names_ignore_case() {
    let document = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "*", "Resource": "*",
        "Condition": {
            "StringEquals": {"AWS:UserName": ["alice", "bob"], "aws:RequestedRegion": "eu-west-1"},
            "Bool": {"aws:SecureTransport": "true"}
        }
    }]});
    let all = Context::new()
        .with("aws:username", &["bob"])
        .with("aws:requestedregion", &["eu-west-1"])
        .with("aws:SecureTransport", &["true"]);
    assert_eq!(
        decide(document.clone(), "a:b", "r", all.clone()),
        Decision::Allow
    );
    let insecure = all.with("aws:SecureTransport", &["false"]);
    assert_eq!(
        decide(document, "a:b", "r", insecure),
        Decision::ImplicitDeny
    );
}

#[test]
fn policy_variables_are_substituted_under_2012_and_literal_under_2008() {
    let home = |version: &str| {
        json!({"Version": version, "Statement": [{"Effect": "Allow", "Action": "*",
               "Resource": "arn:aws:s3:::bucket/home/${aws:username}/*"}]})
    };
    let alice = Context::new().with("aws:username", &["alice"]);
    assert_eq!(
        decide(
            home("2012-10-17"),
            "s3:GetObject",
            "arn:aws:s3:::bucket/home/alice/a.txt",
            alice.clone()
        ),
        Decision::Allow
    );
    assert_eq!(
        decide(
            home("2012-10-17"),
            "s3:GetObject",
            "arn:aws:s3:::bucket/home/bob/a.txt",
            alice.clone()
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(
            home("2012-10-17"),
            "s3:GetObject",
            "arn:aws:s3:::bucket/home/alice/a.txt",
            Context::new()
        ),
        Decision::ImplicitDeny,
        "no value: no match"
    );
    assert_eq!(
        decide(
            home("2008-10-17"),
            "s3:GetObject",
            "arn:aws:s3:::bucket/home/${aws:username}/a.txt",
            alice.clone()
        ),
        Decision::Allow,
        "literal under 2008"
    );
    let tagged = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
        "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}}]});
    let same_team = Context::new()
        .with("aws:ResourceTag/team", &["pets"])
        .with("aws:PrincipalTag/team", &["pets"]);
    assert_eq!(
        decide(tagged.clone(), "a:b", "r", same_team),
        Decision::Allow
    );
    let other_team = Context::new()
        .with("aws:ResourceTag/team", &["pets"])
        .with("aws:PrincipalTag/team", &["store"]);
    assert_eq!(
        decide(tagged, "a:b", "r", other_team),
        Decision::ImplicitDeny
    );
}

#[test]
fn special_characters_and_defaults_in_variables() {
    let context = Context::new().with("aws:username", &["a*b"]);
    assert_eq!(
        substitute("x/${aws:username}", &context, false).map(|s| glob(&s, "x/a*b")),
        Some(true)
    );
    assert_eq!(
        substitute("x/${aws:username}", &context, false).map(|s| glob(&s, "x/aXXb")),
        Some(false),
        "a substituted * is literal"
    );
    assert_eq!(
        substitute("${*}", &Context::new(), false).map(|s| glob(&s, "*")),
        Some(true)
    );
    assert_eq!(
        substitute("${*}", &Context::new(), false).map(|s| glob(&s, "x")),
        Some(false)
    );
    assert_eq!(
        substitute("${$}{x}", &Context::new(), false).as_deref(),
        Some("${x}")
    );
    assert_eq!(
        substitute(
            "team/${aws:PrincipalTag/team, 'none'}",
            &Context::new(),
            false
        )
        .as_deref(),
        Some("team/none")
    );
    assert_eq!(
        substitute("team/${aws:PrincipalTag/team}", &Context::new(), false),
        None
    );
}
