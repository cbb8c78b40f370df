//! Command-line interface: one subcommand per file, each parsing its arguments and
//! making one call into `app` or a domain module. The top of the house.

pub mod ann;
pub mod cluster;
pub mod extract_ocr;
pub mod import_products;
pub mod jobs;
pub mod migrate;
pub mod replay_updates;
pub mod serve;

use crate::config::{Overrides, Settings};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Robotoff: predictions, insights and questions from Open Food Facts product photos.
#[derive(Debug, Parser)]
#[command(name = "robotoff", version, about)]
pub struct Cli {
    /// Settings file read over the built-in defaults (config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: API, workers, scheduler, listener (as `roles` says).
    Serve(serve::ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Inspect and operate the job queue.
    Jobs(jobs::JobsArgs),
    /// Extract predictions from Google Cloud Vision OCR documents.
    ExtractOcr(extract_ocr::ExtractOcrArgs),
    /// Re-read Product Opener's update streams from a time and enqueue their jobs.
    ReplayUpdates(replay_updates::ReplayArgs),
    /// Load an Open Food Facts JSONL dump (plain or .gz) into the product store.
    ImportProducts(import_products::ImportProductsArgs),
    /// The logo nearest-neighbour index: rebuild it, or show what it holds.
    Ann(ann::AnnArgs),
    /// Cluster mode: members, shard owners, the update listener's holder.
    Cluster(cluster::ClusterArgs),
}

/// Entry point of the binary: runs the subcommand; an error is printed as one message
/// and exits with code 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::ExtractOcr(args) => extract_ocr::run(cli.config.as_deref(), args),
        Command::Serve(args) => serve::run(cli.config.as_deref(), args),
        Command::Migrate => migrate::run(cli.config.as_deref()),
        Command::Jobs(args) => jobs::run(cli.config.as_deref(), args),
        Command::ReplayUpdates(args) => replay_updates::run(cli.config.as_deref(), args),
        Command::ImportProducts(args) => import_products::run(cli.config.as_deref(), args),
        Command::Ann(args) => ann::run(cli.config.as_deref(), args),
        Command::Cluster(args) => cluster::run(cli.config.as_deref(), args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Loads settings from the defaults, `file`, the environment and `overrides`.
pub fn load_settings(
    file: Option<&std::path::Path>,
    overrides: &Overrides,
) -> anyhow::Result<Settings> {
    Ok(Settings::load(file, overrides)?)
}

/// Installs the log subscriber (`RUST_LOG` wins over `log.level`).
pub fn init_logging(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if settings.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// A multi-threaded runtime for async subcommands.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
