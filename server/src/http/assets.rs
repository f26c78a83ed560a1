//! `/pkg/`: the WASM bundle, its JavaScript and the stylesheet, compressed
//! and cached.
//!
//! Each file is sent gzip- or brotli-compressed when the browser accepts it
//! and a compressed copy is there (`cargo leptos build --release
//! --precompress` writes `.gz` and `.br`; for any other build the console
//! writes the `.gz` copies itself at start-up, see [`precompress`]). A file
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

/// Writes `name.gz` beside each file of `dir` that has none younger than
/// itself: the debug build's bundle is megabytes, and compressing it once
/// is better than on every first visit. Files that cannot be written (a
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
        {
            continue;
        }
        if let Err(error) = gzip(&path, &gz) {
            tracing::info!(file = %path.display(), %error, "served uncompressed");
        }
    }
}

fn gzip(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let plain = std::fs::read(from)?;
    let tmp = to.with_extension("gz.tmp");
    let mut encoder =
        flate2::write::GzEncoder::new(std::fs::File::create(&tmp)?, flate2::Compression::best());
    encoder.write_all(&plain)?;
    encoder.finish()?.sync_all()?;
    std::fs::rename(&tmp, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_are_told_from_plain_ones() {
        assert!(is_hashed("/pkg/gatehouse.Ab3dEf9hIjKlMnOp.wasm"));
        assert!(is_hashed("gatehouse.0123456789abcdef0123.js"));
        assert!(!is_hashed("/pkg/gatehouse.wasm"));
        assert!(!is_hashed("/pkg/gatehouse_bg.wasm"));
        assert!(!is_hashed("/pkg/gatehouse.short.css"));
    }
}
