//! `robotoff extract-ocr`: OCR documents in, predictions out.

use crate::ocr::{self, OcrResources, DEFAULT_OCR_PREDICTION_TYPES, OCR_PREDICTION_TYPES};
use crate::types::PredictionType;
use anyhow::{bail, Context};
use clap::Args;
use rayon::prelude::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Documents processed (and held in memory) per batch; output keeps input order.
const BATCH: usize = 256;

#[derive(Debug, Args)]
pub struct ExtractOcrArgs {
    /// Comma-separated prediction types, or `all` (default: the types Robotoff extracts
    /// from every new image).
    #[arg(long)]
    pub types: Option<String>,
    /// Output format: json or jsonl.
    #[arg(long, default_value = "jsonl")]
    pub format: String,
    /// Number of worker threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Data directory (taxonomies, OCR keyword lists).
    #[arg(long, env = "ROBOTOFF__DATA__DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Files (.json, .json.gz), directories, or `-` for stdin.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Jsonl,
}

/// The prediction types of a `--types` value, in the order they run.
pub fn parse_types(spec: Option<&str>) -> anyhow::Result<Vec<PredictionType>> {
    let Some(spec) = spec else {
        return Ok(DEFAULT_OCR_PREDICTION_TYPES.to_vec());
    };
    if spec.trim() == "all" {
        return Ok(OCR_PREDICTION_TYPES.to_vec());
    }
    let mut types = Vec::new();
    for name in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let kind: PredictionType = name.parse()?;
        if !OCR_PREDICTION_TYPES.contains(&kind) {
            bail!("{name} is not an OCR prediction type");
        }
        types.push(kind);
    }
    if types.is_empty() {
        bail!("--types names no prediction type");
    }
    Ok(types)
}

/// One document to process and the name it is reported under.
#[derive(Debug, Clone)]
enum Input {
    Stdin,
    File { path: PathBuf, source: String },
}

impl Input {
    fn source(&self) -> &str {
        match self {
            Self::Stdin => "-",
            Self::File { source, .. } => source,
        }
    }

    fn read(&self) -> anyhow::Result<Vec<u8>> {
        match self {
            Self::Stdin => {
                let mut buf = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .context("reading standard input")?;
                Ok(buf)
            }
            Self::File { path, .. } => {
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))
            }
        }
    }
}

fn is_ocr_file(path: &Path) -> bool {
    let name = path.to_string_lossy();
    name.ends_with(".json") || name.ends_with(".json.gz")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("listing directory {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("listing directory {}", dir.display()))?;
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if is_ocr_file(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Expands directories (recursively, sorted) into their `.json` / `.json.gz` files.
fn expand_inputs(args: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for arg in args {
        if arg.as_os_str() == "-" {
            inputs.push(Input::Stdin);
        } else if arg.is_dir() {
            let mut found = Vec::new();
            walk(arg, &mut found)?;
            found.sort();
            inputs.extend(found.into_iter().map(|path| Input::File {
                source: path.display().to_string(),
                path,
            }));
        } else {
            inputs.push(Input::File {
                source: arg.display().to_string(),
                path: arg.clone(),
            });
        }
    }
    Ok(inputs)
}

/// The output object of one input: its predictions or its error.
fn process(input: &Input, types: &[PredictionType], res: &OcrResources) -> (Value, bool) {
    let result = input
        .read()
        .and_then(|bytes| ocr::extract_from_bytes(&bytes, types, res).map_err(Into::into));
    match result {
        Ok(predictions) => (
            json!({"source": input.source(), "predictions": predictions}),
            true,
        ),
        Err(err) => (
            json!({"source": input.source(), "error": format!("{err:#}")}),
            false,
        ),
    }
}

pub fn run(args: ExtractOcrArgs) -> anyhow::Result<ExitCode> {
    let format = match args.format.as_str() {
        "json" => Format::Json,
        "jsonl" => Format::Jsonl,
        other => bail!("unknown output format {other:?} (expected json or jsonl)"),
    };
    let types = parse_types(args.types.as_deref())?;
    let inputs = expand_inputs(&args.inputs)?;
    if inputs.iter().filter(|i| matches!(i, Input::Stdin)).count() > 1 {
        bail!("standard input (-) can be given only once");
    }
    let res = OcrResources::new(&args.data_dir);
    for kind in &types {
        ocr::prepare(*kind, &res)
            .with_context(|| format!("loading data for {kind} from {}", args.data_dir.display()))?;
    }
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(jobs) = args.jobs {
        if jobs == 0 {
            bail!("--jobs must be at least 1");
        }
        pool = pool.num_threads(jobs);
    }
    let pool = pool.build().context("starting worker threads")?;

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut all_ok = true;
    let mut first = true;
    if format == Format::Json {
        out.write_all(b"[")?;
    }
    for batch in inputs.chunks(BATCH) {
        let results: Vec<(Value, bool)> =
            pool.install(|| batch.par_iter().map(|i| process(i, &types, &res)).collect());
        for (value, ok) in results {
            all_ok &= ok;
            match format {
                Format::Jsonl => {
                    serde_json::to_writer(&mut out, &value)?;
                    out.write_all(b"\n")?;
                }
                Format::Json => {
                    if !first {
                        out.write_all(b",")?;
                    }
                    serde_json::to_writer(&mut out, &value)?;
                }
            }
            first = false;
        }
    }
    if format == Format::Json {
        out.write_all(b"]\n")?;
    }
    out.flush()?;
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
