//! The `gatehouse` binary as a person or a script runs it.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use common::gatehouse;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

#[sqlx::test(migrations = "../migrations")]
async fn demo_json_prints_the_url_and_one_sign_in_per_user(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    common::moto_endpoint();
    let output = gatehouse()
        .args(["demo", "--json"])
        .env("DATABASE_URL", common::database_url(&pool))
        .env("AWS_REGION", "eu-south-1")
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:4321")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).expect("stdout is one JSON object");
    assert_eq!(summary["url"], "http://127.0.0.1:4321");
    let users = summary["users"].as_array().unwrap();
    assert_eq!(users.len(), 6);
    for user in users {
        assert!(user["username"].as_str().is_some_and(|u| !u.is_empty()));
        assert!(user["password"].as_str().is_some_and(|p| p.len() >= 12));
    }
    let mut roles: Vec<_> = users.iter().map(|u| u["role"].as_str().unwrap()).collect();
    roles.sort_unstable();
    assert_eq!(
        roles,
        ["admin", "admin", "approver", "approver", "editor", "viewer"]
    );

    let registered: i64 =
        sqlx::query_scalar("SELECT count(*) FROM aws_targets WHERE region = 'eu-south-1'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        registered, 8,
        "the demo registered what it provisioned (with the athena-demo log source)"
    );

    // `traffic top --source athena-demo` prints what the imported logs'
    // `traffic top` prints, from Athena's rows (queued in the emulator as
    // Athena would return them: a header row, then text).
    let start = (chrono::Utc::now() - chrono::Duration::days(3)).timestamp() / 300 * 300;
    let columns = app::traffic::athena::COUNT_COLUMNS;
    let cells = |values: &[Option<String>]| {
        json!({"Data": values.iter().map(|v| match v {
            Some(text) => json!({"VarCharValue": text}),
            None => json!({}),
        }).collect::<Vec<_>>()})
    };
    let row = |values: [Option<i64>; 14], key: Option<&str>| {
        let mut texts: Vec<Option<String>> =
            values.iter().map(|v| v.map(|n| n.to_string())).collect();
        texts[1] = key.map(str::to_owned);
        cells(&texts)
    };
    let header = cells(&columns.map(|c| Some(c.to_owned())));
    let rows = vec![
        header,
        row(
            [
                Some(0),
                None,
                None,
                Some(start),
                Some(900),
                Some(1),
                Some(1),
                Some(900),
                Some(1),
                None,
                None,
                None,
                None,
                None,
            ],
            Some("198.51.100.7"),
        ),
        row(
            [
                Some(0),
                None,
                None,
                Some(start + 300),
                Some(12),
                Some(2),
                Some(2),
                Some(12),
                Some(9),
                None,
                None,
                None,
                None,
                None,
            ],
            Some("192.0.2.1"),
        ),
        row(
            [
                Some(1),
                None,
                None,
                Some(start),
                Some(1000),
                None,
                None,
                None,
                None,
                None,
                None,
                Some(0),
                Some(0),
                Some(0),
            ],
            None,
        ),
    ];
    let info: Vec<Value> = columns
        .iter()
        .map(|c| json!({"Name": c, "Label": c, "Type": "varchar", "CatalogName": "hive", "SchemaName": "", "TableName": "", "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": false}))
        .collect();
    let queued = reqwest::Client::new()
        .post(format!(
            "{}/moto-api/static/athena/query-results",
            common::moto_endpoint()
        ))
        .json(
            &json!({"account_id": "123456789012", "region": "eu-south-1",
                      "results": [{"rows": rows, "column_info": info}]}),
        )
        .send()
        .await
        .unwrap();
    assert!(queued.status().is_success());
    let to = (chrono::Utc::now() + chrono::Duration::hours(1)).timestamp();
    let at = |seconds: i64| {
        app::traffic::query::rfc3339(chrono::DateTime::from_timestamp(seconds, 0).unwrap())
    };
    let range = [format!("--from={}", at(start)), format!("--to={}", at(to))];
    let top = |source: &str| {
        let output = gatehouse()
            .args([
                "traffic", "top", "--format", "json", "--limit", "5", "--source", source,
            ])
            .args(&range)
            .env("DATABASE_URL", common::database_url(&pool))
            .env("AWS_REGION", "eu-south-1")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<Value>(&output.stdout).expect("stdout is one JSON value")
    };
    let on_athena = top("athena-demo");
    let imported = top("imported");
    let fields = |rows: &Value| {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_object().unwrap().keys().cloned().collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    assert_eq!(on_athena.as_array().unwrap().len(), 2, "{on_athena}");
    assert_eq!(on_athena[0]["key"], "198.51.100.7");
    assert_eq!(on_athena[0]["count"], 900);
    assert!(
        !imported.as_array().unwrap().is_empty(),
        "the demo imported its sample day"
    );
    assert_eq!(
        fields(&on_athena)[0],
        fields(&imported)[0],
        "the same shape"
    );
}

#[test]
fn the_demo_refuses_real_aws_unless_told_really() {
    let output = gatehouse()
        .args(["demo"])
        .env_remove("AWS_ENDPOINT_URL")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:9/none")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("give --really"), "{stderr}");
}

/// A stand-in on loopback for an endpoint that answers what is not an AWS
/// answer: every request gets 404 and an HTML page, as moto 5.2.6 answers
/// Athena's JSON protocol.
async fn not_aws_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let pages = axum::Router::new().fallback(|| async {
        (
            http::StatusCode::NOT_FOUND,
            axum::response::Html("<!doctype html><title>404 Not Found</title><h1>Not Found</h1>"),
        )
    });
    tokio::spawn(async move { axum::serve(listener, pages).await });
    format!("http://{address}")
}

