//! `robotoff import-products FILE`: an Open Food Facts JSONL dump (plain or gzip) into
//! the product store, with a progress bar and a summary (see `product_store::import`).

use crate::app::open_database;
use crate::config::Overrides;
use crate::product_store::import::{default_parsers, import, ImportOptions, Progress};
use crate::types::ServerType;
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct ImportProductsArgs {
    /// The dump: one product JSON per line, plain or gzip-compressed.
    pub file: PathBuf,
    /// File every product under this flavor (off, obf, opff, opf, off_pro) instead of
    /// reading each line's `product_type`.
    #[arg(long)]
    pub server_type: Option<String>,
    /// Products per database batch.
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Parallel database writers (each product always goes through the same one).
    #[arg(long, default_value_t = 3)]
    pub writers: usize,
    /// Line-parsing threads (default: the number of CPUs).
    #[arg(long)]
    pub parsers: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(config: Option<&Path>, args: ImportProductsArgs) -> anyhow::Result<ExitCode> {
    let forced = args
        .server_type
        .as_deref()
        .map(ServerType::from_str)
        .transpose()?;
    if args.batch_size == 0 || args.writers == 0 || args.parsers == Some(0) {
        anyhow::bail!("--batch-size, --writers and --parsers must be at least 1");
    }
    let file =
        File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let settings = super::load_settings(config, &Overrides::default())?;
    super::init_logging(&settings);
    super::runtime()?.block_on(async move {
        let (pool, local) = open_database(&settings, false).await?;
        crate::infra::db::migrate(&pool).await?;
        let bar = if args.quiet {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::new(size);
            bar.set_style(ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {msg} eta {eta}",
            )?);
            bar
        };
        let clock = Instant::now();
        let options = ImportOptions {
            server_type: forced,
            batch_size: args.batch_size,
            writers: args.writers,
            parsers: args.parsers.unwrap_or_else(default_parsers),
        };
        let progress = |p: Progress| {
            bar.set_position(p.bytes_read);
            bar.set_message(format!("{} products", p.imported));
        };
        let result = import(&pool, file, &options, &progress).await;
        bar.finish_and_clear();
        pool.close().await;
        drop(local);
        let summary = result?;
        let secs = clock.elapsed().as_secs_f64();
        println!(
            "{summary} in {secs:.1} s ({:.0} products/s, peak RSS {})",
            summary.imported as f64 / secs.max(1e-9),
            peak_rss().map_or("unknown".to_string(), |kb| format!("{} MB", kb / 1024)),
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// Peak resident memory of this process in KiB (Linux `VmHWM`).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
