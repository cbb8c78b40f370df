//! Image orientation from the orientation of the document's words.

use super::content::OcrContent;
use crate::types::{Prediction, PredictionType};
use serde_json::{Map, Value};

const PREDICTOR_VERSION: &str = "1";

/// One prediction with the word orientation counts, the most common orientation and the
/// rotation that puts the image upright; nothing for plain text or without full text.
pub fn find_image_orientation(content: &OcrContent<'_>) -> Vec<Prediction> {
    let Some(result) = content.document().and_then(|d| d.orientation()) else {
        return Vec::new();
    };
    let mut count = Map::new();
    for (o, n) in &result.count {
        count.insert(o.name().to_string(), Value::from(*n as u64));
    }
    let mut data = Map::new();
    data.insert("count".into(), Value::Object(count));
    data.insert("orientation".into(), Value::from(result.orientation.name()));
    data.insert(
        "rotation".into(),
        Value::from(result.orientation.rotation()),
    );
    let mut p = Prediction::new(PredictionType::ImageOrientation);
    p.data = Value::Object(data);
    p.predictor_version = Some(PREDICTOR_VERSION.into());
    vec![p]
}
