//! `gatehouse policy`: the policy evaluator and the policy table for
//! scripts.
//!
//! `simulate` reads one request per line of standard input —
//! `{"policies": [<policy document>…], "action": "…", "resource": "…",
//! "context": {"key": "value" or ["values"]}}` — and writes one JSON line
//! per request: `{"decision", "statement", "explanation",
//! "depends_on_condition"}`. A line that does not read gets `{"line",
//! "error"}` and the rest go on; the command then exits 1. With `--group`
//! it simulates one call (`execute-api:Invoke` on the resource the flags
//! make) against the live table instead. `validate FILE` prints a policy's
//! findings; `show` the live mappings.

use crate::config::Config;
use app::policies::evaluate::{Context, Policy, Request, evaluate};
use app::policies::mapping::{Mappings, Simulate, read_context};
use app::policies::validate::{Severity, validate_text};
use clap::Subcommand;
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::{BufRead, Write};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Evaluate requests read as JSON lines from standard input (one JSON line out per request),
    /// or with --group one call against the live policy table.
    Simulate(LiveCall),
    /// Print a policy document's findings as a JSON array; exit 1 when one is an error.
    Validate {
        /// The policy document (JSON); `-` for standard input.
        file: String,
    },
    /// Print the live mappings of the policy table (JSON).
    Show {
        #[arg(long)]
        group: Option<String>,
        /// A managed policy table; the first one when not given.
        #[arg(long)]
        table: Option<String>,
    },
}

/// One call to simulate against the live table.
#[derive(Debug, clap::Args)]
pub struct LiveCall {
    /// A group of the caller's (repeat for several). Without one, requests are read from standard input.
    #[arg(long = "group")]
    groups: Vec<String>,
    #[arg(long)]
    method: Option<String>,
    #[arg(long)]
    path: Option<String>,
    #[arg(long)]
    stage: Option<String>,
    #[arg(long)]
    api_id: Option<String>,
    #[arg(long)]
    source_ip: Option<String>,
    /// key=value, or key=a,b for several values (repeatable).
    #[arg(long = "context")]
    context: Vec<String>,
    /// A managed policy table; the first one when not given.
    #[arg(long)]
    table: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    policies: Vec<Value>,
    action: String,
    resource: String,
    #[serde(default)]
    context: serde_json::Map<String, Value>,
}

pub async fn run(config: &Config, command: PolicyCommand) -> Result<(), String> {
    match command {
        PolicyCommand::Simulate(call) if call.groups.is_empty() => {
            simulate(std::io::stdin().lock(), std::io::stdout().lock())
        }
        PolicyCommand::Simulate(call) => {
            let mut context = serde_json::Map::new();
            for (key, values) in read_context(&call.context.join("\n"))? {
                context.insert(key, json!(values));
            }
            let simulate = Simulate {
                table: call.table,
                groups: call.groups,
                method: call.method,
                path: call.path,
                stage: call.stage,
                api_id: call.api_id,
                source_ip: call.source_ip,
                context,
                ..Simulate::default()
            };
            let mappings = live(config, simulate.table.as_deref()).await?.1;
            println!("{}", simulate.run(&mappings));
            Ok(())
        }
        PolicyCommand::Validate { file } => {
            let text = match file.as_str() {
                "-" => std::io::read_to_string(std::io::stdin())
                    .map_err(|e| format!("standard input: {e}"))?,
                path => std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?,
            };
            let found = validate_text(&text);
            let errors = found
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count();
            println!("{}", json!(found));
            match errors {
                0 => Ok(()),
                n => Err(format!("{n} error(s) in {file}")),
            }
        }
        PolicyCommand::Show { group, table } => {
            let (table, mappings) = live(config, table.as_deref()).await?;
            let chosen: Vec<&app::policies::mapping::Mapping> = mappings
                .mappings
                .iter()
                .filter(|m| group.as_ref().is_none_or(|g| g == &m.group))
                .collect();
            if let Some(group) = group.filter(|_| chosen.is_empty()) {
                return Err(format!("{table} maps no group {group:?}"));
            }
            let shown = app::policies::mapping::show_json(&table, chosen);
            println!(
                "{}",
                serde_json::to_string_pretty(&shown).unwrap_or_default()
            );
            Ok(())
        }
    }
}

