//! Allergen traces ("peut contenir des traces de ...", "may contain ...").

use super::content::OcrContent;
use super::document::OcrField;
use super::pattern::{group, span, OcrRegex};
use super::resources::{KeyNameProcessor, OcrResources};
use crate::types::{Prediction, PredictionType};
use serde_json::{json, Map, Value};
use std::sync::LazyLock;

const PREDICTOR_VERSION: &str = "1";

/// How many code points after a trace mention are searched for allergens.
const CAPTURE_CHARS: usize = 100;

static TRACES_REGEX: LazyLock<OcrRegex> = LazyLock::new(|| {
    OcrRegex::new(
        r"(?:possibilit[ée] de traces|conditionné dans un atelier qui manipule|peut contenir(?: des traces)?|traces? [ée]ventuelles? d[e']|traces? d[e']|may contain)",
        true,
        OcrField::FullTextContiguous,
    )
});

/// Allergens of the keyword list in the 100 code points after each trace mention; the
/// box is the mention's.
pub fn extract_traces(processor: &KeyNameProcessor, content: &OcrContent<'_>) -> Vec<Prediction> {
    let text = content.text(TRACES_REGEX.field);
    let mut out = Vec::new();
    for caps in TRACES_REGEX.captures_in(text) {
        let prompt = group(&caps, 0);
        let (start, end) = span(&caps);
        let rest = text.get(end..).unwrap_or("");
        let cut = rest
            .char_indices()
            .nth(CAPTURE_CHARS)
            .map_or(rest.len(), |(b, _)| b);
        let captured = rest.get(..cut).unwrap_or("");
        for m in processor.extract_keywords(captured) {
            let mut data = Map::new();
            data.insert(
                "text".into(),
                json!(captured.get(m.byte_start..m.byte_end).unwrap_or("")),
            );
            data.insert("prompt".into(), json!(prompt));
            super::content::insert_bbox(&mut data, content, text, start, end);
            let mut p = Prediction::new(PredictionType::Trace);
            p.value_tag = Some(m.value.0.clone());
            p.data = Value::Object(data);
            p.predictor = Some("regex".into());
            p.predictor_version = Some(PREDICTOR_VERSION.into());
            out.push(p);
        }
    }
    out
}

pub fn find_traces(content: &OcrContent<'_>, res: &OcrResources) -> Vec<Prediction> {
    match res.traces() {
        Ok(processor) => extract_traces(processor, content),
        Err(_) => Vec::new(),
    }
}
