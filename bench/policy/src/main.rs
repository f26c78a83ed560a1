//! The policy evaluator's speed, next to the `iam-rs` crate on the same
//! policies and requests in the same run: the seed's `pet-veterinarian`
//! policy and a 20-statement policy with conditions, one core each; then
//! the decision matrix for 50 groups × 200 endpoints. Prints the figures and
//! the ratios; checks first that both give the same decisions.
//!
//! `bench/policy.sh` builds and runs it in release.

use app::policies::evaluate::{Decision, Policy, Request, decide, evaluate};
use app::policies::mapping::{Call, Endpoint, Mapping, Mappings, Stored};
use app::policies::matrix::matrix;
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::{Duration, Instant};

const SEED: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke",
  "Resource": ["arn:aws:execute-api:*:*:*/*/*/petstore/v1/*", "arn:aws:execute-api:*:*:*/*/GET/petstore/v2/status"],
  "Condition": {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "198.51.100.0/24"]}}}]}"#;

/// Twenty statements: allows per resource, with IP, string and date
/// conditions, and denies.
fn twenty() -> Value {
    let mut statements = Vec::new();
    for i in 0..20 {
        let statement = match i % 4 {
            0 => {
                json!({"Sid": format!("Read{i}"), "Effect": "Allow", "Action": "execute-api:Invoke",
                "Resource": format!("arn:aws:execute-api:*:*:*/*/GET/service{i}/*"),
                "Condition": {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}}})
            }
            1 => {
                json!({"Sid": format!("Write{i}"), "Effect": "Allow", "Action": "execute-api:Invoke",
                "Resource": [format!("arn:aws:execute-api:*:*:*/prod/POST/service{i}/*"),
                             format!("arn:aws:execute-api:*:*:*/prod/PUT/service{i}/*")],
                "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}})
            }
            2 => {
                json!({"Sid": format!("Window{i}"), "Effect": "Allow", "Action": "execute-api:Invoke",
                "Resource": format!("arn:aws:execute-api:*:*:*/*/*/service{i}/reports/*"),
                "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
                              "NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}})
            }
            _ => {
                json!({"Sid": format!("NoDelete{i}"), "Effect": "Deny", "Action": "execute-api:Invoke",
                "Resource": format!("arn:aws:execute-api:*:*:*/*/DELETE/service{i}/*")})
            }
        };
        statements.push(statement);
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The requests both evaluators answer: (method, path, source IP).
fn calls() -> Vec<Call> {
    let mut calls = Vec::new();
    let ips = ["192.0.2.10", "198.51.100.20", "203.0.113.5", "2001:db8::7"];
    let paths = [
        "/petstore/v1/pets",
        "/petstore/v2/status",
        "/petstore/v2/pets",
        "/service0/items",
        "/service1/items",
        "/service2/reports/q3",
        "/service3/items",
        "/service8/x",
    ];
    for (i, path) in paths.iter().enumerate() {
        for (j, ip) in ips.iter().enumerate() {
            let method = ["GET", "POST", "DELETE", "PUT"][(i + j) % 4];
            let mut call = Call {
                method: method.into(),
                path: (*path).into(),
                source_ip: (*ip).into(),
                ..Call::default()
            };
            call.context = vec![
                ("aws:SourceVpce".into(), vec!["vpce-1a2b3c4d".into()]),
                (
                    "aws:CurrentTime".into(),
                    vec!["2026-11-29T12:00:00Z".into()],
                ),
            ];
            calls.push(call);
        }
    }
    calls
}

/// The decision alone (`decide`, as the matrix and scripts use it) and with
/// its explanation (`evaluate`, as the simulator shows it).
fn ours(policy: &Value, calls: &[Call]) -> (Vec<Decision>, f64, f64) {
    let policies = [Policy {
        label: "p".into(),
        document: policy.clone(),
    }];
    let requests: Vec<Request> = calls.iter().map(Call::request).collect();
    let decisions = requests
        .iter()
        .map(|r| evaluate(&policies, r).decision)
        .collect();
    let fast = rate(|| {
        for request in &requests {
            black_box(decide(&policies, black_box(request)));
        }
        requests.len()
    });
    let explained = rate(|| {
        for request in &requests {
            black_box(evaluate(&policies, black_box(request)));
        }
        requests.len()
    });
    (decisions, fast, explained)
}

fn theirs(policy: &Value, calls: &[Call]) -> (Vec<Decision>, f64) {
    use iam_rs::{
        Arn, Decision as TheirDecision, IAMPolicy, IAMRequest, PolicyEvaluator, Principal,
        PrincipalId,
    };
    let Ok(parsed) = IAMPolicy::from_json(&policy.to_string()) else {
        eprintln!("iam-rs does not read the policy");
        return (Vec::new(), 0.0);
    };
    let evaluator = PolicyEvaluator::with_policies(vec![parsed]);
    let requests: Vec<IAMRequest> = calls
        .iter()
        .filter_map(|call| {
            let mut context =
                iam_rs::Context::new().with_string("aws:SourceIp", call.source_ip.clone());
            for (key, values) in &call.context {
                context =
                    context.with_string(key.clone(), values.first().cloned().unwrap_or_default());
            }
            Some(IAMRequest::new_with_context(
                Principal::Aws(PrincipalId::String("123456789012".into())),
                app::policies::mapping::INVOKE,
                Arn::parse(&call.resource()).ok()?,
                context,
            ))
        })
        .collect();
    let decide = |r: &IAMRequest| match evaluator.evaluate(r).map(|e| e.decision) {
        Ok(TheirDecision::Allow) => Decision::Allow,
        Ok(TheirDecision::Deny) => Decision::ExplicitDeny,
        _ => Decision::ImplicitDeny,
    };
    let errors: Vec<String> = requests
        .iter()
        .filter_map(|r| evaluator.evaluate(r).err().map(|e| e.to_string()))
        .collect();
    if let Some(first) = errors.first() {
        println!(
            "  iam-rs answered {} of {} requests with an error, e.g. {first}",
            errors.len(),
            requests.len()
        );
    }
    let decisions = requests.iter().map(decide).collect();
    let rate = rate(|| {
        for request in &requests {
            black_box(decide(black_box(request)));
        }
        requests.len()
    });
    (decisions, rate)
}

/// Evaluations per second: `round` repeated for about a second.
fn rate(mut round: impl FnMut() -> usize) -> f64 {
    let started = Instant::now();
    let mut done = 0;
    while started.elapsed() < Duration::from_secs(1) {
        done += round();
    }
    done as f64 / started.elapsed().as_secs_f64()
}

fn compare(name: &str, policy: &Value, calls: &[Call]) {
    let (our_decisions, our_rate, explained) = ours(policy, calls);
    let (their_decisions, their_rate) = theirs(policy, calls);
    let agree = our_decisions
        .iter()
        .zip(&their_decisions)
        .filter(|(a, b)| a == b)
        .count();
    println!(
        "{name:<28} gatehouse {:>11.0}/s (explained {:>9.0}/s)   iam-rs {:>11.0}/s   ratio {:>5.2} ×   same decision on {agree}/{} requests",
        our_rate,
        explained,
        their_rate,
        our_rate / their_rate.max(1.0),
        calls.len()
    );
}

fn matrix_figure() {
    let groups: Vec<Mapping> = (0..50)
        .map(|g| Mapping {
            group: format!("group-{g:02}"),
            policy: if g % 2 == 0 {
                twenty()
            } else {
                serde_json::from_str(SEED).unwrap_or_default()
            },
            stored: Stored::Map,
        })
        .collect();
    let mappings = Mappings::new(groups);
    let endpoints: Vec<Endpoint> = (0..200)
        .map(|e| Endpoint {
            method: ["GET", "POST", "PUT", "DELETE"][e % 4].into(),
            path: format!("/service{}/items/{e}", e % 25),
        })
        .collect();
    let call = Call {
        source_ip: "192.0.2.10".into(),
        context: vec![("aws:SourceVpce".into(), vec!["vpce-1a2b3c4d".into()])],
        ..Call::default()
    };
    let mut times: Vec<Duration> = (0..7)
        .map(|_| {
            let started = Instant::now();
            black_box(matrix(&mappings, &endpoints, &call));
            started.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "decision matrix 50 groups × 200 endpoints: median {:.1} ms (best {:.1} ms) of 7 runs",
        times[3].as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0
    );
}

fn main() {
    let calls = calls();
    let seed: Value = serde_json::from_str(SEED).unwrap_or_default();
    println!(
        "Policy evaluations per second on one core ({} requests, each repeated):",
        calls.len()
    );
    compare("seed policy (1 statement)", &seed, &calls);
    compare("20 statements, conditions", &twenty(), &calls);
    matrix_figure();
}
