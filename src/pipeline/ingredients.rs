//! Ingredient lists read in an image's OCR by the NER model (spec pipeline §2.8, §7.5):
//! the contiguous OCR text tokenised, token labels aggregated into entities, each entity
//! extended over the organic and allergen-trace mentions after it, its language, its
//! box in the OCR, then Product Opener's parse of each list (known and unknown
//! ingredients) for the `ner` image prediction and the `ingredient_detection`
//! predictions.

use super::context::JobResources;
use super::models::text::NER_MODEL;
use super::models::{ModelError, ModelRuntime};
use crate::infra::metrics;
use crate::ml::ingredient_mentions::{detect_additional_mentions, TraceGrammar};
use crate::ml::langid::{self, LangPrediction};
use crate::ml::token_classification::{self as tc, AggregationStrategy};
use crate::ocr::OcrDocument;
use crate::taxonomy::Taxonomy;
use crate::text::char_slice;
use crate::types::{Prediction, PredictionType};
use serde_json::{json, Map, Value};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// `image_prediction.model_name` and `prediction.predictor` of ingredient detection.
pub const MODEL_NAME: &str = "ingredient_detection";
/// `image_prediction.model_version` and `prediction.predictor_version`.
pub const MODEL_VERSION: &str = "ingredient-detection-1.1";

/// The allergen-trace grammar, built once per process from the OCR data's allergen list.
pub fn trace_grammar(resources: &JobResources) -> Arc<TraceGrammar> {
    static GRAMMAR: OnceLock<Arc<TraceGrammar>> = OnceLock::new();
    GRAMMAR
        .get_or_init(|| {
            let path = resources.ocr.ocr_path("trace_allergen.txt");
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "no allergen list: trace mentions use the built-in names only");
                String::new()
            });
            Arc::new(TraceGrammar::from_keyword_lines(&text))
        })
        .clone()
}

/// The NER model's answer on a document: entities as Robotoff serialises them, and
/// the text they index.
#[derive(Debug, Clone, PartialEq)]
pub struct IngredientOutput {
    pub entities: Vec<Value>,
    pub text: String,
}

impl IngredientOutput {
    /// `{"entities": [...], "text": ...}`.
    pub fn to_json(&self) -> Value {
        json!({"entities": self.entities, "text": self.text})
    }

    /// The highest entity score, if any entity.
    pub fn max_confidence(&self) -> Option<f32> {
        self.entities
            .iter()
            .filter_map(|e| e.get("score")?.as_f64())
            .map(|s| s as f32)
            .reduce(f32::max)
    }
}

/// Where entity languages come from.
pub enum LangSource<'a> {
    /// The embedded identifier.
    Embedded,
    /// A fastText server (`POST {url}/predict?k=1&threshold=0.0`), as Robotoff.
    Server(&'a reqwest::Client, &'a str),
}

impl LangSource<'_> {
    /// This node's source: a fastText server when `ml.langid_url` is set, else the
    /// embedded identifier.
    pub fn of(ctx: &super::Context) -> LangSource<'_> {
        match ctx
            .settings
            .ml
            .langid_url
            .as_deref()
            .filter(|u| !u.is_empty())
        {
            Some(url) => LangSource::Server(ctx.resources.po.http(), url),
            None => LangSource::Embedded,
        }
    }
}

