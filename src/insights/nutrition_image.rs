//! Nutrition-image importer: an image whose OCR shows enough nutrient mentions and values
//! in the product's main language is proposed as its nutrition image, with a crop.

use super::candidate::Candidate;
use super::image::RecentFirst;
use crate::types::{Prediction, PredictionType, Product, ServerType};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// Distinct nutrients that must be mentioned in one language.
const MIN_NUTRIENT_MENTIONS: usize = 4;
/// Nutrient values ("15.5g", "1525 kJ") that must be found on the image.
const MIN_NUTRIENT_VALUES: usize = 3;
/// Pixels added around the mentions when no nutrition table was detected.
const CROP_MARGIN: f64 = 10.0;
/// Bumped when old nutrition-image predictions must be replaced.
pub const PREDICTOR_VERSION: &str = "1";

/// Candidates for every raw image with both a nutrient-mention and an image-orientation
/// prediction, most recent image first, for the product's main language when it has no
/// nutrition image selected in that language. `tables` are the image's nutrition-table
/// detections (score ≥ 0.8), by source image.
pub fn candidates(
    product: &Product,
    predictions: &[&Prediction],
    tables: &std::collections::HashMap<String, Vec<Value>>,
    barcode: &str,
    server_type: ServerType,
) -> Vec<Candidate> {
    let mut with_image: Vec<&Prediction> = predictions
        .iter()
        .copied()
        .filter(|p| p.source_image.as_deref().is_some_and(|s| !s.is_empty()))
        .collect();
    with_image.sort_by_key(|p| RecentFirst::of(p.source_image.as_deref()));
    let selected_langs: BTreeSet<&str> = product
        .images
        .keys()
        .filter(|k| k.starts_with("nutrition_"))
        .filter_map(|k| k.rsplit('_').next())
        .collect();
    let mut out = Vec::new();
    for group in with_image.chunk_by(|a, b| {
        RecentFirst::of(a.source_image.as_deref()) == RecentFirst::of(b.source_image.as_deref())
    }) {
        let first = |kind: PredictionType| group.iter().copied().find(|p| p.kind == kind);
        let (Some(mentions), Some(orientation)) = (
            first(PredictionType::NutrientMention),
            first(PredictionType::ImageOrientation),
        ) else {
            continue;
        };
        let source_image = mentions.source_image.as_deref().unwrap_or("");
        let image_tables = tables.get(source_image).map(Vec::as_slice);
        for c in for_image(
            mentions,
            orientation,
            first(PredictionType::Nutrient),
            image_tables,
            barcode,
            server_type,
        ) {
            let lang = c.value_tag.as_deref();
            if lang.is_some()
                && lang == product.lang.as_deref()
                && !lang.is_some_and(|l| selected_langs.contains(l))
            {
                out.push(c);
            }
        }
    }
    out
}

/// Candidates for one image, one per language with enough mentions.
pub fn for_image(
    mentions: &Prediction,
    orientation: &Prediction,
    nutrients: Option<&Prediction>,
    tables: Option<&[Value]>,
    barcode: &str,
    server_type: ServerType,
) -> Vec<Candidate> {
    let mut data = Map::new();
    let mut from_ids = Map::new();
    match nutrients {
        Some(n) => {
            data.insert("priority".into(), json!(1));
            from_ids.insert("nutrient".into(), json!(n.id));
        }
        // Without nutrient values the image is less likely a nutrition table.
        None => {
            data.insert("priority".into(), json!(2));
        }
    }
    from_ids.insert("nutrient_mention".into(), json!(mentions.id));
    data.insert("from_prediction_ids".into(), Value::Object(from_ids));
    let empty = Map::new();
    let mentioned = mentions
        .data
        .get("mentions")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut by_lang: Vec<(String, BTreeSet<String>)> = Vec::new();
    for (nutrient, items) in mentioned {
        if nutrient == "nutrient_value" {
            continue;
        }
        for item in items.as_array().into_iter().flatten() {
            let langs = item.get("languages").and_then(Value::as_array);
            for lang in langs.into_iter().flatten().filter_map(Value::as_str) {
                match by_lang.iter_mut().find(|(l, _)| l == lang) {
                    Some((_, set)) => {
                        set.insert(nutrient.clone());
                    }
                    None => by_lang.push((lang.to_string(), BTreeSet::from([nutrient.clone()]))),
                }
            }
        }
    }
    data.insert(
        "rotation".into(),
        orientation
            .data
            .get("rotation")
            .cloned()
            .unwrap_or(Value::Null),
    );
    data.extend(crop(mentioned, tables));
    let values: Vec<&Value> = mentioned
        .get("nutrient_value")
        .and_then(Value::as_array)
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    let has_energy = values.iter().any(|v| {
        let raw = v
            .get("raw")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_lowercase();
        raw.contains("kcal") || raw.contains("kj")
    });
    if values.len() < MIN_NUTRIENT_VALUES || !has_energy {
        return Vec::new();
    }
    by_lang
        .into_iter()
        .filter(|(_, nutrients)| nutrients.len() >= MIN_NUTRIENT_MENTIONS)
        .map(|(lang, nutrients)| {
            let mut d = data.clone();
            d.insert("nutrients".into(), json!(nutrients));
            Candidate {
                kind: PredictionType::NutritionImage,
                barcode: barcode.to_string(),
                server_type,
                data: d,
                value_tag: Some(lang),
                value: None,
                automatic_processing: Some(true),
                predictor: None,
                predictor_version: Some(PREDICTOR_VERSION.to_string()),
                source_image: mentions.source_image.clone(),
                confidence: None,
                lc: None,
                bounding_box: None,
                username: None,
                campaign: Vec::new(),
            }
        })
        .collect()
}

/// The crop: the nutrition table when exactly one was detected (with its score), else
/// the box around every mention, enlarged by 10 pixels (absolute, converted later).
fn crop(mentioned: &Map<String, Value>, tables: Option<&[Value]>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some([table]) = tables {
        out.insert(
            "bounding_box".into(),
            table.get("bounding_box").cloned().unwrap_or(Value::Null),
        );
        out.insert(
            "crop_score".into(),
            table.get("score").cloned().unwrap_or(Value::Null),
        );
        return out;
    }
    let boxes: Vec<[f64; 4]> = mentioned
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|m| m.get("bounding_box_absolute")?.as_array().cloned())
        .filter_map(|b| {
            let c: Vec<f64> = b.iter().filter_map(Value::as_f64).collect();
            <[f64; 4]>::try_from(c).ok()
        })
        .collect();
    if boxes.is_empty() {
        return out;
    }
    let fold = |init: f64, pick: fn(f64, f64) -> f64, i: usize, shift: f64| {
        boxes.iter().map(|b| b[i] + shift).fold(init, pick)
    };
    out.insert(
        "bounding_box_absolute".into(),
        json!([
            fold(f64::INFINITY, f64::min, 0, -CROP_MARGIN),
            fold(f64::INFINITY, f64::min, 1, -CROP_MARGIN),
            fold(f64::NEG_INFINITY, f64::max, 2, CROP_MARGIN),
            fold(f64::NEG_INFINITY, f64::max, 3, CROP_MARGIN),
        ]),
    );
    out
}
