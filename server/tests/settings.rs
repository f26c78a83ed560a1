//! Settings on an account Gatehouse did not set up: resources created in the
//! emulator the way a user's account has them (no `gatehouse demo`), each
//! registered on the Settings page after its live check, through a settings
//! change request that a second admin approves; role mappings that take
//! effect once approved; the operator's command line; the IAM policy; the
//! client address behind a trusted proxy.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use common::{draft_of, form, step};

use app::changes::kinds::Reach;
use app::changes::{DriftState, Kind, Status, store};
use app::pages::{AddTarget, LoadRules, SetRoles};
use app::state::AppState;
use aws_sdk_wafv2::types::{AllowAction, DefaultAction, Scope, VisibilityConfig};
use axum::body::Body;
use http::{Request, StatusCode, header};
use leptos::server_fn::ServerFn;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

const ADMINS: &str = "gatehouse-admins";

/// A web ACL made outside Gatehouse, as a team's account would have it.
async fn outside_web_acl(aws: &app::state::AwsClients, name: &str) -> String {
    let visibility = VisibilityConfig::builder()
        .sampled_requests_enabled(true)
        .cloud_watch_metrics_enabled(true)
        .metric_name(name)
        .build()
        .unwrap();
    let listed = aws
        .wafv2
        .list_web_acls()
        .scope(Scope::Regional)
        .send()
        .await
        .unwrap();
    if let Some(found) = listed.web_acls().iter().find(|a| a.name() == Some(name)) {
        return found.arn().unwrap().to_owned();
    }
    aws.wafv2
        .create_web_acl()
        .name(name)
        .scope(Scope::Regional)
        .default_action(
            DefaultAction::builder()
                .allow(AllowAction::builder().build())
                .build(),
        )
        .visibility_config(visibility)
        .send()
        .await
        .unwrap()
        .summary
        .unwrap()
        .arn
        .unwrap()
}

/// A DynamoDB table keyed by `key` (S).
async fn table(aws: &app::state::AwsClients, name: &str, key: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let _ = aws
        .dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await;
}

