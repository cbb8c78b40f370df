//! `robotoff ann bench`: builds an index from a base of vectors with several threads, then
//! searches it one query at a time on one thread and measures recall against exact
//! neighbours, queries per second and latency percentiles.

use super::npy::Matrix;
use super::store::{IndexParams, LogoVectors, StoreError};
use crate::types::ServerType;
use std::time::{Duration, Instant};

/// What building took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Build {
    pub seconds: f64,
    pub vectors: usize,
    pub index_bytes: usize,
}

/// One (ef, k) measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    pub ef: usize,
    pub k: usize,
    pub recall: f64,
    pub qps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Builds the index of `base` (row numbers as ids) with `threads` threads;
/// `progress(done)` now and then.
pub fn build(
    base: &Matrix<f32>,
    params: IndexParams,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(LogoVectors, Build), StoreError> {
    let vectors = LogoVectors::new(params)?;
    let threads = threads.max(1);
    vectors.reserve(Some(ServerType::Off), base.rows.max(1), threads)?;
    let clock = Instant::now();
    let done = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| -> Result<(), StoreError> {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (vectors, done) = (&vectors, &done);
                // Rows in order, dealt out in turn, as a rebuild adds them.
                s.spawn(move || -> Result<(), StoreError> {
                    for row in (t..base.rows).step_by(threads) {
                        vectors.add_new(row as i64, Some(ServerType::Off), base.row(row))?;
                        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        if n % 4096 == 0 {
                            progress(n);
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| StoreError::Index("a build thread panicked".into()))??;
        }
        Ok(())
    })?;
    progress(base.rows);
    let seconds = clock.elapsed().as_secs_f64();
    let index_bytes = vectors.serialized_len();
    Ok((
        vectors,
        Build {
            seconds,
            vectors: base.rows,
            index_bytes,
        },
    ))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// Searches every query at `ef` for its `k` nearest, one at a time, and compares with
/// the first `k` exact neighbours of `truth`.
pub fn measure(
    index: &mut LogoVectors,
    queries: &Matrix<f32>,
    truth: &Matrix<i64>,
    ef: usize,
    k: usize,
) -> Result<Measure, StoreError> {
    index.set_expansion_search(ef);
    let mut times = Vec::with_capacity(queries.rows);
    let mut hits = 0usize;
    let clock = Instant::now();
    for q in 0..queries.rows {
        let t = Instant::now();
        let found = index.search(queries.row(q), k, None, None)?;
        times.push(t.elapsed());
        let want = &truth.row(q)[..k.min(truth.cols)];
        hits += found.iter().filter(|n| want.contains(&n.logo_id)).count();
    }
    let total = clock.elapsed().as_secs_f64();
    times.sort_unstable();
    Ok(Measure {
        ef,
        k,
        recall: hits as f64 / (queries.rows.max(1) * k) as f64,
        qps: queries.rows as f64 / total.max(f64::MIN_POSITIVE),
        p50_ms: percentile(&times, 0.5),
        p99_ms: percentile(&times, 0.99),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ann::store::Quantization;
    use rand::{Rng, SeedableRng};

    #[test]
    fn exact_neighbours_give_full_recall_on_a_small_base() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let rows = 400;
        let data: Vec<f32> = (0..rows * 512)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let base = Matrix {
            rows,
            cols: 512,
            data,
        };
        let queries = Matrix {
            rows: 5,
            cols: 512,
            data: base.data[..5 * 512].to_vec(),
        };
        // Each query is a base row: its own row is its nearest neighbour.
        let truth = Matrix {
            rows: 5,
            cols: 1,
            data: (0..5).collect(),
        };
        let params = IndexParams {
            quantization: Quantization::F32,
            ..IndexParams::default()
        };
        let (mut index, b) = build(&base, params, 2, &|_| {}).unwrap();
        assert_eq!(b.vectors, rows);
        assert_eq!(index.len(), rows);
        let m = measure(&mut index, &queries, &truth, 64, 1).unwrap();
        assert_eq!(m.recall, 1.0);
        assert!(m.qps > 0.0 && m.p50_ms <= m.p99_ms);
    }
}
