//! `robotoff extract-ocr` end to end: inputs, formats, per-input errors and exit codes.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"))
}

fn real_docs() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/conformance/real_docs"
    ))
}

fn robotoff(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_robotoff"));
    cmd.arg("extract-ocr")
        .arg("--data-dir")
        .arg(data_dir())
        .args(args)
        .env_remove("ROBOTOFF__DATA__DIR")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting robotoff: {e}"));
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(bytes)
            .unwrap_or_else(|e| panic!("writing stdin: {e}"));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("running robotoff: {e}"))
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("robotoff-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
}

#[test]
fn a_directory_is_walked_recursively_in_sorted_order() {
    let dir = temp_dir("walk");
    std::fs::create_dir_all(dir.join("b/c")).unwrap_or_default();
    copy(
        &real_docs().join("face_detection.json"),
        &dir.join("b/c/z.json"),
    );
    copy(
        &real_docs().join("5000159422345_3.json.gz"),
        &dir.join("b/a.json.gz"),
    );
    copy(
        &real_docs().join("9421023629015_5.json"),
        &dir.join("a.json"),
    );
    std::fs::write(dir.join("notes.txt"), "not a document").unwrap_or_default();
    let out = robotoff(&["--types", "all", dir.to_str().unwrap_or_default()], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = lines(&out);
    let sources: Vec<String> = rows
        .iter()
        .map(|r| r["source"].as_str().unwrap_or_default().to_string())
        .collect();
    let d = dir.display();
    assert_eq!(
        sources,
        vec![
            format!("{d}/a.json"),
            format!("{d}/b/a.json.gz"),
            format!("{d}/b/c/z.json")
        ]
    );
    // face_detection.json: two image flags (face label and face annotation).
    let flags = rows[2]["predictions"]
        .as_array()
        .map(|p| p.iter().filter(|x| x["type"] == "image_flag").count());
    assert_eq!(flags, Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_input_is_reported_and_does_not_stop_the_others() {
    let dir = temp_dir("bad");
    std::fs::write(dir.join("broken.json"), "{\"responses\": [").unwrap_or_default();
    let good = real_docs().join("face_detection.json");
    let broken = dir.join("broken.json");
    let missing = dir.join("missing.json");
    let out = robotoff(
        &[
            broken.to_str().unwrap_or_default(),
            good.to_str().unwrap_or_default(),
            missing.to_str().unwrap_or_default(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let rows = lines(&out);
    assert_eq!(rows.len(), 3);
    assert!(rows[0]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("invalid OCR JSON"));
    assert!(rows[1]["predictions"].is_array());
    assert!(rows[2]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("reading"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stdin_and_json_format() {
    let doc = std::fs::read(real_docs().join("face_detection.json")).unwrap_or_default();
    let out = robotoff(&["--format", "json", "--jobs", "1", "-"], Some(&doc));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let rows = all.as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["source"], "-");
    // Default types run in Robotoff's default order: image_flag before image_lang.
    let kinds: Vec<&str> = rows[0]["predictions"]
        .as_array()
        .map(|p| p.iter().filter_map(|x| x["type"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        kinds,
        vec![
            "image_flag",
            "image_flag",
            "image_lang",
            "image_orientation"
        ]
    );
}

#[test]
fn usage_errors_exit_with_2() {
    let doc = real_docs().join("face_detection.json");
    let doc = doc.to_str().unwrap_or_default();
    for args in [
        vec!["--types", "nope", doc],
        vec!["--types", "nutrition_image", doc],
        vec!["--format", "xml", doc],
        vec!["--jobs", "0", doc],
    ] {
        let out = robotoff(&args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
    let out = Command::new(env!("CARGO_BIN_EXE_robotoff"))
        .args(["extract-ocr", "--data-dir", "/nonexistent-data", doc])
        .env_remove("ROBOTOFF__DATA__DIR")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent-data"));
}
