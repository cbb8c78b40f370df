//! `robotoff ann rebuild|stats`: the logo index under `index.dir`, operated from the
//! command line (see `ann`).

use crate::ann::{self, bench, npy, Quantization};
use crate::app::open_database;
use crate::config::Overrides;
use crate::infra::db::logo_index as db;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct AnnArgs {
    #[command(subcommand)]
    pub command: AnnCommand,
}

#[derive(Debug, Subcommand)]
pub enum AnnCommand {
    /// Build the index from every logo embedding in PostgreSQL and save it (stop the
    /// service first, or it keeps and later saves its own).
    Rebuild {
        /// Threads (default: `index.build_threads`, 0 meaning every core).
        #[arg(long)]
        threads: Option<usize>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// What the saved index holds, against PostgreSQL, as JSON.
    Stats,
    /// Tune the index: build it from `--base` with `--threads` threads, then search each
    /// query one at a time on one thread; prints one JSON line for the build and one per
    /// (ef, k) with recall against `--ground-truth`, queries per second and latencies.
    Bench(Box<BenchArgs>),
    /// Queue the neighbours (and votes) of unannotated logos whose neighbours are
    /// missing or older than `--days` again (Robotoff's refresh-logo-nearest-neighbors);
    /// a running service's workers carry the jobs out.
    Refresh {
        /// Age in days (default: `index.refresh_after_days`).
        #[arg(long)]
        days: Option<u32>,
        /// Logos read at a time (default: `index.refresh_batch`).
        #[arg(long)]
        batch_size: Option<i64>,
    },
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Base vectors: little-endian f32 `[n, 512]` (.npy).
    #[arg(long, required_unless_present = "load")]
    pub base: Option<PathBuf>,
    /// Query vectors: little-endian f32 `[nq, 512]` (.npy).
    #[arg(long)]
    pub queries: PathBuf,
    /// Exact neighbours of each query, as base row numbers: i64 `[nq, ≥ k]` (.npy).
    #[arg(long)]
    pub ground_truth: PathBuf,
    /// Neighbours asked for, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10,50")]
    pub k: Vec<usize>,
    /// Search expansions, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "32,64,128,256,512")]
    pub ef: Vec<usize>,
    /// Scalar kind: f32, f16, bf16 or i8 (default: `index.quantization`).
    #[arg(long)]
    pub quantization: Option<String>,
    /// Graph connectivity M (default: `index.connectivity`).
    #[arg(long)]
    pub connectivity: Option<usize>,
    /// Expansion while adding (default: `index.expansion_add`).
    #[arg(long)]
    pub expansion_add: Option<usize>,
    /// Build threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Also save the index in this directory and open it again, printing
    /// `{"save_s", "reload_s", "files_mb"}` (the searches then use the reopened index).
    #[arg(long)]
    pub save_dir: Option<PathBuf>,
    /// Search the index saved in this directory by `--save-dir` instead of building one
    /// (same quantization and connectivity); prints `{"reload_s", "vectors"}`.
    #[arg(long, conflicts_with_all = ["base", "save_dir"])]
    pub load: Option<PathBuf>,
}

/// Resident memory of this process, in MB.
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn bench(settings: &crate::config::Settings, args: BenchArgs) -> anyhow::Result<ExitCode> {
    let mut params = ann::params(&settings.index);
    if let Some(q) = &args.quantization {
        params.quantization = Quantization::parse(q)
            .ok_or_else(|| anyhow::anyhow!("--quantization must be f32, f16, bf16 or i8"))?;
    }
    if let Some(m) = args.connectivity {
        anyhow::ensure!(m >= 2, "--connectivity must be at least 2");
        params.connectivity = m;
    }
    if let Some(e) = args.expansion_add {
        anyhow::ensure!(e >= 1, "--expansion-add must be at least 1");
        params.expansion_add = e;
    }
    anyhow::ensure!(args.threads != Some(0), "--threads must be at least 1");
    anyhow::ensure!(
        !args.k.is_empty() && args.k.iter().all(|k| *k >= 1),
        "--k takes positive numbers"
    );
    anyhow::ensure!(
        !args.ef.is_empty() && args.ef.iter().all(|e| *e >= 1),
        "--ef takes positive numbers"
    );
    let queries = npy::read_f32(&args.queries)?;
    let truth = npy::read_i64(&args.ground_truth)?;
    anyhow::ensure!(
        queries.cols == ann::EMBEDDING_DIM,
        "query vectors must have {} dimensions, not {}",
        ann::EMBEDDING_DIM,
        queries.cols
    );
    anyhow::ensure!(
        truth.rows == queries.rows,
        "{} queries but {} ground-truth rows",
        queries.rows,
        truth.rows
    );
    let max_k = args.k.iter().copied().max().unwrap_or(10);
    anyhow::ensure!(
        truth.cols >= max_k,
        "the ground truth has {} neighbours per query, --k asks for {max_k}",
        truth.cols
    );
    let mut index = match (&args.load, &args.base) {
        (Some(dir), _) => {
            let clock = Instant::now();
            let (index, _) = ann::files::open(dir, params)?;
            println!(
                "{}",
                serde_json::json!({
                    "reload_s": clock.elapsed().as_secs_f64(),
                    "vectors": index.len(),
                })
            );
            index
        }
        (None, Some(base)) => build_for_bench(base.clone(), params, &args)?,
        (None, None) => anyhow::bail!("--base or --load is needed"),
    };
    for ef in &args.ef {
        for k in &args.k {
            let m = bench::measure(&mut index, &queries, &truth, *ef, *k)?;
            println!(
                "{}",
                serde_json::json!({
                    "ef": m.ef, "k": m.k, "recall": m.recall, "qps": m.qps,
                    "p50_ms": m.p50_ms, "p99_ms": m.p99_ms,
                })
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The bench's index built from `base` (and saved and reopened with `--save-dir`).
fn build_for_bench(
    base: PathBuf,
    params: ann::IndexParams,
    args: &BenchArgs,
) -> anyhow::Result<ann::LogoVectors> {
    let base = npy::read_f32(&base)?;
    anyhow::ensure!(
        base.cols == ann::EMBEDDING_DIM,
        "base vectors must have {} dimensions, not {}",
        ann::EMBEDDING_DIM,
        base.cols
    );
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let bar = ProgressBar::new(base.rows as u64);
    bar.set_style(ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} vectors ({per_sec}, {eta} left)",
    )?);
    let (mut index, built) = bench::build(&base, params, threads, &|n| bar.set_position(n as u64))?;
    bar.finish_and_clear();
    drop(base);
    println!(
        "{}",
        serde_json::json!({
            "build_s": built.seconds,
            "vectors": built.vectors,
            "rss_mb": rss_mb(),
            "index_mb": built.index_bytes as f64 / 1e6,
        })
    );
    if let Some(dir) = &args.save_dir {
        let clock = Instant::now();
        let manifest = ann::files::save(&index, dir, 0, &[])?;
        let save_s = clock.elapsed().as_secs_f64();
        drop(index);
        let clock = Instant::now();
        let (reopened, _) = ann::files::open(dir, params)?;
        let reload_s = clock.elapsed().as_secs_f64();
        index = reopened;
        println!(
            "{}",
            serde_json::json!({
                "save_s": save_s,
                "reload_s": reload_s,
                "files_mb": manifest.bytes() as f64 / 1e6,
            })
        );
    }
    Ok(index)
}

pub fn run(config: Option<&Path>, args: AnnArgs) -> anyhow::Result<ExitCode> {
    let settings = super::load_settings(config, &Overrides::default())?;
    let args = match args.command {
        AnnCommand::Bench(b) => return bench(&settings, *b),
        other => AnnArgs { command: other },
    };
    super::init_logging(&settings);
    let s = settings.index.clone();
    let params = ann::params(&s);
    super::runtime()?.block_on(async move {
        let (pool, local) = open_database(&settings, false).await?;
        crate::infra::db::migrate(&pool).await?;
        let code = match args.command {
            // Needs no database: handled above.
            AnnCommand::Bench(_) => ExitCode::SUCCESS,
            AnnCommand::Rebuild { threads, quiet } => {
                if threads == Some(0) {
                    anyhow::bail!("--threads must be at least 1");
                }
                let threads = threads.unwrap_or_else(|| ann::build_threads(&s));
                let bar = if quiet {
                    ProgressBar::hidden()
                } else {
                    let bar = ProgressBar::new(0);
                    bar.set_style(ProgressStyle::with_template(
                        "{elapsed_precise} [{bar:40}] {pos}/{len} logos ({per_sec}, {eta} left)",
                    )?);
                    bar
                };
                let clock = Instant::now();
                let (synced, report) = ann::sync::rebuild(&pool, params, threads, |done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                })
                .await?;
                bar.finish_and_clear();
                let built = clock.elapsed();
                let manifest = ann::files::save(&synced.vectors, &s.dir, synced.horizon, &synced.applied())?;
                println!(
                    "{}",
                    serde_json::json!({
                        "vectors": manifest.vectors,
                        "unusable": report.unusable,
                        "threads": threads,
                        "build_s": built.as_secs_f64(),
                        "save_s": (clock.elapsed() - built).as_secs_f64(),
                        "index_mb": manifest.bytes() as f64 / 1e6,
                        "dir": s.dir.display().to_string(),
                    })
                );
                ExitCode::SUCCESS
            }
            AnnCommand::Refresh { days, batch_size } => {
                if batch_size.is_some_and(|b| b < 1) {
                    anyhow::bail!("--batch-size must be at least 1");
                }
                let days = days.unwrap_or(s.refresh_after_days);
                let batch = batch_size.unwrap_or(s.refresh_batch);
                let w = &settings.workers;
                let r = crate::ann::refresh::refresh_nearest_neighbors(
                    &pool,
                    days,
                    batch,
                    w.shards,
                    w.max_attempts,
                    |_| {},
                )
                .await?;
                println!(
                    "{}",
                    serde_json::json!({
                        "days": days,
                        "image_predictions": r.image_predictions,
                        "jobs_queued": r.queued,
                    })
                );
                ExitCode::SUCCESS
            }
            AnnCommand::Stats => {
                let rows = db::embedded_count(&pool).await?;
                let clock = Instant::now();
                match ann::files::open(&s.dir, params) {
                    Ok((vectors, manifest)) => {
                        let load_s = clock.elapsed().as_secs_f64();
                        let changes = db::changes_since(&pool, manifest.horizon).await?;
                        let synced = ann::sync::Synced::restore(
                            std::sync::Arc::new(vectors),
                            manifest.horizon,
                            &manifest.applied,
                        );
                        let pending = synced.unapplied(&changes);
                        let vectors = &synced.vectors;
                        println!(
                            "{}",
                            serde_json::json!({
                                "dir": s.dir.display().to_string(),
                                "vectors": vectors.len(),
                                "postgresql_embeddings": rows,
                                "drift": rows - vectors.len() as i64,
                                "flavors": vectors.sizes().into_iter().filter(|(_, n)| *n > 0).collect::<std::collections::BTreeMap<_, _>>(),
                                "logos_changed_since_save": pending.len(),
                                "manifest": manifest,
                                "load_s": load_s,
                                "memory_mb": vectors.memory_usage() as f64 / 1e6,
                            })
                        );
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!(
                            "no usable index under {}: {e} ({rows} logo embeddings in PostgreSQL; `robotoff ann rebuild` builds it)",
                            s.dir.display()
                        );
                        ExitCode::from(1)
                    }
                }
            }
        };
        pool.close().await;
        drop(local);
        Ok(code)
    })
}
