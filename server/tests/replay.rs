//! The replay and threshold health end to end: the demo's web ACL in the
//! emulator, a day of generated logs naming it, imported; the replay read
//! through the command line and the API, checked against counts of the raw
//! records; an IP set read live; a change request's rules beside the
//! rules it is based on; the health verdicts and their exit code.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::audit::{Actor, Client};
use app::roles::Role;
use app::rules::live;
use chrono::{TimeZone, Utc};
use gatehouse::demo;
use gatehouse::traffic::generate::{Scenario, write_logs};
use gatehouse::traffic::import::{self, Source};
use http::StatusCode;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::io::BufRead;

const REGION: &str = "af-south-1";
const FROM: &str = "2026-11-22T00:00:00Z";
const TO: &str = "2026-11-23T00:00:00Z";

fn actor(name: &str) -> Actor {
    Actor {
        sub: None,
        username: Some(name.into()),
    }
}

/// Runs `gatehouse` in the test's region and database; (exit code, stdout).
fn run(database_url: &str, args: &[&str]) -> (i32, String) {
    let output = common::gatehouse()
        .args(args)
        .env("AWS_REGION", REGION)
        .env("DATABASE_URL", database_url)
        .output()
        .unwrap();
    let code = output.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 2,
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (code, String::from_utf8(output.stdout).unwrap())
}

fn rule<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no rule {name} in {report}"))
}

