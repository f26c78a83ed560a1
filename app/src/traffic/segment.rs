//! Imported request counts, packed: one segment holds what one stretch of a
//! log file counted, per second and per (client IP, URI, method, country,
//! tag), and per forwarded-IP header. A tag is what WAF said of the request
//! besides the request itself: the web ACL that logged it, the action it
//! took and the labels its rules added. The import writes one segment a
//! file (more for a large file) as one `bytea` value; the analyses read
//! back only the segments of their time range and count them in memory,
//! which is what makes an analysis over a day of logs take milliseconds,
//! not seconds.
//!
//! Layout (integers are LEB128 varints; optional strings — a country, a
//! web ACL, an action — are stored plus one, with 0 for none):
//!
//! ```text
//! "GHS2"
//! strings:   count, then per string: length, UTF-8 bytes
//! tags:      count, then per tag: web ACL, action, label count, labels
//! counts:    count, first second (zigzag), length in bytes, then per row,
//!            by second: seconds since the previous row, ip, uri, method,
//!            country, tag, requests
//! forwarded: count, first second (zigzag), length in bytes, then per row,
//!            by second: seconds since the previous row, header, address,
//!            uri, method, country, tag, requests
//! ```
//!
//! Strings are referred to by their index, tags by theirs. Segments
//! written before tags existed ("GHS1": no tag table, no tag field) still
//! read, as one tag that knows nothing: web ACL, action and labels
//! unknown. Pure, no I/O; a damaged value is an error, never a panic.

use foldhash::HashMap as FastMap;

const MAGIC: &[u8; 4] = b"GHS2";
const MAGIC_UNTAGGED: &[u8; 4] = b"GHS1";
const BUCKETS_MAGIC: &[u8; 4] = b"GHB2";
const BUCKETS_MAGIC_UNTAGGED: &[u8; 4] = b"GHB1";

/// No such string: WAF resolved no country, the log named no web ACL or
/// action.
pub const NONE: u32 = u32::MAX;
/// No country: WAF could not resolve one.
pub const NO_COUNTRY: u32 = NONE;

/// Strings numbered in the order they are first seen: a segment's string
/// table, and the keys of an analysis.
#[derive(Default)]
pub struct Interner {
    ids: FastMap<Box<str>, u32>,
    strings: Vec<Box<str>>,
}

impl Interner {
    pub fn id(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(text.into());
        self.ids.insert(text.into(), id);
        id
    }

    pub fn strings(&self) -> &[Box<str>] {
        &self.strings
    }
}

/// What WAF said of a request besides the request: strings of the
/// segment's table, [`NONE`] when the log did not say.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    /// The web ACL's ARN (`webaclId`).
    pub web_acl: u32,
    /// `action`: ALLOW, BLOCK, COUNT, CAPTCHA, CHALLENGE.
    pub action: u32,
    /// `labels[].name`, sorted, without repeats.
    pub labels: Vec<u32>,
}

impl Tag {
    /// What a segment from before tags knows: nothing.
    pub fn unknown() -> Tag {
        Tag {
            web_acl: NONE,
            action: NONE,
            labels: Vec::new(),
        }
    }
}

/// Requests in one second from one client IP to one URI with one method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Count {
    pub second: i64,
    pub ip: u32,
    pub uri: u32,
    pub method: u32,
    /// [`NO_COUNTRY`] when WAF resolved none.
    pub country: u32,
    /// An index into the segment's tags.
    pub tag: u32,
    pub requests: u32,
}

/// Requests in one second whose forwarded-IP `header` (lower case) starts
/// with `address`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Forwarded {
    pub second: i64,
    pub header: u32,
    pub address: u32,
    pub uri: u32,
    pub method: u32,
    pub country: u32,
    pub tag: u32,
    pub requests: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a stored traffic segment is damaged: {0}")]
pub struct Damaged(&'static str);

/// What a field of a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// An index into the strings.
    Text,
    /// The same or none, stored plus one.
    MaybeText,
    /// An index into the tags.
    Tag,
    /// A number.
    Number,
}