#[sqlx::test(migrations = "../migrations")]
async fn demo_sets_up_the_rest_when_athena_answers_what_is_not_aws(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    common::moto_endpoint();
    let athena = not_aws_endpoint().await;
    // An audit anchor whose folder is a file: no checkpoint can go there.
    let not_a_folder = tempfile::NamedTempFile::new().unwrap();
    let anchor = not_a_folder.path().join("checkpoints.json");
    // The SDK's per-service endpoint: Athena alone goes to the stand-in.
    let output = tokio::process::Command::from(gatehouse())
        .args(["demo", "--json"])
        .env("DATABASE_URL", common::database_url(&pool))
        .env("AWS_REGION", "ap-south-2")
        .env("AWS_ENDPOINT_URL_ATHENA", &athena)
        .env(
            "GATEHOUSE_AUDIT__KEY",
            "a-test-key-of-at-least-32-characters",
        )
        .env("GATEHOUSE_AUDIT__ANCHOR", &anchor)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let summary: Value = serde_json::from_slice(&output.stdout).expect("stdout is one JSON object");
    assert_eq!(summary["users"].as_array().map(Vec::len), Some(6));
    let skipped = summary["not_set_up"].as_array().unwrap();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert_eq!(skipped[0]["part"], "the Athena log source athena-demo");
    let why = skipped[0]["why"].as_str().unwrap();
    assert!(
        why.contains("athena:GetWorkGroup failed: the endpoint answered HTTP 404"),
        "an answer is not called a timeout: {why}"
    );
    assert!(!why.contains("no answer"), "{why}");
    assert_eq!(skipped[1]["part"], "the audit anchor");
    let why = skipped[1]["why"].as_str().unwrap();
    assert!(why.contains(&anchor.display().to_string()), "{why}");
    assert!(
        stderr.contains("athena-demo not set up") && stderr.contains("audit anchor not set up"),
        "said as it happens: {stderr}"
    );

    // Everything else was set up: the seven other targets, the sample logs
    // and the change request waiting for review.
    let registered: Vec<String> =
        sqlx::query_scalar("SELECT name FROM aws_targets WHERE region = 'ap-south-2'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(registered.len(), 7, "{registered:?}");
    assert!(
        !registered.iter().any(|name| name == "athena-demo"),
        "{registered:?}"
    );
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM log_files")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(records > 0, "the sample logs were imported");
    let changes: i64 = sqlx::query_scalar("SELECT count(*) FROM change_requests")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(changes, 1, "the sample change request is open");
}

#[sqlx::test(migrations = false)]
async fn migrate_creates_the_schema_and_is_idempotent(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    for _ in 0..2 {
        let output = gatehouse()
            .arg("migrate")
            .env("DATABASE_URL", common::database_url(&pool))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(tables.contains(&"aws_targets".to_owned()), "{tables:?}");
}

#[test]
fn a_bad_setting_stops_start_up_with_its_name() {
    let output = gatehouse()
        .arg("serve")
        .env("LEPTOS_SITE_ADDR", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("site_addr"), "{stderr}");
}

#[test]
fn an_unreachable_database_is_named_without_its_password() {
    let output = gatehouse()
        .arg("serve")
        .env(
            "DATABASE_URL",
            "postgres://app:hunter2@127.0.0.1:9/gatehouse",
        )
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("database_url"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn policy_simulate_answers_each_json_line_on_stdin() {
    use std::io::Write;
    let mut child = gatehouse()
        .args(["policy", "simulate"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let request = r#"{"policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:*/*/GET/petstore/v2/status"}]}], "action": "execute-api:Invoke", "resource": "arn:aws:execute-api:eu-west-1:111122223333:a1b2/prod/GET/petstore/v2/status"}"#;
    let post = request.replace("a1b2/prod/GET", "a1b2/prod/POST");
    writeln!(child.stdin.take().unwrap(), "{request}\n{post}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let answers: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(answers[0]["decision"], "Allow");
    assert_eq!(answers[1]["decision"], "ImplicitDeny");
}
