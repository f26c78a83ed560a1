//! The AWS call budget and the live-state cache, against the emulator:
//! page views do not become AWS calls, and calls wait for their turn.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::aws_budget::Rates;
use app::state::AwsClients;
use gatehouse::config::AwsConfig;
use http::StatusCode;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::time::{Duration, Instant};

async fn clients(region: &str, live_ttl: Duration, rates: &Rates) -> AwsClients {
    let sdk = gatehouse::aws::sdk_config(&AwsConfig {
        region: Some(region.to_owned()),
        endpoint_url: Some(common::moto_endpoint()),
        probe_timeout_secs: 5,
        live_state_ttl_secs: live_ttl.as_secs(),
        calls_per_second: rates.clone(),
        athena_price_per_tb: 5.0,
    })
    .await;
    AwsClients::new(&sdk, Duration::from_secs(5), live_ttl, rates)
}

fn waf_calls(aws: &AwsClients) -> u64 {
    aws.budget
        .calls()
        .into_iter()
        .find(|(service, _)| *service == "wafv2")
        .map(|(_, n)| n)
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn page_views_do_not_become_aws_calls(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let aws = clients("ap-south-1", Duration::from_secs(60), &Rates::unpaced()).await;
    let (state, viewer, resources) = common::demo_viewer(pool, aws).await;

    let before = waf_calls(&state.aws);
    let first = common::get_as(&state, "/rules", &viewer).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(waf_calls(&state.aws) - before, 1, "one GetWebACL");
    for _ in 0..20 {
        let page = common::get_as(&state, "/rules", &viewer).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(" s ago") || page.body.contains("read just now"));
    }
    assert_eq!(
        waf_calls(&state.aws) - before,
        1,
        "twenty more views, no more calls"
    );
    // The dashboard: threshold health of both web ACLs and the health
    // probe, read once however often it is viewed.
    let before = waf_calls(&state.aws);
    for _ in 0..20 {
        assert_eq!(
            common::get_as(&state, "/", &viewer).await.status,
            StatusCode::OK
        );
    }
    let dashboard = waf_calls(&state.aws) - before;
    assert!(
        dashboard <= 2,
        "{dashboard} WAF calls for 20 dashboard views"
    );
    // The API: the web ACLs listed once (both scopes) however often asked.
    let before = waf_calls(&state.aws);
    for _ in 0..20 {
        let listed = common::get_as(&state, "/api/v1/web-acls", &viewer).await;
        assert_eq!(listed.status, StatusCode::OK);
        assert!(listed.body.contains("\"shop\""), "{}", listed.body);
    }
    let api = waf_calls(&state.aws) - before;
    assert!(api <= 2, "{api} WAF calls for 20 API requests");
    // Forgotten after Gatehouse writes the target: read again.
    let shop = app::changes::kinds::TargetRef {
        name: "shop".into(),
        scope: "REGIONAL".into(),
        id: resources
            .iter()
            .find(|r| r.name == "shop")
            .unwrap()
            .aws_id
            .clone(),
    };
    state
        .aws
        .live
        .forget(app::changes::Kind::WebAclRules, &shop);
    let before = waf_calls(&state.aws);
    common::get_as(&state, "/rules", &viewer).await;
    assert_eq!(waf_calls(&state.aws) - before, 1, "read anew");
}

#[tokio::test]
async fn calls_wait_for_their_turn_and_are_counted() {
    let rates = Rates {
        wafv2: 4.0,
        ..Rates::unpaced()
    };
    let aws = clients("eu-south-2", Duration::ZERO, &rates).await;
    let start = Instant::now();
    for _ in 0..8 {
        aws.wafv2
            .list_web_acls()
            .scope(aws_sdk_wafv2::types::Scope::Regional)
            .send()
            .await
            .unwrap();
    }
    // A burst of four, then four more a quarter of a second apart.
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(waf_calls(&aws), 8);
    // Other services are not held back by WAF's budget.
    let start = Instant::now();
    for _ in 0..8 {
        aws.dynamodb.list_tables().send().await.unwrap();
    }
    assert!(start.elapsed() < Duration::from_millis(900));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_health_probe_does_not_queue_behind_page_reads(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    // One AWS WAF read every two seconds: four reads queued take six.
    let rates = Rates {
        wafv2: 0.5,
        ..Rates::unpaced()
    };
    let aws = clients("eu-north-1", Duration::ZERO, &rates).await;
    let state = common::state(pool, aws).await;
    let queued: Vec<_> = (0..4)
        .map(|_| {
            let wafv2 = state.aws.wafv2.clone();
            tokio::spawn(async move {
                wafv2
                    .list_web_acls()
                    .scope(aws_sdk_wafv2::types::Scope::Regional)
                    .send()
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Counted as they take their turn.
    let queued_calls = waf_calls(&state.aws);
    let start = Instant::now();
    let health = common::get_as(&state, "/healthz", "").await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.body);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "the probe waited {:?}",
        start.elapsed()
    );
    // Counted all the same.
    assert_eq!(waf_calls(&state.aws), queued_calls + 1);
    for read in queued {
        read.await.unwrap().unwrap();
    }
}
