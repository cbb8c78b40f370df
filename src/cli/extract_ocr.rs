//! `robotoff extract-ocr`: OCR documents in, predictions out.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ExtractOcrArgs {
    /// Comma-separated prediction types, or `all`.
    #[arg(long)]
    pub types: Option<String>,
    /// Output format: json or jsonl.
    #[arg(long, default_value = "jsonl")]
    pub format: String,
    /// Number of worker threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Files (.json, .json.gz), directories, or `-` for stdin.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

pub fn run(_args: ExtractOcrArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("extract-ocr is not implemented yet")
}
