//! A WAF log file inflated whole, in memory, by libdeflate.
//!
//! AWS WAF delivers each log file as one small gzip member whose trailer
//! says how much it holds. Such a file is inflated in one call into a
//! buffer of exactly that size — about twice as fast as a streaming
//! inflater, which refills a window and copies out of it. Anything else
//! (several members, more than [`WHOLE_MAX`], a damaged or cut-off file) is
//! left to the streaming reader, which keeps memory flat and reports where
//! a broken file stops.

use std::io::{self, Read};
use std::path::Path;

/// The most a file is inflated whole into; bigger ones are streamed. With
/// two files read per core at once, this bounds what an import holds.
pub const WHOLE_MAX: usize = 16 << 20;

/// The largest compressed file read whole (gzip shrinks logs tenfold or
/// more, so one this size is already past [`WHOLE_MAX`] inflated).
const COMPRESSED_MAX: u64 = WHOLE_MAX as u64;

/// A gzip member's header begins with these: magic, then DEFLATE.
const MEMBER: [u8; 3] = [0x1f, 0x8b, 0x08];

/// What a candidate member is inflated into when checking that a file has
/// one member only: a real member fills it or ends in it; a chance match
/// of [`MEMBER`] inside compressed data fails long before.
const PROBE: usize = 64 << 10;

/// The content of the gzip file at `path` if it is one member of at most
/// [`WHOLE_MAX`] bytes; `None` when it must be streamed.
pub fn whole(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > COMPRESSED_MAX {
        return Ok(None);
    }
    let mut gz = Vec::with_capacity(usize::try_from(len).unwrap_or_default());
    file.read_to_end(&mut gz)?;
    Ok(one_member(&gz))
}

/// The content of `gz` if it is exactly one gzip member of at most
/// [`WHOLE_MAX`] bytes.
pub fn one_member(gz: &[u8]) -> Option<Vec<u8>> {
    if gz.len() < 18 || !gz.starts_with(&MEMBER) {
        return None;
    }
    let (_, size) = gz.split_at(gz.len() - 4);
    let size = usize::try_from(u32::from_le_bytes(size.try_into().ok()?)).ok()?;
    if size > WHOLE_MAX {
        return None;
    }
    let mut decompressor = libdeflater::Decompressor::new();
    let mut out = vec![0; size];
    // libdeflate inflates the first member, checks its CRC-32 and size,
    // and ignores whatever follows it: a file of several members would
    // lose all but the first, so it is looked for below.
    let inflated = decompressor.gzip_decompress(gz, &mut out).ok()?;
    if inflated != size || another_member(&mut decompressor, gz) {
        return None;
    }
    Some(out)
}

/// Whether a second gzip member could begin anywhere after the first
/// one's magic: every place [`MEMBER`] occurs is tried, and only a sure
/// failure to inflate there rules it out.
fn another_member(decompressor: &mut libdeflater::Decompressor, gz: &[u8]) -> bool {
    let mut probe = Vec::new();
    memchr::memmem::find_iter(&gz[1..], &MEMBER).any(|at| {
        probe.resize(PROBE, 0);
        !matches!(
            decompressor.gzip_decompress(&gz[1 + at..], &mut probe),
            Err(libdeflater::DecompressionError::BadData)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(text).unwrap();
        gz.finish().unwrap()
    }

    fn lines(n: usize, tag: &str) -> Vec<u8> {
        (0..n)
            .map(|i| format!("{{\"line\":{i},\"tag\":\"{tag}\"}}\n"))
            .collect::<String>()
            .into_bytes()
    }

    #[test]
    fn one_member_is_inflated_whole() {
        let text = lines(50_000, "a");
        assert_eq!(one_member(&gzip(&text)), Some(text));
        assert_eq!(one_member(&gzip(b"")), Some(Vec::new()));
    }

    #[test]
    fn several_members_are_left_to_the_stream() {
        let first = lines(1_000, "a");
        // The same member twice: the trailer matches the first member.
        let twice = [gzip(&first), gzip(&first)].concat();
        assert_eq!(one_member(&twice), None);
        let other = [gzip(&first), gzip(&lines(10, "b"))].concat();
        assert_eq!(one_member(&other), None);
        let big_last = [gzip(&lines(10, "b")), gzip(&first)].concat();
        assert_eq!(one_member(&big_last), None);
    }

    #[test]
    fn damaged_and_large_files_are_left_to_the_stream() {
        let gz = gzip(&lines(1_000, "a"));
        assert_eq!(one_member(&gz[..gz.len() / 2]), None, "cut off");
        let mut flipped = gz.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x55;
        assert_eq!(one_member(&flipped), None, "damaged");
        let mut claims_more = gz.clone();
        let at = claims_more.len() - 4;
        claims_more[at..].copy_from_slice(&(WHOLE_MAX as u32 + 1).to_le_bytes());
        assert_eq!(one_member(&claims_more), None, "over the limit");
        assert_eq!(one_member(b"not gzip at all, just text\n"), None);
    }
}
