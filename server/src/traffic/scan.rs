//! Counting records per second and per key while a file is read, and
//! writing the counts as `COPY` text rows.
//!
//! Strings are interned so that a flood of the same address and URI costs
//! one map entry per second, not one allocation per request.

use super::import::{Batch, FileStats};
use super::record::{RecordView, first_address};
use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;

/// Per second: (client IP, URI, method, country) → requests.
type CountKey = (i64, u32, u32, u32, u32);
/// Per second: (header, forwarded IP, URI, method, country) → requests.
type ForwardedKey = (i64, u32, u32, u32, u32, u32);

/// No country: WAF could not resolve one.
const NONE: u32 = u32::MAX;

pub struct Scanner {
    file_id: i64,
    strings: Interner,
    counts: HashMap<CountKey, u32>,
    forwarded: HashMap<ForwardedKey, u32>,
    lower: String,
}

impl Scanner {
    pub fn new(file_id: i64) -> Self {
        Scanner {
            file_id,
            strings: Interner::default(),
            counts: HashMap::new(),
            forwarded: HashMap::new(),
            lower: String::new(),
        }
    }

    /// Entries held, to decide when to write them out.
    pub fn len(&self) -> usize {
        self.counts.len() + self.forwarded.len()
    }

    pub fn add(&mut self, record: &RecordView<'_>, stats: &mut FileStats) {
        stats.count(record);
        let second = record.timestamp_ms.div_euclid(1000);
        let ip = self.strings.id(record.client_ip);
        let uri = self.strings.id(record.uri);
        let method = self.strings.id(record.method);
        let country = record.country.map_or(NONE, |c| self.strings.id(c));
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

    /// The counts so far as COPY rows; the scanner starts afresh.
    pub fn take(&mut self) -> Batch {
        let mut counts = Vec::with_capacity(self.counts.len() * 48);
        for (&(second, ip, uri, method, country), &requests) in &self.counts {
            let _ = write!(counts, "{}\t{second}\t", self.file_id);
            self.row(&mut counts, &[ip, uri, method, country], requests);
        }
        let mut forwarded = Vec::with_capacity(self.forwarded.len() * 64);
        for (&(second, header, address, uri, method, country), &requests) in &self.forwarded {
            let _ = write!(forwarded, "{}\t{second}\t", self.file_id);
            self.row(
                &mut forwarded,
                &[header, address, uri, method, country],
                requests,
            );
        }
        self.counts.clear();
        self.forwarded.clear();
        self.strings = Interner::default();
        Batch { counts, forwarded }
    }

    fn row(&self, out: &mut Vec<u8>, fields: &[u32], requests: u32) {
        for &field in fields {
            match field {
                NONE => out.extend_from_slice(b"\\N"),
                id => escape_into(out, self.strings.get(id)),
            }
            out.push(b'\t');
        }
        let _ = writeln!(out, "{requests}");
    }
}

/// An address as the analyses key it: its canonical text, so that
/// `2001:DB8::1` and `2001:db8::1` are one key.
fn address_text(address: IpAddr) -> String {
    address.to_string()
}

#[derive(Default)]
struct Interner {
    ids: HashMap<Box<str>, u32>,
    strings: Vec<Box<str>>,
}

impl Interner {
    fn id(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(text.into());
        self.ids.insert(text.into(), id);
        id
    }

    fn get(&self, id: u32) -> &str {
        self.strings.get(id as usize).map_or("", |s| s)
    }
}

/// COPY text format: backslash, tab, newline and carriage return escaped.
fn escape_into(out: &mut Vec<u8>, text: &str) {
    for &byte in text.as_bytes() {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(byte),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_would_end_a_field_or_row() {
        let mut out = Vec::new();
        escape_into(&mut out, "/a\tb\nc\\d\re");
        assert_eq!(out, b"/a\\tb\\nc\\\\d\\re");
    }

    #[test]
    fn requests_of_one_second_and_key_make_one_row() {
        let line = |ms: i64, ip: &str| {
            format!(
                r#"{{"timestamp":{ms},"httpRequest":{{"clientIp":"{ip}","country":"DE","uri":"/login","httpMethod":"POST","headers":[{{"name":"X-Forwarded-For","value":"198.51.100.7, 10.0.0.1"}},{{"name":"Host","value":"a"}}]}}}}"#
            )
        };
        let mut scanner = Scanner::new(9);
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
        let mut counts: Vec<_> = std::str::from_utf8(&batch.counts)
            .unwrap()
            .lines()
            .collect();
        counts.sort();
        assert_eq!(
            counts,
            [
                "9\t1\t192.0.2.1\t/login\tPOST\tDE\t2",
                "9\t1\tX.X.X.X\t/login\tPOST\tDE\t1",
                "9\t2\t192.0.2.1\t/login\tPOST\tDE\t1",
            ]
        );
        let mut forwarded: Vec<_> = std::str::from_utf8(&batch.forwarded)
            .unwrap()
            .lines()
            .collect();
        forwarded.sort();
        assert_eq!(
            forwarded,
            [
                "9\t1\tx-forwarded-for\t198.51.100.7\t/login\tPOST\tDE\t3",
                "9\t2\tx-forwarded-for\t198.51.100.7\t/login\tPOST\tDE\t1",
            ]
        );
        assert_eq!(scanner.len(), 0, "taken");
    }
}
