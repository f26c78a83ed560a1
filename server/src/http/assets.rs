//! `/pkg/`: the WASM bundle, its JavaScript and the stylesheet, compressed
//! and cached.
//!
//! Each file is sent gzip- or brotli-compressed when the browser accepts it
//! and a compressed copy is there: the console writes the `.gz` copies
//! itself at start-up, at libdeflate's strongest level (see
//! [`precompress`]); `cargo leptos build --release --precompress` adds the
//! `.br` ones. A file
//! whose name carries its content's hash (`hash-files` in Cargo.toml's
//! Leptos metadata: `gatehouse.3f2a….wasm`) never changes, so the browser
//! keeps it for a year without asking again; any other file is checked
//! with the server on each use (`no-cache`, answered `304 Not Modified`
//! when unchanged).

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use std::path::{Path, PathBuf};
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// A year: what "never changes" means to a browser cache.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// Answers `/pkg/…` (`request`'s path already stripped of `/pkg`) from
/// `dir`.
pub async fn serve(dir: PathBuf, request: Request<Body>) -> Response<Body> {
    let hashed = is_hashed(request.uri().path());
    let files = ServeDir::new(dir).precompressed_br().precompressed_gzip();
    let mut response = match files.oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    };
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let policy = if hashed { IMMUTABLE } else { REVALIDATE };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

/// Whether the last path segment looks like `name.HASH.ext`, the hash at
/// least 16 hex or base64url characters (cargo-leptos' form).
pub fn is_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let mut parts = name.split('.');
    let (Some(_stem), Some(hash), Some(_ext)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    hash.len() >= 16
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Writes `name.gz` beside each file of `dir`, at libdeflate's strongest
/// level, unless the `.gz` there is one this console wrote and is younger
/// than the file. A `.gz` from elsewhere (`cargo leptos build
/// --precompress` writes its own, about a sixth larger) is replaced: it is
/// what a browser downloads on a first visit. Runs once per build of the
/// site, in the background at start-up; files that cannot be written (a
/// read-only site folder) are served as they are.
pub fn precompress(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let compressible = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("wasm" | "js" | "css")
        );
        if !compressible {
            continue;
        }
        let mut gz = path.clone().into_os_string();
        gz.push(".gz");
        let gz = PathBuf::from(gz);
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        if let (Some(file), Some(copy)) = (modified(&path), modified(&gz))
            && copy >= file
            && written_here(&gz)
        {
            continue;
        }
        if let Err(error) = gzip(&path, &gz) {
            tracing::info!(file = %path.display(), %error, "not compressed here: sent as the build left it");
        }
    }
}

/// The gzip header this console writes: deflate, a comment (FCOMMENT) and
/// no time, maximum compression (XFL 2), unknown system; then the comment.
const HEADER: &[u8] = b"\x1f\x8b\x08\x10\0\0\0\0\x02\xffgatehouse\0";

/// Whether `gz` starts with [`HEADER`]: a copy written by [`gzip`].
fn written_here(gz: &Path) -> bool {
    use std::io::Read;
    let mut start = [0u8; HEADER.len()];
    std::fs::File::open(gz)
        .and_then(|mut f| f.read_exact(&mut start))
        .is_ok_and(|()| start == HEADER)
}

/// A gzip member (RFC 1952) of `from` at `to`, written whole and renamed
/// into place so that a request never sees half of it. The temporary file
/// is this process's own: replicas sharing a site folder may all compress
/// it at start-up, and each renames a complete copy.
fn gzip(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let plain = std::fs::read(from)?;
    let mut compressor = libdeflater::Compressor::new(libdeflater::CompressionLvl::best());
    let mut member = HEADER.to_vec();
    let start = member.len();
    member.resize(start + compressor.deflate_compress_bound(plain.len()), 0);
    let written = compressor
        .deflate_compress(&plain, &mut member[start..])
        .map_err(|error| std::io::Error::other(format!("{error:?}")))?;
    member.truncate(start + written);
    member.extend_from_slice(&libdeflater::crc32(&plain).to_le_bytes());
    // ISIZE: the length modulo 2^32, as the format defines it.
    member.extend_from_slice(&(plain.len() as u32).to_le_bytes());
    let tmp = to.with_extension(format!("gz.{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&member)?;
    file.sync_all()?;
    std::fs::rename(&tmp, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_replaces_a_gz_it_did_not_write_and_keeps_its_own() {
        use std::io::{Read, Write};
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("gatehouse.wasm");
        // Text-like bytes with long and short repeats, as a module has.
        let plain: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("fn{} call{};", i % 977, i % 13).into_bytes())
            .collect();
        std::fs::write(&wasm, &plain).unwrap();
        // A younger .gz from elsewhere, at a fast level.
        let gz = dir.path().join("gatehouse.wasm.gz");
        let mut fast = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        fast.write_all(&plain).unwrap();
        let foreign = fast.finish().unwrap();
        std::fs::write(&gz, &foreign).unwrap();

        precompress(dir.path());
        let ours = std::fs::read(&gz).unwrap();
        assert!(ours.starts_with(HEADER));
        assert!(
            ours.len() < foreign.len() * 3 / 4,
            "{} bytes against {}",
            ours.len(),
            foreign.len()
        );
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&ours[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, plain);

        // Its own, younger than the file, is kept as it is.
        let before = std::fs::metadata(&gz).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        precompress(dir.path());
        assert_eq!(std::fs::metadata(&gz).unwrap().modified().unwrap(), before);
        // A changed file is compressed again.
        std::fs::write(&wasm, b"changed").unwrap();
        precompress(dir.path());
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&std::fs::read(&gz).unwrap()[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, b"changed");
    }

    #[test]
    fn hashed_names_are_told_from_plain_ones() {
        assert!(is_hashed("/pkg/gatehouse.Ab3dEf9hIjKlMnOp.wasm"));
        assert!(is_hashed("gatehouse.0123456789abcdef0123.js"));
        assert!(!is_hashed("/pkg/gatehouse.wasm"));
        assert!(!is_hashed("/pkg/gatehouse_bg.wasm"));
        assert!(!is_hashed("/pkg/gatehouse.short.css"));
    }
}