/// The live mappings of a managed policy table (the first when not named).
async fn live(config: &Config, table: Option<&str>) -> Result<(String, Mappings), String> {
    let state = crate::serve::state(config)
        .await
        .map_err(|e| e.to_string())?;
    let table = app::policies::live::table(&state.pool, table)
        .await
        .map_err(|e| e.to_string())?;
    let reach = app::changes::kinds::Reach {
        pool: &state.pool,
        aws: &state.aws,
    };
    let (mappings, _) = app::policies::live::read(reach, &table)
        .await
        .map_err(|e| e.to_string())?;
    Ok((table, mappings))
}

fn simulate(input: impl BufRead, mut output: impl Write) -> Result<(), String> {
    let mut failed = 0;
    for (number, line) in input.lines().enumerate() {
        let line = line.map_err(|e| format!("standard input: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let answer = match answer(&line) {
            Ok(answer) => answer,
            Err(error) => {
                failed += 1;
                json!({"line": number + 1, "error": error})
            }
        };
        writeln!(output, "{answer}").map_err(|e| format!("standard output: {e}"))?;
    }
    match failed {
        0 => Ok(()),
        n => Err(format!(
            "{n} line(s) could not be read (see their \"error\")"
        )),
    }
}

fn answer(line: &str) -> Result<Value, String> {
    let line: Line = serde_json::from_str(line).map_err(|e| format!("not a request: {e}"))?;
    let mut context = Context::new();
    for (key, value) in &line.context {
        let values = app::policies::evaluate::strings(value);
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        context = context.with(key, &values);
    }
    let policies: Vec<Policy> = line
        .policies
        .into_iter()
        .enumerate()
        .map(|(i, document)| Policy {
            label: format!("policy {}", i + 1),
            document,
        })
        .collect();
    let request = Request {
        action: line.action,
        resource: line.resource,
        context,
    };
    Ok(evaluate(&policies, &request).answer())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_gets_its_answer_and_a_bad_line_does_not_stop_the_rest() {
        let policy = r#"{"Version":"2012-10-17","Statement":{"Sid":"Read","Effect":"Allow","Action":"execute-api:Invoke","Resource":"*/GET/*","Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}}"#;
        let input = format!(
            "{{\"policies\":[{policy}],\"action\":\"execute-api:Invoke\",\"resource\":\"arn:aws:execute-api:eu-west-1:1:a/prod/GET/pets\",\"context\":{{\"aws:SourceIp\":\"192.0.2.4\"}}}}\n\
             not json\n\n\
             {{\"policies\":[{policy}],\"action\":\"execute-api:Invoke\",\"resource\":\"arn:aws:execute-api:eu-west-1:1:a/prod/GET/pets\",\"context\":{{\"aws:SourceIp\":[\"203.0.113.1\"]}}}}\n"
        );
        let mut out = Vec::new();
        let result = simulate(input.as_bytes(), &mut out);
        assert!(result.unwrap_err().contains("1 line(s)"));
        let lines: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["decision"], "Allow");
        assert_eq!(lines[0]["statement"]["sid"], "Read");
        assert_eq!(lines[1]["line"], 2);
        assert!(
            lines[1]["error"]
                .as_str()
                .unwrap()
                .starts_with("not a request")
        );
        assert_eq!(lines[2]["decision"], "ImplicitDeny");
        assert_eq!(lines[2]["depends_on_condition"], true);
        assert_eq!(
            lines[2]["explanation"][0]["conditions"][0]["matched"],
            false
        );
    }
}