use Field::{MaybeText, Number, Tag as TagField, Text};

const COUNT_FIELDS: &[Field] = &[Text, Text, Text, MaybeText, TagField, Number];
const FORWARDED_FIELDS: &[Field] = &[Text, Text, Text, Text, MaybeText, TagField, Number];
const UNTAGGED_COUNT_FIELDS: &[Field] = &[Text, Text, Text, MaybeText, Number];
const UNTAGGED_FORWARDED_FIELDS: &[Field] = &[Text, Text, Text, Text, MaybeText, Number];
const BUCKET_FIELDS: &[Field] = &[Text, MaybeText, Number];
const UNTAGGED_BUCKET_FIELDS: &[Field] = &[Text, Number];
/// The most fields a row has.
const MAX_FIELDS: usize = 7;

/// Packs counts; `strings` are what their indexes refer to, `tags` what
/// theirs do. Sorts the rows.
pub fn encode(
    strings: &[&str],
    tags: &[Tag],
    counts: &mut [Count],
    forwarded: &mut [Forwarded],
) -> Vec<u8> {
    counts.sort_unstable_by_key(|c| c.second);
    forwarded.sort_unstable_by_key(|f| f.second);
    let mut out = Vec::with_capacity(16 + counts.len() * 8 + forwarded.len() * 10);
    out.extend_from_slice(MAGIC);
    put_strings(&mut out, strings);
    put(&mut out, tags.len() as u64);
    for tag in tags {
        put(&mut out, u64::from(maybe(tag.web_acl)));
        put(&mut out, u64::from(maybe(tag.action)));
        put(&mut out, tag.labels.len() as u64);
        for &label in &tag.labels {
            put(&mut out, u64::from(label));
        }
    }
    put_table(
        &mut out,
        counts.iter().map(|c| {
            let country = maybe(c.country);
            (
                c.second,
                [c.ip, c.uri, c.method, country, c.tag, c.requests],
            )
        }),
    );
    put_table(
        &mut out,
        forwarded.iter().map(|f| {
            let country = maybe(f.country);
            (
                f.second,
                [
                    f.header, f.address, f.uri, f.method, country, f.tag, f.requests,
                ],
            )
        }),
    );
    out
}

/// Requests of one client IP to one web ACL in one 10-second bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct IpBucket {
    pub bucket: i64,
    pub ip: u32,
    /// [`NONE`] when the log named none.
    pub web_acl: u32,
    pub requests: u32,
}

/// Packs the same counts summed per client IP, web ACL and 10-second
/// bucket: what an analysis by IP without filters (but a web ACL's) reads,
/// a fraction of the rows. `strings` are the client IPs and web ACLs.
/// Sorts the rows.
pub fn encode_ip_buckets(strings: &[&str], rows: &mut [IpBucket]) -> Vec<u8> {
    rows.sort_unstable_by_key(|r| r.bucket);
    let mut out = Vec::with_capacity(16 + rows.len() * 5);
    out.extend_from_slice(BUCKETS_MAGIC);
    put_strings(&mut out, strings);
    put_table(
        &mut out,
        rows.iter()
            .map(|r| (r.bucket, [r.ip, maybe(r.web_acl), r.requests])),
    );
    out
}

fn put_strings(out: &mut Vec<u8>, strings: &[&str]) {
    put(out, strings.len() as u64);
    for s in strings {
        put(out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }
}

/// A table: its rows' count, first key (zigzag), length in bytes, then
/// the rows, each the key's increase over the previous row and the fields.
/// Rows must come in order of key.
fn put_table<const N: usize>(
    out: &mut Vec<u8>,
    rows: impl ExactSizeIterator<Item = (i64, [u32; N])>,
) {
    let len = rows.len();
    let mut packed = Vec::with_capacity(len * (N + 1));
    let mut first: Option<i64> = None;
    let mut previous = 0;
    for (key, fields) in rows {
        if first.is_none() {
            first = Some(key);
            previous = key;
        }
        put(&mut packed, (key - previous) as u64);
        previous = key;
        for field in fields {
            put(&mut packed, u64::from(field));
        }
    }
    put(out, len as u64);
    put(out, zigzag(first.unwrap_or(0)));
    put(out, packed.len() as u64);
    out.extend_from_slice(&packed);
}

fn read_strings<'a>(reader: &mut Reader<'a>) -> Result<Vec<&'a str>, Damaged> {
    let n = reader.length()?;
    let mut strings = Vec::with_capacity(n);
    for _ in 0..n {
        let len = reader.length()?;
        let bytes = reader.take(len)?;
        strings.push(std::str::from_utf8(bytes).map_err(|_| Damaged("a string is not UTF-8"))?);
    }
    Ok(strings)
}

