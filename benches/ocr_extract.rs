//! OCR extraction benchmark: documents/s on one core and on all cores, per-document
//! latency percentiles, peak memory, and the start-up cost of loading each data set.
//!
//! `cargo bench --bench ocr_extract -- [--docs N] [--seed S] [--types all|t1,t2]
//!  [--real] [--write-corpus DIR]` (release profile). The corpus is built from the real
//! documents in `shared/conformance/real_docs`: with `--real`, those pages and variants
//! of them that keep their shape (shuffled words, words of other languages from the
//! taxonomies, merged pages), gzipped as Product Opener stores them; without it,
//! synthetic pages made of their blocks. `--write-corpus` writes the corpus to a
//! directory for `robotoff extract-ocr` (see `scripts/bench-ocr`).

use anyhow::{bail, Context};
use rayon::prelude::*;
use robotoff::ocr::corpus::variants::{taxonomy_words, RealShaped};
use robotoff::ocr::corpus::CorpusGenerator;
use robotoff::ocr::{self, OcrContent, OcrDocument, OcrResources, OCR_PREDICTION_TYPES};
use robotoff::types::PredictionType;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn shared() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"))
}

fn read_seed_documents(dir: &Path) -> anyhow::Result<Vec<Value>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    let mut docs = Vec::new();
    for p in paths {
        let bytes = std::fs::read(&p)?;
        let bytes = if p.to_string_lossy().ends_with(".gz") {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out)?;
            out
        } else {
            bytes
        };
        docs.push(serde_json::from_slice(&bytes)?);
    }
    Ok(docs)
}

fn gunzip(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out)?;
    Ok(out)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes)
        .and_then(|()| enc.finish())
        .unwrap_or_default()
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(idx).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn run_one(bytes: &[u8], types: &[PredictionType], res: &OcrResources) -> usize {
    match OcrDocument::from_bytes(bytes) {
        Ok(doc) => ocr::extract(&OcrContent::Document(&doc), types, res)
            .map(|p| p.len())
            .unwrap_or(0),
        Err(_) => 0,
    }
}

fn main() -> anyhow::Result<()> {
    let mut docs_n: u64 = 2000;
    let mut seed: u64 = 20240601;
    let mut types: Vec<PredictionType> = OCR_PREDICTION_TYPES.to_vec();
    let mut write_corpus: Option<PathBuf> = None;
    let mut real = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--docs" => docs_n = args.next().context("--docs N")?.parse()?,
            "--seed" => seed = args.next().context("--seed S")?.parse()?,
            "--types" => {
                let spec = args.next().context("--types LIST")?;
                if spec != "all" {
                    types = spec.split(',').map(str::parse).collect::<Result<_, _>>()?;
                }
            }
            "--write-corpus" => {
                write_corpus = Some(args.next().context("--write-corpus DIR")?.into())
            }
            "--real" => real = true,
            "--bench" => {}
            other => bail!("unknown argument {other}"),
        }
    }

    // Start-up: each data set loaded on its own, then everything.
    let data_dir = shared().join("data");
    println!("start-up (loading from {})", data_dir.display());
    let res = OcrResources::new(&data_dir);
    let t_all = Instant::now();
    for kind in &types {
        let t = Instant::now();
        ocr::prepare(*kind, &res)?;
        println!("  {:<18} {:>8.1} ms", kind.as_str(), ms(t.elapsed()));
    }
    println!("  {:<18} {:>8.1} ms", "total", ms(t_all.elapsed()));

    // Corpus.
    let seeds = read_seed_documents(&shared().join("conformance/real_docs"))?;
    let t = Instant::now();
    let corpus: Vec<(String, Vec<u8>)> = if real {
        let mut vocabulary = Vec::new();
        for name in ["ingredients", "categories"] {
            let path = data_dir.join(format!("taxonomies/{name}.full.json.gz"));
            let bytes = gunzip(&std::fs::read(&path).with_context(|| path.display().to_string())?)?;
            vocabulary.extend(taxonomy_words(&serde_json::from_slice(&bytes)?));
        }
        let generator = RealShaped::new(&seeds, vocabulary, seed)?;
        (0..docs_n)
            .into_par_iter()
            .map(|i| {
                let (variant, doc) = generator.document(i);
                let json = serde_json::to_vec(&doc).unwrap_or_default();
                let name = format!("real_{i:06}_{}.json.gz", variant.as_str());
                (name, gzip(&json))
            })
            .collect()
    } else {
        let generator = CorpusGenerator::from_documents(&seeds, seed)?;
        (0..docs_n)
            .into_par_iter()
            .map(|i| {
                let json = serde_json::to_vec(&generator.document(i)).unwrap_or_default();
                (format!("synthetic_{i:06}.json"), json)
            })
            .collect()
    };
    let total_bytes: usize = corpus.iter().map(|(_, b)| b.len()).sum();
    println!(
        "corpus: {} {} documents, {:.1} MiB as stored, generated in {:.1} s (seed {seed})",
        corpus.len(),
        if real { "real-shaped" } else { "synthetic" },
        total_bytes as f64 / 1048576.0,
        t.elapsed().as_secs_f64()
    );
    if let Some(dir) = &write_corpus {
        std::fs::create_dir_all(dir)?;
        for (name, bytes) in &corpus {
            std::fs::File::create(dir.join(name))?.write_all(bytes)?;
        }
        println!("corpus written to {}", dir.display());
    }
    let corpus: Vec<Vec<u8>> = corpus.into_iter().map(|(_, b)| b).collect();

    // One core: parse + extract, one document after the other.
    let mut latencies = Vec::with_capacity(corpus.len());
    let mut predictions = 0usize;
    let t = Instant::now();
    for bytes in &corpus {
        let t1 = Instant::now();
        predictions += run_one(bytes, &types, &res);
        latencies.push(t1.elapsed());
    }
    let one = t.elapsed();
    latencies.sort();
    println!(
        "one core:  {:>8.1} documents/s  ({} predictions; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms)",
        corpus.len() as f64 / one.as_secs_f64(),
        predictions,
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );

    // All cores.
    let threads = rayon::current_num_threads();
    let t = Instant::now();
    let n: usize = corpus.par_iter().map(|b| run_one(b, &types, &res)).sum();
    let all = t.elapsed();
    println!(
        "{threads} cores: {:>8.1} documents/s  ({n} predictions)",
        corpus.len() as f64 / all.as_secs_f64()
    );
    if let Some(kib) = peak_rss_kib() {
        println!("peak RSS: {:.1} MiB", kib as f64 / 1024.0);
    }
    Ok(())
}
