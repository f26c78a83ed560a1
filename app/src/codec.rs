//! How server functions' answers travel: JSON, decoded from text.
//!
//! A page's island receives the same types twice: hydrated from the page
//! (Leptos decodes resources with `serde_json::from_str`) and as server
//! function answers (server_fn's own JSON codec decodes with
//! `serde_json::from_slice`). serde instantiates a type's decoder once per
//! reader, so the browser's code carried every answer's decoder twice. This
//! codec decodes answers from text too, so each type has one decoder.

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::{Serialize, de::DeserializeOwned};

/// JSON, read as UTF-8 text.
pub struct JsonText;

/// A server function's answer as JSON text (`#[server(output = Json)]`).
pub type Json = Post<JsonText>;

impl ContentType for JsonText {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonText {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonText {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonText {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde::de::Error::custom)?;
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip_and_bad_bytes_are_an_error() {
        let sent = vec![("a".to_owned(), 1u32), ("é".to_owned(), 2)];
        let bytes = <JsonText as Encodes<_>>::encode(&sent).unwrap();
        let back: Vec<(String, u32)> = JsonText::decode(bytes).unwrap();
        assert_eq!(back, sent);
        let bad = <JsonText as Decodes<Vec<u32>>>::decode(Bytes::from_static(b"[1, \xff]"));
        assert!(bad.is_err());
        let truncated = <JsonText as Decodes<Vec<u32>>>::decode(Bytes::from_static(b"[1,"));
        assert!(truncated.is_err());
    }
}
