//! Keeping the logo vectors in step with PostgreSQL: a full rebuild from
//! `embedding.logo_embedding`, and catching up with the logos changed since a horizon (see
//! `infra::db::logo_index`). Both read logos as they are *now*, so applying a change twice,
//! or out of order, gives the same index.

use super::files::OpenError;
use super::store::{from_le_bytes, IndexParams, LogoVectors, StoreError};
use crate::infra::db::logo_index::{self as db, IndexedLogo};
use crate::types::ServerType;
use sqlx::PgPool;
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

/// Logos read per query while rebuilding.
const REBUILD_BATCH: i64 = 2000;
/// Changed logos read per query while catching up.
const CATCH_UP_BATCH: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("reading logos from PostgreSQL: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("index build task: {0}")]
    Task(String),
}

/// An index and the horizon it is in sync with.
pub struct Synced {
    pub vectors: Arc<LogoVectors>,
    /// Every change of a transaction below it is applied.
    pub horizon: i64,
    /// Changes at or above the horizon already applied (their sequence number and
    /// transaction id): committed while an older transaction still ran.
    applied: HashMap<i64, i64>,
}

impl Synced {
    pub fn new(vectors: Arc<LogoVectors>, horizon: i64) -> Self {
        Synced {
            vectors,
            horizon,
            applied: HashMap::new(),
        }
    }

    /// An index saved with its horizon and the changes above it it already held.
    pub fn restore(vectors: Arc<LogoVectors>, horizon: i64, applied: &[(i64, i64)]) -> Self {
        Synced {
            vectors,
            horizon,
            applied: applied.iter().copied().collect(),
        }
    }

    /// The logos of `changes` (logged at or above the horizon) not yet applied, each once.
    pub fn unapplied(&self, changes: &[db::Change]) -> Vec<i32> {
        let mut ids: Vec<i32> = changes
            .iter()
            .filter(|c| !self.applied.contains_key(&c.seq))
            .map(|c| c.logo_id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The changes at or above the horizon already applied, as `(seq, xid)`, by seq.
    pub fn applied(&self) -> Vec<(i64, i64)> {
        let mut out: Vec<(i64, i64)> = self.applied.iter().map(|(s, x)| (*s, *x)).collect();
        out.sort_unstable();
        out
    }
}

/// What catching up did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatchUp {
    /// Logos added or replaced.
    pub upserted: usize,
    /// Logos removed.
    pub removed: usize,
    /// Logos whose stored embedding cannot be indexed (wrong size, zero norm).
    pub unusable: usize,
}

fn server_type(logo: &IndexedLogo) -> Option<ServerType> {
    logo.server_type
        .as_deref()
        .and_then(|s| ServerType::from_str(s).ok())
}

/// Builds the index from every embedded logo, with `threads` threads, then catches up
/// with what changed meanwhile. `progress(done, total)` is called after each batch.
pub async fn rebuild(
    pool: &PgPool,
    params: IndexParams,
    threads: usize,
    progress: impl Fn(u64, u64),
) -> Result<(Synced, CatchUp), SyncError> {
    // Changes from transactions at or above this horizon may be missing from what is
    // read below; catching up from it covers them.
    let start = db::horizon(pool).await?;
    let total = db::embedded_count(pool).await?.max(0) as u64;
    let vectors = Arc::new(LogoVectors::new(params)?);
    let threads = threads.max(1);
    let mut after = 0i32;
    let mut done = 0u64;
    let mut unusable = 0usize;
    progress(0, total);
    loop {
        let batch = db::logos_after(pool, after, REBUILD_BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = last.logo_id;
        done += batch.len() as u64;
        // Room for the batch in each flavor's graph, before any thread adds to it.
        let mut per_flavor: HashMap<Option<ServerType>, usize> = HashMap::new();
        for logo in &batch {
            *per_flavor.entry(server_type(logo)).or_default() += 1;
        }
        for (flavor, n) in per_flavor {
            vectors.reserve(flavor, n, threads)?;
        }
        let v = vectors.clone();
        let bad = tokio::task::spawn_blocking(move || add_parallel(&v, batch, threads))
            .await
            .map_err(|e| SyncError::Task(e.to_string()))??;
        unusable += bad;
        progress(done.min(total.max(done)), total.max(done));
    }
    let mut synced = Synced::new(vectors, start);
    let mut report = catch_up(pool, &mut synced).await?;
    report.unusable += unusable;
    report.upserted += done as usize - unusable;
    Ok((synced, report))
}

/// Adds new logos from `threads` threads; returns how many could not be indexed.
fn add_parallel(
    vectors: &LogoVectors,
    batch: Vec<IndexedLogo>,
    threads: usize,
) -> Result<usize, SyncError> {
    let threads = threads.clamp(1, batch.len().max(1));
    let batch = &batch;
    let results: Vec<Result<usize, StoreError>> = std::thread::scope(|s| {
        // Logos dealt out in turn: threads adding far-apart runs of rows at once build a
        // graph that is slower to search (measured with `robotoff ann bench`).
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut bad = 0;
                    for logo in batch.iter().skip(t).step_by(threads) {
                        let added = from_le_bytes(&logo.embedding).and_then(|e| {
                            vectors.add_new(i64::from(logo.logo_id), server_type(logo), &e)
                        });
                        match added {
                            Ok(()) => {}
                            Err(StoreError::Index(e)) => return Err(StoreError::Index(e)),
                            Err(e) => {
                                tracing::warn!(logo = logo.logo_id, error = %e, "logo embedding not indexed");
                                bad += 1;
                            }
                        }
                    }
                    Ok(bad)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(StoreError::Index("an indexing thread panicked".into()))
                })
            })
            .collect()
    });
    let mut bad = 0;
    for r in results {
        bad += r?;
    }
    Ok(bad)
}

