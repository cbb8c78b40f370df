//! Reading Product Opener's Redis streams into durable jobs: two lanes (user edits, bot
//! edits) that each store their stream positions in the same transaction as the jobs
//! of a batch, the routing of a batch of entries, and the replay of a time range.

use super::{entry_millis, OcrReady, ProductUpdate, Routing, BOT_USERS};
use crate::config::Settings;
use crate::infra::db::{cluster, jobs, stream_offsets};
use crate::infra::metrics;
use crate::infra::redis_streams::{self, Entry};
use crate::jobs::NewJob;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Longest wait for new entries in one read, so the reader notices shutdown.
const BLOCK_MS: u64 = 1000;

/// What reading the streams needs.
#[derive(Debug, Clone)]
pub struct StreamContext {
    pub settings: Arc<Settings>,
    pub pool: PgPool,
    /// Cluster mode: the listener's lease this reader holds; every write checks it in
    /// its own transaction.
    pub fence: Option<ListenerFence>,
}

/// The update listener's lease as held by a reader: its holder and epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerFence {
    pub holder: String,
    pub epoch: i64,
}

impl StreamContext {
    /// Opens a transaction for the reader's writes; fails with [`ReadError::Fenced`]
    /// when the reader's lease has passed to another node.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, ReadError> {
        let mut tx = self.pool.begin().await?;
        if let Some(f) = &self.fence {
            let held =
                cluster::holds_lease(&mut tx, cluster::LISTENER_LEASE, &f.holder, f.epoch).await?;
            if !held {
                return Err(ReadError::Fenced(f.epoch));
            }
        }
        Ok(tx)
    }
}

/// What the reader has done so far, shared with whoever reports on it.
#[derive(Debug, Default)]
pub struct Counters {
    pub connected: AtomicBool,
    pub ready: AtomicBool,
    pub events_read: AtomicU64,
    pub jobs_enqueued: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("the update listener's lease (epoch {0}) passed to another node")]
    Fenced(i64),
}

/// Reads until aborted (or, in cluster mode, until the lease is lost); on any other
/// error waits (1 s doubling to 30 s, with jitter) and starts again from the stored
/// positions, so nothing read but not stored is lost.
pub async fn read_forever(
    ctx: StreamContext,
    client: redis::Client,
    streams: Vec<String>,
    counters: Arc<Counters>,
) {
    let mut failures: u32 = 0;
    loop {
        match read_session(&ctx, &client, &streams, &counters).await {
            Ok(()) => failures = 0,
            Err(e @ ReadError::Fenced(_)) => {
                counters.connected.store(false, Ordering::Relaxed);
                tracing::warn!(error = %e, "update listener stops");
                return;
            }
            Err(e) => {
                counters.connected.store(false, Ordering::Relaxed);
                failures = failures.saturating_add(1);
                let base =
                    Duration::from_secs(1u64 << failures.min(5)).min(Duration::from_secs(30));
                let jitter = Duration::from_millis(rand::random_range(0..500));
                tracing::warn!(error = %e, retry_in_ms = (base + jitter).as_millis() as u64, "update listener interrupted");
                tokio::time::sleep(base + jitter).await;
            }
        }
    }
}

/// The two readers of the streams. The interactive lane enqueues every event except
/// the mass edits of bot users, which it skips; the bulk lane follows with its own
/// positions and enqueues only those. A burst of bot events therefore never stands
/// between a user's edit and its job: the interactive lane scans past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Interactive,
    Bulk,
}

impl Lane {
    /// Key under which the lane's position in `stream` is stored.
    pub fn position_key(self, stream: &str) -> String {
        match self {
            Lane::Interactive => stream.to_string(),
            Lane::Bulk => format!("{stream}#bulk"),
        }
    }

    fn keeps(self, job: &NewJob) -> bool {
        (job.priority == crate::jobs::Priority::Low) == (self == Lane::Bulk)
    }

    fn label(self) -> &'static str {
        match self {
            Lane::Interactive => "interactive",
            Lane::Bulk => "bulk",
        }
    }
}

