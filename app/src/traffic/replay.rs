//! Replay: what a set of rules would have done to the traffic imported,
//! with WAF's semantics as closely as the imported counts allow.
//!
//! - Rules run in priority order. A request a rule blocks (Block, CAPTCHA,
//!   Challenge) or allows does not reach later rules; Count goes on.
//! - A rate-based rule counts only the requests that reach it and match
//!   its scope-down statement (decided by the one WAF statement evaluator,
//!   `rules::evaluate`, on what the log holds: URI path, method, WAF's
//!   country, labels, the client or forwarded address, IP sets read live),
//!   per key (`IP`, `FORWARDED_IP`, `CONSTANT`).
//! - At the end of every 10-second step a key whose requests in the rule's
//!   evaluation window exceed the limit is blocked for the next step, and
//!   for as long as it stays over. Blocked requests still count towards
//!   the rate, as they do in WAF. WAF itself reacts within some seconds,
//!   so this is an estimate.
//! - What the imported counts cannot decide (bodies, headers other than a
//!   forwarded-IP header, managed rule groups, custom keys) is named, and
//!   that rule is reported as "unknown scope", never guessed. The counts
//!   do not join a forwarded address to its client address, so a rule
//!   keyed by one does not see what a rule keyed by the other blocked.
//!
//! Pure: the store hands it the segments; the caller reads the IP sets.
//! Gathering is told the rules first (a [`Plan`]), so it keeps only what
//! they can tell apart: it sums the requests per 10-second step, key and
//! kind — a kind being what the plan's statements answer for a request,
//! decided once per distinct (URI, method, country, labels) of a segment.
//! The rules then read answers, not strings, key by key over rows put in
//! order of key, both halves of the keys at once.

use super::query::{SLIDE_SECONDS, web_acl_matches};
use super::segment::{Damaged, Forwarded, Interner, NONE, Segment};
use crate::rules::evaluate::{Facts, Lookups, matches};
use crate::rules::model::{AggregateKeyType, RuleAction, RuleEntry, Statement};
use foldhash::HashMap as FastMap;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;

/// Keys shown per rule, the busiest first.
pub const TOP_KEYS: usize = 10;

/// What the replays of some sets of rules over one traffic ask of each
/// request: every statement a rule decides on (a rate rule's scope-down, a
/// plain rule's statement), what those statements look up, and whether a
/// rule counts by a forwarded address. Gathering answers every statement
/// once per kind of request, so the replays themselves only read answers.
pub struct Plan {
    statements: Vec<Statement>,
    /// Whether some statement looks at a request's address or headers:
    /// then requests from different addresses are of different kinds.
    by_address: bool,
    /// Whether some rate rule counts by a forwarded address: only then are
    /// the forwarded rows gathered.
    forwarded: bool,
    lookups: Arc<dyn LookupSource>,
}

/// What statements look up (IP sets, countries), shared by the threads
/// that gather.
pub trait LookupSource: Send + Sync {
    /// The country of an address (ISO code), if known.
    fn country(&self, ip: IpAddr) -> Option<String>;
    /// The addresses of the IP set with this ARN, if known.
    fn ip_set(&self, arn: &str) -> Option<Vec<ipnet::IpNet>>;
}

impl Plan {
    /// The plan for replaying each of `sets` over the same traffic.
    pub fn new(sets: &[&[RuleEntry]], lookups: Arc<dyn LookupSource>) -> Plan {
        let mut plan = Plan {
            statements: Vec::new(),
            by_address: false,
            forwarded: false,
            lookups,
        };
        for entry in sets.iter().flat_map(|set| set.iter()) {
            let RuleEntry::Rule(rule) = entry else {
                continue;
            };
            let statement = match &rule.statement {
                Statement::RateBased(rate) => {
                    plan.forwarded |=
                        matches!(rate.aggregate_key_type, AggregateKeyType::ForwardedIp);
                    match &rate.scope_down_statement {
                        Some(scope) => scope,
                        None => continue,
                    }
                }
                statement => statement,
            };
            if !plan.statements.contains(statement) {
                plan.by_address |= uses_address(statement);
                plan.statements.push(statement.clone());
            }
        }
        plan
    }

    /// The statement's place in the plan.
    fn index(&self, statement: &Statement) -> Result<usize, String> {
        self.statements
            .iter()
            .position(|s| s == statement)
            .ok_or_else(|| "the rule was not among those the traffic was gathered for".to_owned())
    }
}

/// One 10-second step's requests of one key and kind, as the replay holds
/// them.
#[derive(Debug, Clone, Copy, Default)]
struct Row {
    /// The step, counted from the range's first.
    step: u32,
    /// The client address, or for a forwarded row the forwarded address.
    key: u32,
    /// What the plan's statements answer for these requests, and for a
    /// forwarded row which header named the key: an index into [`Kinds`].
    kind: u32,
    requests: u32,
}

const NO: u8 = 0;
const YES: u8 = 1;
const UNDECIDABLE: u8 = 2;

/// The kinds of request: each a distinct list of the plan's statements'
/// answers ([`NO`], [`YES`], [`UNDECIDABLE`]) with the forwarded header's
/// name ([`NONE`] for a count row), numbered as first seen.
struct Kinds {
    statements: usize,
    /// Per kind, per statement.
    answers: Vec<u8>,
    /// Per kind: the header's name, a string id.
    headers: Vec<u32>,
    /// Per kind: its answers, then its header's id (little-endian).
    ids: FastMap<Box<[u8]>, u32>,
    /// Per statement: why it could not be decided, the first time.
    whys: Vec<Option<String>>,
}

impl Kinds {
    fn new(statements: usize) -> Self {
        Kinds {
            statements,
            answers: Vec::new(),
            headers: Vec::new(),
            ids: FastMap::default(),
            whys: vec![None; statements],
        }
    }

    /// The kind of requests with these facts, counted by `header` (a
    /// string id; [`NONE`] for the client address).
    fn decide(
        &mut self,
        plan: &Plan,
        facts: &RowFacts<'_>,
        lookups: &Lookups<'_>,
        header: u32,
    ) -> u32 {
        let mut answers = Vec::with_capacity(self.statements + 4);
        for (statement, why) in plan.statements.iter().zip(&mut self.whys) {
            answers.push(match matches(statement, facts, lookups) {
                Ok(false) => NO,
                Ok(true) => YES,
                Err(reason) => {
                    why.get_or_insert(reason);
                    UNDECIDABLE
                }
            });
        }
        self.kind(answers, header)
    }

    fn kind(&mut self, mut answers: Vec<u8>, header: u32) -> u32 {
        answers.extend_from_slice(&header.to_le_bytes());
        if let Some(&kind) = self.ids.get(answers.as_slice()) {
            return kind;
        }
        let kind = self.headers.len() as u32;
        self.answers.extend_from_slice(&answers[..self.statements]);
        self.headers.push(header);
        self.ids.insert(answers.into(), kind);
        kind
    }

    fn answers(&self, kind: u32) -> &[u8] {
        let start = kind as usize * self.statements;
        &self.answers[start..start + self.statements]
    }

    fn header(&self, kind: u32) -> u32 {
        self.headers[kind as usize]
    }

    /// Whether requests of `kind` match the plan's statement `statement`.
    fn matches(&self, kind: u32, statement: usize) -> Result<bool, String> {
        match self.answers[kind as usize * self.statements + statement] {
            NO => Ok(false),
            YES => Ok(true),
            _ => Err(self.whys[statement].clone().unwrap_or_default()),
        }
    }
}

/// Where the requests of one (segment address, kind) were last summed: a
/// row of one step. A cache, not an index: a row that finds another
/// there starts a row of its own, which the rules add up alike.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The gathered segment it is of (a count), so that no slot needs
    /// clearing between segments.
    segment: u32,
    step: u32,
    kind: u32,
    row: u32,
}

