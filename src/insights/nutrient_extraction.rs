//! Nutrient-extraction importer: nutrient values read from a nutrition table, suggested
//! when they add to or differ from the product's packaging values (schema ≥ 1003).

use super::candidate::{Candidate, InsightView};
use super::image::{cmp_image_ids, image_id};
use super::ingredients::orientation_for;
use crate::types::{Prediction, PredictionType, Product, ServerType};
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// Product Opener schema version from which nutrition is stored as input sets.
const NUTRITION_V3_SCHEMA: i32 = 1003;

/// The product's `nutrition.input_sets`, when `nutrition` is a non-empty object.
fn input_sets(product: &Product) -> Option<Vec<&Map<String, Value>>> {
    let nutrition = product
        .nutrition
        .as_ref()?
        .as_object()
        .filter(|n| !n.is_empty())?;
    Some(
        nutrition
            .get("input_sets")
            .and_then(Value::as_array)
            .map(|sets| sets.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default(),
    )
}

fn field<'a>(set: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    set.get(key).and_then(Value::as_str)
}

/// The product's packaging value of `nutrient` per `per` (`100g`, `100ml`, `serving`).
fn packaging_input<'a>(
    sets: &[&'a Map<String, Value>],
    nutrient: &str,
    per: &str,
) -> Option<&'a Map<String, Value>> {
    sets.iter()
        .filter(|s| field(s, "per") == Some(per) && field(s, "source") == Some("packaging"))
        .find_map(|s| s.get("nutrients")?.get(nutrient)?.as_object())
}

/// Whether a nutrient-extraction prediction brings something: the product has no
/// nutrition yet, or a predicted value differs from (or is missing in) its packaging
/// values, or it gives the serving size of serving-based values. Never for products on
/// the legacy nutrition schema, nor when values are given for the prepared product.
pub fn keep(product: &Product, nutrients: &Map<String, Value>) -> bool {
    if product.schema_version < NUTRITION_V3_SCHEMA {
        return false;
    }
    let Some(sets) = input_sets(product) else {
        return true;
    };
    if sets
        .iter()
        .any(|s| field(s, "preparation") == Some("prepared"))
    {
        return false;
    }
    for (key, predicted) in nutrients {
        let suffix = if key.ends_with("_100g") {
            "_100g"
        } else {
            "_serving"
        };
        let name = key.replace(suffix, "");
        let per = suffix.trim_start_matches('_');
        let mut current = packaging_input(&sets, &name, per);
        if current.is_none() && per == "100g" {
            current = packaging_input(&sets, &name, "100ml");
        }
        let predicted_value = match predicted.get("value") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let predicted_unit = predicted.get("unit").and_then(Value::as_str);
        let current_value = current.and_then(|c| c.get("value"));
        let current_unit = current.and_then(|c| c.get("unit")).and_then(Value::as_str);
        if !same_value(
            &predicted_value,
            predicted_unit,
            current_value,
            current_unit,
        ) {
            return true;
        }
    }
    let per_serving = sets
        .iter()
        .any(|s| field(s, "per") == Some("serving") && field(s, "source") == Some("packaging"));
    let has_serving_size = product
        .serving_size
        .as_deref()
        .is_some_and(|s| !s.is_empty());
    per_serving && !has_serving_size && nutrients.contains_key("serving_size")
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => parse_number(s),
        _ => None,
    }
}

fn parse_number(text: &str) -> Option<f64> {
    text.trim().replace(',', ".").parse().ok()
}

/// Python's `math.isclose` with its default relative tolerance.
fn is_close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// A quantity in grams or millilitres (magnitudes only are compared, as Robotoff does).
fn normalized(value: f64, unit: &str) -> Option<f64> {
    let factor = match unit.to_lowercase().as_str() {
        "g" => 1.0,
        "kg" => 1000.0,
        "mg" => 1e-3,
        "µg" | "μg" | "mcg" | "ug" => 1e-6,
        "lb" | "lbs" => 453.592_37,
        "oz" => 28.349_523_125,
        "ml" => 1.0,
        "l" => 1000.0,
        "dl" => 100.0,
        "cl" => 10.0,
        "fl oz" => 30.0,
        _ => return None,
    };
    Some(value * factor)
}

