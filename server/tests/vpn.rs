//! Client VPN geofencing on an account Gatehouse did not set up: a geo web
//! ACL, a NAT IP set and a deny policy made with the SDK (the policy under a
//! name of this test's own: IAM is global), registered by the operator; one
//! change request carrying countries and addresses, approved by someone
//! else and applied part by part; an IP set changed out of band between
//! approval and apply making it stale with nothing written; a part that
//! fails leaving the request failed with what landed named, and applying
//! again completing it.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::changes::{Kind, Status, store};
use app::pages::SaveVpn;
use app::roles::Role;
use app::state::{AppState, AwsClients};
use aws_sdk_wafv2::types::{IpAddressVersion, Scope};
use common::{draft_of, form, step};
use http::StatusCode;
use leptos::server_fn::ServerFn;
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

const SET: &str = "team-vpn";

struct Team {
    pool: PgPool,
    aws: AwsClients,
    state: AppState,
    editor: String,
    approver: String,
    policy_arn: String,
    nat_id: String,
    scp_id: Option<String>,
}

async fn team(options: PgConnectOptions, region: &str) -> Team {
    team_with(options, region, false).await
}

/// An SCP holding the deny statement, in the emulator's organization.
async fn scp(aws: &AwsClients, region: &str) -> String {
    // One organization an account: another test may have made it already.
    let _ = aws
        .organizations
        .create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await;
    let document = app::vpn::deny_policy(&["198.51.100.10/32".to_owned()]);
    aws.organizations
        .create_policy()
        .name(format!("team-scp-{region}"))
        .description("VPN geofencing")
        .r#type(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .content(document.to_string())
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .policy_summary
        .unwrap()
        .id
        .unwrap()
}

async fn team_with(options: PgConnectOptions, region: &str, with_scp: bool) -> Team {
    let pool = common::pool(options).await;
    let aws = common::aws(region).await;
    let nat = aws
        .wafv2
        .create_ip_set()
        .name("team-nat")
        .scope(Scope::Regional)
        .ip_address_version(IpAddressVersion::Ipv4)
        .addresses("198.51.100.10/32")
        .send()
        .await
        .unwrap()
        .summary
        .unwrap();
    let rules = gatehouse::demo::waf::vpn_geo_rules(nat.arn().unwrap()).unwrap();
    gatehouse::demo::waf::web_acl(&aws.wafv2, "team-geo", rules, "VPN check endpoint")
        .await
        .unwrap();
    let document = app::vpn::deny_policy(&["198.51.100.10/32".to_owned()]);
    let policy_arn = aws
        .iam
        .create_policy()
        .policy_name(format!("team-deny-{region}"))
        .policy_document(document.to_string())
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    let scp_id = match with_scp {
        true => Some(scp(&aws, region).await),
        false => None,
    };
    let input = app::settings::check::VpnSetInput {
        name: SET.into(),
        geo_web_acl: "team-geo".into(),
        nat_ip_set: "team-nat".into(),
        policy_arn: policy_arn.clone(),
        scp_id: scp_id.clone(),
    };
    let checked = app::settings::check::vpn_set(&aws, &input).await.unwrap();
    app::settings::store::operator_change(&pool, gatehouse::demo::operator("test"), "vpn", |doc| {
        doc.targets.push(checked)
    })
    .await
    .unwrap();
    let state = common::state(pool.clone(), aws.clone()).await;
    let editor = common::session_cookie(&state, Role::Editor).await;
    let approver = common::session_cookie(&state, Role::Approver).await;
    Team {
        pool,
        aws,
        state,
        editor,
        approver,
        policy_arn,
        nat_id: nat.id.unwrap(),
        scp_id,
    }
}

fn save_body(countries: &str, addresses: &str) -> String {
    format!(
        "set={SET}&countries={}&nat_addresses={}",
        app::url::encode(countries),
        app::url::encode(addresses)
    )
}

async fn countries(aws: &AwsClients) -> Vec<String> {
    let listed = aws
        .wafv2
        .list_web_acls()
        .scope(Scope::Regional)
        .send()
        .await
        .unwrap();
    let acl = listed
        .web_acls()
        .iter()
        .find(|a| a.name() == Some("team-geo"))
        .unwrap();
    let got = aws
        .wafv2
        .get_web_acl()
        .name("team-geo")
        .id(acl.id().unwrap())
        .scope(Scope::Regional)
        .send()
        .await
        .unwrap();
    let rules = got.web_acl().unwrap().rules();
    let geo = rules
        .iter()
        .find_map(|r| r.statement()?.geo_match_statement())
        .unwrap();
    let mut codes: Vec<String> = geo
        .country_codes()
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    codes.sort();
    codes
}

