//! Ingredient importers: spelling corrections of the current ingredient list, and
//! ingredient lists detected on images for languages the product lacks.

use super::candidate::Candidate;
use super::image::{image_id, json_id_is};
use crate::types::{Prediction, PredictionType, Product, ServerType};
use serde_json::{json, Value};

/// Share of ingredients the parser must recognise for a detected list to be suggested.
const MIN_FRACTION_KNOWN: f64 = 0.6;

/// The product's ingredient list in `lang` (`ingredients_text_<lang>`), when not empty.
pub fn ingredients_text<'p>(product: &'p Product, lang: &str) -> Option<&'p str> {
    product
        .ingredients_texts
        .get(&format!("ingredients_text_{lang}"))
        .map(String::as_str)
        .filter(|t| !t.is_empty())
}

/// Corrections of the product's current ingredient list in its main language.
pub fn spellcheck(
    product: &Product,
    predictions: &[&Prediction],
    barcode: &str,
    server_type: ServerType,
) -> Vec<Candidate> {
    predictions
        .iter()
        .filter(|p| {
            let original = p.data.get("original").and_then(Value::as_str);
            let correction = p.data.get("correction").and_then(Value::as_str);
            let lang = p.value_tag.as_deref();
            original.is_some()
                && original != correction
                && original == lang.and_then(|l| ingredients_text(product, l))
                && lang.is_some()
                && lang == product.lang.as_deref()
        })
        .map(|p| {
            let mut c = Candidate::from_prediction(p, barcode, server_type);
            c.lc = Some(p.value_tag.iter().cloned().collect());
            c
        })
        .collect()
}

/// The orientation prediction to take the rotation from: the one of `source_image`,
/// else the first one (as Robotoff, which takes the first of the product).
pub fn orientation_for<'a>(
    predictions: &[&'a Prediction],
    source_image: Option<&str>,
) -> Option<&'a Prediction> {
    let orientations = || {
        predictions
            .iter()
            .copied()
            .filter(|p| p.kind == PredictionType::ImageOrientation)
    };
    orientations()
        .find(|p| p.source_image.as_deref() == source_image)
        .or_else(|| orientations().next())
}

/// Ingredient lists detected in languages the product has no list for, when the
/// parser recognised at least 60 % of them. Candidates from the image selected as
/// the ingredients image of that language get `data.priority` 2, others 1.
pub fn detection(
    product: &Product,
    predictions: &[&Prediction],
    barcode: &str,
    server_type: ServerType,
) -> Vec<Candidate> {
    predictions
        .iter()
        .filter(|p| p.kind == PredictionType::IngredientDetection)
        .filter(|p| {
            let lang = p.value_tag.as_deref().unwrap_or("");
            let known = p
                .data
                .get("fraction_known_ingredients")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            ingredients_text(product, lang).is_none() && known >= MIN_FRACTION_KNOWN
        })
        .map(|p| {
            let mut c = Candidate::from_prediction(p, barcode, server_type);
            let lang = p.value_tag.as_deref().unwrap_or("");
            let selected = product
                .images
                .get(&format!("ingredients_{lang}"))
                .zip(p.source_image.as_deref().and_then(image_id))
                .is_some_and(|(image, id)| json_id_is(image.get("imgid"), id));
            c.data
                .insert("priority".into(), json!(if selected { 2 } else { 1 }));
            if let Some(o) = orientation_for(predictions, p.source_image.as_deref()) {
                c.data.insert(
                    "rotation".into(),
                    o.data.get("rotation").cloned().unwrap_or(Value::Null),
                );
            }
            c.lc = Some(p.value_tag.iter().cloned().collect());
            c
        })
        .collect()
}