/// Slots per segment address: one per kind, for this many kinds.
const WAYS: usize = 4;

/// The imported traffic of one time range and web ACL, gathered for the
/// replays of a [`Plan`]: requests per 10-second step, key and kind.
pub struct Traffic {
    from: i64,
    to: i64,
    web_acl: Option<String>,
    plan: Arc<Plan>,
    /// Addresses and header names.
    strings: Interner,
    kinds: Kinds,
    counts: Vec<Row>,
    forwarded: Vec<Row>,
    /// What other gatherers gathered, renumbered into these strings and
    /// kinds, still to be put in order: (counts, forwarded).
    merged: Vec<(Vec<Row>, Vec<Row>)>,
    /// Whether the rows are in order of key, then step, and merged.
    ordered: bool,
    slots: Vec<Slot>,
    segments: u32,
}

impl Traffic {
    /// Requests with `from ≤ second < to` of `web_acl` (all when `None`),
    /// for the replays `plan` is for.
    pub fn new(from: i64, to: i64, web_acl: Option<String>, plan: Arc<Plan>) -> Self {
        Traffic {
            from,
            to,
            web_acl,
            kinds: Kinds::new(plan.statements.len()),
            plan,
            strings: Interner::default(),
            counts: Vec::new(),
            forwarded: Vec::new(),
            merged: Vec::new(),
            ordered: true,
            slots: Vec::new(),
            segments: 0,
        }
    }

    /// The range's first 10-second step.
    fn first_step(&self) -> i64 {
        self.from.div_euclid(SLIDE_SECONDS)
    }

    /// Gathers one segment's rows of the range and web ACL.
    pub fn add(&mut self, segment: &Segment<'_>) -> Result<(), Damaged> {
        let first_step = self.first_step();
        let Traffic {
            from,
            to,
            web_acl,
            plan,
            strings: interner,
            kinds,
            counts,
            forwarded,
            ordered,
            slots,
            segments,
            ..
        } = self;
        *ordered = false;
        *segments = segments.wrapping_add(1);
        let (from, to, plan, this_segment) = (*from, *to, &**plan, *segments);
        let source = &*plan.lookups;
        let country = |ip: IpAddr| source.country(ip);
        let ip_set = |arn: &str| source.ip_set(arn);
        let lookups = Lookups {
            country: &country,
            ip_set: &ip_set,
        };
        let strings = &segment.strings;
        let text = |local: u32| strings[local as usize];
        // Per local tag: its labels, or None when its web ACL is not asked.
        let tags: Vec<Option<Vec<&str>>> = segment
            .tags
            .iter()
            .map(|tag| {
                let named = (tag.web_acl != NONE).then(|| text(tag.web_acl));
                if let Some(wanted) = web_acl
                    && !web_acl_matches(wanted, named)
                {
                    return None;
                }
                Some(tag.labels.iter().map(|&l| text(l)).collect())
            })
            .collect();
        let mut ids = vec![NONE; strings.len()];
        let mut id = |local: u32| -> u32 {
            let slot = &mut ids[local as usize];
            if *slot == NONE {
                *slot = interner.id(text(local));
            }
            *slot
        };
        if slots.len() < strings.len() * WAYS {
            let empty = Slot {
                segment: 0,
                step: 0,
                kind: 0,
                row: 0,
            };
            slots.resize(strings.len() * WAYS, empty);
        }
        // Per local (URI, method, country, tag, address, header): its kind;
        // the address only when a statement looks at it.
        let mut local_kinds: FastMap<(u128, u64), u32> = FastMap::default();
        // A count row is a forwarded row without a header; `rows` is the
        // table it goes to.
        let mut add = |f: Forwarded, rows: &mut Vec<Row>| {
            if f.second < from || f.second >= to {
                return;
            }
            let Some(labels) = tags[f.tag as usize].as_deref() else {
                return;
            };
            let local = (
                u128::from(f.uri) << 96
                    | u128::from(f.method) << 64
                    | u128::from(f.country) << 32
                    | u128::from(f.tag),
                match plan.by_address {
                    true => u64::from(f.address) << 32 | u64::from(f.header),
                    false => u64::from(f.header),
                },
            );
            let kind = match local_kinds.get(&local) {
                Some(&kind) => kind,
                None => {
                    let facts = RowFacts {
                        origin: match f.header {
                            NONE => text(f.address).parse().ok(),
                            _ => None,
                        },
                        forwarded: (f.header != NONE).then(|| (text(f.header), text(f.address))),
                        country: (f.country != NONE).then(|| text(f.country)),
                        uri: text(f.uri),
                        method: text(f.method),
                        labels,
                    };
                    let header = match f.header {
                        NONE => NONE,
                        header => id(header),
                    };
                    let kind = kinds.decide(plan, &facts, &lookups, header);
                    local_kinds.insert(local, kind);
                    kind
                }
            };
            // Within a second of the range: the step fits.
            let step = (f.second.div_euclid(SLIDE_SECONDS) - first_step) as u32;
            let slot = &mut slots[f.address as usize * WAYS + kind as usize % WAYS];
            if slot.segment == this_segment && slot.step == step && slot.kind == kind {
                let summed = &mut rows[slot.row as usize].requests;
                *summed = summed.saturating_add(f.requests);
                return;
            }
            *slot = Slot {
                segment: this_segment,
                step,
                kind,
                row: rows.len() as u32,
            };
            rows.push(Row {
                step,
                key: id(f.address),
                kind,
                requests: f.requests,
            });
        };
        // A damaged segment adds nothing.
        let (counts_before, forwarded_before) = (counts.len(), forwarded.len());
        let read = segment
            .each_count(|c| {
                let row = Forwarded {
                    second: c.second,
                    header: NONE,
                    address: c.ip,
                    uri: c.uri,
                    method: c.method,
                    country: c.country,
                    tag: c.tag,
                    requests: c.requests,
                };
                add(row, counts);
            })
            .and_then(|()| match plan.forwarded {
                true => segment.each_forwarded(|f| add(f, forwarded)),
                false => Ok(()),
            });
        if read.is_err() {
            counts.truncate(counts_before);
            forwarded.truncate(forwarded_before);
        }
        read
    }

    /// Takes in what another gatherer gathered of the same range, web ACL
    /// and plan: its addresses, header names and kinds renumbered into
    /// these.
    pub fn merge(&mut self, mut other: Traffic) {
        let strings: Vec<u32> = other
            .strings
            .strings()
            .iter()
            .map(|s| self.strings.id(s))
            .collect();
        let kinds: Vec<u32> = (0..other.kinds.headers.len() as u32)
            .map(|kind| {
                let header = match other.kinds.header(kind) {
                    NONE => NONE,
                    header => strings[header as usize],
                };
                self.kinds.kind(other.kinds.answers(kind).to_vec(), header)
            })
            .collect();
        for (mine, theirs) in self.kinds.whys.iter_mut().zip(other.kinds.whys) {
            if mine.is_none() {
                *mine = theirs;
            }
        }
        other.merged.push((other.counts, other.forwarded));
        for (counts, forwarded) in &mut other.merged {
            for row in counts.iter_mut().chain(forwarded.iter_mut()) {
                row.key = strings[row.key as usize];
                row.kind = kinds[row.kind as usize];
            }
        }
        self.merged.append(&mut other.merged);
        self.ordered = false;
    }

    /// Requests gathered (each counted once, by client address).
    pub fn requests(&self) -> u64 {
        let requests = |rows: &[Row]| rows.iter().map(|r| u64::from(r.requests)).sum::<u64>();
        requests(&self.counts)
            + self
                .merged
                .iter()
                .map(|(counts, _)| requests(counts))
                .sum::<u64>()
    }

