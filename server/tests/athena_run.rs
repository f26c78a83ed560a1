//! Runs on Athena through the real SDK against moto: what Gatehouse sends
//! (the SQL text and its execution parameters, as moto's
//! `GetQueryExecution` returns them), the states a query steps through
//! (moto's state manager), the rows read back (queued through moto's
//! `/moto-api/static/athena/query-results`, header row included), a
//! cancellation, a failure told in words, and the audit of each run.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::audit::{Actor, Client};
use app::traffic::athena::{self, LogTable};
use app::traffic::athena_run::{self, RunState, Workgroup};
use app::traffic::query::{Analysis, KeyBy, UriMatch, parse_time};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Moto keeps each region's queries and queued results apart.
const REGION: &str = "eu-north-1";

fn actor() -> Actor {
    Actor {
        sub: Some("sub-1".into()),
        username: Some("erin".into()),
    }
}

fn analysis() -> Analysis {
    Analysis {
        from: parse_time("2026-11-22T00:00:00Z").unwrap(),
        to: parse_time("2026-11-23T00:00:00Z").unwrap(),
        window: 300,
        by: KeyBy::Ip,
        uri: Some("/login".into()),
        uri_match: UriMatch::Exact,
        method: None,
        country: None,
        web_acl: None,
        label: None,
        sliding: false,
        limit: 100,
    }
}

fn table() -> LogTable {
    LogTable {
        database: "waf".into(),
        table: "waf_logs".into(),
        date_column: "date".into(),
        region: Some(("region".into(), "us-east-1".into())),
    }
}

fn workgroup() -> Workgroup<'static> {
    Workgroup {
        source: "athena-test",
        workgroup: "primary",
        output_location: Some("s3://gatehouse-athena-results/"),
        database: "waf",
    }
}

