//! An insight: a proposed product edit derived from predictions, annotatable as a
//! question (one `product_insight` row).

use super::{PredictionType, ServerType};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A `product_insight` row, with Robotoff's field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Insight {
    pub id: Uuid,
    pub barcode: String,
    #[serde(rename = "type")]
    pub kind: PredictionType,
    pub data: serde_json::Value,
    pub timestamp: Option<NaiveDateTime>,
    pub completed_at: Option<NaiveDateTime>,
    /// 1 validated, 0 rejected, -1 skipped/invalid, 2 validated with user data.
    pub annotation: Option<i32>,
    pub annotated_result: Option<i32>,
    pub n_votes: i32,
    pub username: Option<String>,
    pub countries: Vec<String>,
    pub brands: Vec<String>,
    pub process_after: Option<NaiveDateTime>,
    pub value_tag: Option<String>,
    pub value: Option<String>,
    pub source_image: Option<String>,
    pub automatic_processing: bool,
    pub server_type: ServerType,
    pub unique_scans_n: i32,
    pub reserved_barcode: bool,
    pub predictor: Option<String>,
    pub predictor_version: Option<String>,
    pub campaign: Vec<String>,
    pub confidence: Option<f64>,
    pub bounding_box: Option<serde_json::Value>,
    pub lc: Option<Vec<String>>,
    pub with_image: Option<bool>,
}
