//! Languages of the image text: word counts and percentages per detected language.

use super::content::OcrContent;
use crate::types::{Prediction, PredictionType};
use serde_json::{json, Map, Value};

const PREDICTOR_VERSION: &str = "1";

/// One prediction with `data.count` (per language, `null` and `words`) and
/// `data.percent` (per language, share of words); nothing for plain text.
pub fn get_image_lang(content: &OcrContent<'_>) -> Vec<Prediction> {
    let Some(counts) = content.document().and_then(|d| d.languages()) else {
        return Vec::new();
    };
    // Without any paragraph there is no word total to divide by.
    let Some(words) = counts.iter().find(|(k, _)| k == "words").map(|(_, v)| *v) else {
        return Vec::new();
    };
    let mut count = Map::new();
    let mut percent = Map::new();
    for (key, n) in &counts {
        count.insert(key.clone(), json!(n));
        if key != "words" && words != 0 {
            percent.insert(key.clone(), json!((*n as f64) * 100.0 / (words as f64)));
        }
    }
    let mut p = Prediction::new(PredictionType::ImageLang);
    p.data = json!({"count": Value::Object(count), "percent": Value::Object(percent)});
    p.predictor_version = Some(PREDICTOR_VERSION.into());
    vec![p]
}
