//! `gatehouse demo` against the moto emulator: it provisions exactly the
//! resources the issue names, and running it again changes nothing.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::roles::Role;
use app::state::AwsClients;
use aws_sdk_wafv2::types::{
    PositionalConstraint, RateBasedStatementAggregateKeyType, Scope, TextTransformationType,
};
use gatehouse::demo;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Lock tokens change on every update, so equal tokens mean nothing was
/// written to the web ACLs.
async fn web_acl_state(aws: &AwsClients) -> Vec<(String, String, String)> {
    let list = aws
        .wafv2
        .list_web_acls()
        .scope(Scope::Regional)
        .send()
        .await
        .unwrap();
    let mut out: Vec<_> = list
        .web_acls()
        .iter()
        .map(|acl| {
            (
                acl.name().unwrap().to_owned(),
                acl.id().unwrap().to_owned(),
                acl.lock_token().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[sqlx::test(migrations = "../migrations")]
async fn demo_provisions_the_guidance_rules_and_running_it_again_changes_nothing(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let aws = common::aws("eu-west-3").await;
    let first = demo::provision(&aws).await.unwrap();
    demo::register(&pool, &aws, &first).await.unwrap();
    let acls_before = web_acl_state(&aws).await;
    let rows_before: Vec<(String, String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT name, aws_id, updated_at FROM aws_targets ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();

    let second = demo::provision(&aws).await.unwrap();
    demo::register(&pool, &aws, &second).await.unwrap();

    assert_eq!(first, second, "the same resources are found, none created");
    assert_eq!(
        web_acl_state(&aws).await,
        acls_before,
        "no web ACL was updated"
    );
    let rows_after: Vec<(String, String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT name, aws_id, updated_at FROM aws_targets ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows_after, rows_before, "no registration was rewritten");
    // shop, vpn-geo, the policy table, the VPN set, the log source, the
    // Cognito pool and client.
    assert_eq!(rows_after.len(), 7);
    let ip_sets = aws
        .wafv2
        .list_ip_sets()
        .scope(Scope::Regional)
        .send()
        .await
        .unwrap();
    assert_eq!(ip_sets.ip_sets().len(), 1, "one vpn-nat IP set, not two");
    let pools = aws
        .cognito
        .list_user_pools()
        .max_results(60)
        .send()
        .await
        .unwrap();
    assert_eq!(pools.user_pools().len(), 1, "one user pool, not two");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_shop_web_acl_has_the_three_rules_of_the_aws_guidance(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let _pool = common::pool(options).await;
    let aws = common::aws("eu-north-1").await;
    let resources = demo::provision(&aws).await.unwrap();
    let shop = resources.iter().find(|r| r.name == "shop").unwrap();
    let got = aws
        .wafv2
        .get_web_acl()
        .name("shop")
        .scope(Scope::Regional)
        .id(&shop.aws_id)
        .send()
        .await
        .unwrap();
    let acl = got.web_acl().unwrap();
    assert!(
        acl.default_action().unwrap().block().is_some(),
        "default action Block"
    );
    let mut rules: Vec<_> = acl.rules().iter().collect();
    rules.sort_by_key(|r| r.priority());
    let names: Vec<_> = rules.iter().map(|r| (r.priority(), r.name())).collect();
    assert_eq!(
        names,
        [
            (0, "AWS-AWSManagedRulesAmazonIpReputationList"),
            (1, "UriBasedRule"),
            (2, "BlanketRule")
        ]
    );

    let reputation = rules[0]
        .statement()
        .unwrap()
        .managed_rule_group_statement()
        .unwrap();
    assert_eq!(reputation.vendor_name(), "AWS");
    assert_eq!(reputation.name(), "AWSManagedRulesAmazonIpReputationList");
    assert!(rules[0].override_action().unwrap().none().is_some());

    let login = rules[1]
        .statement()
        .unwrap()
        .rate_based_statement()
        .unwrap();
    assert_eq!(login.limit(), 150);
    assert_eq!(login.evaluation_window_sec(), 300);
    assert_eq!(
        login.aggregate_key_type(),
        &RateBasedStatementAggregateKeyType::Ip
    );
    let scope = login
        .scope_down_statement()
        .unwrap()
        .byte_match_statement()
        .unwrap();
    assert_eq!(scope.search_string().as_ref(), b"/login");
    assert_eq!(
        scope.positional_constraint(),
        &PositionalConstraint::StartsWith
    );
    assert!(scope.field_to_match().unwrap().uri_path().is_some());
    assert_eq!(
        scope.text_transformations()[0].r#type(),
        &TextTransformationType::None
    );
    assert!(rules[1].action().unwrap().block().is_some());

    let blanket = rules[2]
        .statement()
        .unwrap()
        .rate_based_statement()
        .unwrap();
    assert_eq!(blanket.limit(), 7000);
    assert_eq!(
        blanket.aggregate_key_type(),
        &RateBasedStatementAggregateKeyType::Ip
    );
    assert!(blanket.scope_down_statement().is_none());
    assert!(rules[2].action().unwrap().block().is_some());
}

#[sqlx::test(migrations = "../migrations")]
async fn the_vpn_resources_and_the_policy_table_are_there(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let _pool = common::pool(options).await;
    let aws = common::aws("ca-central-1").await;
    let resources = demo::provision(&aws).await.unwrap();
    let nat = resources.iter().find(|r| r.name == "vpn-nat").unwrap();
    let ip_set = aws
        .wafv2
        .get_ip_set()
        .name("vpn-nat")
        .scope(Scope::Regional)
        .id(&nat.aws_id)
        .send()
        .await
        .unwrap();
    let mut addresses = ip_set.ip_set().unwrap().addresses().to_vec();
    addresses.sort();
    assert_eq!(addresses.len(), 2, "two NAT gateway addresses");
    assert!(resources.iter().any(|r| r.name == "vpn-geo"));

    let item = aws
        .dynamodb
        .get_item()
        .table_name("auth-policy-store")
        .key(
            "group",
            aws_sdk_dynamodb::types::AttributeValue::S("pet-veterinarian".into()),
        )
        .send()
        .await
        .unwrap();
    // A map, as AWS's sample authorizer stack writes it.
    let stored = &item.item().unwrap()["policy"];
    assert!(stored.as_m().is_ok(), "{stored:?}");
    let policy = app::policies::table::document(stored);
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Action"], "execute-api:Invoke");
    assert_eq!(
        statement["Resource"],
        serde_json::json!([
            "arn:aws:execute-api:*:*:*/*/*/petstore/v1/*",
            "arn:aws:execute-api:*:*:*/*/GET/petstore/v2/status"
        ])
    );
    assert_eq!(
        statement["Condition"]["IpAddress"]["aws:SourceIp"],
        serde_json::json!(["192.0.2.0/24", "198.51.100.0/24"])
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn every_demo_user_signs_in_and_is_in_the_group_of_its_role(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let _pool = common::pool(options).await;
    let aws = common::aws("ap-northeast-1").await;
    let resources = demo::provision(&aws).await.unwrap();
    let pool_id = &resources
        .iter()
        .find(|r| r.name == "gatehouse-demo")
        .unwrap()
        .aws_id;
    let client_id = &resources
        .iter()
        .find(|r| r.name == "gatehouse-console")
        .unwrap()
        .aws_id;
    let approvers = demo::DEMO_USERS
        .iter()
        .filter(|u| u.role == Role::Approver)
        .count();
    assert!(
        approvers >= 2,
        "a second approver, so no one approves their own change"
    );
    for role in Role::ALL {
        assert!(
            demo::DEMO_USERS.iter().any(|u| u.role == role),
            "a user for {role:?}"
        );
    }
    for user in demo::DEMO_USERS {
        let auth = aws
            .cognito
            .initiate_auth()
            .client_id(client_id)
            .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", user.username)
            .auth_parameters("PASSWORD", demo::DEMO_PASSWORD)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} cannot sign in: {e:?}", user.username));
        assert!(
            auth.challenge_name().is_none(),
            "{}: no password change pending",
            user.username
        );
        assert!(
            auth.authentication_result()
                .and_then(|r| r.access_token())
                .is_some()
        );
        let groups = aws
            .cognito
            .admin_list_groups_for_user()
            .user_pool_id(pool_id)
            .username(user.username)
            .send()
            .await
            .unwrap();
        let names: Vec<_> = groups
            .groups()
            .iter()
            .filter_map(|g| g.group_name())
            .collect();
        assert_eq!(names, [user.role.default_group()], "{}", user.username);
    }
    let owner = aws
        .dynamodb
        .get_item()
        .table_name("auth-policy-store")
        .key(
            "group",
            aws_sdk_dynamodb::types::AttributeValue::S("pet-owner".into()),
        )
        .send()
        .await
        .unwrap();
    let text = owner.item().unwrap()["policy"].as_s().unwrap();
    let owner_policy: Value = serde_json::from_str(text).unwrap();
    assert_eq!(owner_policy["Statement"][1]["Effect"], "Deny");
}
