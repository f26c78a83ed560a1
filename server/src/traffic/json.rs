//! A JSON reader for one log line that hands over the values the import
//! asks for and reads past the others.
//!
//! A WAF record is mostly fields the counts never use (rule group lists,
//! match details, request ids, a dozen headers). A general parser builds
//! or visits every one of them; this reader walks past them with a check
//! of the JSON grammar only — strings closed, escapes and numbers well
//! formed, brackets matched, nesting bounded — so a damaged line is still
//! refused, with the column where it breaks, and nothing is allocated for
//! what is skipped. Strings without escapes are borrowed from the line.

use std::borrow::Cow;

/// Nesting deeper than this is refused (serde_json's limit too).
const MAX_DEPTH: usize = 128;

/// Where and why a line is not the JSON expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at column {column}")]
pub struct JsonError {
    pub what: &'static str,
    /// 1-based, in bytes.
    pub column: usize,
}

pub type Result<T> = std::result::Result<T, JsonError>;

pub struct Json<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

impl<'a> Json<'a> {
    pub fn new(text: &'a str) -> Self {
        Json {
            text,
            at: 0,
            depth: 0,
        }
    }

    /// Succeeds when only whitespace is left.
    pub fn end(mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("trailing characters")),
        }
    }

    pub fn error(&self, what: &'static str) -> JsonError {
        JsonError {
            what,
            column: self.at + 1,
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        let bytes = self.text.as_bytes();
        while let Some(&b) = bytes.get(self.at) {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => self.at += 1,
                _ => return Some(b),
            }
        }
        None
    }

    fn eat(&mut self, byte: u8, what: &'static str) -> Result<()> {
        match self.peek() {
            Some(b) if b == byte => {
                self.at += 1;
                Ok(())
            }
            Some(_) => Err(self.error(what)),
            None => Err(self.error("unexpected end of the line")),
        }
    }

    /// Reads `null` if it comes next: true when it did.
    pub fn null(&mut self) -> Result<bool> {
        match self.peek() {
            Some(b'n') => self.literal("null").map(|()| true),
            _ => Ok(false),
        }
    }

    fn literal(&mut self, word: &'static str) -> Result<()> {
        match self.text.as_bytes()[self.at..].starts_with(word.as_bytes()) {
            true => {
                self.at += word.len();
                Ok(())
            }
            false => Err(self.error("expected a value")),
        }
    }

    fn nested<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth == MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.depth += 1;
        let value = read(self);
        self.depth -= 1;
        value
    }

    /// Reads an object, handing each member's name to `member`, which
    /// must read (or skip) its value.
    pub fn object(&mut self, mut member: impl FnMut(&mut Self, &str) -> Result<()>) -> Result<()> {
        let expected = ["expected an object", "expected ',' or '}'"];
        self.sequence([b'{', b'}'], expected, |json| {
            if json.peek() != Some(b'"') {
                return Err(json.error("expected a member name"));
            }
            json.at += 1;
            let name = json.string_after_quote()?;
            json.eat(b':', "expected ':'")?;
            member(json, &name)
        })
    }

    /// Reads an array, calling `item` to read (or skip) each element.
    pub fn array(&mut self, item: impl FnMut(&mut Self) -> Result<()>) -> Result<()> {
        let expected = ["expected an array", "expected ',' or ']'"];
        self.sequence([b'[', b']'], expected, item)
    }

    /// Reads `open`, then what `item` reads, separated by commas, up to
    /// `close`; `expected` says what was wanted at the opening and after
    /// an item.
    fn sequence(
        &mut self,
        [open, close]: [u8; 2],
        expected: [&'static str; 2],
        mut item: impl FnMut(&mut Self) -> Result<()>,
    ) -> Result<()> {
        self.eat(open, expected[0])?;
        self.nested(|json| {
            if json.peek() == Some(close) {
                json.at += 1;
                return Ok(());
            }
            loop {
                item(json)?;
                match json.peek() {
                    Some(b',') => json.at += 1,
                    Some(b) if b == close => {
                        json.at += 1;
                        return Ok(());
                    }
                    Some(_) => return Err(json.error(expected[1])),
                    None => return Err(json.error("unexpected end of the line")),
                }
            }
        })
    }

    /// Reads a string: borrowed from the line unless it has escapes.
    pub fn string(&mut self) -> Result<Cow<'a, str>> {
        self.eat(b'"', "expected a string")?;
        self.string_after_quote()
    }

    fn string_after_quote(&mut self) -> Result<Cow<'a, str>> {
        let start = self.at;
        let bytes = self.text.as_bytes();
        self.at = special_from(bytes, start);
        match bytes.get(self.at) {
            Some(b'"') => {
                let text = &self.text[start..self.at];
                self.at += 1;
                return Ok(Cow::Borrowed(text));
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.error("control character in a string")),
            None => return Err(self.error("unexpected end of the line in a string")),
        }
        // Escapes: decode from here on into an owned string.
        let mut decoded = String::from(&self.text[start..self.at]);
        loop {
            let from = self.at;
            match bytes.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(Cow::Owned(decoded));
                }
                Some(b'\\') => {
                    self.at += 1;
                    decoded.push(self.escape()?);
                }
                Some(&b) if b < 0x20 => return Err(self.error("control character in a string")),
                Some(_) => {
                    self.at = special_from(bytes, from);
                    decoded.push_str(&self.text[from..self.at]);
                }
                None => return Err(self.error("unexpected end of the line in a string")),
            }
        }
    }

    /// The character an escape stands for, read after its backslash.
    fn escape(&mut self) -> Result<char> {
        let Some(&b) = self.text.as_bytes().get(self.at) else {
            return Err(self.error("unexpected end of the line in a string"));
        };
        self.at += 1;
        Ok(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        if !self.text.as_bytes()[self.at..].starts_with(b"\\u") {
                            return Err(self.error("lone leading surrogate in a \\u escape"));
                        }
                        self.at += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(self.error("lone leading surrogate in a \\u escape"));
                        }
                        let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))?
                    }
                    0xDC00..=0xDFFF => {
                        return Err(self.error("lone trailing surrogate in a \\u escape"));
                    }
                    _ => char::from_u32(unit).ok_or_else(|| self.error("invalid \\u escape"))?,
                }
            }
            _ => {
                self.at -= 1;
                return Err(self.error("invalid escape"));
            }
        })
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self
            .text
            .as_bytes()
            .get(self.at..self.at + 4)
            .ok_or_else(|| self.error("unexpected end of the line in a \\u escape"))?;
        let mut unit = 0;
        for &d in digits {
            let value = (d as char)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid \\u escape"))?;
            unit = unit * 16 + value;
        }
        self.at += 4;
        Ok(unit)
    }

    /// Reads a whole number that fits an i64; a fraction or an exponent is
    /// refused, as it is not a count of milliseconds.
    pub fn integer(&mut self) -> Result<i64> {
        let start = match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.at,
            _ => return Err(self.error("expected an integer")),
        };
        self.number()?;
        let bytes = &self.text.as_bytes()[start..self.at];
        let (negative, digits) = match bytes.split_first() {
            Some((b'-', digits)) => (true, digits),
            _ => (false, bytes),
        };
        let mut value: i64 = 0;
        for &d in digits {
            let digit = match d {
                b'0'..=b'9' => i64::from(d - b'0'),
                _ => {
                    self.at = start;
                    return Err(self.error("expected an integer"));
                }
            };
            // Accumulated as a negative number: i64::MIN has no positive twin.
            value = match value.checked_mul(10).and_then(|v| v.checked_sub(digit)) {
                Some(v) => v,
                None => {
                    self.at = start;
                    return Err(self.error("integer out of range"));
                }
            };
        }
        match negative {
            true => Ok(value),
            false => value.checked_neg().ok_or_else(|| {
                self.at = start;
                self.error("integer out of range")
            }),
        }
    }

    /// Reads past a number, checking its grammar.
    fn number(&mut self) -> Result<()> {
        let bytes = self.text.as_bytes();
        let digits = |at: &mut usize| {
            let from = *at;
            while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            *at > from
        };
        if bytes.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        match bytes.get(self.at) {
            Some(b'0') => {
                self.at += 1;
                if bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
                    return Err(self.error("invalid number"));
                }
            }
            Some(b'1'..=b'9') => {
                digits(&mut self.at);
            }
            _ => return Err(self.error("invalid number")),
        }
        if bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            if !digits(&mut self.at) {
                return Err(self.error("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = bytes.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = bytes.get(self.at) {
                self.at += 1;
            }
            if !digits(&mut self.at) {
                return Err(self.error("invalid number"));
            }
        }
        Ok(())
    }

    /// Reads past any value, checking it as strictly as reading it would.
    pub fn skip(&mut self) -> Result<()> {
        match self.peek() {
            Some(b'{') => self.object(|json, _| json.skip()),
            Some(b'[') => self.array(Self::skip),
            Some(b'"') => self.skip_string(),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("unexpected end of the line")),
        }
    }

    /// Reads past a string without decoding it.
    fn skip_string(&mut self) -> Result<()> {
        self.at += 1;
        let bytes = self.text.as_bytes();
        loop {
            self.at = special_from(bytes, self.at);
            match bytes.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(b'\\') => self.at += 1,
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unexpected end of the line in a string")),
            }
            // An escape: checked, not decoded (a lone surrogate is left for
            // whoever reads the value, as serde_json leaves it).
            match bytes.get(self.at) {
                Some(b'u') => {
                    self.at += 1;
                    self.hex4()?;
                }
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.at += 1,
                Some(_) => return Err(self.error("invalid escape")),
                None => return Err(self.error("unexpected end of the line in a string")),
            }
        }
    }
}