/// `author`'s settings draft submitted, approved by `approver`, applied.
async fn through_review(state: &AppState, author: &str, approver: &str, id: &str) {
    let submitted = step(state, author, id, "Submit").await;
    assert_eq!(submitted.status, StatusCode::OK, "{}", submitted.body);
    let approved = step(state, approver, id, "Approve").await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    let applied = step(state, approver, id, "Apply").await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.body);
    assert!(applied.body.contains("Applied"), "{}", applied.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_registers_a_web_acl_made_elsewhere_and_another_admin_approves(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let aws = common::aws("me-south-1").await;
    let arn = outside_web_acl(&aws, "storefront").await;
    table(&aws, "team-policies", "group").await;
    table(&aws, "keyed-by-id", "id").await;
    let state = common::state(pool.clone(), aws.clone()).await;
    let alice = common::cookie_for(&state, "alice", &[ADMINS]).await;
    let bob = common::cookie_for(&state, "bob", &[ADMINS]).await;
    let approver = common::session_cookie(&state, app::roles::Role::Approver).await;
    let viewer = common::session_cookie(&state, app::roles::Role::Viewer).await;
    let add = <AddTarget as ServerFn>::PATH;

    // Checks that fail say which call failed and AWS's code.
    let missing = form(&state, add, &alice, "kind=web_acl&web_acl=REGIONAL%2Fnope").await;
    assert!(
        missing
            .body
            .contains("ListWebACLs failed: no web ACL named"),
        "{}",
        missing.body
    );
    let no_table = form(&state, add, &alice, "kind=dynamodb_table&name=absent").await;
    assert!(
        no_table
            .body
            .contains("DescribeTable failed: ResourceNotFoundException"),
        "{}",
        no_table.body
    );
    let wrong_key = form(&state, add, &alice, "kind=dynamodb_table&name=keyed-by-id").await;
    assert!(
        wrong_key.body.contains("the partition key is \\\"id\\\""),
        "{}",
        wrong_key.body
    );
    let not_admin = form(
        &state,
        add,
        &approver,
        "kind=web_acl&web_acl=REGIONAL%2Fstorefront",
    )
    .await;
    assert!(not_admin.body.contains("Forbidden"), "{}", not_admin.body);

    // alice adds both into one settings draft.
    let id = draft_of(
        &form(
            &state,
            add,
            &alice,
            "kind=web_acl&web_acl=REGIONAL%2Fstorefront",
        )
        .await,
    );
    let same = draft_of(
        &form(
            &state,
            add,
            &alice,
            "kind=dynamodb_table&name=team-policies",
        )
        .await,
    );
    assert_eq!(id, same, "one draft gathers an admin's edits");
    assert!(
        app::targets::list(&pool).await.unwrap().is_empty(),
        "nothing takes effect before review"
    );

    // Submitted; alice cannot approve her own, an approver is no admin.
    assert_eq!(
        step(&state, &alice, &id, "Submit").await.status,
        StatusCode::OK
    );
    let own = step(&state, &alice, &id, "Approve").await;
    assert!(
        own.body
            .contains("No one approves their own change request"),
        "{}",
        own.body
    );
    let lesser = step(&state, &approver, &id, "Approve").await;
    assert!(lesser.body.contains("Forbidden"), "{}", lesser.body);
    assert!(
        common::audit_actions(&pool)
            .await
            .contains(&"changes.refused".to_owned())
    );
    let uuid: uuid::Uuid = id.parse().unwrap();
    assert_eq!(
        store::get(&pool, uuid).await.unwrap().status,
        Status::InReview
    );

    // bob approves and applies: the resources are managed.
    assert_eq!(
        step(&state, &bob, &id, "Approve").await.status,
        StatusCode::OK
    );
    let applied = step(&state, &bob, &id, "Apply").await;
    assert!(applied.body.contains("Applied"), "{}", applied.body);
    let managed = app::targets::list(&pool).await.unwrap();
    let names: Vec<&str> = managed.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["storefront", "team-policies"]);
    assert_eq!(managed[0].arn.as_deref(), Some(arn.as_str()));

    // The Rate rules page offers it; the dashboard's drift lists it.
    let rules = Request::post(<LoadRules as ServerFn>::PATH)
        .header(header::CONTENT_TYPE, "application/json")
        .header("sec-fetch-site", "same-origin")
        .header(header::COOKIE, &viewer)
        .body(Body::from(
            json!({"web_acl": null, "scope": null, "draft": null}).to_string(),
        ))
        .unwrap();
    let rules = common::send(&state, rules).await;
    let rules: Value = serde_json::from_str(&rules.body).unwrap();
    assert_eq!(
        rules["web_acls"],
        json!([{"name": "storefront", "scope": "REGIONAL"}])
    );
    let reach = Reach {
        pool: &pool,
        aws: &aws,
    };
    let drift = app::changes::drift::drift(reach, &managed).await.unwrap();
    assert_eq!(drift[0].web_acl, "storefront");
    assert_eq!(drift[0].state, DriftState::NeverApplied);
    assert_eq!(drift[1].kind, Kind::PolicyMappings);
    assert_eq!(drift[1].web_acl, "team-policies");
    assert_eq!(drift[2].kind, Kind::Settings);
    assert_eq!(drift[2].state, DriftState::InSync);

    // The IAM policy names exactly what is managed; admins only.
    let policy = common::get_as(&state, "/settings/iam-policy.json", &bob).await;
    assert_eq!(policy.status, StatusCode::OK);
    let policy: Value = serde_json::from_str(&policy.body).unwrap();
    let update = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "ReadAndUpdateWebAclRules")
        .unwrap();
    assert_eq!(update["Resource"], json!([arn]));
    assert!(policy.to_string().contains(":table/team-policies"));
    let refused = common::get_as(&state, "/settings/iam-policy.json", &viewer).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Removing is a change request too; settings changed on the command
    // line in between make it stale, and nothing is overwritten.
    let remove = <app::pages::RemoveTarget as ServerFn>::PATH;
    let removal = draft_of(&form(&state, remove, &alice, "label=policy+table+team-policies").await);
    assert_eq!(
        step(&state, &alice, &removal, "Submit").await.status,
        StatusCode::OK
    );
    assert_eq!(
        step(&state, &bob, &removal, "Approve").await.status,
        StatusCode::OK
    );
    app::settings::store::operator_change(
        &pool,
        gatehouse::demo::operator("test"),
        "approvals",
        |doc| doc.required_approvals = Some(2),
    )
    .await
    .unwrap();
    let stale = step(&state, &bob, &removal, "Apply").await;
    assert!(stale.body.contains("changed elsewhere"), "{}", stale.body);
    assert_eq!(app::targets::list(&pool).await.unwrap().len(), 2);
    let now = app::settings::store::effective(&pool, &state.overrides)
        .await
        .unwrap();
    assert_eq!(now.required_approvals, 2, "the operator's change survives");
    assert!(matches!(app::audit::verify(&pool, &[]).await.unwrap(), Ok(n) if n > 10));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_role_mapping_takes_effect_once_another_admin_approves_it(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let aws = common::aws("af-south-1").await;
    let state = common::state(pool.clone(), aws).await;
    let alice = common::cookie_for(&state, "alice", &[ADMINS]).await;
    let bob = common::cookie_for(&state, "bob", &[ADMINS]).await;
    let carol = common::cookie_for(&state, "carol", &["ops-editors"]).await;
    let roles_of = |cookie: String| {
        let state = state.clone();
        async move {
            let me = common::get_as(&state, "/api/v1/me", &cookie).await;
            let me: Value = serde_json::from_str(&me.body).unwrap();
            me["roles"].clone()
        }
    };
    assert_eq!(roles_of(carol.clone()).await, json!([]));
    let set = <SetRoles as ServerFn>::PATH;

    // The admin role cannot lose its group.
    let lockout = form(&state, set, &alice, "admin=+").await;
    assert!(
        lockout.body.contains("admin role must stay mapped"),
        "{}",
        lockout.body
    );

    let id = draft_of(
        &form(
            &state,
            set,
            &alice,
            "editor=ops-editors&required_approvals=1",
        )
        .await,
    );
    assert_eq!(
        roles_of(carol.clone()).await,
        json!([]),
        "not before review"
    );
    through_review(&state, &alice, &bob, &id).await;
    assert_eq!(roles_of(carol.clone()).await, json!(["viewer", "editor"]));
    let now = app::settings::store::effective(&pool, &state.overrides)
        .await
        .unwrap();
    assert_eq!(now.roles[1].source, app::settings::Source::Database);

    // Threshold health is a setting like any other: through review.
    let health = <app::pages::SetHealth as ServerFn>::PATH;
    let refused = form(
        &state,
        health,
        &alice,
        "percentile=p99&days=0&tight_percent=50&loose_factor=10&unreviewed_days=90",
    )
    .await;
    assert!(
        refused.body.contains("days: give 1 to 90"),
        "{}",
        refused.body
    );
    let id = draft_of(
        &form(
            &state,
            health,
            &alice,
            "percentile=p90&days=14&tight_percent=60&loose_factor=20&unreviewed_days=30",
        )
        .await,
    );
    let current = || app::settings::store::current(&pool);
    assert_eq!(
        current().await.unwrap().threshold_health,
        None,
        "not before review"
    );
    through_review(&state, &alice, &bob, &id).await;
    let judged = current().await.unwrap().threshold_health.unwrap();
    assert_eq!(
        (
            judged.percentile.as_str(),
            judged.days,
            judged.tight_percent,
            judged.loose_factor,
            judged.unreviewed_days
        ),
        ("p90", 14, 60, 20, 30)
    );

    // A group the environment fixes cannot be set from the console.
    let mut fixed = state.clone();
    fixed.overrides.role_groups = vec![(
        app::roles::Role::Editor,
        "env-editors".into(),
        app::settings::Source::Environment,
    )];
    let refused = form(&fixed, set, &alice, "editor=someone-else").await;
    assert!(
        refused.body.contains("set in the environment"),
        "{}",
        refused.body
    );

    // The operator's way back, audited.
    let url = common::database_url(&pool);
    let shown = common::gatehouse_json(
        &url,
        &["settings", "set-role", "admin", "break-glass"].map(String::from),
    );
    assert_eq!(shown["roles"][3]["group"], "break-glass");
    assert_eq!(shown["roles"][3]["source"], "database");
    let event: (String, Option<String>) =
        sqlx::query_as("SELECT action, actor_username FROM audit_events ORDER BY id DESC LIMIT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(event.0, "settings.changed");
    assert!(event.1.unwrap().contains("gatehouse settings"));
    let empty = common::gatehouse()
        .args(["settings", "set-role", "admin", " "])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("admin role must stay mapped"));
}

