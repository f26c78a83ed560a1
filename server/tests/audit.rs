//! The audit trail in PostgreSQL: append-only, hash-chained, serialised,
//! and failing closed.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::audit::{self, Action, Actor, Client, NewEvent};
use sqlx::{Connection, Executor, PgPool};
use std::process::Command;

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
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["audit", "verify"])
        .env("DATABASE_URL", common::database_url(pool))
        .env("RUST_LOG", "warn")
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
async fn an_intact_chain_verifies(pool: PgPool) {
    assert_eq!(
        audit::verify(&pool).await.unwrap(),
        Ok(0),
        "an empty trail is intact"
    );
    record_events(&pool, 5).await;
    assert_eq!(audit::verify(&pool).await.unwrap(), Ok(5));
    let (code, text) = verify_cli(&pool);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("intact: 5 events"), "{text}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_changed_event_is_named(pool: PgPool) {
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
    let broken = audit::verify(&pool).await.unwrap().unwrap_err();
    assert_eq!(broken.id, third);
    assert!(broken.reason.contains("changed"), "{}", broken.reason);
    let (code, text) = verify_cli(&pool);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(&format!("event {third}")), "{text}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_removed_event_is_named_by_its_successor(pool: PgPool) {
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
    let broken = audit::verify(&pool).await.unwrap().unwrap_err();
    assert_eq!(broken.id, ids[2]);
    assert!(
        broken.reason.contains("removed or reordered"),
        "{}",
        broken.reason
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn swapped_events_are_caught(pool: PgPool) {
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
    let broken = audit::verify(&pool).await.unwrap().unwrap_err();
    assert_eq!(broken.id, ids[0]);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_application_role_cannot_change_or_remove_events(pool: PgPool) {
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
    assert_eq!(audit::verify(&pool).await.unwrap(), Ok(2));
}

#[sqlx::test(migrations = "../migrations")]
async fn even_the_owner_is_stopped_by_the_trigger(pool: PgPool) {
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
async fn concurrent_writers_keep_one_chain(pool: PgPool) {
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
    assert_eq!(audit::verify(&pool).await.unwrap(), Ok(24));
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
async fn a_change_whose_event_cannot_be_written_does_not_happen(pool: PgPool) {
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
