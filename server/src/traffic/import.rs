//! Importing WAF log files into PostgreSQL.
//!
//! Each file is read once, on a blocking thread, line by line (gzip or
//! plain, told apart by content), and its records are counted per second and
//! per (client IP, URI, method, country) — and per forwarded-IP header — in
//! a map that is written out as a packed segment whenever it grows past
//! [`FLUSH_ROWS`] entries, so memory stays flat whatever the file's size.
//! Files go in parallel, one transaction each; a file's SHA-256 is claimed
//! in that transaction, so importing the same content again, even at the
//! same moment from two places, counts nothing twice.
//!
//! A line that is not a record is counted and reported with its file and
//! line number; a file that breaks off (a truncated gzip) keeps the records
//! read before the break and is reported. Neither stops the import. The
//! same goes for a line too long to be a record (skipped to the next
//! newline without being held) and a gzip that inflates past its cap
//! ([`ImportLimits`]: stopped there, and reported by name).

use super::record::{RecordView, read_line};
use crate::traffic::scan::Scanner;
use app::audit::{Action, Actor, Client, NewEvent};
use app::traffic::ImportLimits;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// Map entries kept before they are written out.
const FLUSH_ROWS: usize = 100_000;
/// Malformed lines and broken files kept as examples per import.
pub const EXAMPLES: usize = 10;

/// Where an import came from, as `log_imports.source` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Cli,
    Upload,
    S3,
    Demo,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cli => "cli",
            Source::Upload => "upload",
            Source::S3 => "s3",
            Source::Demo => "demo",
        }
    }
}

/// One file to import: where it is on disk and the name to report it by
/// (an upload's file name or an S3 URL, for files fetched to disk first).
#[derive(Debug, Clone)]
pub struct LogFile {
    pub path: PathBuf,
    pub name: String,
}

/// A malformed line or a broken file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Problem {
    pub file: String,
    /// 1-based; for a broken file, the last line read.
    pub line: u64,
    pub error: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub import_id: i64,
    /// Files looked at, including those skipped as already imported.
    pub files: u64,
    pub records: u64,
    pub malformed: u64,
    /// Records of files whose content had been imported before.
    pub duplicates_skipped: u64,
    /// Records kept whose clientIp is not an IP address.
    pub redacted_client_ips: u64,
    pub truncated_files: Vec<String>,
    /// The first [`EXAMPLES`] problems.
    pub problems: Vec<Problem>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}: no such file or folder, and no file matches it")]
    NotFound(String),
    #[error("{0}: {1}")]
    Unreadable(String, io::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot record the import in the audit trail: {0}")]
    Audit(String),
    #[error("the reading thread stopped: {0}")]
    Thread(#[from] tokio::task::JoinError),
}

/// The files that paths, folders (recursively) and glob patterns name, in
/// a stable order.
pub fn expand(patterns: &[String]) -> Result<Vec<LogFile>, ImportError> {
    let mut files = Vec::new();
    for pattern in patterns {
        let path = Path::new(pattern);
        let before = files.len();
        if path.exists() {
            collect(path, &mut files).map_err(|e| ImportError::Unreadable(pattern.clone(), e))?;
        } else if let Ok(paths) = glob::glob(pattern) {
            for found in paths.flatten() {
                collect(&found, &mut files)
                    .map_err(|e| ImportError::Unreadable(pattern.clone(), e))?;
            }
        }
        if files.len() == before && !path.is_dir() {
            return Err(ImportError::NotFound(pattern.clone()));
        }
    }
    Ok(files)
}

/// In a folder, the files WAF, Firehose or a CloudWatch export would
/// write (Firehose objects have no extension); a README beside the logs is
/// not read. Files named on their own are always read.
fn looks_like_a_log(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'));
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    !hidden
        && matches!(
            extension.as_deref(),
            None | Some("gz" | "log" | "json" | "jsonl" | "ndjson" | "txt")
        )
}

fn collect(path: &Path, files: &mut Vec<LogFile>) -> io::Result<()> {
    if path.is_dir() {
        let mut entries = std::fs::read_dir(path)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<io::Result<Vec<_>>>()?;
        entries.sort();
        for entry in entries.iter().filter(|e| e.is_dir() || looks_like_a_log(e)) {
            collect(entry, files)?;
        }
    } else {
        files.push(LogFile {
            path: path.to_path_buf(),
            name: path.display().to_string(),
        });
    }
    Ok(())
}

/// Imports `files` as one import by `actor`, each file read within
/// `limits`. The import is audited, with its summary, when it ends.
pub async fn import(
    pool: &PgPool,
    files: Vec<LogFile>,
    source: Source,
    limits: ImportLimits,
    actor: Actor,
    client: Client,
) -> Result<Summary, ImportError> {
    let imported_by = actor.username.clone().unwrap_or_default();
    let import_id = sqlx::query_scalar!(
        "INSERT INTO log_imports (source, imported_by) VALUES ($1, $2) RETURNING id",
        source.as_str(),
        imported_by
    )
    .fetch_one(pool)
    .await?;
    // Two files per core: while one file's transaction waits on the
    // database (its commit is flushed to disk), another is being read.
    let parallel = 2 * std::thread::available_parallelism().map_or(2, |n| n.get());
    let outcomes: Vec<FileOutcome> = futures::stream::iter(files)
        .map(|file| import_file(pool, import_id, file, limits))
        .buffer_unordered(parallel)
        .try_collect()
        .await?;
    let mut summary = Summary {
        import_id,
        ..Summary::default()
    };
    for outcome in outcomes {
        summary.add(outcome);
    }
    let problems = serde_json::to_value(&summary.problems).unwrap_or_default();
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "UPDATE log_imports SET finished_at = now(), files = $2, records = $3, malformed = $4,
             duplicates_skipped = $5, problems = $6,
             first_at = (SELECT min(first_at) FROM log_files WHERE import_id = $1),
             last_at = (SELECT max(last_at) FROM log_files WHERE import_id = $1)
         WHERE id = $1",
        import_id,
        summary.files as i32,
        summary.records as i64,
        summary.malformed as i64,
        summary.duplicates_skipped as i64,
        problems,
    )
    .execute(&mut *tx)
    .await?;
    let event = NewEvent::new(Action::LogsImported, Some(actor), client)
        .target(format!("import {import_id} ({})", source.as_str()))
        .after(serde_json::to_value(&summary).unwrap_or_default());
    app::audit::record(&mut tx, event)
        .await
        .map_err(|e| ImportError::Audit(e.to_string()))?;
    tx.commit().await?;
    Ok(summary)
}