async fn moto(path: &str, body: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", common::moto_endpoint()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

/// Every query of these tests moves on a state every second `GetQueryExecution`.
async fn step_by_step() {
    moto(
        "/moto-api/state-manager/set-transition",
        json!({"model_name": "athena::execution", "transition": {"progression": "manual", "times": 2}}),
    )
    .await;
}

async fn audited(pool: &sqlx::PgPool) -> Vec<(String, Value)> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT action, after FROM audit_events WHERE action LIKE 'traffic.athena_%' ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(action, after)| {
            let after = after
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .unwrap();
            (action, after.unwrap_or_default())
        })
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_run_sends_values_as_parameters_steps_through_its_states_and_keeps_its_rows(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let aws = common::aws(REGION).await;
    step_by_step().await;
    // The rows Athena would answer, header first, as moto hands them out.
    let cell = |v: Option<&str>| match v {
        Some(v) => json!({"VarCharValue": v}),
        None => json!({}),
    };
    let row = |values: &[Option<&str>]| json!({"Data": values.iter().map(|v| cell(*v)).collect::<Vec<_>>()});
    let header: Vec<Option<&str>> = athena::COUNT_COLUMNS.iter().map(|c| Some(*c)).collect();
    // A row with these columns set, the rest NULL.
    let with = |set: &[(&str, &'static str)]| -> Vec<Option<&'static str>> {
        athena::COUNT_COLUMNS
            .iter()
            .map(|column| set.iter().find(|(c, _)| c == column).map(|(_, v)| *v))
            .collect()
    };
    let total = with(&[
        ("total_row", "1"),
        ("window_start", "1795341600"),
        ("requests", "420"),
        ("excluded_time", "0"),
        ("blocked", "0"),
        ("labelled", "0"),
    ]);
    let top = with(&[
        ("total_row", "0"),
        ("key", "203.0.113.9"),
        ("window_start", "1795341600"),
        ("requests", "400"),
        ("top_rank", "1"),
        ("busiest_rank", "1"),
        ("peak", "400"),
        ("keys_with_peak", "1"),
    ]);
    moto(
        "/moto-api/static/athena/query-results",
        json!({
            "account_id": "123456789012",
            "region": REGION,
            "results": [{
                "rows": [row(&header), row(&total), row(&top)],
                "column_info": athena::COUNT_COLUMNS.iter().map(|c| json!({"Name": c, "Type": "varchar"})).collect::<Vec<_>>(),
            }],
        }),
    )
    .await;

    let statement = athena::counts(&table(), &analysis(), None);
    let run = athena_run::start(
        &pool,
        &aws.athena,
        &workgroup(),
        &statement,
        &actor(),
        &Client::default(),
    )
    .await
    .unwrap();
    assert_eq!(run.state, RunState::Queued);
    let execution = run
        .query_execution_id
        .clone()
        .expect("Athena named the query");

    // What Athena received: the SQL text and the values apart from it.
    let sent = aws
        .athena
        .get_query_execution()
        .query_execution_id(&execution)
        .send()
        .await
        .unwrap();
    let query = sent.query_execution().unwrap();
    assert_eq!(query.query(), Some(statement.sql.as_str()));
    assert!(!statement.sql.contains("/login"));
    assert_eq!(query.execution_parameters(), statement.literals());
    assert!(
        query
            .execution_parameters()
            .contains(&"'/login'".to_owned())
    );
    assert_eq!(
        query.query_execution_context().and_then(|c| c.database()),
        Some("waf")
    );

    // Read on until it ends: queued, running, then succeeded.
    let mut states = Vec::new();
    loop {
        let run = athena_run::advance(&pool, &aws.athena, run.id, &actor())
            .await
            .unwrap();
        states.push(run.state);
        if run.state.is_final() {
            break;
        }
        assert!(states.len() < 10, "the query never ended: {states:?}");
    }
    assert_eq!(states.last(), Some(&RunState::Succeeded), "{states:?}");
    assert!(states.contains(&RunState::Running), "{states:?}");

    let rows = athena_run::rows(&pool, run.id).await.unwrap().unwrap();
    assert_eq!(
        rows.columns,
        athena::COUNT_COLUMNS.map(str::to_owned).to_vec()
    );
    assert_eq!(rows.rows.len(), 2, "the header row is not a row");
    let answer = athena::answer(&rows, None).unwrap();
    assert_eq!(answer.top[0].key, "203.0.113.9");
    assert_eq!(answer.top[0].count, 400);
    assert_eq!(answer.totals, [(179_534_160, 420)]);
    assert_eq!(answer.peaks, [400]);

    // The same question again is the kept run: nothing is sent.
    let kept = athena_run::newest(&pool, &athena_run::question("athena-test", &statement))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((kept.id, kept.state), (run.id, RunState::Succeeded));

    let events = audited(&pool).await;
    assert_eq!(
        events.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(),
        ["traffic.athena_started", "traffic.athena_finished"]
    );
    assert_eq!(events[1].1["state"], "succeeded");
    assert_eq!(events[1].1["bytes_scanned"], 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_run_can_be_cancelled_while_it_runs(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let aws = common::aws(REGION).await;
    step_by_step().await;
    let statement = athena::what_if(&table(), &analysis(), 150);
    let run = athena_run::start(
        &pool,
        &aws.athena,
        &workgroup(),
        &statement,
        &actor(),
        &Client::default(),
    )
    .await
    .unwrap();
    let cancelled = athena_run::cancel(&pool, &aws.athena, run.id, &actor(), &Client::default())
        .await
        .unwrap();
    assert_eq!(cancelled.state, RunState::Cancelled);
    assert!(cancelled.reason.unwrap().contains("cancelled"));
    assert!(athena_run::rows(&pool, run.id).await.unwrap().is_none());
    let actions: Vec<String> = audited(&pool).await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        actions,
        [
            "traffic.athena_started",
            "traffic.athena_cancelled",
            "traffic.athena_finished"
        ]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refused_start_is_a_failed_run_told_in_words(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let aws = common::aws(REGION).await;
    let statement = athena::counts(&table(), &analysis(), None);
    let nowhere = Workgroup {
        workgroup: "no-such-workgroup",
        ..workgroup()
    };
    let run = athena_run::start(
        &pool,
        &aws.athena,
        &nowhere,
        &statement,
        &actor(),
        &Client::default(),
    )
    .await
    .unwrap();
    assert_eq!(run.state, RunState::Failed, "{run:?}");
    let reason = run.reason.unwrap();
    assert!(
        reason.contains("Athena refused StartQueryExecution"),
        "{reason}"
    );
}

#[tokio::test]
async fn the_log_table_is_created_in_glue_as_shown() {
    use app::traffic::athena_table::{self, NewLogTable};
    let aws = common::aws("eu-south-2").await;
    // A table of its own: the emulator outlives a run of the test.
    let name = format!("shop_logs_{}", uuid::Uuid::new_v4().simple());
    let new = NewLogTable {
        database: "waf_created".into(),
        table: name.clone(),
        bucket: "shop-waf-logs".into(),
        account: "123456789012".into(),
        web_acl: "shop".into(),
        region: "us-east-1".into(),
        first_day: "2026/01/01".into(),
    };
    athena_table::create(&aws.glue, &new).await.unwrap();
    let table = aws
        .glue
        .get_table()
        .database_name("waf_created")
        .name(&name)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let keys: Vec<&str> = table.partition_keys().iter().map(|c| c.name()).collect();
    assert_eq!(keys, ["region", "date"]);
    let parameters = table.parameters().unwrap();
    assert_eq!(parameters["projection.enabled"], "true");
    assert_eq!(parameters["projection.date.format"], "yyyy/MM/dd");
    assert_eq!(
        parameters["storage.location.template"],
        "s3://shop-waf-logs/AWSLogs/123456789012/WAFLogs/${region}/shop/${date}/"
    );
    let storage = table.storage_descriptor().unwrap();
    assert_eq!(
        storage.serde_info().and_then(|s| s.serialization_library()),
        Some("org.openx.data.jsonserde.JsonSerDe")
    );
    let columns: Vec<&str> = storage.columns().iter().map(|c| c.name()).collect();
    for needed in ["timestamp", "webaclid", "action", "labels", "httprequest"] {
        assert!(columns.contains(&needed), "{columns:?}");
    }
    // The table is there now: creating it again says so.
    let again = athena_table::create(&aws.glue, &new).await.unwrap_err();
    assert!(again.contains("already exists"), "{again}");
}
