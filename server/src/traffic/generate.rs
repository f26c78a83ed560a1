//! Realistic sample WAF logs for the demo and the benchmark.
//!
//! One day (or any number of hours) of a shop's traffic, written as WAF
//! delivers it to S3: one gzip file of JSON lines per five minutes under
//! `AWSLogs/<account>/WAFLogs/<region>/<webacl>/YYYY/MM/dd/HH/mm/`. The day
//! holds what a team needs to see before it sets rate limits:
//! - people browsing, more by day than by night (a daily curve peaking at
//!   14:00 UTC), each page view a burst of a page and its API calls, one
//!   visit in four signing in first (`POST /login`);
//! - a quarter of them arriving through CDN edges, so the edges' addresses
//!   carry many people and `X-Forwarded-For` names the person;
//! - a `/login` brute force: four addresses posting about once a second for
//!   45 minutes from 09:20; the demo web ACL's `/login` rate rule (150 per
//!   five minutes) blocks them from three minutes in, and the logs say so;
//! - an HTTP flood: a botnet of hosting-provider addresses each requesting
//!   `/` and `/search` about once a second for ten minutes from 15:00.
//!
//! The output depends only on the scenario (seeded), so tests can name the
//! numbers they expect.

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use flate2::{Compression, write::GzEncoder};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde::Serialize;
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
pub const WEB_ACL: &str = "shop";
/// The web ACL the logs name when the scenario does not say.
pub const WEB_ACL_ARN: &str = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/shop/6a1b3f0e-57c2-4c3e-9f0a-5d1c2b7e9a40";
/// When the brute force's requests start being blocked, after it begins.
const BRUTE_FORCE_BLOCKED_AFTER: f64 = 180.0;
const FILE_SECONDS: i64 = 300;
const STEP_SECONDS: i64 = 10;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The first second covered; the day's events are placed relative to it.
    pub start: DateTime<Utc>,
    pub hours: u32,
    /// Multiplies the number of people and bots (1.0: about 230,000 records a day).
    pub scale: f64,
    pub seed: u64,
    /// The ARN every record names as its web ACL (`webaclId`).
    pub web_acl_arn: String,
}

