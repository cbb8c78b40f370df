//! Streams an Open Food Facts JSONL dump (plain or gzip) into the product store in
//! bounded batches (`robotoff import-products` and the scheduler's dataset task).
//!
//! Pipeline: one thread reads and splits lines, worker threads parse them, the async
//! side puts parsed batches back in file order and hands each product to the writer
//! lane of its code, so a product read twice is always written in file order (the
//! later line wins) while lanes write sorted, de-duplicated batches in parallel. Every
//! queue between the stages is bounded, so memory does not grow with the dump.

use crate::infra::db::products::{self, EncodedProducts};
use crate::infra::product_opener::{parse_product, ProductJsonError};
use crate::types::{Product, ServerType};
use flate2::read::MultiGzDecoder;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

/// Longest line read; longer lines are skipped.
const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;
/// Batches waiting between two stages.
const QUEUE_DEPTH: usize = 2;

/// What an import did: `read` = `imported` + skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Non-blank lines read.
    pub read: u64,
    /// Lines stored (a later line of the same product replaces the earlier one).
    pub imported: u64,
    /// Skipped lines by reason.
    pub skipped: BTreeMap<&'static str, u64>,
}

impl ImportSummary {
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    fn merge(&mut self, other: &ImportSummary) {
        self.read += other.read;
        self.imported += other.imported;
        for (reason, n) in &other.skipped {
            *self.skipped.entry(reason).or_default() += n;
        }
    }

    fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
    }
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} line(s) read, {} product(s) imported, {} skipped",
            self.read,
            self.imported,
            self.skipped_total()
        )?;
        if !self.skipped.is_empty() {
            let reasons: Vec<String> = self
                .skipped
                .iter()
                .map(|(r, n)| format!("{r}: {n}"))
                .collect();
            write!(f, " ({})", reasons.join(", "))?;
        }
        Ok(())
    }
}

/// Line-parsing threads by default: the number of CPUs, at most 8.
pub fn default_parsers() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8)
}

