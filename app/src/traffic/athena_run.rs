//! Running a statement on Amazon Athena and keeping its rows.
//!
//! A run is started with `StartQueryExecution` (the statement's values as
//! execution parameters), followed with `GetQueryExecution` until it
//! succeeds, fails or is cancelled (`StopQueryExecution`), and its rows
//! are read with `GetQueryResults`, page by page. Every step is kept in
//! `athena_runs`, so whichever request or replica looks next carries the
//! run on: nothing waits in a process of its own. The newest run of a
//! question answers a shared link or a chart drawn again without a new
//! scan; each start, end and cancellation is audited with who asked, the
//! source and the bytes scanned.

use super::athena::{Rows, Statement};
pub use super::runs::{Run, RunState};
use crate::audit::{self, Action, Actor, Client, NewEvent};
use crate::error::AppError;
use aws_sdk_athena::types::{QueryExecutionState, ResultConfiguration};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// Where a statement runs: a registered Athena log source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workgroup<'a> {
    /// The log source's registered name.
    pub source: &'a str,
    pub workgroup: &'a str,
    /// `s3://…/` for the results, unless the workgroup sets one.
    pub output_location: Option<&'a str>,
    pub database: &'a str,
}

/// The key a run is kept under: the source, the statement and its values.
pub fn question(source: &str, statement: &Statement) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(source.as_bytes());
    hash.update([0]);
    hash.update(statement.sql.as_bytes());
    for literal in statement.literals() {
        hash.update([0]);
        hash.update(literal.as_bytes());
    }
    hash.finalize().to_vec()
}

/// Why Athena could not run a statement, in words for the person; AWS's
/// own text goes to the log.
fn refused(operation: &str, error: impl std::fmt::Display + std::fmt::Debug) -> AppError {
    tracing::warn!(operation, error = ?error, "Athena refused a call");
    let text = error.to_string();
    let message = if text.contains("AccessDenied") {
        format!(
            "Athena refused {operation}: the console's AWS role may not use this workgroup, its data catalog or the logs' bucket"
        )
    } else if text.contains("output location") {
        format!(
            "Athena refused {operation}: it has nowhere to write the results (give the log source a query results location, or set one on its workgroup)"
        )
    } else if text.contains("Throttling") || text.contains("TooManyRequests") {
        format!("Athena is throttling this account's API calls ({operation}); try again shortly")
    } else {
        format!("Athena refused {operation}; the console's log has AWS's reason")
    };
    AppError::Unavailable(message)
}

/// The newest run of `question`, if any.
pub async fn newest(pool: &PgPool, question: &[u8]) -> Result<Option<Run>, AppError> {
    let id = sqlx::query_scalar!(
        "SELECT id FROM athena_runs WHERE question = $1 ORDER BY id DESC LIMIT 1",
        question
    )
    .fetch_optional(pool)
    .await?;
    match id {
        Some(id) => Ok(Some(read(pool, id).await?)),
        None => Ok(None),
    }
}

