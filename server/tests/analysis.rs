//! The analyses give the same numbers as an independent computation of the
//! same question: the raw log lines read with serde_json (not the import's
//! parser), filtered and counted window by window the slow, obvious way,
//! compared with what `gatehouse traffic top|recommend --format json` prints.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::audit::{Actor, Client};
use chrono::{DateTime, TimeZone, Utc};
use gatehouse::traffic::generate::{Scenario, write_logs};
use gatehouse::traffic::import::{self, Source};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/waf-logs/security-automations-cloudfront.jsonl.gz"
);

/// One raw record, read independently of the import.
struct Raw {
    ms: i64,
    ip: String,
    uri: String,
    method: String,
    country: Option<String>,
    headers: Vec<(String, String)>,
    web_acl: Option<String>,
    action: Option<String>,
    labels: Vec<String>,
}

fn read_raw(files: &[PathBuf]) -> Vec<Raw> {
    let mut out = Vec::new();
    for file in files {
        let reader = BufReader::new(flate2::read::MultiGzDecoder::new(
            std::fs::File::open(file).unwrap(),
        ));
        for line in reader.lines() {
            let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
            let r = &v["httpRequest"];
            out.push(Raw {
                ms: v["timestamp"].as_i64().unwrap(),
                ip: r["clientIp"].as_str().unwrap().to_owned(),
                uri: r["uri"].as_str().unwrap().to_owned(),
                method: r["httpMethod"].as_str().unwrap().to_owned(),
                country: r["country"].as_str().map(str::to_owned),
                headers: r["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| {
                        (
                            h["name"].as_str().unwrap().to_owned(),
                            h["value"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect(),
                web_acl: v["webaclId"].as_str().map(str::to_owned),
                action: v["action"].as_str().map(str::to_owned),
                labels: v["labels"]
                    .as_array()
                    .map(|labels| {
                        labels
                            .iter()
                            .map(|l| l["name"].as_str().unwrap().to_owned())
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
    }
    out
}

/// What the default healthy basis leaves out, decided the obvious way.
fn healthy(r: &Raw) -> bool {
    let blocked = matches!(r.action.as_deref(), Some("BLOCK" | "CAPTCHA" | "CHALLENGE"));
    let bad = r.labels.iter().any(|l| {
        l.starts_with("awswaf:managed:aws:amazon-ip-list:")
            || l.starts_with("awswaf:managed:aws:anonymous-ip-list:")
    });
    !blocked && !bad
}

struct Question<'a> {
    from: &'a str,
    to: &'a str,
    window: i64,
    by: &'a str,
    uri: Option<(&'a str, bool)>,
    method: Option<&'a str>,
    country: Option<&'a str>,
    web_acl: Option<&'a str>,
    label: Option<&'a str>,
    sliding: bool,
}

impl Question<'_> {
    fn args(&self) -> Vec<String> {
        let mut args = vec![
            format!("--from={}", self.from),
            format!("--to={}", self.to),
            format!("--window={}", self.window),
            format!("--by={}", self.by),
        ];
        if let Some((uri, prefix)) = self.uri {
            args.push(format!("--uri={uri}"));
            args.push(format!(
                "--uri-match={}",
                if prefix { "prefix" } else { "exact" }
            ));
        }
        args.extend(self.method.map(|m| format!("--method={m}")));
        args.extend(self.country.map(|c| format!("--country={c}")));
        args.extend(self.web_acl.map(|w| format!("--web-acl={w}")));
        args.extend(self.label.map(|l| format!("--label={l}")));
        if self.sliding {
            args.push("--sliding".into());
        }
        args
    }

    /// (key, uri) of a record, or None when the question leaves it out.
    fn key(&self, r: &Raw) -> Option<(String, Option<String>)> {
        let from = DateTime::parse_from_rfc3339(self.from)
            .unwrap()
            .timestamp_millis();
        let to = DateTime::parse_from_rfc3339(self.to)
            .unwrap()
            .timestamp_millis();
        let wanted = (from..to).contains(&r.ms)
            && self.uri.is_none_or(|(u, prefix)| {
                if prefix {
                    r.uri.starts_with(u)
                } else {
                    r.uri == u
                }
            })
            && self.method.is_none_or(|m| r.method == m)
            && self.country.is_none_or(|c| r.country.as_deref() == Some(c))
            && self.web_acl.is_none_or(|w| {
                r.web_acl.as_deref().and_then(|arn| arn.split('/').nth(2)) == Some(w)
            })
            && self.label.is_none_or(|l| r.labels.iter().any(|x| x == l));
        if !wanted {
            return None;
        }
        match self.by {
            "ip" => Some((r.ip.clone(), None)),
            "ip-uri" => Some((r.ip.clone(), Some(r.uri.clone()))),
            "country" => Some((r.country.clone().unwrap_or_else(|| "-".into()), None)),
            by => {
                let header = by.strip_prefix("forwarded:").unwrap();
                let (_, value) = r
                    .headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(header))?;
                let first: std::net::IpAddr = value.split(',').next()?.trim().parse().ok()?;
                Some((first.to_string(), None))
            }
        }
    }

    /// Every (key, uri, window start) with its count.
    fn windows(&self, records: &[Raw]) -> HashMap<(String, Option<String>, i64), u64> {
        self.windows_of(records.iter())
    }

    fn windows_of<'r>(
        &self,
        records: impl Iterator<Item = &'r Raw>,
    ) -> HashMap<(String, Option<String>, i64), u64> {
        let mut counts = HashMap::new();
        for r in records {
            let Some((key, uri)) = self.key(r) else {
                continue;
            };
            let second = r.ms.div_euclid(1000);
            let starts: Vec<i64> = if self.sliding {
                let last = second.div_euclid(10) * 10;
                (0..self.window / 10).map(|i| last - i * 10).collect()
            } else {
                vec![second.div_euclid(self.window) * self.window]
            };
            for start in starts {
                *counts.entry((key.clone(), uri.clone(), start)).or_insert(0) += 1;
            }
        }
        counts
    }
}

fn expected_top(question: &Question, records: &[Raw], limit: usize) -> Value {
    let mut rows: Vec<_> = question.windows(records).into_iter().collect();
    rows.sort_by(|((ka, ua, sa), ca), ((kb, ub, sb), cb)| {
        cb.cmp(ca)
            .then(sa.cmp(sb))
            .then(ka.cmp(kb))
            .then(ua.cmp(ub))
    });
    rows.truncate(limit);
    rows.into_iter()
        .map(|((key, uri, start), count)| {
            let at = Utc
                .timestamp_opt(start, 0)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            serde_json::json!({"key": key, "uri": uri, "window_start": at, "count": count})
        })
        .collect()
}

fn expected_peaks<'r>(question: &Question, records: impl Iterator<Item = &'r Raw>) -> Vec<u64> {
    let mut peaks: HashMap<(String, Option<String>), u64> = HashMap::new();
    for ((key, uri, _), count) in question.windows_of(records) {
        let peak = peaks.entry((key, uri)).or_insert(0);
        *peak = (*peak).max(count);
    }
    let mut sorted: Vec<u64> = peaks.into_values().collect();
    sorted.sort_unstable();
    sorted
}

#[sqlx::test(migrations = "../migrations")]
async fn top_and_recommend_match_an_independent_count_of_the_raw_logs(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario {
        start: Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap(),
        hours: 24,
        scale: 0.05,
        seed: 11,
        web_acl_arn: gatehouse::traffic::generate::WEB_ACL_ARN.into(),
    };
    let mut files = write_logs(dir.path(), &scenario).unwrap().files;
    files.push(PathBuf::from(FIXTURE));
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
    let records = read_raw(&files);
    let url = common::database_url(&pool);

    let day = |by, window, sliding| Question {
        from: "2026-11-22T00:00:00Z",
        to: "2026-11-23T00:00:00Z",
        window,
        by,
        uri: None,
        method: None,
        country: None,
        web_acl: None,
        label: None,
        sliding,
    };
    let questions = [
        day("ip", 300, false),
        day("ip", 60, true),
        day("ip", 600, true),
        day("forwarded:X-Forwarded-For", 120, false),
        day("forwarded:x-forwarded-for", 300, true),
        day("country", 600, false),
        Question {
            uri: Some(("/login", false)),
            method: Some("POST"),
            ..day("ip", 300, false)
        },
        Question {
            uri: Some(("/api/", true)),
            ..day("ip-uri", 60, false)
        },
        Question {
            country: Some("DE"),
            ..day("ip", 120, true)
        },
        Question {
            web_acl: Some("shop"),
            ..day("ip", 300, false)
        },
        Question {
            web_acl: Some("AWSWAFSecurityAutomations-Prod"),
            from: "2023-04-01T00:00:00Z",
            to: "2023-05-01T00:00:00Z",
            ..day("ip", 60, false)
        },
        Question {
            label: Some("awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList"),
            ..day("ip-uri", 60, true)
        },
        // A range that cuts through windows and the brute force, at odd seconds.
        Question {
            from: "2026-11-22T09:31:17Z",
            to: "2026-11-22T15:04:59Z",
            ..day("ip", 300, false)
        },
        // Whole 10-second steps that cut through the flood: answered from the
        // per-IP buckets, with requests on both sides of each end.
        Question {
            from: "2026-11-22T15:02:00Z",
            to: "2026-11-22T15:07:30Z",
            ..day("ip", 60, true)
        },
        // The real records of the shared fixture (2023), redacted IPs included.
        Question {
            from: "2023-04-01T00:00:00Z",
            to: "2023-05-01T00:00:00Z",
            ..day("ip", 60, false)
        },
        Question {
            from: "2023-04-01T00:00:00Z",
            to: "2023-05-01T00:00:00Z",
            ..day("ip-uri", 300, true)
        },
    ];
    for question in &questions {
        let mut args = vec![
            "traffic".to_owned(),
            "top".into(),
            "--format=json".into(),
            "--limit=40".into(),
        ];
        args.extend(question.args());
        let expected = expected_top(question, &records, 40);
        assert!(
            !expected.as_array().unwrap().is_empty(),
            "{:?} has data",
            question.args()
        );
        assert_eq!(
            common::gatehouse_json(&url, &args),
            expected,
            "{:?}",
            question.args()
        );

        // On all traffic, and on the healthy traffic (outliers kept: they
        // are checked below).
        for basis in ["--all-traffic", "--keep-outliers"] {
            let peaks = match basis {
                "--all-traffic" => expected_peaks(question, records.iter()),
                _ => expected_peaks(question, records.iter().filter(|r| healthy(r))),
            };
            if peaks.is_empty() {
                continue;
            }
            let rank = |p: f64| {
                peaks[((p * peaks.len() as f64 - 1e-9).ceil() as usize).clamp(1, peaks.len()) - 1]
            };
            let mut args = vec![
                "traffic".to_owned(),
                "recommend".into(),
                "--format=json".into(),
                "--buffer=50".into(),
                basis.into(),
            ];
            args.extend(question.args());
            let got = common::gatehouse_json(&url, &args);
            let expected_peaks = serde_json::json!({
                "p50": rank(0.5), "p90": rank(0.9), "p99": rank(0.99), "p99.9": rank(0.999), "max": peaks.last().unwrap(),
            });
            let said = format!("{basis} {:?}", question.args());
            assert_eq!(got["peaks"], expected_peaks, "{said}");
            assert_eq!(got["keys"], peaks.len(), "{said}");
            let recommended = (rank(0.99) * 150).div_ceil(100).clamp(10, 2_000_000_000);
            assert_eq!(got["recommended_limit"], recommended, "{said}");
            if basis == "--keep-outliers" {
                let asked: Vec<&Raw> = records
                    .iter()
                    .filter(|r| question.key(r).is_some())
                    .collect();
                let blocked = asked
                    .iter()
                    .filter(|r| r.action.as_deref() == Some("BLOCK"))
                    .count();
                let labelled = asked.iter().filter(|r| !healthy(r)).count() - blocked;
                assert_eq!(
                    (
                        &got["left_out"]["requests"],
                        &got["left_out"]["blocked"],
                        &got["left_out"]["labelled"]
                    ),
                    (
                        &Value::from(asked.len()),
                        &Value::from(blocked),
                        &Value::from(labelled)
                    ),
                    "{said}"
                );
            }
        }
    }

    // The day's brute force: blocked after three minutes, and what WAF let
    // through before stands out from the people signing in.
    let login = Question {
        uri: Some(("/login", false)),
        ..day("ip", 300, false)
    };
    let mut args = vec![
        "traffic".to_owned(),
        "recommend".into(),
        "--format=json".into(),
    ];
    args.extend(login.args());
    let got = common::gatehouse_json(&url, &args);
    let healthy_peaks = expected_peaks(&login, records.iter().filter(|r| healthy(r)));
    let forcers: std::collections::HashSet<&str> = records
        .iter()
        .filter(|r| r.action.as_deref() == Some("BLOCK"))
        .map(|r| r.ip.as_str())
        .collect();
    assert_eq!(forcers.len(), 4);
    assert_eq!(got["left_out"]["outlier_keys"], 4, "{got}");
    assert_eq!(got["keys"], healthy_peaks.len() - 4);
    let above = got["left_out"]["outlier_above"].as_u64().unwrap();
    assert!(healthy_peaks.iter().filter(|&&p| p > above).count() == 4);

    // The what-if for the day's flood at 100 requests per 5 minutes.
    let question = day("ip", 300, false);
    let mut args = vec![
        "traffic".to_owned(),
        "recommend".into(),
        "--format=json".into(),
        "--what-if=100".into(),
    ];
    args.extend(question.args());
    let got = common::gatehouse_json(&url, &args);
    let over: Vec<_> = question
        .windows(&records)
        .into_iter()
        .filter(|(_, c)| *c > 100)
        .collect();
    let keys: std::collections::HashSet<_> = over.iter().map(|((k, _, _), _)| k.clone()).collect();
    assert_eq!(got["what_if"]["keys"], keys.len());
    assert_eq!(
        got["what_if"]["requests"],
        over.iter().map(|(_, c)| c - 100).sum::<u64>()
    );
    assert!(
        keys.contains("203.0.113.40"),
        "the brute force is over the limit"
    );
    assert!(
        keys.iter().any(|k| k.starts_with("198.51.100.")),
        "so is the flood"
    );
}

/// An answer is kept until an import changes the counts: asked again, it
/// is not counted again (the segments, damaged behind its back, are not
/// read); after an import, it is.
#[sqlx::test(migrations = "../migrations")]
async fn answers_are_kept_until_an_import(_: PgPoolOptions, options: PgConnectOptions) {
    use app::traffic::query::{Analysis, KeyBy, UriMatch};
    use app::traffic::store::{self, Detail};
    let pool = common::pool(options).await;
    let import_hours = |start_hour: u32| {
        let pool = pool.clone();
        async move {
            let dir = tempfile::tempdir().unwrap();
            let scenario = Scenario {
                start: Utc
                    .with_ymd_and_hms(2026, 11, 22, start_hour, 0, 0)
                    .unwrap(),
                hours: 1,
                scale: 0.05,
                seed: u64::from(start_hour),
                web_acl_arn: gatehouse::traffic::generate::WEB_ACL_ARN.into(),
            };
            let files = write_logs(dir.path(), &scenario).unwrap().files;
            let patterns: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            import::import(
                &pool,
                import::expand(&patterns).unwrap(),
                Source::Cli,
                Default::default(),
                Actor {
                    sub: None,
                    username: Some("test".into()),
                },
                Client::default(),
            )
            .await
            .unwrap();
        }
    };
    import_hours(1).await;
    let analysis = Analysis {
        from: Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap(),
        window: 300,
        by: KeyBy::Ip,
        uri: Some("/".into()),
        uri_match: UriMatch::Prefix,
        method: None,
        country: None,
        web_acl: None,
        label: None,
        sliding: false,
        limit: 10,
    };
    let first = store::answer(&pool, &analysis, Detail::Everything, None)
        .await
        .unwrap();
    assert!(!first.top.is_empty());
    // Damaged where an analysis reads: a count would fail now.
    sqlx::query("UPDATE traffic_segments SET data = '\\x00'::bytea, by_ip = '\\x00'::bytea")
        .execute(&pool)
        .await
        .unwrap();
    assert!(
        store::compute(&pool, &analysis, Detail::Everything, None)
            .await
            .is_err()
    );
    let again = store::answer(&pool, &analysis, Detail::Everything, None)
        .await
        .unwrap();
    assert_eq!(again.top, first.top, "kept, not counted again");
    // An import changes what there is: counted again (and the damage seen).
    import_hours(5).await;
    assert!(
        store::answer(&pool, &analysis, Detail::Everything, None)
            .await
            .is_err(),
        "counted again after the import"
    );
}