#[sqlx::test(migrations = "../migrations")]
async fn replay_and_threshold_health_read_the_imported_traffic(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let url = common::database_url(&pool);
    let aws = common::aws(REGION).await;
    let resources = demo::provision(&aws).await.unwrap();
    demo::register(&pool, &aws, &resources).await.unwrap();
    let shop = live::rules(&aws.wafv2, "REGIONAL", "shop").await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario {
        start: Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap(),
        hours: 24,
        scale: 0.05,
        seed: 3,
        web_acl_arn: shop.web_acl.arn.clone(),
    };
    let files = write_logs(dir.path(), &scenario).unwrap().files;
    let patterns: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    import::import(
        &pool,
        import::expand(&patterns).unwrap(),
        Source::Cli,
        Default::default(),
        actor("test"),
        Client::default(),
    )
    .await
    .unwrap();
    // The independent side: the raw records' /login requests.
    let mut login = 0u64;
    for file in &files {
        let reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(
            std::fs::File::open(file).unwrap(),
        ));
        for line in reader.lines() {
            let record: Value = serde_json::from_str(&line.unwrap()).unwrap();
            if record["httpRequest"]["uri"]
                .as_str()
                .unwrap()
                .starts_with("/login")
            {
                login += 1;
            }
        }
    }

    // The live rules, by the command line.
    let (_, out) = run(
        &url,
        &[
            "traffic",
            "replay",
            "--web-acl",
            "shop",
            "--from",
            FROM,
            "--to",
            TO,
            "--format",
            "json",
        ],
    );
    let live: Value = serde_json::from_str(&out).unwrap();
    let reputation = rule(&live, "AWS-AWSManagedRulesAmazonIpReputationList");
    assert!(
        reputation["unknown"]
            .as_str()
            .unwrap()
            .contains("managed rule group"),
        "named, not guessed: {reputation}"
    );
    let uri_based = rule(&live, "UriBasedRule");
    assert_eq!(uri_based["reached"], login, "the scope-down counts /login");
    assert_eq!(uri_based["keys"], 4, "the brute forcers: {uri_based}");
    let blocked: Vec<&str> = uri_based["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert!(
        blocked.iter().all(|k| k.starts_with("203.0.113.")),
        "{blocked:?}"
    );
    assert_eq!(rule(&live, "BlanketRule")["requests"], 0);

    // A file of rules: an IP set (read live) blocking one brute forcer
    // ahead of the rate rules.
    let set = aws
        .wafv2
        .create_ip_set()
        .name("replay-blocklist")
        .scope(aws_sdk_wafv2::types::Scope::Regional)
        .ip_address_version(aws_sdk_wafv2::types::IpAddressVersion::Ipv4)
        .addresses("203.0.113.40/32")
        .send()
        .await
        .unwrap();
    let set_arn = set.summary().unwrap().arn().unwrap().to_owned();
    let mut rules = app::rules::model::rules_json(&shop.rules);
    rules.as_array_mut().unwrap().push(json!({
        "Name": "Blocklist", "Priority": 5, "Action": {"Block": {}},
        "Statement": {"IPSetReferenceStatement": {"ARN": set_arn}},
        "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "b"}}));
    // Ahead of the rate rules: priorities 0 (reputation), 5, then the rate rules at 10 and 11.
    for r in rules.as_array_mut().unwrap() {
        if r["Name"] == "UriBasedRule" {
            r["Priority"] = json!(10);
        }
        if r["Name"] == "BlanketRule" {
            r["Priority"] = json!(11);
        }
    }
    let file = dir.path().join("rules.json");
    std::fs::write(&file, rules.to_string()).unwrap();
    let (_, out) = run(
        &url,
        &[
            "traffic",
            "replay",
            "--web-acl",
            "shop",
            "--rules",
            file.to_str().unwrap(),
            "--from",
            FROM,
            "--to",
            TO,
            "--format",
            "json",
        ],
    );
    let from_file: Value = serde_json::from_str(&out).unwrap();
    let blocklist = rule(&from_file, "Blocklist");
    assert_eq!(blocklist["keys"], 1);
    assert_eq!(blocklist["top"][0]["key"], "203.0.113.40");
    let uri_after = rule(&from_file, "UriBasedRule");
    assert_eq!(uri_after["keys"], 3, "the listed address never reaches it");
    assert_eq!(
        uri_after["reached"].as_u64().unwrap() + blocklist["requests"].as_u64().unwrap(),
        login,
        "what the IP set blocked of /login, and the rest"
    );

    // A change request raising the /login limit above the brute force.
    let mut raised = app::rules::model::rules_json(&shop.rules);
    for r in raised.as_array_mut().unwrap() {
        if r["Name"] == "UriBasedRule" {
            r["Statement"]["RateBasedStatement"]["Limit"] = json!(1000);
        }
    }
    let raised = app::rules::model::read_rules(raised).unwrap();
    let id = app::rules::drafts::create(
        &pool,
        &shop,
        "Raise the /login limit",
        &raised,
        actor("editor-user"),
        Client::default(),
    )
    .await
    .unwrap();
    let (_, out) = run(
        &url,
        &[
            "traffic",
            "replay",
            "--web-acl",
            "shop",
            "--draft",
            &id.to_string(),
            "--from",
            FROM,
            "--to",
            TO,
            "--format",
            "json",
        ],
    );
    let by_cli: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(by_cli["keys_newly_allowed"], 4, "{by_cli}");
    assert_eq!(
        by_cli["requests_newly_allowed"], uri_based["requests"],
        "every request the live /login rule blocked"
    );
    assert_eq!(by_cli["keys_newly_blocked"], 0);

    // The API answers the same, to its author while a draft; nobody
    // signed out; another editor is told there is no such change.
    let state = common::state(pool.clone(), aws.clone()).await;
    let author = common::session_cookie(&state, Role::Editor).await;
    let path = format!("/api/v1/traffic/replay?change={id}&from={FROM}&to={TO}");
    let reply = common::get_as(&state, &path, &author).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(serde_json::from_str::<Value>(&reply.body).unwrap(), by_cli);
    assert_eq!(
        common::get_as(&state, &path, "").await.status,
        StatusCode::UNAUTHORIZED
    );
    let other = common::cookie_for(&state, "someone-else", &[Role::Editor.default_group()]).await;
    assert_eq!(
        common::get_as(&state, &path, &other).await.status,
        StatusCode::NOT_FOUND
    );
    let bad = common::get_as(&state, "/api/v1/traffic/replay?web_acl=nope", &author).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);

    // Threshold health: both rate rules have traffic, neither is near its
    // limit; a stricter setting makes the /login rule tight (exit 2).
    let (code, out) = run(&url, &["traffic", "health", "--format", "json"]);
    assert_eq!(code, 0, "{out}");
    let health: Value = serde_json::from_str(&out).unwrap();
    let verdicts: Vec<(&str, &str)> = health["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rule"].as_str().unwrap(), r["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        [("UriBasedRule", "Loose"), ("BlanketRule", "Loose")]
    );
    assert!(health["rules"].as_array().unwrap().iter().all(
        |r| r["unreviewed"] == true && r["analysis"].as_str().unwrap().starts_with("/traffic?")
    ));
    run(&url, &["settings", "set-health", "--tight-percent", "1"]);
    let (code, out) = run(&url, &["traffic", "health"]);
    assert_eq!(code, 2, "a tight rule: {out}");
    assert!(
        out.contains("UriBasedRule") && out.contains("→ tight"),
        "{out}"
    );

    // The comparison is kept: a review page viewed again, or by another
    // reviewer, does not replay the day again — until the imports change.
    let replayed = common::get_as(&state, &path, &author).await;
    assert_eq!(replayed.status, StatusCode::OK, "{}", replayed.body);
    sqlx::query("UPDATE traffic_segments SET data = '\\x00'::bytea, by_ip = '\\x00'::bytea")
        .execute(&pool)
        .await
        .unwrap();
    let kept = common::get_as(&state, &path, &author).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
    assert_eq!(kept.body, replayed.body);
    sqlx::query(
        "DELETE FROM traffic_segments WHERE ctid IN (SELECT ctid FROM traffic_segments LIMIT 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let again = common::get_as(&state, &path, &author).await;
    assert_ne!(
        again.status,
        StatusCode::OK,
        "replayed anew, over the damage"
    );
}