/// Where the first quote, backslash or control character at or after
/// `from` is (`bytes.len()` if none): the end of a string's plain run.
/// Eight bytes are looked at a time, as a string's text is most of a line.
fn special_from(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte of `v` that is below `n` (n ≤ 0x80); bits
    // above the lowest may be wrong, so only the lowest is used.
    let below = |v: u64, n: u8| v.wrapping_sub(ONES * n as u64) & !v & HIGH;
    let mut at = from;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let found = below(v ^ (ONES * b'"' as u64), 1)
            | below(v ^ (ONES * b'\\' as u64), 1)
            | below(v, 0x20);
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map_or(bytes.len(), |n| at + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skips(text: &str) -> bool {
        let mut json = Json::new(text);
        json.skip().and_then(|()| json.end()).is_ok()
    }

    fn serde_accepts(text: &str) -> bool {
        serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
    }

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        let mut json = Json::new(r#""plain""#);
        assert!(matches!(json.string(), Ok(Cow::Borrowed("plain"))));
        let mut json = Json::new(r#""a\"b\\c\/d\n\u00e9\ud83d\ude00 e""#);
        assert_eq!(json.string().unwrap(), "a\"b\\c/d\né😀 e");
        for bad in [
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\x""#,
            r#""\u12g4""#,
            "\"a\tb\"",
            r#""open"#,
        ] {
            assert!(Json::new(bad).string().is_err(), "{bad}");
        }
    }

    #[test]
    fn integers_are_whole_and_in_range() {
        let read = |text: &str| Json::new(text).integer();
        assert_eq!(read("1682374606245"), Ok(1_682_374_606_245));
        assert_eq!(read("-5"), Ok(-5));
        assert_eq!(read("0"), Ok(0));
        assert_eq!(read("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(read("9223372036854775807"), Ok(i64::MAX));
        for bad in [
            "1.5",
            "1e3",
            "-2E-1",
            "01",
            "-",
            "9223372036854775808",
            "-9223372036854775809",
            "\"1\"",
            "true",
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_error_names_the_column_where_the_line_breaks() {
        let mut json = Json::new(r#"{"a": [1, 2,, 3]}"#);
        let error = json.skip().unwrap_err();
        assert_eq!(error.to_string(), "expected a value at column 13");
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(!skips(&deep));
        let fine = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(skips(&fine));
    }

    #[test]
    fn skipping_accepts_exactly_what_serde_json_accepts() {
        for text in [
            "{}",
            "[]",
            r#"{"a":[1,-0.5e+3,true,false,null,{"b":"c\u0041"}]}"#,
            " 12 ",
            "1.",
            ".5",
            "-01",
            "1e",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{1:2}",
            "nul",
            "truex",
            "[1] [2]",
            r#""\ud800""#,
            "\"\u{7f}\"",
            "\"tab\there\"",
        ] {
            assert_eq!(skips(text), serde_accepts(text), "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_plain_run_ends_where_a_byte_by_byte_look_ends_it(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            from in 0usize..40,
        ) {
            let from = from.min(bytes.len());
            let plain = bytes[from..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .map_or(bytes.len(), |n| from + n);
            proptest::prop_assert_eq!(special_from(&bytes, from), plain);
        }

        /// Damaged WAF-like JSON: accepted or refused exactly as serde_json
        /// would accept or refuse it.
        #[test]
        fn skipping_agrees_with_serde_json_on_any_damage(
            cut in 0usize..120,
            insert in r#"[\[\]{}",:0-9eE.+\-\\ntrufalsu ]{0,6}"#,
        ) {
            let record = r#"{"timestamp":1682374606245,"rules":[],"h":[{"name":"Host","value":"a\"b"}],"n":-1.5e3,"ok":true,"x":null}"#;
            let cut = cut.min(record.len());
            let damaged = format!("{}{}{}", &record[..cut], insert, &record[cut..]);
            proptest::prop_assert_eq!(skips(&damaged), serde_accepts(&damaged), "{}", damaged);
        }
    }
}
