//! Percent-encoding for query-string values and return paths.

/// Encodes `text` for a query-string value, keeping unreserved characters
/// and `/` (legal in a query, and it keeps return paths readable).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn reserved_characters_are_encoded() {
        assert_eq!(
            super::encode("/reviews/a b?x=1&y=é"),
            "/reviews/a%20b%3Fx%3D1%26y%3D%C3%A9"
        );
    }
}
