//! The text models behind Triton: ingredient NER, the LayoutLMv3 nutrition extractor
//! and the category classifier (spec pipeline §7.2, §7.5). Tokenizers come from each
//! model's directory (`triton.models.<name>.model_dir`); a model without one is "not
//! configured" and says so.

use super::{ModelError, ModelRuntime};
use crate::config::Settings;
use crate::infra::metrics;
use crate::infra::triton::Tensor;
use crate::ml::tokenize::{Encoded, TextTokenizer};
use bytes::Bytes;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Triton name of the ingredient NER model, and the version Robotoff asks for.
pub const NER_MODEL: &str = "ingredient-ner";
pub const NER_MODEL_VERSION: &str = "1";
/// Triton name of the nutrition extractor.
pub const NUTRITION_MODEL: &str = "nutrition_extractor";
/// Triton name of the category classifier.
pub const CATEGORY_MODEL: &str = "category-classifier-keras-image-embeddings-3.0";

/// Longest input when the model directory does not say (`model_max_length`).
const DEFAULT_MAX_LENGTH: usize = 512;

/// A tokenizer and the labels of a token-classification model.
#[derive(Debug)]
pub struct TextModel {
    pub tokenizer: TextTokenizer,
    pub labels: Vec<String>,
}

/// The text models of a node, loaded at start; a model that could not be loaded keeps
/// the reason.
#[derive(Debug)]
pub struct TextModels {
    ner: Result<Arc<TextModel>, String>,
    nutrition: Result<Arc<TextModel>, String>,
}