fn read_tags(reader: &mut Reader<'_>, strings: usize) -> Result<Vec<Tag>, Damaged> {
    let n = reader.length()?;
    let mut tags = Vec::with_capacity(n);
    let string = |value: u64, optional: bool| {
        let value = u32::try_from(value).map_err(|_| Damaged("a field out of range"))?;
        let value = match optional {
            true => value.checked_sub(1).unwrap_or(NONE),
            false => value,
        };
        match value == NONE && optional || (value as usize) < strings {
            true => Ok(value),
            false => Err(Damaged("a string index out of range")),
        }
    };
    for _ in 0..n {
        let web_acl = string(reader.varint()?, true)?;
        let action = string(reader.varint()?, true)?;
        let count = reader.length()?;
        let labels = (0..count)
            .map(|_| string(reader.varint()?, false))
            .collect::<Result<Vec<u32>, Damaged>>()?;
        tags.push(Tag {
            web_acl,
            action,
            labels,
        });
    }
    Ok(tags)
}

/// Per-IP buckets read back, borrowing from their bytes.
#[derive(Debug, Clone)]
pub struct IpBuckets<'a> {
    pub strings: Vec<&'a str>,
    rows: Rows<'a>,
}

impl<'a> IpBuckets<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Self, Damaged> {
        let (rest, fields) = if let Some(rest) = bytes.strip_prefix(BUCKETS_MAGIC) {
            (rest, BUCKET_FIELDS)
        } else if let Some(rest) = bytes.strip_prefix(BUCKETS_MAGIC_UNTAGGED) {
            (rest, UNTAGGED_BUCKET_FIELDS)
        } else {
            return Err(Damaged("unknown format"));
        };
        let mut reader = Reader(rest);
        let strings = read_strings(&mut reader)?;
        let rows = Rows::read(&mut reader, fields, strings.len(), 0)?;
        if !reader.0.is_empty() {
            return Err(Damaged("bytes after the end"));
        }
        Ok(IpBuckets { strings, rows })
    }

    /// Calls `row` for every bucket, in order.
    pub fn each(&self, mut row: impl FnMut(IpBucket)) -> Result<(), Damaged> {
        let tagged = self.rows.fields.len() == BUCKET_FIELDS.len();
        self.rows.each(|bucket, f| {
            row(match tagged {
                true => IpBucket {
                    bucket,
                    ip: f[0],
                    web_acl: f[1],
                    requests: f[2],
                },
                false => IpBucket {
                    bucket,
                    ip: f[0],
                    web_acl: NONE,
                    requests: f[1],
                },
            })
        })
    }
}

/// A segment read back, borrowing from its bytes. Rows are decoded as they
/// are iterated.
#[derive(Debug, Clone)]
pub struct Segment<'a> {
    pub strings: Vec<&'a str>,
    pub tags: Vec<Tag>,
    counts: Rows<'a>,
    forwarded: Rows<'a>,
}