#[sqlx::test(migrations = "../migrations")]
async fn behind_a_trusted_proxy_failed_sign_ins_count_the_client_address(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    use axum::extract::ConnectInfo;
    let pool = common::pool(options).await;
    let aws = common::aws("ap-east-1").await;
    let resources = gatehouse::demo::provision(&aws).await.unwrap();
    gatehouse::demo::register(&pool, &aws, &resources)
        .await
        .unwrap();
    let mut state = common::state(pool.clone(), aws).await;
    state.auth.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
    for (peer, forwarded) in [
        ("10.1.2.3:50000", "203.0.113.7"),
        ("192.0.2.9:50000", "203.0.113.8"),
    ] {
        let mut request = Request::post("/auth/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin")
            .header("x-forwarded-for", forwarded)
            .body(Body::from(
                "username=editor&password=Wrong-password-1&next=%2F",
            ))
            .unwrap();
        let peer: std::net::SocketAddr = peer.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        common::send(&state, request).await;
    }
    app::audit::refusals::flush(&pool, app::audit::refusals::Rows::All)
        .await
        .unwrap();
    let seen: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT client_ip FROM audit_events WHERE action = 'auth.sign_in_failed' ORDER BY client_ip DESC",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        seen,
        [Some("203.0.113.7".to_owned()), Some("192.0.2.9".to_owned())],
        "the proxy's client is believed; a forged header from elsewhere is not"
    );
}

