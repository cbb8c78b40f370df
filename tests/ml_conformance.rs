//! `robotoff::ml` against the reference implementation: the cases in
//! tests/conformance/ml/ were produced by scripts/ml_cases.py with the Open Food Facts
//! SDK 3.4.5, OpenCV 4.12 and transformers' `CLIPImageProcessor` (the versions Robotoff
//! pins). Letterboxed tensors, decoded objects and CLIP inputs must be bit-identical.

use image::{Rgb, RgbImage};
use robotoff::ml::clip::{logo_crop_224, ClipBatch};
use robotoff::ml::letterbox::letterbox;
use robotoff::ml::yolo::{decode, NmsBoxOrder, PostprocessOptions};
use robotoff::ml::DetectedObject;
use serde_json::Value;
use std::path::PathBuf;

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance/ml")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn cases(doc: &Value) -> &Vec<Value> {
    doc["cases"].as_array().expect("cases")
}

fn u32_of(v: &Value) -> u32 {
    v.as_u64().expect("integer") as u32
}

/// The synthetic image of scripts/ml_cases.py (`pattern`).
fn pattern(kind: &str, width: u32, height: u32, seed: u64) -> RgbImage {
    const MASK: u64 = 0xFFFF_FFFF;
    RgbImage::from_fn(width, height, |x, y| {
        let mut px = [0u8; 3];
        for (c, out) in px.iter_mut().enumerate() {
            let (x, y, c) = (u64::from(x), u64::from(y), c as u64);
            let (hx, hy) = if kind == "blocks" {
                (x / 13, y / 17)
            } else {
                (x, y)
            };
            let mut h =
                (hx * 0x9E37_79B1 + hy * 0x85EB_CA77 + c * 0xC2B2_AE3D + seed * 0x27D4_EB2F) & MASK;
            h ^= h >> 15;
            h = (h * 0x2C1B_3C6D) & MASK;
            h ^= h >> 12;
            h = (h * 0x297A_2D39) & MASK;
            h ^= h >> 15;
            *out = match kind {
                "noise" | "blocks" => (h & 255) as u8,
                "gradient" => (((x * 7 + y * 3) / 5 + 85 * c + (h & 7)) & 255) as u8,
                _ => panic!("unknown pattern {kind}"),
            };
        }
        Rgb(px)
    })
}

fn pattern_of(case: &Value) -> RgbImage {
    pattern(
        case["kind"].as_str().expect("kind"),
        u32_of(&case["width"]),
        u32_of(&case["height"]),
        case["seed"].as_u64().expect("seed"),
    )
}

/// Sum of bits[i] · (i mod 65521 + 1), modulo 2^64 (scripts/ml_cases.py `checksum_f32`).
fn checksum_f32(values: &[f32]) -> u64 {
    values.iter().enumerate().fold(0u64, |acc, (i, v)| {
        acc.wrapping_add(u64::from(v.to_bits()).wrapping_mul((i % 65521) as u64 + 1))
    })
}

/// Compares sampled values; returns (mismatches, max abs difference).
fn compare_samples(values: &[f32], samples: &Value) -> (usize, f32) {
    let mut mismatches = 0;
    let mut max_diff = 0.0f32;
    for s in samples.as_array().expect("samples") {
        let i = s[0].as_u64().expect("index") as usize;
        let want = s[1].as_f64().expect("value") as f32;
        let got = values[i];
        if got.to_bits() != want.to_bits() {
            mismatches += 1;
            max_diff = max_diff.max((got - want).abs());
        }
    }
    (mismatches, max_diff)
}

#[test]
fn letterbox_matches_the_sdk_bit_for_bit() {
    let doc = load("letterbox");
    for case in cases(&doc) {
        let img = pattern_of(case);
        let size = u32_of(&case["size"]);
        let name = format!("{}x{} in {size}", img.width(), img.height());
        let result = letterbox(&img, size);
        if case.get("error").is_some() {
            assert!(result.is_err(), "{name}: the SDK fails, Rust gave a tensor");
            continue;
        }
        let lb = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let g = lb.geometry;
        assert_eq!(
            (g.resized_width, g.resized_height, g.pad_left, g.pad_top),
            (
                u32_of(&case["resized_width"]),
                u32_of(&case["resized_height"]),
                u32_of(&case["pad_left"]),
                u32_of(&case["pad_top"])
            ),
            "{name}: geometry"
        );
        assert_eq!(
            (g.reverse_pad_left, g.reverse_pad_top),
            (
                u32_of(&case["reverse_pad_left"]),
                u32_of(&case["reverse_pad_top"])
            ),
            "{name}: reverse pads"
        );
        let (mismatches, max_diff) = compare_samples(&lb.tensor, &case["samples"]);
        assert_eq!(
            checksum_f32(&lb.tensor),
            case["checksum"].as_u64().expect("checksum"),
            "{name}: tensor differs ({mismatches} sampled values differ, max {max_diff})"
        );
        assert_eq!(mismatches, 0, "{name}");
    }
}