async fn read_session(
    ctx: &StreamContext,
    client: &redis::Client,
    streams: &[String],
    counters: &Counters,
) -> Result<(), ReadError> {
    let mut conn = client.get_multiplexed_async_connection().await?;
    redis::cmd("PING").query_async::<String>(&mut conn).await?;
    counters.connected.store(true, Ordering::Relaxed);
    let mut lanes = Vec::new();
    for lane in [Lane::Interactive, Lane::Bulk] {
        let keys: Vec<String> = streams.iter().map(|s| lane.position_key(s)).collect();
        let stored = stream_offsets::load(&ctx.pool, &keys).await?;
        let mut positions = HashMap::new();
        for stream in streams {
            let key = lane.position_key(stream);
            let position = match stored.get(&key) {
                Some(p) => p.clone(),
                None => {
                    // A lane without a position starts where the interactive one stands
                    // (an upgrade from a single reader), else where settings say.
                    let start = match stored_interactive(ctx, stream, lane).await? {
                        Some(p) => p,
                        None => initial_position(&mut conn, ctx, stream).await?,
                    };
                    let mut tx = ctx.begin().await?;
                    stream_offsets::store(&mut tx, &key, &start).await?;
                    tx.commit().await?;
                    tracing::info!(
                        stream,
                        lane = lane.label(),
                        start,
                        "update listener starts reading"
                    );
                    start
                }
            };
            positions.insert(stream.clone(), position);
        }
        lanes.push((lane, positions));
    }
    counters.ready.store(true, Ordering::Relaxed);
    // Each lane blocks on its own connection.
    let mut readers = Vec::new();
    for (lane, positions) in lanes {
        let mut conn = client.get_multiplexed_async_connection().await?;
        // A blocking read waits up to BLOCK_MS for entries: the answer may come that
        // late (the client's default 500 ms would end every idle read in a timeout).
        conn.set_response_timeout(Duration::from_millis(BLOCK_MS + 5_000));
        readers.push(read_lane(ctx, streams, counters, lane, positions, conn));
    }
    // The first lane to fail ends the session (the other is dropped), so the failure
    // is seen and both lanes start again from their stored positions.
    futures::future::try_join_all(readers).await.map(|_| ())
}

async fn stored_interactive(
    ctx: &StreamContext,
    stream: &str,
    lane: Lane,
) -> Result<Option<String>, ReadError> {
    if lane == Lane::Interactive {
        return Ok(None);
    }
    let key = Lane::Interactive.position_key(stream);
    Ok(stream_offsets::load(&ctx.pool, std::slice::from_ref(&key))
        .await?
        .remove(&key))
}

/// Longest time a lane's position may stay unstored while it only skips entries.
const POSITION_EVERY: Duration = Duration::from_secs(1);