impl<'a> Segment<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Self, Damaged> {
        let tagged = bytes.starts_with(MAGIC);
        if !tagged && !bytes.starts_with(MAGIC_UNTAGGED) {
            return Err(Damaged("unknown format"));
        }
        let mut reader = Reader(&bytes[4..]);
        let strings = read_strings(&mut reader)?;
        let tags = match tagged {
            true => read_tags(&mut reader, strings.len())?,
            false => vec![Tag::unknown()],
        };
        let (count_fields, forwarded_fields) = match tagged {
            true => (COUNT_FIELDS, FORWARDED_FIELDS),
            false => (UNTAGGED_COUNT_FIELDS, UNTAGGED_FORWARDED_FIELDS),
        };
        let counts = Rows::read(&mut reader, count_fields, strings.len(), tags.len())?;
        let forwarded = Rows::read(&mut reader, forwarded_fields, strings.len(), tags.len())?;
        if !reader.0.is_empty() {
            return Err(Damaged("bytes after the end"));
        }
        Ok(Segment {
            strings,
            tags,
            counts,
            forwarded,
        })
    }

    /// Calls `row` for every count, in order of second.
    pub fn each_count(&self, mut row: impl FnMut(Count)) -> Result<(), Damaged> {
        let tagged = self.counts.fields.len() == COUNT_FIELDS.len();
        self.counts.each(|second, f| {
            let (tag, requests) = match tagged {
                true => (f[4], f[5]),
                false => (0, f[4]),
            };
            row(Count {
                second,
                ip: f[0],
                uri: f[1],
                method: f[2],
                country: f[3],
                tag,
                requests,
            })
        })
    }

    /// Calls `row` for every forwarded-IP count, in order of second.
    pub fn each_forwarded(&self, mut row: impl FnMut(Forwarded)) -> Result<(), Damaged> {
        let tagged = self.forwarded.fields.len() == FORWARDED_FIELDS.len();
        self.forwarded.each(|second, f| {
            let (tag, requests) = match tagged {
                true => (f[5], f[6]),
                false => (0, f[5]),
            };
            row(Forwarded {
                second,
                header: f[0],
                address: f[1],
                uri: f[2],
                method: f[3],
                country: f[4],
                tag,
                requests,
            })
        })
    }
}

/// One table of rows, still packed.
#[derive(Debug, Clone)]
struct Rows<'a> {
    len: usize,
    first: i64,
    fields: &'static [Field],
    strings: usize,
    tags: usize,
    bytes: &'a [u8],
}

impl<'a> Rows<'a> {
    /// Reads the header of a table and steps over its rows, which are
    /// checked as they are decoded.
    fn read(
        reader: &mut Reader<'a>,
        fields: &'static [Field],
        strings: usize,
        tags: usize,
    ) -> Result<Self, Damaged> {
        let len = reader.length()?;
        let first = unzigzag(reader.varint()?);
        let size = reader.length()?;
        Ok(Rows {
            len,
            first,
            fields,
            strings,
            tags,
            bytes: reader.take(size)?,
        })
    }

    fn each(&self, mut row: impl FnMut(i64, &[u32; MAX_FIELDS])) -> Result<(), Damaged> {
        let mut reader = Reader(self.bytes);
        let mut key = self.first;
        let mut values = [0u32; MAX_FIELDS];
        for _ in 0..self.len {
            key = key
                .checked_add_unsigned(reader.varint()?)
                .ok_or(Damaged("a second out of range"))?;
            for (value, field) in values.iter_mut().zip(self.fields) {
                let read =
                    u32::try_from(reader.varint()?).map_err(|_| Damaged("a field out of range"))?;
                *value = match field {
                    MaybeText => read.checked_sub(1).unwrap_or(NONE),
                    _ => read,
                };
                let fits = match field {
                    Text => (*value as usize) < self.strings,
                    MaybeText => *value == NONE || (*value as usize) < self.strings,
                    TagField => (*value as usize) < self.tags,
                    Number => true,
                };
                if !fits {
                    return Err(Damaged("an index out of range"));
                }
            }
            row(key, &values);
        }
        match reader.0.is_empty() {
            true => Ok(()),
            false => Err(Damaged("bytes after the last row")),
        }
    }
}

