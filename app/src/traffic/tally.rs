//! Counting an analysis's keys per 10-second bucket from stored segments:
//! the time range and filters are applied to each row, and each key's
//! buckets are handed to a [`Counter`] in key order. Pure: the store feeds
//! it the segments it reads.
//!
//! Filters are decided once per string of a segment, not once per row, and
//! a key's text is looked up once per segment, so the work per row is a few
//! array reads.

use super::healthy::{Healthy, LeftOut};
use super::query::{Analysis, KeyBy, SLIDE_SECONDS, UriMatch, label_matches, web_acl_matches};
use super::segment::{Count, Damaged, Interner, IpBuckets, NO_COUNTRY, NONE, Segment, Tag};
use super::windows::Counter;
use foldhash::HashMap as FastMap;

/// Not (yet) given a key id.
const UNSET: u32 = u32::MAX;
/// What `--by country` calls requests WAF resolved no country for.
pub const NO_COUNTRY_KEY: &str = "-";

/// What becomes of the requests of one tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Counted,
    /// Not what the analysis asks about (another web ACL, no such label).
    NotAsked,
    /// Asked about, but left out of a healthy basis.
    Blocked,
    Labelled,
}

pub struct Tally {
    from: i64,
    to: i64,
    by: KeyBy,
    uri: Option<(String, UriMatch)>,
    method: Option<String>,
    country: Option<String>,
    web_acl: Option<String>,
    label: Option<String>,
    /// Leaves out what a healthy basis does not count.
    healthy: Option<Healthy>,
    left_out: LeftOut,
    /// Every key's text (client IP, address, country, or URI of `ip-uri`).
    names: Interner,
    /// (name, URI name or UNSET) → key id.
    pairs: FastMap<(u32, u32), u32>,
    keys: Vec<(u32, u32)>,
    /// Per key: (bucket, requests), as the rows came.
    buckets: Vec<Vec<(i64, u64)>>,
}

impl Tally {
    pub fn new(analysis: &Analysis) -> Self {
        Tally {
            from: analysis.from.timestamp(),
            to: analysis.to.timestamp(),
            by: analysis.by.clone(),
            uri: analysis.uri.clone().map(|u| (u, analysis.uri_match)),
            method: analysis.method.clone(),
            country: analysis.country.clone(),
            web_acl: analysis.web_acl.clone(),
            label: analysis.label.clone(),
            healthy: None,
            left_out: LeftOut::default(),
            names: Interner::default(),
            pairs: FastMap::default(),
            keys: Vec::new(),
            buckets: Vec::new(),
        }
    }

    /// Counts only what `healthy` keeps, and what it left out.
    pub fn healthy(analysis: &Analysis, healthy: &Healthy) -> Self {
        Tally {
            healthy: Some(healthy.clone()),
            ..Tally::new(analysis)
        }
    }

    /// What the healthy basis left out so far (requests only; the keys
    /// are decided later).
    pub fn left_out(&self) -> LeftOut {
        self.left_out
    }

    /// What becomes of each of a segment's tags.
    fn fates(&self, segment: &Segment<'_>) -> Vec<Fate> {
        let strings = &segment.strings;
        let text = |index: u32| (index != NONE).then(|| strings[index as usize]);
        let fate = |tag: &Tag| {
            let labels = || tag.labels.iter().map(|&l| strings[l as usize]);
            if let Some(wanted) = &self.web_acl
                && !web_acl_matches(wanted, text(tag.web_acl))
            {
                return Fate::NotAsked;
            }
            if let Some(wanted) = &self.label
                && !labels().any(|l| label_matches(wanted, l))
            {
                return Fate::NotAsked;
            }
            let Some(healthy) = &self.healthy else {
                return Fate::Counted;
            };
            if text(tag.action).is_some_and(|a| healthy.leaves_out_action(a)) {
                Fate::Blocked
            } else if labels().any(|l| healthy.leaves_out_label(l)) {
                Fate::Labelled
            } else {
                Fate::Counted
            }
        };
        segment.tags.iter().map(fate).collect()
    }