pub async fn read(pool: &PgPool, id: i64) -> Result<Run, AppError> {
    let row = sqlx::query!(
        "SELECT id, source, query_execution_id, state, reason, bytes_scanned, execution_ms,
                started_by, started_at, finished_at
           FROM athena_runs WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(Run {
        id: row.id,
        source: row.source,
        query_execution_id: row.query_execution_id,
        state: RunState::parse(&row.state),
        reason: row.reason,
        bytes_scanned: row.bytes_scanned,
        execution_ms: row.execution_ms,
        started_by: row.started_by,
        started_at: row.started_at,
        finished_at: row.finished_at,
    })
}

/// The rows of a run that succeeded.
pub async fn rows(pool: &PgPool, id: i64) -> Result<Option<Rows>, AppError> {
    let result = sqlx::query_scalar!("SELECT result FROM athena_runs WHERE id = $1", id)
        .fetch_optional(pool)
        .await?
        .flatten();
    result
        .map(|value| {
            serde_json::from_value(value).map_err(|e| AppError::internal("athena_runs.result", e))
        })
        .transpose()
}

/// Starts `statement` on Athena for `actor`: the run is recorded and
/// audited first (if that fails, nothing is started), then sent.
pub async fn start(
    pool: &PgPool,
    athena: &aws_sdk_athena::Client,
    at: &Workgroup<'_>,
    statement: &Statement,
    actor: &Actor,
    client: &Client,
) -> Result<Run, AppError> {
    let question = question(at.source, statement);
    let started_by = actor.username.clone().unwrap_or_default();
    let mut tx = pool.begin().await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO athena_runs (source, question, sql, parameters, state, started_by)
         VALUES ($1, $2, $3, $4, 'queued', $5) RETURNING id",
        at.source,
        &question,
        statement.sql,
        json!(statement.literals()),
        started_by,
    )
    .fetch_one(&mut *tx)
    .await?;
    let mut event = NewEvent::new(
        Action::AthenaRunStarted,
        Some(actor.clone()),
        client.clone(),
    );
    event.target = Some(format!("log source {}", at.source));
    event.after = Some(json!({
        "run": id,
        "workgroup": at.workgroup,
        "database": at.database,
        "question": hex::encode(&question),
    }));
    audit::record(&mut tx, event).await?;
    tx.commit().await?;

    let mut request = athena
        .start_query_execution()
        .query_string(&statement.sql)
        .work_group(at.workgroup)
        .query_execution_context(
            aws_sdk_athena::types::QueryExecutionContext::builder()
                .database(at.database)
                .build(),
        )
        .set_execution_parameters((!statement.parameters.is_empty()).then(|| statement.literals()))
        // Retries of the same run start one query.
        .client_request_token(format!(
            "gatehouse-run-{id:020}-{}",
            hex::encode(&question[..8])
        ));
    if let Some(location) = at.output_location {
        request = request.result_configuration(
            ResultConfiguration::builder()
                .output_location(location)
                .build(),
        );
    }
    match request.send().await {
        Ok(started) => {
            sqlx::query!(
                "UPDATE athena_runs SET query_execution_id = $2 WHERE id = $1",
                id,
                started.query_execution_id,
            )
            .execute(pool)
            .await?;
        }
        Err(error) => {
            let failure = refused(
                "StartQueryExecution",
                aws_sdk_athena::error::DisplayErrorContext(&error),
            );
            finish(
                pool,
                id,
                RunState::Failed,
                Some(failure.to_string()),
                None,
                actor,
            )
            .await?;
        }
    }
    read(pool, id).await
}