/// Applies every logo change committed since `synced.horizon` (each once, even while an
/// older transaction holds the horizon back) and moves the horizon on.
pub async fn catch_up(pool: &PgPool, synced: &mut Synced) -> Result<CatchUp, SyncError> {
    // The horizon first: every change below it is visible to the read that follows.
    let to = db::horizon(pool).await?;
    let changes = db::changes_since(pool, synced.horizon).await?;
    let mut report = CatchUp::default();
    let ids = synced.unapplied(&changes);
    for chunk in ids.chunks(CATCH_UP_BATCH) {
        let logos = db::logos(pool, chunk).await?;
        let chunk = chunk.to_vec();
        let v = synced.vectors.clone();
        let r = tokio::task::spawn_blocking(move || apply(&v, &chunk, logos))
            .await
            .map_err(|e| SyncError::Task(e.to_string()))??;
        report.upserted += r.upserted;
        report.removed += r.removed;
        report.unusable += r.unusable;
    }
    let horizon = to.max(synced.horizon);
    synced
        .applied
        .extend(changes.iter().map(|c| (c.seq, c.xid)));
    synced.applied.retain(|_, xid| *xid >= horizon);
    synced.horizon = horizon;
    Ok(report)
}

/// Makes the index hold exactly `logos` among `ids`.
fn apply(
    vectors: &LogoVectors,
    ids: &[i32],
    logos: Vec<IndexedLogo>,
) -> Result<CatchUp, SyncError> {
    let mut report = CatchUp::default();
    let present: std::collections::HashMap<i32, IndexedLogo> =
        logos.into_iter().map(|l| (l.logo_id, l)).collect();
    for id in ids {
        match present.get(id) {
            Some(logo) => {
                let added = from_le_bytes(&logo.embedding)
                    .and_then(|e| vectors.upsert(i64::from(*id), server_type(logo), &e));
                match added {
                    Ok(()) => report.upserted += 1,
                    Err(StoreError::Index(e)) => return Err(StoreError::Index(e).into()),
                    Err(e) => {
                        tracing::warn!(logo = id, error = %e, "logo embedding not indexed");
                        vectors.remove(i64::from(*id))?;
                        report.unusable += 1;
                    }
                }
            }
            None => {
                if vectors.remove(i64::from(*id))? {
                    report.removed += 1;
                }
            }
        }
    }
    Ok(report)
}

/// How the index was obtained at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// Loaded from its files, then caught up.
    Loaded,
    /// Rebuilt from PostgreSQL, and why.
    Rebuilt(String),
}

/// Opens the index saved under `dir` and catches it up, or rebuilds it from PostgreSQL
/// when there is none, it is damaged, it was built with other parameters, or the change
/// log no longer reaches back to it.
pub async fn open_or_rebuild(
    pool: &PgPool,
    dir: &Path,
    params: IndexParams,
    threads: usize,
) -> Result<(Synced, Opened, CatchUp), SyncError> {
    let why = match super::files::open(dir, params) {
        Ok((vectors, manifest)) => {
            let pruned = db::pruned_below(pool).await?;
            if manifest.horizon >= pruned {
                let mut synced =
                    Synced::restore(Arc::new(vectors), manifest.horizon, &manifest.applied);
                let report = catch_up(pool, &mut synced).await?;
                return Ok((synced, Opened::Loaded, report));
            }
            format!(
                "the saved index (horizon {}) is older than the change log (from {pruned})",
                manifest.horizon
            )
        }
        Err(OpenError::Missing) => "no saved index".to_string(),
        Err(e) => e.to_string(),
    };
    tracing::warn!(dir = %dir.display(), reason = %why, "rebuilding the logo index from PostgreSQL");
    let (synced, report) = rebuild(pool, params, threads, |_, _| {}).await?;
    Ok((synced, Opened::Rebuilt(why), report))
}