    /// Counts the rows of one segment that the analysis asks about.
    pub fn add(&mut self, segment: &Segment<'_>) -> Result<(), Damaged> {
        let strings = &segment.strings;
        let uri_ok = match &self.uri {
            Some((uri, UriMatch::Exact)) => flags(strings, |s| s == uri),
            Some((uri, UriMatch::Prefix)) => flags(strings, |s| s.starts_with(uri.as_str())),
            None => Vec::new(),
        };
        let method_ok = match &self.method {
            Some(method) => flags(strings, |s| s == method),
            None => Vec::new(),
        };
        let country_ok = match &self.country {
            Some(country) => flags(strings, |s| s == country),
            None => Vec::new(),
        };
        let fates = self.fates(segment);
        let asked = |uri: u32, method: u32, country: u32, tag: u32| {
            (uri_ok.is_empty() || uri_ok[uri as usize])
                && (method_ok.is_empty() || method_ok[method as usize])
                && (country_ok.is_empty()
                    || (country != NO_COUNTRY && country_ok[country as usize]))
                && fates[tag as usize] != Fate::NotAsked
        };
        let excluded = self.healthy.as_ref().map(|h| h.exclude.clone());
        // Whether a row that was asked about is counted; if not, notes why.
        let counted = |left_out: &mut LeftOut, second: i64, tag: u32, requests: u32| {
            let requests = u64::from(requests);
            left_out.requests += requests;
            let reason = match &excluded {
                Some(ranges) if ranges.iter().any(|&(f, t)| f <= second && second < t) => {
                    &mut left_out.excluded_time
                }
                _ => match fates[tag as usize] {
                    Fate::Blocked => &mut left_out.blocked,
                    Fate::Labelled => &mut left_out.labelled,
                    _ => return true,
                },
            };
            *reason += requests;
            false
        };
        let (from, to) = (self.from, self.to);
        // Local string (or pair) → key id, filled as rows need them.
        let mut local = vec![UNSET; strings.len()];
        let mut no_country = UNSET;
        let mut local_pairs: FastMap<(u32, u32), u32> = FastMap::default();
        match self.by.clone() {
            KeyBy::Forwarded(header) => {
                let Some(wanted) = strings.iter().position(|s| s.eq_ignore_ascii_case(&header))
                else {
                    return Ok(());
                };
                let wanted = wanted as u32;
                segment.each_forwarded(|row| {
                    if row.header != wanted
                        || row.second < from
                        || row.second >= to
                        || !asked(row.uri, row.method, row.country, row.tag)
                        || !counted(&mut self.left_out, row.second, row.tag, row.requests)
                    {
                        return;
                    }
                    let key = self.key_of(
                        &mut local[row.address as usize],
                        strings[row.address as usize],
                        None,
                    );
                    self.count(key, row.second, row.requests);
                })
            }
            by => segment.each_count(|row: Count| {
                if row.second < from
                    || row.second >= to
                    || !asked(row.uri, row.method, row.country, row.tag)
                    || !counted(&mut self.left_out, row.second, row.tag, row.requests)
                {
                    return;
                }
                let key = match by {
                    KeyBy::Country if row.country == NO_COUNTRY => {
                        self.key_of(&mut no_country, NO_COUNTRY_KEY, None)
                    }
                    KeyBy::Country => self.key_of(
                        &mut local[row.country as usize],
                        strings[row.country as usize],
                        None,
                    ),
                    KeyBy::IpUri => match local_pairs.get(&(row.ip, row.uri)) {
                        Some(&key) => key,
                        None => {
                            let mut slot = UNSET;
                            let uri = Some(strings[row.uri as usize]);
                            let key = self.key_of(&mut slot, strings[row.ip as usize], uri);
                            local_pairs.insert((row.ip, row.uri), key);
                            key
                        }
                    },
                    _ => self.key_of(&mut local[row.ip as usize], strings[row.ip as usize], None),
                };
                self.count(key, row.second, row.requests);
            }),
        }
    }

    /// Whether per-IP buckets answer `analysis` exactly: keys by client IP,
    /// no filter but the web ACL, and a range of whole 10-second buckets.
    pub fn ip_buckets_answer(analysis: &Analysis) -> bool {
        let whole = |t: i64| t.rem_euclid(SLIDE_SECONDS) == 0;
        analysis.by == KeyBy::Ip
            && analysis.uri.is_none()
            && analysis.method.is_none()
            && analysis.country.is_none()
            && analysis.label.is_none()
            && whole(analysis.from.timestamp())
            && whole(analysis.to.timestamp())
    }

