//! `ocr_function_cases.json`: helper-level behaviour (regex matches, weight checks,
//! location helpers, tags, parse errors, orientation, the dispatcher's unknown type).

use super::compare::{json_eq, show};
use super::extractors::{city_json, city_of, config_cities};
use super::{conformance_dir, resources};
use robotoff::ocr::document::{BoundingPoly, OcrDocument};
use robotoff::ocr::location::{city_processor, AddressExtractor};
use robotoff::ocr::product_weight::{
    is_extreme_weight, is_suspicious_weight, is_valid_weight, WeightMatcher,
};
use robotoff::ocr::{label, OcrContent};
use robotoff::text::get_tag;
use robotoff::types::PredictionType;
use serde_json::{json, Value};

fn expect_eq(got: Value, expected: &Value) -> Result<(), String> {
    if json_eq(&got, expected) {
        Ok(())
    } else {
        Err(format!("expected {}, got {}", show(expected), show(&got)))
    }
}

/// Python's `re.match`: a match that starts at the beginning of the text.
fn matches_at_start(regex: &fancy_regex::Regex, text: &str) -> bool {
    matches!(regex.find(text), Ok(Some(m)) if m.start() == 0)
}

fn expect_error(message: Option<String>, expected: &Value) -> Result<(), String> {
    let want = expected
        .get("message_contains")
        .and_then(Value::as_str)
        .unwrap_or("");
    match message {
        Some(m) if m.contains(want) => Ok(()),
        Some(m) => Err(format!("error {m:?} does not contain {want:?}")),
        None => Err(format!(
            "expected an error containing {want:?}, got success"
        )),
    }
}

pub fn run_case(case: &Value) -> Result<(), String> {
    let function = case.get("function").and_then(Value::as_str).unwrap_or("");
    let input = case.get("input").cloned().unwrap_or(Value::Null);
    let expected = case.get("expected").cloned().unwrap_or(Value::Null);
    let config = case.get("config").cloned().unwrap_or(Value::Null);
    let input_str = input.as_str().unwrap_or("");
    let num = |k: &str| input.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let unit = input.get("unit").and_then(Value::as_str).unwrap_or("");

    match function {
        f if f.starts_with("PRODUCT_WEIGHT_REGEX[") => {
            let matcher = if f.contains("'with_ending_mention'") {
                WeightMatcher::WithEndingMention
            } else {
                WeightMatcher::WithMention
            };
            let is_match = matches_at_start(&matcher.regex().regex, input_str);
            expect_eq(json!({"is_match": is_match}), &expected)
        }
        "is_valid_weight" => expect_eq(
            json!(is_valid_weight(
                input.get("value").and_then(Value::as_str).unwrap_or("")
            )),
            &expected,
        ),
        "is_extreme_weight" => {
            let count = input.get("count").and_then(Value::as_i64);
            let got = is_extreme_weight(num("value"), unit, count)?;
            expect_eq(json!(got), &expected)
        }
        "is_suspicious_weight" => {
            expect_eq(json!(is_suspicious_weight(num("value"), unit)), &expected)
        }
        f if f.contains("ES-ECO") => {
            let regex = label::spanish_organic_regex();
            let caps = match regex.captures(input_str) {
                Ok(Some(c)) if c.get(0).is_some_and(|m| m.start() == 0) => Some(c),
                _ => None,
            };
            let output = caps.as_ref().map(label::spanish_organic_tag);
            expect_eq(
                json!({"is_match": caps.is_some(), "output": output}),
                &expected,
            )
        }
        "openfoodfacts.ocr.BoundingPoly.detect_orientation" => {
            let vertices = input
                .get("vertices")
                .and_then(Value::as_array)
                .map(|vs| {
                    vs.iter()
                        .map(|v| {
                            (
                                v.get("x").and_then(Value::as_f64).unwrap_or(0.0),
                                v.get("y").and_then(Value::as_f64).unwrap_or(0.0),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let o = BoundingPoly { vertices }.detect_orientation();
            expect_eq(json!(o.name()), &expected)
        }
        "extract_predictions" => {
            let kind: PredictionType = input
                .get("prediction_type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .parse()
                .map_err(|e| format!("{e}"))?;
            let text = input.get("content").and_then(Value::as_str).unwrap_or("");
            let result = robotoff::ocr::extract_one(&OcrContent::Text(text), kind, resources());
            expect_error(result.err().map(|e| e.to_string()), &expected)
        }
        "openfoodfacts.ocr.OCRResult.from_json" => {
            let bytes = serde_json::to_vec(&input).map_err(|e| e.to_string())?;
            let result = OcrDocument::from_json_bytes(&bytes);
            expect_error(result.err().map(|e| e.to_string()), &expected)
        }
        f if f.starts_with("word offsets") => {
            let file = input.get("ocr_file").and_then(Value::as_str).unwrap_or("");
            let path = conformance_dir().join("real_docs").join(file);
            let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
            let doc = OcrDocument::from_bytes(&bytes).map_err(|e| e.to_string())?;
            let ft = doc.full_text.as_ref().ok_or("no full text")?;
            for w in &ft.words {
                let got = robotoff::text::char_slice(&ft.text, w.start_idx, w.end_idx);
                if got != w.text {
                    return Err(format!(
                        "word {:?} at {}..{} reads {got:?}",
                        w.text, w.start_idx, w.end_idx
                    ));
                }
            }
            Ok(())
        }
        "AddressExtractor.normalize_text" => expect_eq(
            json!(AddressExtractor::normalize_text(input_str)),
            &expected,
        ),
        "AddressExtractor.find_city_names" => {
            let processor = city_processor(config_cities(&config));
            let extractor = AddressExtractor::new(&processor);
            let got: Vec<Value> = extractor
                .find_city_names(input_str)
                .into_iter()
                .filter_map(|(group, s, e)| group.first().map(|c| json!([city_json(c), s, e])))
                .collect();
            expect_eq(Value::Array(got), &expected)
        }
        "AddressExtractor.find_nearby_postal_code" => {
            let processor = city_processor(config_cities(&config));
            let mut extractor = AddressExtractor::new(&processor);
            if let Some(d) = config
                .get("postal_code_search_distance")
                .and_then(Value::as_u64)
            {
                extractor.postal_code_search_distance = d as usize;
            }
            let city = input
                .get("city")
                .and_then(city_of)
                .ok_or("case has no city")?;
            let text = input.get("text").and_then(Value::as_str).unwrap_or("");
            let start = input.get("city_start").and_then(Value::as_u64).unwrap_or(0) as usize;
            let end = input.get("city_end").and_then(Value::as_u64).unwrap_or(0) as usize;
            let got = extractor
                .find_nearby_postal_code(text, &city, start, end)
                .map(|(pc, s, e)| json!([pc, s, e]))
                .unwrap_or(Value::Null);
            expect_eq(got, &expected)
        }
        "robotoff.utils.text.get_tag" => expect_eq(json!(get_tag(input_str)), &expected),
        "match_packaging" => {
            Err("match_packaging is provided by the packaging extractor, not built yet".into())
        }
        other => Err(format!("no implementation for function {other:?}")),
    }
}
