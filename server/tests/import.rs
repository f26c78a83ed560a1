//! Importing WAF log files: what a person importing their logs would check.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::audit::{Actor, Client};
use app::traffic::segment::{NO_COUNTRY, Segment};
use flate2::{Compression, write::GzEncoder};
use gatehouse::traffic::import::{self, LogFile, Source, Summary};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/waf-logs/security-automations-cloudfront.jsonl.gz"
);

fn fixture_lines() -> Vec<String> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(FIXTURE).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text.lines().map(str::to_owned).collect()
}

fn actor() -> Actor {
    Actor {
        sub: None,
        username: Some("test".into()),
    }
}

async fn import_paths(pool: &PgPool, paths: &[&Path]) -> Summary {
    let patterns: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let files = import::expand(&patterns).unwrap();
    import::import(
        pool,
        files,
        Source::Cli,
        Default::default(),
        actor(),
        Client::default(),
    )
    .await
    .unwrap()
}

/// Every stored count of a file (or of all), decoded, as
/// (second, client IP, URI, method, country, requests), sorted.
async fn stored_counts(
    pool: &PgPool,
    file_id: Option<i64>,
) -> Vec<(i64, String, String, String, String, u32)> {
    let segments: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT data FROM traffic_segments WHERE $1::bigint IS NULL OR file_id = $1",
    )
    .bind(file_id)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut rows = Vec::new();
    for bytes in &segments {
        let segment = Segment::decode(bytes).unwrap();
        let text = |id: u32| match id {
            NO_COUNTRY => "-".to_string(),
            id => segment.strings[id as usize].to_string(),
        };
        segment
            .each_count(|c| {
                rows.push((
                    c.second,
                    text(c.ip),
                    text(c.uri),
                    text(c.method),
                    text(c.country),
                    c.requests,
                ));
            })
            .unwrap();
    }
    rows.sort();
    rows
}

