//! Command-line interface: one subcommand per file.

pub mod extract_ocr;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Robotoff: predictions, insights and questions from Open Food Facts product photos.
#[derive(Debug, Parser)]
#[command(name = "robotoff", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Extract predictions from Google Cloud Vision OCR documents.
    ExtractOcr(extract_ocr::ExtractOcrArgs),
}

/// Entry point of the binary: runs the subcommand and maps errors to a message and exit code 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::ExtractOcr(args) => extract_ocr::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