    /// Merges and orders the rows: what the rules read.
    fn order(&mut self) {
        if self.ordered {
            return;
        }
        let keys = self.strings.strings().len();
        let (counts, forwarded): (Vec<Vec<Row>>, Vec<Vec<Row>>) =
            std::mem::take(&mut self.merged).into_iter().unzip();
        in_key_order(&mut self.counts, counts, keys);
        in_key_order(&mut self.forwarded, forwarded, keys);
        self.ordered = true;
    }

    /// Replays `rules` (any order; one of the sets of the plan) against
    /// the traffic.
    pub fn replay(&mut self, rules: &[RuleEntry]) -> Report {
        self.order();
        let texts: Vec<&str> = self.strings.strings().iter().map(|s| &**s).collect();
        let world = World {
            texts: &texts,
            kinds: &self.kinds,
            first_step: self.first_step(),
        };
        let mut ordered: Vec<&RuleEntry> = rules.iter().collect();
        ordered.sort_by_key(|r| r.priority().unwrap_or(i64::MAX));
        // Per row: whether an earlier rule ended its way through the web ACL.
        let mut counts_done = vec![false; self.counts.len()];
        let mut forwarded_done = vec![false; self.forwarded.len()];
        let mut outcomes = Vec::new();
        for entry in ordered {
            let outcome = match entry {
                RuleEntry::Verbatim { json, .. } => RuleOutcome::unknown(
                    json["Name"].as_str().unwrap_or("a rule"),
                    json["Priority"].as_i64().unwrap_or(0),
                    "a rule Gatehouse keeps as it is is not replayed".into(),
                ),
                RuleEntry::Rule(rule) => {
                    let action = action_of(rule.action.as_ref());
                    let ends = action.as_deref().is_some_and(|a| a != "COUNT");
                    let unknown = |why| RuleOutcome::unknown(&rule.name, rule.priority, why);
                    match &rule.statement {
                        Statement::RateBased(rate) => {
                            let key = match &rate.aggregate_key_type {
                                AggregateKeyType::Ip => Ok(Key::Ip),
                                AggregateKeyType::Constant => Ok(Key::Constant),
                                AggregateKeyType::ForwardedIp => match &rate.forwarded_ip_config {
                                    Some(c) => {
                                        Ok(Key::Forwarded(c.header_name.to_ascii_lowercase()))
                                    }
                                    None => {
                                        Err("FORWARDED_IP without its ForwardedIPConfig".to_owned())
                                    }
                                },
                                other => Err(format!(
                                    "the {} aggregation is not replayed",
                                    other.as_str()
                                )),
                            };
                            let scope = rate
                                .scope_down_statement
                                .as_ref()
                                .map(|s| self.plan.index(s))
                                .transpose();
                            match key.and_then(|key| Ok((key, scope?))) {
                                Err(why) => unknown(why),
                                Ok((key, scope)) => {
                                    let window = rate.evaluation_window_sec.unwrap_or(300);
                                    let rate_facts = RateFacts {
                                        limit: u64::try_from(rate.limit).unwrap_or(0),
                                        window,
                                        key: match &key {
                                            Key::Ip => "IP".into(),
                                            Key::Forwarded(h) => format!("FORWARDED_IP ({h})"),
                                            Key::Constant => "CONSTANT".into(),
                                        },
                                    };
                                    let rule_to_run = RateRule {
                                        ends,
                                        limit: rate_facts.limit,
                                        span: (window / SLIDE_SECONDS).max(1),
                                        scope,
                                        key,
                                    };
                                    let (rows, done) = match rule_to_run.key {
                                        Key::Forwarded(_) => (&self.forwarded, &mut forwarded_done),
                                        _ => (&self.counts, &mut counts_done),
                                    };
                                    let run = |rows: &[Row], done: &[bool], offset| {
                                        rate_rule(&world, &rule_to_run, rows, done, offset)
                                    };
                                    let ran = match rule_to_run.key {
                                        // One key: every row at once.
                                        Key::Constant => run(rows, done, 0),
                                        _ => both(in_halves(rows, done, run)),
                                    };
                                    match ran {
                                        Err(why) => unknown(format!("unknown scope: {why}")),
                                        Ok(matched) => matched.outcome(
                                            rule,
                                            action.unwrap_or_else(|| "OTHER".into()),
                                            Some(rate_facts),
                                            done,
                                        ),
                                    }
                                }
                            }
                        }
                        statement => {
                            let action = action.unwrap_or_else(|| "OVERRIDE".into());
                            match self.plan.index(statement) {
                                Err(why) => unknown(why),
                                Ok(statement) => {
                                    let run = |rows: &[Row], done: &[bool], offset| {
                                        plain_rule(&world, statement, ends, rows, done, offset)
                                    };
                                    // Forwarded rows follow where the statement decides them.
                                    if let Ok(matched) =
                                        both(in_halves(&self.forwarded, &forwarded_done, run))
                                    {
                                        matched.end(&mut forwarded_done);
                                    }
                                    match both(in_halves(&self.counts, &counts_done, run)) {
                                        Err(why) => unknown(why),
                                        Ok(matched) => {
                                            matched.outcome(rule, action, None, &mut counts_done)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            };
            outcomes.push(outcome);
        }
        Report {
            from: self.from,
            to: self.to,
            web_acl: self.web_acl.clone(),
            requests: self.requests(),
            rules: outcomes,
        }
    }
}

/// Puts `rows` and `more` into `rows`, in order of key (a string id
/// below `keys`), then step: what a rate rule reads key by key.
fn in_key_order(rows: &mut Vec<Row>, more: Vec<Vec<Row>>, keys: usize) {
    let parts = || std::iter::once(&rows[..]).chain(more.iter().map(Vec::as_slice));
    // Where each key's rows start.
    let mut starts = vec![0usize; keys + 1];
    for row in parts().flatten() {
        starts[row.key as usize + 1] += 1;
    }
    for key in 0..keys {
        starts[key + 1] += starts[key];
    }
    let mut sorted = vec![Row::default(); starts[keys]];
    for row in parts().flatten() {
        let at = &mut starts[row.key as usize];
        sorted[*at] = *row;
        *at += 1;
    }
    *rows = sorted;
    for run in key_runs(rows).collect::<Vec<_>>() {
        let run = &mut rows[run];
        if !run.is_sorted_by_key(|r| r.step) {
            run.sort_by_key(|r| r.step);
        }
    }
}

/// What every rule reads: the addresses and header names, and each kind's
/// answers.
struct World<'a> {
    texts: &'a [&'a str],
    kinds: &'a Kinds,
    /// The range's first 10-second step: what a row's step counts from.
    first_step: i64,
}

/// Whether deciding `statement` needs a request's address or headers (so
/// that requests from different addresses cannot share an answer).
fn uses_address(statement: &Statement) -> bool {
    use crate::rules::model::FieldToMatch;
    let mut uses = false;
    statement.each(&mut |s| {
        uses |= match s {
            Statement::IpSetReference(_) => true,
            Statement::GeoMatch(geo) => geo.forwarded_ip_config.is_some(),
            Statement::ByteMatch(b) => matches!(b.field_to_match, FieldToMatch::SingleHeader(_)),
            _ => false,
        }
    });
    uses
}

/// What a log row tells of its requests.
struct RowFacts<'a> {
    origin: Option<IpAddr>,
    /// (header, first address) of a forwarded row.
    forwarded: Option<(&'a str, &'a str)>,
    country: Option<&'a str>,
    uri: &'a str,
    method: &'a str,
    labels: &'a [&'a str],
}

impl Facts for RowFacts<'_> {
    fn origin(&self) -> Option<IpAddr> {
        self.origin
    }

    fn origin_country(&self) -> Option<Option<&str>> {
        Some(self.country)
    }

    fn header(&self, name: &str) -> Option<Option<&str>> {
        match self.forwarded {
            Some((header, address)) if header.eq_ignore_ascii_case(name) => Some(Some(address)),
            _ => None,
        }
    }

    fn uri_path(&self) -> Option<&str> {
        Some(self.uri)
    }

    fn method(&self) -> Option<&str> {
        Some(self.method)
    }

    fn labels(&self) -> Option<&[&str]> {
        Some(self.labels)
    }
}

fn action_of(action: Option<&RuleAction>) -> Option<String> {
    Some(
        match action? {
            RuleAction::Block(_) => "BLOCK",
            RuleAction::Allow(_) => "ALLOW",
            RuleAction::Count(_) => "COUNT",
            RuleAction::Captcha(_) => "CAPTCHA",
            RuleAction::Challenge(_) => "CHALLENGE",
            RuleAction::Other(_) => return None,
        }
        .to_owned(),
    )
}

/// A rule that is not rate-based, over `rows` (those of `done` at
/// `offset`): the requests that reach it and match its statement (the
/// plan's `statement`); they end there when its action ends (Block,
/// Allow, CAPTCHA, Challenge).
fn plain_rule(
    world: &World<'_>,
    statement: usize,
    ends: bool,
    rows: &[Row],
    done: &[bool],
    offset: usize,
) -> Result<Matched, String> {
    let mut matched = Matched::default();
    let mut per_key: FastMap<u32, BlockedKey> = FastMap::default();
    for (i, row) in rows.iter().enumerate() {
        if done[offset + i] {
            continue;
        }
        matched.reached += u64::from(row.requests);
        if world.kinds.matches(row.kind, statement)? {
            matched.requests += u64::from(row.requests);
            if ends {
                matched.ended.push(offset + i);
            }
            per_key
                .entry(row.key)
                .or_insert_with(|| BlockedKey::new(world.texts[row.key as usize]))
                .note(world, row, 0);
        }
    }
    matched.top = per_key.into_values().collect();
    Ok(matched)
}

/// What a rule did to some rows: requests that reached it, requests it
/// blocked (or matched), per key, and the rows it ended.
#[derive(Default)]
struct Matched {
    reached: u64,
    requests: u64,
    top: Vec<BlockedKey>,
    ended: Vec<usize>,
}

impl Matched {
    /// This and what the rule did to other rows.
    fn and(mut self, other: Matched) -> Matched {
        self.reached += other.reached;
        self.requests += other.requests;
        self.top.extend(other.top);
        self.ended.extend(other.ended);
        self
    }

    /// Marks the rows the rule ended: later rules do not see them.
    fn end(&self, done: &mut [bool]) {
        for &i in &self.ended {
            done[i] = true;
        }
    }

    /// The rule's outcome; the rows it ended are `done` from now on.
    fn outcome(
        mut self,
        rule: &crate::rules::model::Rule,
        action: String,
        rate: Option<RateFacts>,
        done: &mut [bool],
    ) -> RuleOutcome {
        self.end(done);
        self.top
            .sort_by(|a, b| b.requests.cmp(&a.requests).then_with(|| a.key.cmp(&b.key)));
        RuleOutcome {
            name: rule.name.clone(),
            priority: rule.priority,
            action,
            rate,
            unknown: None,
            reached: self.reached,
            requests: self.requests,
            keys: self.top.len() as u64,
            first: self.top.iter().map(|k| k.first).min(),
            last: self.top.iter().map(|k| k.last).max(),
            top: self.top,
        }
    }
}

/// Both halves' answers as one: not decided if either is not.
fn both([first, second]: [Result<Matched, String>; 2]) -> Result<Matched, String> {
    Ok(first?.and(second?))
}

/// Runs `run` over both halves of `rows` (in order of key, so that each
/// half holds whole keys) at once; each gets its rows, `done` and where
/// its rows start in it.
fn in_halves<T: Send>(
    rows: &[Row],
    done: &[bool],
    run: impl Fn(&[Row], &[bool], usize) -> T + Sync,
) -> [T; 2] {
    let mut middle = rows.len() / 2;
    while middle > 0 && middle < rows.len() && rows[middle - 1].key == rows[middle].key {
        middle += 1;
    }
    let (first, second) = rows.split_at(middle);
    // The browser build has no threads (and never replays).
    #[cfg(target_arch = "wasm32")]
    return [run(first, done, 0), run(second, done, middle)];
    #[cfg(not(target_arch = "wasm32"))]
    std::thread::scope(|scope| {
        let second = scope.spawn(|| run(second, done, middle));
        let first = run(first, done, 0);
        let second = second
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        [first, second]
    })
}

enum Key {
    Ip,
    Forwarded(String),
    Constant,
}

/// What a rate-based rule's replay needs of it.
struct RateRule {
    ends: bool,
    limit: u64,
    /// The evaluation window in 10-second steps.
    span: i64,
    /// The scope-down statement's place in the plan.
    scope: Option<usize>,
    key: Key,
}

/// The ranges of `rows` (in order of key) that hold one key each.
fn key_runs(rows: &[Row]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        let key = rows.get(start)?.key;
        let end = start
            + rows[start..]
                .iter()
                .position(|r| r.key != key)
                .unwrap_or(rows.len() - start);
        let run = start..end;
        start = end;
        Some(run)
    })
}