impl Scenario {
    /// The demo's day: yesterday (UTC), so the console shows recent traffic.
    pub fn yesterday(now: DateTime<Utc>) -> Self {
        let midnight = now
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|t| Utc.from_utc_datetime(&t))
            .unwrap_or(now);
        Scenario {
            start: midnight - chrono::Duration::days(1),
            hours: 24,
            scale: 1.0,
            seed: 7,
            web_acl_arn: WEB_ACL_ARN.to_owned(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Generated {
    pub files: Vec<PathBuf>,
    pub records: u64,
}

/// Writes the scenario's log files under `dir` and names them.
pub fn write_logs(dir: &Path, scenario: &Scenario) -> io::Result<Generated> {
    let mut rng = StdRng::seed_from_u64(scenario.seed);
    let cast = Cast::new(&mut rng, scenario.scale);
    let start = scenario.start.timestamp();
    let end = start + i64::from(scenario.hours) * 3600;
    let mut generated = Generated::default();
    let mut slot = start - start.rem_euclid(FILE_SECONDS);
    while slot < end {
        let mut requests = Vec::new();
        let mut step = slot.max(start);
        while step < (slot + FILE_SECONDS).min(end) {
            cast.requests_in_step(&mut rng, step, (step - start) as f64, &mut requests);
            step += STEP_SECONDS;
        }
        requests.sort_by_key(|r| r.timestamp_ms);
        if !requests.is_empty() {
            let path = dir.join(object_key(slot, &mut rng));
            write_file(&path, &requests, &scenario.web_acl_arn, &mut rng)?;
            generated.records += requests.len() as u64;
            generated.files.push(path);
        }
        slot += FILE_SECONDS;
    }
    Ok(generated)
}

/// `AWSLogs/…/YYYY/MM/dd/HH/mm/<account>_waflogs_<region>_<acl>_<stamp>_<id>.log.gz`
fn object_key(slot: i64, rng: &mut StdRng) -> PathBuf {
    let at = Utc.timestamp_opt(slot, 0).single().unwrap_or_default();
    let folder = format!(
        "AWSLogs/{ACCOUNT}/WAFLogs/{REGION}/{WEB_ACL}/{:04}/{:02}/{:02}/{:02}/{:02}",
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute()
    );
    let name = format!(
        "{ACCOUNT}_waflogs_{REGION}_{WEB_ACL}_{}_{:08x}.log.gz",
        at.format("%Y%m%dT%H%MZ"),
        rng.random::<u32>()
    );
    PathBuf::from(folder).join(name)
}

/// One request as the generator decides it, before it is written out.
struct Request {
    timestamp_ms: i64,
    client_ip: Ipv4Addr,
    forwarded_for: Option<Ipv4Addr>,
    country: &'static str,
    method: &'static str,
    uri: &'static str,
    args: &'static str,
    user_agent: &'static str,
    hosting_provider: bool,
    /// The rate rule that blocked it, if one did.
    blocked_by: Option<&'static str>,
}

struct Person {
    ip: Ipv4Addr,
    country: &'static str,
    behind_cdn: bool,
    user_agent: &'static str,
    /// How much more often than the average person this one browses.
    appetite: f64,
}

/// Everyone who appears in the logs.
struct Cast {
    people: Vec<Person>,
    cdn_edges: Vec<Ipv4Addr>,
    brute_forcers: Vec<Ipv4Addr>,
    botnet: Vec<Ipv4Addr>,
}

const COUNTRIES: [(&str, u32); 10] = [
    ("US", 34),
    ("DE", 12),
    ("GB", 10),
    ("FR", 8),
    ("JP", 7),
    ("BR", 7),
    ("IN", 7),
    ("CA", 6),
    ("AU", 5),
    ("NL", 4),
];
const BROWSERS: [&str; 4] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
];
const PAGES: [(&str, &str); 6] = [
    ("/", ""),
    ("/products", "page=2"),
    ("/products/4711", ""),
    ("/search", "q=boots"),
    ("/cart", ""),
    ("/account", ""),
];
const CALLS: [(&str, &str); 3] = [
    ("/api/cart", "GET"),
    ("/api/recommendations", "GET"),
    ("/api/events", "POST"),
];
const PEOPLE: f64 = 6000.0;
/// Visits a person makes in a day, on average.
const VISITS_PER_DAY: f64 = 2.0;
/// One visit in this many signs in.
const SIGN_IN_EVERY: u32 = 4;

impl Cast {
    fn new(rng: &mut StdRng, scale: f64) -> Self {
        let people = (PEOPLE * scale).round().max(1.0) as usize;
        let total: u32 = COUNTRIES.iter().map(|(_, w)| w).sum();
        let people = (0..people)
            .map(|_| {
                let mut pick = rng.random_range(0..total);
                let country = COUNTRIES
                    .iter()
                    .find(|(_, w)| {
                        let hit = pick < *w;
                        pick = pick.saturating_sub(*w);
                        hit
                    })
                    .map_or("US", |(c, _)| c);
                Person {
                    ip: public_address(rng),
                    country,
                    behind_cdn: rng.random_bool(0.25),
                    user_agent: BROWSERS.choose(rng).copied().unwrap_or(BROWSERS[0]),
                    // Most people browse a little, a few a lot.
                    appetite: 0.2 / (0.05 + rng.random::<f64>()),
                }
            })
            .collect();
        let bots = (150.0 * scale).round().max(1.0) as u32;
        Cast {
            people,
            cdn_edges: (0..8)
                .map(|i| Ipv4Addr::new(130, 176, 9 + i, 20 + i * 3))
                .collect(),
            brute_forcers: (0..4).map(|i| Ipv4Addr::new(203, 0, 113, 40 + i)).collect(),
            botnet: (0..bots)
                .map(|i| Ipv4Addr::new(198, 51, 100 + (i / 250) as u8, (i % 250) as u8 + 3))
                .collect(),
        }
    }

    /// Adds the requests of the ten seconds from `second` (`elapsed` seconds
    /// into the scenario).
    fn requests_in_step(
        &self,
        rng: &mut StdRng,
        second: i64,
        elapsed: f64,
        out: &mut Vec<Request>,
    ) {
        let hour_of_day = (second.rem_euclid(86_400)) as f64 / 3600.0;
        let curve =
            0.3 + 0.7 * (1.0 + ((hour_of_day - 14.0) / 24.0 * std::f64::consts::TAU).cos()) / 2.0;
        let mean_appetite = 0.2 * (1.05f64 / 0.05).ln();
        let visits = self.people.len() as f64 * VISITS_PER_DAY / 8640.0 * curve / 0.65;
        for _ in 0..count(rng, visits) {
            let person = loop {
                let candidate = &self.people[rng.random_range(0..self.people.len())];
                if rng.random::<f64>() < candidate.appetite / (mean_appetite * 4.0) {
                    break candidate;
                }
            };
            self.visit(rng, person, second, out);
        }
        let at = |rng: &mut StdRng| second * 1000 + rng.random_range(0..STEP_SECONDS * 1000);
        let attack = |from_hour: f64, minutes: f64| {
            (from_hour * 3600.0..from_hour * 3600.0 + minutes * 60.0).contains(&elapsed)
        };
        let brute_force = 9.0 + 20.0 / 60.0;
        if attack(brute_force, 45.0) {
            let blocked = elapsed >= brute_force * 3600.0 + BRUTE_FORCE_BLOCKED_AFTER;
            for ip in &self.brute_forcers {
                let mean = rng.random_range(7.0..12.0);
                for _ in 0..count(rng, mean) {
                    out.push(Request {
                        timestamp_ms: at(rng),
                        client_ip: *ip,
                        forwarded_for: None,
                        country: "VN",
                        method: "POST",
                        uri: "/login",
                        args: "",
                        user_agent: "python-requests/2.31.0",
                        hosting_provider: false,
                        blocked_by: blocked.then_some("UriBasedRule"),
                    });
                }
            }
        }
        if attack(15.0, 10.0) {
            for ip in &self.botnet {
                let mean = rng.random_range(7.0..13.0);
                for _ in 0..count(rng, mean) {
                    let (uri, args) = if rng.random_bool(0.7) {
                        ("/", "")
                    } else {
                        ("/search", "q=a")
                    };
                    out.push(Request {
                        timestamp_ms: at(rng),
                        client_ip: *ip,
                        forwarded_for: None,
                        country: ["US", "NL", "SG", "DE"][usize::from(ip.octets()[3]) % 4],
                        method: "GET",
                        uri,
                        args,
                        user_agent: BROWSERS[0],
                        hosting_provider: true,
                        blocked_by: None,
                    });
                }
            }
        }
    }

    /// A visit: a few page views (more for keen people) some seconds
    /// apart, each page followed by some of its API calls; one visit in
    /// [`SIGN_IN_EVERY`] signs in first (a `POST /login`, now and then a
    /// mistyped password and a second try).
    fn visit(&self, rng: &mut StdRng, person: &Person, second: i64, out: &mut Vec<Request>) {
        let (client_ip, forwarded_for) = match person.behind_cdn {
            true => (
                *self.cdn_edges.choose(rng).unwrap_or(&self.cdn_edges[0]),
                Some(person.ip),
            ),
            false => (person.ip, None),
        };
        let pages = 1 + (person.appetite * 8.0 * rng.random::<f64>()) as u32;
        let mut at = second * 1000 + rng.random_range(0..STEP_SECONDS * 1000);
        if rng.random_ratio(1, SIGN_IN_EVERY) {
            let tries = 1 + u32::from(rng.random_bool(0.15));
            for _ in 0..tries {
                out.push(Request {
                    timestamp_ms: at,
                    client_ip,
                    forwarded_for,
                    country: person.country,
                    method: "POST",
                    uri: "/login",
                    args: "",
                    user_agent: person.user_agent,
                    hosting_provider: false,
                    blocked_by: None,
                });
                at += rng.random_range(3_000..12_000);
            }
        }
        for _ in 0..pages {
            let (uri, args) = *PAGES.choose(rng).unwrap_or(&PAGES[0]);
            let calls = rng.random_range(0..=CALLS.len());
            for call in 0..=calls {
                let (uri, args, method) = match call {
                    0 => (uri, args, "GET"),
                    n => (CALLS[n - 1].0, "", CALLS[n - 1].1),
                };
                out.push(Request {
                    timestamp_ms: at + call as i64 * rng.random_range(80..700),
                    client_ip,
                    forwarded_for,
                    country: person.country,
                    method,
                    uri,
                    args,
                    user_agent: person.user_agent,
                    hosting_provider: false,
                    blocked_by: None,
                });
            }
            at += rng.random_range(4_000..40_000);
        }
    }
}

/// How many of something that happens `mean` times on average.
fn count(rng: &mut StdRng, mean: f64) -> u32 {
    let whole = mean.floor();
    whole as u32 + u32::from(rng.random::<f64>() < mean - whole)
}

/// A unicast public IPv4 address outside the special-purpose ranges the
/// demo uses for its CDN, brute force and botnet.
fn public_address(rng: &mut StdRng) -> Ipv4Addr {
    loop {
        let ip = Ipv4Addr::from(rng.random::<u32>());
        let [a, b, ..] = ip.octets();
        let special = ip.is_private()
            || ip.is_loopback()
            || ip.is_link_local()
            || ip.is_multicast()
            || ip.is_documentation()
            || a == 0
            || a >= 224
            || (a == 100 && (64..128).contains(&b))
            || (a == 198 && (18..20).contains(&b))
            || (a == 130 && b == 176);
        if !special {
            return ip;
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WafRecord<'a> {
    timestamp: i64,
    format_version: u8,
    webacl_id: &'a str,
    terminating_rule_id: &'a str,
    terminating_rule_type: &'a str,
    action: &'a str,
    terminating_rule_match_details: [(); 0],
    http_source_name: &'a str,
    http_source_id: &'a str,
    rule_group_list: [(); 0],
    rate_based_rule_list: [(); 0],
    non_terminating_matching_rules: [(); 0],
    request_headers_inserted: Option<()>,
    response_code_sent: Option<()>,
    http_request: HttpRequest<'a>,
    labels: Vec<Label<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HttpRequest<'a> {
    client_ip: String,
    country: &'a str,
    headers: Vec<Header<'a>>,
    uri: &'a str,
    args: &'a str,
    http_version: &'a str,
    http_method: &'a str,
    request_id: String,
}

#[derive(Serialize)]
struct Header<'a> {
    name: &'a str,
    value: std::borrow::Cow<'a, str>,
}

#[derive(Serialize)]
struct Label<'a> {
    name: &'a str,
}

fn write_file(
    path: &Path,
    requests: &[Request],
    web_acl: &str,
    rng: &mut StdRng,
) -> io::Result<()> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    let file = io::BufWriter::new(std::fs::File::create(path)?);
    let mut gz = GzEncoder::new(file, Compression::fast());
    for request in requests {
        let mut headers = vec![
            Header {
                name: "Host",
                value: "shop.example.com".into(),
            },
            Header {
                name: "User-Agent",
                value: request.user_agent.into(),
            },
            Header {
                name: "Accept",
                value: "text/html,application/json;q=0.9,*/*;q=0.8".into(),
            },
            Header {
                name: "Accept-Language",
                value: "en-US,en;q=0.5".into(),
            },
        ];
        if let Some(person) = request.forwarded_for {
            headers.push(Header {
                name: "X-Forwarded-For",
                value: format!("{person}, {}", request.client_ip).into(),
            });
        }
        let labels = match request.hosting_provider {
            true => vec![Label {
                name: "awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList",
            }],
            false => Vec::new(),
        };
        let (terminating_rule_id, terminating_rule_type, action) = match request.blocked_by {
            Some(rule) => (rule, "RATE_BASED", "BLOCK"),
            None => ("Default_Action", "REGULAR", "ALLOW"),
        };
        let record = WafRecord {
            timestamp: request.timestamp_ms,
            format_version: 1,
            webacl_id: web_acl,
            terminating_rule_id,
            terminating_rule_type,
            action,
            terminating_rule_match_details: [],
            http_source_name: "ALB",
            http_source_id: "123456789012-app/shop-alb/50dc6c495c0c9188",
            rule_group_list: [],
            rate_based_rule_list: [],
            non_terminating_matching_rules: [],
            request_headers_inserted: None,
            response_code_sent: None,
            http_request: HttpRequest {
                client_ip: request.client_ip.to_string(),
                country: request.country,
                headers,
                uri: request.uri,
                args: request.args,
                http_version: "HTTP/1.1",
                http_method: request.method,
                request_id: format!("{:016x}{:016x}", rng.random::<u64>(), rng.random::<u64>()),
            },
            labels,
        };
        serde_json::to_writer(&mut gz, &record)?;
        gz.write_all(b"\n")?;
    }
    gz.finish()?.flush()
}
