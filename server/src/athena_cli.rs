//! `gatehouse traffic top|recommend --source NAME` on an Athena log source:
//! the analysis's kept result when there is one, else a run started and
//! followed to its end (its state and data scanned on stderr), and for
//! `recommend` the what-if at the recommended limit the same way. Each run
//! is audited under the machine's operator.

use crate::config::Config;
use app::audit::Client;
use app::traffic::athena::{self, Statement};
use app::traffic::athena_run::{self, RunState};
use app::traffic::athena_view;
use app::traffic::healthy::Healthy;
use app::traffic::query::Analysis;
use app::traffic::store::Answer;
use app::traffic::threshold::WhatIf;

/// The answer of `analysis` on the Athena source `name`, and with a
/// `limit` (the what-if's, from the answer) the what-if's.
pub async fn answer(
    config: &Config,
    name: &str,
    analysis: &Analysis,
    healthy: Option<&Healthy>,
    limit: impl FnOnce(&Answer) -> Option<u64>,
) -> Result<(Answer, Option<WhatIf>), String> {
    let state = crate::serve::state(config)
        .await
        .map_err(|e| e.to_string())?;
    let source = athena_view::athena_source(&state, name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("--source {name}: not an Athena log source"))?;
    let athena = state.aws.athena_in(&source.region);
    let run = |statement: Statement| {
        let (state, athena, source) = (&state, &athena, &source);
        async move {
            let actor = crate::demo::operator("traffic");
            let started = athena_view::kept_or_start(state, source, &statement, &actor, &cli())
                .await
                .map_err(|e| e.to_string())?;
            let ended = athena_run::wait(&state.pool, athena, started.id, &actor, |run| {
                eprintln!(
                    "athena run {}: {} ({:.1} MB scanned)",
                    run.id,
                    run.state.as_str(),
                    run.bytes_scanned as f64 / 1e6
                );
            })
            .await
            .map_err(|e| e.to_string())?;
            if ended.state != RunState::Succeeded {
                return Err(ended
                    .reason
                    .unwrap_or_else(|| format!("the Athena run {} did not succeed", ended.id)));
            }
            if state.aws.emulated {
                eprintln!("(an AWS emulator: its Athena runs no SQL, so the answer is empty)");
            }
            athena_run::rows(&state.pool, ended.id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("the Athena run {} kept no rows", ended.id))
        }
    };
    let rows = run(athena::counts(&source.table, analysis, healthy)).await?;
    let answer = athena::answer(&rows, healthy)?;
    let replayed = match limit(&answer) {
        Some(limit) => {
            let rows = run(athena::what_if(&source.table, analysis, limit)).await?;
            Some(athena::what_if_answer(&rows, limit)?)
        }
        None => None,
    };
    Ok((answer, replayed))
}

fn cli() -> Client {
    Client {
        ip: None,
        user_agent: Some("gatehouse traffic".into()),
    }
}