/// A rate-based rule over `rows` (in order of key, then step; those of
/// `done` at `offset`), key by key: the key's requests that reach the rule
/// and match its scope, per step; the steps it is blocked in (over the
/// limit in the window that ended as the step began), with the count that
/// put it over; its requests in those steps blocked.
fn rate_rule(
    world: &World<'_>,
    rule: &RateRule,
    rows: &[Row],
    done: &[bool],
    offset: usize,
) -> Result<Matched, String> {
    // The header's name as a string id, if the traffic has it at all.
    let header = match &rule.key {
        Key::Forwarded(h) => Some(
            world
                .texts
                .iter()
                .position(|t| t == h)
                .map_or(NONE - 1, |i| i as u32),
        ),
        _ => None,
    };
    // A constant key: every row is one key's.
    let runs: Box<dyn Iterator<Item = std::ops::Range<usize>>> = match rule.key {
        Key::Constant => Box::new(std::iter::once(0..rows.len())),
        _ => Box::new(key_runs(rows)),
    };
    let mut matched = Matched::default();
    let (mut counted, mut steps, mut over) = (Vec::new(), Vec::new(), Vec::new());
    for run in runs {
        counted.clear();
        steps.clear();
        for i in run {
            let row = &rows[i];
            if done[offset + i] || header.is_some_and(|h| world.kinds.header(row.kind) != h) {
                continue;
            }
            if let Some(scope) = rule.scope
                && !world.kinds.matches(row.kind, scope)?
            {
                continue;
            }
            matched.reached += u64::from(row.requests);
            counted.push(i);
            let step = i64::from(row.step);
            match steps.last_mut() {
                Some((last, n)) if *last == step => *n += u64::from(row.requests),
                _ => steps.push((step, u64::from(row.requests))),
            }
        }
        super::windows::in_order(&mut steps);
        over.clear();
        let mut low = 0;
        let mut in_window = 0u64;
        for high in 0..steps.len() {
            let (step, _) = steps[high];
            // The window before this step: steps step - span ..= step - 1.
            while low < high && steps[low].0 < step - rule.span {
                in_window -= steps[low].1;
                low += 1;
            }
            if in_window > rule.limit {
                over.push((step, in_window));
            }
            in_window += steps[high].1;
        }
        if over.is_empty() {
            continue;
        }
        let mut blocked: Option<BlockedKey> = None;
        for &i in &counted {
            let row = &rows[i];
            let Ok(at) = over.binary_search_by_key(&i64::from(row.step), |o| o.0) else {
                continue;
            };
            matched.requests += u64::from(row.requests);
            if rule.ends {
                matched.ended.push(offset + i);
            }
            blocked
                .get_or_insert_with(|| {
                    BlockedKey::new(match rule.key {
                        Key::Constant => "(all requests)",
                        _ => world.texts[row.key as usize],
                    })
                })
                .note(world, row, over[at].1);
        }
        matched.top.extend(blocked);
    }
    Ok(matched)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateFacts {
    pub limit: u64,
    /// Seconds.
    pub window: i64,
    pub key: String,
}

/// A key a rate-based rule blocked: how many of its requests, its highest
/// count in the window when blocked, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedKey {
    pub key: String,
    pub requests: u64,
    pub peak: u64,
    pub first: i64,
    pub last: i64,
}