    /// Counts per-IP buckets; only for analyses [`Self::ip_buckets_answer`]
    /// accepts.
    pub fn add_ip_buckets(&mut self, buckets: &IpBuckets<'_>) -> Result<(), Damaged> {
        let from = self.from.div_euclid(SLIDE_SECONDS);
        let to = self.to.div_euclid(SLIDE_SECONDS);
        let strings = &buckets.strings;
        let mut local = vec![UNSET; strings.len()];
        let web_acl_ok = match &self.web_acl {
            Some(wanted) => flags(strings, |s| web_acl_matches(wanted, Some(s))),
            None => Vec::new(),
        };
        let unknown_ok = self
            .web_acl
            .as_deref()
            .is_none_or(|w| web_acl_matches(w, None));
        buckets.each(|row| {
            let asked = match (web_acl_ok.is_empty(), row.web_acl) {
                (true, _) => true,
                (false, NONE) => unknown_ok,
                (false, web_acl) => web_acl_ok[web_acl as usize],
            };
            if row.bucket < from || row.bucket >= to || !asked {
                return;
            }
            let ip = row.ip as usize;
            let key = self.key_of(&mut local[ip], strings[ip], None);
            self.count_bucket(key, row.bucket, row.requests);
        })
    }

    /// The key id of `name` (and `uri`), remembered in `slot`.
    fn key_of(&mut self, slot: &mut u32, name: &str, uri: Option<&str>) -> u32 {
        if *slot != UNSET {
            return *slot;
        }
        let name = self.names.id(name);
        let uri = uri.map_or(UNSET, |u| self.names.id(u));
        let next = self.keys.len() as u32;
        let key = *self.pairs.entry((name, uri)).or_insert(next);
        if key == next {
            self.keys.push((name, uri));
            self.buckets.push(Vec::new());
        }
        *slot = key;
        key
    }

    fn count(&mut self, key: u32, second: i64, requests: u32) {
        self.count_bucket(key, second.div_euclid(SLIDE_SECONDS), requests);
    }

    fn count_bucket(&mut self, key: u32, bucket: i64, requests: u32) {
        let buckets = &mut self.buckets[key as usize];
        match buckets.last_mut() {
            Some((last, total)) if *last == bucket => *total += u64::from(requests),
            _ => buckets.push((bucket, u64::from(requests))),
        }
    }

    /// Hands every key's buckets, ascending, to `counter`, keys in order.
    /// Returns all keys' requests per 10-second bucket, ascending: the
    /// total traffic the analysis counted.
    pub fn finish(mut self, counter: &mut Counter) -> Vec<(i64, u64)> {
        let mut totals: FastMap<i64, u64> = FastMap::default();
        let texts = self.names.strings();
        let text = |id: u32| (id != UNSET).then(|| &*texts[id as usize]);
        let mut order: Vec<usize> = (0..self.keys.len()).collect();
        order.sort_unstable_by(|&a, &b| {
            let (ka, kb) = (self.keys[a], self.keys[b]);
            (text(ka.0), text(ka.1)).cmp(&(text(kb.0), text(kb.1)))
        });
        for i in order {
            let buckets = &mut self.buckets[i];
            super::windows::in_order(buckets);
            for &(bucket, requests) in buckets.iter() {
                *totals.entry(bucket).or_default() += requests;
            }
            let (name, uri) = self.keys[i];
            counter.add(text(name).unwrap_or_default(), text(uri), buckets);
        }
        let mut totals: Vec<(i64, u64)> = totals.into_iter().collect();
        totals.sort_unstable();
        totals
    }
}

fn flags(strings: &[&str], test: impl Fn(&str) -> bool) -> Vec<bool> {
    strings.iter().map(|s| test(s)).collect()
}

#[cfg(test)]
mod tests {
    use super::super::query::Analysis;
    use super::super::segment::{Forwarded, IpBucket, encode, encode_ip_buckets};
    use super::*;

    const STRINGS: [&str; 11] = [
        "192.0.2.1",
        "192.0.2.2",
        "/login",
        "/",
        "POST",
        "GET",
        "DE",
        "x-forwarded-for",
        "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/shop/6a1b",
        "ALLOW",
        "BLOCK",
    ];
    const HOSTING: &str = "awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList";

    /// unknown; shop ALLOW; shop BLOCK; shop ALLOW with the hosting label (string 11).
    fn tags() -> Vec<Tag> {
        let tag = |action, labels: &[u32]| Tag {
            web_acl: 8,
            action,
            labels: labels.to_vec(),
        };
        vec![Tag::unknown(), tag(9, &[]), tag(10, &[]), tag(9, &[11])]
    }

    fn row(
        second: i64,
        ip: u32,
        (uri, method): (u32, u32),
        country: u32,
        tag: u32,
        requests: u32,
    ) -> Count {
        Count {
            second,
            ip,
            uri,
            method,
            country,
            tag,
            requests,
        }
    }