impl TextModels {
    pub fn load(settings: &Settings) -> TextModels {
        let ner = load(settings, NER_MODEL, || {
            ["O", "B-ING", "I-ING"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
        let nutrition = load(
            settings,
            NUTRITION_MODEL,
            crate::ml::layoutlm::default_labels,
        );
        for (name, r) in [(NER_MODEL, &ner), (NUTRITION_MODEL, &nutrition)] {
            if let Err(why) = r {
                tracing::info!(model = name, reason = %why, "text model not available on this node");
            }
        }
        TextModels { ner, nutrition }
    }
}

fn load(
    settings: &Settings,
    model: &str,
    default_labels: fn() -> Vec<String>,
) -> Result<Arc<TextModel>, String> {
    let dir = settings
        .triton
        .models
        .get(model)
        .and_then(|m| m.model_dir.clone())
        .filter(|d| !d.is_empty())
        .ok_or_else(|| format!("no triton.models.{model}.model_dir is set"))?;
    let dir = Path::new(&dir);
    let read_json = |name: &str| -> Option<serde_json::Value> {
        let bytes = std::fs::read(dir.join(name)).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let max_length = read_json("tokenizer_config.json")
        .and_then(|c| c.get("model_max_length")?.as_u64())
        .filter(|n| (2..=100_000).contains(n))
        .map(|n| n as usize)
        .unwrap_or(DEFAULT_MAX_LENGTH);
    let tokenizer = TextTokenizer::from_file(&dir.join("tokenizer.json"), max_length)
        .map_err(|e| e.to_string())?;
    let labels = read_json("config.json")
        .and_then(|c| crate::ml::layoutlm::labels_from_config(&c))
        .unwrap_or_else(default_labels);
    Ok(Arc::new(TextModel { tokenizer, labels }))
}

/// Logits of one input, `[tokens, labels]` row-major.
#[derive(Debug, Clone)]
pub struct TokenLogits {
    pub values: Vec<f32>,
    pub labels: usize,
}

impl TokenLogits {
    /// The rows, one per token.
    pub fn rows(&self) -> Vec<Vec<f32>> {
        if self.labels == 0 {
            return Vec::new();
        }
        self.values
            .chunks_exact(self.labels)
            .map(<[f32]>::to_vec)
            .collect()
    }
}

impl ModelRuntime {
    /// The ingredient NER model's tokenizer and labels.
    pub fn ner_model(&self) -> Result<Arc<TextModel>, ModelError> {
        self.text
            .ner
            .clone()
            .map_err(|detail| ModelError::NotConfigured {
                model: NER_MODEL.to_string(),
                detail,
            })
    }

    /// The nutrition extractor's tokenizer and labels.
    pub fn nutrition_model(&self) -> Result<Arc<TextModel>, ModelError> {
        self.text
            .nutrition
            .clone()
            .map_err(|detail| ModelError::NotConfigured {
                model: NUTRITION_MODEL.to_string(),
                detail,
            })
    }

    /// Runs a token-classification model on one encoded input (and for LayoutLMv3 its
    /// token boxes and pixels): `logits` `[1, T, labels]`.
    pub async fn token_logits(
        &self,
        model: &str,
        version: &str,
        enc: &Encoded,
        layout: Option<(Vec<i64>, Bytes)>,
    ) -> Result<TokenLogits, ModelError> {
        let t = enc.len() as i64;
        let mut inputs = vec![
            Tensor::i64("input_ids", &[1, t], enc.ids.clone()),
            Tensor::i64("attention_mask", &[1, t], enc.attention_mask.clone()),
        ];
        if let Some((boxes, pixels)) = layout {
            inputs.push(Tensor::i64("bbox", &[1, t, 4], boxes));
            inputs.push(Tensor::f32_le_bytes(
                "pixel_values",
                &[1, 3, 224, 224],
                pixels,
            ));
        }
        let clock = Instant::now();
        let output = {
            let permit = self.limit(model).acquire_owned().await;
            let answer = self
                .triton
                .infer(model, version, &inputs, &["logits"])
                .await;
            drop(permit);
            answer?
        };
        metrics::ml_stage("infer", clock.elapsed());
        let unusable = |detail: String| ModelError::Output {
            model: model.to_string(),
            detail,
        };
        let first = output.first().ok_or_else(|| unusable("no output".into()))?;
        let values = first
            .f32s()
            .ok_or_else(|| unusable(format!("{} logits, expected FP32", first.datatype)))?;
        let labels = first
            .shape
            .get(2)
            .copied()
            .filter(|n| *n > 0)
            .ok_or_else(|| unusable(format!("logits of shape {:?}", first.shape)))?
            as usize;
        if values.len() != enc.len() * labels {
            return Err(unusable(format!(
                "{} logits for {} tokens × {labels} labels",
                values.len(),
                enc.len()
            )));
        }
        Ok(TokenLogits { values, labels })
    }

    /// Runs the category classifier on its inputs: scores and labels (spec pipeline
    /// §7.2, outputs read by position).
    pub async fn category_scores(
        &self,
        inputs: Vec<Tensor>,
    ) -> Result<(Vec<f32>, Vec<String>), ModelError> {
        let clock = Instant::now();
        let output = {
            let permit = self.limit(CATEGORY_MODEL).acquire_owned().await;
            let answer = self
                .triton
                .infer(CATEGORY_MODEL, "", &inputs, &["output_0", "output_1"])
                .await;
            drop(permit);
            answer?
        };
        metrics::ml_stage("infer", clock.elapsed());
        let unusable = |detail: String| ModelError::Output {
            model: CATEGORY_MODEL.to_string(),
            detail,
        };
        let scores = output
            .iter()
            .find(|o| o.name == "output_0")
            .or(output.first())
            .and_then(|o| o.f32s())
            .ok_or_else(|| unusable("no FP32 scores".into()))?;
        let labels: Vec<String> = output
            .iter()
            .find(|o| o.name == "output_1")
            .or(output.get(1))
            .and_then(|o| o.strings())
            .ok_or_else(|| unusable("no STRING labels".into()))?
            .into_iter()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect();
        if scores.len() != labels.len() {
            return Err(unusable(format!(
                "{} scores for {} labels",
                scores.len(),
                labels.len()
            )));
        }
        Ok((scores, labels))
    }
}
