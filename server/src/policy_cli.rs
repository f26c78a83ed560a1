//! `gatehouse policy simulate`: the policy evaluator for scripts. Reads one
//! request per line of standard input — `{"policies": [<policy document>…],
//! "action": "…", "resource": "…", "context": {"key": "value" or
//! ["values"]}}` — and writes one JSON line per request: `{"decision",
//! "statement", "explanation", "depends_on_condition"}`. A line that does
//! not read gets `{"line", "error"}` and the rest go on; the command then
//! exits 1.

use app::policies::evaluate::{Context, Policy, Request, evaluate};
use clap::Subcommand;
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::{BufRead, Write};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Evaluate requests read as JSON lines from standard input; one JSON line out per request.
    Simulate,
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

pub fn run(command: PolicyCommand) -> Result<(), String> {
    match command {
        PolicyCommand::Simulate => simulate(std::io::stdin().lock(), std::io::stdout().lock()),
    }
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
    let evaluation = evaluate(&policies, &request);
    Ok(json!({
        "decision": evaluation.decision,
        "statement": evaluation.deciding,
        "explanation": evaluation.statements,
        "depends_on_condition": evaluation.depends_on_condition,
    }))
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
