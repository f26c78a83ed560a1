//! Counting an analysis's keys per 10-second bucket from stored segments:
//! the time range and filters are applied to each row, and each key's
//! buckets are handed to a [`Counter`] in key order. Pure: the store feeds
//! it the segments it reads.
//!
//! Filters are decided once per string of a segment, not once per row, and
//! a key's text is looked up once per segment, so the work per row is a few
//! array reads.

use super::query::{Analysis, KeyBy, SLIDE_SECONDS, UriMatch};
use super::segment::{Count, Damaged, Interner, IpBuckets, NO_COUNTRY, Segment};
use super::windows::Counter;
use foldhash::HashMap as FastMap;

/// Not (yet) given a key id.
const UNSET: u32 = u32::MAX;
/// What `--by country` calls requests WAF resolved no country for.
pub const NO_COUNTRY_KEY: &str = "-";

pub struct Tally {
    from: i64,
    to: i64,
    by: KeyBy,
    uri: Option<(String, UriMatch)>,
    method: Option<String>,
    country: Option<String>,
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
            names: Interner::default(),
            pairs: FastMap::default(),
            keys: Vec::new(),
            buckets: Vec::new(),
        }
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
        let passes = |uri: u32, method: u32, country: u32| {
            (uri_ok.is_empty() || uri_ok[uri as usize])
                && (method_ok.is_empty() || method_ok[method as usize])
                && (country_ok.is_empty()
                    || (country != NO_COUNTRY && country_ok[country as usize]))
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
                        || !passes(row.uri, row.method, row.country)
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
                    || !passes(row.uri, row.method, row.country)
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
    /// no filter, and a range of whole 10-second buckets.
    pub fn ip_buckets_answer(analysis: &Analysis) -> bool {
        let whole = |t: i64| t.rem_euclid(SLIDE_SECONDS) == 0;
        analysis.by == KeyBy::Ip
            && analysis.uri.is_none()
            && analysis.method.is_none()
            && analysis.country.is_none()
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
        buckets.each(|row| {
            if row.bucket < from || row.bucket >= to {
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
    pub fn finish(mut self, counter: &mut Counter) {
        let texts = self.names.strings();
        let text = |id: u32| (id != UNSET).then(|| &*texts[id as usize]);
        let mut order: Vec<usize> = (0..self.keys.len()).collect();
        order.sort_unstable_by(|&a, &b| {
            let (ka, kb) = (self.keys[a], self.keys[b]);
            (text(ka.0), text(ka.1)).cmp(&(text(kb.0), text(kb.1)))
        });
        for i in order {
            let buckets = &mut self.buckets[i];
            if !buckets.is_sorted_by_key(|b| b.0) {
                buckets.sort_unstable_by_key(|b| b.0);
            }
            buckets.dedup_by(|later, earlier| {
                let same = later.0 == earlier.0;
                if same {
                    earlier.1 += later.1;
                }
                same
            });
            let (name, uri) = self.keys[i];
            counter.add(text(name).unwrap_or_default(), text(uri), buckets);
        }
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

    const STRINGS: [&str; 8] = [
        "192.0.2.1",
        "192.0.2.2",
        "/login",
        "/",
        "POST",
        "GET",
        "DE",
        "x-forwarded-for",
    ];

    fn row(second: i64, ip: u32, uri: u32, method: u32, country: u32, requests: u32) -> Count {
        Count {
            second,
            ip,
            uri,
            method,
            country,
            requests,
        }
    }

    fn segment_bytes() -> Vec<u8> {
        let mut counts = vec![
            row(1_000, 0, 2, 4, 6, 3),
            row(1_005, 0, 3, 5, 6, 1),
            row(1_012, 1, 2, 4, NO_COUNTRY, 2),
            row(999, 1, 3, 5, 6, 4),
            row(1_200, 0, 2, 4, 6, 5),
        ];
        let mut forwarded = vec![Forwarded {
            second: 1_001,
            header: 7,
            address: 1,
            uri: 2,
            method: 4,
            country: 6,
            requests: 9,
        }];
        encode(&STRINGS, &mut counts, &mut forwarded)
    }

    /// Seconds 1 000 ≤ s < 1 200 unless `pairs`, as the query string, say otherwise.
    fn analysis(pairs: &[(&str, &str)]) -> Analysis {
        let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap();
        let get = |key: &str| pairs.iter().find(|p| p.0 == key).map(|p| p.1.to_owned());
        Analysis::from_query(get, (at(1_000), at(1_200))).unwrap()
    }

    /// A key, its URI, and its windows.
    type Keyed = (String, Option<String>, Vec<(i64, u64)>);

    fn counted(pairs: &[(&str, &str)]) -> Vec<Keyed> {
        let analysis = analysis(pairs);
        let bytes = segment_bytes();
        let mut tally = Tally::new(&analysis);
        tally.add(&Segment::decode(&bytes).unwrap()).unwrap();
        // The same segment twice: counts add up.
        tally.add(&Segment::decode(&bytes).unwrap()).unwrap();
        let mut counter = Counter::new(60, false, 100);
        tally.finish(&mut counter);
        counter
            .finish()
            .series
            .into_iter()
            .map(|s| (s.key, s.uri, s.windows))
            .collect()
    }

    #[test]
    fn keys_in_range_and_filters_are_counted() {
        // 1 000 ≤ second < 1 200: the row at 999 is out.
        let all = counted(&[]);
        assert_eq!(
            all,
            [
                ("192.0.2.1".into(), None, vec![(960, 8)]),
                ("192.0.2.2".into(), None, vec![(960, 4)]),
            ]
        );
        let login = counted(&[("uri", "/login"), ("method", "POST")]);
        assert_eq!(login[0].2, [(960, 6)]);
        assert_eq!(login[1].2, [(960, 4)]);
        let prefix = counted(&[("uri", "/"), ("uri_match", "prefix")]);
        assert_eq!(prefix, all);
        let german = counted(&[("country", "DE")]);
        assert_eq!(german.len(), 1, "the row without a country is left out");
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
                ("192.0.2.2", Some("/login"))
            ]
        );
    }

    #[test]
    fn per_ip_buckets_count_as_the_seconds_they_sum() {
        let analysis = analysis(&[]);
        assert!(Tally::ip_buckets_answer(&analysis));
        let mut rows = vec![
            IpBucket {
                bucket: 100,
                ip: 0,
                requests: 4,
            },
            IpBucket {
                bucket: 101,
                ip: 1,
                requests: 2,
            },
            IpBucket {
                bucket: 99,
                ip: 1,
                requests: 4,
            },
            // At `to`: left out.
            IpBucket {
                bucket: 120,
                ip: 0,
                requests: 5,
            },
        ];
        let bytes = encode_ip_buckets(&STRINGS[..2], &mut rows);
        let mut tally = Tally::new(&analysis);
        for _ in 0..2 {
            tally
                .add_ip_buckets(&IpBuckets::decode(&bytes).unwrap())
                .unwrap();
        }
        let mut counter = Counter::new(60, false, 100);
        tally.finish(&mut counter);
        let series: Vec<_> = counter
            .finish()
            .series
            .into_iter()
            .map(|s| (s.key, s.uri, s.windows))
            .collect();
        assert_eq!(series, counted(&[]), "the same as from the per-second rows");
        // Filters, other keys and ranges that cut a bucket need the seconds.
        assert!(!Tally::ip_buckets_answer(&self::analysis(&[("uri", "/")])));
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
        assert_eq!(forwarded, [("192.0.2.2".into(), None, vec![(960, 18)])]);
        assert!(counted(&[("by", "forwarded:True-Client-IP")]).is_empty());
        let login = counted(&[("by", "forwarded:x-forwarded-for"), ("uri", "/")]);
        assert!(login.is_empty(), "the forwarded row is for /login");
    }
}
