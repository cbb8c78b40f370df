//! Prediction persistence rules: which predictions may be stored for a product, which
//! stored ones a new batch replaces (new predictor versions, categories), and which
//! are new (the dedupe key).

use super::image::image_id;
use crate::types::{Prediction, PredictionType, Product, ServerType};
use chrono::NaiveDateTime;
use std::collections::HashSet;

/// Why a prediction was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The product is not in the product store.
    MissingProduct,
    /// The source image is not a raw image of the product.
    InvalidImage(String),
}

/// Checks a prediction against its product: the product must exist and the source
/// image, when given, must be one of the product's raw (digit-numbered) images.
pub fn check(product: Option<&Product>, prediction: &Prediction) -> Result<(), Rejection> {
    let Some(product) = product else {
        return Err(Rejection::MissingProduct);
    };
    match prediction.source_image.as_deref() {
        None => Ok(()),
        Some(path) => match image_id(path) {
            Some(id) if product.images.contains_key(id) => Ok(()),
            _ => Err(Rejection::InvalidImage(path.to_string())),
        },
    }
}

/// The fields that identify a stored prediction: a prediction equal on all of them to a
/// stored one is not stored again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PredictionKey {
    pub kind: PredictionType,
    pub server_type: ServerType,
    pub source_image: Option<String>,
    pub value_tag: Option<String>,
    pub value: Option<String>,
    pub predictor: Option<String>,
    pub automatic_processing: Option<bool>,
}

impl PredictionKey {
    pub fn of(p: &Prediction) -> Self {
        PredictionKey {
            kind: p.kind,
            server_type: p.server_type,
            source_image: p.source_image.clone(),
            value_tag: p.value_tag.clone(),
            value: p.value.clone(),
            predictor: p.predictor.clone(),
            automatic_processing: p.automatic_processing,
        }
    }
}

/// Stored predictions a new batch replaces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Replacement {
    /// Category predictions of every image and version are replaced by new ones (OCR
    /// and model categories replace each other).
    pub all_categories: bool,
    /// `(type, source image, version)`: stored predictions of that type and image with
    /// another (or no) predictor version are replaced. Batches without a source image
    /// replace nothing.
    pub other_versions: Vec<(PredictionType, String, Option<String>)>,
}

/// What storing `batch` replaces.
pub fn replacement(batch: &[Prediction]) -> Replacement {
    let mut out = Replacement::default();
    let mut seen = HashSet::new();
    for p in batch {
        if p.kind == PredictionType::Category {
            out.all_categories = true;
            continue;
        }
        let Some(image) = p.source_image.clone() else {
            continue;
        };
        let group = (p.kind, image, p.predictor_version.clone());
        if seen.insert(group.clone()) {
            out.other_versions.push(group);
        }
    }
    out
}

/// The predictions of `batch` to insert for the product `barcode` on `server_type`:
/// each is attributed to that product and stamped `now`, and those whose key matches a
/// remaining stored prediction (or an earlier one of the batch) are left out.
pub fn new_predictions(
    barcode: &str,
    server_type: ServerType,
    stored: &[Prediction],
    batch: Vec<Prediction>,
    now: NaiveDateTime,
) -> Vec<Prediction> {
    let mut keys: HashSet<PredictionKey> = stored.iter().map(PredictionKey::of).collect();
    batch
        .into_iter()
        .filter_map(|mut p| {
            p.barcode = Some(barcode.to_string());
            p.server_type = server_type;
            p.timestamp = Some(now);
            p.id = None;
            keys.insert(PredictionKey::of(&p)).then_some(p)
        })
        .collect()
}

/// True when a stored prediction is replaced by `replacement`.
pub fn is_replaced(replacement: &Replacement, stored: &Prediction) -> bool {
    if stored.kind == PredictionType::Category {
        return replacement.all_categories;
    }
    let Some(image) = stored.source_image.as_deref() else {
        return false;
    };
    replacement
        .other_versions
        .iter()
        .any(|(kind, img, version)| {
            *kind == stored.kind && img == image && *version != stored.predictor_version
        })
}