fn objects_of(v: &Value) -> Vec<DetectedObject> {
    v.as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            let b: Vec<f32> = o["bounding_box"]
                .as_array()
                .expect("box")
                .iter()
                .map(|x| x.as_f64().expect("coordinate") as f32)
                .collect();
            DetectedObject {
                bounding_box: [b[0], b[1], b[2], b[3]],
                score: o["score"].as_f64().expect("score") as f32,
                label: o["label"].as_str().expect("label").to_string(),
            }
        })
        .collect()
}

fn assert_same_objects(got: &[DetectedObject], want: &[DetectedObject], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: number of objects");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.label, w.label, "{what}: label of object {i}");
        assert_eq!(g.score, w.score, "{what}: score of object {i}");
        for (a, b) in g.bounding_box.iter().zip(w.bounding_box) {
            assert!(
                (a - b).abs() <= 1e-5,
                "{what}: box of object {i}: {:?} vs {:?}",
                g.bounding_box,
                w.bounding_box
            );
        }
        // Beyond the tolerance: the same float32 values.
        assert_eq!(
            g.bounding_box, w.bounding_box,
            "{what}: object {i} not bit-identical"
        );
    }
}

#[test]
fn decoding_matches_the_sdk() {
    let doc = load("postprocess");
    for case in cases(&doc) {
        let seed = case["seed"].as_u64().expect("seed");
        let labels: Vec<&str> = case["labels"]
            .as_array()
            .expect("labels")
            .iter()
            .map(|l| l.as_str().expect("label"))
            .collect();
        let output: Vec<f32> = case["output"]
            .as_array()
            .expect("output")
            .iter()
            .map(|v| v.as_f64().expect("value") as f32)
            .collect();
        let geometry = robotoff::ml::LetterboxGeometry::new(
            u32_of(&case["width"]),
            u32_of(&case["height"]),
            u32_of(&case["size"]),
        )
        .expect("geometry");
        let mut options = PostprocessOptions::new(case["threshold"].as_f64().expect("t") as f32);
        if let Some(t) = case["nms_threshold"].as_f64() {
            options.nms_threshold = t as f32;
        }
        if let Some(eta) = case["nms_eta"].as_f64() {
            options.nms_eta = eta as f32;
        }

        let got = decode(&output, &labels, &geometry, &options).expect("decode");
        assert_same_objects(&got, &objects_of(&case["objects"]), &format!("case {seed}"));

        let mut no_nms = options;
        no_nms.nms = false;
        let got = decode(&output, &labels, &geometry, &no_nms).expect("decode");
        assert_same_objects(
            &got,
            &objects_of(&case["objects_without_nms"]),
            &format!("case {seed} without NMS"),
        );

        let mut legacy = options;
        legacy.box_order = NmsBoxOrder::LegacyUnconverted;
        let got = decode(&output, &labels, &geometry, &legacy).expect("decode");
        assert_same_objects(
            &got,
            &objects_of(&case["objects_legacy"]),
            &format!("case {seed}, legacy box order"),
        );
    }
}

#[test]
fn clip_inputs_match_the_processor() {
    let doc = load("clip");
    for case in cases(&doc) {
        let img = pattern_of(case);
        let mut batch = ClipBatch::new();
        for crop_case in case["crops"].as_array().expect("crops") {
            let b: Vec<f64> = crop_case["bounding_box"]
                .as_array()
                .expect("box")
                .iter()
                .map(|v| v.as_f64().expect("coordinate"))
                .collect();
            let bbox = [b[0], b[1], b[2], b[3]];
            let crop = logo_crop_224(&img, bbox);
            if crop_case.get("error").is_some() {
                assert!(crop.is_err(), "{bbox:?}: Robotoff fails, Rust cropped");
                continue;
            }
            let crop = crop.unwrap_or_else(|e| panic!("{bbox:?}: {e}"));
            let crop_sum = crop.as_raw().iter().enumerate().fold(0u64, |acc, (i, v)| {
                acc.wrapping_add(u64::from(*v).wrapping_mul(i as u64 + 1))
            });
            assert_eq!(
                crop_sum,
                crop_case["crop_checksum"].as_u64().expect("crop checksum"),
                "{bbox:?}: resized crop differs"
            );
            let mut single = ClipBatch::new();
            single.push_image(&crop).expect("224x224");
            let (mismatches, max_diff) =
                compare_samples(single.pixel_values(), &crop_case["samples"]);
            assert_eq!(
                checksum_f32(single.pixel_values()),
                crop_case["checksum"].as_u64().expect("checksum"),
                "{bbox:?}: pixel values differ ({mismatches} samples, max {max_diff})"
            );
            batch.push_logo(&img, bbox).expect("crop");
        }
        assert_eq!(
            checksum_f32(batch.pixel_values()),
            case["batch_checksum"].as_u64().expect("batch checksum"),
            "batch"
        );
        assert_eq!(batch.input_ids().len(), 2 * batch.len());
    }
}
