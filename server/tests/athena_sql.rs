//! The SQL Gatehouse sends to Athena means what the imported engine
//! computes. Every statement is run, as Athena's Trino SQL transpiled to
//! DuckDB by sqlglot (`scripts/athena_duckdb.py`), over the same WAF log
//! files laid out as in S3; its rows, read back the way Athena's are, must
//! give the imported engine's answer exactly: the top list, every key's
//! peak (so every percentile), the busiest keys' windows, the requests per
//! 10-second bucket, the healthy basis and what it left out, and the
//! what-if — for every key kind, filter, window size, fixed and sliding.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::audit::{Actor, Client};
use app::traffic::athena::{self, LogTable, Rows, Statement};
use app::traffic::healthy::Healthy;
use app::traffic::query::{Analysis, KeyBy, UriMatch, parse_time};
use app::traffic::store::{self, Answer, Detail};
use app::traffic::threshold::what_if;
use chrono::{TimeZone, Utc};
use gatehouse::traffic::generate::{Scenario, WEB_ACL_ARN, write_logs};
use gatehouse::traffic::import::{self, Source};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/waf-logs/security-automations-cloudfront.jsonl.gz"
);

/// The real CloudFront records, filed where WAF would put them.
const FIXTURE_KEY: &str = "AWSLogs/123456789012/WAFLogs/cloudfront/AWSWAFSecurityAutomations-Prod/2023/04/24/22/15/fixture.log.gz";

fn table(region: Option<&str>) -> LogTable {
    LogTable {
        database: "waf".into(),
        table: "waf_logs".into(),
        date_column: "date".into(),
        region: region.map(|r| ("region".into(), r.into())),
    }
}