#[tokio::test]
async fn a_vpn_geofencing_set_is_checked_part_by_part_scp_included() {
    use app::settings::check::{self, VpnSetInput};
    let aws = common::aws("il-central-1").await;
    gatehouse::demo::provision(&aws).await.unwrap();
    let policy_arn = aws
        .iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await
        .unwrap()
        .policies()
        .iter()
        .find(|p| p.policy_name() == Some(gatehouse::demo::DENY_POLICY))
        .and_then(|p| p.arn().map(str::to_owned))
        .unwrap();
    // An organization with the same deny statement as an SCP.
    let _ = aws.organizations.create_organization().send().await;
    let scp = aws
        .organizations
        .create_policy()
        .name(format!("vpn-deny-{}", uuid::Uuid::new_v4()))
        .description("deny unless from the NAT addresses")
        .r#type(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .content(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .policy_summary
        .unwrap();
    let input = VpnSetInput {
        name: "vpn".into(),
        geo_web_acl: "vpn-geo".into(),
        nat_ip_set: "vpn-nat".into(),
        policy_arn: policy_arn.clone(),
        scp_id: scp.id.clone(),
    };
    let set = check::vpn_set(&aws, &input).await.unwrap();
    assert_eq!(set.detail["nat_ip_set"]["name"], "vpn-nat");
    assert_eq!(set.detail["policy"]["arn"], json!(policy_arn));
    assert_eq!(set.detail["scp_arn"], json!(scp.arn));

    // Each part that is not there is named with the call and AWS's code.
    let wrong = |change: fn(&mut VpnSetInput)| {
        let mut input = input.clone();
        change(&mut input);
        input
    };
    let failed = |input: VpnSetInput| {
        let aws = aws.clone();
        async move { check::vpn_set(&aws, &input).await.unwrap_err().to_string() }
    };
    assert!(
        failed(wrong(|i| i.nat_ip_set = "nope".into()))
            .await
            .starts_with("ListIPSets failed: no IP set named")
    );
    assert_eq!(
        failed(wrong(
            |i| i.policy_arn = "arn:aws:iam::123456789012:policy/nope".into()
        ))
        .await,
        "GetPolicy failed: NoSuchEntity"
    );
    assert_eq!(
        failed(wrong(|i| i.scp_id = Some("p-0000nope".into()))).await,
        "organizations:DescribePolicy failed: PolicyNotFoundException"
    );
    // The IAM policy then grants the SCP's exact ARN.
    let doc = app::settings::SettingsDoc {
        targets: vec![set],
        ..Default::default()
    };
    let policy = app::settings::iam::policy(&doc, &app::settings::iam::Own::default());
    assert!(
        policy.to_string().contains(scp.arn.as_deref().unwrap()),
        "{policy}"
    );
}

/// The Glue table named, as Glue answers (`None` when it has none).
async fn glue_table(aws: &app::state::AwsClients, database: &str, name: &str) -> Option<String> {
    let found = aws
        .glue
        .get_table()
        .database_name(database)
        .name(name)
        .send()
        .await
        .ok()?;
    let table = found.table?;
    table
        .storage_descriptor()
        .and_then(|s| s.location())
        .map(str::to_owned)
}

