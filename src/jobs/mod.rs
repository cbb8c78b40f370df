//! Job vocabulary: kinds, priorities, retry policy, duplicate collapsing. What each kind
//! does is `pipeline`; the queue's SQL is `infra::db::jobs`. Uses only `types`.

use crate::types::ServerType;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Queue priority; lower runs first (Robotoff's high, ml and low queues).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    High,
    Ml,
    Low,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::High, Priority::Ml, Priority::Low];

    pub fn as_i16(self) -> i16 {
        match self {
            Self::High => 0,
            Self::Ml => 1,
            Self::Low => 2,
        }
    }

    pub fn from_i16(v: i16) -> Option<Self> {
        match v {
            0 => Some(Self::High),
            1 => Some(Self::Ml),
            2 => Some(Self::Low),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::High => "high",
            Self::Ml => "ml",
            Self::Low => "low",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "high" => Ok(Self::High),
            "ml" => Ok(Self::Ml),
            "low" => Ok(Self::Low),
            other => Err(format!(
                "unknown priority {other:?} (expected high, ml or low)"
            )),
        }
    }
}

/// The kinds of job the service runs. Each kind has a handler in the product shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Does nothing; measures the queue itself.
    Noop,
    /// Records its start and end in `job_probe` (optionally after sleeping), in the same
    /// transaction that completes it: a diagnostic of ordering and exactly-once effects.
    Probe,
    /// A product was edited: refresh it from Product Opener, re-run the product-name
    /// extractors and refresh its insights (payload: `diffs`, `force_category_prediction`).
    UpdateInsights,
    /// A product was deleted: its predictions and open insights go.
    DeleteProductInsights,
    /// A product moved to another flavor (food → beauty, ...).
    ProductTypeSwitched,
    /// An image was deleted (payload: `image_id`).
    DeletedImage,
    /// An image was uploaded or its OCR is ready (payload: `image_id`, and
    /// `include_flags` or `exclude_flags` naming the import steps).
    ImportImage,
    /// Run the OCR extractors on an image and import the predictions (payload: `image_id`).
    ImportInsightsFromImage,
    /// Recompute a product's insights from its stored predictions.
    RefreshInsights,
    /// Send the Product Opener edits of an annotation that are still queued (payload:
    /// `insight_id`): resumes a plan that did not go through at once.
    SendProductEdits,
    /// The model steps of an image, run on one fetch and decode of it (payload:
    /// `image_id`, `steps`: Robotoff's flags `run_logo_object_detection`,
    /// `run_nutrition_table_object_detection`, `run_nutriscore_object_detection`,
    /// `add_image_fingerprint`).
    RunImageModels,
    /// New logo embeddings of an image prediction are ready for the nearest-neighbour
    /// index (payload: `image_prediction_id`).
    ProcessCreatedLogos,
    /// Logos a user annotated become predictions, and their insights are applied as the
    /// user's decision (payload: `logo_ids`, `username`).
    LogoAnnotationInsights,
    /// The neural category classifier on a product (a model step: computed outside the
    /// product's shard, its predictions committed in it).
    PredictCategory,
}

impl JobKind {
    pub const ALL: [JobKind; 14] = [
        JobKind::Noop,
        JobKind::Probe,
        JobKind::UpdateInsights,
        JobKind::DeleteProductInsights,
        JobKind::ProductTypeSwitched,
        JobKind::DeletedImage,
        JobKind::ImportImage,
        JobKind::ImportInsightsFromImage,
        JobKind::RefreshInsights,
        JobKind::SendProductEdits,
        JobKind::RunImageModels,
        JobKind::ProcessCreatedLogos,
        JobKind::LogoAnnotationInsights,
        JobKind::PredictCategory,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Noop => "noop",
            Self::Probe => "probe",
            Self::UpdateInsights => "update_insights",
            Self::DeleteProductInsights => "delete_product_insights",
            Self::ProductTypeSwitched => "product_type_switched",
            Self::DeletedImage => "deleted_image",
            Self::ImportImage => "import_image",
            Self::ImportInsightsFromImage => "import_insights_from_image",
            Self::RefreshInsights => "refresh_insights",
            Self::SendProductEdits => "send_product_edits",
            Self::RunImageModels => "run_image_models",
            Self::ProcessCreatedLogos => "process_created_logos",
            Self::LogoAnnotationInsights => "logo_annotation_insights",
            Self::PredictCategory => "predict_category",
        }
    }

    /// Model steps compute outside the product's shard (fetching the image, calling
    /// the models) and only commit their results in it. They are queued at
    /// [`Priority::Ml`], which the model lane claims apart from the shards' queue.
    pub fn is_model_step(self) -> bool {
        matches!(self, Self::RunImageModels | Self::PredictCategory)
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown job kind {s:?}"))
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub kind: JobKind,
    /// The product the job works on; `None` for jobs not tied to one product.
    pub product: Option<(String, ServerType)>,
    pub priority: Priority,
    pub payload: serde_json::Value,
    /// Do not run before this delay has passed.
    pub delay: Duration,
    /// While a queued job has this key, enqueueing another with the same key does nothing.
    pub dedupe_key: Option<String>,
}