async fn addresses(team: &Team) -> (Vec<String>, String) {
    let got = team
        .aws
        .wafv2
        .get_ip_set()
        .name("team-nat")
        .id(&team.nat_id)
        .scope(Scope::Regional)
        .send()
        .await
        .unwrap();
    let mut addresses = got.ip_set().unwrap().addresses().to_vec();
    addresses.sort();
    (addresses, got.lock_token.unwrap())
}

async fn policy_nat(team: &Team) -> Value {
    let policy = team
        .aws
        .iam
        .get_policy()
        .policy_arn(&team.policy_arn)
        .send()
        .await
        .unwrap();
    let version = policy.policy().unwrap().default_version_id().unwrap();
    let document = team
        .aws
        .iam
        .get_policy_version()
        .policy_arn(&team.policy_arn)
        .version_id(version)
        .send()
        .await
        .unwrap()
        .policy_version
        .unwrap()
        .document
        .unwrap();
    let document = app::vpn::live::policy_document(&document);
    document["Statement"][0]["Condition"]["NotIpAddress"]["aws:SourceIp"].clone()
}

async fn submit_and_approve(team: &Team, id: &str) {
    for (who, what) in [(&team.editor, "Submit"), (&team.approver, "Approve")] {
        let reply = step(&team.state, who, id, what).await;
        assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.body);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn countries_and_a_nat_address_change_together_and_a_moved_ip_set_makes_it_stale(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let team = team(options, "eu-west-3").await;
    let save = <SaveVpn as ServerFn>::PATH;

    // Refusals name what is wrong and save nothing.
    let unknown = form(
        &team.state,
        save,
        &team.editor,
        &save_body("DE,XX", "198.51.100.10/32"),
    )
    .await;
    assert!(
        unknown.body.contains("country codes: XX"),
        "{}",
        unknown.body
    );
    let bad = form(
        &team.state,
        save,
        &team.editor,
        &save_body("DE", "198.51.100.300"),
    )
    .await;
    assert!(bad.body.contains("is not an IP address"), "{}", bad.body);
    let viewer = common::session_cookie(&team.state, Role::Viewer).await;
    let viewing = form(
        &team.state,
        save,
        &viewer,
        &save_body("DE", "198.51.100.10"),
    )
    .await;
    assert!(viewing.body.contains("Forbidden"), "{}", viewing.body);

    // GB goes, FR comes, a second NAT address: one change request.
    let id = draft_of(
        &form(
            &team.state,
            save,
            &team.editor,
            &save_body("DE, US, FR", "198.51.100.10\n198.51.100.12"),
        )
        .await,
    );
    let change = store::get(&team.pool, id.parse().unwrap()).await.unwrap();
    assert_eq!(change.kind, Kind::VpnGeofencing);
    let words = Kind::VpnGeofencing
        .diff(&change.base.content, &change.content)
        .words;
    assert_eq!(
        words,
        [
            "countries: + FR (France); − GB (United Kingdom of Great Britain and Northern Ireland)",
            "NAT addresses: + 198.51.100.12/32",
            "deny policy changes (it follows the NAT addresses)"
        ]
    );
    submit_and_approve(&team, &id).await;
    let applied = step(&team.state, &team.approver, &id, "Apply").await;
    assert!(applied.body.contains("Applied"), "{}", applied.body);
    assert_eq!(countries(&team.aws).await, ["DE", "FR", "US"]);
    assert_eq!(
        addresses(&team).await.0,
        ["198.51.100.10/32", "198.51.100.12/32"]
    );
    assert_eq!(
        policy_nat(&team).await,
        serde_json::json!(["198.51.100.10/32", "198.51.100.12/32"])
    );

    // A second change; the IP set is changed out of band after approval.
    let next = draft_of(
        &form(
            &team.state,
            save,
            &team.editor,
            &save_body("DE, US", "198.51.100.10\n198.51.100.12"),
        )
        .await,
    );
    submit_and_approve(&team, &next).await;
    let (_, lock) = addresses(&team).await;
    team.aws
        .wafv2
        .update_ip_set()
        .name("team-nat")
        .id(&team.nat_id)
        .scope(Scope::Regional)
        .addresses("198.51.100.99/32")
        .lock_token(lock)
        .send()
        .await
        .unwrap();
    let stale = step(&team.state, &team.approver, &next, "Apply").await;
    assert!(stale.body.contains("Not applied"), "{}", stale.body);
    assert_eq!(
        store::get(&team.pool, next.parse().unwrap())
            .await
            .unwrap()
            .status,
        Status::Stale
    );
    // Nothing was written: the countries are still the first change's.
    assert_eq!(countries(&team.aws).await, ["DE", "FR", "US"]);
    assert_eq!(addresses(&team).await.0, ["198.51.100.99/32"]);

    // The first change rolled back through review: every part as before it.
    let rollback = step(&team.state, &team.editor, &id, "Rollback").await;
    assert_eq!(rollback.status, StatusCode::OK, "{}", rollback.body);
    let rollback: Value = serde_json::from_str(&rollback.body).unwrap();
    let back = rollback["opened"].as_str().unwrap().to_owned();
    for what in ["Approve", "Apply"] {
        let reply = step(&team.state, &team.approver, &back, what).await;
        assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.body);
    }
    assert_eq!(countries(&team.aws).await, ["DE", "GB", "US"]);
    assert_eq!(addresses(&team).await.0, ["198.51.100.10/32"]);
    assert_eq!(
        policy_nat(&team).await,
        serde_json::json!(["198.51.100.10/32"])
    );
    assert!(app::audit::verify(&team.pool, &[]).await.unwrap().is_ok());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_part_that_fails_leaves_the_request_failed_with_what_landed_and_applying_again_completes_it(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let team = team(options, "eu-north-1").await;
    let save = <SaveVpn as ServerFn>::PATH;
    let id = draft_of(
        &form(
            &team.state,
            save,
            &team.editor,
            &save_body("DE, GB, US, NL", "198.51.100.10\n2001:db8::10"),
        )
        .await,
    );
    submit_and_approve(&team, &id).await;
    // The failure, injected: the approved content's deny policy made one
    // IAM refuses (MalformedPolicyDocument), as a part that fails would be.
    let uuid: uuid::Uuid = id.parse().unwrap();
    sqlx::query(
        "UPDATE change_requests
         SET content = jsonb_set(content, '{deny_policy,Statement,0,Bogus}', '1')
         WHERE id = $1",
    )
    .bind(uuid)
    .execute(&team.pool)
    .await
    .unwrap();
    let failed = step(&team.state, &team.approver, &id, "Apply").await;
    assert!(failed.body.contains("refused"), "{}", failed.body);
    let change = store::get(&team.pool, uuid).await.unwrap();
    assert_eq!(change.status, Status::Failed);
    let failure = change.failure.unwrap();
    assert!(
        failure.contains("written: NAT IP set, geo web ACL; not written: the deny policy"),
        "{failure}"
    );
    // The parts before it landed; the policy is as it was.
    assert_eq!(countries(&team.aws).await, ["DE", "GB", "NL", "US"]);
    assert_eq!(
        addresses(&team).await.0,
        ["198.51.100.10/32", "2001:db8::10/128"]
    );
    assert_eq!(
        policy_nat(&team).await,
        serde_json::json!(["198.51.100.10/32"])
    );

    // The cause removed, applying again resumes with the policy alone.
    sqlx::query(
        "UPDATE change_requests SET content = content #- '{deny_policy,Statement,0,Bogus}'
         WHERE id = $1",
    )
    .bind(uuid)
    .execute(&team.pool)
    .await
    .unwrap();
    let resumed = step(&team.state, &team.approver, &id, "Apply").await;
    assert!(resumed.body.contains("Applied"), "{}", resumed.body);
    assert_eq!(
        store::get(&team.pool, uuid).await.unwrap().status,
        Status::Applied
    );
    assert_eq!(
        policy_nat(&team).await,
        serde_json::json!(["198.51.100.10/32", "2001:db8::10/128"])
    );
    let timeline: Vec<String> = store::timeline(&team.pool, uuid)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.what)
        .collect();
    assert!(
        timeline.iter().any(|w| w.contains("failed")),
        "{timeline:?}"
    );
    assert!(app::audit::verify(&team.pool, &[]).await.unwrap().is_ok());
}

