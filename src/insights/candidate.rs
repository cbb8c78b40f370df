//! A candidate insight: a prediction turned into a proposed insight, before it is
//! compared with the product's existing insights and given its stored fields.

use super::image::{relative_bounding_box, RecentFirst};
use super::ImportContext;
use crate::types::{Insight, Prediction, PredictionType, Product, ServerType};
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// The fields an importer sets on a proposed insight.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub kind: PredictionType,
    pub barcode: String,
    pub server_type: ServerType,
    pub data: Map<String, Value>,
    pub value_tag: Option<String>,
    pub value: Option<String>,
    /// `None` until importer rules decide; coerced to `false` before selection.
    pub automatic_processing: Option<bool>,
    pub predictor: Option<String>,
    pub predictor_version: Option<String>,
    pub source_image: Option<String>,
    pub confidence: Option<f64>,
    pub lc: Option<Vec<String>>,
    pub bounding_box: Option<Value>,
    pub username: Option<String>,
    pub campaign: Vec<String>,
}

impl Candidate {
    /// A candidate carrying every field of `prediction` (type, data, values, predictor,
    /// source image, confidence), for the product `barcode` on `server_type`.
    pub fn from_prediction(
        prediction: &Prediction,
        barcode: &str,
        server_type: ServerType,
    ) -> Self {
        let data = match &prediction.data {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        Candidate {
            kind: prediction.kind,
            barcode: barcode.to_string(),
            server_type,
            data,
            value_tag: prediction.value_tag.clone(),
            value: prediction.value.clone(),
            automatic_processing: prediction.automatic_processing,
            predictor: prediction.predictor.clone(),
            predictor_version: prediction.predictor_version.clone(),
            source_image: prediction.source_image.clone(),
            confidence: prediction.confidence,
            lc: None,
            bounding_box: None,
            username: None,
            campaign: Vec::new(),
        }
    }

    pub fn is_automatic(&self) -> bool {
        self.automatic_processing.unwrap_or(false)
    }

    /// Robotoff's post-generation pass: automatic processing defaults to false, absolute
    /// boxes (OCR regex / flashtext matches) become relative ones using the product's image
    /// sizes, `data.bounding_box` is copied to its column, and logo annotations carry
    /// their annotator's name.
    pub fn normalise(&mut self, product: &Product) {
        if self.automatic_processing.is_none() {
            self.automatic_processing = Some(false);
        }
        if let Some(absolute) = self.data.shift_remove("bounding_box_absolute") {
            let relative =
                relative_bounding_box(&absolute, &product.images, self.source_image.as_deref());
            self.data
                .insert("bounding_box".into(), relative.unwrap_or(Value::Null));
        }
        if let Some(bbox) = self.data.get("bounding_box") {
            self.bounding_box = Some(bbox.clone()).filter(|b| !b.is_null());
        }
        if truthy(self.data.get("is_annotation")) {
            if let Some(name) = self
                .data
                .get("username")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            {
                self.username = Some(name.to_string());
            }
        }
    }

    /// The stored insight: a new id, the import time, no votes, `reserved_barcode`,
    /// `with_image`, the product's countries, brands and popularity, and `process_after`
    /// when the insight is applied automatically.
    pub fn into_insight(self, ctx: &ImportContext<'_>, product: &Product) -> Insight {
        let automatic = self.is_automatic();
        let with_image = match self.kind {
            PredictionType::Label | PredictionType::Category => {
                product.image_ids().next().is_some()
            }
            _ => self.source_image.is_some(),
        };
        Insight {
            id: uuid::Uuid::new_v4(),
            reserved_barcode: is_reserved_barcode(&self.barcode),
            barcode: self.barcode,
            kind: self.kind,
            data: Value::Object(self.data),
            timestamp: Some(ctx.now),
            completed_at: None,
            annotation: None,
            annotated_result: None,
            n_votes: 0,
            username: self.username,
            countries: product.countries_tags.clone(),
            brands: product.brands_tags.clone(),
            process_after: automatic.then(|| ctx.now + ctx.automatic_processing_wait),
            value_tag: self.value_tag,
            value: self.value,
            source_image: self.source_image,
            automatic_processing: automatic,
            server_type: self.server_type,
            unique_scans_n: product.unique_scans_n,
            predictor: self.predictor,
            predictor_version: self.predictor_version,
            campaign: self.campaign,
            confidence: self.confidence,
            bounding_box: self.bounding_box,
            lc: self.lc,
            with_image: Some(with_image),
        }
    }
}

/// Python truthiness of an optional JSON value.
pub fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// Barcodes of variable-weight and in-store products: after removing one leading `0`,
/// the barcode starts with `2`.
pub fn is_reserved_barcode(barcode: &str) -> bool {
    barcode
        .strip_prefix('0')
        .unwrap_or(barcode)
        .starts_with('2')
}

/// The fields of an insight (candidate or stored) that conflict rules compare.
pub trait InsightView {
    fn value(&self) -> Option<&str>;
    fn value_tag(&self) -> Option<&str>;
    fn source_image(&self) -> Option<&str>;
    fn data_field(&self, key: &str) -> Option<&Value>;
    fn annotation(&self) -> Option<i32>;
    fn automatic_processing(&self) -> bool;
}

impl InsightView for Candidate {
    fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
    fn value_tag(&self) -> Option<&str> {
        self.value_tag.as_deref()
    }
    fn source_image(&self) -> Option<&str> {
        self.source_image.as_deref()
    }
    fn data_field(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }
    fn annotation(&self) -> Option<i32> {
        None
    }
    fn automatic_processing(&self) -> bool {
        self.is_automatic()
    }
}

impl InsightView for Insight {
    fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
    fn value_tag(&self) -> Option<&str> {
        self.value_tag.as_deref()
    }
    fn source_image(&self) -> Option<&str> {
        self.source_image.as_deref()
    }
    fn data_field(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }
    fn annotation(&self) -> Option<i32> {
        self.annotation
    }
    fn automatic_processing(&self) -> bool {
        self.automatic_processing
    }
}

/// `data.priority` (lower = preferred), 1 when absent.
pub fn priority(data_priority: Option<&Value>) -> f64 {
    data_priority.and_then(Value::as_f64).unwrap_or(1.0)
}

/// Robotoff's prediction order: priority ascending, then most recent image first (no
/// raw image last), then predictor name with a missing predictor ranked as `"z"`.
pub fn cmp_predictions(a: &Prediction, b: &Prediction) -> Ordering {
    priority(a.data.get("priority"))
        .total_cmp(&priority(b.data.get("priority")))
        .then_with(|| {
            RecentFirst::of(a.source_image.as_deref())
                .cmp(&RecentFirst::of(b.source_image.as_deref()))
        })
        .then_with(|| {
            predictor_key(a.predictor.as_deref()).cmp(predictor_key(b.predictor.as_deref()))
        })
}

/// Robotoff's candidate order: as predictions, with automatically processable
/// candidates before the others between image and predictor.
pub fn cmp_candidates(a: &Candidate, b: &Candidate) -> Ordering {
    priority(a.data.get("priority"))
        .total_cmp(&priority(b.data.get("priority")))
        .then_with(|| {
            RecentFirst::of(a.source_image.as_deref())
                .cmp(&RecentFirst::of(b.source_image.as_deref()))
        })
        .then_with(|| b.is_automatic().cmp(&a.is_automatic()))
        .then_with(|| {
            predictor_key(a.predictor.as_deref()).cmp(predictor_key(b.predictor.as_deref()))
        })
}

fn predictor_key(predictor: Option<&str>) -> &str {
    predictor.unwrap_or("z")
}