/// Runs the NER model on the document's contiguous text and post-processes it: with
/// `AggregationStrategy::None` one entity per token (`entity`, `score`, `index`,
/// `start`, `end`, `word`); otherwise aggregated entities (`start`, `end`, `raw_end`,
/// `score`, `text`, `lang`, `bounding_box` absolute `[y_min, x_min, y_max, x_max]`).
pub async fn predict(
    models: &ModelRuntime,
    grammar: &TraceGrammar,
    doc: &OcrDocument,
    strategy: AggregationStrategy,
    version: &str,
    langs: LangSource<'_>,
) -> Result<IngredientOutput, ModelError> {
    let text = doc
        .full_text
        .as_ref()
        .map(|f| f.contiguous_text.clone())
        .unwrap_or_default();
    if text.is_empty() {
        return Ok(IngredientOutput {
            entities: Vec::new(),
            text,
        });
    }
    let model = models.ner_model()?;
    let clock = Instant::now();
    let enc = model
        .tokenizer
        .encode_text(&text)
        .map_err(|e| ModelError::Input {
            model: NER_MODEL.into(),
            detail: e.to_string(),
        })?;
    metrics::ml_stage("tokenize", clock.elapsed());
    let logits = models.token_logits(NER_MODEL, version, &enc, None).await?;
    let clock = Instant::now();
    let scores: Vec<Vec<f32>> = logits.rows().iter().map(|r| tc::softmax(r)).collect();
    let pre = tc::pre_entities(
        &text,
        &enc.tokens,
        &enc.ids,
        &enc.offsets,
        &enc.special,
        &enc.word_ids,
        &scores,
        model.tokenizer.unk_id(),
    );
    if strategy == AggregationStrategy::None {
        let entities = tc::label_tokens(&pre, strategy, &model.labels)
            .into_iter()
            .filter(|t| t.entity != "O")
            .map(|t| {
                let index = t.index.unwrap_or(0);
                json!({
                    "entity": t.entity,
                    "score": f64::from(t.score),
                    "index": index,
                    "start": t.start,
                    "end": t.end,
                    "word": enc.tokens.get(index).cloned().unwrap_or_default(),
                })
            })
            .collect();
        metrics::ml_stage("postprocess", clock.elapsed());
        return Ok(IngredientOutput { entities, text });
    }
    let found = tc::aggregate(&pre, strategy, &model.labels, &["O"]);
    let mut spans: Vec<(usize, usize, usize, f32, String)> = Vec::new();
    for e in found {
        let end = detect_additional_mentions(grammar, &text, e.end);
        let span_text = char_slice(&text, e.start, end).to_string();
        spans.push((e.start, end, e.end, e.score, span_text));
    }
    metrics::ml_stage("postprocess", clock.elapsed());
    let texts: Vec<String> = spans.iter().map(|s| s.4.clone()).collect();
    let langs = match langs {
        LangSource::Embedded => {
            let clock = Instant::now();
            let out = tokio::task::spawn_blocking(move || langid::predict_each(&texts))
                .await
                .unwrap_or_default();
            metrics::ml_stage("langid", clock.elapsed());
            out
        }
        LangSource::Server(client, url) => lang_server(client, url, &texts).await?,
    };
    let entities = spans
        .into_iter()
        .enumerate()
        .map(|(i, (start, end, raw_end, score, span_text))| {
            let bbox = doc.match_bounding_box(start, end).map(|b| {
                json!([
                    b.y_min.round() as i64,
                    b.x_min.round() as i64,
                    b.y_max.round() as i64,
                    b.x_max.round() as i64
                ])
            });
            json!({
                "start": start,
                "end": end,
                "raw_end": raw_end,
                "score": f64::from(score),
                "text": span_text,
                "lang": langs.get(i).cloned().flatten(),
                "bounding_box": bbox,
            })
        })
        .collect();
    Ok(IngredientOutput { entities, text })
}

/// Languages from a fastText server, as Robotoff asks for them.
async fn lang_server(
    client: &reqwest::Client,
    url: &str,
    texts: &[String],
) -> Result<Vec<Option<LangPrediction>>, ModelError> {
    let failed = |detail: String| ModelError::Input {
        model: "fasttext".into(),
        detail,
    };
    let answer: Vec<(Vec<String>, Vec<f64>)> = client
        .post(format!(
            "{}/predict?k=1&threshold=0.0",
            url.trim_end_matches('/')
        ))
        .json(texts)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?
        .error_for_status()
        .map_err(|e| failed(e.to_string()))?
        .json()
        .await
        .map_err(|e| failed(e.to_string()))?;
    Ok(answer
        .into_iter()
        .map(|(labels, probs)| {
            Some(LangPrediction {
                lang: labels.first()?.clone(),
                confidence: *probs.first()?,
            })
        })
        .collect())
}

/// Marks every ingredient (and sub-ingredient) `in_taxonomy` and counts them:
/// `(all, known)`.
pub fn mark_in_taxonomy(ingredients: &mut [Value], taxonomy: &Taxonomy) -> (u64, u64) {
    let (mut n, mut known) = (0u64, 0u64);
    for ing in ingredients {
        let Value::Object(map) = ing else { continue };
        let in_taxonomy = map
            .get("id")
            .and_then(Value::as_str)
            .is_some_and(|id| taxonomy.contains(id));
        map.insert("in_taxonomy".into(), Value::Bool(in_taxonomy));
        n += 1;
        known += u64::from(in_taxonomy);
        if let Some(Value::Array(sub)) = map.get_mut("ingredients") {
            let (sn, sk) = mark_in_taxonomy(sub, taxonomy);
            n += sn;
            known += sk;
        }
    }
    (n, known)
}

/// Adds Product Opener's parse to an entity (`ingredients`, counts and
/// `fraction_known_ingredients`).
pub fn add_parse(entity: &mut Map<String, Value>, mut parsed: Vec<Value>, taxonomy: &Taxonomy) {
    let (n, known) = mark_in_taxonomy(&mut parsed, taxonomy);
    entity.insert("ingredients_n".into(), json!(n));
    entity.insert("known_ingredients_n".into(), json!(known));
    entity.insert("unknown_ingredients_n".into(), json!(n - known));
    entity.insert("ingredients".into(), Value::Array(parsed));
    let fraction = if n > 0 {
        json!(known as f64 / n as f64)
    } else {
        json!(0)
    };
    entity.insert("fraction_known_ingredients".into(), fraction);
}