#[test]
fn the_bundled_database_locates_public_addresses_and_never_special_ones() {
    use app::vpn::geo::Located;
    let path = std::env::var("GATEHOUSE_IP_COUNTRY_DB")
        .expect("scripts/test.sh sets GATEHOUSE_IP_COUNTRY_DB (ensure_ip_database)");
    let db = app::vpn::geo::GeoDb::open(std::path::Path::new(&path)).unwrap();
    let at = |ip: &str| db.locate(ip.parse().unwrap());
    assert_eq!(at("8.8.8.8"), Located::Country("US".into()));
    assert_eq!(
        at("::ffff:8.8.8.8"),
        Located::Country("US".into()),
        "IPv4-mapped"
    );
    assert_eq!(at("2001:4860:4860::8888"), Located::Country("US".into()));
    assert_eq!(at("81.169.145.105"), Located::Country("DE".into()));
    assert_eq!(at("192.168.1.1"), Located::Special("private"));
    assert_eq!(at("::ffff:10.0.0.1"), Located::Special("private"));
    assert_eq!(at("2001:db8::1"), Located::Special("documentation"));
    assert!(db.about.built.starts_with("20"), "{}", db.about.built);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_address_is_tested_on_the_page_the_api_and_the_command_line(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let region = "eu-west-2";
    let team = team(options, region).await;
    let viewer = common::session_cookie(&team.state, Role::Viewer).await;
    let path = <app::pages::TestVpnIp as ServerFn>::PATH;
    let test = |ip: &str| {
        let body = format!("set={SET}&ip={}&draft=false", app::url::encode(ip));
        let state = team.state.clone();
        let viewer = viewer.clone();
        async move { form(&state, path, &viewer, &body).await }
    };
    // The demo rules allow DE, GB and US from the NAT.
    let german = test("81.169.145.105").await;
    assert_eq!(german.status, StatusCode::OK, "{}", german.body);
    let german: Value = serde_json::from_str(&german.body).unwrap();
    assert_eq!(german["country"], "DE");
    assert_eq!(german["web_acl"]["action"], "ALLOW");
    assert_eq!(german["web_acl"]["rule"], "AllowListedCountries");
    assert_eq!(
        german["handler"],
        serde_json::json!({"allow": true, "error-msg-on-failed-posture-compliance": "",
            "posture-compliance-statuses": ["compliant"], "schema-version": "v1"})
    );
    let dutch: Value = serde_json::from_str(&test("193.0.6.139").await.body).unwrap();
    assert_eq!(dutch["country"], "NL");
    assert_eq!(dutch["web_acl"]["action"], "BLOCK");
    assert_eq!(dutch["handler"]["allow"], false);
    assert_eq!(
        dutch["handler"]["posture-compliance-statuses"],
        serde_json::json!(["quarantined"])
    );
    let private: Value = serde_json::from_str(&test("10.1.2.3").await.body).unwrap();
    assert_eq!(private["country"], Value::Null);
    assert_eq!(private["special"], "private");
    assert_eq!(private["web_acl"]["action"], "BLOCK");
    let nonsense = test("not-an-ip").await;
    assert!(
        nonsense.body.contains("is not an IPv4 or IPv6 address"),
        "{}",
        nonsense.body
    );

    let api = common::get_as(&team.state, "/api/v1/vpn/test?ip=8.8.8.8", &viewer).await;
    let api: Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(
        (api["country"].as_str(), api["web_acl"]["action"].as_str()),
        (Some("US"), Some("ALLOW"))
    );
    let shown = common::get_as(&team.state, "/api/v1/vpn/countries", &viewer).await;
    let shown: Value = serde_json::from_str(&shown.body).unwrap();
    assert_eq!(
        shown["countries"][0],
        serde_json::json!({"code": "DE", "name": "Germany"})
    );
    assert_eq!(shown["parts"]["nat_ip_set"], "team-nat");
    let anonymous = common::get_as(&team.state, "/api/v1/vpn/test?ip=8.8.8.8", "").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    let cli = |args: &[&str]| {
        common::gatehouse()
            .args(args)
            .env("DATABASE_URL", common::database_url(&team.pool))
            .env("AWS_REGION", region)
            .output()
            .unwrap()
    };
    let out = cli(&["countries", "test", "193.0.6.139", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tested: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tested["country"], "NL");
    assert_eq!(tested["handler"]["allow"], false);
    let bad = cli(&["countries", "test", "999.1.1.1"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an IPv4 or IPv6 address"));
    let out = cli(&["countries", "show", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        shown["nat_addresses"],
        serde_json::json!(["198.51.100.10/32"])
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_scp_follows_the_nat_addresses_with_the_deny_policy(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let team = team_with(options, "me-central-1", true).await;
    let save = <SaveVpn as ServerFn>::PATH;
    let id = draft_of(
        &form(
            &team.state,
            save,
            &team.editor,
            &save_body("DE, GB, US", "198.51.100.10\n198.51.100.13"),
        )
        .await,
    );
    let change = store::get(&team.pool, id.parse().unwrap()).await.unwrap();
    let words = Kind::VpnGeofencing
        .diff(&change.base.content, &change.content)
        .words;
    assert!(
        words.contains(&"SCP changes (it follows the NAT addresses)".to_owned()),
        "{words:?}"
    );
    submit_and_approve(&team, &id).await;
    let applied = step(&team.state, &team.approver, &id, "Apply").await;
    assert!(applied.body.contains("Applied"), "{}", applied.body);
    let content = team
        .aws
        .organizations
        .describe_policy()
        .policy_id(team.scp_id.as_deref().unwrap())
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .content
        .unwrap();
    let content: Value = serde_json::from_str(&content).unwrap();
    assert_eq!(
        content["Statement"][0]["Condition"]["NotIpAddress"]["aws:SourceIp"],
        serde_json::json!(["198.51.100.10/32", "198.51.100.13/32"])
    );
    assert_eq!(
        policy_nat(&team).await,
        serde_json::json!(["198.51.100.10/32", "198.51.100.13/32"])
    );
}