/// Asks Athena where a run is, once, and records it; a run that
/// succeeded has its rows read and kept. A run already ended is returned
/// as it is.
pub async fn advance(
    pool: &PgPool,
    athena: &aws_sdk_athena::Client,
    id: i64,
    actor: &Actor,
) -> Result<Run, AppError> {
    let run = read(pool, id).await?;
    let Some(execution) = run
        .query_execution_id
        .as_deref()
        .filter(|_| !run.state.is_final())
    else {
        return Ok(run);
    };
    let answer = athena
        .get_query_execution()
        .query_execution_id(execution)
        .send()
        .await
        .map_err(|e| {
            refused(
                "GetQueryExecution",
                aws_sdk_athena::error::DisplayErrorContext(&e),
            )
        })?;
    let query = answer.query_execution();
    let status = query.and_then(|q| q.status());
    let statistics = query.and_then(|q| q.statistics());
    let bytes = statistics
        .and_then(|s| s.data_scanned_in_bytes())
        .unwrap_or(0)
        .max(0);
    let elapsed = statistics
        .and_then(|s| s.total_execution_time_in_millis())
        .unwrap_or(0)
        .max(0);
    sqlx::query!(
        "UPDATE athena_runs SET bytes_scanned = $2, execution_ms = $3 WHERE id = $1 AND finished_at IS NULL",
        id,
        bytes,
        elapsed
    )
    .execute(pool)
    .await?;
    match status.and_then(|s| s.state()) {
        Some(QueryExecutionState::Succeeded) => {
            let rows = results(athena, execution).await?;
            finish(pool, id, RunState::Succeeded, None, Some(rows), actor).await?;
        }
        Some(QueryExecutionState::Failed) => {
            let aws_reason = status
                .and_then(|s| s.state_change_reason())
                .unwrap_or("no reason given");
            tracing::warn!(
                run = id,
                execution,
                reason = aws_reason,
                "Athena query failed"
            );
            finish(
                pool,
                id,
                RunState::Failed,
                Some(failure(aws_reason)),
                None,
                actor,
            )
            .await?;
        }
        Some(QueryExecutionState::Cancelled) => {
            finish(
                pool,
                id,
                RunState::Cancelled,
                Some("The query was cancelled before it finished.".into()),
                None,
                actor,
            )
            .await?;
        }
        Some(QueryExecutionState::Running) => {
            sqlx::query!(
                "UPDATE athena_runs SET state = 'running' WHERE id = $1 AND finished_at IS NULL",
                id
            )
            .execute(pool)
            .await?;
        }
        _ => {}
    }
    read(pool, id).await
}

/// What the person is told of a failed query: the kind of error Athena
/// names first in its reason (`TABLE_NOT_FOUND: line 1:…`), in words.
fn failure(aws_reason: &str) -> String {
    let code = aws_reason
        .split(|c: char| c == ':' || c.is_whitespace())
        .next()
        .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
    let what = match code {
        Some("TABLE_NOT_FOUND") => {
            "the log source's table does not exist (check its database and table on the Settings page)"
        }
        Some("SCHEMA_NOT_FOUND") => "the log source's database does not exist",
        Some("COLUMN_NOT_FOUND") => {
            "the table lacks a column WAF logs have (was it created for WAF logs?)"
        }
        Some("PERMISSION_DENIED" | "ACCESS_DENIED") => {
            "the console's AWS role may not read the table or the logs' bucket"
        }
        Some("HIVE_BAD_DATA" | "HIVE_CURSOR_ERROR") => {
            "some log files under the table do not read as WAF logs"
        }
        Some("EXCEEDED_TIME_LIMIT" | "EXCEEDED_MEMORY_LIMIT") => {
            "the query needed more time or memory than the workgroup allows; try a shorter range"
        }
        _ => "Athena could not run the analysis",
    };
    match code {
        Some(code) => {
            format!("The query failed: {what} ({code}). The console's log has Athena's reason.")
        }
        None => format!("The query failed: {what}. The console's log has Athena's reason."),
    }
}

/// Every row of a query that succeeded, page by page; the first row of a
/// SELECT's first page is its header.
async fn results(athena: &aws_sdk_athena::Client, execution: &str) -> Result<Rows, AppError> {
    let mut pages = athena
        .get_query_results()
        .query_execution_id(execution)
        .max_results(1000)
        .into_paginator()
        .send();
    let mut rows = Rows::default();
    let mut first = true;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            refused(
                "GetQueryResults",
                aws_sdk_athena::error::DisplayErrorContext(&e),
            )
        })?;
        let Some(set) = page.result_set() else {
            continue;
        };
        if first && let Some(metadata) = set.result_set_metadata() {
            rows.columns = metadata
                .column_info()
                .iter()
                .map(|c| c.name().to_owned())
                .collect();
        }
        let mut values = set.rows().iter().map(|row| {
            row.data()
                .iter()
                .map(|datum| datum.var_char_value().map(str::to_owned))
                .collect::<Vec<_>>()
        });
        if first {
            // The header row repeats the column names.
            values.next();
            first = false;
        }
        rows.rows.extend(values);
    }
    Ok(rows)
}

