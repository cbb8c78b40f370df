//! Importers whose candidates come straight from predictions: packager codes, product
//! weight, expiration date, brand and store.

use super::candidate::Candidate;
use super::ImportResources;
use crate::text::strip_accents_ascii;
use crate::types::{Prediction, Product, ServerType};
use serde_json::Value;
use std::collections::HashSet;

/// Packager codes compared loosely: trimmed, lowercased, spaces/`-`/`.` removed, accents
/// stripped, a trailing `ce` read as `ec` (`FR 40.261.001 CE` → `fr40261001ec`).
pub fn normalize_emb_code(code: &str) -> String {
    let compact: String = code
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.'))
        .collect();
    let mut code = strip_accents_ascii(&compact);
    if code.ends_with("ce") {
        code.truncate(code.len() - 2);
        code.push_str("ec");
    }
    code
}

/// Packager codes not already on the product.
pub fn packager_code(
    product: &Product,
    predictions: &[&Prediction],
    barcode: &str,
    server_type: ServerType,
) -> Vec<Candidate> {
    let existing: HashSet<String> = product
        .emb_codes_tags
        .iter()
        .map(|c| normalize_emb_code(c))
        .collect();
    predictions
        .iter()
        .filter(|p| {
            let code = p.value.as_deref().unwrap_or("");
            !existing.contains(&normalize_emb_code(code))
        })
        .map(|p| Candidate::from_prediction(p, barcode, server_type))
        .collect()
}

/// One product weight, from the best prediction, unless the product has a quantity.
/// Not automatic when predictions of the same matcher disagree or when the weight was
/// read from the product name.
pub fn product_weight(
    product: &Product,
    predictions: &[&Prediction],
    barcode: &str,
    server_type: ServerType,
) -> Vec<Candidate> {
    if present(product.quantity.as_deref()) {
        return Vec::new();
    }
    let Some(best) = predictions.first() else {
        return Vec::new();
    };
    let matcher = best.data.get("matcher_type");
    let values: HashSet<Option<&str>> = predictions
        .iter()
        .filter(|p| p.data.get("matcher_type") == matcher)
        .map(|p| p.value.as_deref())
        .collect();
    let mut candidate = Candidate::from_prediction(best, barcode, server_type);
    let from_name = candidate.data.get("source").and_then(Value::as_str) == Some("product_name");
    if values.len() > 1 || from_name {
        candidate.automatic_processing = Some(false);
    }
    vec![candidate]
}

/// The latest predicted expiration date (ISO dates sort as text), unless the product has
/// one; not automatic when predictions disagree.
pub fn expiration_date(
    product: &Product,
    predictions: &[&Prediction],
    barcode: &str,
    server_type: ServerType,
) -> Vec<Candidate> {
    if present(product.expiration_date.as_deref()) {
        return Vec::new();
    }
    let mut latest: Option<&Prediction> = None;
    for p in predictions {
        if latest.is_none_or(|l| p.value > l.value) {
            latest = Some(p);
        }
    }
    let Some(latest) = latest else {
        return Vec::new();
    };
    let mut candidate = Candidate::from_prediction(latest, barcode, server_type);
    if predictions.iter().any(|p| p.value != latest.value) {
        candidate.automatic_processing = Some(false);
    }
    vec![candidate]
}

/// Whether a brand prediction may be suggested: brands found by the `taxonomy` and
/// `curated-list` predictors must not be blacklisted and must match the barcode range;
/// other predictors (logos, Cloud Vision) are not checked.
pub fn is_brand_prediction_valid(
    resources: &ImportResources,
    predictor: Option<&str>,
    value_tag: Option<&str>,
    barcode: &str,
) -> bool {
    if !matches!(predictor, Some("taxonomy" | "curated-list")) {
        return true;
    }
    let tag = value_tag.unwrap_or("");
    !resources.is_blacklisted_brand(tag) && resources.in_barcode_range(tag, barcode)
}

/// Brands, only for products without any brand. When the predictor did not decide,
/// brands read from the product name are applied automatically.
pub fn brand(
    resources: &ImportResources,
    product: &Product,
    predictions: &[&Prediction],
    barcode: &str,
    server_type: ServerType,
) -> Vec<Candidate> {
    if !product.brands_tags.is_empty() {
        return Vec::new();
    }
    predictions
        .iter()
        .filter(|p| {
            let prediction_barcode = p.barcode.as_deref().unwrap_or(barcode);
            is_brand_prediction_valid(
                resources,
                p.predictor.as_deref(),
                p.value_tag.as_deref(),
                prediction_barcode,
            )
        })
        .map(|p| {
            let mut c = Candidate::from_prediction(p, barcode, server_type);
            if c.automatic_processing.is_none() {
                let source = c.data.get("source").and_then(Value::as_str);
                c.automatic_processing = Some(source == Some("product_name"));
            }
            c
        })
        .collect()
}

/// Every store prediction, always applied automatically.
pub fn store(
    predictions: &[&Prediction],
    barcode: &str,
    server_type: ServerType,
) -> Vec<Candidate> {
    predictions
        .iter()
        .map(|p| {
            let mut c = Candidate::from_prediction(p, barcode, server_type);
            c.automatic_processing = Some(true);
            c
        })
        .collect()
}

/// Python truthiness of an optional text field (`""` counts as absent).
fn present(text: Option<&str>) -> bool {
    text.is_some_and(|t| !t.is_empty())
}