impl NewJob {
    pub fn new(kind: JobKind, priority: Priority) -> Self {
        Self {
            kind,
            product: None,
            priority,
            payload: serde_json::Value::Object(Default::default()),
            delay: Duration::ZERO,
            dedupe_key: None,
        }
    }

    pub fn for_product(mut self, barcode: impl Into<String>, server_type: ServerType) -> Self {
        self.product = Some((barcode.into(), server_type));
        self
    }

    pub fn payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = payload;
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn dedupe(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }
}

/// Merges jobs of a batch that share a dedupe key (first one wins; payloads differing
/// in more than their `event_id` lose their `diffs`, meaning "anything may have
/// changed"). Order is kept.
pub fn collapse_duplicates(jobs: &[NewJob]) -> Vec<NewJob> {
    let mut out: Vec<NewJob> = Vec::with_capacity(jobs.len());
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for job in jobs {
        match job.dedupe_key.as_deref() {
            Some(key) => match index.get(key) {
                Some(&i) => {
                    if let Some(first) = out.get_mut(i) {
                        // The collapsed job runs as soon as the most urgent of them.
                        if job.priority.as_i16() < first.priority.as_i16() {
                            first.priority = job.priority;
                        }
                        if without_event_id(&first.payload) != without_event_id(&job.payload) {
                            if let Some(obj) = first.payload.as_object_mut() {
                                obj.insert("diffs".into(), serde_json::Value::Null);
                            }
                        }
                    }
                }
                None => {
                    index.insert(key, out.len());
                    out.push(job.clone());
                }
            },
            None => out.push(job.clone()),
        }
    }
    out
}

/// A payload without its `event_id` (the stream entry it came from), for comparisons.
fn without_event_id(payload: &serde_json::Value) -> serde_json::Value {
    let mut p = payload.clone();
    if let Some(obj) = p.as_object_mut() {
        obj.remove("event_id");
    }
    p
}

/// Retry delay after the `attempt`-th failure (1-based): base doubling, capped.
pub fn retry_delay(attempt: i32, base: Duration, max: Duration) -> Duration {
    let exp = attempt.saturating_sub(1).clamp(0, 30) as u32;
    base.saturating_mul(2u32.saturating_pow(exp)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_order_high_ml_low() {
        assert!(Priority::High < Priority::Ml && Priority::Ml < Priority::Low);
        for p in Priority::ALL {
            assert_eq!(Priority::from_i16(p.as_i16()), Some(p));
            assert_eq!(p.as_str().parse::<Priority>(), Ok(p));
        }
    }

    #[test]
    fn retry_delay_doubles_and_caps() {
        let base = Duration::from_secs(5);
        let max = Duration::from_secs(60);
        assert_eq!(retry_delay(1, base, max), Duration::from_secs(5));
        assert_eq!(retry_delay(2, base, max), Duration::from_secs(10));
        assert_eq!(retry_delay(4, base, max), Duration::from_secs(40));
        assert_eq!(retry_delay(5, base, max), Duration::from_secs(60));
        assert_eq!(retry_delay(1000, base, max), Duration::from_secs(60));
    }

    #[test]
    fn duplicates_collapse_and_lose_diffs_when_they_differ() {
        let mk = |diffs: serde_json::Value| {
            NewJob::new(JobKind::UpdateInsights, Priority::High)
                .for_product("1", ServerType::Off)
                .payload(serde_json::json!({"diffs": diffs, "force_category_prediction": false}))
                .dedupe("k")
        };
        let same = collapse_duplicates(&[
            mk(serde_json::json!({"a": 1})),
            mk(serde_json::json!({"a": 1})),
        ]);
        assert_eq!(same.len(), 1);
        assert_eq!(same[0].payload["diffs"], serde_json::json!({"a": 1}));
        let other = NewJob::new(JobKind::Noop, Priority::Low);
        let merged = collapse_duplicates(&[
            mk(serde_json::json!({"a": 1})),
            other.clone(),
            mk(serde_json::json!({"b": 2})),
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].payload["diffs"], serde_json::Value::Null);
        assert_eq!(merged[1], other);
    }

    #[test]
    fn kinds_parse() {
        for k in JobKind::ALL {
            assert_eq!(k.as_str().parse::<JobKind>(), Ok(k));
        }
        assert!("nope".parse::<JobKind>().is_err());
    }
}