/// Asks Athena to stop a run; it is recorded as cancelled when Athena
/// says so.
pub async fn cancel(
    pool: &PgPool,
    athena: &aws_sdk_athena::Client,
    id: i64,
    actor: &Actor,
    client: &Client,
) -> Result<Run, AppError> {
    let run = read(pool, id).await?;
    if run.state.is_final() {
        return Ok(run);
    }
    if let Some(execution) = &run.query_execution_id {
        athena
            .stop_query_execution()
            .query_execution_id(execution)
            .send()
            .await
            .map_err(|e| {
                refused(
                    "StopQueryExecution",
                    aws_sdk_athena::error::DisplayErrorContext(&e),
                )
            })?;
    }
    let mut event = NewEvent::new(
        Action::AthenaRunCancelled,
        Some(actor.clone()),
        client.clone(),
    );
    event.target = Some(format!("log source {}", run.source));
    event.after = Some(json!({"run": id, "query_execution_id": run.query_execution_id}));
    let mut tx = pool.begin().await?;
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    advance(pool, athena, id, actor).await
}

/// Records a run's end, once, with its audit event.
async fn finish(
    pool: &PgPool,
    id: i64,
    state: RunState,
    reason: Option<String>,
    rows: Option<Rows>,
    actor: &Actor,
) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let result = rows.map(|rows| json!(rows));
    let ended = sqlx::query!(
        "UPDATE athena_runs
            SET state = $2, reason = $3, result = $4, finished_at = now()
          WHERE id = $1 AND finished_at IS NULL
      RETURNING source, bytes_scanned, query_execution_id",
        id,
        state.as_str(),
        reason,
        result,
    )
    .fetch_optional(&mut *tx)
    .await?;
    // Another request recorded the end first.
    let Some(ended) = ended else {
        return Ok(());
    };
    let mut event = NewEvent::new(
        Action::AthenaRunFinished,
        Some(actor.clone()),
        Client::default(),
    );
    event.target = Some(format!("log source {}", ended.source));
    event.aws_request_id = ended.query_execution_id;
    event.after = Some(json!({
        "run": id,
        "state": state.as_str(),
        "bytes_scanned": ended.bytes_scanned,
        "reason": reason,
    }));
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(())
}

