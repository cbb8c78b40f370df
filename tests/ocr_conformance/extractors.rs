//! `ocr_cases.json`: text or OCR document in, predictions out, compared as the Python
//! test asserts them.

use super::compare::{fields_match, json_eq, path, show};
use super::{conformance_dir, resources};
use robotoff::ocr::location::{city_processor, AddressExtractor, City};
use robotoff::ocr::{self, OcrContent, OcrDocument};
use robotoff::types::Prediction;
use serde_json::Value;
use std::collections::BTreeSet;

/// Cities of a case config (`{"cities": [{name, postal_code, coordinates}]}`).
pub fn config_cities(config: &Value) -> Vec<City> {
    config
        .get("cities")
        .and_then(Value::as_array)
        .map(|cities| cities.iter().filter_map(city_of).collect())
        .unwrap_or_default()
}

pub fn city_of(v: &Value) -> Option<City> {
    Some(City {
        name: v.get("name")?.as_str()?.to_string(),
        postal_code: v.get("postal_code")?.as_str()?.to_string(),
        coordinates: v.get("coordinates").and_then(|c| {
            let a = c.as_array()?;
            Some((a.first()?.as_f64()?, a.get(1)?.as_f64()?))
        }),
    })
}

pub fn city_json(c: &City) -> Value {
    serde_json::json!({
        "name": c.name,
        "postal_code": c.postal_code,
        "coordinates": c.coordinates.map(|(a, b)| vec![a, b]),
    })
}

fn usize_of(config: &Value, key: &str, default: usize) -> usize {
    config
        .get(key)
        .and_then(Value::as_u64)
        .map_or(default, |v| v as usize)
}

fn document_of(case: &Value) -> Result<Option<OcrDocument>, String> {
    if let Some(file) = case.get("ocr_file").and_then(Value::as_str) {
        let path = conformance_dir().join("real_docs").join(file);
        let bytes = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        return OcrDocument::from_bytes(&bytes)
            .map(Some)
            .map_err(|e| e.to_string());
    }
    if let Some(doc) = case.get("ocr_json").filter(|v| !v.is_null()) {
        let text = serde_json::to_string(doc).map_err(|e| e.to_string())?;
        return OcrDocument::from_json_bytes(text.as_bytes())
            .map(Some)
            .map_err(|e| e.to_string());
    }
    Ok(None)
}

fn predictions(case: &Value, content: &OcrContent<'_>) -> Result<Vec<Prediction>, String> {
    let res = resources();
    let config = case.get("config").cloned().unwrap_or(Value::Null);
    let extractor = case.get("extractor").and_then(Value::as_str).unwrap_or("");
    Ok(match extractor {
        "product_weight" => ocr::product_weight::find_product_weight(content),
        "packager_code" => ocr::packager_code::find_packager_codes(content, res),
        "label" => ocr::label::find_labels(content, res),
        "category" => ocr::category::find_category(content, res),
        "packaging" => ocr::packaging::find_packaging(content, res),
        "nutrient_mention" => ocr::nutrient::find_nutrient_mentions(content, res),
        "image_flag" => ocr::image_flag::flag_image(content, res),
        "brand" => {
            let brands = res.brands().map_err(|e| e.to_string())?;
            let processor = match config.get("processor").and_then(Value::as_str) {
                Some("curated") => &brands.curated,
                _ => &brands.taxonomy,
            };
            let source = config
                .get("data_source_name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let automatic = config
                .get("automatic_processing")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            ocr::brand::extract_brands(processor, content, source, automatic)
        }
        "location" => {
            let processor = city_processor(config_cities(&config));
            let mut extractor = AddressExtractor::new(&processor);
            extractor.postal_code_search_distance =
                usize_of(&config, "postal_code_search_distance", 10);
            extractor.text_extract_distance = usize_of(&config, "text_extract_distance", 30);
            extractor.extract_addresses(content)
        }
        other => return Err(format!("no extractor for {other:?}")),
    })
}

fn set_of(values: &[Value], key: &str) -> BTreeSet<String> {
    values.iter().map(|v| show(path(v, key))).collect()
}

pub fn run_case(case: &Value) -> Result<(), String> {
    let doc = document_of(case)?;
    let text = case.get("text").and_then(Value::as_str).unwrap_or("");
    let content = match &doc {
        Some(d) => OcrContent::Document(d),
        None => OcrContent::Text(text),
    };
    let got: Vec<Value> = predictions(case, &content)?
        .iter()
        .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
        .collect();
    let expected = case
        .get("expected")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let compare = case.get("compare").cloned().unwrap_or(Value::Null);
    let mode = compare.get("mode").and_then(Value::as_str).unwrap_or("");
    match mode {
        "fields_list" => {
            let filtered: Vec<&Value> = match compare.get("filter").and_then(Value::as_object) {
                Some(filter) => got
                    .iter()
                    .filter(|p| filter.iter().all(|(k, v)| json_eq(path(p, k), v)))
                    .collect(),
                None => got.iter().collect(),
            };
            let check_length = compare
                .get("check_length")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if check_length && filtered.len() != expected.len() {
                return Err(format!(
                    "expected {} predictions, got {}: {}",
                    expected.len(),
                    filtered.len(),
                    show(&Value::Array(filtered.into_iter().cloned().collect()))
                ));
            }
            for (i, exp) in expected.iter().enumerate() {
                let actual = filtered
                    .get(i)
                    .ok_or_else(|| format!("missing prediction #{i}: expected {}", show(exp)))?;
                fields_match(actual, exp)
                    .map_err(|e| format!("prediction #{i}: {e}\n  got: {}", show(actual)))?;
            }
            Ok(())
        }
        "value_set" | "value_tag_set" => {
            let key = if mode == "value_set" {
                "value"
            } else {
                "value_tag"
            };
            let (g, e) = (set_of(&got, key), set_of(&expected, key));
            if g == e {
                Ok(())
            } else {
                Err(format!("expected {key} set {e:?}, got {g:?}"))
            }
        }
        "nutrient_mentions" => {
            if got.len() != 1 {
                return Err(format!(
                    "expected exactly one prediction, got {}",
                    got.len()
                ));
            }
            let actual = path(&got[0], "data.mentions");
            let exp = expected
                .first()
                .map(|e| path(e, "data.mentions"))
                .unwrap_or(&Value::Null);
            let Some(exp) = exp.as_object() else {
                return Err("expected mentions missing".into());
            };
            for (nutrient, entries) in exp {
                let want = entries.as_array().cloned().unwrap_or_default();
                let have = actual
                    .get(nutrient)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if want.len() != have.len() {
                    return Err(format!(
                        "{nutrient}: expected {} mentions, got {}",
                        want.len(),
                        have.len()
                    ));
                }
                for (w, h) in want.iter().zip(&have) {
                    fields_match(h, w).map_err(|e| format!("{nutrient}: {e}"))?;
                }
            }
            Ok(())
        }
        other => Err(format!("unknown compare mode {other:?}")),
    }
}
