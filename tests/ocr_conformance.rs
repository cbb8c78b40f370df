//! Conformance with Robotoff: every case of `shared/conformance/ocr_cases.json`,
//! `ocr_function_cases.json` and `flashtext_cases.json` is one test, named
//! `ocr::<id>`, `fn::<id>` and `flashtext::<id>`. Cases listed in
//! `tests/ocr_conformance_allowlist.txt` are reported as ignored (each line gives the
//! reason).

#[path = "ocr_conformance/compare.rs"]
mod compare;
#[path = "ocr_conformance/extractors.rs"]
mod extractors;
#[path = "ocr_conformance/flashtext.rs"]
mod flashtext;
#[path = "ocr_conformance/functions.rs"]
mod functions;

use libtest_mimic::{Arguments, Failed, Trial};
use robotoff::ocr::OcrResources;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

pub fn shared_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"))
}

pub fn data_dir() -> PathBuf {
    shared_dir().join("data")
}

pub fn conformance_dir() -> PathBuf {
    shared_dir().join("conformance")
}

/// One resource set for all cases (built lazily, shared by the test threads).
pub fn resources() -> &'static OcrResources {
    static RES: OnceLock<OcrResources> = OnceLock::new();
    RES.get_or_init(|| OcrResources::new(data_dir()))
}

fn load(name: &str) -> Vec<Value> {
    let path = conformance_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str::<Vec<Value>>(&text)
        .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn allow_list() -> HashMap<String, String> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/ocr_conformance_allowlist.txt"
    ));
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (id, reason) = l.split_once(char::is_whitespace)?;
            Some((id.to_string(), reason.trim().to_string()))
        })
        .collect()
}

type CaseFn = fn(&Value) -> Result<(), String>;

fn trials(file: &str, prefix: &str, run: CaseFn, allowed: &HashMap<String, String>) -> Vec<Trial> {
    load(file)
        .into_iter()
        .map(|case| {
            let id = case.get("id").and_then(Value::as_str).unwrap_or("?");
            let name = format!("{prefix}::{id}");
            let ignored = allowed.contains_key(&name);
            let case = Arc::new(case);
            Trial::test(name, move || run(&case).map_err(Failed::from)).with_ignored_flag(ignored)
        })
        .collect()
}

fn main() {
    let args = Arguments::from_args();
    let allowed = allow_list();
    let mut all = trials("ocr_cases.json", "ocr", extractors::run_case, &allowed);
    all.extend(trials(
        "ocr_function_cases.json",
        "fn",
        functions::run_case,
        &allowed,
    ));
    all.extend(trials(
        "flashtext_cases.json",
        "flashtext",
        flashtext::run_case,
        &allowed,
    ));
    libtest_mimic::run(&args, all).exit();
}