/// Follows a run until it ends, asking Athena with a growing pause
/// (0.25 s, doubling up to 5 s): for the command line.
pub async fn wait(
    pool: &PgPool,
    athena: &aws_sdk_athena::Client,
    id: i64,
    actor: &Actor,
    mut progress: impl FnMut(&Run),
) -> Result<Run, AppError> {
    let mut pause = std::time::Duration::from_millis(250);
    loop {
        let run = advance(pool, athena, id, actor).await?;
        progress(&run);
        if run.state.is_final() {
            return Ok(run);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_named_in_words_with_athenas_code() {
        let told =
            failure("TABLE_NOT_FOUND: line 3:8: Table 'awsdatacatalog.waf.nope' does not exist");
        assert!(told.contains("table does not exist"), "{told}");
        assert!(told.contains("(TABLE_NOT_FOUND)"));
        assert!(
            !told.contains("awsdatacatalog"),
            "AWS's text stays in the log"
        );
        assert!(failure("Query exhausted resources").contains("could not run"));
    }

    #[test]
    fn a_refused_call_is_told_in_words() {
        let told = |text: &str| match refused("StartQueryExecution", text) {
            AppError::Unavailable(message) => message,
            other => panic!("{other:?}"),
        };
        assert!(
            told("AccessDeniedException: User: arn:aws:sts::1:assumed-role/x is not authorized")
                .contains("may not use this workgroup")
        );
        let nowhere = told(
            "InvalidRequestException: No output location provided. An output location is required \
             either through the Workgroup result configuration setting or as an API input.",
        );
        assert!(nowhere.contains("query results location"), "{nowhere}");
        assert!(told("ThrottlingException: Rate exceeded").contains("throttling"));
        let other = told("InternalServerException: arn:aws:athena:secret-detail");
        assert!(
            !other.contains("secret-detail"),
            "AWS's text stays in the log"
        );
    }

    #[test]
    fn the_same_question_is_kept_under_one_key() {
        let statement = |v: &str| Statement {
            sql: "SELECT ?".into(),
            parameters: vec![super::super::athena::Parameter::Text(v.into())],
        };
        assert_eq!(
            question("a", &statement("x")),
            question("a", &statement("x"))
        );
        assert_ne!(
            question("a", &statement("x")),
            question("b", &statement("x"))
        );
        assert_ne!(
            question("a", &statement("x")),
            question("a", &statement("y"))
        );
    }

    /// An answer of several pages, as Athena gives one over 1,000 rows:
    /// served over HTTP to the real SDK client, so that its paginator's
    /// `NextToken` handling is what is tested (moto answers in one page).
    #[tokio::test]
    async fn every_page_is_read_and_only_the_first_row_is_the_header() {
        use axum::http::HeaderMap;
        use std::sync::{Arc, Mutex};
        let asked: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let cell = |v: &str| json!({"VarCharValue": v});
        let row =
            |values: &[&str]| json!({"Data": values.iter().map(|v| cell(v)).collect::<Vec<_>>()});
        let metadata = json!({"ColumnInfo": [{"Name": "key", "Type": "varchar"}, {"Name": "requests", "Type": "bigint"}]});
        let pages = vec![
            json!({"ResultSet": {"Rows": [row(&["key", "requests"]), row(&["a", "1"]), row(&["b", "2"])],
                                 "ResultSetMetadata": metadata}, "NextToken": "page-2"}),
            // A later page's first row is a row: a key that reads "key" included.
            json!({"ResultSet": {"Rows": [row(&["key", "3"]), {"Data": [cell("d"), {}]}],
                                 "ResultSetMetadata": metadata}, "NextToken": "page-3"}),
            json!({"ResultSet": {"Rows": [row(&["e", "5"])], "ResultSetMetadata": metadata}}),
        ];
        let served = asked.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: String| {
            let (asked, pages) = (served.clone(), pages.clone());
            async move {
                let target = headers
                    .get("x-amz-target")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                assert_eq!(target, "AmazonAthena.GetQueryResults");
                let request: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let page = match request["NextToken"].as_str() {
                    None => 0,
                    Some("page-2") => 1,
                    Some(_) => 2,
                };
                asked.lock().map(|mut a| a.push(request)).ok();
                (
                    [("content-type", "application/x-amz-json-1.1")],
                    pages[page].to_string(),
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let config = aws_sdk_athena::Config::builder()
            .behavior_version(aws_sdk_athena::config::BehaviorVersion::latest())
            .region(aws_sdk_athena::config::Region::new("eu-west-1"))
            .endpoint_url(format!("http://{address}"))
            .credentials_provider(aws_sdk_athena::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .build();
        let athena = aws_sdk_athena::Client::from_conf(config);

        let rows = results(&athena, "execution-1").await.unwrap();
        assert_eq!(rows.columns, ["key", "requests"]);
        let got: Vec<Vec<Option<&str>>> = rows
            .rows
            .iter()
            .map(|r| r.iter().map(Option::as_deref).collect())
            .collect();
        assert_eq!(
            got,
            [
                vec![Some("a"), Some("1")],
                vec![Some("b"), Some("2")],
                vec![Some("key"), Some("3")],
                vec![Some("d"), None],
                vec![Some("e"), Some("5")],
            ]
        );
        let asked = asked.lock().unwrap().clone();
        let tokens: Vec<Option<&str>> = asked.iter().map(|r| r["NextToken"].as_str()).collect();
        assert_eq!(tokens, [None, Some("page-2"), Some("page-3")]);
        assert!(asked.iter().all(|r| r["QueryExecutionId"] == "execution-1"));
    }
}