impl Summary {
    fn add(&mut self, outcome: FileOutcome) {
        self.files += 1;
        match outcome {
            FileOutcome::AlreadyImported { records } => self.duplicates_skipped += records,
            FileOutcome::Unreadable(problem) => {
                if self.problems.len() < EXAMPLES {
                    self.problems.push(problem);
                }
            }
            FileOutcome::Read(stats) => {
                self.records += stats.records;
                self.malformed += stats.malformed;
                self.redacted_client_ips += stats.redacted_ips;
                if stats.truncated {
                    self.truncated_files.push(stats.name.clone());
                }
                let room = EXAMPLES.saturating_sub(self.problems.len());
                self.problems.extend(stats.problems.into_iter().take(room));
            }
        }
    }
}

enum FileOutcome {
    AlreadyImported { records: u64 },
    Unreadable(Problem),
    Read(FileStats),
}

/// What reading one file found.
#[derive(Debug, Default)]
pub struct FileStats {
    pub name: String,
    pub records: u64,
    pub malformed: u64,
    pub redacted_ips: u64,
    pub truncated: bool,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub problems: Vec<Problem>,
}

/// One segment of a file's counts, ready to store.
pub struct Batch {
    pub data: Vec<u8>,
    /// The same counts per client IP and 10-second bucket.
    pub by_ip: Vec<u8>,
    pub first_second: i64,
    pub last_second: i64,
}