/// The language of an entity when it is a two-letter code.
pub fn entity_lang(entity: &Map<String, Value>) -> Option<String> {
    let lang = entity.get("lang")?.get("lang")?.as_str()?;
    (lang.chars().count() == 2 && lang.chars().all(char::is_alphabetic)).then(|| lang.to_string())
}

/// Turns an absolute `[y_min, x_min, y_max, x_max]` box into one relative to the image
/// (clamped to [0, 1]).
pub fn relative_box(b: &Value, width: i32, height: i32) -> Option<Value> {
    let a = b.as_array()?;
    let v: Vec<f64> = a.iter().filter_map(Value::as_f64).collect();
    let [y_min, x_min, y_max, x_max] = v.as_slice() else {
        return None;
    };
    if width <= 0 || height <= 0 {
        return None;
    }
    let (w, h) = (f64::from(width), f64::from(height));
    Some(json!([
        (y_min / h).max(0.0),
        (x_min / w).max(0.0),
        (y_max / h).min(1.0),
        (x_max / w).min(1.0)
    ]))
}

/// The `ingredient_detection` predictions of a stored `ner` image prediction: one per
/// entity Product Opener could parse, its language as value tag, its share of known
/// ingredients as confidence (spec pipeline §2.8).
pub fn predictions_of(data: &Value) -> Vec<Prediction> {
    let mut out = Vec::new();
    for entity in data
        .get("entities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if entity.get("ingredients_n").is_none() {
            continue;
        }
        let mut p = Prediction::new(PredictionType::IngredientDetection);
        p.value_tag = entity
            .pointer("/lang/lang")
            .and_then(Value::as_str)
            .map(String::from);
        p.automatic_processing = Some(false);
        p.predictor = Some(MODEL_NAME.into());
        p.predictor_version = Some(MODEL_VERSION.into());
        p.confidence = entity
            .get("fraction_known_ingredients")
            .and_then(Value::as_f64);
        p.data = entity.clone();
        out.push(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taxonomy() -> Taxonomy {
        let json = br#"{"en:water": {"name": {"en": "water"}}, "en:salt": {"name": {"en": "salt"}},
            "en:sugar": {"name": {"en": "sugar"}}, "en:glucose": {"name": {"en": "glucose"}}}"#;
        match Taxonomy::from_json_slice(json) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    /// Spec pipeline §2.8: every ingredient, sub-ingredients too, is counted and marked.
    #[test]
    fn counts_known_ingredients_recursively() {
        let mut parsed = vec![
            json!({"id": "en:water"}),
            json!({"id": "en:salt"}),
            json!({"id": "en:sugar", "ingredients": [{"id": "en:glucose"}, {"id": "en:unknown-ingredient"}]}),
        ];
        assert_eq!(mark_in_taxonomy(&mut parsed, &taxonomy()), (5, 4));
        assert_eq!(parsed[2]["ingredients"][1]["in_taxonomy"], json!(false));
        assert_eq!(parsed[0]["in_taxonomy"], json!(true));
        let mut entity = Map::new();
        add_parse(
            &mut entity,
            vec![json!({"id": "en:water"}), json!({"id": "x"})],
            &taxonomy(),
        );
        assert_eq!(entity["fraction_known_ingredients"], json!(0.5));
        assert_eq!(entity["unknown_ingredients_n"], json!(1));
        let mut empty = Map::new();
        add_parse(&mut empty, vec![], &taxonomy());
        assert_eq!(empty["fraction_known_ingredients"], json!(0));
    }

    #[test]
    fn boxes_become_relative_and_langs_are_two_letters() {
        assert_eq!(
            relative_box(&json!([0, 0, 100, 100]), 400, 400),
            Some(json!([0.0, 0.0, 0.25, 0.25]))
        );
        assert_eq!(relative_box(&json!([0, 0, 100]), 400, 400), None);
        assert_eq!(relative_box(&json!([0, 0, 1, 1]), 0, 400), None);
        let e = json!({"lang": {"lang": "en", "confidence": 0.9}});
        assert_eq!(
            entity_lang(e.as_object().unwrap_or(&Map::new())),
            Some("en".into())
        );
        let e = json!({"lang": {"lang": "sah", "confidence": 0.9}});
        assert_eq!(entity_lang(e.as_object().unwrap_or(&Map::new())), None);
    }

    /// Spec pipeline §2.8: only parsed entities become predictions.
    #[test]
    fn predictions_of_parsed_entities() {
        let data = json!({"entities": [
            {"start": 0, "end": 5, "lang": {"lang": "en", "confidence": 0.9}, "ingredients_n": 3,
             "fraction_known_ingredients": 1.0, "text": "water, salt"},
            {"start": 9, "end": 12, "lang": {"lang": "sah", "confidence": 0.5}, "text": "x"}
        ]});
        let p = predictions_of(&data);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].value_tag.as_deref(), Some("en"));
        assert_eq!(p[0].confidence, Some(1.0));
        assert_eq!(p[0].predictor_version.as_deref(), Some(MODEL_VERSION));
        assert_eq!(p[0].data["text"], "water, salt");
    }
}