/// Reads one lane until an error: each batch's jobs and the lane's new position
/// commit together.
async fn read_lane(
    ctx: &StreamContext,
    streams: &[String],
    counters: &Counters,
    lane: Lane,
    mut positions: HashMap<String, String>,
    mut conn: redis::aio::MultiplexedConnection,
) -> Result<(), ReadError> {
    let routing = Routing {
        update_wait: Duration::from_secs_f64(ctx.settings.workers.update_wait_secs),
    };
    let batch = ctx.settings.redis.batch_size.max(1);
    // Only product updates come from bot users: the bulk lane reads nothing else.
    let streams: Vec<String> = match lane {
        Lane::Interactive => streams.to_vec(),
        Lane::Bulk => vec![ctx.settings.redis.product_updates_stream.clone()],
    };
    // When each stream's position was last stored: a lane that only skips entries stores
    // its position once a second, counted from the lane's start.
    let started = std::time::Instant::now();
    let mut last_stored: HashMap<String, std::time::Instant> =
        streams.iter().map(|s| (s.clone(), started)).collect();
    // Positions read past but not stored yet (batches with nothing for this lane).
    let mut unstored: HashMap<String, String> = HashMap::new();
    loop {
        let ids: Vec<String> = streams
            .iter()
            .map(|s| positions.get(s).cloned().unwrap_or_else(|| "0-0".into()))
            .collect();
        let read = redis_streams::read(&mut conn, &streams, &ids, batch, BLOCK_MS).await?;
        // A position left unstored is stored once a second, entries or not.
        let due: Vec<(String, String)> = unstored
            .iter()
            .filter(|(stream, _)| {
                last_stored
                    .get(*stream)
                    .is_none_or(|t| t.elapsed() >= POSITION_EVERY)
                    && !read.iter().any(|(s, e)| s == *stream && !e.is_empty())
            })
            .map(|(s, p)| (s.clone(), p.clone()))
            .collect();
        for (stream, position) in due {
            store_batch(ctx, &[], &lane.position_key(&stream), &position).await?;
            last_stored.insert(stream.clone(), std::time::Instant::now());
            unstored.remove(&stream);
        }
        for (stream, entries) in read {
            let Some(last) = entries.last().map(|e| e.id.clone()) else {
                continue;
            };
            let jobs: Vec<NewJob> = route_entries(&routing, ctx, &stream, &entries, Some(lane))
                .into_iter()
                .filter(|j| lane.keeps(j))
                .collect();
            // A batch with nothing for this lane (the user lane skimming a bot burst)
            // need not store its position at once: read again after a crash, it would
            // again give nothing. Its position is stored with the next jobs, or within
            // a second.
            let stored_at = last_stored.get(&stream).copied().unwrap_or(started);
            let enqueued = if jobs.is_empty() && stored_at.elapsed() < POSITION_EVERY {
                unstored.insert(stream.clone(), last.clone());
                0
            } else {
                unstored.remove(&stream);
                let key = lane.position_key(&stream);
                let mut attempt = 0;
                let enqueued = loop {
                    attempt += 1;
                    match store_batch(ctx, &jobs, &key, &last).await {
                        // The two lanes may merge into the same pending jobs at once;
                        // PostgreSQL then breaks the deadlock by failing one of them,
                        // which simply tries again.
                        Err(ReadError::Db(e)) if attempt < 5 && is_retryable(&e) => {
                            tracing::debug!(error = %e, lane = lane.label(), "listener batch retried");
                            tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                        }
                        other => break other?,
                    }
                };
                last_stored.insert(stream.clone(), std::time::Instant::now());
                enqueued
            };
            if lane == Lane::Interactive {
                counters
                    .events_read
                    .fetch_add(entries.len() as u64, Ordering::Relaxed);
            }
            counters
                .jobs_enqueued
                .fetch_add(enqueued, Ordering::Relaxed);
            if let Some(ms) = entry_millis(&last) {
                let lag = (chrono::Utc::now().timestamp_millis() - ms).max(0) as f64 / 1000.0;
                metrics::listener_lag(&format!("{stream}:{}", lane.label()), lag);
            }
            positions.insert(stream, last);
        }
    }
}

/// Whether PostgreSQL can hold the job: no NUL character in its text, a barcode of at
/// most 100 characters (an event breaking either would otherwise fail its whole batch
/// again at every read).
fn storable(job: &NewJob) -> bool {
    let nul = |t: &str| t.contains('\0');
    !job.product
        .as_ref()
        .is_some_and(|(b, _)| nul(b) || b.chars().count() > 100)
        && !job.dedupe_key.as_deref().is_some_and(nul)
        && !job.payload.to_string().contains("\\u0000")
}

/// Stores a batch's jobs and the lane's new position in one transaction. The jobs and
/// the position commit together: if PostgreSQL itself crashes before flushing them,
/// both are lost and the entries, still in the stream, are read again. So the commit
/// need not wait for the WAL flush.
async fn store_batch(
    ctx: &StreamContext,
    jobs: &[NewJob],
    position_key: &str,
    last: &str,
) -> Result<u64, ReadError> {
    let mut tx = ctx.begin().await?;
    crate::infra::db::commit_without_flush(&mut tx).await?;
    let w = &ctx.settings.workers;
    let enqueued = jobs::enqueue_batch(&mut tx, jobs, w.shards, w.max_attempts).await?;
    stream_offsets::store(&mut tx, position_key, last).await?;
    tx.commit().await?;
    Ok(enqueued)
}

/// A deadlock or serialization failure: the same transaction may succeed when retried.
fn is_retryable(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "40P01" || c == "40001")
}

/// Where reading starts when a stream has no stored position.
async fn initial_position(
    conn: &mut redis::aio::MultiplexedConnection,
    ctx: &StreamContext,
    stream: &str,
) -> Result<String, ReadError> {
    Ok(match ctx.settings.redis.start_from.as_str() {
        "beginning" => "0-0".to_string(),
        _ => redis_streams::last_id(conn, stream).await?,
    })
}

