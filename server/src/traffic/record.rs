//! One AWS WAF log record: the parts the traffic analyses use, read from one
//! line of a log file.
//!
//! A line is either a WAF record as WAF delivers it to S3 or through
//! Firehose, or a CloudWatch Logs export line that carries the record as a
//! JSON string in `message`. Fields the analyses do not use are ignored, so
//! newer log formats keep working. A line that is not a record says why,
//! so the import can report it with its file and line number.

use super::json::{self, Json};
use std::borrow::Cow;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Milliseconds since the Unix epoch, as WAF writes it.
    pub timestamp_ms: i64,
    /// As logged. Some exports redact it (`X.X.X.X`); such values are kept
    /// as keys and flagged by `client_ip_is_address`.
    pub client_ip: String,
    pub client_ip_is_address: bool,
    /// ISO 3166-1 alpha-2, when WAF resolved one.
    pub country: Option<String>,
    pub method: String,
    pub uri: String,
    /// The headers whose value begins with an IP address (`X-Forwarded-For`
    /// and the like), as (name, value): the only headers the counts use.
    pub headers: Vec<(String, String)>,
}

/// Why a line is not a WAF record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("empty line")]
    Empty,
    #[error("not JSON: {0}")]
    Json(String),
    #[error("not a WAF log record: {0}")]
    NotWafRecord(String),
}

impl Record {
    /// The first address in header `name` (matched case-insensitively), as
    /// a rate-based rule keyed on `FORWARDED_IP` reads it. `None` when the
    /// header is missing or its first value is not an IP address: such
    /// requests are left out, as WAF leaves them out.
    pub fn forwarded_ip(&self, name: &str) -> Option<IpAddr> {
        let (_, value) = self
            .headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))?;
        first_address(value)
    }
}

/// The first address of a forwarded-IP header's value, if it is one.
pub fn first_address(value: &str) -> Option<IpAddr> {
    let text = value.trim_start();
    // Most header values (hosts, user agents, media types) are not
    // addresses: they end the run of address characters within a letter
    // or two, before the parser is asked.
    let end = text
        .bytes()
        .position(|b| !(b.is_ascii_hexdigit() || b == b'.' || b == b':'))
        .unwrap_or(text.len());
    let (first, rest) = text.split_at(end);
    // Only blanks may stand between the address and the next comma.
    let alone = || rest.split(',').next().is_some_and(|r| r.trim().is_empty());
    (end > 0 && end <= 45 && alone())
        .then(|| first.parse().ok())
        .flatten()
}

/// A record as read, borrowing from its line: what the import keeps of it.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    pub timestamp_ms: i64,
    pub client_ip: &'a str,
    pub country: Option<&'a str>,
    pub method: &'a str,
    pub uri: &'a str,
    /// `webaclId`: the web ACL's ARN, when the log names it.
    pub web_acl: Option<&'a str>,
    /// `action`: ALLOW, BLOCK, COUNT, CAPTCHA or CHALLENGE.
    pub action: Option<&'a str>,
    headers: &'a [KeptHeader<'a>],
    labels: &'a [Cow<'a, str>],
}

/// A header whose value begins with an IP address: (name, value, that
/// address), the address parsed once, when the line is read.
type KeptHeader<'a> = (Cow<'a, str>, Cow<'a, str>, IpAddr);

impl<'a> RecordView<'a> {
    /// The headers whose value begins with an IP address, as (name, value),
    /// in the order WAF logged them: the counts use no others (they key
    /// forwarded-IP rules).
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.headers
            .iter()
            .map(|(n, v, _)| (n.as_ref(), v.as_ref()))
    }

    /// The same headers as (name, the value's first address).
    pub fn addresses(&self) -> impl Iterator<Item = (&'a str, IpAddr)> + 'a {
        self.headers.iter().map(|(n, _, a)| (n.as_ref(), *a))
    }

    /// `labels[].name`, in the order WAF logged them.
    pub fn labels(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.labels.iter().map(|l| l.as_ref())
    }
}

