//! Counting records per second and per key while a file is read, and
//! packing the counts as a segment (`app::traffic::segment`).
//!
//! Strings are interned so that a flood of the same address and URI costs
//! one map entry per second, not one allocation per request.

use super::import::{Batch, FileStats};
use super::record::{RecordView, first_address};
use app::traffic::segment::{self, Count, Forwarded, Interner, IpBucket, NO_COUNTRY};
use foldhash::HashMap as FastMap;
use std::net::IpAddr;

/// Per second: (client IP, URI, method, country) → requests.
type CountKey = (i64, u32, u32, u32, u32);
/// Per second: (header, forwarded IP, URI, method, country) → requests.
type ForwardedKey = (i64, u32, u32, u32, u32, u32);

#[derive(Default)]
pub struct Scanner {
    strings: Interner,
    counts: FastMap<CountKey, u32>,
    forwarded: FastMap<ForwardedKey, u32>,
    /// Per string id: whether it is a client IP that is not an address.
    redacted: Vec<Option<bool>>,
    lower: String,
}

impl Scanner {
    /// Entries held, to decide when to write them out.
    pub fn len(&self) -> usize {
        self.counts.len() + self.forwarded.len()
    }

    pub fn add(&mut self, record: &RecordView<'_>, stats: &mut FileStats) {
        let second = record.timestamp_ms.div_euclid(1000);
        let ip = self.strings.id(record.client_ip);
        // Whether a client IP is an address is decided once per flush, not per request.
        if self.redacted.len() <= ip as usize {
            self.redacted.resize(ip as usize + 1, None);
        }
        let redacted = *self.redacted[ip as usize]
            .get_or_insert_with(|| record.client_ip.parse::<IpAddr>().is_err());
        stats.count(record, redacted);
        let uri = self.strings.id(record.uri);
        let method = self.strings.id(record.method);
        let country = record.country.map_or(NO_COUNTRY, |c| self.strings.id(c));
        *self
            .counts
            .entry((second, ip, uri, method, country))
            .or_insert(0) += 1;
        for (name, value) in record.headers() {
            let Some(address) = first_address(value) else {
                continue;
            };
            self.lower.clear();
            self.lower.push_str(name);
            self.lower.make_ascii_lowercase();
            let header = self.strings.id(&self.lower);
            let address = self.strings.id(&address_text(address));
            *self
                .forwarded
                .entry((second, header, address, uri, method, country))
                .or_insert(0) += 1;
        }
    }

    /// The counts so far as one segment; the scanner starts afresh.
    pub fn take(&mut self) -> Batch {
        let mut counts: Vec<Count> = self
            .counts
            .drain()
            .map(|((second, ip, uri, method, country), requests)| Count {
                second,
                ip,
                uri,
                method,
                country,
                requests,
            })
            .collect();
        let mut forwarded: Vec<Forwarded> = self
            .forwarded
            .drain()
            .map(
                |((second, header, address, uri, method, country), requests)| Forwarded {
                    second,
                    header,
                    address,
                    uri,
                    method,
                    country,
                    requests,
                },
            )
            .collect();
        let seconds = counts
            .iter()
            .map(|c| c.second)
            .chain(forwarded.iter().map(|f| f.second));
        let (first_second, last_second) =
            seconds.fold((i64::MAX, i64::MIN), |(lo, hi), s| (lo.min(s), hi.max(s)));
        let strings: Vec<&str> = self.strings.strings().iter().map(|s| &**s).collect();
        let by_ip = ip_buckets(&strings, &counts);
        let data = segment::encode(&strings, &mut counts, &mut forwarded);
        self.strings = Interner::default();
        self.redacted.clear();
        Batch {
            data,
            by_ip,
            first_second,
            last_second,
        }
    }
}

/// The counts summed per client IP and 10-second bucket, packed with a
/// string table of the client IPs alone.
fn ip_buckets(strings: &[&str], counts: &[Count]) -> Vec<u8> {
    let mut sums: FastMap<(i64, u32), u32> = FastMap::default();
    for c in counts {
        *sums.entry((c.second.div_euclid(10), c.ip)).or_insert(0) += c.requests;
    }
    let mut renumbered = vec![u32::MAX; strings.len()];
    let mut ips: Vec<&str> = Vec::new();
    let mut rows: Vec<IpBucket> = sums
        .into_iter()
        .map(|((bucket, ip), requests)| {
            let slot = &mut renumbered[ip as usize];
            if *slot == u32::MAX {
                *slot = ips.len() as u32;
                ips.push(strings[ip as usize]);
            }
            IpBucket {
                bucket,
                ip: *slot,
                requests,
            }
        })
        .collect();
    segment::encode_ip_buckets(&ips, &mut rows)
}

/// An address as the analyses key it: its canonical text, so that
/// `2001:DB8::1` and `2001:db8::1` are one key.
fn address_text(address: IpAddr) -> String {
    address.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_of_one_second_and_key_make_one_row() {
        let line = |ms: i64, ip: &str| {
            format!(
                r#"{{"timestamp":{ms},"httpRequest":{{"clientIp":"{ip}","country":"DE","uri":"/login","httpMethod":"POST","headers":[{{"name":"X-Forwarded-For","value":"198.51.100.7, 10.0.0.1"}},{{"name":"Host","value":"a"}}]}}}}"#
            )
        };
        let mut scanner = Scanner::default();
        let mut stats = FileStats::default();
        for (ms, ip) in [
            (1_000, "192.0.2.1"),
            (1_999, "192.0.2.1"),
            (2_000, "192.0.2.1"),
            (1_500, "X.X.X.X"),
        ] {
            super::super::record::read_line(&line(ms, ip), |r| scanner.add(&r, &mut stats))
                .unwrap();
        }
        assert_eq!((stats.records, stats.redacted_ips), (4, 1));
        let batch = scanner.take();
        assert_eq!((batch.first_second, batch.last_second), (1, 2));
        let segment = segment::Segment::decode(&batch.data).unwrap();
        let text = |id: u32| match id {
            NO_COUNTRY => "-",
            id => segment.strings[id as usize],
        };
        let mut counts = Vec::new();
        segment
            .each_count(|c| {
                let row = [c.ip, c.uri, c.method, c.country].map(text).join(" ");
                counts.push(format!("{} {row} {}", c.second, c.requests));
            })
            .unwrap();
        counts.sort();
        assert_eq!(
            counts,
            [
                "1 192.0.2.1 /login POST DE 2",
                "1 X.X.X.X /login POST DE 1",
                "2 192.0.2.1 /login POST DE 1",
            ]
        );
        let mut forwarded = Vec::new();
        segment
            .each_forwarded(|f| {
                let row = [f.header, f.address, f.uri, f.method, f.country]
                    .map(text)
                    .join(" ");
                forwarded.push(format!("{} {row} {}", f.second, f.requests));
            })
            .unwrap();
        forwarded.sort();
        assert_eq!(
            forwarded,
            [
                "1 x-forwarded-for 198.51.100.7 /login POST DE 3",
                "2 x-forwarded-for 198.51.100.7 /login POST DE 1",
            ]
        );
        assert_eq!(scanner.len(), 0, "taken");
    }
}