/// An optional string index as stored: plus one, 0 for none.
fn maybe(index: u32) -> u32 {
    if index == NONE { 0 } else { index + 1 }
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

fn put(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, Damaged> {
        let mut value = 0u64;
        for (i, &byte) in self.0.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                self.0 = &self.0[i + 1..];
                return Ok(value);
            }
        }
        Err(Damaged("a number runs past the end"))
    }

    /// A count or length, which cannot exceed the bytes left.
    fn length(&mut self) -> Result<usize, Damaged> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.0.len())
            .ok_or(Damaged("a length past the end"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Damaged> {
        if n > self.0.len() {
            return Err(Damaged("a string runs past the end"));
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn count(second: i64, ip: u32, country: u32, requests: u32) -> Count {
        Count {
            second,
            ip,
            uri: 1,
            method: 2,
            country,
            tag: 0,
            requests,
        }
    }

    fn tags() -> Vec<Tag> {
        vec![
            Tag::unknown(),
            Tag {
                web_acl: 5,
                action: 6,
                labels: vec![7],
            },
        ]
    }

    fn decoded(bytes: &[u8]) -> (Vec<String>, Vec<Tag>, Vec<Count>, Vec<Forwarded>) {
        let segment = Segment::decode(bytes).unwrap();
        let mut counts = Vec::new();
        segment.each_count(|c| counts.push(c)).unwrap();
        let mut forwarded = Vec::new();
        segment.each_forwarded(|f| forwarded.push(f)).unwrap();
        let strings = segment.strings.iter().map(|s| s.to_string()).collect();
        (strings, segment.tags, counts, forwarded)
    }

    #[test]
    fn rows_come_back_by_second_with_their_strings_and_tags() {
        let strings = [
            "192.0.2.1",
            "/login",
            "POST",
            "DE",
            "x-forwarded-for",
            "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/shop/1",
            "BLOCK",
            "awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList",
        ];
        let mut counts = vec![
            count(1_795_305_601, 0, 3, 2),
            count(-5, 0, NO_COUNTRY, 1),
            Count {
                tag: 1,
                ..count(1_795_305_600, 0, 3, 70_000)
            },
        ];
        let mut forwarded = vec![Forwarded {
            second: 7,
            header: 4,
            address: 0,
            uri: 1,
            method: 2,
            country: NO_COUNTRY,
            tag: 1,
            requests: 3,
        }];
        let bytes = encode(&strings, &tags(), &mut counts, &mut forwarded);
        let (back, tags_back, rows, fwd) = decoded(&bytes);
        assert_eq!(back, strings);
        assert_eq!(tags_back, tags());
        assert_eq!(
            rows,
            [
                count(-5, 0, NO_COUNTRY, 1),
                Count {
                    tag: 1,
                    ..count(1_795_305_600, 0, 3, 70_000)
                },
                count(1_795_305_601, 0, 3, 2)
            ]
        );
        assert_eq!(fwd, forwarded);
    }

    /// A segment as the import wrote it before tags: "GHS1", no tag table,
    /// rows without a tag field.
    #[test]
    fn segments_from_before_tags_read_as_unknown() {
        let mut old = b"GHS1".to_vec();
        put_strings(&mut old, &["192.0.2.1", "/", "GET"]);
        put_table(&mut old, [(100, [0, 1, 2, 0, 4])].into_iter());
        put_table(&mut old, std::iter::empty::<(i64, [u32; 6])>());
        let (strings, tags, rows, forwarded) = decoded(&old);
        assert_eq!(strings, ["192.0.2.1", "/", "GET"]);
        assert_eq!(tags, [Tag::unknown()]);
        assert_eq!(
            rows,
            [Count {
                second: 100,
                ip: 0,
                uri: 1,
                method: 2,
                country: NO_COUNTRY,
                tag: 0,
                requests: 4
            }]
        );
        assert!(forwarded.is_empty());
        let mut old_buckets = b"GHB1".to_vec();
        put_strings(&mut old_buckets, &["192.0.2.1"]);
        put_table(&mut old_buckets, [(10, [0, 4])].into_iter());
        let mut read = Vec::new();
        IpBuckets::decode(&old_buckets)
            .unwrap()
            .each(|r| read.push(r))
            .unwrap();
        assert_eq!(
            read,
            [IpBucket {
                bucket: 10,
                ip: 0,
                web_acl: NONE,
                requests: 4
            }]
        );
    }

    #[test]
    fn ip_buckets_come_back_in_order() {
        let bucket = |bucket, ip, web_acl, requests| IpBucket {
            bucket,
            ip,
            web_acl,
            requests,
        };
        let mut rows = vec![
            bucket(179_530_561, 1, 2, 3),
            bucket(179_530_560, 0, NONE, 70_000),
            bucket(179_530_560, 1, 2, 1),
        ];
        let bytes = encode_ip_buckets(&["192.0.2.1", "X.X.X.X", "arn:web-acl"], &mut rows);
        let back = IpBuckets::decode(&bytes).unwrap();
        assert_eq!(back.strings, ["192.0.2.1", "X.X.X.X", "arn:web-acl"]);
        let mut read = Vec::new();
        back.each(|r| read.push(r)).unwrap();
        assert_eq!(read, rows, "sorted by bucket on the way in");
        assert!(read.windows(2).all(|w| w[0].bucket <= w[1].bucket));
        assert!(IpBuckets::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(Segment::decode(&bytes).is_err(), "not a segment");
    }

    #[test]
    fn damage_is_an_error() {
        let mut counts = vec![count(10, 0, 0, 1)];
        let bytes = encode(&["a"], &[Tag::unknown()], &mut counts, &mut []);
        assert!(Segment::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(Segment::decode(b"GHS3").is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Segment::decode(&longer).is_err());
        // A string index past the table.
        let mut bad = vec![count(10, 5, 0, 1)];
        let bytes = encode(&["a"], &[Tag::unknown()], &mut bad, &mut []);
        let segment = Segment::decode(&bytes).unwrap();
        assert!(segment.each_count(|_| {}).is_err());
        // A tag index past the tags.
        let mut bad = vec![Count {
            tag: 1,
            ..count(10, 0, 0, 1)
        }];
        let bytes = encode(&["a"], &[Tag::unknown()], &mut bad, &mut []);
        assert!(Segment::decode(&bytes).unwrap().each_count(|_| {}).is_err());
        // A tag naming a string past the table.
        let tag = Tag {
            labels: vec![3],
            ..Tag::unknown()
        };
        assert!(Segment::decode(&encode(&["a"], &[tag], &mut [], &mut [])).is_err());
    }

    fn arbitrary_count() -> impl Strategy<Value = Count> {
        (
            any::<i32>(),
            0u32..4,
            0u32..4,
            0u32..4,
            prop_oneof![Just(NO_COUNTRY), 0u32..4],
            0u32..2,
            1u32..,
        )
            .prop_map(|(second, ip, uri, method, country, tag, requests)| Count {
                second: i64::from(second),
                ip,
                uri,
                method,
                country,
                tag,
                requests,
            })
    }

    proptest! {
        #[test]
        fn what_is_encoded_decodes_the_same(mut counts in prop::collection::vec(arbitrary_count(), 0..50)) {
            let strings = ["a", "b", "ü", "", "e", "f", "g", "h"];
            let bytes = encode(&strings, &tags(), &mut counts, &mut []);
            let (_, _, back, _) = decoded(&bytes);
            let mut expected = counts.clone();
            expected.sort_by_key(|c| c.second);
            prop_assert_eq!(back.iter().map(|c| c.second).collect::<Vec<_>>(), expected.iter().map(|c| c.second).collect::<Vec<_>>());
            let mut back = back;
            back.sort();
            expected.sort();
            prop_assert_eq!(back, expected);
        }

        #[test]
        fn any_bytes_decode_or_fail_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            for magic in [MAGIC, MAGIC_UNTAGGED] {
                let mut with_magic = magic.to_vec();
                with_magic.extend_from_slice(&bytes);
                for input in [&bytes[..], &with_magic[..]] {
                    if let Ok(segment) = Segment::decode(input) {
                        let _ = segment.each_count(|_| {});
                        let _ = segment.each_forwarded(|_| {});
                    }
                }
            }
        }
    }
}