async fn import_file(
    pool: &PgPool,
    import_id: i64,
    file: LogFile,
    limits: ImportLimits,
) -> Result<FileOutcome, ImportError> {
    let path = file.path.clone();
    let digest = match tokio::task::spawn_blocking(move || sha256_of(&path)).await? {
        Ok(digest) => digest,
        // One unreadable file is reported; the others are still imported.
        Err(error) => {
            return Ok(FileOutcome::Unreadable(Problem {
                file: file.name,
                line: 0,
                error: format!("cannot read the file: {error}"),
            }));
        }
    };
    let mut tx = pool.begin().await?;
    let claimed = sqlx::query_scalar!(
        "INSERT INTO log_files (import_id, sha256, name) VALUES ($1, $2, $3)
         ON CONFLICT (sha256) DO NOTHING RETURNING id",
        import_id,
        &digest[..],
        file.name
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(file_id) = claimed else {
        tx.rollback().await?;
        let records = sqlx::query_scalar!(
            "SELECT records FROM log_files WHERE sha256 = $1",
            &digest[..]
        )
        .fetch_optional(pool)
        .await?
        .unwrap_or(0);
        return Ok(FileOutcome::AlreadyImported {
            records: records as u64,
        });
    };
    let (sender, mut batches) = mpsc::channel::<Batch>(2);
    let reader = {
        let file = file.clone();
        tokio::task::spawn_blocking(move || read_file(&file, limits, &sender))
    };
    let mut seq = 0;
    while let Some(batch) = batches.recv().await {
        sqlx::query!(
            "INSERT INTO traffic_segments (file_id, seq, first_second, last_second, data, by_ip)
             VALUES ($1, $2, $3, $4, $5, $6)",
            file_id,
            seq,
            batch.first_second,
            batch.last_second,
            batch.data,
            batch.by_ip,
        )
        .execute(&mut *tx)
        .await?;
        seq += 1;
    }
    let stats = reader
        .await?
        .map_err(|e| ImportError::Unreadable(file.name.clone(), e))?;
    let at = |ms: Option<i64>| ms.and_then(chrono::DateTime::from_timestamp_millis);
    sqlx::query!(
        "UPDATE log_files SET records = $2, malformed = $3, redacted_ips = $4, truncated = $5,
             first_at = $6, last_at = $7
         WHERE id = $1",
        file_id,
        stats.records as i64,
        stats.malformed as i64,
        stats.redacted_ips as i64,
        stats.truncated,
        at(stats.first_ms),
        at(stats.last_ms),
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(FileOutcome::Read(stats))
}

fn sha256_of(path: &Path) -> io::Result<[u8; 32]> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        match file.read(&mut buffer)? {
            0 => return Ok(hasher.finalize().into()),
            n => hasher.update(&buffer[..n]),
        }
    }
}

/// Reads one file and sends its counts in batches. Errors only when the
/// file cannot be opened; a file that breaks off part way, or is stopped
/// at its cap, is reported in the stats.
pub fn read_file(
    file: &LogFile,
    limits: ImportLimits,
    batches: &mpsc::Sender<Batch>,
) -> io::Result<FileStats> {
    let opened = std::fs::File::open(&file.path)?;
    let compressed = opened.metadata()?.len();
    let mut raw = BufReader::with_capacity(1 << 17, opened);
    let gzipped = raw.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let mut lines: Box<dyn BufRead> = match gzipped {
        true => {
            let (cap, why) = limits.inflated_cap(compressed);
            Box::new(BufReader::with_capacity(
                1 << 17,
                Capped {
                    inner: flate2::bufread::MultiGzDecoder::new(raw),
                    read: 0,
                    cap,
                    why,
                },
            ))
        }
        false => Box::new(raw),
    };
    let mut stats = FileStats {
        name: file.name.clone(),
        ..FileStats::default()
    };
    let mut scanner = Scanner::default();
    let mut line = Vec::with_capacity(4096);
    let mut number = 0u64;
    loop {
        number += 1;
        // A line wholly in the reader's buffer is read where it lies; one
        // that runs past the buffer's end is gathered into `line` first.
        let used = match lines.fill_buf() {
            Ok([]) => break,
            Ok(buffer) => memchr::memchr(b'\n', buffer).map(|end| {
                read_one(&buffer[..end], number, &mut scanner, &mut stats);
                end + 1
            }),
            Err(error) => {
                stats.broken_off(number, &[], &error);
                break;
            }
        };
        match used {
            Some(used) => lines.consume(used),
            None => match gather_line(&mut lines, &mut line) {
                Ok(true) => read_one(&line, number, &mut scanner, &mut stats),
                Ok(false) => stats.malformed_line(
                    number,
                    format!(
                        "a line longer than {} MiB is not a WAF record; skipped",
                        ImportLimits::MAX_LINE_BYTES >> 20
                    ),
                ),
                Err(error) => {
                    stats.broken_off(number, &line, &error);
                    break;
                }
            },
        }
        if scanner.len() >= FLUSH_ROWS && batches.blocking_send(scanner.take()).is_err() {
            return Err(io::Error::other("the import stopped writing"));
        }
    }
    if scanner.len() > 0 && batches.blocking_send(scanner.take()).is_err() {
        return Err(io::Error::other("the import stopped writing"));
    }
    Ok(stats)
}