/// Runs `statements` in DuckDB over the logs under `logs`, as Athena would
/// (`scripts/athena_duckdb.py`), with the Python that has sqlglot and
/// DuckDB (`SQL_CHECK_PYTHON`, set by scripts/test.sh).
fn run(logs: &Path, table: &LogTable, statements: &[Statement]) -> Vec<Rows> {
    let python = std::env::var("SQL_CHECK_PYTHON").expect(
        "SQL_CHECK_PYTHON must name a Python with sqlglot and duckdb; scripts/test.sh installs them",
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/athena_duckdb.py");
    let request = json!({
        "statements": statements.iter().map(|s| json!({
            "sql": s.sql,
            "parameters": s.literals(),
        })).collect::<Vec<_>>(),
        "logs": logs,
        "database": table.database,
        "table": table.table,
        "date_column": table.date_column,
        "region_column": table.region.as_ref().map(|(column, _)| column),
    });
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "athena_duckdb.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    results
        .into_iter()
        .map(|r| serde_json::from_value(r).unwrap())
        .collect()
}

fn day(by: KeyBy, window: u32, sliding: bool) -> Analysis {
    Analysis {
        from: parse_time("2026-11-22T00:00:00Z").unwrap(),
        to: parse_time("2026-11-23T00:00:00Z").unwrap(),
        window,
        by,
        uri: None,
        uri_match: UriMatch::Exact,
        method: None,
        country: None,
        web_acl: None,
        label: None,
        sliding,
        limit: 25,
    }
}

/// What a view draws, without the series (Athena's answer has none: its
/// what-if is a statement of its own).
fn drawn(answer: &Answer) -> Value {
    json!({
        "top": answer.top,
        "peaks": answer.peaks,
        "busiest": answer.busiest,
        "totals": answer.totals,
        "healthy": answer.healthy,
    })
}

#[sqlx::test(migrations = "../migrations")]
async fn every_analysis_compiled_to_athena_sql_gives_the_imported_answer(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario {
        start: Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap(),
        hours: 24,
        scale: 0.05,
        seed: 17,
        web_acl_arn: WEB_ACL_ARN.into(),
    };
    let mut files = write_logs(dir.path(), &scenario).unwrap().files;
    let fixture = dir.path().join(FIXTURE_KEY);
    std::fs::create_dir_all(fixture.parent().unwrap()).unwrap();
    std::fs::copy(FIXTURE, &fixture).unwrap();
    files.push(fixture);
    let patterns: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let actor = Actor {
        sub: None,
        username: Some("test".into()),
    };
    import::import(
        &pool,
        import::expand(&patterns).unwrap(),
        Source::Cli,
        Default::default(),
        actor,
        Client::default(),
    )
    .await
    .unwrap();

    let mut questions: Vec<(Analysis, Option<Healthy>)> = Vec::new();
    let forwarded = || KeyBy::Forwarded("X-Forwarded-For".into());
    for by in [KeyBy::Ip, forwarded(), KeyBy::IpUri, KeyBy::Country] {
        for window in [60, 120, 300, 600] {
            for sliding in [false, true] {
                questions.push((day(by.clone(), window, sliding), None));
            }
        }
    }
    let with = |change: &dyn Fn(&mut Analysis)| {
        let mut a = day(KeyBy::Ip, 300, false);
        change(&mut a);
        a
    };
    let filtered = [
        with(&|a| a.uri = Some("/login".into())),
        with(&|a| {
            a.uri = Some("/api/".into());
            a.uri_match = UriMatch::Prefix;
            a.sliding = true;
        }),
        with(&|a| a.method = Some("POST".into())),
        with(&|a| a.country = Some("DE".into())),
        with(&|a| a.web_acl = Some("shop".into())),
        with(&|a| a.web_acl = Some(WEB_ACL_ARN.into())),
        with(&|a| a.web_acl = Some("unknown".into())),
        with(&|a| a.label = Some("awswaf:managed:aws:anonymous-ip-list:".into())),
        with(&|a| {
            a.label = Some("awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList".into())
        }),
        with(&|a| {
            a.by = KeyBy::Forwarded("x-forwarded-for".into());
            a.uri = Some("/".into());
            a.uri_match = UriMatch::Prefix;
            a.method = Some("GET".into());
            a.window = 60;
            a.sliding = true;
        }),
        with(&|a| {
            // A range that starts and ends inside buckets and windows.
            a.from = parse_time("2026-11-22T09:17:43Z").unwrap();
            a.to = parse_time("2026-11-22T15:04:07Z").unwrap();
            a.window = 120;
        }),
        with(&|a| {
            a.limit = 1;
            a.by = KeyBy::Country;
        }),
    ];
    questions.extend(filtered.into_iter().map(|a| (a, None)));
    let basis = |text: &[(&str, &str)]| {
        Healthy::from_query(|k| {
            text.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap()
    };
    let healthy = [
        Healthy::default(),
        basis(&[(
            "exclude",
            "2026-11-22T09:00:00Z/2026-11-22T10:30:00Z,2026-11-22T14:55:00Z/2026-11-22T15:20:00Z",
        )]),
        basis(&[("blocked", "keep"), ("outliers", "keep")]),
        basis(&[("bad_labels", "none")]),
        basis(&[(
            "bad_labels",
            "awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList",
        )]),
    ];
    for basis in healthy {
        questions.push((day(KeyBy::Ip, 300, false), Some(basis.clone())));
        questions.push((day(forwarded(), 60, true), Some(basis)));
    }
    // The real CloudFront records of 2023, read through the region partition.
    let fixture_day = Analysis {
        from: parse_time("2023-04-24T00:00:00Z").unwrap(),
        to: parse_time("2023-04-26T00:00:00Z").unwrap(),
        ..day(KeyBy::Ip, 60, true)
    };

    let clock = std::time::Instant::now();
    let mut imported = Vec::new();
    for (analysis, healthy) in &questions {
        imported.push(
            store::compute(&pool, analysis, Detail::Everything, healthy.as_ref())
                .await
                .unwrap(),
        );
    }
    eprintln!("imported engine: {:?}", clock.elapsed());
    assert!(
        imported[0].top[0].count > 20 && imported[0].peaks.len() > 100,
        "the day has traffic to compare: {:?}, {} keys",
        imported[0].top.first(),
        imported[0].peaks.len()
    );

    let all = table(None);
    let mut statements: Vec<Statement> = questions
        .iter()
        .map(|(analysis, healthy)| athena::counts(&all, analysis, healthy.as_ref()))
        .collect();
    // The what-if at two limits per question, both below the highest peak.
    let mut limits = Vec::new();
    for ((analysis, _), answer) in questions.iter().zip(&imported) {
        let peak = answer.peaks.last().copied().unwrap_or(0);
        for limit in [peak / 4, peak / 2] {
            statements.push(athena::what_if(&all, analysis, limit));
            limits.push((analysis, answer, limit));
        }
    }
    let clock = std::time::Instant::now();
    let results = run(dir.path(), &all, &statements);
    eprintln!(
        "DuckDB ran {} statements in {:?}",
        statements.len(),
        clock.elapsed()
    );
    let (counted, replayed) = results.split_at(questions.len());
    for (i, (((analysis, healthy), imported), rows)) in
        questions.iter().zip(&imported).zip(counted).enumerate()
    {
        if analysis.web_acl.as_deref() != Some("unknown") {
            assert!(
                !imported.top.is_empty(),
                "{analysis:?} asks about some traffic"
            );
        }
        let from_athena = athena::answer(rows, healthy.as_ref()).unwrap();
        assert_eq!(
            drawn(&from_athena),
            drawn(imported),
            "{analysis:?} with {healthy:?}: Athena's rows differ from the imported answer\n{}",
            statements[i].sql
        );
    }
    for ((analysis, imported, limit), rows) in limits.iter().zip(replayed) {
        assert_eq!(
            athena::what_if_answer(rows, *limit).unwrap(),
            what_if(&imported.series, *limit),
            "{analysis:?}: what-if at {limit}"
        );
    }

    let cloudfront = table(Some("cloudfront"));
    let rows = run(
        dir.path(),
        &cloudfront,
        &[athena::counts(&cloudfront, &fixture_day, None)],
    );
    let imported = store::compute(&pool, &fixture_day, Detail::Everything, None)
        .await
        .unwrap();
    assert!(
        !imported.top.is_empty(),
        "the fixture's records are in range"
    );
    assert_eq!(
        drawn(&athena::answer(&rows[0], None).unwrap()),
        drawn(&imported),
        "the real records through the region partition"
    );
}
