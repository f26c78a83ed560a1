//! Live web ACL rules against the emulator: read exactly as AWS holds them,
//! through the API and the command line.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::roles::Role;
use app::rules::live;
use app::rules::model::{RuleEntry, rules_json};
use gatehouse::demo;
use http::StatusCode;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

const REGION: &str = "ap-south-1";

fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// The web ACL's rules as the emulator sends them, asked without the SDK,
/// in the console's form: the independent side of the comparison.
async fn raw_rules(id: &str) -> Value {
    let reply: Value = reqwest::Client::new()
        .post(common::moto_endpoint())
        .header("X-Amz-Target", "AWSWAF_20190729.GetWebACL")
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "Authorization",
            format!("AWS4-HMAC-SHA256 Credential=test/20260101/{REGION}/wafv2/aws4_request, SignedHeaders=host, Signature=0"),
        )
        .json(&json!({"Name": "shop", "Scope": "REGIONAL", "Id": id}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut rules = reply["WebACL"]["Rules"].clone();
    live::from_wire(&mut rules);
    rules
}

#[sqlx::test(migrations = "../migrations")]
async fn the_demo_web_acl_reads_exactly_as_aws_holds_it(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let aws = common::aws(REGION).await;
    demo::provision(&aws).await.unwrap();
    let shop = live::rules(&aws.wafv2, "REGIONAL", "shop").await.unwrap();
    assert!(!shop.lock_token.is_empty());
    assert!(shop.rules.len() >= 3, "the guidance's three rules");
    assert!(
        shop.rules.iter().all(|r| matches!(r, RuleEntry::Rule(_))),
        "every demo rule is understood"
    );
    let raw = raw_rules(&shop.web_acl.id).await;
    assert_eq!(rules_json(&shop.rules), raw, "written back as read");
    let login = shop.rules.iter().find_map(|r| match r {
        RuleEntry::Rule(rule) => {
            Some(app::rules::summary::summary(rule)).filter(|s| s.contains("/login"))
        }
        RuleEntry::Verbatim { .. } => None,
    });
    assert!(
        login.is_some(),
        "the /login rule reads in plain words: {:?}",
        shop.rules
    );

    // The API, for scripts: a viewer may read; nobody else.
    let state = common::state(pool, aws).await;
    let viewer = common::session_cookie(&state, Role::Viewer).await;
    let list = common::get_as(&state, "/api/v1/web-acls", &viewer).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let list: Value = serde_json::from_str(&list.body).unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "shop" && a["scope"] == "REGIONAL")
    );
    let rules = common::get_as(&state, "/api/v1/web-acls/REGIONAL/shop/rules", &viewer).await;
    assert_eq!(rules.status, StatusCode::OK, "{}", rules.body);
    let rules: Value = serde_json::from_str(&rules.body).unwrap();
    assert_eq!(rules["rules"], raw);
    assert_eq!(rules["lock_token"], shop.lock_token);
    let missing = common::get_as(&state, "/api/v1/web-acls/REGIONAL/nope/rules", &viewer).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for path in ["/api/v1/web-acls", "/api/v1/web-acls/REGIONAL/shop/rules"] {
        assert_eq!(
            common::get_as(&state, path, "").await.status,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }

    // The command line prints the same JSON.
    let output = common::gatehouse()
        .args([
            "rules",
            "show",
            "--web-acl",
            "shop",
            "--scope",
            "REGIONAL",
            "--format",
            "json",
        ])
        .env("AWS_REGION", REGION)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&output.stdout).unwrap(),
        raw
    );
    let text = common::gatehouse()
        .args(["rules", "show", "--web-acl", "shop"])
        .env("AWS_REGION", REGION)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Block an IP that sends more than"), "{text}");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_edited_web_acl_is_accepted_by_update_web_acl_and_a_stale_edit_is_refused(
    _: PgPoolOptions,
    _: PgConnectOptions,
) {
    use app::rules::model::Statement;
    use app::rules::templates::Template;
    use app::rules::validate::{has_errors, validate};

    let aws = common::aws("sa-east-1").await;
    demo::provision(&aws).await.unwrap();
    let base = live::rules(&aws.wafv2, "REGIONAL", "shop").await.unwrap();
    // Added below; left out if a run before this one added them already.
    let added = [
        "aws-anonymous-ip",
        "rate-limit-hosting-providers",
        "rate-limit-countries",
    ];
    let mut edited: Vec<RuleEntry> = base
        .rules
        .iter()
        .filter(|r| !r.name().is_some_and(|n| added.contains(&n)))
        .cloned()
        .collect();
    for entry in &mut edited {
        if let RuleEntry::Rule(rule) = entry
            && rule.name == "BlanketRule"
            && let Statement::RateBased(rate) = &mut rule.statement
        {
            rate.limit = 9000;
        }
    }
    edited.extend(Template::HostingProviders.rules(10));
    edited.extend(Template::GeoScoped.rules(20));
    assert!(!has_errors(&validate(&edited)), "{:?}", validate(&edited));

    let next = live::update_rules(&aws.wafv2, &base, &edited)
        .await
        .unwrap()
        .next_lock_token;
    assert!(!next.is_empty() && next != base.lock_token);
    let after = live::rules(&aws.wafv2, "REGIONAL", "shop").await.unwrap();
    // The emulator spells the fields a new rule leaves unset as null.
    assert_eq!(
        without_nulls(rules_json(&after.rules)),
        without_nulls(rules_json(&edited)),
        "AWS holds what was sent"
    );
    for kept in ["DefaultAction", "Description", "VisibilityConfig"] {
        assert_eq!(
            after.web_acl_json[kept], base.web_acl_json[kept],
            "{kept} unchanged"
        );
    }
    // The SDK's own reading agrees, base64 search strings included.
    let typed = aws
        .wafv2
        .get_web_acl()
        .scope(aws_sdk_wafv2::types::Scope::Regional)
        .name("shop")
        .id(&base.web_acl.id)
        .send()
        .await
        .unwrap()
        .web_acl
        .unwrap();
    let limit_of = |name: &str| {
        typed
            .rules()
            .iter()
            .find(|r| r.name() == name)
            .and_then(|r| r.statement())
            .and_then(|s| s.rate_based_statement())
            .map(|r| r.limit())
    };
    assert_eq!(limit_of("BlanketRule"), Some(9000));
    let login = typed
        .rules()
        .iter()
        .find(|r| r.name() == "UriBasedRule")
        .and_then(|r| {
            r.statement()?
                .rate_based_statement()?
                .scope_down_statement()?
                .byte_match_statement()
                .cloned()
        })
        .unwrap();
    assert_eq!(login.search_string().as_ref(), b"/login");

    // The old base is stale now: refused, and the live rules stay as they are.
    let mut other = base.rules.clone();
    other.truncate(1);
    assert!(matches!(
        live::update_rules(&aws.wafv2, &base, &other).await,
        Err(live::UpdateError::Stale { .. })
    ));
    let still = live::rules(&aws.wafv2, "REGIONAL", "shop").await.unwrap();
    assert_eq!(rules_json(&still.rules), rules_json(&after.rules));
}