    const LOGIN: (u32, u32) = (2, 4);
    const HOME: (u32, u32) = (3, 5);

    fn segment_bytes() -> Vec<u8> {
        let mut counts = vec![
            row(1_000, 0, LOGIN, 6, 1, 3),
            row(1_005, 0, HOME, 6, 0, 1),
            row(1_012, 1, LOGIN, NO_COUNTRY, 2, 2),
            row(999, 1, HOME, 6, 1, 4),
            row(1_100, 1, HOME, 6, 3, 7),
            row(1_200, 0, LOGIN, 6, 1, 5),
        ];
        let mut forwarded = vec![Forwarded {
            second: 1_001,
            header: 7,
            address: 1,
            uri: 2,
            method: 4,
            country: 6,
            tag: 1,
            requests: 9,
        }];
        let mut strings = STRINGS.to_vec();
        strings.push(HOSTING);
        encode(&strings, &tags(), &mut counts, &mut forwarded)
    }

    /// Seconds 1 000 ≤ s < 1 200 unless `pairs`, as the query string, say otherwise.
    fn analysis(pairs: &[(&str, &str)]) -> Analysis {
        let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap();
        let get = |key: &str| pairs.iter().find(|p| p.0 == key).map(|p| p.1.to_owned());
        Analysis::from_query(get, (at(1_000), at(1_200))).unwrap()
    }

    /// A key, its URI, and its windows.
    type Keyed = (String, Option<String>, Vec<(i64, u64)>);

    /// The segment counted twice (counts add up), in 60-second windows.
    fn run(mut tally: Tally) -> (Vec<Keyed>, Vec<(i64, u64)>, LeftOut) {
        let bytes = segment_bytes();
        tally.add(&Segment::decode(&bytes).unwrap()).unwrap();
        tally.add(&Segment::decode(&bytes).unwrap()).unwrap();
        let left_out = tally.left_out();
        let mut counter = Counter::new(60, false, 100);
        let totals = tally.finish(&mut counter);
        let keyed = counter
            .finish()
            .series
            .into_iter()
            .map(|s| (s.key, s.uri, s.windows))
            .collect();
        (keyed, totals, left_out)
    }

    fn counted(pairs: &[(&str, &str)]) -> Vec<Keyed> {
        run(Tally::new(&analysis(pairs))).0
    }

    fn key(ip: &str, windows: &[(i64, u64)]) -> Keyed {
        (ip.into(), None, windows.to_vec())
    }

    #[test]
    fn keys_in_range_and_filters_are_counted() {
        // 1 000 ≤ second < 1 200: the rows at 999 and 1 200 are out.
        let (all, totals, _) = run(Tally::new(&analysis(&[])));
        assert_eq!(
            all,
            [
                key("192.0.2.1", &[(960, 8)]),
                key("192.0.2.2", &[(960, 4), (1080, 14)]),
            ]
        );
        assert_eq!(totals, [(100, 8), (101, 4), (110, 14)], "per 10 s");
        let login = counted(&[("uri", "/login"), ("method", "POST")]);
        assert_eq!(login[0].2, [(960, 6)]);
        assert_eq!(login[1].2, [(960, 4)]);
        let prefix = counted(&[("uri", "/"), ("uri_match", "prefix")]);
        assert_eq!(prefix, all);
        let german = counted(&[("country", "DE")]);
        assert_eq!(
            german[1].2,
            [(1080, 14)],
            "the row without a country is out"
        );
        let by_country = counted(&[("by", "country")]);
        let keys: Vec<_> = by_country.iter().map(|k| k.0.as_str()).collect();
        assert_eq!(keys, [NO_COUNTRY_KEY, "DE"]);
        let pairs = counted(&[("by", "ip-uri")]);
        let keys: Vec<_> = pairs
            .iter()
            .map(|k| (k.0.as_str(), k.1.as_deref()))
            .collect();
        assert_eq!(
            keys,
            [
                ("192.0.2.1", Some("/")),
                ("192.0.2.1", Some("/login")),
                ("192.0.2.2", Some("/")),
                ("192.0.2.2", Some("/login"))
            ]
        );
    }