async fn requests_stored(pool: &PgPool) -> i64 {
    stored_counts(pool, None)
        .await
        .iter()
        .map(|r| i64::from(r.5))
        .sum()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_fixture_imports_from_the_command_line_and_a_second_import_counts_nothing(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let args: Vec<String> = ["logs", "import", "--json", FIXTURE]
        .map(String::from)
        .to_vec();
    let run = || common::gatehouse_json(&common::database_url(&pool), &args);
    let first = run();
    assert_eq!(
        (
            &first["files"],
            &first["records"],
            &first["malformed"],
            &first["duplicates_skipped"]
        ),
        (
            &Value::from(1),
            &Value::from(228),
            &Value::from(0),
            &Value::from(0)
        )
    );
    assert_eq!(
        first["redacted_client_ips"], 6,
        "the X.X.X.X records are kept and flagged"
    );
    let second = run();
    assert_eq!(
        (&second["records"], &second["duplicates_skipped"]),
        (&Value::from(0), &Value::from(228))
    );
    assert_eq!(requests_stored(&pool).await, 228);
    let redacted: u32 = stored_counts(&pool, None)
        .await
        .iter()
        .filter(|r| r.1 == "X.X.X.X")
        .map(|r| r.5)
        .sum();
    assert_eq!(redacted, 6);
    assert!(
        common::audit_actions(&pool)
            .await
            .iter()
            .filter(|a| *a == "traffic.logs_imported")
            .count()
            == 2,
        "each import is audited"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn malformed_lines_are_counted_and_reported_with_file_and_line(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let dir = tempfile::tempdir().unwrap();
    let lines = fixture_lines();
    let record = &lines[0];
    let text = [
        record.as_str(),
        "{\"timestamp\": 1, \"httpRequ",
        &lines[1],
        "{\"hello\": \"world\"}",
        "",
        "not json at all",
        &lines[2],
        &record[..record.len() / 2],
    ]
    .join("\n");
    let path = dir.path().join("mixed.log");
    std::fs::write(&path, text).unwrap();
    let summary = import_paths(&pool, &[&path]).await;
    assert_eq!((summary.records, summary.malformed), (3, 4));
    let reported: Vec<(u64, &str)> = summary
        .problems
        .iter()
        .map(|p| (p.line, p.error.split(':').next().unwrap()))
        .collect();
    assert_eq!(
        reported,
        [
            (2, "not JSON"),
            (4, "not a WAF log record"),
            (6, "not JSON"),
            (8, "not JSON")
        ]
    );
    assert!(
        summary
            .problems
            .iter()
            .all(|p| p.file == path.display().to_string())
    );
    assert_eq!(requests_stored(&pool).await, 3);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_truncated_gzip_keeps_the_records_before_the_break(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read(FIXTURE).unwrap();
    let cut = &whole[..whole.len() * 6 / 10];
    let path = dir.path().join("cut.log.gz");
    std::fs::write(&path, cut).unwrap();
    // What can be read before the break, counted apart from the import.
    let mut readable = Vec::new();
    let _ = flate2::read::GzDecoder::new(cut).read_to_end(&mut readable);
    let complete = String::from_utf8_lossy(&readable)
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .count() as u64;
    assert!(complete > 50 && complete < 228, "{complete}");

    let summary = import_paths(&pool, &[&path]).await;
    assert_eq!(summary.records, complete);
    assert_eq!(summary.truncated_files, [path.display().to_string()]);
    let note = summary.problems.last().unwrap();
    assert!(note.error.contains("breaks off"), "{note:?}");
    assert_eq!(requests_stored(&pool).await, complete as i64);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_line_too_long_to_be_a_record_is_skipped_and_the_lines_after_it_are_read(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let dir = tempfile::tempdir().unwrap();
    let lines = fixture_lines();
    let path = dir.path().join("long.log");
    let mut text = format!("{}\n", lines[0]);
    text.push_str(&"x".repeat(3 << 20));
    text.push_str(&format!("\n{}\n", lines[1]));
    std::fs::write(&path, text).unwrap();

    let summary = import_paths(&pool, &[&path]).await;
    assert_eq!((summary.records, summary.malformed), (2, 1));
    assert_eq!(summary.problems.len(), 1);
    assert_eq!(summary.problems[0].line, 2);
    assert!(
        summary.problems[0].error.contains("longer than 1 MiB"),
        "{:?}",
        summary.problems[0]
    );
    assert!(summary.truncated_files.is_empty());
}

/// A gzip of `members` members, each `member` bytes of one letter and no
/// newline: deflate's best ratio (about 1,030 to 1), made in moments.
fn gzip_bomb(path: &Path, member: usize, members: usize) -> u64 {
    let mut one = GzEncoder::new(Vec::new(), Compression::best());
    one.write_all(&vec![b'x'; member]).unwrap();
    let one = one.finish().unwrap();
    let mut file = std::fs::File::create(path).unwrap();
    for _ in 0..members {
        file.write_all(&one).unwrap();
    }
    (one.len() * members) as u64
}

/// The most memory this test's process has held (nextest runs each test
/// in a process of its own).
fn peak_memory_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib * 1024
}

#[sqlx::test(migrations = "../migrations")]
async fn a_gzip_bomb_is_stopped_by_name_while_memory_stays_flat(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let dir = tempfile::tempdir().unwrap();
    // 2 GiB without a newline, from about 2 MB.
    let bomb = dir.path().join("bomb.log.gz");
    let compressed = gzip_bomb(&bomb, 8 << 20, 256);
    assert!(compressed < 3 << 20, "{compressed}");
    let name = bomb.display().to_string();

    let summary = import_paths(&pool, &[&bomb]).await;
    assert_eq!(summary.records, 0);
    assert_eq!(summary.truncated_files, std::slice::from_ref(&name));
    let stopped = summary.problems.last().unwrap();
    assert_eq!(stopped.file, name);
    assert!(
        stopped.error.contains("inflates past")
            && stopped.error.contains("1,000 times its compressed size"),
        "{stopped:?}"
    );
    assert!(summary.to_text().contains(&name));
    let peak = peak_memory_bytes();
    eprintln!("peak memory after a 2 GiB bomb: {} MiB", peak >> 20);
    assert!(peak < 200 << 20, "peak memory {} MiB", peak >> 20);

    // The setting stops a file sooner than the ratio does, by its own name.
    let smaller = dir.path().join("smaller.log.gz");
    gzip_bomb(&smaller, 8 << 20, 8);
    let files = import::expand(&[smaller.display().to_string()]).unwrap();
    let limits = app::traffic::ImportLimits {
        max_inflated_bytes: 16 << 20,
    };
    let summary = import::import(
        &pool,
        files,
        Source::Cli,
        limits,
        actor(),
        Client::default(),
    )
    .await
    .unwrap();
    let stopped = summary.problems.last().unwrap();
    assert!(
        stopped
            .error
            .contains("inflates past 16 MiB (the import.max_inflated_bytes setting)"),
        "{stopped:?}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_cloudwatch_export_counts_like_the_same_records_from_s3(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let dir = tempfile::tempdir().unwrap();
    let exported: Vec<String> = fixture_lines()
        .iter()
        .map(|line| {
            let timestamp = serde_json::from_str::<Value>(line).unwrap()["timestamp"].clone();
            serde_json::json!({"logStreamName": "aws-waf-logs-shop_0", "timestamp": timestamp, "message": line})
                .to_string()
        })
        .collect();
    let path = dir.path().join("export.json");
    std::fs::write(&path, exported.join("\n")).unwrap();
    let from_cloudwatch = import_paths(&pool, &[&path]).await;
    let from_s3 = import_paths(&pool, &[Path::new(FIXTURE)]).await;
    assert_eq!((from_cloudwatch.records, from_s3.records), (228, 228));
    let cloudwatch_rows = stored_counts(&pool, Some(1)).await;
    assert_eq!(cloudwatch_rows.iter().map(|r| r.5).sum::<u32>(), 228);
    assert_eq!(cloudwatch_rows, stored_counts(&pool, Some(2)).await);
}

fn write_gz(path: &Path, lines: &[String]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut gz = GzEncoder::new(std::fs::File::create(path).unwrap(), Compression::fast());
    for line in lines {
        writeln!(gz, "{line}").unwrap();
    }
    gz.finish().unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn folders_are_read_recursively_and_globs_expand(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let dir = tempfile::tempdir().unwrap();
    let lines = fixture_lines();
    let layout: [(PathBuf, &[String]); 3] = [
        (
            dir.path()
                .join("AWSLogs/1/WAFLogs/us-east-1/shop/2023/04/24/22/15/a.log.gz"),
            &lines[..100],
        ),
        (
            dir.path()
                .join("AWSLogs/1/WAFLogs/us-east-1/shop/2023/04/24/22/20/b.log.gz"),
            &lines[100..200],
        ),
        (
            dir.path()
                .join("firehose/aws-waf-logs-shop-1-2023-04-24-22-25-00-abcd"),
            &lines[200..],
        ),
    ];
    for (path, part) in &layout {
        write_gz(path, part);
    }
    std::fs::write(dir.path().join("AWSLogs/README.md"), "# not a log\n").unwrap();
    // A file that cannot be read is reported; the others still import.
    std::os::unix::fs::symlink(
        dir.path().join("gone"),
        dir.path().join("firehose/dangling"),
    )
    .unwrap();

    let pattern = format!("{}/AWSLogs/**/*.log.gz", dir.path().display());
    let files = import::expand(&[pattern]).unwrap();
    assert_eq!(
        files.len(),
        2,
        "the glob names the two gzip files: {files:?}"
    );

    let summary = import_paths(&pool, &[dir.path()]).await;
    assert_eq!(
        (summary.files, summary.records, summary.malformed),
        (4, 228, 0),
        "README.md is not read; the dangling link is a file that cannot be read"
    );
    assert!(
        summary
            .problems
            .iter()
            .any(|p| p.file.ends_with("dangling") && p.error.starts_with("cannot read")),
        "{:?}",
        summary.problems
    );
    let missing = import::expand(&[dir.path().join("nothing-*.gz").display().to_string()]);
    assert!(missing.unwrap_err().to_string().contains("no file matches"));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_same_file_imported_twice_at_once_counts_once(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let file = || LogFile {
        path: PathBuf::from(FIXTURE),
        name: "fixture".into(),
    };
    let (a, b) = tokio::join!(
        import::import(
            &pool,
            vec![file()],
            Source::Upload,
            Default::default(),
            actor(),
            Client::default()
        ),
        import::import(
            &pool,
            vec![file(), file()],
            Source::Upload,
            Default::default(),
            actor(),
            Client::default()
        ),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.records + b.records, 228);
    assert_eq!(a.duplicates_skipped + b.duplicates_skipped, 2 * 228);
    assert_eq!(requests_stored(&pool).await, 228);
}

/// `POST /traffic/upload` as the Traffic page sends it.
fn upload_request(cookie: &str, body: Vec<u8>, site: &str) -> http::Request<axum::body::Body> {
    http::Request::post("/traffic/upload?name=cloudfront.jsonl.gz")
        .header(http::header::COOKIE, cookie)
        .header("sec-fetch-site", site)
        .header(http::header::CONTENT_TYPE, "application/octet-stream")
        .body(axum::body::Body::from(body))
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn uploads_need_an_editor_the_same_site_and_a_size_under_the_limit(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    use app::roles::Role;
    let pool = common::pool(options).await;
    let state = common::state(pool.clone(), common::aws("us-east-1").await).await;
    let file = std::fs::read(FIXTURE).unwrap();

    let viewer = common::session_cookie(&state, Role::Viewer).await;
    let refused = common::send(&state, upload_request(&viewer, file.clone(), "same-origin")).await;
    assert_eq!(refused.status, http::StatusCode::FORBIDDEN);
    assert!(refused.body.contains("editor role"), "{}", refused.body);
    assert!(
        common::audit_actions(&pool)
            .await
            .contains(&"auth.access_denied".to_owned())
    );

    let editor = common::session_cookie(&state, Role::Editor).await;
    let cross_site =
        common::send(&state, upload_request(&editor, file.clone(), "cross-site")).await;
    assert_eq!(cross_site.status, http::StatusCode::FORBIDDEN);
    assert_eq!(requests_stored(&pool).await, 0);

    let mut oversized = upload_request(&editor, Vec::new(), "same-origin");
    let declared = (app::traffic::UPLOAD_LIMIT_BYTES + 1).to_string();
    oversized
        .headers_mut()
        .insert(http::header::CONTENT_LENGTH, declared.parse().unwrap());
    let too_large = common::send(&state, oversized).await;
    assert_eq!(too_large.status, http::StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        too_large.body.contains("upload limit"),
        "{}",
        too_large.body
    );

    let accepted = common::send(&state, upload_request(&editor, file, "same-origin")).await;
    assert_eq!(accepted.status, http::StatusCode::OK, "{}", accepted.body);
    let summary: Value = serde_json::from_str(&accepted.body).unwrap();
    assert_eq!(
        (&summary["records"], &summary["files"]),
        (&Value::from(228), &Value::from(1))
    );
    assert_eq!(requests_stored(&pool).await, 228);
    let by: String =
        sqlx::query_scalar("SELECT imported_by FROM log_imports WHERE source = 'upload'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(by, "editor-user");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_s3_prefix_imports_from_the_command_line(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let aws = common::aws("us-east-1").await;
    let bucket = format!("waf-logs-{}", std::process::id());
    aws.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let lines = fixture_lines();
    let key = |minute: &str| {
        format!("AWSLogs/123456789012/WAFLogs/us-east-1/shop/2023/04/24/22/{minute}/part.log.gz")
    };
    for (minute, part) in [("15", &lines[..150]), ("20", &lines[150..])] {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        for line in part {
            writeln!(gz, "{line}").unwrap();
        }
        let body = gz.finish().unwrap();
        aws.s3
            .put_object()
            .bucket(&bucket)
            .key(key(minute))
            .body(body.into())
            .send()
            .await
            .unwrap();
    }
    aws.s3
        .put_object()
        .bucket(&bucket)
        .key("elsewhere/x.log")
        .body(b"{}".to_vec().into())
        .send()
        .await
        .unwrap();

    let url = format!("s3://{bucket}/AWSLogs/");
    let args: Vec<String> = vec!["logs".into(), "import".into(), "--json".into(), url];
    let first = common::gatehouse_json(&common::database_url(&pool), &args);
    assert_eq!(
        (&first["files"], &first["records"], &first["malformed"]),
        (&Value::from(2), &Value::from(228), &Value::from(0)),
        "only the prefix: {first}"
    );
    let again = common::gatehouse_json(&common::database_url(&pool), &args);
    assert_eq!(
        (&again["records"], &again["duplicates_skipped"]),
        (&Value::from(0), &Value::from(228))
    );
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM log_files ORDER BY name")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        names,
        [
            format!("s3://{bucket}/{}", key("15")),
            format!("s3://{bucket}/{}", key("20"))
        ]
    );
    let missing = common::gatehouse()
        .args(["logs", "import", &format!("s3://{bucket}/nothing-here/")])
        .env("DATABASE_URL", common::database_url(&pool))
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no objects under this prefix"));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_traffic_page_imports_an_s3_prefix(_: PgPoolOptions, options: PgConnectOptions) {
    use app::roles::Role;
    let pool = common::pool(options).await;
    let state = common::state(pool.clone(), common::aws("us-east-1").await).await;
    let bucket = format!("page-logs-{}", std::process::id());
    state
        .aws
        .s3
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let body = std::fs::read(FIXTURE).unwrap();
    state
        .aws
        .s3
        .put_object()
        .bucket(&bucket)
        .key("AWSLogs/a.log.gz")
        .body(body.into())
        .send()
        .await
        .unwrap();
    let editor = common::session_cookie(&state, Role::Editor).await;
    let post = |prefix: String| {
        http::Request::post(format!(
            "/traffic/import-s3?prefix={}",
            app::url::encode(&prefix)
        ))
        .header(http::header::COOKIE, &editor)
        .header("sec-fetch-site", "same-origin")
        .body(axum::body::Body::empty())
        .unwrap()
    };
    let imported = common::send(&state, post(format!("s3://{bucket}/AWSLogs/"))).await;
    assert_eq!(imported.status, http::StatusCode::OK, "{}", imported.body);
    let summary: Value = serde_json::from_str(&imported.body).unwrap();
    assert_eq!(summary["records"], 228);
    let empty = common::send(&state, post(format!("s3://{bucket}/nothing/"))).await;
    assert_eq!(empty.status, http::StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        empty.body.contains("no objects under this prefix"),
        "{}",
        empty.body
    );
    let missing = common::send(&state, post("s3://no-such-bucket-here/x".into())).await;
    assert_eq!(missing.status, http::StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        missing.body.contains("check that the bucket exists"),
        "{}",
        missing.body
    );
    assert!(
        !missing.body.contains("NoSuchBucket"),
        "AWS's words stay in the log"
    );
}