/// The members of a line the import reads; the others are read past
/// (see [`Json`]), so newer log formats keep working.
#[derive(Default)]
struct WafLine<'a> {
    timestamp: Option<i64>,
    webacl_id: Option<Cow<'a, str>>,
    action: Option<Cow<'a, str>>,
    labels: Vec<Cow<'a, str>>,
    http_request: Option<HttpRequest<'a>>,
    /// CloudWatch Logs export: the record is the `message` string.
    message: Option<Cow<'a, str>>,
    log_stream_name: Option<Cow<'a, str>>,
}

#[derive(Default)]
struct HttpRequest<'a> {
    client_ip: Option<Cow<'a, str>>,
    country: Option<Cow<'a, str>>,
    /// Only the headers whose value begins with an IP address: host, user
    /// agent, cookies and the rest are read past without being kept.
    headers: Vec<KeptHeader<'a>>,
    uri: Option<Cow<'a, str>>,
    http_method: Option<Cow<'a, str>>,
}

/// `null`, or what `read` reads.
fn nullable<'a, T>(
    json: &mut Json<'a>,
    read: impl FnOnce(&mut Json<'a>) -> json::Result<T>,
) -> json::Result<Option<T>> {
    match json.null()? {
        true => Ok(None),
        false => read(json).map(Some),
    }
}

impl<'a> WafLine<'a> {
    fn read(text: &'a str) -> json::Result<Self> {
        let mut json = Json::new(text);
        let mut line = WafLine::default();
        json.object(|json, name| {
            match name {
                "timestamp" => line.timestamp = nullable(json, Json::integer)?,
                "webaclId" => line.webacl_id = nullable(json, Json::string)?,
                "action" => line.action = nullable(json, Json::string)?,
                "labels" => json.array(|json| {
                    let mut name = None;
                    json.object(|json, member| match member {
                        "name" => {
                            name = Some(json.string()?);
                            Ok(())
                        }
                        _ => json.skip(),
                    })?;
                    line.labels
                        .push(name.ok_or_else(|| json.error("a label without a name"))?);
                    Ok(())
                })?,
                "httpRequest" => line.http_request = nullable(json, HttpRequest::read)?,
                "message" => line.message = nullable(json, Json::string)?,
                "logStreamName" => line.log_stream_name = nullable(json, Json::string)?,
                _ => json.skip()?,
            }
            Ok(())
        })?;
        json.end()?;
        Ok(line)
    }
}

impl<'a> HttpRequest<'a> {
    fn read(json: &mut Json<'a>) -> json::Result<Self> {
        let mut request = HttpRequest::default();
        json.object(|json, name| {
            match name {
                "clientIp" => request.client_ip = nullable(json, Json::string)?,
                "country" => request.country = nullable(json, Json::string)?,
                "uri" => request.uri = nullable(json, Json::string)?,
                "httpMethod" => request.http_method = nullable(json, Json::string)?,
                "headers" => json.array(|json| {
                    let (mut name, mut value) = (None, Cow::Borrowed(""));
                    json.object(|json, member| match member {
                        "name" => {
                            name = Some(json.string()?);
                            Ok(())
                        }
                        "value" => {
                            value = json.string()?;
                            Ok(())
                        }
                        _ => json.skip(),
                    })?;
                    let name = name.ok_or_else(|| json.error("a header without a name"))?;
                    if let Some(address) = first_address(&value) {
                        request.headers.push((name, value, address));
                    }
                    Ok(())
                })?,
                _ => json.skip()?,
            }
            Ok(())
        })?;
        Ok(request)
    }
}

/// Reads one line of a WAF log file and hands the record to `use_record`.
/// (A callback, because a CloudWatch line's record borrows from a string
/// that lives only while the line is read.)
pub fn read_line<R>(
    line: &str,
    use_record: impl FnOnce(RecordView<'_>) -> R,
) -> Result<R, LineError> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return Err(LineError::Empty);
    }
    let outer = WafLine::read(line).map_err(|e| LineError::Json(e.to_string()))?;
    match (outer.log_stream_name.is_some(), &outer.message) {
        (true, Some(message)) => {
            let inner =
                WafLine::read(message).map_err(|e| LineError::Json(format!("message: {e}")))?;
            Ok(use_record(view_of(&inner)?))
        }
        (true, None) => Err(LineError::NotWafRecord(
            "CloudWatch Logs line without a message".into(),
        )),
        (false, _) => Ok(use_record(view_of(&outer)?)),
    }
}

