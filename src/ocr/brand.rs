//! Brands: the curated brand list, the taxonomy brand list (minus a blacklist) and Cloud
//! Vision logo annotations.

use super::content::OcrContent;
use super::resources::{KeyNameProcessor, OcrResources};
use crate::text::get_tag;
use crate::types::{Prediction, PredictionType};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

const PREDICTOR_VERSION: &str = "1";

/// Brands of a keyword list: value = brand name, value_tag = brand tag, predictor =
/// `data_source_name`.
pub fn extract_brands(
    processor: &KeyNameProcessor,
    content: &OcrContent<'_>,
    data_source_name: &str,
    automatic_processing: bool,
) -> Vec<Prediction> {
    let text = content.default_text();
    processor
        .extract_keywords(text)
        .into_iter()
        .map(|m| {
            let (tag, name) = m.value;
            let mut data = Map::new();
            data.insert(
                "text".into(),
                json!(text.get(m.byte_start..m.byte_end).unwrap_or("")),
            );
            super::content::insert_bbox(&mut data, content, text, m.byte_start, m.byte_end);
            let mut p = Prediction::new(PredictionType::Brand);
            p.value = Some(name.clone());
            p.value_tag = Some(tag.clone());
            p.automatic_processing = Some(automatic_processing);
            p.predictor = Some(data_source_name.to_string());
            p.data = Value::Object(data);
            p.predictor_version = Some(PREDICTOR_VERSION.into());
            p
        })
        .collect()
}

/// Brands from Cloud Vision logo annotations (score as confidence, never automatic).
pub fn extract_brands_google_cloud_vision(
    logos: &HashMap<String, String>,
    content: &OcrContent<'_>,
) -> Vec<Prediction> {
    let Some(doc) = content.document() else {
        return Vec::new();
    };
    doc.logo_annotations
        .iter()
        .filter_map(|logo| {
            let brand = logos.get(&logo.description)?;
            let mut p = Prediction::new(PredictionType::Brand);
            p.value = Some(brand.clone());
            p.value_tag = Some(get_tag(brand));
            p.automatic_processing = Some(false);
            p.predictor = Some("google-cloud-vision".into());
            p.confidence = Some(logo.score);
            p.predictor_version = Some(PREDICTOR_VERSION.into());
            Some(p)
        })
        .collect()
}

/// Curated list (automatic), taxonomy list (not automatic), then logos.
pub fn find_brands(content: &OcrContent<'_>, res: &OcrResources) -> Vec<Prediction> {
    let Ok(brands) = res.brands() else {
        return Vec::new();
    };
    let mut out = extract_brands(&brands.curated, content, "curated-list", true);
    out.extend(extract_brands(&brands.taxonomy, content, "taxonomy", false));
    out.extend(extract_brands_google_cloud_vision(&brands.logos, content));
    out
}