impl BlockedKey {
    fn new(key: &str) -> Self {
        BlockedKey {
            key: key.to_owned(),
            requests: 0,
            peak: 0,
            first: i64::MAX,
            last: i64::MIN,
        }
    }

    /// Notes a blocked row of `world`, blocked at a count of `peak` in
    /// the window.
    fn note(&mut self, world: &World<'_>, row: &Row, peak: u64) {
        let at = (world.first_step + i64::from(row.step)) * SLIDE_SECONDS;
        self.requests += u64::from(row.requests);
        self.peak = self.peak.max(peak);
        self.first = self.first.min(at);
        self.last = self.last.max(at);
    }
}

/// What one rule did to the traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleOutcome {
    pub name: String,
    pub priority: i64,
    /// BLOCK, ALLOW, COUNT, CAPTCHA, CHALLENGE; OVERRIDE for a rule group.
    pub action: String,
    pub rate: Option<RateFacts>,
    /// Why the rule was not replayed; the counts below are then zero.
    pub unknown: Option<String>,
    /// Requests that reached the rule (and matched a rate rule's scope).
    pub reached: u64,
    /// Requests it blocked (a Count rule: would have counted over the
    /// limit; a plain rule: matched).
    pub requests: u64,
    /// Keys a rule blocked (a plain rule: client addresses it matched).
    pub keys: u64,
    pub first: Option<i64>,
    pub last: Option<i64>,
    /// Every blocked key, the most requests first (shortened for display
    /// by [`Report::shortened`]).
    pub top: Vec<BlockedKey>,
}

impl RuleOutcome {
    fn unknown(name: &str, priority: i64, why: String) -> Self {
        RuleOutcome {
            name: name.to_owned(),
            priority,
            action: String::new(),
            rate: None,
            unknown: Some(why),
            reached: 0,
            requests: 0,
            keys: 0,
            first: None,
            last: None,
            top: Vec::new(),
        }
    }
}

/// A replay of one set of rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub from: i64,
    pub to: i64,
    pub web_acl: Option<String>,
    /// Requests replayed.
    pub requests: u64,
    /// In priority order.
    pub rules: Vec<RuleOutcome>,
}

impl Report {
    /// Requests blocked per key (client or forwarded address), over every
    /// rule that blocks.
    fn blocked_keys(&self) -> FastMap<&str, u64> {
        let mut keys: FastMap<&str, u64> = FastMap::default();
        let blocks =
            |r: &&RuleOutcome| matches!(r.action.as_str(), "BLOCK" | "CAPTCHA" | "CHALLENGE");
        for rule in self.rules.iter().filter(blocks) {
            for key in &rule.top {
                *keys.entry(key.key.as_str()).or_default() += key.requests;
            }
        }
        keys
    }

    /// The report with at most `n` keys per rule.
    pub fn shortened(mut self, n: usize) -> Self {
        for rule in &mut self.rules {
            rule.top.truncate(n);
        }
        self
    }
}

fn clock(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

impl RuleOutcome {
    /// One line (and its keys) in words.
    pub fn to_text(&self) -> String {
        if let Some(why) = &self.unknown {
            return format!("{:>4}  {}: not replayed: {why}\n", self.priority, self.name);
        }
        let mut text = match &self.rate {
            Some(rate) => format!(
                "{:>4}  {} ({} over {} per {} s by {}): {} of {} requests, {} keys",
                self.priority,
                self.name,
                self.action,
                rate.limit,
                rate.window,
                rate.key,
                self.requests,
                self.reached,
                self.keys
            ),
            None => format!(
                "{:>4}  {} ({}): {} of {} requests matched",
                self.priority, self.name, self.action, self.requests, self.reached
            ),
        };
        if let (Some(first), Some(last)) = (self.first, self.last) {
            text += &format!(", {} – {} UTC", clock(first), clock(last + SLIDE_SECONDS));
        }
        text.push('\n');
        for key in &self.top {
            text += &format!(
                "        {:<40} {:>8} requests  peak {:>6}  {} – {}\n",
                key.key,
                key.requests,
                key.peak,
                clock(key.first),
                clock(key.last + SLIDE_SECONDS)
            );
        }
        text
    }
}

impl Report {
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{} requests from {} to {} UTC{}; blocked per rule (WAF reacts within seconds: an estimate):\n",
            self.requests,
            clock(self.from),
            clock(self.to),
            self.web_acl
                .as_deref()
                .map(|w| format!(" of {w}"))
                .unwrap_or_default()
        );
        for rule in &self.rules {
            text += &rule.to_text();
        }
        text
    }
}

/// One key whose fate differs between two replays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyChange {
    pub key: String,
    /// Requests blocked in the live replay and in the draft's.
    pub live: u64,
    pub draft: u64,
}

/// The live rules and a draft replayed over the same traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub live: Report,
    pub draft: Report,
    /// Keys the draft blocks more of (the most first), how many, and how
    /// many more requests in all.
    pub newly_blocked: Vec<KeyChange>,
    pub keys_newly_blocked: u64,
    pub requests_newly_blocked: u64,
    /// Keys the draft lets more of through, and how many more requests.
    pub newly_allowed: Vec<KeyChange>,
    pub keys_newly_allowed: u64,
    pub requests_newly_allowed: u64,
}