/// The jobs of a batch of entries of `stream` for `lane` (every job with `None`, as a
/// replay does); events that are invalid are logged and counted, never retried forever.
pub fn route_entries(
    routing: &Routing,
    ctx: &StreamContext,
    stream: &str,
    entries: &[Entry],
    only: Option<Lane>,
) -> Vec<NewJob> {
    // Events are counted once: by the user lane (it sees all of them) or by a replay.
    let lane = only.unwrap_or(Lane::Interactive);
    let ocr = stream == ctx.settings.redis.ocr_ready_stream;
    let mut jobs = Vec::with_capacity(entries.len());
    for entry in entries {
        // Bot edits are the bulk lane's, all others the user lane's: each lane skips the
        // other's entries before parsing them (the user lane skims bot bursts).
        if let (false, Some(lane)) = (ocr, only) {
            let bot = entry
                .fields
                .get("user_id")
                .is_some_and(|u| BOT_USERS.contains(&u.trim()));
            if bot != (lane == Lane::Bulk) {
                if lane == Lane::Interactive {
                    metrics::listener_event(stream, "deferred_bulk");
                }
                continue;
            }
        }
        let routed = if ocr {
            routing.ocr_ready(&OcrReady::from_fields(&entry.id, &entry.fields))
        } else {
            ProductUpdate::from_fields(&entry.id, &entry.fields)
                .and_then(|e| routing.product_update(&e))
        };
        // Events are counted by the interactive lane only (it sees all of them).
        let count = lane == Lane::Interactive;
        match routed {
            Ok(Some(job)) if !storable(&job) => {
                if count {
                    tracing::warn!(stream, id = %entry.id, "stream event PostgreSQL cannot hold skipped");
                    metrics::listener_event(stream, "invalid");
                }
            }
            Ok(Some(mut job)) => {
                if count {
                    metrics::listener_event(
                        stream,
                        if lane.keeps(&job) {
                            "enqueued"
                        } else {
                            "deferred_bulk"
                        },
                    );
                }
                if let Some(obj) = job.payload.as_object_mut() {
                    obj.insert(
                        "event_id".into(),
                        serde_json::Value::String(entry.id.clone()),
                    );
                }
                jobs.push(job);
            }
            Ok(None) => {
                if count {
                    metrics::listener_event(stream, "skipped");
                }
            }
            Err(e) => {
                if count {
                    tracing::warn!(stream, id = %entry.id, error = %e, "invalid stream event skipped");
                    metrics::listener_event(stream, "invalid");
                }
            }
        }
    }
    jobs
}

/// Re-reads both streams from `since_ms` (to `until_ms`) and enqueues their jobs
/// without moving the stored positions. Returns (events read, jobs enqueued).
pub async fn replay(
    ctx: &StreamContext,
    since_ms: i64,
    until_ms: Option<i64>,
    mut progress: impl FnMut(u64),
) -> Result<(u64, u64), String> {
    let url = ctx.settings.redis.url().ok_or("replay needs redis.url")?;
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| e.to_string())?;
    let routing = Routing {
        update_wait: Duration::from_secs_f64(ctx.settings.workers.update_wait_secs),
    };
    let r = &ctx.settings.redis;
    let end = until_ms
        .map(|ms| format!("{ms}-18446744073709551615"))
        .unwrap_or_else(|| "+".to_string());
    let (mut read, mut enqueued) = (0u64, 0u64);
    for stream in [&r.product_updates_stream, &r.ocr_ready_stream] {
        let mut start = format!("{since_ms}-0");
        loop {
            let entries =
                redis_streams::range(&mut conn, stream, &start, &end, r.batch_size.max(1))
                    .await
                    .map_err(|e| e.to_string())?;
            let Some(last) = entries.last().map(|e| e.id.clone()) else {
                break;
            };
            let jobs = route_entries(&routing, ctx, stream, &entries, None);
            let w = &ctx.settings.workers;
            let mut tx = ctx.pool.begin().await.map_err(|e| e.to_string())?;
            enqueued += jobs::enqueue_batch(&mut tx, &jobs, w.shards, w.max_attempts)
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            read += entries.len() as u64;
            progress(read);
            start = format!("({last}");
        }
    }
    Ok((read, enqueued))
}

/// Positions per stream, for status pages and tests.
pub async fn positions(ctx: &StreamContext) -> Result<HashMap<String, String>, sqlx::Error> {
    let r = &ctx.settings.redis;
    stream_offsets::load(
        &ctx.pool,
        &[r.product_updates_stream.clone(), r.ocr_ready_stream.clone()],
    )
    .await
}
