//! `robotoff ann rebuild|stats`: the logo index under `index.dir`, operated from the
//! command line (see `ann`).

use crate::ann::{self, LogoVectors};
use crate::app::open_database;
use crate::config::Overrides;
use crate::infra::db::logo_index as db;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;
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

pub fn run(config: Option<&Path>, args: AnnArgs) -> anyhow::Result<ExitCode> {
    let settings = super::load_settings(config, &Overrides::default())?;
    super::init_logging(&settings);
    let s = settings.index.clone();
    let params = ann::params(&s);
    super::runtime()?.block_on(async move {
        let (pool, local) = open_database(&settings, false).await?;
        crate::infra::db::migrate(&pool).await?;
        let code = match args.command {
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
                let manifest = synced.vectors.save(&s.dir, synced.horizon)?;
                println!(
                    "{}",
                    serde_json::json!({
                        "vectors": manifest.vectors,
                        "unusable": report.unusable,
                        "threads": threads,
                        "build_s": built.as_secs_f64(),
                        "save_s": (clock.elapsed() - built).as_secs_f64(),
                        "index_mb": manifest.file_len as f64 / 1e6,
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
                match LogoVectors::open(&s.dir, params) {
                    Ok((vectors, manifest)) => {
                        let load_s = clock.elapsed().as_secs_f64();
                        let now = db::horizon(&pool).await?;
                        let pending = db::changed_logos(&pool, manifest.horizon, now).await?;
                        println!(
                            "{}",
                            serde_json::json!({
                                "dir": s.dir.display().to_string(),
                                "vectors": vectors.len(),
                                "postgresql_embeddings": rows,
                                "drift": rows - vectors.len() as i64,
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
