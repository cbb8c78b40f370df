//! Importers about the images themselves: barcode (UPC) images and image orientation.

use super::candidate::{Candidate, InsightView};
use super::image::{image_id, json_id_is};
use crate::types::{Prediction, Product, ServerType};
use serde_json::Value;

/// Selected-image kinds whose orientation is checked.
const SELECTED_IMAGE_KINDS: [&str; 4] = ["front", "ingredients", "nutrition", "packaging"];

/// Word-orientation agreement needed to suggest a rotation.
const MIN_ORIENTATION_CONFIDENCE: f64 = 0.95;

/// Words needed for a rotation to be applied automatically.
const MIN_WORDS_AUTOMATIC: f64 = 10.0;

/// UPC-image predictions on a raw image of the product that is used by a selected image.
pub fn upc_image(
    product: &Product,
    predictions: &[&Prediction],
    barcode: &str,
    server_type: ServerType,
) -> Vec<Candidate> {
    predictions
        .iter()
        .filter(|p| {
            let Some(id) = p.source_image.as_deref().and_then(image_id) else {
                return false;
            };
            if !product.images.contains_key(id) {
                return false;
            }
            product
                .selected_images()
                .any(|(_, image)| json_id_is(image.get("imgid"), id))
        })
        .map(|p| Candidate::from_prediction(p, barcode, server_type))
        .collect()
}

/// At most one UPC insight per image.
pub fn upc_conflicts(candidate: &Candidate, reference: &dyn InsightView) -> bool {
    candidate.source_image.as_deref() == reference.source_image()
}

/// Python's `int(angle or 0)` on a selected image's stored angle; `None` when invalid.
fn stored_angle(image: &Value) -> Option<i64> {
    match image.get("angle") {
        None | Some(Value::Null) => Some(0),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) if s.is_empty() => Some(0),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(Value::Bool(b)) => Some(i64::from(*b)),
        Some(_) => None,
    }
}

/// One candidate per selected image (front, ingredients, nutrition, packaging) showing a
/// raw image whose words read mostly in a non-upright orientation (at least 95 %), unless
/// the selected image is already rotated that way. Automatic with at least 10 words.
pub fn image_orientation(
    product: &Product,
    predictions: &[&Prediction],
    barcode: &str,
    server_type: ServerType,
) -> Vec<Candidate> {
    let mut out = Vec::new();
    for p in predictions {
        let orientation = p.data.get("orientation").and_then(Value::as_str);
        let rotation = p.data.get("rotation").and_then(Value::as_i64);
        if orientation == Some("up") || rotation == Some(0) {
            continue;
        }
        let counts = p.data.get("count").and_then(Value::as_object);
        let total: f64 = counts
            .map(|c| c.values().filter_map(Value::as_f64).sum())
            .unwrap_or(0.0);
        if total == 0.0 {
            continue;
        }
        let agreeing = orientation
            .and_then(|o| counts.and_then(|c| c.get(o)))
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let confidence = agreeing / total;
        let Some(id) = p.source_image.as_deref().and_then(image_id) else {
            continue;
        };
        if confidence < MIN_ORIENTATION_CONFIDENCE {
            continue;
        }
        for (key, image) in &product.images {
            let Some(mut angle) = stored_angle(image) else {
                continue;
            };
            if angle < 0 {
                angle += 360;
            }
            if !SELECTED_IMAGE_KINDS.iter().any(|k| key.starts_with(k))
                || !json_id_is(image.get("imgid"), id)
                || Some(angle) == rotation
            {
                continue;
            }
            let mut c = Candidate::from_prediction(p, barcode, server_type);
            c.data
                .insert("image_key".into(), Value::String(key.clone()));
            c.data.insert(
                "image_rev".into(),
                image.get("rev").cloned().unwrap_or(Value::Null),
            );
            c.value_tag = orientation.map(str::to_string);
            c.automatic_processing = Some(total >= MIN_WORDS_AUTOMATIC);
            c.confidence = Some(confidence);
            out.push(c);
        }
    }
    out
}

/// Two orientation insights conflict when they are about the same selected image of the
/// same raw image.
pub fn orientation_conflicts(candidate: &Candidate, reference: &dyn InsightView) -> bool {
    candidate.data.get("image_key") == reference.data_field("image_key")
        && candidate.source_image.as_deref() == reference.source_image()
}