/// Gathers the next line into `line` (without holding more than
/// [`ImportLimits::MAX_LINE_BYTES`] of it). `false` when the line was
/// longer: the rest of it is read past, up to its newline, and dropped.
fn gather_line(lines: &mut dyn BufRead, line: &mut Vec<u8>) -> io::Result<bool> {
    let most = ImportLimits::MAX_LINE_BYTES;
    line.clear();
    lines.take(most as u64 + 1).read_until(b'\n', line)?;
    if line.len() <= most || line.last() == Some(&b'\n') {
        return Ok(true);
    }
    line.clear();
    loop {
        let buffer = lines.fill_buf()?;
        if buffer.is_empty() {
            return Ok(false);
        }
        match memchr::memchr(b'\n', buffer) {
            Some(end) => {
                lines.consume(end + 1);
                return Ok(false);
            }
            None => {
                let all = buffer.len();
                lines.consume(all);
            }
        }
    }
}

/// A decoder that stops with an error once it has given out more than
/// `cap` bytes: a gzip bomb inflates no further than that.
struct Capped<R> {
    inner: R,
    read: u64,
    cap: u64,
    why: &'static str,
}

/// Why a file was stopped part way: it inflated past its cap.
#[derive(Debug, thiserror::Error)]
#[error(
    "it inflates past {} ({why}), so it is taken for a compression bomb and read no further",
    in_units(*cap)
)]
pub struct InflatesPastCap {
    pub cap: u64,
    pub why: &'static str,
}

/// A size as people read it: KiB below a mebibyte, else MiB.
fn in_units(bytes: u64) -> String {
    match bytes < 1 << 20 {
        true => format!("{} KiB", bytes.div_ceil(1 << 10)),
        false => format!("{} MiB", bytes.div_ceil(1 << 20)),
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buffer)?;
        self.read += n as u64;
        if self.read > self.cap {
            return Err(io::Error::other(InflatesPastCap {
                cap: self.cap,
                why: self.why,
            }));
        }
        Ok(n)
    }
}

fn read_one(line: &[u8], number: u64, scanner: &mut Scanner, stats: &mut FileStats) {
    match std::str::from_utf8(line) {
        Err(_) => stats.malformed_line(number, "not UTF-8 text".into()),
        Ok(text) if text.trim_ascii().is_empty() => {}
        Ok(text) => match read_line(text, |record| scanner.add(&record, stats)) {
            Ok(()) => {}
            Err(error) => stats.malformed_line(number, error.to_string()),
        },
    }
}

impl FileStats {
    /// The file broke off at line `number`, after `partial` of it.
    fn broken_off(&mut self, number: u64, partial: &[u8], error: &io::Error) {
        // What was read of the broken line is not a record either.
        if !partial.is_empty() {
            self.malformed += 1;
        }
        self.truncated = true;
        let kept = self.records;
        let why = match error
            .get_ref()
            .and_then(|e| e.downcast_ref::<InflatesPastCap>())
        {
            Some(cap) => format!("stopped here: {cap}"),
            None => format!("the file breaks off here ({error})"),
        };
        self.note(
            number,
            format!("{why}; the {kept} records before it are kept"),
        );
    }

    fn malformed_line(&mut self, line: u64, error: String) {
        self.malformed += 1;
        self.note(line, error);
    }

    fn note(&mut self, line: u64, error: String) {
        if self.problems.len() < EXAMPLES {
            self.problems.push(Problem {
                file: self.name.clone(),
                line,
                error,
            });
        }
    }

    /// Counts a record; `redacted` when its clientIp is not an address.
    pub(crate) fn count(&mut self, record: &RecordView<'_>, redacted: bool) {
        self.records += 1;
        if redacted {
            self.redacted_ips += 1;
        }
        self.first_ms = Some(
            self.first_ms
                .map_or(record.timestamp_ms, |t| t.min(record.timestamp_ms)),
        );
        self.last_ms = Some(
            self.last_ms
                .map_or(record.timestamp_ms, |t| t.max(record.timestamp_ms)),
        );
    }
}

impl Summary {
    /// The summary as the command line prints it.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "imported {} records from {} files ({} malformed lines, {} records skipped as already imported)\n",
            self.records, self.files, self.malformed, self.duplicates_skipped
        );
        if self.redacted_client_ips > 0 {
            text += &format!(
                "{} records have a clientIp that is not an IP address; they are kept under that value\n",
                self.redacted_client_ips
            );
        }
        for file in &self.truncated_files {
            text += &format!(
                "{file}: read only part way (it breaks off, or was stopped at its cap); the records before are kept\n"
            );
        }
        for problem in &self.problems {
            text += &format!("{}:{}: {}\n", problem.file, problem.line, problem.error);
        }
        if self.malformed > self.problems.len() as u64 {
            text += &format!("(the first {} problems shown)\n", self.problems.len());
        }
        text
    }
}
