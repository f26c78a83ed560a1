//! Counting records per second and per key while a file is read, and
//! packing the counts as a segment (`app::traffic::segment`).
//!
//! Strings are interned so that a flood of the same address and URI costs
//! one map entry per second, not one allocation per request.

use super::import::{Batch, FileStats};
use super::record::RecordView;
use app::traffic::segment::{self, Count, Forwarded, Interner, IpBucket, NO_COUNTRY, NONE, Tag};
use foldhash::HashMap as FastMap;
use std::fmt::Write;
use std::net::IpAddr;

/// Per second: (client IP, URI, method, country, tag) → requests.
type CountKey = (i64, u32, u32, u32, u32, u32);
/// Per second: (header, forwarded IP, URI, method, country, tag) → requests.
type ForwardedKey = (i64, u32, u32, u32, u32, u32, u32);

#[derive(Default)]
pub struct Scanner {
    strings: Interner,
    /// The tags so far, and their ids: by (web ACL, action) for requests
    /// without labels (most), by the whole tag for the rest.
    tags: Vec<Tag>,
    plain_tags: FastMap<(u32, u32), u32>,
    labelled_tags: FastMap<Tag, u32>,
    counts: FastMap<CountKey, u32>,
    forwarded: FastMap<ForwardedKey, u32>,
    /// Per string id: whether it is a client IP that is not an address.
    redacted: Vec<Option<bool>>,
    lower: String,
    /// An address as the analyses key it: its canonical text, so that
    /// `2001:DB8::1` and `2001:db8::1` are one key.
    address: String,
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
        let tag = self.tag_of(record);
        *self
            .counts
            .entry((second, ip, uri, method, country, tag))
            .or_insert(0) += 1;
        for (name, address) in record.addresses() {
            self.lower.clear();
            self.lower.push_str(name);
            self.lower.make_ascii_lowercase();
            let header = self.strings.id(&self.lower);
            self.address.clear();
            // Writing to a String cannot fail.
            let _ = write!(self.address, "{address}");
            let address = self.strings.id(&self.address);
            *self
                .forwarded
                .entry((second, header, address, uri, method, country, tag))
                .or_insert(0) += 1;
        }
    }

    /// The id of the record's tag: its web ACL, action and labels.
    fn tag_of(&mut self, record: &RecordView<'_>) -> u32 {
        let web_acl = record.web_acl.map_or(NONE, |w| self.strings.id(w));
        let action = record.action.map_or(NONE, |a| self.strings.id(a));
        let next = self.tags.len() as u32;
        let mut labels = record.labels().peekable();
        if labels.peek().is_none() {
            let id = *self.plain_tags.entry((web_acl, action)).or_insert(next);
            if id == next {
                self.tags.push(Tag {
                    web_acl,
                    action,
                    labels: Vec::new(),
                });
            }
            return id;
        }
        let mut labels: Vec<u32> = labels.map(|l| self.strings.id(l)).collect();
        labels.sort_unstable();
        labels.dedup();
        let tag = Tag {
            web_acl,
            action,
            labels,
        };
        if let Some(&id) = self.labelled_tags.get(&tag) {
            return id;
        }
        self.tags.push(tag.clone());
        self.labelled_tags.insert(tag, next);
        next
    }

    /// The counts so far as one segment; the scanner starts afresh.
    pub fn take(&mut self) -> Batch {
        let mut counts: Vec<Count> = self
            .counts
            .drain()
            .map(
                |((second, ip, uri, method, country, tag), requests)| Count {
                    second,
                    ip,
                    uri,
                    method,
                    country,
                    tag,
                    requests,
                },
            )
            .collect();
        let mut forwarded: Vec<Forwarded> = self
            .forwarded
            .drain()
            .map(
                |((second, header, address, uri, method, country, tag), requests)| Forwarded {
                    second,
                    header,
                    address,
                    uri,
                    method,
                    country,
                    tag,
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
        let by_ip = ip_buckets(&strings, &self.tags, &counts);
        let data = segment::encode(&strings, &self.tags, &mut counts, &mut forwarded);
        self.strings = Interner::default();
        self.tags.clear();
        self.plain_tags.clear();
        self.labelled_tags.clear();
        self.redacted.clear();
        Batch {
            data,
            by_ip,
            first_second,
            last_second,
        }
    }
}

/// The counts summed per client IP, web ACL and 10-second bucket, packed
/// with a string table of the client IPs and web ACLs alone.
fn ip_buckets(strings: &[&str], tags: &[Tag], counts: &[Count]) -> Vec<u8> {
    let mut sums: FastMap<(i64, u32, u32), u32> = FastMap::default();
    for c in counts {
        let web_acl = tags[c.tag as usize].web_acl;
        *sums
            .entry((c.second.div_euclid(10), c.ip, web_acl))
            .or_insert(0) += c.requests;
    }
    let mut renumbered = vec![NONE; strings.len()];
    let mut kept: Vec<&str> = Vec::new();
    let mut keep = |id: u32| {
        if id == NONE {
            return NONE;
        }
        let slot = &mut renumbered[id as usize];
        if *slot == NONE {
            *slot = kept.len() as u32;
            kept.push(strings[id as usize]);
        }
        *slot
    };
    let mut rows: Vec<IpBucket> = sums
        .into_iter()
        .map(|((bucket, ip, web_acl), requests)| IpBucket {
            bucket,
            ip: keep(ip),
            web_acl: keep(web_acl),
            requests,
        })
        .collect();
    segment::encode_ip_buckets(&kept, &mut rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_of_one_second_and_key_make_one_row() {
        let line = |ms: i64, ip: &str| {
            format!(
                r#"{{"timestamp":{ms},"webaclId":"arn:aws:wafv2:us-east-1:123456789012:regional/webacl/shop/1","action":"ALLOW","labels":[{{"name":"b:x"}},{{"name":"a:y"}}],"httpRequest":{{"clientIp":"{ip}","country":"DE","uri":"/login","httpMethod":"POST","headers":[{{"name":"X-Forwarded-For","value":"198.51.100.7, 10.0.0.1"}},{{"name":"Host","value":"a"}}]}}}}"#
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
        assert_eq!(segment.tags.len(), 1, "one tag for all four");
        let tag = &segment.tags[0];
        assert_eq!(
            (text(tag.web_acl), text(tag.action)),
            (
                "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/shop/1",
                "ALLOW"
            )
        );
        let mut labels: Vec<&str> = tag.labels.iter().map(|&l| text(l)).collect();
        labels.sort_unstable();
        assert_eq!(labels, ["a:y", "b:x"]);
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
