//! Image flags: inappropriate images (beauty / miscellaneous keywords in the text, adult
//! or violent content, people, faces, pets, computers).

use super::content::OcrContent;
use super::document::Likelihood;
use super::resources::OcrResources;
use crate::text::KeywordProcessor;
use crate::types::{Prediction, PredictionType};
use serde_json::{json, Value};

const PREDICTOR_VERSION: &str = "1";

/// Cloud Vision labels that flag an image (score ≥ 0.6).
pub const LABELS_TO_FLAG: [&str; 29] = [
    "Face",
    "Head",
    "Selfie",
    "Hair",
    "Forehead",
    "Chin",
    "Cheek",
    "Arm",
    "Tooth",
    "Human Leg",
    "Ankle",
    "Eyebrow",
    "Ear",
    "Neck",
    "Jaw",
    "Nose",
    "Facial Expression",
    "Glasses",
    "Eyewear",
    "Jeans",
    "Shoe",
    "Child",
    "Baby",
    "Human",
    "Dog",
    "Cat",
    "Computer",
    "Laptop",
    "Refrigerator",
];

fn flag(data: Value, confidence: Option<f64>) -> Prediction {
    let mut p = Prediction::new(PredictionType::ImageFlag);
    p.data = data;
    p.predictor_version = Some(PREDICTOR_VERSION.into());
    p.confidence = confidence;
    p
}

/// The first flag keyword of the text, if any.
pub fn extract_image_flag_flashtext(
    processor: &KeywordProcessor<(String, String)>,
    text: &str,
) -> Option<Prediction> {
    let m = processor.extract_keywords(text).into_iter().next()?;
    let matched = text.get(m.byte_start..m.byte_end).unwrap_or("");
    Some(flag(
        json!({"text": matched, "type": "text", "label": m.value.1}),
        None,
    ))
}

/// Flags from the annotations of a document: adult and violence at VERY_LIKELY, the first
/// flagged label annotation, and the most confident face when its confidence is ≥ 0.6.
pub fn flag_annotations(content: &OcrContent<'_>) -> Vec<Prediction> {
    let Some(doc) = content.document() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(ss) = &doc.safe_search {
        for (key, value) in [("adult", ss.adult), ("violence", ss.violence)] {
            if value >= Likelihood::VeryLikely {
                out.push(flag(
                    json!({"type": "safe_search_annotation", "label": key, "likelihood": value.name()}),
                    None,
                ));
            }
        }
    }
    if let Some(label) = doc
        .label_annotations
        .iter()
        .find(|l| LABELS_TO_FLAG.contains(&l.description.as_str()) && l.score >= 0.6)
    {
        out.push(flag(
            json!({
                "type": "label_annotation",
                "label": label.description.to_lowercase(),
                "likelihood": label.score,
            }),
            Some(label.score),
        ));
    }
    // Most confident face; the first one wins ties.
    let mut best: Option<f64> = None;
    for face in &doc.face_annotations {
        if best.is_none_or(|b| face.detection_confidence > b) {
            best = Some(face.detection_confidence);
        }
    }
    if let Some(confidence) = best.filter(|c| *c >= 0.6) {
        out.push(flag(
            json!({"type": "face_annotation", "label": "face", "likelihood": confidence}),
            Some(confidence),
        ));
    }
    out
}

pub fn flag_image(content: &OcrContent<'_>, res: &OcrResources) -> Vec<Prediction> {
    let mut out = Vec::new();
    if let Ok(processor) = res.image_flags() {
        out.extend(extract_image_flag_flashtext(
            processor,
            content.default_text(),
        ));
    }
    out.extend(flag_annotations(content));
    out
}
