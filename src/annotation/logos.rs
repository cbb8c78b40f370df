//! Insights from annotated logos (spec api-db §4.7): a brand or label logo annotation
//! becomes a prediction of the logo's product; importing it and applying the insights it
//! yields with the annotator's credentials happens in the product's shard.

use crate::infra::db::logo_writes::LOGO_PREDICTOR;
use crate::infra::db::rows::LogoRow;
use crate::types::{Prediction, PredictionType, ServerType};
use serde_json::json;
use std::str::FromStr;

/// The prediction a logo annotation makes, if its type makes one.
pub fn logo_prediction(logo: &LogoRow) -> Option<Prediction> {
    let barcode = logo.barcode.clone()?;
    let (kind, value, value_tag) = match logo.annotation_type.as_deref()? {
        "brand" => {
            let value = logo.annotation_value.clone()?;
            let tag = crate::text::get_tag(&value);
            (PredictionType::Brand, Some(value), tag)
        }
        "label" => (PredictionType::Label, None, logo.taxonomy_value.clone()?),
        _ => return None,
    };
    let mut p = Prediction::new(kind);
    p.barcode = Some(barcode);
    p.value = value;
    p.value_tag = Some(value_tag);
    p.source_image = logo.source_image.clone();
    p.predictor = Some(LOGO_PREDICTOR.to_string());
    p.confidence = Some(1.0);
    p.automatic_processing = Some(false);
    p.server_type = logo
        .server_type
        .as_deref()
        .and_then(|s| ServerType::from_str(s).ok())
        .unwrap_or(ServerType::Off);
    p.data = json!({
        "logo_id": logo.id,
        "bounding_box": logo.bounding_box,
        "username": logo.username,
        "is_annotation": true,
    });
    Some(p)
}