    #[test]
    fn web_acls_and_labels_filter_by_the_rows_tags() {
        let shop = counted(&[("web_acl", "shop")]);
        assert_eq!(
            shop,
            [
                key("192.0.2.1", &[(960, 6)]),
                key("192.0.2.2", &[(960, 4), (1080, 14)]),
            ],
            "the row of an unknown web ACL is out"
        );
        assert_eq!(counted(&[("web_acl", STRINGS[8])]), shop, "by ARN");
        assert!(counted(&[("web_acl", "other")]).is_empty());
        assert_eq!(
            counted(&[("web_acl", "unknown")]),
            [key("192.0.2.1", &[(960, 2)])]
        );
        assert_eq!(
            counted(&[("label", HOSTING)]),
            [key("192.0.2.2", &[(1080, 14)])]
        );
        assert_eq!(
            counted(&[("label", "awswaf:managed:aws:anonymous-ip-list:")]),
            [key("192.0.2.2", &[(1080, 14)])],
            "a namespace"
        );
    }

    #[test]
    fn a_healthy_basis_leaves_out_blocked_labelled_and_excluded_requests() {
        let (kept, _, left_out) = run(Tally::healthy(&analysis(&[]), &Healthy::default()));
        assert_eq!(kept, [key("192.0.2.1", &[(960, 8)])]);
        assert_eq!(
            (
                left_out.requests,
                left_out.blocked,
                left_out.labelled,
                left_out.excluded_time
            ),
            (26, 4, 14, 0)
        );
        let incident = Healthy {
            exclude: vec![(1_000, 1_010)],
            ..Healthy::everything()
        };
        let (kept, _, left_out) = run(Tally::healthy(&analysis(&[]), &incident));
        assert_eq!(
            kept,
            [key("192.0.2.2", &[(960, 4), (1080, 14)])],
            "the first ten seconds are out"
        );
        assert_eq!((left_out.excluded_time, left_out.blocked), (8, 0));
        let (everything, _, _) = run(Tally::healthy(&analysis(&[]), &Healthy::everything()));
        assert_eq!(everything, counted(&[]));
    }

    #[test]
    fn per_ip_buckets_count_as_the_seconds_they_sum() {
        let analysis = analysis(&[]);
        assert!(Tally::ip_buckets_answer(&analysis));
        let bucket = |bucket, ip, web_acl, requests| IpBucket {
            bucket,
            ip,
            web_acl,
            requests,
        };
        let mut rows = vec![
            bucket(100, 0, 2, 3),
            bucket(100, 0, NONE, 1),
            bucket(101, 1, 2, 2),
            bucket(110, 1, 2, 7),
            bucket(99, 1, 2, 4),
            // At `to`: left out.
            bucket(120, 0, 2, 5),
        ];
        let bytes = encode_ip_buckets(&[STRINGS[0], STRINGS[1], STRINGS[8]], &mut rows);
        let run = |analysis: &Analysis| {
            let mut tally = Tally::new(analysis);
            for _ in 0..2 {
                tally
                    .add_ip_buckets(&IpBuckets::decode(&bytes).unwrap())
                    .unwrap();
            }
            let mut counter = Counter::new(60, false, 100);
            tally.finish(&mut counter);
            let series: Vec<Keyed> = counter
                .finish()
                .series
                .into_iter()
                .map(|s| (s.key, s.uri, s.windows))
                .collect();
            series
        };
        assert_eq!(run(&analysis), counted(&[]), "the same as the seconds");
        let shop = self::analysis(&[("web_acl", "shop")]);
        assert!(Tally::ip_buckets_answer(&shop));
        assert_eq!(run(&shop), counted(&[("web_acl", "shop")]));
        let unknown = self::analysis(&[("web_acl", "unknown")]);
        assert_eq!(run(&unknown), counted(&[("web_acl", "unknown")]));
        // Filters, other keys and ranges that cut a bucket need the seconds.
        assert!(!Tally::ip_buckets_answer(&self::analysis(&[("uri", "/")])));
        assert!(!Tally::ip_buckets_answer(&self::analysis(&[(
            "label", HOSTING
        )])));
        assert!(!Tally::ip_buckets_answer(&self::analysis(&[(
            "by", "country"
        )])));
        assert!(!Tally::ip_buckets_answer(&self::analysis(&[(
            "from",
            "1970-01-01T00:16:45Z"
        )])));
    }

    #[test]
    fn forwarded_keys_need_the_header_by_name() {
        let forwarded = counted(&[("by", "forwarded:X-Forwarded-For")]);
        assert_eq!(forwarded, [key("192.0.2.2", &[(960, 18)])]);
        assert!(counted(&[("by", "forwarded:True-Client-IP")]).is_empty());
        let login = counted(&[("by", "forwarded:x-forwarded-for"), ("uri", "/")]);
        assert!(login.is_empty(), "the forwarded row is for /login");
    }
}
