//! Nutrition tables read by the LayoutLMv3 nutrition extractor (spec pipeline §2.8,
//! §7.5): the OCR's words and their boxes on a 0–999 scale of the image, the image at
//! 224×224, one label per word from its first token, runs of words of one label
//! aggregated, then values and units read from them (`energy-kj_100g`: 2393 kJ, ...).

use super::models::text::NUTRITION_MODEL;
use super::models::{ModelError, ModelRuntime};
use crate::infra::metrics;
use crate::ml::layoutlm;
use crate::ml::nutrition_post::{self as post, RawEntity};
use crate::ocr::OcrDocument;
use crate::types::{Prediction, PredictionType};
use bytes::Bytes;
use serde_json::{json, Value};
use std::time::Instant;

/// `image_prediction.model_name` and `prediction.predictor`.
pub const MODEL_NAME: &str = "nutrition_extractor";
/// `image_prediction.model_version` and `prediction.predictor_version`.
pub const MODEL_VERSION: &str = "nutrition_extractor-2.0";

/// What the model needs from an image and its OCR, prepared off the async threads.
#[derive(Debug, Clone)]
pub struct NutritionInput {
    pub words: Vec<String>,
    pub char_offsets: Vec<(usize, usize)>,
    pub boxes: Vec<[i64; 4]>,
    /// FP32 `[3, 224, 224]` little-endian.
    pub pixels: Bytes,
}

/// The model's input from the OCR's words and the image as stored (not turned upright);
/// `None` when the OCR has no full text.
pub fn prepare(doc: &OcrDocument, image: &image::RgbImage) -> Option<NutritionInput> {
    let full = doc.full_text.as_ref()?;
    let (w, h) = (image.width(), image.height());
    let clock = Instant::now();
    let mut input = NutritionInput {
        words: Vec::with_capacity(full.words.len()),
        char_offsets: Vec::with_capacity(full.words.len()),
        boxes: Vec::with_capacity(full.words.len()),
        pixels: Bytes::new(),
    };
    for word in &full.words {
        input.words.push(word.text.clone());
        input.char_offsets.push((word.start_idx, word.end_idx));
        input
            .boxes
            .push(layoutlm::normalized_box(&word.bounding_poly.vertices, w, h));
    }
    input.pixels = Bytes::from(layoutlm::pixel_values(image));
    metrics::ml_stage("layout_preprocess", clock.elapsed());
    Some(input)
}

/// Runs the model and post-processes its answer: `{"nutrients": {...}, "entities":
/// {"raw", "aggregated", "postprocessed"}}`.
pub async fn predict(models: &ModelRuntime, input: &NutritionInput) -> Result<Value, ModelError> {
    let model = models.nutrition_model()?;
    let clock = Instant::now();
    let words: Vec<&str> = input.words.iter().map(String::as_str).collect();
    let enc = model
        .tokenizer
        .encode_words(&words)
        .map_err(|e| ModelError::Input {
            model: NUTRITION_MODEL.into(),
            detail: e.to_string(),
        })?;
    let boxes = layoutlm::token_boxes(&enc, &input.boxes);
    metrics::ml_stage("tokenize", clock.elapsed());
    let logits = models
        .token_logits(
            NUTRITION_MODEL,
            "",
            &enc,
            Some((boxes, input.pixels.clone())),
        )
        .await?;
    let clock = Instant::now();
    let out = postprocess(
        &logits.values,
        logits.labels,
        &enc,
        &model.labels,
        model.tokenizer.unk_id(),
        input,
    );
    metrics::ml_stage("postprocess", clock.elapsed());
    Ok(out)
}

/// From logits to the prediction's JSON.
pub fn postprocess(
    logits: &[f32],
    labels_n: usize,
    enc: &crate::ml::tokenize::Encoded,
    labels: &[String],
    unk_id: Option<u32>,
    input: &NutritionInput,
) -> Value {
    let raw: Vec<RawEntity> = layoutlm::word_labels(logits, labels_n, enc, labels, unk_id)
        .into_iter()
        .map(|w| {
            let (char_start, char_end) = input.char_offsets.get(w.word).copied().unwrap_or((0, 0));
            RawEntity {
                word: input.words.get(w.word).cloned().unwrap_or_default(),
                entity: w.entity,
                score: w.score,
                index: w.word,
                char_start,
                char_end,
            }
        })
        .collect();
    let aggregated = post::aggregate_entities(&raw);
    let postprocessed = post::postprocess(&aggregated);
    json!({
        "nutrients": post::nutrients_json(&postprocessed),
        "entities": {"raw": raw, "aggregated": aggregated, "postprocessed": postprocessed},
    })
}

/// The highest aggregated score of a prediction's data.
pub fn max_confidence(data: &Value) -> Option<f32> {
    data.pointer("/entities/aggregated")?
        .as_array()?
        .iter()
        .filter_map(|e| e.get("score")?.as_f64())
        .map(|s| s as f32)
        .reduce(f32::max)
}

/// The `nutrient_extraction` prediction of a stored `nutrition_extraction` image
/// prediction, when it found nutrients (spec pipeline §2.8).
pub fn prediction_of(data: &Value) -> Option<Prediction> {
    let nutrients = data.get("nutrients")?.as_object()?;
    if nutrients.is_empty() {
        return None;
    }
    let mut p = Prediction::new(PredictionType::NutrientExtraction);
    p.automatic_processing = Some(false);
    p.predictor = Some(MODEL_NAME.into());
    p.predictor_version = Some(MODEL_VERSION.into());
    p.data = json!({
        "nutrients": nutrients,
        "entities": {"postprocessed": data.pointer("/entities/postprocessed").cloned().unwrap_or(Value::Array(Vec::new()))},
    });
    Some(p)
}