/// Reads one line of a WAF log file into an owned record.
pub fn parse_line(line: &str) -> Result<Record, LineError> {
    read_line(line, |view| Record {
        timestamp_ms: view.timestamp_ms,
        client_ip: view.client_ip.to_owned(),
        client_ip_is_address: view.client_ip.parse::<IpAddr>().is_ok(),
        country: view.country.map(str::to_owned),
        method: view.method.to_owned(),
        uri: view.uri.to_owned(),
        headers: view
            .headers()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect(),
    })
}

fn view_of<'a>(waf: &'a WafLine<'a>) -> Result<RecordView<'a>, LineError> {
    let missing = |what: &str| LineError::NotWafRecord(format!("no {what}"));
    let timestamp_ms = waf.timestamp.ok_or_else(|| missing("timestamp"))?;
    let request = waf
        .http_request
        .as_ref()
        .ok_or_else(|| missing("httpRequest"))?;
    let client_ip = request
        .client_ip
        .as_deref()
        .ok_or_else(|| missing("httpRequest.clientIp"))?;
    let uri = request
        .uri
        .as_deref()
        .ok_or_else(|| missing("httpRequest.uri"))?;
    let method = request
        .http_method
        .as_deref()
        .ok_or_else(|| missing("httpRequest.httpMethod"))?;
    Ok(RecordView {
        timestamp_ms,
        client_ip,
        country: request
            .country
            .as_deref()
            .filter(|c| !c.is_empty() && *c != "-"),
        method,
        uri,
        web_acl: waf.webacl_id.as_deref().filter(|w| !w.is_empty()),
        action: waf.action.as_deref().filter(|a| !a.is_empty()),
        headers: &request.headers,
        labels: &waf.labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};

    const RECORD: &str = r#"{"timestamp":1682374606245,"formatVersion":1,"action":"BLOCK","httpRequest":{"clientIp":"203.0.113.9","country":"DE","headers":[{"name":"Host","value":"shop.example"},{"name":"x-forwarded-for","value":" 198.51.100.7, 10.0.0.1"}],"uri":"/login","args":"","httpVersion":"HTTP/1.1","httpMethod":"POST","requestId":"abc"},"labels":[{"name":"awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList"}]}"#;

    #[test]
    fn a_waf_record_reads_as_delivered_to_s3() {
        let record = parse_line(RECORD).unwrap();
        assert_eq!(record.timestamp_ms, 1_682_374_606_245);
        assert_eq!(record.client_ip, "203.0.113.9");
        assert!(record.client_ip_is_address);
        assert_eq!(record.country.as_deref(), Some("DE"));
        assert_eq!(
            (record.method.as_str(), record.uri.as_str()),
            ("POST", "/login")
        );
    }

    #[test]
    fn a_cloudwatch_export_line_carries_the_record_in_message() {
        let line = serde_json::json!({
            "logStreamName": "aws-waf-logs-shop_0",
            "timestamp": 1682374606300_i64,
            "message": RECORD,
        })
        .to_string();
        assert_eq!(parse_line(&line), parse_line(RECORD));
    }

    #[test]
    fn only_headers_that_begin_with_an_address_are_kept() {
        let record = parse_line(RECORD).unwrap();
        assert_eq!(
            record.headers,
            [("x-forwarded-for".into(), " 198.51.100.7, 10.0.0.1".into())]
        );
        assert!(
            matches!(
                parse_line(&RECORD.replace(r#""value":"shop.example""#, r#""value":7"#)),
                Err(LineError::Json(_))
            ),
            "a header read past is still read strictly"
        );
    }

    #[test]
    fn forwarded_ip_is_the_first_address_of_the_header_by_any_case() {
        let record = parse_line(RECORD).unwrap();
        let first: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(record.forwarded_ip("X-Forwarded-For"), Some(first));
        assert_eq!(
            record.forwarded_ip("True-Client-IP"),
            None,
            "missing header: left out"
        );
        let mut odd = record.clone();
        odd.headers = vec![("X-Forwarded-For".into(), "unknown, 198.51.100.7".into())];
        assert_eq!(
            odd.forwarded_ip("x-forwarded-for"),
            None,
            "not an address: left out"
        );
    }

    #[test]
    fn lines_that_are_not_records_say_why() {
        assert_eq!(parse_line("   "), Err(LineError::Empty));
        assert!(
            matches!(
                parse_line("{\"timestamp\": 1, \"httpRequ"),
                Err(LineError::Json(_))
            ),
            "truncated"
        );
        assert!(matches!(parse_line("not json"), Err(LineError::Json(_))));
        assert_eq!(
            parse_line("{\"hello\": 1}"),
            Err(LineError::NotWafRecord("no timestamp".into()))
        );
        assert_eq!(
            parse_line(r#"{"timestamp":1,"httpRequest":{"clientIp":"1.2.3.4","uri":"/"}}"#),
            Err(LineError::NotWafRecord("no httpRequest.httpMethod".into()))
        );
        assert!(
            matches!(
                parse_line(r#"{"timestamp":"soon","httpRequest":{}}"#),
                Err(LineError::Json(_))
            ),
            "wrong type"
        );
        assert!(matches!(parse_line("[1,2,3]"), Err(LineError::Json(_))));
        assert!(matches!(
            parse_line(r#"{"logStreamName":"s","message":"{not json"}"#),
            Err(LineError::Json(m)) if m.starts_with("message: ")
        ));
    }

    /// The real records in ../shared/fixtures: all read, and the six whose
    /// client IP was redacted are kept and flagged.
    #[test]
    fn every_record_of_the_shared_fixture_reads() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/fixtures/waf-logs/security-automations-cloudfront.jsonl.gz");
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let lines = BufReader::new(flate2::read::GzDecoder::new(file)).lines();
        let records: Vec<Record> = lines.map(|l| parse_line(&l.unwrap()).unwrap()).collect();
        assert_eq!(records.len(), 228);
        let redacted: Vec<_> = records.iter().filter(|r| !r.client_ip_is_address).collect();
        assert_eq!(redacted.len(), 6);
        assert!(redacted.iter().all(|r| r.client_ip == "X.X.X.X"));
        assert!(
            records
                .iter()
                .all(|r| r.timestamp_ms > 1_600_000_000_000 && r.uri.starts_with('/'))
        );
    }

    #[test]
    fn the_first_address_of_a_header_value() {
        let first = |value: &str| first_address(value).map(|a| a.to_string());
        assert_eq!(
            first(" 198.51.100.7, 10.0.0.1").as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(first("2001:DB8::1 ,x").as_deref(), Some("2001:db8::1"));
        assert_eq!(first("198.51.100.7"), first("198.51.100.7 "));
        for not in [
            "",
            "en-US,en;q=0.5",
            "unknown, 198.51.100.7",
            "198.51.100.7x",
            "1.2.3.4 5",
            "beef",
            ",",
        ] {
            assert_eq!(first(not), None, "{not}");
        }
    }

    proptest::proptest! {
        /// The same answer as taking the text before the first comma,
        /// trimmed, when it parses as an address.
        #[test]
        fn the_first_address_is_the_text_before_the_first_comma(value in "[ 0-9a-fA-F.:,x]{0,24}") {
            let expected = value.split(',').next().unwrap().trim().parse::<IpAddr>().ok();
            proptest::prop_assert_eq!(first_address(&value), expected);
        }

        #[test]
        fn any_text_is_read_or_refused_but_never_panics(line in ".{0,400}") {
            let _ = parse_line(&line);
        }

        #[test]
        fn any_damage_to_a_record_is_read_or_refused_but_never_panics(
            cut in 0usize..RECORD.len(),
            insert in ".{0,8}",
        ) {
            let mut damaged = RECORD.as_bytes()[..cut].to_vec();
            damaged.extend_from_slice(insert.as_bytes());
            damaged.extend_from_slice(&RECORD.as_bytes()[cut..]);
            let _ = parse_line(&String::from_utf8_lossy(&damaged));
        }
    }
}
