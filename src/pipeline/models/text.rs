//! The text models behind Triton: ingredient NER, the LayoutLMv3 nutrition extractor
//! and the category classifier (spec pipeline §7.2, §7.5). Tokenizers come from each
//! model's directory (`triton.models.<name>.model_dir`); a model without one is "not
//! configured" and says so.

use crate::config::Settings;
use crate::ml::tokenize::TextTokenizer;
use std::path::Path;
use std::sync::Arc;

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
    pub(super) ner: Result<Arc<TextModel>, String>,
    pub(super) nutrition: Result<Arc<TextModel>, String>,
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