#[sqlx::test(migrations = "../migrations")]
async fn an_athena_source_is_checked_and_its_table_made_only_once_another_admin_approves(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let aws = common::aws("ca-central-1").await;
    let state = common::state(pool.clone(), aws.clone()).await;
    let alice = common::cookie_for(&state, "alice", &[ADMINS]).await;
    let bob = common::cookie_for(&state, "bob", &[ADMINS]).await;
    let editor = common::session_cookie(&state, app::roles::Role::Editor).await;
    let add = <app::pages::AddAthenaSource as ServerFn>::PATH;
    // Moto's Glue catalog is shared by every test: names of this run's own.
    let database = format!("waf_{}", uuid::Uuid::new_v4().simple());
    let fields = |extra: &str| {
        format!(
            "name=big-logs&region=ca-central-1&workgroup=primary\
             &output_location=s3%3A%2F%2Fathena-out%2Fgatehouse%2F&database={database}\
             &table=shop_logs&web_acls=shop&account=123456789012{extra}"
        )
    };

    // Refused, each in words: not an admin; an existing table that is not
    // there; a name that would change the SQL; a Region that is not one.
    let refused = form(&state, add, &editor, &fields("")).await;
    assert!(refused.body.contains("Forbidden"), "{}", refused.body);
    let absent = form(&state, add, &alice, &fields("")).await;
    assert!(
        absent
            .body
            .contains("glue:GetTable failed: EntityNotFoundException"),
        "{}",
        absent.body
    );
    let injected = form(
        &state,
        add,
        &alice,
        &fields("").replace("table=shop_logs", "table=shop%22%3B+DROP"),
    )
    .await;
    assert!(injected.body.contains("Glue name"), "{}", injected.body);
    let elsewhere = form(
        &state,
        add,
        &alice,
        &fields("").replace("region=ca-central-1", "region=evil.example%2F"),
    )
    .await;
    assert!(
        elsewhere.body.contains("is not an AWS Region"),
        "{}",
        elsewhere.body
    );
    let undated = form(
        &state,
        add,
        &alice,
        &fields("&create_table=on&bucket=shop-waf-logs"),
    )
    .await;
    assert!(undated.body.contains("first day"), "{}", undated.body);

    // To be made: checked (the workgroup), drafted, shown as the statement.
    let made =
        "&create_table=on&bucket=shop-waf-logs&first_day=2026%2F01%2F01&region_value=ca-central-1";
    let id = draft_of(&form(&state, add, &alice, &fields(made)).await);
    let pending = app::changes::drafts::pending(&pool, Kind::Settings, "alice")
        .await
        .unwrap();
    let words = pending[0].2.join("\n");
    assert!(
        words.contains(&format!("CREATE EXTERNAL TABLE `{database}`.`shop_logs`")),
        "{words}"
    );
    assert!(
        words.contains("'storage.location.template' = 's3://shop-waf-logs/AWSLogs/123456789012/WAFLogs/${region}/shop/${date}/'"),
        "{words}"
    );
    assert!(words.contains("the table made by Gatehouse"), "{words}");
    assert_eq!(
        glue_table(&aws, &database, "shop_logs").await,
        None,
        "nothing is made before review"
    );

    through_review(&state, &alice, &bob, &id).await;
    assert_eq!(
        glue_table(&aws, &database, "shop_logs").await.as_deref(),
        Some("s3://shop-waf-logs/AWSLogs/123456789012/WAFLogs/")
    );
    let managed = app::targets::list(&pool).await.unwrap();
    let source = managed
        .iter()
        .find(|t| t.name == "big-logs")
        .expect("registered");
    assert_eq!(source.aws_id, format!("{database}.shop_logs"));
    assert_eq!(
        source.detail["location"],
        "s3://shop-waf-logs/AWSLogs/123456789012/WAFLogs/"
    );
    // What was applied is what the change said (the table's location
    // included): no drift.
    let reach = Reach {
        pool: &pool,
        aws: &aws,
    };
    let drift = app::changes::drift::drift(reach, &managed).await.unwrap();
    let settings = drift.iter().find(|d| d.kind == Kind::Settings).unwrap();
    assert_eq!(settings.state, DriftState::InSync, "{drift:?}");
    let policy = common::get_as(&state, "/settings/iam-policy.json", &alice).await;
    assert!(
        policy
            .body
            .contains("arn:aws:athena:ca-central-1:123456789012:workgroup/primary"),
        "{}",
        policy.body
    );
    assert!(
        policy.body.contains(&format!(
            "arn:aws:glue:ca-central-1:123456789012:table/{database}/shop_logs"
        )),
        "{}",
        policy.body
    );

    // The Traffic page offers it and asks before it runs (and bills).
    let traffic = common::get_as(&state, "/traffic?source=big-logs", &editor).await;
    assert_eq!(traffic.status, StatusCode::OK);
    assert!(traffic.body.contains("Run on Athena"), "{}", traffic.body);
}
