//! Calls of the text models through Triton: the token-classification models (ingredient
//! NER, the LayoutLMv3 nutrition extractor) and the category classifier.

use super::text::{TextModel, TokenLogits, CATEGORY_MODEL, NER_MODEL, NUTRITION_MODEL};
use super::{ModelError, ModelRuntime};
use crate::infra::metrics;
use crate::infra::triton::Tensor;
use crate::ml::tokenize::Encoded;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;

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