impl Comparison {
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "Live rules:\n{}\nDraft:\n{}\n",
            self.live.to_text(),
            self.draft.to_text()
        );
        text += &format!(
            "The draft blocks {} more requests of {} keys, and lets {} more through of {} keys.\n",
            self.requests_newly_blocked,
            self.keys_newly_blocked,
            self.requests_newly_allowed,
            self.keys_newly_allowed
        );
        for (title, keys) in [
            ("Newly blocked", &self.newly_blocked),
            ("Newly let through", &self.newly_allowed),
        ] {
            if keys.is_empty() {
                continue;
            }
            text += &format!("{title} (requests blocked live → draft):\n");
            for k in keys {
                text += &format!("  {:<40} {:>8} → {}\n", k.key, k.live, k.draft);
            }
        }
        text
    }

    /// `live` and `draft` side by side, with at most `n` keys listed in
    /// each list.
    pub fn of(live: Report, draft: Report, n: usize) -> Comparison {
        let (before, after) = (live.blocked_keys(), draft.blocked_keys());
        let mut more = Vec::new();
        let mut fewer = Vec::new();
        let keys: std::collections::BTreeSet<&str> =
            before.keys().chain(after.keys()).copied().collect();
        for key in keys {
            let (l, d) = (
                before.get(key).copied().unwrap_or(0),
                after.get(key).copied().unwrap_or(0),
            );
            let change = KeyChange {
                key: key.to_owned(),
                live: l,
                draft: d,
            };
            match d.cmp(&l) {
                std::cmp::Ordering::Greater => more.push(change),
                std::cmp::Ordering::Less => fewer.push(change),
                std::cmp::Ordering::Equal => {}
            }
        }
        let requests_newly_blocked = more.iter().map(|k| k.draft - k.live).sum();
        let requests_newly_allowed = fewer.iter().map(|k| k.live - k.draft).sum();
        let (keys_newly_blocked, keys_newly_allowed) = (more.len() as u64, fewer.len() as u64);
        more.sort_by_key(|k| std::cmp::Reverse(k.draft - k.live));
        fewer.sort_by_key(|k| std::cmp::Reverse(k.live - k.draft));
        more.truncate(n);
        fewer.truncate(n);
        Comparison {
            live: live.shortened(n),
            draft: draft.shortened(n),
            newly_blocked: more,
            keys_newly_blocked,
            requests_newly_blocked,
            newly_allowed: fewer,
            keys_newly_allowed,
            requests_newly_allowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::model::read_rules;
    use crate::traffic::segment::{Count, Tag, encode};
    use serde_json::{Value, json};

    /// One second's requests: (second, client IP, URI, method, country, label).
    type Line = (
        i64,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    );

    /// A segment of `lines`; a line whose country is "" has none and a label
    /// of "" no label. Every line also has an X-Forwarded-For of 10.0.0.<n>
    /// where n is the client address's last number.
    fn segment(lines: &[Line]) -> Vec<u8> {
        let mut strings: Vec<String> = vec![
            "arn:aws:wafv2:us-east-1:1:regional/webacl/shop/1".into(),
            "x-forwarded-for".into(),
        ];
        let mut id = |s: &str| match strings.iter().position(|x| x == s) {
            Some(i) => i as u32,
            None => {
                strings.push(s.to_owned());
                strings.len() as u32 - 1
            }
        };
        let mut tags = vec![Tag {
            web_acl: 0,
            action: NONE,
            labels: Vec::new(),
        }];
        let mut counts = Vec::new();
        let mut forwarded = Vec::new();
        for &(second, ip, uri, method, country, label) in lines {
            let tag = match label {
                "" => 0,
                label => {
                    tags.push(Tag {
                        web_acl: 0,
                        action: NONE,
                        labels: vec![id(label)],
                    });
                    tags.len() as u32 - 1
                }
            };
            let country = match country {
                "" => NONE,
                c => id(c),
            };
            let (ip_id, uri, method) = (id(ip), id(uri), id(method));
            counts.push(Count {
                second,
                ip: ip_id,
                uri,
                method,
                country,
                tag,
                requests: 1,
            });
            let last = ip.rsplit('.').next().unwrap_or("0");
            forwarded.push(Forwarded {
                second,
                header: 1,
                address: id(&format!("10.0.0.{last}")),
                uri,
                method,
                country,
                tag,
                requests: 1,
            });
        }
        let strings: Vec<&str> = strings.iter().map(String::as_str).collect();
        encode(&strings, &tags, &mut counts, &mut forwarded)
    }

    fn rate(name: &str, priority: i64, limit: i64, action: &str, scope: Option<Value>) -> Value {
        let mut statement =
            json!({"Limit": limit, "AggregateKeyType": "IP", "EvaluationWindowSec": 60});
        if let Some(scope) = scope {
            statement["ScopeDownStatement"] = scope;
        }
        json!({"Name": name, "Priority": priority, "Action": {action: {}},
               "Statement": {"RateBasedStatement": statement},
               "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": name}})
    }

    /// The test's lookups: no countries; the IP set `arn:office` is
    /// 192.0.2.0/24.
    struct Office;

    impl LookupSource for Office {
        fn country(&self, _: IpAddr) -> Option<String> {
            None
        }

        fn ip_set(&self, arn: &str) -> Option<Vec<ipnet::IpNet>> {
            (arn == "arn:office").then(|| vec!["192.0.2.0/24".parse().unwrap()])
        }
    }

    /// Traffic of `web_acl` gathered for replaying each of `sets`.
    fn traffic(web_acl: Option<&str>, sets: &[&[RuleEntry]]) -> Traffic {
        let plan = Arc::new(Plan::new(sets, Arc::new(Office)));
        Traffic::new(0, 10_000, web_acl.map(str::to_owned), plan)
    }

    fn replay(lines: &[Line], rules: Value) -> Report {
        let bytes = segment(lines);
        let rules = read_rules(rules).unwrap();
        let mut traffic = traffic(Some("shop"), &[&rules]);
        traffic.add(&Segment::decode(&bytes).unwrap()).unwrap();
        traffic.replay(&rules)
    }

    /// `n` requests a second from `ip` to `uri` with `method`, for seconds
    /// `from..to`.
    fn burst(
        ip: &'static str,
        uri: &'static str,
        method: &'static str,
        from: i64,
        to: i64,
    ) -> Vec<Line> {
        (from..to).map(|s| (s, ip, uri, method, "DE", "")).collect()
    }

    fn outcome<'a>(report: &'a Report, name: &str) -> &'a RuleOutcome {
        report.rules.iter().find(|r| r.name == name).unwrap()
    }

    /// One request a second for 100 s against a limit of 30 per 60 s: the
    /// window before step 4 (seconds 0–39) holds 40 > 30, so the key is
    /// blocked from second 40 on — 60 requests — and the blocked requests
    /// keep its count over the limit.
    #[test]
    fn a_key_over_the_limit_is_blocked_from_the_next_step_while_it_stays_over() {
        let lines = burst("192.0.2.7", "/", "GET", 0, 100);
        let report = replay(&lines, json!([rate("R", 0, 30, "Block", None)]));
        let r = outcome(&report, "R");
        assert_eq!((r.reached, r.requests, r.keys), (100, 60, 1));
        assert_eq!((r.first, r.last), (Some(40), Some(90)));
        assert_eq!(r.top[0].key, "192.0.2.7");
        assert_eq!(r.top[0].peak, 60, "the full window before the last steps");
        // A limit of 40: the window before step 5 (0–49) holds 50.
        let report = replay(&lines, json!([rate("R", 0, 40, "Block", None)]));
        assert_eq!(outcome(&report, "R").requests, 50);
    }

    /// Blocked for as long as it stays over: a burst of 40 in 10 s, then
    /// quiet, then one request a second — the window empties after 60 s.
    #[test]
    fn blocking_ends_when_the_window_falls_back_under_the_limit() {
        let mut lines = Vec::new();
        for s in 0..10 {
            for _ in 0..4 {
                lines.push((s, "192.0.2.8", "/", "GET", "DE", ""));
            }
        }
        lines.extend(burst("192.0.2.8", "/", "GET", 20, 100));
        let report = replay(&lines, json!([rate("R", 0, 30, "Block", None)]));
        let r = outcome(&report, "R");
        // Steps 2–6 (20–69 s) have the first burst's 40 in their window
        // (buckets 0 ..= step − 1 within six steps): blocked. Step 7 (70 s)
        // looks at 10–69 s: 50 requests, still over; step 8 at 20–79: 60;
        // … every later step holds 60 > 30. So all 80 later requests.
        assert_eq!(r.requests, 80);
        // A limit of 55: the window before step 4 (buckets 0–3) holds
        // 40 + 0 + 10 + 10 = 60, step 5: 70, step 6: 80 — blocked; step 7
        // looks at buckets 1–6: 50, let through; steps 8 and 9: 60 again.
        let report = replay(&lines, json!([rate("R", 0, 55, "Block", None)]));
        let r = outcome(&report, "R");
        assert_eq!((r.requests, r.first, r.last), (50, Some(40), Some(90)));
    }

    #[test]
    fn an_earlier_block_hides_requests_from_later_rules_and_count_does_not() {
        let mut lines = burst("192.0.2.9", "/login", "POST", 0, 100);
        lines.extend(burst("192.0.2.10", "/", "GET", 0, 100));
        let login = json!({"ByteMatchStatement": {"SearchString": "/LOGIN", "FieldToMatch": {"UriPath": {}},
            "TextTransformations": [{"Priority": 0, "Type": "NONE"}, {"Priority": 1, "Type": "LOWERCASE"}],
            "PositionalConstraint": "STARTS_WITH"}});
        let login_lower = json!({"ByteMatchStatement": {"SearchString": "/login", "FieldToMatch": {"UriPath": {}},
            "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}], "PositionalConstraint": "STARTS_WITH"}});
        // The upper-case search string never matches a lower-cased path.
        let report = replay(&lines, json!([rate("Login", 0, 30, "Block", Some(login))]));
        assert_eq!(outcome(&report, "Login").reached, 0);
        let rules = json!([
            rate("Login", 0, 30, "Block", Some(login_lower.clone())),
            rate("Blanket", 1, 50, "Block", None),
        ]);
        let report = replay(&lines, rules);
        let (login, blanket) = (outcome(&report, "Login"), outcome(&report, "Blanket"));
        assert_eq!((login.reached, login.requests), (100, 60));
        // The blanket rule sees the login key's 40 unblocked requests (never
        // over 50) and the other key's 100 (blocked from 60 s: 40).
        assert_eq!(
            (blanket.reached, blanket.requests, blanket.keys),
            (140, 40, 1)
        );
        assert_eq!(blanket.top[0].key, "192.0.2.10");
        // A Count rule lets everything through.
        let rules = json!([
            rate("Login", 0, 30, "Count", Some(login_lower)),
            rate("Blanket", 1, 50, "Block", None),
        ]);
        let report = replay(&lines, rules);
        assert_eq!(outcome(&report, "Login").requests, 60, "would have counted");
        let blanket = outcome(&report, "Blanket");
        assert_eq!((blanket.reached, blanket.keys), (200, 2));
        assert_eq!(blanket.requests, 80, "both keys blocked from 60 s");
        // A plain Block rule ahead of them takes its requests away.
        let rules = json!([
            {"Name": "NoVN", "Priority": 0, "Action": {"Block": {}},
             "Statement": {"NotStatement": {"Statement": {"GeoMatchStatement": {"CountryCodes": ["DE"]}}}},
             "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "n"}},
            rate("Blanket", 1, 50, "Block", None),
        ]);
        let mut foreign = lines.clone();
        for line in foreign.iter_mut().filter(|l| l.1 == "192.0.2.9") {
            line.4 = "VN";
        }
        let report = replay(&foreign, rules);
        assert_eq!(outcome(&report, "NoVN").requests, 100);
        assert_eq!(outcome(&report, "Blanket").reached, 100);
    }

    #[test]
    fn each_scope_down_kind_counts_only_what_it_matches() {
        let mut lines = burst("192.0.2.11", "/api/cart", "GET", 0, 50);
        lines.extend(burst("192.0.2.11", "/api/cart", "POST", 0, 50));
        lines.extend((0..50).map(|s| {
            (
                s,
                "198.51.100.1",
                "/",
                "GET",
                "US",
                "awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList",
            )
        }));
        lines.extend((0..50).map(|s| (s, "198.51.100.2", "/", "GET", "", "")));
        let reached = |scope: Value| {
            let report = replay(&lines, json!([rate("R", 0, 1000, "Block", Some(scope))]));
            let r = outcome(&report, "R");
            assert_eq!(r.unknown, None);
            r.reached
        };
        let method = json!({"ByteMatchStatement": {"SearchString": "POST", "FieldToMatch": {"Method": {}},
            "TextTransformations": [{"Priority": 0, "Type": "NONE"}], "PositionalConstraint": "EXACTLY"}});
        assert_eq!(reached(method.clone()), 50);
        let word = json!({"ByteMatchStatement": {"SearchString": "api", "FieldToMatch": {"UriPath": {}},
            "TextTransformations": [{"Priority": 0, "Type": "NONE"}], "PositionalConstraint": "CONTAINS_WORD"}});
        assert_eq!(reached(word), 100);
        let ends = json!({"ByteMatchStatement": {"SearchString": "cart", "FieldToMatch": {"UriPath": {}},
            "TextTransformations": [{"Priority": 0, "Type": "NONE"}], "PositionalConstraint": "ENDS_WITH"}});
        assert_eq!(reached(ends.clone()), 100);
        assert_eq!(
            reached(json!({"GeoMatchStatement": {"CountryCodes": ["US", "FR"]}})),
            50
        );
        assert_eq!(
            reached(
                json!({"NotStatement": {"Statement": {"GeoMatchStatement": {"CountryCodes": ["DE"]}}}})
            ),
            100,
            "US and the request without a country"
        );
        assert_eq!(
            reached(
                json!({"LabelMatchStatement": {"Scope": "LABEL", "Key": "HostingProviderIPList"}})
            ),
            50
        );
        assert_eq!(
            reached(
                json!({"LabelMatchStatement": {"Scope": "NAMESPACE", "Key": "awswaf:managed:aws:"}})
            ),
            50
        );
        assert_eq!(
            reached(json!({"AndStatement": {"Statements": [method.clone(), ends.clone()]}})),
            50
        );
        assert_eq!(
            reached(
                json!({"OrStatement": {"Statements": [method, json!({"GeoMatchStatement": {"CountryCodes": ["US"]}})]}})
            ),
            100
        );
        assert_eq!(
            reached(json!({"IPSetReferenceStatement": {"ARN": "arn:office"}})),
            100
        );
        // What the counts cannot decide is said, not guessed.
        let report = replay(
            &lines,
            json!([rate(
                "R",
                0,
                10,
                "Block",
                Some(json!({"ByteMatchStatement": {"SearchString": "x",
            "FieldToMatch": {"SingleHeader": {"Name": "user-agent"}}, "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
            "PositionalConstraint": "CONTAINS"}}))
            )]),
        );
        let r = outcome(&report, "R");
        assert!(
            r.unknown
                .as_deref()
                .unwrap()
                .contains("user-agent header is not known"),
            "{:?}",
            r.unknown
        );
        assert_eq!(r.requests, 0);
        let report = replay(
            &lines,
            json!([{"Name": "Managed", "Priority": 0, "OverrideAction": {"None": {}},
            "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}},
            "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "m"}}]),
        );
        assert!(
            outcome(&report, "Managed")
                .unknown
                .as_deref()
                .unwrap()
                .contains("managed rule group")
        );
    }

    #[test]
    fn forwarded_keys_and_constant_keys_count_their_way() {
        // Two client addresses behind one forwarded address each … and the
        // same forwarded address for both: 10.0.0.5.
        let mut lines = burst("192.0.2.5", "/", "GET", 0, 50);
        lines.extend(burst("198.51.100.5", "/", "GET", 0, 50));
        let forwarded = json!([{"Name": "F", "Priority": 0, "Action": {"Block": {}},
            "Statement": {"RateBasedStatement": {"Limit": 60, "AggregateKeyType": "FORWARDED_IP", "EvaluationWindowSec": 60,
                "ForwardedIPConfig": {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH"}}},
            "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "f"}}]);
        let report = replay(&lines, forwarded);
        let f = outcome(&report, "F");
        // 2 a second from 10.0.0.5: 80 in the window before step 4 → 40–49 blocked.
        assert_eq!((f.keys, f.requests), (1, 20));
        assert_eq!(f.top[0].key, "10.0.0.5");
        let by_ip = replay(&lines, json!([rate("R", 0, 60, "Block", None)]));
        assert_eq!(outcome(&by_ip, "R").requests, 0, "50 each: never over 60");
        let constant = json!([{"Name": "C", "Priority": 0, "Action": {"Block": {}},
            "Statement": {"RateBasedStatement": {"Limit": 60, "AggregateKeyType": "CONSTANT", "EvaluationWindowSec": 60}},
            "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "c"}}]);
        assert_eq!(outcome(&replay(&lines, constant), "C").requests, 20);
    }

    /// Segments overlap and come in any order: the same answer.
    #[test]
    fn segments_in_any_order_replay_the_same() {
        let lines = burst("192.0.2.7", "/", "GET", 0, 100);
        let rules = read_rules(json!([rate("R", 0, 30, "Block", None)])).unwrap();
        let label = read_rules(json!([{"Name": "L", "Priority": 0, "Action": {"Block": {}},
            "Statement": {"LabelMatchStatement": {"Scope": "LABEL", "Key": "a:b"}},
            "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "l"}}]))
        .unwrap();
        let sets: &[&[RuleEntry]] = &[&rules, &label];
        let mut traffic = traffic(None, sets);
        let (late, early) = (segment(&lines[50..]), segment(&lines[..50]));
        for bytes in [&late, &early] {
            traffic.add(&Segment::decode(bytes).unwrap()).unwrap();
        }
        let r = traffic.replay(&rules);
        assert_eq!(
            (r.rules[0].requests, r.rules[0].first),
            (60, Some(40)),
            "as in one segment"
        );
        // Gathered by two, merged: the same.
        let (mut first, mut second) = (self::traffic(None, sets), self::traffic(None, sets));
        first.add(&Segment::decode(&late).unwrap()).unwrap();
        let mut other_lines = lines[..50].to_vec();
        other_lines.push((5, "198.51.100.9", "/x", "POST", "", "a:b"));
        second
            .add(&Segment::decode(&segment(&other_lines)).unwrap())
            .unwrap();
        first.merge(second);
        let merged = first.replay(&rules);
        assert_eq!(merged.rules[0].requests, 60);
        assert_eq!(merged.requests, 101);
        let labelled = first.replay(&label);
        assert_eq!(
            labelled.rules[0].top[0].key, "198.51.100.9",
            "kinds and keys renumbered"
        );
        assert_eq!(labelled.rules[0].requests, 1);
        // A damaged segment adds nothing.
        let mut damaged = segment(&lines);
        damaged.truncate(damaged.len() - 3);
        let before = traffic.requests();
        if let Ok(s) = Segment::decode(&damaged) {
            assert!(traffic.add(&s).is_err());
        }
        assert_eq!(traffic.requests(), before);
    }

    /// Gathering sums a key's requests of one kind per 10-second step,
    /// keeps kinds the plan's statements tell apart apart, and gathers the
    /// forwarded rows only for a rule that counts by them.
    #[test]
    fn gathering_sums_per_step_and_kind() {
        let mut lines = burst("192.0.2.7", "/", "GET", 0, 100);
        lines.extend(burst("192.0.2.7", "/login", "POST", 0, 100));
        lines.extend(burst("192.0.2.7", "/about", "GET", 0, 100));
        let login = json!({"ByteMatchStatement": {"SearchString": "/login", "FieldToMatch": {"UriPath": {}},
            "TextTransformations": [{"Priority": 0, "Type": "NONE"}], "PositionalConstraint": "STARTS_WITH"}});
        let rules = read_rules(json!([rate("Login", 0, 1000, "Block", Some(login))])).unwrap();
        let mut gathered = traffic(Some("shop"), &[&rules]);
        gathered
            .add(&Segment::decode(&segment(&lines)).unwrap())
            .unwrap();
        // 10 steps × (/login: 10 requests, / and /about: 20).
        let mut sizes: Vec<u32> = gathered.counts.iter().map(|r| r.requests).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [vec![10; 10], vec![20; 10]].concat());
        assert!(
            gathered.forwarded.is_empty(),
            "no rule counts by a forwarded address"
        );
        let r = gathered.replay(&rules);
        assert_eq!(r.rules[0].reached, 100, "only /login reaches it");
        let forwarded = read_rules(json!([{"Name": "F", "Priority": 0, "Action": {"Block": {}},
            "Statement": {"RateBasedStatement": {"Limit": 60, "AggregateKeyType": "FORWARDED_IP", "EvaluationWindowSec": 60,
                "ForwardedIPConfig": {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH"}}},
            "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "f"}}]))
        .unwrap();
        let mut gathered = traffic(Some("shop"), &[&forwarded]);
        gathered
            .add(&Segment::decode(&segment(&lines)).unwrap())
            .unwrap();
        // No statement: one kind, one row a step.
        assert_eq!((gathered.counts.len(), gathered.forwarded.len()), (10, 10));
        // A rule the traffic was not gathered for is named, not guessed.
        let r = gathered.replay(&rules);
        assert!(r.rules[0].unknown.as_deref().unwrap().contains("not among"));
    }

    /// A rule is replayed over both halves of the keys at once; when it
    /// cannot be decided for one half, it ends nothing in the other either
    /// (later rules see every request, as if it were not there).
    #[test]
    fn a_rule_undecided_for_some_keys_blocks_none() {
        let mut lines = burst("192.0.2.2", "/", "GET", 0, 100);
        lines.extend(burst("192.0.2.1", "/login", "POST", 0, 100));
        // "/" decides (the first statement matches); "/login" needs the header.
        let scope = json!({"OrStatement": {"Statements": [
            {"ByteMatchStatement": {"SearchString": "/", "FieldToMatch": {"UriPath": {}},
                "TextTransformations": [{"Priority": 0, "Type": "NONE"}], "PositionalConstraint": "EXACTLY"}},
            {"ByteMatchStatement": {"SearchString": "x", "FieldToMatch": {"SingleHeader": {"Name": "user-agent"}},
                "TextTransformations": [{"Priority": 0, "Type": "NONE"}], "PositionalConstraint": "CONTAINS"}}]}});
        let report = replay(
            &lines,
            json!([
                rate("Undecided", 0, 30, "Block", Some(scope)),
                rate("Blanket", 1, 30, "Block", None)
            ]),
        );
        assert!(outcome(&report, "Undecided").unknown.is_some());
        let blanket = outcome(&report, "Blanket");
        assert_eq!((blanket.keys, blanket.requests), (2, 120), "60 of each");
    }

    #[test]
    fn live_and_draft_side_by_side() {
        let mut lines = burst("192.0.2.9", "/login", "POST", 0, 100);
        lines.extend(burst("192.0.2.10", "/", "GET", 0, 100));
        let live = replay(&lines, json!([rate("Blanket", 1, 50, "Block", None)]));
        // 60 a minute each: over 50 from step 6 (40 requests each), never
        // over 80.
        let draft = replay(&lines, json!([rate("Blanket", 1, 80, "Block", None)]));
        let compared = Comparison::of(live.clone(), draft.clone(), 10);
        assert_eq!(
            (compared.keys_newly_allowed, compared.requests_newly_allowed),
            (2, 80)
        );
        assert_eq!(compared.keys_newly_blocked, 0);
        assert_eq!(
            (
                compared.newly_allowed[0].live,
                compared.newly_allowed[0].draft
            ),
            (40, 0)
        );
        let back = Comparison::of(draft, live, 1);
        assert_eq!(
            (back.keys_newly_blocked, back.requests_newly_blocked),
            (2, 80)
        );
        assert_eq!(back.newly_blocked.len(), 1, "listed: one");
    }
}
