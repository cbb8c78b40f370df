//! Tests of the nutrient extractors, from Robotoff's `tests/unit/prediction/ocr/test_nutrient.py`
//! (conformance cases `nutrient_mention-*`).

use super::*;
use serde_json::Value;

fn resources() -> OcrResources {
    OcrResources::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"))
}

fn mentions(text: &str) -> Value {
    let predictions = find_nutrient_mentions(&OcrContent::Text(text), &resources());
    assert_eq!(predictions.len(), 1, "{text:?}");
    predictions
        .into_iter()
        .next()
        .map(|p| p.data["mentions"].clone())
        .unwrap_or_default()
}

/// `test_find_nutrient_mentions`: the 10 `nutrient_mention` cases of `ocr_cases.json`: one
/// prediction; per expected nutrient, as many mentions with the expected languages.
#[test]
fn nutrient_mention_conformance_cases() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/conformance/ocr_cases.json"
    );
    let cases: Vec<Value> = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let cases: Vec<&Value> = cases
        .iter()
        .filter(|c| c["extractor"] == "nutrient_mention")
        .collect();
    assert_eq!(cases.len(), 10);
    for case in cases {
        let text = case["text"].as_str().unwrap_or_default();
        let got = mentions(text);
        let expected = &case["expected"][0]["data"]["mentions"];
        let Some(expected) = expected.as_object() else {
            panic!("case {} has no mentions", case["id"])
        };
        for (nutrient, entries) in expected {
            let want = entries.as_array().cloned().unwrap_or_default();
            let have = got[nutrient].as_array().cloned().unwrap_or_default();
            assert_eq!(have.len(), want.len(), "case {} {nutrient}", case["id"]);
            for (h, w) in have.iter().zip(&want) {
                assert_eq!(h["languages"], w["languages"], "case {}", case["id"]);
            }
        }
    }
}

#[test]
fn mentions_carry_raw_text_and_code_point_spans() {
    let got = mentions("Énergie 100 kJ, protéines 2g");
    assert_eq!(
        got["protein"],
        json!([{"raw": "protéines", "span": [16, 25], "languages": ["fr"]}])
    );
    assert_eq!(
        got["nutrient_value"],
        json!([{"raw": "100 kJ", "span": [8, 14]}, {"raw": "2g", "span": [26, 28]}])
    );
    // "Énergie" is only matched by the accented French alternative.
    assert_eq!(got["energy"][0]["languages"], json!(["fr"]));
    assert_eq!(got["energy"][0]["span"], json!([0, 7]));
}

/// The word-boundary checks surround the whole alternation in the reference pattern, so
/// they bind only its first (look-behind) and last (look-ahead) alternatives: "sel" is found
/// at the start of "selection" and "salt" inside "salted", as the reference finds them.
#[test]
fn boundaries_bind_only_the_outer_alternatives() {
    let got = mentions("selection salted");
    assert_eq!(
        got["salt"],
        json!([
            {"raw": "sel", "span": [0, 3], "languages": ["fr"]},
            {"raw": "salt", "span": [10, 14], "languages": ["en", "da"]},
        ])
    );
    // "só", the last alternative, needs a boundary after it.
    let predictions = find_nutrient_mentions(&OcrContent::Text("sóx"), &resources());
    assert!(predictions.is_empty());
}

#[test]
fn nutrient_values_give_value_and_unit() {
    let predictions = find_nutrient_values(
        &OcrContent::Text("Sel : 0,25 g\nEnergie 1500 KJ / 360 kcal\nProtein 1g"),
        &resources(),
    );
    assert_eq!(predictions.len(), 1);
    let Some(p) = predictions.first() else {
        return;
    };
    assert_eq!(p.kind, PredictionType::Nutrient);
    assert_eq!(p.predictor.as_deref(), Some("regex"));
    assert_eq!(p.predictor_version.as_deref(), Some("1"));
    assert_eq!(
        p.data["nutrients"],
        json!({
            "salt": [{"raw": "Sel : 0,25 g", "nutrient": "salt", "value": "0.25", "unit": "g"}],
            "energy": [{"raw": "Energie 1500 KJ", "nutrient": "energy", "value": "1500", "unit": "KJ"}],
            "protein": [{"raw": "Protein 1g", "nutrient": "protein", "value": "1", "unit": "g"}],
        })
    );
    let none = find_nutrient_values(&OcrContent::Text("no values here"), &resources());
    assert!(none.is_empty());
}

#[test]
fn every_pattern_compiles() {
    assert_eq!(VALUE_REGEXES.len(), NUTRIENT_UNITS.len());
    assert_eq!(MENTION_REGEXES.len(), NUTRIENT_MENTIONS.len() + 1);
}
