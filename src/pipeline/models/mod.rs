//! The models of a node: object detectors and CLIP behind the Triton client, each
//! model's calls bounded by its `concurrency`, CLIP crops batched across images.
//! Pre- and post-processing are `ml`'s; this module runs them on blocking threads
//! where they are heavy and times every stage.

mod clip_batch;
pub mod text;
mod text_calls;

pub use clip_batch::{ClipBatcher, EmbedError};
pub use text::{TextModel, TextModels, TokenLogits};

use crate::config::{BoxGeometrySetting, NmsBoxOrderSetting, Settings};
use crate::infra::metrics;
use crate::infra::triton::{Tensor, TritonClient, TritonError};
use crate::ml::letterbox::BoxGeometry;
use crate::ml::letterbox::LetterboxGeometry;
use crate::ml::models::{ObjectDetectionModel, CLIP_MODEL_NAME, YOLO_INPUT_NAME, YOLO_OUTPUT_NAME};
use crate::ml::yolo::{self, DetectedObject, NmsBoxOrder, PostprocessOptions};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Why a model gave no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Triton(#[from] TritonError),
    #[error("model {model} answered something unusable: {detail}")]
    Output { model: String, detail: String },
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error("model {model} is not configured on this node: {detail}")]
    NotConfigured { model: String, detail: String },
    #[error("model {model}: {detail}")]
    Input { model: String, detail: String },
}

impl ModelError {
    /// Whether Triton was away (unavailable, slow, or its breaker open): the same call
    /// may work later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Triton(e) | Self::Embed(EmbedError::Triton(e)) => e.is_retryable(),
            _ => false,
        }
    }
}

/// The node's models.
pub struct ModelRuntime {
    pub triton: Arc<TritonClient>,
    limits: HashMap<String, Arc<Semaphore>>,
    default_limit: Arc<Semaphore>,
    pub clip: ClipBatcher,
    /// How boxes are given to non-maximum suppression (`ml.nms_box_order`).
    pub nms_order: NmsBoxOrder,
    /// `ml.box_geometry`.
    pub box_geometry: BoxGeometry,
    /// Tokenizers and labels of the text models.
    pub text: TextModels,
}

impl std::fmt::Debug for ModelRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelRuntime").finish_non_exhaustive()
    }
}

impl ModelRuntime {
    pub fn new(settings: &Settings) -> Result<ModelRuntime, TritonError> {
        let triton = Arc::new(TritonClient::new(&settings.triton)?);
        let limits: HashMap<String, Arc<Semaphore>> = settings
            .triton
            .models
            .iter()
            .map(|(name, m)| (name.clone(), Arc::new(Semaphore::new(m.concurrency.max(1)))))
            .collect();
        let default_limit = Arc::new(Semaphore::new(1));
        let clip_limit = limits
            .get(CLIP_MODEL_NAME)
            .cloned()
            .unwrap_or_else(|| Arc::new(Semaphore::new(1)));
        let clip = ClipBatcher::new(
            triton.clone(),
            clip_limit,
            settings.ml.clip_batch,
            Duration::from_millis(settings.ml.clip_linger_ms),
        );
        Ok(ModelRuntime {
            triton,
            limits,
            default_limit,
            clip,
            nms_order: match settings.ml.nms_box_order {
                NmsBoxOrderSetting::Robotoff => NmsBoxOrder::Robotoff,
                NmsBoxOrderSetting::Legacy => NmsBoxOrder::LegacyUnconverted,
            },
            box_geometry: match settings.ml.box_geometry {
                BoxGeometrySetting::Exact => BoxGeometry::Exact,
                BoxGeometrySetting::Robotoff => BoxGeometry::Robotoff,
            },
            text: TextModels::load(settings),
        })
    }

    fn limit(&self, triton_model: &str) -> Arc<Semaphore> {
        self.limits
            .get(triton_model)
            .unwrap_or(&self.default_limit)
            .clone()
    }

    /// Runs a detector on a letterboxed image (`tensor`: its CHW float32 little-endian
    /// pixels, `geometry`: how it was letterboxed) and decodes its answer: objects
    /// scoring at least `options.threshold`, boxes relative to the original image, after
    /// NMS (spec pipeline §7.3).
    pub async fn detect(
        &self,
        model: ObjectDetectionModel,
        tensor: Bytes,
        geometry: &LetterboxGeometry,
        options: &PostprocessOptions,
    ) -> Result<Vec<DetectedObject>, ModelError> {
        let size = i64::from(model.image_size());
        let input = Tensor::f32_le_bytes(YOLO_INPUT_NAME, &[1, 3, size, size], tensor);
        let output = {
            let permit = self.limit(model.triton_name()).acquire_owned().await;
            let answer = self
                .triton
                .infer(model.triton_name(), "", &[input], &[YOLO_OUTPUT_NAME])
                .await;
            drop(permit);
            answer?
        };
        let unusable = |detail: String| ModelError::Output {
            model: model.triton_name().to_string(),
            detail,
        };
        let first = output.first().ok_or_else(|| unusable("no output".into()))?;
        if first.datatype != "FP32" {
            return Err(unusable(format!(
                "{} output, expected FP32",
                first.datatype
            )));
        }
        let clock = Instant::now();
        let objects = yolo::decode_bytes(&first.raw, model.labels(), geometry, options)
            .map_err(|e| unusable(e.to_string()))?;
        metrics::ml_stage("postprocess", clock.elapsed());
        Ok(objects)
    }

    /// The post-processing options of the import pipeline: `ml.detection_threshold`,
    /// NMS as Robotoff does it, boxes given to it as `ml.nms_box_order` says and mapped
    /// back as `ml.box_geometry` says.
    pub fn pipeline_options(&self, threshold: f32) -> PostprocessOptions {
        let mut o = PostprocessOptions::new(threshold);
        o.box_order = self.nms_order;
        o.geometry = self.box_geometry;
        o
    }

    /// CLIP embeddings of logo crops (batched with other images' crops).
    pub async fn embed(&self, crops: Vec<Bytes>) -> Result<Vec<Vec<f32>>, ModelError> {
        Ok(self.clip.embed(crops).await?)
    }
}