/// Why an import stopped (bad lines do not stop it: they are counted and skipped).
#[derive(Debug, thiserror::Error)]
pub enum DumpImportError {
    #[error("reading the dump: {0}")]
    Read(#[source] std::io::Error),
    #[error("starting the {0} thread: {1}")]
    Thread(&'static str, #[source] std::io::Error),
    #[error("writing products to the store: {0}")]
    Write(#[source] sqlx::Error),
    #[error("{0}")]
    Stopped(&'static str),
}

/// Where an import is: compressed bytes read from the file, products written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub bytes_read: u64,
    pub imported: u64,
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Flavor of every product; `None` reads `product_type` per line.
    pub server_type: Option<ServerType>,
    pub batch_size: usize,
    pub writers: usize,
    pub parsers: usize,
}

/// Lines of one batch (numbered from 0 in file order), each with its 1-based line number.
type RawBatch = (u64, Vec<(u64, Vec<u8>)>);

/// Parsed products of one batch and what was skipped.
struct ParsedBatch {
    seq: u64,
    products: Vec<Product>,
    summary: ImportSummary,
}

/// The writer lane of a product: the same code always goes to the same lane.
fn lane_of(code: &str, lanes: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in code.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % lanes as u64) as usize
}

/// One writer lane: upserts its batches one after the other, in the order received.
async fn write_lane(
    pool: sqlx::PgPool,
    mut rx: tokio::sync::mpsc::Receiver<Vec<Product>>,
    imported: Arc<AtomicU64>,
) -> Result<(), sqlx::Error> {
    while let Some(batch) = rx.recv().await {
        let lines = batch.len() as u64;
        // Serialising a batch is CPU work: off the async threads, and the products are
        // freed as soon as they are encoded.
        let rows = tokio::task::spawn_blocking(move || EncodedProducts::new(&dedupe_sorted(batch)))
            .await
            .map_err(|e| sqlx::Error::Protocol(format!("encoding a batch of products: {e}")))?;
        products::upsert_encoded(&pool, &rows).await?;
        imported.fetch_add(lines, Ordering::Relaxed);
    }
    Ok(())
}

/// Streams `file` (plain or gzip, detected by its first bytes) into the product store,
/// telling `progress` where it is after each batch. Bad lines are counted and skipped;
/// a database error stops the import.
pub async fn import(
    pool: &sqlx::PgPool,
    file: File,
    options: &ImportOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ImportSummary, DumpImportError> {
    let consumed = Arc::new(AtomicU64::new(0));
    let counting = CountingReader {
        inner: file,
        count: consumed.clone(),
    };
    let mut buffered = BufReader::with_capacity(1 << 20, counting);
    let gz = buffered
        .fill_buf()
        .map_err(DumpImportError::Read)?
        .starts_with(&[0x1f, 0x8b]);
    let lines: Box<dyn BufRead + Send> = if gz {
        Box::new(BufReader::with_capacity(
            1 << 20,
            MultiGzDecoder::new(buffered),
        ))
    } else {
        Box::new(buffered)
    };

    let (raw_tx, raw_rx) = mpsc::sync_channel::<RawBatch>(QUEUE_DEPTH);
    let (parsed_tx, mut parsed_rx) = tokio::sync::mpsc::channel::<ParsedBatch>(QUEUE_DEPTH);
    let batch_size = options.batch_size;
    let reader = std::thread::Builder::new()
        .name("dump-reader".into())
        .spawn(move || read_lines(lines, batch_size, raw_tx))
        .map_err(|e| DumpImportError::Thread("dump reader", e))?;
    let raw_rx = Arc::new(Mutex::new(raw_rx));
    let mut parsers = Vec::new();
    for i in 0..options.parsers.max(1) {
        let rx = raw_rx.clone();
        let tx = parsed_tx.clone();
        let forced = options.server_type;
        parsers.push(
            std::thread::Builder::new()
                .name(format!("dump-parser-{i}"))
                .spawn(move || parse_batches(&rx, &tx, forced))
                .map_err(|e| DumpImportError::Thread("dump parser", e))?,
        );
    }
    drop(parsed_tx);

    let mut summary = ImportSummary::default();
    let lanes = options.writers.max(1);
    let imported = Arc::new(AtomicU64::new(0));
    let mut lane_tx = Vec::with_capacity(lanes);
    let mut lane_tasks = Vec::with_capacity(lanes);
    for _ in 0..lanes {
        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<Product>>(1);
        lane_tx.push(tx);
        lane_tasks.push(tokio::spawn(write_lane(pool.clone(), rx, imported.clone())));
    }
    let mut lane_buf: Vec<Vec<Product>> = (0..lanes).map(|_| Vec::new()).collect();
    // Each lane writes batches of its share, so a batch's products are held once.
    let lane_batch = batch_size.div_ceil(lanes).max(1);
    let mut pending: BTreeMap<u64, ParsedBatch> = BTreeMap::new();
    let mut next_seq = 0u64;
    let mut lanes_open = true;
    'input: while let Some(batch) = parsed_rx.recv().await {
        pending.insert(batch.seq, batch);
        while let Some(batch) = pending.remove(&next_seq) {
            next_seq += 1;
            summary.merge(&batch.summary);
            for p in batch.products {
                let lane = lane_of(&p.code, lanes);
                lane_buf[lane].push(p);
                if lane_buf[lane].len() >= lane_batch {
                    let full = std::mem::take(&mut lane_buf[lane]);
                    if lane_tx[lane].send(full).await.is_err() {
                        // The lane stopped on an error, reported below.
                        lanes_open = false;
                        break 'input;
                    }
                }
            }
            progress(Progress {
                bytes_read: consumed.load(Ordering::Relaxed),
                imported: imported.load(Ordering::Relaxed),
            });
        }
    }
    if lanes_open {
        for (tx, rest) in lane_tx.iter().zip(lane_buf) {
            if !rest.is_empty() && tx.send(rest).await.is_err() {
                break;
            }
        }
    }
    drop(lane_tx);
    let mut failure: Option<DumpImportError> = None;
    for task in lane_tasks {
        let result = match task.await {
            Ok(r) => r.map_err(DumpImportError::Write),
            Err(_) => Err(DumpImportError::Stopped("a product writer stopped")),
        };
        if let Err(e) = result {
            failure.get_or_insert(e);
        }
    }
    summary.imported = imported.load(Ordering::Relaxed);
    // Stops the other stages when the import failed: their sends fail from now on.
    drop(parsed_rx);
    let read_result = reader
        .join()
        .map_err(|_| DumpImportError::Stopped("the dump reader panicked"))?;
    for p in parsers {
        p.join()
            .map_err(|_| DumpImportError::Stopped("a dump parser panicked"))?;
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let tail = read_result?;
    summary.merge(&tail);
    Ok(summary)
}

/// Reads lines into batches; a line too long or unreadable as bytes is counted here.
fn read_lines(
    mut input: Box<dyn BufRead + Send>,
    batch_size: usize,
    tx: mpsc::SyncSender<RawBatch>,
) -> Result<ImportSummary, DumpImportError> {
    let mut summary = ImportSummary::default();
    let mut batch = Vec::with_capacity(batch_size);
    let mut seq = 0u64;
    let mut line_no = 0u64;
    loop {
        let mut line = Vec::new();
        let (n, complete) = read_bounded_line(&mut input, &mut line, MAX_LINE_BYTES)
            .map_err(DumpImportError::Read)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if !complete {
            summary.read += 1;
            summary.skip("line too long");
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        batch.push((line_no, line));
        if batch.len() >= batch_size {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
            if tx.send((seq, full)).is_err() {
                return Ok(summary);
            }
            seq += 1;
        }
    }
    if !batch.is_empty() {
        let _ = tx.send((seq, batch));
    }
    Ok(summary)
}

/// Reads one line into `line` (without its newline), keeping at most `max` bytes.
/// Returns bytes consumed and whether the line fitted.
fn read_bounded_line(
    input: &mut dyn BufRead,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut fits = true;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok((consumed, fits));
        }
        let (chunk, found) = match memchr_newline(buf) {
            Some(i) => (&buf[..i], Some(i)),
            None => (buf, None),
        };
        if fits && line.len() + chunk.len() <= max {
            line.extend_from_slice(chunk);
        } else {
            fits = false;
            line.clear();
        }
        let used = found.map_or(chunk.len(), |i| i + 1);
        consumed += used;
        input.consume(used);
        if found.is_some() {
            return Ok((consumed, fits));
        }
    }
}

fn memchr_newline(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|b| *b == b'\n')
}

fn parse_batches(
    rx: &Mutex<mpsc::Receiver<RawBatch>>,
    tx: &tokio::sync::mpsc::Sender<ParsedBatch>,
    forced: Option<ServerType>,
) {
    loop {
        let next = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok((seq, raw)) = next else { return };
        let mut parsed = ParsedBatch {
            seq,
            products: Vec::with_capacity(raw.len()),
            summary: ImportSummary::default(),
        };
        for (line_no, line) in raw {
            parsed.summary.read += 1;
            match parse_product(&line, forced) {
                Ok(p) => parsed.products.push(p),
                Err(e) => {
                    note_bad_line(line_no, &e);
                    parsed.summary.skip(e.reason());
                }
            }
        }
        if tx.blocking_send(parsed).is_err() {
            return;
        }
    }
}

/// The first bad lines are logged with their number.
fn note_bad_line(line_no: u64, error: &ProductJsonError) {
    static LOGGED: AtomicU64 = AtomicU64::new(0);
    if LOGGED.fetch_add(1, Ordering::Relaxed) < 10 {
        tracing::warn!(line = line_no, %error, "skipping a line of the dump");
    }
}

/// One product per (code, flavor), the last one read winning, sorted by key so that
/// concurrent batches lock rows in the same order.
fn dedupe_sorted(products: Vec<Product>) -> Vec<Product> {
    let mut by_key: BTreeMap<(String, &'static str), Product> = BTreeMap::new();
    for p in products {
        by_key.insert((p.code.clone(), p.server_type.name()), p);
    }
    by_key.into_values().collect()
}

/// Counts the bytes read from the file (compressed bytes for a gzip dump).
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn bounded_lines() {
        let mut input = Cursor::new(b"short\nthis one is too long\n\nlast".to_vec());
        let mut out = Vec::new();
        let mut lines = Vec::new();
        loop {
            out.clear();
            let (n, fits) = read_bounded_line(&mut input, &mut out, 10).expect("read");
            if n == 0 {
                break;
            }
            lines.push((String::from_utf8_lossy(&out).to_string(), fits));
        }
        assert_eq!(
            lines,
            vec![
                ("short".to_string(), true),
                (String::new(), false),
                (String::new(), true),
                ("last".to_string(), true),
            ]
        );
    }

    #[test]
    fn duplicates_keep_the_last_and_sort() {
        let mut a = Product::new("2", ServerType::Off);
        a.product_name = Some("first".into());
        let mut b = Product::new("2", ServerType::Off);
        b.product_name = Some("second".into());
        let c = Product::new("1", ServerType::Obf);
        let out = dedupe_sorted(vec![a, c, b]);
        let keys: Vec<(&str, Option<&str>)> = out
            .iter()
            .map(|p| (p.code.as_str(), p.product_name.as_deref()))
            .collect();
        assert_eq!(keys, vec![("1", None), ("2", Some("second"))]);
    }
}