/// Robotoff's nutrient comparison. `traces` equals `traces` or 0; a missing current
/// value or unit is a difference; a missing predicted unit counts as equal; `<0.5`
/// reads as `0.5`; energies compare numerically within the same unit; other values
/// compare after conversion to grams or millilitres. Where Robotoff would fail (energy
/// units that differ, units it cannot convert) the values count as different, except
/// identical units, which compare numerically.
pub fn same_value(
    predicted_value: &str,
    predicted_unit: Option<&str>,
    current_value: Option<&Value>,
    current_unit: Option<&str>,
) -> bool {
    if predicted_value == "traces" {
        return match current_value {
            Some(Value::String(s)) if s == "traces" => true,
            Some(v) => number(v).is_some_and(|n| is_close(n, 0.0)),
            None => false,
        };
    }
    let current_value = match current_value {
        None | Some(Value::Null) => return false,
        Some(Value::String(s)) if s.is_empty() => return false,
        Some(v) => v,
    };
    let Some(current_unit) = current_unit.filter(|u| !u.is_empty()) else {
        return false;
    };
    let Some(predicted_unit) = predicted_unit else {
        return true;
    };
    let predicted = predicted_value.trim_start_matches(['<', ' ']);
    let (Some(p), Some(c)) = (parse_number(predicted), number(current_value)) else {
        return false;
    };
    let (pu, cu) = (predicted_unit.to_lowercase(), current_unit.to_lowercase());
    if matches!(pu.as_str(), "kj" | "kcal") {
        return pu == cu && is_close(p, c);
    }
    match (normalized(p, &pu), normalized(c, &cu)) {
        (Some(p), Some(c)) => is_close(p, c),
        _ => pu == cu && is_close(p, c),
    }
}

/// Languages of a nutrition table from its nutrient mentions: those seen at least
/// twice, else the first one seen; `None` without any.
pub fn languages(mentions: &Prediction) -> Option<Vec<String>> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    let all = mentions.data.get("mentions").and_then(Value::as_object);
    for items in all.into_iter().flat_map(|m| m.values()) {
        for item in items.as_array().into_iter().flatten() {
            let langs = item.get("languages").and_then(Value::as_array);
            for lang in langs.into_iter().flatten().filter_map(Value::as_str) {
                match counts.iter_mut().find(|(l, _)| l == lang) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((lang.to_string(), 1)),
                }
            }
        }
    }
    let frequent: Vec<String> = counts
        .iter()
        .filter(|(_, n)| *n >= 2)
        .map(|(l, _)| l.clone())
        .collect();
    if !frequent.is_empty() {
        return Some(frequent);
    }
    counts.into_iter().next().map(|(l, _)| vec![l])
}

pub fn candidates(
    product: &Product,
    predictions: &[&Prediction],
    barcode: &str,
    server_type: ServerType,
) -> Vec<Candidate> {
    let empty = Map::new();
    let mut out = Vec::new();
    for p in predictions
        .iter()
        .filter(|p| p.kind == PredictionType::NutrientExtraction)
    {
        let nutrients = p
            .data
            .get("nutrients")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        if !keep(product, nutrients) {
            continue;
        }
        let mut c = Candidate::from_prediction(p, barcode, server_type);
        if let Some(o) = orientation_for(predictions, p.source_image.as_deref()) {
            c.data.insert(
                "rotation".into(),
                o.data.get("rotation").cloned().unwrap_or(Value::Null),
            );
        }
        let mention = predictions
            .iter()
            .copied()
            .filter(|m| m.kind == PredictionType::NutrientMention)
            .find(|m| m.source_image == p.source_image)
            .or_else(|| {
                predictions
                    .iter()
                    .copied()
                    .find(|m| m.kind == PredictionType::NutrientMention)
            });
        if let Some(m) = mention {
            c.lc = languages(m);
        }
        out.push(c);
    }
    out
}

/// One insight per product, except that a candidate from a more recent image than an
/// annotated insight does not conflict with it.
pub fn conflicts(candidate: &Candidate, reference: &dyn InsightView) -> bool {
    let cand = candidate.source_image.as_deref().and_then(image_id);
    let refr = reference.source_image().and_then(image_id);
    match (reference.annotation(), cand, refr) {
        (Some(_), Some(c), Some(r)) => cmp_image_ids(c, r) != Ordering::Greater,
        _ => true,
    }
}

/// `incomplete-nutrition` when the product has nutrition input sets, else
/// `missing-nutrition`; nothing for the legacy schema.
pub fn campaigns(product: &Product) -> Option<Vec<String>> {
    if product.schema_version < NUTRITION_V3_SCHEMA {
        return None;
    }
    let has_sets = input_sets(product).is_some_and(|s| !s.is_empty());
    Some(vec![if has_sets {
        "incomplete-nutrition".to_string()
    } else {
        "missing-nutrition".to_string()
    }])
}
