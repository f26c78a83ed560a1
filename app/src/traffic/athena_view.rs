//! An analysis on an Athena log source, as the Traffic page, evidence and
//! "Propose rule" see it: the kept runs of its two statements (the
//! analysis, then the what-if at the limit its peaks recommend), carried
//! on when still going, and their rows read as the imported engine's
//! answer. Nothing here starts the analysis's scan: a person does, with
//! "Run on Athena" ([`run`]). The what-if follows on its own once the
//! analysis has rows, since its limit comes from them.

use super::athena::{self, LogTable};
use super::athena_run::{self, Workgroup};
use super::healthy::Healthy;
use super::query::Analysis;
use super::runs::{AthenaStatus, Run, RunState};
use super::source::{AthenaSource, LogSource};
use super::store::Answer;
use super::threshold::WhatIf;
use crate::audit::{Actor, Client};
use crate::error::AppError;
use crate::state::AppState;

/// The log sources registered, by name.
pub async fn sources(state: &AppState) -> Result<Vec<LogSource>, AppError> {
    let doc = crate::settings::store::current(&state.pool).await?;
    Ok(doc
        .of(crate::targets::TargetKind::LogSource)
        .filter_map(LogSource::of)
        .filter_map(|source| {
            source
                .map_err(
                    |problem| tracing::warn!(%problem, "a registered log source does not read"),
                )
                .ok()
        })
        .collect())
}

/// The Athena source named `name`, if that is what it is.
pub async fn athena_source(state: &AppState, name: &str) -> Result<Option<AthenaSource>, AppError> {
    if name == super::source::IMPORTED {
        return Ok(None);
    }
    match sources(state).await?.into_iter().find(|s| s.name() == name) {
        Some(LogSource::Athena(source)) => Ok(Some(*source)),
        Some(LogSource::Imported { .. }) => Ok(None),
        None => Err(AppError::BadRequest(format!(
            "source: no log source is registered as {name:?}"
        ))),
    }
}

/// Where `source`'s statements run.
fn workgroup(source: &AthenaSource) -> Workgroup<'_> {
    Workgroup {
        source: &source.name,
        workgroup: &source.workgroup,
        output_location: source.output_location.as_deref(),
        database: &source.table.database,
    }
}

/// A run of `statement` kept for this source, carried on if still going.
async fn kept(
    state: &AppState,
    source: &AthenaSource,
    statement: &athena::Statement,
    actor: &Actor,
) -> Result<Option<Run>, AppError> {
    let question = athena_run::question(&source.name, statement);
    match athena_run::newest(&state.pool, &question).await? {
        Some(run) if !run.state.is_final() => {
            let athena = state.aws.athena_in(&source.region);
            Ok(Some(
                athena_run::advance(&state.pool, &athena, run.id, actor).await?,
            ))
        }
        other => Ok(other),
    }
}

/// What a view of `analysis` on `source` shows: where its runs are, and
/// once the analysis has rows, the answer (and the what-if, once that has
/// rows too). `limit` picks the what-if's limit from the answer.
pub async fn view(
    state: &AppState,
    source: &AthenaSource,
    analysis: &Analysis,
    healthy: Option<&Healthy>,
    limit: impl FnOnce(&Answer) -> u64,
    actor: &Actor,
    client: &Client,
) -> Result<(AthenaStatus, Option<(Answer, Option<WhatIf>)>), AppError> {
    let table: &LogTable = &source.table;
    let counts = athena::counts(table, analysis, healthy);
    let mut status = AthenaStatus {
        source: source.name.clone(),
        emulator: state.aws.emulated,
        counts: kept(state, source, &counts, actor).await?,
        what_if: None,
        price_per_tb: state.aws.athena_price_per_tb,
    };
    let Some(run) = status
        .counts
        .as_ref()
        .filter(|r| r.state == RunState::Succeeded)
    else {
        return Ok((status, None));
    };
    let rows = athena_run::rows(&state.pool, run.id)
        .await?
        .ok_or(AppError::Internal)?;
    let answer = athena::answer(&rows, healthy).map_err(|problem| {
        tracing::warn!(%problem, run = run.id, "Athena's rows do not read");
        AppError::Unavailable(format!("Athena's answer does not read: {problem}"))
    })?;
    let limit = limit(&answer);
    let what_if = athena::what_if(table, analysis, limit);
    let analysed = run.id;
    status.what_if = match kept(state, source, &what_if, actor).await? {
        // A what-if run after the analysis's (run again, it runs again).
        Some(run) if run.id > analysed => Some(run),
        // The analysis ran: its what-if follows.
        _ => Some(start(state, source, &what_if, actor, client).await?),
    };
    let replayed = match status
        .what_if
        .as_ref()
        .filter(|r| r.state == RunState::Succeeded)
    {
        Some(run) => {
            let rows = athena_run::rows(&state.pool, run.id)
                .await?
                .ok_or(AppError::Internal)?;
            Some(athena::what_if_answer(&rows, limit).map_err(|problem| {
                tracing::warn!(%problem, run = run.id, "Athena's what-if rows do not read");
                AppError::Unavailable(format!("Athena's answer does not read: {problem}"))
            })?)
        }
        None => None,
    };
    Ok((status, Some((answer, replayed))))
}

/// Starts the analysis on Athena (again, with `again`, even when a run is
/// kept): the scan a person asks for.
pub async fn run(
    state: &AppState,
    source: &AthenaSource,
    analysis: &Analysis,
    healthy: Option<&Healthy>,
    again: bool,
    actor: &Actor,
    client: &Client,
) -> Result<Run, AppError> {
    let counts = athena::counts(&source.table, analysis, healthy);
    match again {
        true => start(state, source, &counts, actor, client).await,
        false => kept_or_start(state, source, &counts, actor, client).await,
    }
}

/// The run of `statement` to follow: a kept one that succeeded or is still
/// going (carried on), else one started now.
pub async fn kept_or_start(
    state: &AppState,
    source: &AthenaSource,
    statement: &athena::Statement,
    actor: &Actor,
    client: &Client,
) -> Result<Run, AppError> {
    match kept(state, source, statement, actor).await? {
        Some(run) if run.state != RunState::Failed && run.state != RunState::Cancelled => Ok(run),
        _ => start(state, source, statement, actor, client).await,
    }
}

async fn start(
    state: &AppState,
    source: &AthenaSource,
    statement: &athena::Statement,
    actor: &Actor,
    client: &Client,
) -> Result<Run, AppError> {
    let athena = state.aws.athena_in(&source.region);
    athena_run::start(
        &state.pool,
        &athena,
        &workgroup(source),
        statement,
        actor,
        client,
    )
    .await
}

/// Stops a run that is still going.
pub async fn cancel(
    state: &AppState,
    id: i64,
    actor: &Actor,
    client: &Client,
) -> Result<Run, AppError> {
    let run = athena_run::read(&state.pool, id).await?;
    let region = match athena_source(state, &run.source).await? {
        Some(source) => source.region,
        None => state.aws.region.clone(),
    };
    let athena = state.aws.athena_in(&region);
    athena_run::cancel(&state.pool, &athena, id, actor, client).await
}
